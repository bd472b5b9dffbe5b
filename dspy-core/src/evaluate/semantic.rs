//! An LM-judged metric: semantic F1 from the recall and precision a judge module reports.

use super::{Metric, Score};
use crate::Result;
use crate::module::{ChainOfThought, ConfigureExt, DynPredictor, Module, Parameters, child_name};
use crate::signature::{Signature, SignatureInfo, info_for};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The judge's signature (DSPy's `SemanticRecallPrecision`): how much of the ground truth the
/// response covers (recall), and how much of the response the ground truth supports (precision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticRecallPrecision {
    /// The question both answers address.
    pub question: String,
    /// The reference answer.
    pub ground_truth: String,
    /// The answer being judged.
    pub system_response: String,
    /// Fraction of the ground truth covered by the response.
    pub recall: f64,
    /// Fraction of the response covered by the ground truth.
    pub precision: f64,
}

/// The inputs of [`SemanticRecallPrecision`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SemanticRecallPrecisionInput {
    /// The question both answers address.
    pub question: String,
    /// The reference answer.
    pub ground_truth: String,
    /// The answer being judged.
    pub system_response: String,
}

/// The outputs of [`SemanticRecallPrecision`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SemanticRecallPrecisionOutput {
    /// Fraction of the ground truth covered by the response.
    pub recall: f64,
    /// Fraction of the response covered by the ground truth.
    pub precision: f64,
}

impl Signature for SemanticRecallPrecision {
    type Input = SemanticRecallPrecisionInput;
    type Output = SemanticRecallPrecisionOutput;

    fn info() -> &'static SignatureInfo {
        info_for::<Self>(|| {
            SignatureInfo::new("SemanticRecallPrecision")
                .with_instructions(
                    "Compare a system's response to the ground truth to compute its recall and \
                     precision.\nIf asked to reason, enumerate key ideas in each response, and \
                     whether they are present in the other response.",
                )
                .input::<String>("question", "")
                .input::<String>("ground_truth", "")
                .input::<String>("system_response", "")
                .output::<f64>(
                    "recall",
                    "fraction (out of 1.0) of ground truth covered by the system response",
                )
                .output::<f64>(
                    "precision",
                    "fraction (out of 1.0) of system response covered by the ground truth",
                )
        })
    }

    fn from_parts(input: Self::Input, output: Self::Output) -> Self {
        SemanticRecallPrecision {
            question: input.question,
            ground_truth: input.ground_truth,
            system_response: input.system_response,
            recall: output.recall,
            precision: output.precision,
        }
    }

    fn into_parts(self) -> (Self::Input, Self::Output) {
        (
            SemanticRecallPrecisionInput {
                question: self.question,
                ground_truth: self.ground_truth,
                system_response: self.system_response,
            },
            SemanticRecallPrecisionOutput {
                recall: self.recall,
                precision: self.precision,
            },
        )
    }
}

type Getter<T> = Arc<dyn Fn(&T) -> String + Send + Sync>;

/// Semantic F1, judged by an LM (DSPy's `SemanticF1`): a chain of thought over
/// [`SemanticRecallPrecision`] reports recall and precision of the response against the ground
/// truth, and the score is their F1 (both clamped to `[0, 1]`).
///
/// It works with any program: three functions say where the question, the ground truth and the
/// response are. The judge is a module like any other, so it can be given demos or its own LM.
///
/// ```
/// use dspy_core::{DummyLm, LM};
/// use dspy_core::evaluate::{Metric, SemanticF1};
/// # use dspy_macros::Signature;
/// /// Answer the question in a sentence.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] response: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let judge = LM::new(DummyLm::new([serde_json::json!({
///     "reasoning": "Both name Paris; the response adds the river.", "recall": 1.0, "precision": 0.5
/// })]));
/// let metric = SemanticF1::new(
///     |ex: &QA| ex.question.clone(),
///     |ex: &QA| ex.response.clone(),
///     |out: &QAOutput| out.response.clone(),
/// )
/// .with_lm(judge);
/// let ex = QA { question: "Capital of France?".into(), response: "Paris.".into() };
/// let out = QAOutput { response: "Paris, on the Seine.".into() };
/// let score = metric.score(&ex, &out).await.unwrap();
/// assert!((score.score - 2.0 / 3.0).abs() < 1e-9);
/// # });
/// ```
pub struct SemanticF1<E, O> {
    /// The judge.
    pub judge: ChainOfThought<SemanticRecallPrecision>,
    question: Getter<E>,
    ground_truth: Getter<E>,
    response: Getter<O>,
}

impl<E, O> SemanticF1<E, O> {
    /// A judge that reads the question and ground truth from the example and the response from
    /// the output.
    pub fn new(
        question: impl Fn(&E) -> String + Send + Sync + 'static,
        ground_truth: impl Fn(&E) -> String + Send + Sync + 'static,
        response: impl Fn(&O) -> String + Send + Sync + 'static,
    ) -> Self {
        SemanticF1 {
            judge: ChainOfThought::new(),
            question: Arc::new(question),
            ground_truth: Arc::new(ground_truth),
            response: Arc::new(response),
        }
    }

    /// Judges with `lm` instead of the configured LM.
    #[must_use]
    pub fn with_lm(mut self, lm: crate::lm::LM) -> Self {
        self.judge = self.judge.with_lm(lm);
        self
    }
}

/// F1 of precision and recall, each clamped to `[0, 1]`.
fn f1(precision: f64, recall: f64) -> f64 {
    let (p, r) = (precision.clamp(0.0, 1.0), recall.clamp(0.0, 1.0));
    if p + r == 0.0 || p.is_nan() || r.is_nan() {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

impl<E: Sync, O: Sync> Metric<E, O> for SemanticF1<E, O> {
    async fn score(&self, example: &E, output: &O) -> Result<Score> {
        let input = SemanticRecallPrecisionInput {
            question: (self.question)(example),
            ground_truth: (self.ground_truth)(example),
            system_response: (self.response)(output),
        };
        let judged = self.judge.call(input).await?;
        Ok(Score::new(f1(judged.precision, judged.recall)).with_feedback(judged.reasoning.clone()))
    }
}

impl<E, O> Clone for SemanticF1<E, O> {
    fn clone(&self) -> Self {
        SemanticF1 {
            judge: self.judge.clone(),
            question: self.question.clone(),
            ground_truth: self.ground_truth.clone(),
            response: self.response.clone(),
        }
    }
}

impl<E, O> std::fmt::Debug for SemanticF1<E, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticF1")
            .field("judge", &self.judge)
            .finish_non_exhaustive()
    }
}

/// The judge is named `judge.predict`, so it can be compiled like any program.
impl<E, O> Parameters for SemanticF1<E, O> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.judge
            .visit_predictors(&child_name(prefix, "judge"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.judge
            .visit_predictors_mut(&child_name(prefix, "judge"), visit);
    }
}

#[cfg(test)]
mod tests {
    use super::f1;

    #[test]
    fn f1_clamps_and_handles_zero() {
        assert_eq!(f1(0.0, 0.0), 0.0);
        assert_eq!(f1(1.0, 1.0), 1.0);
        assert_eq!(f1(2.0, -1.0), 0.0);
        assert!((f1(0.5, 1.0) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(f1(f64::NAN, 1.0), 0.0);
    }
}
