//! What the optimizers share: examples as JSON demos, which predictor a demo fits, labeled-demo
//! sampling, demos from traces, and how a failed run is classified.

use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::evaluate::{Metric, Score};
use dspy_core::module::Trace;
use dspy_core::{DynPredictor, Error, LmErrorKind, Parameters, Result};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;

/// An example as one JSON object of fields: the form demos take.
pub(crate) fn example_fields<E: Serialize>(example: &E) -> Result<FieldValues> {
    match serde_json::to_value(example)? {
        Value::Object(fields) => Ok(fields),
        other => Err(Error::config(format!(
            "a training example must serialize to a JSON object of fields to become a demo, got {other}; \
             derive Serialize on a struct whose fields are named like the signature's"
        ))),
    }
}

/// Every example as JSON.
pub(crate) fn all_fields<E: Serialize>(examples: &[E]) -> Result<Vec<FieldValues>> {
    examples.iter().map(example_fields).collect()
}

/// Whether `demo` fits `predictor`'s signature (every field it needs is there, of its type).
pub(crate) fn fits(predictor: &dyn DynPredictor, demo: &FieldValues) -> bool {
    predictor
        .check_demos_json(std::slice::from_ref(demo))
        .is_ok()
}

/// How labeled demos are drawn from a pool of examples.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sampling {
    /// Draw at random (else take them in order).
    pub random: bool,
    /// Balance the draw over the values of this field.
    pub per_class: Option<String>,
}

impl Sampling {
    /// Up to `k` of `pool` (indices into `examples`).
    ///
    /// Without a class field: a random draw (or the first `k`). With one: the pool is grouped
    /// by the field's value (groups in sorted order), each group shuffled (or kept in order),
    /// then the groups are dealt out in turn, so any prefix of the result is balanced.
    pub(crate) fn pick(
        &self,
        pool: &[usize],
        examples: &[FieldValues],
        k: usize,
        rng: &mut Rng,
    ) -> Vec<usize> {
        let Some(field) = &self.per_class else {
            if !self.random {
                return pool.iter().copied().take(k).collect();
            }
            return rng
                .sample_indices(pool.len(), k)
                .into_iter()
                .map(|i| pool[i])
                .collect();
        };
        let mut classes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in pool {
            classes
                .entry(class_of(&examples[i], field))
                .or_default()
                .push(i);
        }
        let mut groups: Vec<Vec<usize>> = classes.into_values().collect();
        if self.random {
            for group in &mut groups {
                rng.shuffle(group);
            }
        }
        let rounds = groups.iter().map(Vec::len).max().unwrap_or(0);
        (0..rounds)
            .flat_map(|round| groups.iter().filter_map(move |g| g.get(round).copied()))
            .take(k)
            .collect()
    }
}

/// The class of an example: its field's value (strings as they are, others as JSON).
fn class_of(example: &FieldValues, field: &str) -> String {
    match example.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Gives every predictor of `program` up to `k` labeled demos drawn from the examples that fit
/// it (see [`fits`]); a predictor that no example fits is left with none. Predictors draw in
/// order from one generator, so each gets its own sample.
pub(crate) fn assign_labeled<P: Parameters>(
    program: &mut P,
    examples: &[FieldValues],
    k: usize,
    sampling: &Sampling,
    rng: &mut Rng,
) -> Result<()> {
    for (_, predictor) in program.predictors_mut() {
        let pool: Vec<usize> = (0..examples.len())
            .filter(|&i| fits(&*predictor, &examples[i]))
            .collect();
        let picked = sampling.pick(&pool, examples, k, rng);
        predictor.set_demos_json(picked.into_iter().map(|i| examples[i].clone()).collect())?;
    }
    Ok(())
}

/// Removes every demo from every predictor (DSPy's `reset_copy`), keeping instructions.
pub(crate) fn clear_demos<P: Parameters>(program: &mut P) -> Result<()> {
    for (_, predictor) in program.predictors_mut() {
        predictor.set_demos_json(Vec::new())?;
    }
    Ok(())
}

/// Whether `demo` is `example`: every field of the demo has the example's value.
pub(crate) fn is_example(demo: &FieldValues, example: &FieldValues) -> bool {
    demo.iter().all(|(k, v)| example.get(k) == Some(v))
}

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

/// Whether a score counts as a success: at least `threshold` when one is set, else above zero
/// (DSPy's truthiness: `true`, a pass, any positive score).
pub(crate) fn passes(score: f64, threshold: Option<f64>) -> bool {
    match threshold {
        Some(threshold) => score >= threshold,
        None => score > 0.0,
    }
}

/// A metric used by reference, so one metric serves many evaluations.
pub(crate) struct ByRef<'a, M>(pub &'a M);

impl<E, O, M: Metric<E, O>> Metric<E, O> for ByRef<'_, M> {
    fn score(&self, example: &E, output: &O) -> impl Future<Output = Result<Score>> + Send {
        self.0.score(example, output)
    }
}

/// A seed derived from `seed` for candidate `index`, independent of the order candidates run in.
pub(crate) fn derive_seed(seed: u64, index: u64) -> u64 {
    Rng::new(seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ex(q: &str, label: &str) -> FieldValues {
        json!({"question": q, "label": label})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn per_class_picks_are_balanced_and_seeded() {
        let examples: Vec<FieldValues> = (0..30)
            .map(|i| ex(&format!("q{i}"), ["a", "b", "c"][i % 3]))
            .collect();
        let pool: Vec<usize> = (0..30).collect();
        let sampling = Sampling {
            random: true,
            per_class: Some("label".into()),
        };
        let picked = sampling.pick(&pool, &examples, 6, &mut Rng::new(1));
        let labels: Vec<String> = picked
            .iter()
            .map(|&i| class_of(&examples[i], "label"))
            .collect();
        assert_eq!(labels, ["a", "b", "c", "a", "b", "c"]);
        assert_eq!(picked, sampling.pick(&pool, &examples, 6, &mut Rng::new(1)));
        assert_ne!(picked, sampling.pick(&pool, &examples, 6, &mut Rng::new(2)));
    }

    #[test]
    fn unsampled_takes_the_first() {
        let examples: Vec<FieldValues> = (0..5).map(|i| ex(&format!("q{i}"), "a")).collect();
        let picked = Sampling::default().pick(&[4, 2, 0], &examples, 2, &mut Rng::new(0));
        assert_eq!(picked, [4, 2]);
    }

    #[test]
    fn a_demo_is_the_example_when_its_fields_agree() {
        let mut full = ex("q", "a");
        full.insert("fine_label".into(), json!("ind"));
        assert!(is_example(&ex("q", "a"), &full));
        assert!(!is_example(&ex("q", "b"), &full));
    }

    #[test]
    fn thresholds() {
        assert!(passes(1.0, None));
        assert!(!passes(0.0, None));
        assert!(passes(0.5, Some(0.5)));
        assert!(!passes(0.4, Some(0.5)));
    }
}
