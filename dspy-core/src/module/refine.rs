use super::best_of_n::{Best, Failures, Reward, Rollouts, attempt_scope};
use super::module_state::ModuleState;
use super::offer_feedback::{OfferFeedback, OfferFeedbackInput, describe_modules};
use super::trace::{self, Trace};
use super::{DynPredictor, Module, Parameters, Predict, PredictorId, WrapsPredict, child_name};
use crate::Result;
use crate::lm::LM;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// [`BestOfN`](super::BestOfN) that learns from its misses (DSPy's `Refine`): after an attempt
/// scores below the threshold, the LM reads the run (inputs, each predictor call, outputs, reward)
/// and writes advice per predictor, which each predictor sees on the next attempts as an extra
/// `hint_` input.
///
/// Attempts, rollout ids, failures and the result are as in `BestOfN`. A failed advice call
/// counts as a failed attempt and leaves the previous advice in place. The advice is asked of
/// [`feedback`](Refine::feedback), a [`Predict<OfferFeedback>`] that uses the configured LM unless
/// given one. Its predictors are the wrapped module's, under `module`, as in DSPy; the advice
/// predictor is not among them.
///
/// ```
/// use dspy_core::{DummyLm, LM, Module, Predict, Refine};
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer in one word.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dummy = DummyLm::new([
///     json!({"answer": "It is Brussels"}),
///     json!({"discussion": "Too long.", "advice": {"self": "Answer with the city only."}}),
///     json!({"answer": "Brussels"}),
/// ]);
/// let one_word = |_: &QAInput, out: &QAOutput| (out.answer.split_whitespace().count() == 1) as u8 as f64;
/// let refine = Refine::new(Predict::<QA>::new(), 3, one_word).threshold(1.0);
/// let out = dspy_core::with_lm(LM::new(dummy.clone()), refine.call(QAInput { question: "Capital of Belgium?".into() }))
///     .await
///     .unwrap();
/// assert_eq!(out.answer, "Brussels");
/// let retry = dummy.last_request().unwrap().prompt.to_text();
/// assert!(retry.contains("[[ ## hint_ ## ]]\nAnswer with the city only."));
/// # });
/// ```
pub struct Refine<M: Module> {
    /// The module run on each attempt.
    pub module: M,
    /// The predictor that writes advice after a missed attempt.
    pub feedback: Predict<OfferFeedback>,
    n: usize,
    threshold: Option<f64>,
    fail_count: usize,
    reward: Reward<M::Input, M::Output>,
    program_code: String,
    reward_code: String,
}

impl<M: Module> Refine<M> {
    /// Up to `n` attempts (at least one) of `module`, scored by `reward`; no threshold, so all
    /// `n` run and every one but the last is followed by advice.
    pub fn new(
        module: M,
        n: usize,
        reward: impl Fn(&M::Input, &M::Output) -> f64 + Send + Sync + 'static,
    ) -> Self {
        let n = n.max(1);
        let reward_code = format!(
            "The Rust function `{}` (its source is not available); a higher reward is better.",
            std::any::type_name_of_val(&reward)
        );
        Refine {
            module,
            feedback: Predict::new(),
            n,
            threshold: None,
            fail_count: n,
            reward: Arc::new(reward),
            program_code: format!(
                "The Rust program `{}`; its modules are described below.",
                std::any::type_name::<M>()
            ),
            reward_code,
        }
    }

    /// Stops at the first attempt whose reward is at least `threshold`.
    #[must_use]
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// How many attempts may fail before the next failure is returned as the error (default
    /// `n`); see [`BestOfN::fail_count`](super::BestOfN::fail_count).
    #[must_use]
    pub fn fail_count(mut self, fail_count: usize) -> Self {
        self.fail_count = fail_count;
        self
    }

    /// Describes the program to the advice predictor (DSPy shows the module's source code,
    /// which Rust does not have at run time; the default names the type).
    #[must_use]
    pub fn program_code(mut self, text: impl Into<String>) -> Self {
        self.program_code = text.into();
        self
    }

    /// Describes the reward function to the advice predictor: paste its code or say what it
    /// checks (the default names the function's type).
    #[must_use]
    pub fn reward_code(mut self, text: impl Into<String>) -> Self {
        self.reward_code = text.into();
        self
    }

    /// Uses `lm` for the advice instead of the configured one.
    #[must_use]
    pub fn with_feedback_lm(mut self, lm: LM) -> Self {
        self.feedback = self.feedback.with_lm(lm);
        self
    }

    /// The most attempts made.
    pub fn n(&self) -> usize {
        self.n
    }
}

impl<M> Module for Refine<M>
where
    M: Module + Parameters,
    M::Input: Clone + Serialize,
    M::Output: Serialize,
{
    type Input = M::Input;
    type Output = M::Output;

    async fn call(&self, input: M::Input) -> Result<M::Output> {
        let predictors: Vec<(String, PredictorId)> = self
            .module
            .predictors()
            .into_iter()
            .map(|(name, p)| (name, p.id()))
            .collect();
        let rollouts = Rollouts::starting_here();
        let mut best = Best::new();
        let mut failures = Failures::new(self.fail_count);
        let mut advice: Option<BTreeMap<String, String>> = None;
        for i in 0..self.n {
            let mut overrides = rollouts.attempt(i);
            if let Some(advice) = &advice {
                overrides = overrides.hints(predictors.iter().map(|(name, id)| {
                    let hint = advice.get(name).map_or("N/A", String::as_str);
                    (*id, hint.to_string())
                }));
            }
            let attempt = self.module.call(input.clone());
            let (output, trace) = match attempt_scope(overrides, attempt, true).await {
                (Ok(output), trace) => (output, trace),
                (Err(error), _) => {
                    failures.record(error)?;
                    continue;
                }
            };
            let reward = (self.reward)(&input, &output);
            let done = self.threshold.is_some_and(|t| reward >= t) || i + 1 == self.n;
            let run = (!done).then(|| self.run_for_feedback(&input, &output, &trace, reward));
            best.offer(reward, output, trace);
            let Some(run) = run else { break };
            // The advice call is not part of the program's run: keep it out of any trace.
            match trace::trace(self.feedback.call(run)).await.0 {
                Ok(feedback) => advice = Some(feedback.advice),
                Err(error) => failures.record(error)?,
            }
        }
        best.finish(failures)
    }
}

impl<M: Module + Parameters> Refine<M>
where
    M::Input: Serialize,
    M::Output: Serialize,
{
    /// What the advice predictor is shown about one attempt.
    fn run_for_feedback(
        &self,
        input: &M::Input,
        output: &M::Output,
        trace: &Trace,
        reward: f64,
    ) -> OfferFeedbackInput {
        let predictors = self.module.predictors();
        let names: Vec<(PredictorId, &String)> =
            predictors.iter().map(|(name, p)| (p.id(), name)).collect();
        let trajectory: Vec<Value> = trace
            .entries
            .iter()
            .filter_map(|entry| {
                let name = names.iter().find(|(id, _)| *id == entry.predictor)?.1;
                Some(json!({"module_name": name, "inputs": entry.input, "outputs": entry.output}))
            })
            .collect();
        OfferFeedbackInput {
            program_code: self.program_code.clone(),
            modules_defn: describe_modules(&predictors),
            program_inputs: pretty(input),
            program_trajectory: pretty(&trajectory),
            program_outputs: pretty(output),
            reward_code: self.reward_code.clone(),
            target_threshold: self.threshold,
            reward_value: reward,
            module_names: predictors.into_iter().map(|(name, _)| name).collect(),
        }
    }
}

/// JSON with two-space indents, as DSPy shows runs; a value that cannot be shown says so.
fn pretty<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<not serializable: {e}>"))
}

impl<M: Module + Clone> Clone for Refine<M> {
    fn clone(&self) -> Self {
        Refine {
            module: self.module.clone(),
            feedback: self.feedback.clone(),
            n: self.n,
            threshold: self.threshold,
            fail_count: self.fail_count,
            reward: self.reward.clone(),
            program_code: self.program_code.clone(),
            reward_code: self.reward_code.clone(),
        }
    }
}

impl<M: Module + fmt::Debug> fmt::Debug for Refine<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refine")
            .field("module", &self.module)
            .field("feedback", &self.feedback)
            .field("n", &self.n)
            .field("threshold", &self.threshold)
            .field("fail_count", &self.fail_count)
            .finish_non_exhaustive()
    }
}

/// Around a module built around a predictor, it is built around the same one (not `feedback`).
impl<M: Module + WrapsPredict> WrapsPredict for Refine<M> {
    type Signature = M::Signature;

    fn predict_mut(&mut self) -> &mut Predict<M::Signature> {
        self.module.predict_mut()
    }
}

/// The wrapped module's predictors, under `module`, as DSPy names them.
impl<M: Module + Parameters> Parameters for Refine<M> {
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
