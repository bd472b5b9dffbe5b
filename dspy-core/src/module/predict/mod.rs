//! [`Predict`]: the basic module, one LM call for a signature.

mod parameters;

use super::Module;
use super::call::run_adapter;
use super::config::PredictConfig;
use super::convert::{decode, to_fields};
use super::demo::Demo;
use super::field_text::OwnFieldText;
use super::id::PredictorId;
use super::overrides::CallOverrides;
use super::prediction::Prediction;
use super::trace;
use crate::adapter::{
    Adapter, ChatAdapter, CompletionAdapter, FieldValues, FormatRequest, Formatted, JsonAdapter,
    TrainingExample,
};
use crate::lm::{FinetunedModel, LM, current_lm};
use crate::signature::{Signature, SignatureInfo};
use crate::{Error, Result};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The basic module: one LM call for signature `S`.
///
/// It holds what optimizers tune: few-shot `demos` (complete examples of `S`, or partial ones
/// that have only some of its fields: see [`Demo`]) and `instructions` that override the
/// signature's.
///
/// ```
/// use dspy_core::{DummyLm, LM, Module, Predict, Signature};
/// # use dspy_macros::Signature;
///
/// /// Answer questions with short factoid answers.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA {
///     #[input] question: String,
///     #[output] answer: String,
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([serde_json::json!({"answer": "Paris"})]));
/// let qa = Predict::<QA>::new().with_lm(lm);
/// let out = qa.call(QAInput { question: "Capital of France?".into() }).await.unwrap();
/// assert_eq!(out.answer, "Paris");
/// # });
/// ```
pub struct Predict<S: Signature> {
    /// Few-shot demonstrations shown before the input (partial ones first, as DSPy orders them).
    pub demos: Vec<Demo<S>>,
    /// Instructions replacing the signature's doc comment, when set.
    pub instructions: Option<String>,
    /// Sampling settings.
    pub config: PredictConfig,
    pub(crate) lm: Option<LM>,
    adapter: Option<Arc<dyn Adapter>>,
    pub(crate) id: PredictorId,
    /// Field descriptions and prefixes replacing the signature's (a loaded program's).
    pub(crate) own_text: Option<Arc<OwnFieldText>>,
    /// The fine-tuned weights it runs on (see [`DynPredictor::set_weights`](super::DynPredictor::set_weights)).
    pub(crate) weights: Option<FinetunedModel>,
    _signature: PhantomData<fn() -> S>,
}

impl<S: Signature> Predict<S> {
    /// A predictor with no demos, the signature's instructions and the configured LM.
    pub fn new() -> Self {
        Predict {
            demos: Vec::new(),
            instructions: None,
            config: PredictConfig::default(),
            lm: None,
            adapter: None,
            id: PredictorId::fresh(),
            own_text: None,
            weights: None,
            _signature: PhantomData,
        }
    }

    /// Sets the demos: examples of `S` (each a complete demo), or [`Demo`]s, complete or
    /// partial.
    ///
    /// ```
    /// use dspy_core::Predict;
    /// use dspy_core::module::Demo;
    /// # use dspy_macros::Signature;
    /// /// Answer with the capital city.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Capital { #[input] country: String, #[input] continent: String, #[output] city: String }
    ///
    /// let france = Capital { country: "France".into(), continent: "Europe".into(), city: "Paris".into() };
    /// let complete = Predict::<Capital>::new().with_demos([france]);
    /// assert!(complete.demos[0].is_complete());
    ///
    /// let peru = serde_json::json!({"country": "Peru", "city": "Lima"});
    /// let partial = Demo::from_fields(peru.as_object().unwrap().clone()).unwrap();
    /// let mixed = complete.clone().with_demos(complete.demos.iter().cloned().chain([partial]));
    /// assert_eq!(mixed.demos[1].missing_fields(), ["continent"]);
    /// ```
    #[must_use]
    pub fn with_demos<D: Into<Demo<S>>>(mut self, demos: impl IntoIterator<Item = D>) -> Self {
        self.demos = demos.into_iter().map(Into::into).collect();
        self
    }

    /// Overrides the signature's instructions.
    #[must_use]
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Uses `lm` for this predictor instead of the configured one.
    #[must_use]
    pub fn with_lm(mut self, lm: LM) -> Self {
        self.lm = Some(lm);
        self
    }

    /// Uses `adapter` for this predictor (default: [`ChatAdapter`] for chat models,
    /// [`CompletionAdapter`] for base models).
    #[must_use]
    pub fn with_adapter(mut self, adapter: impl Adapter + 'static) -> Self {
        self.adapter = Some(Arc::new(adapter));
        self
    }

    /// Replaces the sampling settings.
    #[must_use]
    pub fn with_config(mut self, config: PredictConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the temperature.
    #[must_use]
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.config.temperature = Some(temperature);
        self
    }

    /// Sets the token limit per completion.
    #[must_use]
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.config.max_tokens = Some(max_tokens);
        self
    }

    /// Asks for `n` completions per call.
    #[must_use]
    pub fn n(mut self, n: u32) -> Self {
        self.config.n = n.max(1);
        self
    }

    /// Adds a stop sequence.
    #[must_use]
    pub fn stop(mut self, stop: impl Into<String>) -> Self {
        self.config.stop.push(stop.into());
        self
    }

    /// The LM this predictor would use now: its own, else the task's or process default.
    pub fn lm(&self) -> Result<LM> {
        if let (None, Some(weights)) = (&self.lm, &self.weights) {
            // Never the base model in place of the fine-tuned one, silently.
            return Err(unserved(weights));
        }
        self.lm.clone().or_else(current_lm).ok_or_else(|| {
            Error::config(
                "no LM configured: call dspy::configure(LM::from_env()?) once, wrap the call in \
                 dspy::with_lm(lm, ..), or give this predictor one with .with_lm(lm)",
            )
        })
    }

    /// The instructions in effect.
    pub fn effective_instructions(&self) -> &str {
        self.instructions
            .as_deref()
            .unwrap_or(&S::info().instructions)
    }

    /// The signature as this predictor's prompts show it: `S`'s, with the field descriptions
    /// and prefixes that replace `S`'s when it has its own (see
    /// [`DynPredictor::set_field_text`](super::DynPredictor::set_field_text)).
    pub fn effective_signature(&self) -> &SignatureInfo {
        match &self.own_text {
            Some(own) => own.info(),
            None => S::info(),
        }
    }

    /// The signature of a call made under `overrides`: with a `hint_` input when there is a
    /// hint for this predictor (put into `input`), and this predictor's own field texts.
    pub(crate) fn call_signature(
        &self,
        overrides: &CallOverrides,
        input: &mut FieldValues,
    ) -> Cow<'_, SignatureInfo> {
        let called = overrides.signature_for::<S>(self.id, input);
        match &self.own_text {
            None => Cow::Borrowed(called),
            Some(own) if std::ptr::eq(called, S::info()) => Cow::Borrowed(own.info()),
            Some(own) => Cow::Owned(own.apply_to(called)),
        }
    }

    /// The adapter used with `lm`.
    pub fn adapter_for(&self, lm: &LM) -> Arc<dyn Adapter> {
        match &self.adapter {
            Some(adapter) => adapter.clone(),
            None => {
                let can = lm.capabilities();
                match (can.chat, can.schema_enforced) {
                    // A grammar keeps JSON valid, and small chat models keep to JSON far better
                    // than to field markers.
                    (true, true) => Arc::new(JsonAdapter::new()),
                    (true, false) => Arc::new(ChatAdapter::new()),
                    (false, _) => Arc::new(CompletionAdapter::new()),
                }
            }
        }
    }

    /// The prompt this predictor would send for `input`, without sending it.
    pub fn render(&self, input: &S::Input) -> Result<Formatted> {
        let adapter = self.adapter_now();
        let input = to_fields(input)?;
        let demos = self.demo_fields()?;
        Ok(adapter.format(&self.format_request(&demos, &input)))
    }

    /// The fine-tuning example for one call: the prompt this predictor sends for `input` (with
    /// its instructions and demos, by the adapter it would use now, as [`render`](Self::render))
    /// and `output` written as that adapter writes a demo's answer
    /// ([`Adapter::format_training`]).
    ///
    /// Pin the adapter (`with_adapter`) when the fine-tuned model will be served with another
    /// LM than the one in effect now, so the example is rendered as that model will be asked.
    ///
    /// ```
    /// use dspy_core::adapter::Prompt;
    /// use dspy_core::{ChatAdapter, Predict};
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// let predict = Predict::<QA>::new().with_adapter(ChatAdapter::new());
    /// let input = QAInput { question: "Capital of France?".into() };
    /// let example = predict.training_example(&input, &QAOutput { answer: "Paris".into() }).unwrap();
    /// assert_eq!(example.prompt, predict.render(&input).unwrap().prompt);
    /// assert!(example.completion.starts_with("[[ ## answer ## ]]\nParis"));
    /// ```
    pub fn training_example(
        &self,
        input: &S::Input,
        output: &S::Output,
    ) -> Result<TrainingExample> {
        let adapter = self.adapter_now();
        let input = to_fields(input)?;
        let output = to_fields(output)?;
        let demos = self.demo_fields()?;
        Ok(adapter.format_training(&self.format_request(&demos, &input), &output))
    }

    /// The adapter a call would use now: its own, else the one for the LM in effect, else
    /// [`ChatAdapter`] (no LM: what rendering shows).
    pub(crate) fn adapter_now(&self) -> Arc<dyn Adapter> {
        match (&self.adapter, self.lm()) {
            (Some(adapter), _) => adapter.clone(),
            (None, Ok(lm)) => self.adapter_for(&lm),
            (None, Err(_)) => Arc::new(ChatAdapter::new()),
        }
    }

    /// Runs the predictor and returns the full [`Prediction`], in a `dspy.module` tracing span
    /// named for the signature.
    pub async fn forward(&self, input: S::Input) -> Result<Prediction<S::Output>> {
        let span = tracing::info_span!(
            "dspy.module",
            module = "Predict",
            signature = S::info().name.as_str()
        );
        tracing::Instrument::instrument(self.forward_untraced(input), span).await
    }

    async fn forward_untraced(&self, input: S::Input) -> Result<Prediction<S::Output>> {
        let lm = self.lm()?;
        let adapter = self.adapter_for(&lm);
        let mut fields = to_fields(&input)?;
        let demos = self.demo_fields()?;
        // Wrapping modules (BestOfN, Refine, ...) set rollout, temperature and hints per scope.
        let overrides = CallOverrides::current();
        let signature = self.call_signature(&overrides, &mut fields);
        let request = FormatRequest {
            signature: &signature,
            ..self.format_request(&demos, &fields)
        };
        let config = overrides.apply_to(&self.config);
        let prediction = run_adapter(&lm, adapter, &request, &config, decode::<S::Output>)
            .await
            .inspect_err(|e| trace::record_failure::<S>(self.id, &input, e))?;
        trace::record::<S>(self.id, &input, &prediction.output);
        Ok(prediction)
    }

    pub(crate) fn demo_fields(&self) -> Result<Vec<FieldValues>> {
        self.demos.iter().map(Demo::fields).collect()
    }

    pub(crate) fn format_request<'a>(
        &'a self,
        demos: &'a [FieldValues],
        input: &'a FieldValues,
    ) -> FormatRequest<'a> {
        FormatRequest {
            signature: self.effective_signature(),
            instructions: self.effective_instructions(),
            demos,
            input,
        }
    }
}

/// A predictor loaded with fine-tuned weights that no LM serves yet.
fn unserved(weights: &FinetunedModel) -> Error {
    Error::config(format!(
        "this predictor runs on fine-tuned weights (`{}`, trained by the `{}` backend), but no \
         LM serves them: after loading the program, call `program.load_weights(&finetuner)` \
         with that backend (or give the predictor an LM with `.with_lm(lm)`)",
        weights.model, weights.backend
    ))
}

impl<S: Signature> Default for Predict<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Signature> Clone for Predict<S> {
    fn clone(&self) -> Self {
        Predict {
            demos: self.demos.clone(),
            instructions: self.instructions.clone(),
            config: self.config.clone(),
            lm: self.lm.clone(),
            adapter: self.adapter.clone(),
            // A clone is another predictor: traces tell it apart from the original.
            id: PredictorId::fresh(),
            own_text: self.own_text.clone(),
            weights: self.weights.clone(),
            _signature: PhantomData,
        }
    }
}

impl<S: Signature> fmt::Debug for Predict<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Predict")
            .field("signature", &S::info().name)
            .field("demos", &self.demos.len())
            .field("instructions", &self.instructions)
            .field("own_field_text", &self.own_text.is_some())
            .field("config", &self.config)
            .field("lm", &self.lm.as_ref().map(LM::model))
            .field("weights", &self.weights.as_ref().map(|w| &w.model))
            .field("adapter", &self.adapter.as_ref().map(|a| a.name()))
            .finish()
    }
}

impl<S: Signature> Module for Predict<S> {
    type Input = S::Input;
    type Output = S::Output;

    async fn call(&self, input: S::Input) -> Result<S::Output> {
        self.forward(input).await.map(|p| p.output)
    }
}
