//! Evaluation: run a program over a dev set and score it; the metrics to score with; compare
//! two evaluations example by example.

mod classes;
mod compare;
mod comparison;
mod comparison_export;
mod files;
pub mod html;
mod metric;
mod progress;
mod progress_lines;
mod report;
mod rows;
mod run;
mod semantic;
mod stats;
mod text_metrics;

pub use classes::ConfusionMatrix;
pub use compare::{Comparer, compare};
pub use comparison::{Change, ClassDelta, Comparison, Outcome, PairedExample, ReportSummary};
pub use metric::{Metric, Score};
pub use progress::Progress;
pub use report::{EvaluationReport, ExampleResult, Stopped};
pub use run::{DEFAULT_MAX_LM_ERRORS, Evaluate};
pub use semantic::{
    SemanticF1, SemanticRecallPrecision, SemanticRecallPrecisionInput,
    SemanticRecallPrecisionOutput,
};
pub use stats::{Interval, MCNEMAR_EXACT_BELOW, McNemar, McNemarMethod};
pub use text_metrics::{
    exact_match, exact_match_any, f1_score, f1_score_max, normalize_text, passage_contains,
    passages_contain_any,
};
