//! From kept traces to training data: each call rendered as the student's predictor prompts
//! at inference, grouped into one training run per model (or per predictor).

use crate::CompileWarning;
use dspy_core::lm::{Finetuned, TrainingData};
use dspy_core::module::Trace;
use dspy_core::{Error, Parameters, Result};
use std::collections::BTreeMap;

/// One training run to make: its data, and the predictors that will run on what it trains.
pub(super) struct Group {
    /// The model the predictors run on now (or the predictor's name, one run each).
    pub name: String,
    pub predictors: Vec<String>,
    pub data: TrainingData,
}

/// The training runs of a compile, by group name.
pub(super) struct Groups {
    groups: BTreeMap<String, Group>,
}

impl Groups {
    /// Every call of `traces` as a training example of the predictor of `program` that made
    /// it, grouped by the model each predictor runs on (`multitask`) or by predictor.
    pub(super) fn of<P: Parameters>(
        program: &P,
        traces: &[Trace],
        multitask: bool,
    ) -> Result<Self> {
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for (name, predictor) in program.predictors() {
            let model = predictor.lm().map_err(|e| no_lm(&name, e))?;
            let key = if multitask {
                model.model().to_string()
            } else {
                name.clone()
            };
            let group = groups.entry(key.clone()).or_insert_with(|| Group {
                name: key,
                predictors: Vec::new(),
                data: TrainingData::new(),
            });
            group.predictors.push(name);
        }
        let mut all = Groups { groups };
        for trace in traces {
            all.add(program, trace)?;
        }
        Ok(all)
    }

    /// `trace`'s calls, each to its predictor's group.
    fn add<P: Parameters>(&mut self, program: &P, trace: &Trace) -> Result<()> {
        for entry in &trace.entries {
            // Calls by predictors outside the program (an LM judge in the metric) teach nothing.
            let Some(name) = &entry.name else { continue };
            let Some(predictor) = program.predictor(name) else {
                continue;
            };
            let example = predictor.training_example_json(&entry.input, &entry.output)?;
            if let Some(group) = self.group_of_mut(name) {
                group.data.push(name.clone(), example);
            }
        }
        Ok(())
    }

    fn group_of_mut(&mut self, predictor: &str) -> Option<&mut Group> {
        self.groups
            .values_mut()
            .find(|g| g.predictors.iter().any(|p| p == predictor))
    }

    /// A warning for each predictor no kept run called (it is left on its LM).
    pub(super) fn warnings<P: Parameters>(&self, program: &P) -> Vec<CompileWarning> {
        let trained: Vec<&str> = self
            .groups
            .values()
            .flat_map(|g| g.data.predictors())
            .collect();
        program
            .predictor_names()
            .into_iter()
            .filter(|name| !trained.contains(&name.as_str()))
            .map(|name| {
                CompileWarning::predictor(
                    name,
                    "no run that passed the metric called this predictor, so it has no training \
                     data and keeps its LM; check the metric, or give more training examples",
                )
            })
            .collect()
    }

    /// The groups with data, in name order.
    pub(super) fn into_iter(self) -> impl Iterator<Item = Group> {
        self.groups.into_values().filter(|g| !g.data.is_empty())
    }
}

/// A predictor with no LM cannot be fine-tuned: there is no model to start from.
fn no_lm(name: &str, error: Error) -> Error {
    Error::config(format!(
        "predictor `{name}` has no LM to fine-tune ({error}); give the program an LM first \
         (dspy::configure, with_lm, or the predictor's own)"
    ))
}

/// Puts the predictors `group` has data for on the LM trained on it, recording its weights
/// (one of the group without data keeps its LM: the model learned none of its calls).
pub(super) fn serve<P: Parameters>(program: &mut P, group: &Group, trained: &Finetuned) {
    let taught: Vec<&str> = group.data.predictors().collect();
    for (name, predictor) in program.predictors_mut() {
        if taught.contains(&name.as_str()) {
            predictor.set_lm(Some(trained.lm.clone()));
            predictor.set_weights(Some(trained.model.clone()));
        }
    }
}
