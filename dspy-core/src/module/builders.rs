//! The builders every module shares, written once: [`ConfigureExt`] (the LM, adapter and
//! sampling of every predictor a module holds) and [`WrapsPredict`] (the instructions and demos
//! of the one predictor a module is built around).

use super::config::PredictConfig;
use super::demo::Demo;
use super::params::Parameters;
use super::predict::Predict;
use crate::adapter::Adapter;
use crate::lm::LM;
use crate::signature::Signature;
use std::sync::Arc;

/// `Predict`'s LM and sampling builders for any module: each sets every predictor the module
/// holds (all of them, for a module of several, such as `ReAct` or `MultiChainComparison`).
///
/// Every type with [`Parameters`] has it (a blanket impl, as tower's `ServiceExt`), so
/// `ChainOfThought`, `BestOfN`, `Refine`, `ReAct`, `MultiChainComparison`, `Parallel` and your own
/// `#[derive(Module)]` programs all take the same builders. They are [`configure`] and
/// [`with_predictors`](ConfigureExt::with_predictors) over each predictor's
/// [`config_mut`](super::DynPredictor::config_mut), [`set_lm`](super::DynPredictor::set_lm) and
/// [`set_adapter`](super::DynPredictor::set_adapter). ([`Predict`] has the same builders as its
/// own methods; `BestOfN::n` and `Refine::n` are their attempt counts, so for them write
/// `ConfigureExt::n(module, 2)`.)
///
/// [`configure`]: ConfigureExt::configure
///
/// ```
/// use dspy_core::module::ConfigureExt;
/// use dspy_core::{ChainOfThought, DummyLm, LM, JsonAdapter, Module, Parameters};
/// # use dspy_macros::Signature;
/// /// Answer with a number.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Add { #[input] question: String, #[output] answer: i64 }
///
/// let lm = LM::new(DummyLm::new([serde_json::json!({"reasoning": "2 and 2 make 4.", "answer": 4})]));
/// let cot = ChainOfThought::<Add>::new()
///     .with_lm(lm)
///     .with_adapter(JsonAdapter::new())
///     .temperature(0.2)
///     .max_tokens(256)
///     .stop("\n\n\n");
/// assert_eq!(cot.predict.config.temperature, Some(0.2));
/// assert_eq!(cot.predict.config.max_tokens, Some(256));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let out = cot.call(AddInput { question: "2 + 2?".into() }).await.unwrap();
/// assert_eq!(out.answer, 4);
/// # });
/// ```
pub trait ConfigureExt: Parameters + Sized {
    /// Calls `set` on every predictor's sampling settings.
    #[must_use]
    fn configure(mut self, mut set: impl FnMut(&mut PredictConfig)) -> Self {
        for (_, predictor) in self.predictors_mut() {
            set(predictor.config_mut());
        }
        self
    }

    /// Calls `set` on every predictor, seen as a [`DynPredictor`](super::DynPredictor).
    #[must_use]
    fn with_predictors(mut self, mut set: impl FnMut(&mut dyn super::DynPredictor)) -> Self {
        for (_, predictor) in self.predictors_mut() {
            set(predictor);
        }
        self
    }

    /// Uses `lm` for every predictor instead of the configured one.
    #[must_use]
    fn with_lm(self, lm: LM) -> Self {
        self.with_predictors(|p| p.set_lm(Some(lm.clone())))
    }

    /// Uses `adapter` for every predictor (default: chosen by the LM's capabilities, see
    /// [`Predict::with_adapter`]).
    #[must_use]
    fn with_adapter(self, adapter: impl Adapter + 'static) -> Self {
        let adapter: Arc<dyn Adapter> = Arc::new(adapter);
        self.with_predictors(|p| p.set_adapter(Some(adapter.clone())))
    }

    /// Replaces every predictor's sampling settings.
    #[must_use]
    fn with_config(self, config: PredictConfig) -> Self {
        self.configure(|c| *c = config.clone())
    }

    /// Sets the temperature.
    #[must_use]
    fn temperature(self, temperature: f32) -> Self {
        self.configure(|c| c.temperature = Some(temperature))
    }

    /// Sets the token limit per completion.
    #[must_use]
    fn max_tokens(self, max_tokens: u32) -> Self {
        self.configure(|c| c.max_tokens = Some(max_tokens))
    }

    /// Asks for `n` completions per call (at least one).
    #[must_use]
    fn n(self, n: u32) -> Self {
        self.configure(|c| c.n = n.max(1))
    }

    /// Adds a stop sequence.
    #[must_use]
    fn stop(self, stop: impl Into<String>) -> Self {
        let stop = stop.into();
        self.configure(|c| c.stop.push(stop.clone()))
    }
}

impl<P: Parameters> ConfigureExt for P {}

/// A module built around one [`Predict`]: it takes that predictor's `with_instructions` and
/// `with_demos`.
///
/// Implemented by `Predict` itself, `ChainOfThought` (its demos carry reasoning: a
/// [`Reasoned`](super::Reasoned) example, or a [`Demo`] without `reasoning`, which prompts show as
/// DSPy shows an incomplete demo), `MultiChainComparison` (its comparison), and `BestOfN`,
/// `Refine` and `Parallel` around any of them. A module of your own implements it by naming the
/// predictor; the builders come with it.
///
/// ```
/// use dspy_core::module::{Demo, WrapsPredict};
/// use dspy_core::{ChainOfThought, Reasoned};
/// # use dspy_macros::Signature;
/// /// Answer with a number.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Add { #[input] question: String, #[output] answer: i64 }
///
/// let reasoned = Reasoned {
///     example: Add { question: "1 + 1?".into(), answer: 2 },
///     reasoning: "One and one make two.".into(),
/// };
/// // A labeled example has no reasoning: a partial demo.
/// let labeled = serde_json::json!({"question": "3 + 4?", "answer": 7});
/// let labeled = Demo::from_fields(labeled.as_object().unwrap().clone()).unwrap();
/// let cot = ChainOfThought::<Add>::new()
///     .with_instructions("Add the numbers.")
///     .with_demos([Demo::new(reasoned), labeled]);
/// assert_eq!(cot.predict.instructions.as_deref(), Some("Add the numbers."));
/// assert_eq!(cot.predict.demos[1].missing_fields(), ["reasoning"]);
/// ```
pub trait WrapsPredict: Sized {
    /// The signature of the predictor it is built around.
    type Signature: Signature;

    /// That predictor.
    fn predict_mut(&mut self) -> &mut Predict<Self::Signature>;

    /// Overrides the predictor's instructions.
    #[must_use]
    fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.predict_mut().instructions = Some(instructions.into());
        self
    }

    /// Sets the predictor's demos: examples of its signature, or [`Demo`]s.
    #[must_use]
    fn with_demos<D: Into<Demo<Self::Signature>>>(
        mut self,
        demos: impl IntoIterator<Item = D>,
    ) -> Self {
        self.predict_mut().demos = demos.into_iter().map(Into::into).collect();
        self
    }
}

impl<S: Signature> WrapsPredict for Predict<S> {
    type Signature = S;

    fn predict_mut(&mut self) -> &mut Predict<S> {
        self
    }
}
