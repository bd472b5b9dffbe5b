//! The prompt and task models: running a call under one, and naming both for a checkpoint key.

use super::SearchOptions;
use dspy_core::{LM, with_lm};
use serde_json::Value;
use std::future::Future;

/// Runs `future` with `lm` as the configured LM, or as it is when there is none.
pub(crate) async fn scoped<F: Future>(lm: Option<&LM>, future: F) -> F::Output {
    match lm {
        Some(lm) => with_lm(lm.clone(), future).await,
        None => future.await,
    }
}

/// The models a compile runs on, for its checkpoint key: a checkpoint made with other models
/// belongs to another compile.
pub(crate) fn models_key(options: &SearchOptions) -> Value {
    let configured = dspy_core::lm::current_lm();
    let name = |lm: Option<&LM>| {
        lm.or(configured.as_ref())
            .map(|lm| lm.model().to_string())
            .unwrap_or_default()
    };
    serde_json::json!({
        "prompt_model": name(options.prompt_model.as_ref()),
        "task_model": name(options.task_model.as_ref()),
    })
}
