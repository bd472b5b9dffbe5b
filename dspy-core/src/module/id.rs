//! [`PredictorId`]: which predictor value made a call.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies one predictor value; traces record it, [`Parameters`](super::Parameters) maps it to a name.
///
/// Every [`Predict`](super::Predict) gets a fresh id when it is created or cloned, so the predictors of a program
/// and of its clone (a teacher and its student) are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PredictorId(u64);

impl PredictorId {
    /// A new id, never handed out before in this process.
    pub fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PredictorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for PredictorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
