//! DSPy's `auto` presets, shared by the optimizers that size themselves from one.

use serde::Serialize;

/// How big a search to run, DSPy's `auto="light" | "medium" | "heavy"`: about 6, 12 or 18
/// candidates. Each optimizer sizes the rest from it: [`MIPROv2::auto`](crate::MIPROv2::auto)
/// its demo sets, instructions, trials and validation sample;
/// [`GEPA::auto`](crate::GEPA::auto) its budget of metric calls.
///
/// ```
/// use dspy_optimize::{Auto, GEPA, MIPROv2};
/// # #[derive(dspy_macros::Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// # struct QA { #[input] question: String, #[output] answer: String }
/// let metric = |ex: &QA, out: &QAOutput| ex.answer == out.answer;
/// let mipro = MIPROv2::new(metric).auto(Auto::Light);
/// let gepa = GEPA::new(metric).auto(Auto::Medium);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Auto {
    /// About 6 candidates (MIPROv2: at most 100 validation examples).
    Light,
    /// About 12 candidates (MIPROv2: at most 300 validation examples).
    Medium,
    /// About 18 candidates (MIPROv2: at most 1000 validation examples).
    Heavy,
}

impl Auto {
    /// The preset's number of candidates, `n`.
    pub(crate) fn candidates(self) -> usize {
        match self {
            Auto::Light => 6,
            Auto::Medium => 12,
            Auto::Heavy => 18,
        }
    }

    /// MIPROv2's candidates and largest validation sample for the preset.
    pub(crate) fn sizes(self) -> (usize, usize) {
        let valset = match self {
            Auto::Light => 100,
            Auto::Medium => 300,
            Auto::Heavy => 1000,
        };
        (self.candidates(), valset)
    }
}
