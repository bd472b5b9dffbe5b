//! How a failed run is classified: a budget that ran out ends a search with what it found, an
//! error no call can fix ends it with the error, anything else is one failed example.

use dspy_core::{Error, LmErrorKind};

/// Whether a run stopped because an LM budget ran out.
pub(crate) fn is_budget(error: &Error) -> bool {
    match error {
        Error::Budget(_) => true,
        Error::TooManyErrors { last, .. } => is_budget(last),
        _ => false,
    }
}

/// Whether an error says the setup is wrong (no LM, a bad key), so every further call would
/// fail the same way: a compile stops on it instead of scoring every example 0.
pub(crate) fn is_fatal(error: &Error) -> bool {
    matches!(
        error,
        Error::Config(_)
            | Error::Lm {
                kind: LmErrorKind::Auth,
                ..
            }
    )
}

/// Whether an error must end the compile (a budget ran out, or no call can succeed) rather
/// than being recorded as one failed step.
pub(crate) fn stops(error: &Error) -> bool {
    is_budget(error) || is_fatal(error)
}
