//! What GEPA costs: its budget of metric calls (each a program run) and, within it, one
//! reflection on the prompt model per reflective mutation.

use super::reflect::{
    Generated, ProposeInstruction, ProposeInstructionInput, ProposeInstructionOutput, Record,
    render_records,
};
use super::{GEPA, MERGE_SUBSAMPLE};
use crate::Estimate;
use crate::search::estimate::{Count, Demos, Estimator};
use crate::search::fields::all_fields;
use dspy_core::adapter::FieldValues;
use dspy_core::{Error, Parameters, Result};
use serde::Serialize;

impl<M> GEPA<M> {
    /// The estimate of evolving `program` on `trainset`, its frontier on `valset` (the training
    /// set when none is given).
    pub(super) fn estimate_on<P, E>(
        &self,
        program: &P,
        trainset: &[E],
        valset: Option<&[E]>,
    ) -> Result<Estimate>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let separate = valset.is_some_and(|valset| !std::ptr::eq(trainset, valset));
        let valset = valset.unwrap_or(trainset);
        let predictors = program.predictors();
        if predictors.is_empty() || trainset.is_empty() || valset.is_empty() {
            return Err(Error::config(
                "GEPA needs a program with predictors and a non-empty training set (and \
                 validation set, when one is given)",
            ));
        }
        let budget = self.max_calls(
            predictors.len(),
            trainset.len(),
            separate.then_some(valset.len()),
        )?;
        let mut estimate = Estimator::new("GEPA", &self.options);
        let size = estimate.sizes(program, trainset)?.run(Demos::Given);
        let (v, mb) = (valset.len(), self.settings.reflection_minibatch_size);
        estimate.runs(
            format!("score the seed program on {v} examples"),
            Count::exactly(v as u64),
            &size,
        );
        let (runs, reflections) = self.iteration_counts(budget, v);
        let name = format!("iterations to {budget} metric calls (minibatch {mb})");
        estimate.runs(name, runs, &size);
        let records = records(predictors[0].1, &all_fields(trainset)?, mb);
        let current = predictors[0].1.effective_instructions().to_string();
        let input = ProposeInstructionInput {
            current_instruction: current.clone(),
            examples_with_feedback: render_records(&records),
        };
        let answer = ProposeInstructionOutput {
            new_instruction: current,
        };
        estimate.proposals::<ProposeInstruction>(
            "reflect on a minibatch",
            reflections,
            &input,
            &answer,
        )?;
        estimate.note(
            "expected: every reflection's proposal is tried and rejected on its minibatch (two \
             minibatches an iteration); one accepted adds a pass over the validation set",
        );
        Ok(estimate.finish())
    }

    /// The program runs after the seed's pass, and the reflections, of a search to `budget`
    /// metric calls with a validation set of `v` examples.
    ///
    /// Iterations go on while fewer than `budget` calls were made, so the last one starts
    /// below it and adds at most a mutation's two minibatches and a validation pass (a merge's
    /// subsample and one). Each iteration spends at least a minibatch (a merge attempt its
    /// subsample), so reflections, one per mutation, are at most the calls left over a
    /// minibatch.
    fn iteration_counts(&self, budget: usize, v: usize) -> (Count, Count) {
        let mb = self.settings.reflection_minibatch_size.max(1);
        let left = budget.saturating_sub(v);
        if left == 0 {
            return (Count::default(), Count::default());
        }
        let merge = if self.settings.use_merge {
            MERGE_SUBSAMPLE + v
        } else {
            0
        };
        let last = (2 * mb + v).max(merge);
        let runs_at_most = left - 1 + last;
        let iterations = left.div_ceil(2 * mb);
        let runs = Count::new(runs_at_most as u64, (iterations * 2 * mb) as u64);
        let reflections = Count::new(left.div_ceil(mb) as u64, iterations as u64);
        (runs, reflections)
    }
}

/// A reflective dataset like the one a minibatch gives: `size` runs of `predictor` on the
/// first training examples, each answered as its example says, with the plain feedback.
fn records(
    predictor: &dyn dspy_core::DynPredictor,
    examples: &[FieldValues],
    size: usize,
) -> Vec<Record> {
    let info = predictor.signature();
    let pick = |example: &FieldValues, fields: &[dspy_core::FieldSpec]| -> FieldValues {
        fields
            .iter()
            .filter_map(|f| Some((f.name.clone(), example.get(&f.name)?.clone())))
            .collect()
    };
    examples
        .iter()
        .cycle()
        .take(size)
        .map(|example| Record {
            inputs: pick(example, &info.inputs),
            outputs: Generated::Fields(pick(example, &info.outputs)),
            feedback: "This trajectory got a score of 0.".into(),
        })
        .collect()
}
