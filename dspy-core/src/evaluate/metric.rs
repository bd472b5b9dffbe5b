//! What a metric is: a score for one output against its example, maybe with feedback.

use crate::Result;
use std::future::Future;

/// A metric's verdict on one output: a score (usually in `[0, 1]`) and, optionally, textual
/// feedback that reflective optimizers (GEPA) read.
///
/// Numbers, booleans and `(score, feedback)` pairs all convert into it, so a metric closure
/// may return whichever is natural:
///
/// ```
/// use dspy_core::evaluate::Score;
/// assert_eq!(Score::from(true).score, 1.0);
/// assert_eq!(Score::from(0.25).score, 0.25);
/// let s = Score::from((0.0, "the label was `human`, not `entity`"));
/// assert!(s.feedback.unwrap().contains("human"));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Score {
    /// The score; higher is better.
    pub score: f64,
    /// Why, in words, when the metric says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

impl Score {
    /// A score with no feedback.
    pub fn new(score: f64) -> Self {
        Score {
            score,
            feedback: None,
        }
    }

    /// Adds feedback.
    #[must_use]
    pub fn with_feedback(mut self, feedback: impl Into<String>) -> Self {
        self.feedback = Some(feedback.into());
        self
    }
}

impl From<f64> for Score {
    fn from(score: f64) -> Self {
        Score::new(score)
    }
}

impl From<f32> for Score {
    fn from(score: f32) -> Self {
        Score::new(score as f64)
    }
}

impl From<bool> for Score {
    fn from(pass: bool) -> Self {
        Score::new(if pass { 1.0 } else { 0.0 })
    }
}

impl<S: Into<String>> From<(f64, S)> for Score {
    fn from((score, feedback): (f64, S)) -> Self {
        Score::new(score).with_feedback(feedback)
    }
}

/// Scores a program's output `O` against an example `E`.
///
/// Any `Fn(&E, &O) -> R` where `R` converts into a [`Score`] (`f64`, `bool`, `(f64, String)`)
/// is a metric. A metric that needs an LM (such as [`SemanticF1`](super::SemanticF1))
/// implements the trait itself, asynchronously.
///
/// DSPy's metrics take a third `trace` argument; here traces are in
/// [`Trace`](crate::module::Trace), and a closure of three arguments is rejected by rustc with
/// E0593, "closure is expected to take 2 arguments, but it takes 3 arguments": drop the third.
///
/// ```
/// use dspy_core::evaluate::Metric;
/// struct Row { label: String }
/// let metric = |ex: &Row, out: &String| ex.label == *out;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let score = metric.score(&Row { label: "human".into() }, &"human".to_string()).await.unwrap();
/// assert_eq!(score.score, 1.0);
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a metric for examples `{E}` and outputs `{O}`",
    label = "not a metric",
    note = "a metric is a closure of two arguments, `|example: &{E}, output: &{O}| ...` returning \
            f64, bool or Score (DSPy's third `trace` argument has no counterpart: traces are in \
            dspy::module::Trace), or a type implementing `Metric`"
)]
pub trait Metric<E, O>: Send + Sync {
    /// Scores `output` for `example`. An error counts as a failed example.
    fn score(&self, example: &E, output: &O) -> impl Future<Output = Result<Score>> + Send;
}

impl<E, O, F, R> Metric<E, O> for F
where
    F: Fn(&E, &O) -> R + Send + Sync,
    R: Into<Score>,
    E: Sync,
    O: Sync,
{
    fn score(&self, example: &E, output: &O) -> impl Future<Output = Result<Score>> + Send {
        std::future::ready(Ok(self(example, output).into()))
    }
}
