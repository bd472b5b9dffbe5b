use super::module_state::ModuleState;
use super::overrides::{CallOverrides, with_overrides};
use super::trace::{self, Trace};
use super::{DynPredictor, Module, Parameters, Predict, WrapsPredict, child_name};
use crate::{Error, Result};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A reward for one attempt: higher is better.
pub type Reward<I, O> = Arc<dyn Fn(&I, &O) -> f64 + Send + Sync>;

/// Runs a module up to `n` times and returns the output with the highest reward (DSPy's
/// `BestOfN`).
///
/// Each attempt gets its own rollout id (`start`, `start + 1`, ..., where `start` is the rollout id
/// of an enclosing scope, else 0) and temperature 1.0 for predictors that set none, so attempts
/// are fresh samples that caches keep apart. It stops at the first attempt whose reward reaches
/// the [`threshold`](BestOfN::threshold), if one is set.
///
/// A failed attempt (an LM error, an unreadable answer) is counted; once more than
/// [`fail_count`](BestOfN::fail_count) attempts fail (default: `n`, so never before the end), that
/// error is returned. When every attempt fails, the last error is returned. Only the returned
/// attempt's predictor calls reach an enclosing [`trace`](super::trace()).
///
/// Its predictors are the wrapped module's, under `module` (`module.predict`), as in DSPy.
///
/// ```
/// use dspy_core::{BestOfN, DummyLm, LM, Module, Predict};
/// # use dspy_macros::Signature;
/// /// Answer in one word.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([
///     serde_json::json!({"answer": "It is Brussels"}),
///     serde_json::json!({"answer": "Brussels"}),
/// ]));
/// let one_word = |_: &QAInput, out: &QAOutput| (out.answer.split_whitespace().count() == 1) as u8 as f64;
/// let best = BestOfN::new(Predict::<QA>::new().with_lm(lm), 3, one_word).threshold(1.0);
/// let out = best.call(QAInput { question: "Capital of Belgium?".into() }).await.unwrap();
/// assert_eq!(out.answer, "Brussels"); // the second attempt reached the threshold
/// # });
/// ```
pub struct BestOfN<M: Module> {
    /// The module run on each attempt.
    pub module: M,
    n: usize,
    threshold: Option<f64>,
    fail_count: usize,
    reward: Reward<M::Input, M::Output>,
}

impl<M: Module> BestOfN<M> {
    /// Up to `n` attempts (at least one) of `module`, scored by `reward`; no threshold, so all
    /// `n` run unless one fails for good.
    pub fn new(
        module: M,
        n: usize,
        reward: impl Fn(&M::Input, &M::Output) -> f64 + Send + Sync + 'static,
    ) -> Self {
        let n = n.max(1);
        BestOfN {
            module,
            n,
            threshold: None,
            fail_count: n,
            reward: Arc::new(reward),
        }
    }

    /// Stops at the first attempt whose reward is at least `threshold`.
    #[must_use]
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// How many attempts may fail before the next failure is returned as the error (default
    /// `n`). Unlike DSPy, where 0 means "the default", 0 here means the first failure is returned.
    #[must_use]
    pub fn fail_count(mut self, fail_count: usize) -> Self {
        self.fail_count = fail_count;
        self
    }

    /// The most attempts made.
    pub fn n(&self) -> usize {
        self.n
    }
}

impl<M> Module for BestOfN<M>
where
    M: Module,
    M::Input: Clone,
{
    type Input = M::Input;
    type Output = M::Output;

    async fn call(&self, input: M::Input) -> Result<M::Output> {
        let rollouts = Rollouts::starting_here();
        let mut best = Best::new();
        let mut failures = Failures::new(self.fail_count);
        for i in 0..self.n {
            let attempt = self.module.call(input.clone());
            let (result, trace) = attempt_scope(rollouts.attempt(i), attempt, false).await;
            match result {
                Ok(output) => {
                    let reward = (self.reward)(&input, &output);
                    best.offer(reward, output, trace);
                    if self.threshold.is_some_and(|t| reward >= t) {
                        break;
                    }
                }
                Err(error) => failures.record(error)?,
            }
        }
        best.finish(failures)
    }
}

/// Rollout ids for a run of attempts: consecutive from the enclosing scope's, else from 0.
pub(super) struct Rollouts {
    start: u64,
}

impl Rollouts {
    pub(super) fn starting_here() -> Self {
        Rollouts {
            start: CallOverrides::current().rollout_id.unwrap_or(0),
        }
    }

    /// The overrides of attempt `i`: its rollout id, and temperature 1.0 (as DSPy samples).
    pub(super) fn attempt(&self, i: usize) -> CallOverrides {
        CallOverrides::new()
            .rollout_id(self.start + i as u64)
            .temperature(1.0)
    }
}

/// Runs one attempt under `overrides`, in a trace scope of its own when its calls are needed
/// (`always_trace`) or an enclosing scope may receive them.
pub(super) async fn attempt_scope<F: Future>(
    overrides: CallOverrides,
    attempt: F,
    always_trace: bool,
) -> (F::Output, Trace) {
    let attempt = with_overrides(overrides, attempt);
    if always_trace || trace::is_tracing() {
        trace::trace(attempt).await
    } else {
        (attempt.await, Trace::default())
    }
}

/// The best attempt so far; ties keep the earlier one.
pub(super) struct Best<O> {
    best: Option<(f64, O, Trace)>,
}

impl<O> Best<O> {
    pub(super) fn new() -> Self {
        Best { best: None }
    }

    pub(super) fn offer(&mut self, reward: f64, output: O, trace: Trace) {
        // A NaN reward never beats a number, but the first success is kept whatever it scored.
        if self.best.as_ref().is_none_or(|(r, _, _)| reward > *r) {
            self.best = Some((reward, output, trace));
        }
    }

    /// The best output, its calls passed on to the enclosing trace; else the last failure.
    pub(super) fn finish(self, failures: Failures) -> Result<O> {
        match self.best {
            Some((_, output, trace)) => {
                trace::extend(trace.entries);
                Ok(output)
            }
            None => Err(failures
                .last
                .unwrap_or_else(|| Error::config("no attempt was made: set n to at least 1"))),
        }
    }
}

/// Failed attempts, against the number allowed.
pub(super) struct Failures {
    allowed: usize,
    count: usize,
    last: Option<Error>,
}

impl Failures {
    pub(super) fn new(allowed: usize) -> Self {
        Failures {
            allowed,
            count: 0,
            last: None,
        }
    }

    /// Counts `error`; returns it once more failures happened than are allowed.
    pub(super) fn record(&mut self, error: Error) -> Result<()> {
        self.count += 1;
        if self.count > self.allowed {
            return Err(error);
        }
        self.last = Some(error);
        Ok(())
    }
}

impl<M: Module + Clone> Clone for BestOfN<M> {
    fn clone(&self) -> Self {
        BestOfN {
            module: self.module.clone(),
            n: self.n,
            threshold: self.threshold,
            fail_count: self.fail_count,
            reward: self.reward.clone(),
        }
    }
}

impl<M: Module + fmt::Debug> fmt::Debug for BestOfN<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BestOfN")
            .field("module", &self.module)
            .field("n", &self.n)
            .field("threshold", &self.threshold)
            .field("fail_count", &self.fail_count)
            .finish_non_exhaustive()
    }
}

/// The wrapped module's predictors, under `module`, as DSPy names them.
/// Around a module built around a predictor, it is built around the same one.
impl<M: Module + WrapsPredict> WrapsPredict for BestOfN<M> {
    type Signature = M::Signature;

    fn predict_mut(&mut self) -> &mut Predict<M::Signature> {
        self.module.predict_mut()
    }
}

impl<M: Module + Parameters> Parameters for BestOfN<M> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.module
            .visit_predictors(&child_name(prefix, "module"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.module
            .visit_predictors_mut(&child_name(prefix, "module"), visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        self.module
            .visit_module_states(&child_name(prefix, "module"), visit);
    }
}
