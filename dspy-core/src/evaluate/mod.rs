//! Evaluation: run a program over a dev set and score it; the metrics to score with.

mod metric;
mod progress;
mod report;
mod run;
mod semantic;
mod text_metrics;

pub use metric::{Metric, Score};
pub use progress::Progress;
pub use report::{EvaluationReport, ExampleResult};
pub use run::Evaluate;
pub use semantic::{
    SemanticF1, SemanticRecallPrecision, SemanticRecallPrecisionInput,
    SemanticRecallPrecisionOutput,
};
pub use text_metrics::{
    exact_match, exact_match_any, f1_score, f1_score_max, normalize_text, passage_contains,
    passages_contain_any,
};
