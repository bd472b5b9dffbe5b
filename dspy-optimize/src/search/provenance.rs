//! Where the demos optimizers set come from: the training examples with their ids, demos made
//! from them (labeled, bootstrapped), and the trial that chose a program's demos.

use super::SearchOptions;
use super::fields::all_fields;
use crate::CompileReport;
use dspy_core::adapter::FieldValues;
use dspy_core::module::{DemoState, Provenance, example_id, number_repeats};
use dspy_core::{Error, Parameters, Result};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// The training examples as demos are made from them: each one's fields and its id.
#[derive(Debug, Clone)]
pub(crate) struct Examples {
    /// Each example as one JSON object of fields.
    pub fields: Vec<FieldValues>,
    /// Each example's id: its content hash (repeats numbered), or its `id_field`.
    pub ids: Vec<String>,
}

impl Examples {
    /// `trainset` as fields, with ids as `options` say.
    pub(crate) fn of<E: Serialize>(trainset: &[E], options: &SearchOptions) -> Result<Self> {
        let fields = all_fields(trainset)?;
        let ids = ids_of(&fields, options.id_field.as_deref())?;
        Ok(Examples { fields, ids })
    }

    /// Example `i` as a labeled demo.
    pub(crate) fn labeled(&self, i: usize) -> DemoState {
        DemoState::new(self.fields[i].clone()).with_provenance(Provenance::labeled(&self.ids[i]))
    }

    /// `demo`, bootstrapped from example `i` in `round`.
    pub(crate) fn bootstrapped(&self, i: usize, demo: FieldValues, round: usize) -> DemoState {
        let round = u32::try_from(round).unwrap_or(u32::MAX);
        DemoState::new(demo).with_provenance(Provenance::bootstrapped(&self.ids[i], round))
    }
}

/// The id of every example: the value of `field` when given (each example must have one, and
/// no two the same), else the content hash, repeats numbered as evaluation reports number them.
fn ids_of(examples: &[FieldValues], field: Option<&str>) -> Result<Vec<String>> {
    let Some(field) = field else {
        let hashes = examples
            .iter()
            .map(|e| example_id(&Value::Object(e.clone())));
        return Ok(number_repeats(hashes));
    };
    let mut seen = HashSet::new();
    examples
        .iter()
        .enumerate()
        .map(|(i, example)| {
            let id = match example.get(field) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => {
                    return Err(Error::config(format!(
                        "training example {i} has no field `{field}` to name it by (the \
                         optimizer's `id_field`): give every example one, or leave `id_field` \
                         out to name examples by their content hash"
                    )));
                }
                Some(other) => other.to_string(),
            };
            if !seen.insert(id.clone()) {
                return Err(Error::config(format!(
                    "two training examples have `{field}` = `{id}` (the second is example \
                     {i}); ids must be unique to say which example a demo came from"
                )));
            }
            Ok(id)
        })
        .collect()
}

/// Records that the report's chosen trial chose `program`'s demos: every demo `given` did not
/// have (by predictor) gets that trial as its `chosen_by` (none when no trial was chosen, so a
/// nested compile's trial is not left behind), and the trial lists the program's demos.
pub(crate) fn mark_chosen<P: Parameters>(
    report: &mut CompileReport,
    program: &mut P,
    given: &P,
) -> Result<()> {
    let chosen = report
        .best
        .filter(|&i| i < report.trials.len())
        .map(|i| (i, report.trials[i].score));
    for (name, predictor) in program.predictors_mut() {
        let before = match given.predictor(&name) {
            Some(p) => p.demo_states()?,
            None => Vec::new(),
        };
        let mut demos = predictor.demo_states()?;
        let mut changed = false;
        for demo in demos.iter_mut().filter(|d| !before.contains(d)) {
            if let Some(mut provenance) = demo.provenance.take() {
                provenance.chosen_by = None;
                if let Some((trial, score)) = chosen {
                    provenance = provenance.chosen_by(&report.optimizer, trial, score);
                }
                demo.provenance = Some(provenance);
                changed = true;
            }
        }
        if changed {
            predictor.set_demo_states(demos)?;
        }
    }
    if let Some((trial, _)) = chosen {
        report.trials[trial].demos = demo_ids(program)?;
    }
    Ok(())
}

/// Per predictor, the ids of the training examples of its demos, in prompt order (demos
/// without provenance left out, predictors without any too).
pub(crate) fn demo_ids<P: Parameters + ?Sized>(
    program: &P,
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut all = BTreeMap::new();
    for (name, predictor) in program.predictors() {
        let ids: Vec<String> = predictor
            .demo_states()?
            .into_iter()
            .filter_map(|d| d.provenance.map(|p| p.example))
            .collect();
        if !ids.is_empty() {
            all.insert(name, ids);
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ex(value: Value) -> FieldValues {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn ids_are_content_hashes_or_the_field_given() {
        let examples = [
            ex(json!({"id": "q1", "question": "a"})),
            ex(json!({"id": 7, "question": "b"})),
            ex(json!({"id": "q3", "question": "a"})),
        ];
        let hashes = ids_of(&examples, None).unwrap();
        assert_eq!(hashes[0], example_id(&json!({"id": "q1", "question": "a"})));
        assert_ne!(hashes[0], hashes[2]);
        assert_eq!(ids_of(&examples, Some("id")).unwrap(), ["q1", "7", "q3"]);
        let err = ids_of(&examples, Some("question")).unwrap_err();
        assert!(err.to_string().contains("`question` = `a`"), "{err}");
        let err = ids_of(&examples, Some("nope")).unwrap_err();
        assert!(
            err.to_string().contains("example 0 has no field `nope`"),
            "{err}"
        );
        let twice = [ex(json!({"q": "a"})), ex(json!({"q": "a"}))];
        let ids = ids_of(&twice, None).unwrap();
        assert_eq!(ids[1], format!("{}#2", ids[0]));
    }
}
