//! [`DynPredictor`]: a predictor seen without its signature type, as optimizers and saved
//! state see it.

use super::config::PredictConfig;
use super::demo::DemoState;
use super::field_text::FieldText;
use super::id::PredictorId;
use super::prompt_view::PromptView;
use crate::adapter::{Adapter, FieldValues, Formatted, TrainingExample};
use crate::lm::{FinetunedModel, LM};
use crate::signature::SignatureInfo;
use crate::{Error, Result};
use std::sync::Arc;

/// A predictor seen without its signature type: what optimizers read and change.
///
/// Demos cross this boundary as JSON objects of fields ([`DemoState`]s, or their bare fields
/// through the `_json` methods) and are checked against the signature when set, so a bad demo is
/// an error, never a broken prompt. A demo may have only some of the signature's fields (see
/// [`Demo`](super::Demo)); fields the signature does not have are left out, so a training example
/// of a whole pipeline can be given to each of its predictors as it is.
///
/// ```
/// use dspy_core::{DynPredictor, Predict};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// let mut predict = Predict::<QA>::new();
/// let demo = serde_json::json!({"question": "2+2?", "answer": "4"});
/// let dynamic: &mut dyn DynPredictor = &mut predict;
/// dynamic.set_demos_json(vec![demo.as_object().unwrap().clone()]).unwrap();
/// dynamic.set_instructions(Some("Answer with a number.".into()));
/// assert_eq!(predict.demos[0].example().unwrap().answer, "4");
/// assert_eq!(predict.effective_instructions(), "Answer with a number.");
/// ```
pub trait DynPredictor: Send + Sync {
    /// This predictor's id, as traces record it.
    fn id(&self) -> PredictorId;
    /// Its signature's description.
    fn signature(&self) -> &'static SignatureInfo;
    /// The instructions in effect (its own, else the signature's).
    fn effective_instructions(&self) -> &str;
    /// Replaces its instructions; `None` goes back to the signature's.
    fn set_instructions(&mut self, instructions: Option<String>);
    /// Whether its instructions were replaced.
    fn has_own_instructions(&self) -> bool;
    /// Its signature as its prompts show it: [`signature`](DynPredictor::signature), with the
    /// description and prefix of every field whose text was replaced
    /// ([`set_field_text`](DynPredictor::set_field_text)).
    fn effective_signature(&self) -> &SignatureInfo {
        self.signature()
    }
    /// Replaces the description and prefix its prompts show for field `name`, as
    /// [`set_instructions`](DynPredictor::set_instructions) replaces the instructions; `None`
    /// goes back to the signature's. A loaded program does this where the text it was saved
    /// with differs from the code's. A field the signature does not have is an
    /// [`Error::Config`] naming its fields.
    ///
    /// ```
    /// use dspy_core::{DynPredictor, Predict};
    /// use dspy_core::module::FieldText;
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input(desc = "a question")] question: String, #[output] answer: String }
    ///
    /// let mut predict = Predict::<QA>::new();
    /// let text = FieldText::new("a question about geography", "Question:");
    /// predict.set_field_text("question", Some(text)).unwrap();
    /// assert!(predict.has_own_field_text());
    /// assert_eq!(predict.effective_signature().inputs[0].desc, "a question about geography");
    /// let prompt = predict.render(&QAInput { question: "Capital of Peru?".into() }).unwrap();
    /// assert!(prompt.prompt.to_text().contains("a question about geography"));
    ///
    /// predict.set_field_text("question", None).unwrap();
    /// assert!(!predict.has_own_field_text());
    /// assert!(predict.set_field_text("nope", None).is_err());
    /// ```
    fn set_field_text(&mut self, name: &str, text: Option<FieldText>) -> Result<()> {
        let _ = text;
        Err(Error::config(format!(
            "this predictor of signature `{}` keeps its signature's field texts; it cannot \
             replace the text of field `{name}`",
            self.signature().name
        )))
    }
    /// Whether the text of any of its fields was replaced.
    fn has_own_field_text(&self) -> bool {
        false
    }
    /// Takes `id` as its own. For a wrapper that runs a per-call copy of a program (with other
    /// demos, say): giving the copy's predictors the original ids makes traces of the copy's
    /// calls name the original predictors, which is what optimizers look them up by.
    fn set_id(&mut self, id: PredictorId);
    /// Its demos, as saved state holds them.
    fn demo_states(&self) -> Result<Vec<DemoState>>;
    /// Replaces its demos; each must make a [`Demo`](super::Demo) of the signature (all its
    /// fields, or at least one input and one output, each of its type), else
    /// [`Error::State`](crate::Error::State) names the demo and field, and nothing is changed.
    fn set_demo_states(&mut self, demos: Vec<DemoState>) -> Result<()>;
    /// Checks demos as [`set_demo_states`](DynPredictor::set_demo_states) would, without
    /// setting them.
    fn check_demo_states(&self, demos: &[DemoState]) -> Result<()>;
    /// Its demos' fields, each as one JSON object of inputs and outputs.
    fn demos_json(&self) -> Result<Vec<FieldValues>> {
        Ok(self.demo_states()?.into_iter().map(|d| d.fields).collect())
    }
    /// Replaces its demos by these fields, as [`set_demo_states`](DynPredictor::set_demo_states).
    fn set_demos_json(&mut self, demos: Vec<FieldValues>) -> Result<()> {
        self.set_demo_states(demos.into_iter().map(DemoState::new).collect())
    }
    /// Checks demos as [`set_demos_json`](DynPredictor::set_demos_json) would, without setting
    /// them.
    fn check_demos_json(&self, demos: &[FieldValues]) -> Result<()> {
        let states: Vec<DemoState> = demos.iter().cloned().map(DemoState::new).collect();
        self.check_demo_states(&states)
    }
    /// How many demos it has.
    fn demo_count(&self) -> usize;
    /// Its sampling settings.
    fn config(&self) -> &PredictConfig;
    /// Its sampling settings, to change.
    fn config_mut(&mut self) -> &mut PredictConfig;
    /// Gives it its own LM (`None`: use the configured one).
    fn set_lm(&mut self, lm: Option<LM>);
    /// The LM a call would use now: its own, else the configured one (see
    /// [`Predict::lm`](super::Predict::lm)).
    fn lm(&self) -> Result<LM>;
    /// The fine-tuned weights it runs on, when an optimizer (BootstrapFinetune) trained some
    /// for it: saved with the program, by hash and path.
    fn weights(&self) -> Option<&FinetunedModel>;
    /// Records the fine-tuned weights it runs on (`None`: none). The LM that serves them is
    /// set apart, with [`set_lm`](DynPredictor::set_lm): until it is, a predictor with weights
    /// refuses to call the configured LM (see
    /// [`Parameters::load_weights`](super::Parameters::load_weights)).
    fn set_weights(&mut self, weights: Option<FinetunedModel>);
    /// Gives it its own adapter (`None`: chosen by the LM's capabilities).
    fn set_adapter(&mut self, adapter: Option<Arc<dyn Adapter>>);
    /// The prompt it would send for `input` (a JSON object of the input fields).
    fn render_json(&self, input: &FieldValues) -> Result<Formatted>;
    /// The fine-tuning example for one call of it (input and output as JSON objects of their
    /// fields, as traces record them): see [`Predict::training_example`](super::Predict::training_example).
    /// Both must fit the signature (every input and output field, each of its type), else
    /// [`Error::Config`](crate::Error::Config) names the signature and what does not fit.
    ///
    /// ```
    /// use dspy_core::{DynPredictor, Predict};
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// let predict: &dyn DynPredictor = &Predict::<QA>::new();
    /// let fields = |v: serde_json::Value| v.as_object().unwrap().clone();
    /// let example = predict
    ///     .training_example_json(&fields(serde_json::json!({"question": "2+2?"})), &fields(serde_json::json!({"answer": "4"})))
    ///     .unwrap();
    /// assert!(example.completion.contains("4"));
    /// assert!(predict.training_example_json(&fields(serde_json::json!({"question": "2+2?"})), &fields(serde_json::json!({}))).is_err());
    /// ```
    fn training_example_json(
        &self,
        input: &FieldValues,
        output: &FieldValues,
    ) -> Result<TrainingExample>;
    /// The adapter a call would use now: its own, else the one the LM in effect calls for,
    /// else [`ChatAdapter`](crate::ChatAdapter) (no LM configured).
    fn adapter(&self) -> Arc<dyn Adapter>;
    /// The prompt it would send, its input shown as `{name}` placeholders, without calling the
    /// LM: its instructions, fields and demos as the [adapter](DynPredictor::adapter) renders
    /// them, split into parts (see [`PromptView`]; it prints as Markdown). To see it as another
    /// LM's adapter would render it, call it inside
    /// [`with_lm_sync`](crate::lm::with_lm_sync).
    ///
    /// ```
    /// use dspy_core::{DummyLm, DynPredictor, LM, Predict};
    /// use dspy_core::lm::with_lm_sync;
    /// # use dspy_macros::Signature;
    /// /// Answer with the capital city.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Capital { #[input] country: String, #[output] city: String }
    ///
    /// let predict = Predict::<Capital>::new().with_instructions("Name the capital.");
    /// let base_model = LM::new(DummyLm::new([]).completion_model());
    /// let view = with_lm_sync(base_model, || predict.render_prompt()).unwrap();
    /// assert_eq!(view.adapter, "CompletionAdapter");
    /// assert_eq!(view.formatted.prompt.to_text(), "Name the capital.\n\nCountry: {country}\nCity:");
    /// ```
    fn render_prompt(&self) -> Result<PromptView> {
        let adapter = self.adapter();
        Ok(PromptView::render(
            self.effective_signature(),
            &*adapter,
            self.effective_instructions(),
            self.has_own_instructions(),
            self.demo_states()?,
        ))
    }
    /// The most LM calls one call of it can make with the adapter it would use now: the first,
    /// then, when the answer cannot be read, one with the adapter's fallback and one re-ask.
    /// Three unless the adapter has fewer of those (the call loop never makes more).
    ///
    /// ```
    /// use dspy_core::{ChatAdapter, CompletionAdapter, DynPredictor, JsonAdapter, Predict};
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// let calls = |p: Predict<QA>| p.lm_calls_at_most();
    /// assert_eq!(calls(Predict::new()), 3); // no LM: chat markers, JSON fallback, re-ask
    /// assert_eq!(calls(Predict::new().with_adapter(JsonAdapter::new())), 2);
    /// assert_eq!(calls(Predict::new().with_adapter(CompletionAdapter::new())), 1);
    /// let strict = ChatAdapter::new().json_fallback(false).reask(false);
    /// assert_eq!(calls(Predict::new().with_adapter(strict)), 1);
    /// ```
    fn lm_calls_at_most(&self) -> u32 {
        3
    }
}
