//! How many CPU threads llama.cpp runs on: [`LocalLmBuilder::threads`](super::LocalLmBuilder::threads),
//! else [`THREADS_VAR`], else one core fewer than the machine has.
//!
//! llama.cpp's threads spin while they wait for each other, so one that shares its core with
//! another busy process holds all of them up. On a 2-core machine with other work running, 2
//! threads generated 3.2 tokens/s against 31.9 with 1; with the machine idle, 2 threads were
//! only 1.1× faster at generating (42.6 against 37.6 tokens/s) and 1.7× at reading prompts.
//! Leaving a core free costs a little on an idle machine and keeps a busy one from collapsing.

use crate::{Error, Result};

/// The environment variable that sets the local model's CPU threads (`DSPY_LOCAL_THREADS=2`) for
/// every [`LocalLm`](super::LocalLm) built without [`LocalLmBuilder::threads`](super::LocalLmBuilder::threads).
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub const THREADS_VAR: &str = "DSPY_LOCAL_THREADS";

/// The most threads chosen by default: generation of a small model is bound by memory, not by
/// cores.
const MAX_DEFAULT: usize = 8;

/// The default for a machine with `available` cores: one fewer (at least 1), at most 8.
pub(super) fn default_threads(available: usize) -> usize {
    available.saturating_sub(1).clamp(1, MAX_DEFAULT)
}

/// The threads [`THREADS_VAR`] asks for (its value given), or the default for `available`
/// cores when it is unset or blank.
pub(super) fn threads_from(value: Option<&str>, available: usize) -> Result<usize> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(default_threads(available));
    };
    match value.parse::<usize>() {
        Ok(threads) if threads > 0 => Ok(threads),
        _ => Err(Error::config(format!(
            "{THREADS_VAR}=`{value}` is not a thread count: give a whole number of at least 1, \
             e.g. {THREADS_VAR}=2 (unset, the local model runs on {} of the {available} cores)",
            default_threads(available)
        ))),
    }
}

/// The threads a builder runs with: `chosen` when set, else what the environment says.
pub(super) fn threads(chosen: Option<usize>) -> Result<usize> {
    if let Some(threads) = chosen {
        return Ok(threads);
    }
    let available = std::thread::available_parallelism().map_or(2, |n| n.get());
    threads_from(std::env::var(THREADS_VAR).ok().as_deref(), available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_a_core_free_and_stops_at_eight() {
        let chosen: Vec<usize> = [1, 2, 3, 4, 8, 9, 64]
            .into_iter()
            .map(default_threads)
            .collect();
        assert_eq!(chosen, [1, 1, 2, 3, 7, 8, 8]);
        assert_eq!(threads_from(None, 2).unwrap(), 1);
        assert_eq!(threads_from(Some("  "), 4).unwrap(), 3);
    }

    #[test]
    fn the_variable_sets_any_count_of_at_least_one() {
        assert_eq!(threads_from(Some("2"), 2).unwrap(), 2);
        assert_eq!(threads_from(Some(" 16 "), 2).unwrap(), 16);
        for bad in ["0", "-1", "two", "1.5", "all"] {
            let error = threads_from(Some(bad), 4).unwrap_err().to_string();
            assert!(
                error.contains(&format!("DSPY_LOCAL_THREADS=`{bad}` is not a thread count"))
                    && error.contains("e.g. DSPY_LOCAL_THREADS=2")
                    && error.contains("3 of the 4 cores"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_count_given_to_the_builder_wins() {
        assert_eq!(threads(Some(5)).unwrap(), 5);
    }
}
