//! Labeled demos drawn from a pool of examples: at random or in order, balanced over a class
//! field when asked.

use super::fields::fits;
use super::provenance::Examples;
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::{Parameters, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// How labeled demos are drawn from a pool of examples.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sampling {
    /// Draw at random (else take them in order).
    pub random: bool,
    /// Balance the draw over the values of this field.
    pub per_class: Option<String>,
}

impl Sampling {
    /// A random draw, unbalanced: what the optimizers start with.
    pub(crate) fn random() -> Self {
        Sampling {
            random: true,
            per_class: None,
        }
    }

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
/// it (see [`fits`]), each recorded as labeled from its example; a predictor that no example
/// fits is left with none. Predictors draw in order from one generator, so each gets its own
/// sample.
pub(crate) fn assign_labeled<P: Parameters>(
    program: &mut P,
    examples: &Examples,
    k: usize,
    sampling: &Sampling,
    rng: &mut Rng,
) -> Result<()> {
    let fields = &examples.fields;
    for (_, predictor) in program.predictors_mut() {
        let pool: Vec<usize> = (0..fields.len())
            .filter(|&i| fits(&*predictor, &fields[i]))
            .collect();
        let picked = sampling.pick(&pool, fields, k, rng);
        predictor.set_demo_states(picked.into_iter().map(|i| examples.labeled(i)).collect())?;
    }
    Ok(())
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
}
