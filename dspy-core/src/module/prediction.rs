//! [`Prediction`]: the full result of one predictor call.

use crate::adapter::Fix;
use crate::lm::Usage;
use std::ops::Deref;

/// The full result of a call: the output, every completion when `n > 1`, and what it cost.
///
/// It derefs to the output, so `prediction.answer` reads a field directly.
#[derive(Debug, Clone)]
pub struct Prediction<O> {
    /// The first completion that parsed.
    pub output: O,
    /// Every completion that parsed, in order (the first is `output`).
    pub completions: Vec<O>,
    /// Repairs lenient parsing made to `output`.
    pub fixes: Vec<Fix>,
    /// Tokens used, over every LM call this prediction made (answers from the cache cost none).
    pub usage: Usage,
    /// LM calls made (more than one after a fallback or re-ask).
    pub lm_calls: u32,
    /// The raw text of the first completion of the last call.
    pub raw: String,
}

impl<O> Deref for Prediction<O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.output
    }
}
