use super::overrides::{CallOverrides, with_overrides};
use super::{
    ChainOfThought, DynPredictor, Module, Parameters, Predict, WithReasoning, WrapsPredict,
    child_name,
};
use crate::adapter::display_value;
use crate::signature::{FieldSpec, Signature, SignatureInfo, info_for};
use crate::{Error, Result};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

/// An output with the rationale that compared the attempts; derefs to the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WithRationale<O> {
    /// The corrected reasoning, written after reading every attempt.
    pub rationale: String,
    /// The signature's outputs.
    #[serde(flatten)]
    pub output: O,
}

impl<O> Deref for WithRationale<O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.output
    }
}

impl<O> DerefMut for WithRationale<O> {
    fn deref_mut(&mut self) -> &mut O {
        &mut self.output
    }
}

/// The name of attempt `k` (from 1) as an input field.
fn attempt_field(k: usize) -> String {
    format!("reasoning_attempt_{k}")
}

/// The inputs of `S` plus `M` reasoning attempts: what the comparison is asked.
///
/// It serializes as one flat object, the attempts as `reasoning_attempt_1` to `_M`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareInput<I, const M: usize> {
    /// The signature's inputs.
    pub input: I,
    /// The attempts, each one line: `«I'm trying to … I'm not sure but my prediction is …»`.
    pub attempts: Vec<String>,
}

impl<I: Serialize, const M: usize> Serialize for CompareInput<I, M> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> std::result::Result<Z::Ok, Z::Error> {
        let mut map = object_of(&self.input).map_err(serde::ser::Error::custom)?;
        for (i, attempt) in self.attempts.iter().enumerate() {
            map.insert(attempt_field(i + 1), Value::String(attempt.clone()));
        }
        map.serialize(serializer)
    }
}

impl<'de, I: DeserializeOwned, const M: usize> Deserialize<'de> for CompareInput<I, M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let mut map = Map::deserialize(deserializer)?;
        let attempts = (1..=M)
            .map(|k| match map.remove(&attempt_field(k)) {
                Some(Value::String(s)) => Ok(s),
                Some(other) => Err(D::Error::custom(format!(
                    "`{}` must be text, got {other}",
                    attempt_field(k)
                ))),
                None => Err(D::Error::missing_field("reasoning_attempt_k")),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let input = serde_json::from_value(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(CompareInput { input, attempts })
    }
}

impl<I: JsonSchema, const M: usize> JsonSchema for CompareInput<I, M> {
    fn schema_name() -> Cow<'static, str> {
        format!("CompareInput{M}_{}", I::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = I::json_schema(generator);
        let object = schema.ensure_object();
        let properties = object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(properties) = properties {
            for k in 1..=M {
                properties.insert(attempt_field(k), serde_json::json!({"type": "string"}));
            }
        }
        let required = object
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(required) = required {
            required.extend((1..=M).map(|k| Value::String(attempt_field(k))));
        }
        schema
    }
}

/// Signature `S` as a comparison of `M` reasoning attempts (the signature of
/// [`MultiChainComparison`]'s `predict`): `S`'s inputs then `reasoning_attempt_1..M`; a
/// `rationale` output then `S`'s outputs. A value is one demo: an example, the attempts shown and
/// the rationale.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare<S, const M: usize> {
    /// The example.
    pub example: S,
    /// The attempts shown.
    pub attempts: Vec<String>,
    /// The rationale that compared them.
    pub rationale: String,
}

impl<S: Signature, const M: usize> Signature for Compare<S, M> {
    type Input = CompareInput<S::Input, M>;
    type Output = WithRationale<S::Output>;

    fn info() -> &'static SignatureInfo {
        info_for::<Self>(|| {
            let base = S::info();
            let mut info = base.clone();
            for k in 1..=M {
                info = info.with_input(
                    FieldSpec::of::<String>(&attempt_field(k), "${reasoning attempt}")
                        .with_prefix(format!("Student Attempt #{k}:")),
                );
            }
            let info = info.with_output_first(
                FieldSpec::of::<String>("rationale", "${corrected reasoning}")
                    .with_prefix("Accurate Reasoning: Thank you everyone. Let's now holistically"),
            );
            // DSPy keeps the signature's instructions, default ones included, unchanged.
            SignatureInfo {
                instructions: base.instructions.clone(),
                ..info
            }
        })
    }

    fn from_parts(input: Self::Input, output: Self::Output) -> Self {
        Compare {
            example: S::from_parts(input.input, output.output),
            attempts: input.attempts,
            rationale: output.rationale,
        }
    }

    fn into_parts(self) -> (Self::Input, Self::Output) {
        let (input, output) = self.example.into_parts();
        (
            CompareInput {
                input,
                attempts: self.attempts,
            },
            WithRationale {
                rationale: self.rationale,
                output,
            },
        )
    }
}

impl<S: Serialize, const M: usize> Serialize for Compare<S, M> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> std::result::Result<Z::Ok, Z::Error> {
        let mut map = object_of(&self.example).map_err(serde::ser::Error::custom)?;
        for (i, attempt) in self.attempts.iter().enumerate() {
            map.insert(attempt_field(i + 1), Value::String(attempt.clone()));
        }
        map.insert("rationale".into(), Value::String(self.rationale.clone()));
        map.serialize(serializer)
    }
}

impl<'de, S: DeserializeOwned, const M: usize> Deserialize<'de> for Compare<S, M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let mut map = Map::deserialize(deserializer)?;
        let rationale = match map.remove("rationale") {
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`rationale` must be text, got {other}"
                )));
            }
            None => String::new(),
        };
        let attempts = (1..=M)
            .map_while(|k| match map.remove(&attempt_field(k)) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            })
            .collect();
        let example = serde_json::from_value(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(Compare {
            example,
            attempts,
            rationale,
        })
    }
}

fn object_of<T: Serialize>(value: &T) -> std::result::Result<Map<String, Value>, String> {
    match serde_json::to_value(value).map_err(|e| e.to_string())? {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a JSON object of fields, got {other}")),
    }
}

/// Makes `M` reasoning attempts with a chain of thought, then asks the LM to compare them and
/// give one final answer with a corrected `rationale` (DSPy's `MultiChainComparison`).
///
/// The attempts run concurrently, each with its own rollout id (consecutive from an enclosing
/// scope's, else from 0) and the comparison's temperature for predictors that set none, so they
/// are distinct samples. Each is shown to the comparison as one line:
/// `«I'm trying to {first line of reasoning} I'm not sure but my prediction is {last output}»`.
/// To compare attempts made elsewhere, call [`compare`](Self::compare).
///
/// Its predictors are `attempts.predict` (the chain of thought) and `predict` (the comparison,
/// named as in DSPy).
///
/// It takes `Predict`'s builders: [`ConfigureExt`](super::ConfigureExt)'s set both predictors
/// (the attempts take the comparison's temperature anyway), and [`WrapsPredict`]'s the
/// comparison's instructions and demos.
///
/// ```
/// use dspy_core::module::ConfigureExt;
/// use dspy_core::{DummyLm, LM, Module, MultiChainComparison};
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with a number.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Add { #[input] question: String, #[output] answer: i64 }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([
///     json!({"reasoning": "2 and 2 make 4.", "answer": 4}),
///     json!({"reasoning": "Two twos are 5.", "answer": 5}),
///     json!({"reasoning": "Adding gives 4.", "answer": 4}),
///     json!({"rationale": "Two attempts agree on 4, and 2 + 2 is 4.", "answer": 4}),
/// ]));
/// let mcc = MultiChainComparison::<Add>::new().with_lm(lm);
/// let out = mcc.call(AddInput { question: "2 + 2?".into() }).await.unwrap();
/// assert_eq!(out.answer, 4);
/// assert!(out.rationale.starts_with("Two attempts agree"));
/// # });
/// ```
pub struct MultiChainComparison<S: Signature, const M: usize = 3> {
    /// Makes the attempts.
    pub attempts: ChainOfThought<S>,
    /// Compares them and answers.
    pub predict: Predict<Compare<S, M>>,
}

impl<S: Signature, const M: usize> MultiChainComparison<S, M> {
    /// `M` attempts, compared at temperature 0.7 (DSPy's default).
    pub fn new() -> Self {
        const {
            assert!(
                M >= 1,
                "MultiChainComparison needs at least one attempt (M >= 1)"
            )
        };
        MultiChainComparison {
            attempts: ChainOfThought::new(),
            predict: Predict::new().temperature(0.7),
        }
    }

    /// Compares `completions` (exactly `M`, each with its reasoning) made for `input` and
    /// returns the final answer, as DSPy's `forward(completions, **inputs)` does.
    pub async fn compare(
        &self,
        input: S::Input,
        completions: &[WithReasoning<S::Output>],
    ) -> Result<WithRationale<S::Output>> {
        if completions.len() != M {
            return Err(Error::config(format!(
                "MultiChainComparison::<_, {M}> compares exactly {M} attempts but got {}; pass {M} \
                 completions or set M to their number",
                completions.len()
            )));
        }
        let attempts = completions
            .iter()
            .map(describe_attempt::<S>)
            .collect::<Result<Vec<_>>>()?;
        self.predict.call(CompareInput { input, attempts }).await
    }
}

/// One attempt as the comparison sees it: the first line of its reasoning and of its last output.
fn describe_attempt<S: Signature>(completion: &WithReasoning<S::Output>) -> Result<String> {
    let first_line = |text: &str| {
        text.trim()
            .split('\n')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let outputs = object_of(&completion.output).map_err(Error::config)?;
    let last = S::info()
        .outputs
        .last()
        .and_then(|f| outputs.get(&f.name))
        .map(display_value)
        .unwrap_or_default();
    Ok(format!(
        "«I'm trying to {} I'm not sure but my prediction is {}»",
        first_line(&completion.reasoning),
        first_line(&last)
    ))
}

impl<S: Signature, const M: usize> Module for MultiChainComparison<S, M> {
    type Input = S::Input;
    type Output = WithRationale<S::Output>;

    async fn call(&self, input: S::Input) -> Result<Self::Output> {
        let start = CallOverrides::current().rollout_id.unwrap_or(0);
        let mut overrides = CallOverrides::new();
        if let Some(t) = self.predict.config.temperature {
            overrides = overrides.temperature(t);
        }
        let attempts = (0..M).map(|i| {
            with_overrides(
                overrides.clone().rollout_id(start + i as u64),
                self.attempts.call(input.clone()),
            )
        });
        let completions = futures_util::future::try_join_all(attempts).await?;
        self.compare(input, &completions).await
    }
}

/// The comparison is the predictor it is built around.
impl<S: Signature, const M: usize> WrapsPredict for MultiChainComparison<S, M> {
    type Signature = Compare<S, M>;

    fn predict_mut(&mut self) -> &mut Predict<Compare<S, M>> {
        &mut self.predict
    }
}

impl<S: Signature, const M: usize> Default for MultiChainComparison<S, M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Signature, const M: usize> Clone for MultiChainComparison<S, M> {
    fn clone(&self) -> Self {
        MultiChainComparison {
            attempts: self.attempts.clone(),
            predict: self.predict.clone(),
        }
    }
}

impl<S: Signature, const M: usize> std::fmt::Debug for MultiChainComparison<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiChainComparison")
            .field("m", &M)
            .field("attempts", &self.attempts)
            .field("predict", &self.predict)
            .finish()
    }
}

/// `attempts.predict`, then `predict` (the comparison, named as in DSPy).
impl<S: Signature, const M: usize> Parameters for MultiChainComparison<S, M> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.attempts
            .visit_predictors(&child_name(prefix, "attempts"), visit);
        self.predict
            .visit_predictors(&child_name(prefix, "predict"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.attempts
            .visit_predictors_mut(&child_name(prefix, "attempts"), visit);
        self.predict
            .visit_predictors_mut(&child_name(prefix, "predict"), visit);
    }
}
