use super::module_state::ModuleState;
use super::{DynPredictor, Module, Parameters, Predict, WrapsPredict};
use crate::Result;
use futures_util::StreamExt;
use futures_util::stream;
use std::future::Future;

/// How many calls [`Parallel::new`] runs at once (DSPy's default thread count).
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Runs `module` on every input, at most `concurrency` calls at a time (at least one), and
/// returns one result per input, in input order: a failed call is an `Err` in its slot and never
/// stops the others.
///
/// The calls run in the calling task, so task-local settings around it ([`with_lm`](crate::with_lm),
/// [`trace`](super::trace())) apply to every call.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_core::module::call_batch;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::keyed([("France", json!({"answer": "Paris"})), ("Italy", json!({"answer": "Rome"}))]));
/// let qa = Predict::<QA>::new().with_lm(lm);
/// let questions = ["Capital of Italy?", "Capital of France?", "Capital of Spain?"]
///     .map(|q| QAInput { question: q.into() });
/// let results = call_batch(&qa, questions, 2).await;
/// assert_eq!(results[0].as_ref().unwrap().answer, "Rome");
/// assert_eq!(results[1].as_ref().unwrap().answer, "Paris");
/// assert!(results[2].is_err()); // no answer keyed for Spain
/// # });
/// ```
pub fn call_batch<M: Module>(
    module: &M,
    inputs: impl IntoIterator<Item = M::Input>,
    concurrency: usize,
) -> impl Future<Output = Vec<Result<M::Output>>> + Send + '_ {
    // Collected first so the future holds only `Send` values, whatever iterator was given.
    let inputs: Vec<M::Input> = inputs.into_iter().collect();
    stream::iter(inputs)
        .map(move |input| module.call(input))
        .buffered(concurrency.max(1))
        .collect()
}

/// `module.call_batch(inputs, concurrency)`: [`call_batch`] as a method of every module.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_core::module::CallBatch;
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::keyed([("?", serde_json::json!({"answer": "yes"}))]));
/// let qa = Predict::<QA>::new().with_lm(lm);
/// let results = qa.call_batch(vec![QAInput { question: "Up?".into() }; 3], 4).await;
/// assert!(results.iter().all(|r| r.as_ref().unwrap().answer == "yes"));
/// # });
/// ```
pub trait CallBatch: Module + Sized {
    /// Runs the module on every input, at most `concurrency` at a time; results in input order.
    fn call_batch(
        &self,
        inputs: impl IntoIterator<Item = Self::Input>,
        concurrency: usize,
    ) -> impl Future<Output = Vec<Result<Self::Output>>> + Send {
        call_batch(self, inputs, concurrency)
    }
}

impl<M: Module> CallBatch for M {}

/// A module that runs `module` on a batch of inputs concurrently (DSPy's `Parallel`): its input
/// is a `Vec` of the module's inputs, its output one `Result` per input, in input order.
///
/// The call itself never fails: each input's error stays in its slot, so one bad LM answer never
/// costs the rest of the batch (unlike DSPy, there is no `max_errors` that cancels the run).
/// Its predictors are the wrapped module's, with the same names: running a program in batches
/// does not change what is saved or optimized.
///
/// ```
/// use dspy_core::{DummyLm, LM, Module, Parallel, Predict};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::keyed([("?", serde_json::json!({"answer": "yes"}))]));
/// let batch = Parallel::new(Predict::<QA>::new().with_lm(lm)).concurrency(2);
/// let results = batch.call(vec![QAInput { question: "Up?".into() }; 3]).await.unwrap();
/// assert_eq!(results.len(), 3);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Parallel<M> {
    /// The module run on each input.
    pub module: M,
    concurrency: usize,
}

impl<M: Module> Parallel<M> {
    /// Runs `module` on up to [`DEFAULT_CONCURRENCY`] inputs at a time.
    pub fn new(module: M) -> Self {
        Parallel {
            module,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Sets how many calls run at once (at least one).
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }
}

impl<M: Module> Module for Parallel<M> {
    type Input = Vec<M::Input>;
    type Output = Vec<Result<M::Output>>;

    async fn call(&self, inputs: Vec<M::Input>) -> Result<Self::Output> {
        Ok(call_batch(&self.module, inputs, self.concurrency).await)
    }
}

/// The wrapped module's predictors, with the same names.
/// Around a module built around a predictor, it is built around the same one.
impl<M: WrapsPredict> WrapsPredict for Parallel<M> {
    type Signature = M::Signature;

    fn predict_mut(&mut self) -> &mut Predict<M::Signature> {
        self.module.predict_mut()
    }
}

impl<M: Parameters> Parameters for Parallel<M> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.module.visit_predictors(prefix, visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.module.visit_predictors_mut(prefix, visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        self.module.visit_module_states(prefix, visit);
    }
}
