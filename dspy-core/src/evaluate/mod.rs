//! Evaluation: metrics that score a program's outputs against gold examples.

mod metrics;

pub use metrics::{
    exact_match, exact_match_any, f1_score, f1_score_max, normalize_text, passage_contains,
    passages_contain_any,
};
