//! Evaluation: run a program over a dev set and score it; the metrics to score with.

mod metric;
mod metrics;
mod progress;
mod report;
mod run;
mod semantic;

pub use metric::{Metric, Score};
pub use metrics::{
    exact_match, exact_match_any, f1_score, f1_score_max, normalize_text, passage_contains,
    passages_contain_any,
};
pub use progress::Progress;
pub use report::{EvaluationReport, ExampleResult};
pub use run::Evaluate;
pub use semantic::{
    SemanticF1, SemanticRecallPrecision, SemanticRecallPrecisionInput,
    SemanticRecallPrecisionOutput,
};
