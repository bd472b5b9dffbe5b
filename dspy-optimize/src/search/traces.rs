//! Demos from the trace of a successful run: one per predictor of the program.

use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::module::Trace;
use std::collections::BTreeMap;

/// One demo per predictor name from a successful run's trace (names resolved). A predictor
/// called several times in the run gives one of its calls: as DSPy does, the last call half
/// the time, else one of the earlier ones, drawn with `rng`.
pub(crate) fn trace_demos(trace: &Trace, rng: &mut Rng) -> BTreeMap<String, FieldValues> {
    let mut by_name: BTreeMap<String, Vec<FieldValues>> = BTreeMap::new();
    for entry in &trace.entries {
        // Calls by predictors outside the program (an LM judge in the metric) are not demos.
        if let Some(name) = &entry.name {
            by_name.entry(name.clone()).or_default().push(entry.demo());
        }
    }
    by_name
        .into_iter()
        .map(|(name, mut calls)| {
            // `calls` is never empty: a name is only entered with a call.
            let pick = if calls.len() > 1 && rng.next_f64() < 0.5 {
                rng.below(calls.len() - 1)
            } else {
                calls.len() - 1
            };
            (name, calls.swap_remove(pick))
        })
        .collect()
}
