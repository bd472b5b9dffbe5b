use super::{
    DynPredictor, Module, Parameters, Predict, Prediction, PredictionStream, WrapsPredict,
    child_name,
};
use crate::Result;
use crate::signature::{FieldSpec, Signature, SignatureInfo, info_for};
use schemars::JsonSchema;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::ops::{Deref, DerefMut};

/// An output with the reasoning that led to it; derefs to the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WithReasoning<O> {
    /// The model's step-by-step reasoning.
    pub reasoning: String,
    /// The signature's outputs.
    #[serde(flatten)]
    pub output: O,
}

impl<O> Deref for WithReasoning<O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.output
    }
}

impl<O> DerefMut for WithReasoning<O> {
    fn deref_mut(&mut self) -> &mut O {
        &mut self.output
    }
}

/// Signature `S` with a `reasoning` output before its own: what [`ChainOfThought`] calls, and
/// the type of its demos (a complete example plus the reasoning that reached it).
#[derive(Debug, Clone, PartialEq)]
pub struct Reasoned<S> {
    /// The example.
    pub example: S,
    /// The reasoning that leads from its inputs to its outputs.
    pub reasoning: String,
}

impl<S: Signature> Signature for Reasoned<S> {
    type Input = S::Input;
    type Output = WithReasoning<S::Output>;

    fn info() -> &'static SignatureInfo {
        info_for::<Self>(|| {
            let base = S::info();
            let info = base.clone().with_output_first(
                FieldSpec::of::<String>("reasoning", "")
                    .with_prefix("Reasoning: Let's think step by step in order to"),
            );
            // DSPy keeps the signature's instructions, default ones included, unchanged.
            SignatureInfo {
                instructions: base.instructions.clone(),
                ..info
            }
        })
    }

    fn from_parts(input: S::Input, output: WithReasoning<S::Output>) -> Self {
        Reasoned {
            example: S::from_parts(input, output.output),
            reasoning: output.reasoning,
        }
    }

    fn into_parts(self) -> (S::Input, WithReasoning<S::Output>) {
        let (input, output) = self.example.into_parts();
        (
            input,
            WithReasoning {
                reasoning: self.reasoning,
                output,
            },
        )
    }
}

/// One flat JSON object: the example's fields plus `reasoning`.
impl<S: Serialize> Serialize for Reasoned<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut value = serde_json::to_value(&self.example).map_err(serde::ser::Error::custom)?;
        if let Value::Object(map) = &mut value {
            map.insert("reasoning".into(), Value::String(self.reasoning.clone()));
        }
        value.serialize(serializer)
    }
}

impl<'de, S: DeserializeOwned> Deserialize<'de> for Reasoned<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(deserializer)?;
        let reasoning = match value.as_object_mut().and_then(|m| m.remove("reasoning")) {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`reasoning` must be text, got {other}"
                )));
            }
            None => String::new(),
        };
        let example = serde_json::from_value(value).map_err(D::Error::custom)?;
        Ok(Reasoned { example, reasoning })
    }
}

/// Asks the LM to reason step by step before giving the outputs of `S` (DSPy's
/// `ChainOfThought`): a `reasoning` output is added before the signature's own.
///
/// It takes `Predict`'s builders: `with_lm`, `with_adapter`, `with_config`, `temperature`,
/// `max_tokens`, `n` and `stop` from [`ConfigureExt`](super::ConfigureExt), and
/// `with_instructions` and `with_demos` (each a [`Reasoned`] example or a
/// [`Demo`](super::Demo), e.g. a labeled one without reasoning) from [`WrapsPredict`].
///
/// ```
/// use dspy_core::module::ConfigureExt;
/// use dspy_core::{ChainOfThought, DummyLm, LM, Module};
/// # use dspy_macros::Signature;
/// /// Answer with a number.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Add { #[input] question: String, #[output] answer: i64 }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([serde_json::json!({"reasoning": "2 and 2 make 4.", "answer": 4})]));
/// let cot = ChainOfThought::<Add>::new().with_lm(lm);
/// let out = cot.call(AddInput { question: "2 + 2?".into() }).await.unwrap();
/// assert_eq!(out.answer, 4); // derefs to AddOutput
/// assert_eq!(out.reasoning, "2 and 2 make 4.");
/// # });
/// ```
pub struct ChainOfThought<S: Signature> {
    /// The predictor it runs; its demos carry reasoning.
    pub predict: Predict<Reasoned<S>>,
}

impl<S: Signature> ChainOfThought<S> {
    /// A chain of thought over `S` with no demos.
    pub fn new() -> Self {
        ChainOfThought {
            predict: Predict::new(),
        }
    }

    /// Runs it and returns the full [`Prediction`].
    pub async fn forward(&self, input: S::Input) -> Result<Prediction<WithReasoning<S::Output>>> {
        self.predict.forward(input).await
    }

    /// Runs it on a streamed LM call, as [`Predict::stream`]: the text as it is generated,
    /// `reasoning` as a [`Field`](crate::module::StreamEvent::Field) as soon as it is complete (it comes
    /// before the outputs, so before any of them), each output field, then the [`Prediction`]
    /// [`forward`](Self::forward) returns for the same answer, traced the same way.
    ///
    /// ```
    /// use dspy_core::{ChainOfThought, DummyLm, LM};
    /// use dspy_core::module::{ConfigureExt, StreamEvent};
    /// # use dspy_macros::Signature;
    /// /// Answer with a number.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Add { #[input] question: String, #[output] answer: i64 }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(DummyLm::new([serde_json::json!({"reasoning": "2 and 2 make 4.", "answer": 4})]));
    /// let cot = ChainOfThought::<Add>::new().with_lm(lm);
    /// let mut stream = cot.stream(AddInput { question: "2 + 2?".into() });
    /// let mut fields = Vec::new();
    /// while let Some(event) = stream.next().await {
    ///     match event.unwrap() {
    ///         StreamEvent::Field { name, .. } => fields.push(name),
    ///         StreamEvent::Done(prediction) => assert_eq!(prediction.answer, 4),
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(fields, ["reasoning", "answer"]);
    /// # });
    /// ```
    pub fn stream(&self, input: S::Input) -> PredictionStream<'_, WithReasoning<S::Output>> {
        // `reasoning` is the first output of `Reasoned<S>`, so the predictor's own scan reports
        // it first; nothing here needs to know about it.
        self.predict.stream(input)
    }
}

impl<S: Signature> Default for ChainOfThought<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Signature> Clone for ChainOfThought<S> {
    fn clone(&self) -> Self {
        ChainOfThought {
            predict: self.predict.clone(),
        }
    }
}

impl<S: Signature> std::fmt::Debug for ChainOfThought<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainOfThought")
            .field("predict", &self.predict)
            .finish()
    }
}

impl<S: Signature> Module for ChainOfThought<S> {
    type Input = S::Input;
    type Output = WithReasoning<S::Output>;

    async fn call(&self, input: S::Input) -> Result<Self::Output> {
        self.predict.call(input).await
    }
}

/// Its demos are examples with their reasoning.
impl<S: Signature> WrapsPredict for ChainOfThought<S> {
    type Signature = Reasoned<S>;

    fn predict_mut(&mut self) -> &mut Predict<Reasoned<S>> {
        &mut self.predict
    }
}

/// Its one predictor is named `predict`, as in DSPy.
impl<S: Signature> Parameters for ChainOfThought<S> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.predict
            .visit_predictors(&child_name(prefix, "predict"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.predict
            .visit_predictors_mut(&child_name(prefix, "predict"), visit);
    }
}
