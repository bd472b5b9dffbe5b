//! What COPRO costs: its proposals on the prompt model, and one evaluation on the training set
//! per candidate and round.

use super::{
    COPRO, ProposeFromAttempts, ProposeFromAttemptsInput, ProposeFromAttemptsOutput,
    ProposeInstruction, ProposeInstructionInput, ProposeInstructionOutput,
};
use crate::Estimate;
use crate::search::estimate::{Count, Demos, Estimator};
use crate::search::prompting::describe_predictor;
use dspy_core::{Error, Parameters, Result};
use serde::Serialize;

impl<M> COPRO<M> {
    /// The estimate of searching `program`'s instructions on `trainset`.
    pub(super) fn estimate_on<P, E>(&self, program: &P, trainset: &[E]) -> Result<Estimate>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let (breadth, depth) = (self.settings.breadth, self.settings.depth);
        if breadth < 2 {
            return Err(Error::config(
                "COPRO needs a breadth of at least 2; set .breadth(n) with n >= 2",
            ));
        }
        let mut estimate = Estimator::new("COPRO", &self.options);
        let size = estimate.sizes(program, trainset)?.run(Demos::Given);
        let predictors = program.predictors();
        let Some((name, first)) = predictors.first() else {
            return Ok(estimate.finish());
        };
        let p = predictors.len() as u64;
        let (b, d) = (breadth as u64, depth as u64);
        // The first predictor's proposals stand for every predictor's.
        let task = describe_predictor(name, *first);
        let current = first.effective_instructions().to_string();
        let input = ProposeInstructionInput {
            task: task.clone(),
            basic_instruction: current.clone(),
        };
        let first_round = Count::exactly(p * (b - 1));
        let answer = ProposeInstructionOutput {
            proposed_instruction: current.clone(),
        };
        estimate.proposals::<ProposeInstruction>(
            "propose, round 1",
            first_round,
            &input,
            &answer,
        )?;
        if d > 1 {
            let attempts = (1..=breadth)
                .map(|n| format!("Instruction #{n}: {current}\nResulting score #{n}: 0.500"))
                .collect();
            let input = ProposeFromAttemptsInput {
                task,
                attempted_instructions: attempts,
            };
            let answer = ProposeFromAttemptsOutput {
                proposed_instruction: current,
            };
            let later = Count::exactly(p * b * (d - 1));
            let rounds = if d == 2 {
                "round 2".into()
            } else {
                format!("rounds 2-{d}")
            };
            let name = format!("propose from scores, {rounds}");
            estimate.proposals::<ProposeFromAttempts>(name, later, &input, &answer)?;
        }
        // One predictor scores each round's newest candidates; several score all of theirs
        // again every round (the round's own and every earlier one's).
        let candidates = if p == 1 {
            b * d
        } else {
            p * b * d * (d + 1) / 2
        };
        let n = trainset.len() as u64;
        let name = format!("score {candidates} candidates on {n} training examples");
        estimate.runs(name, Count::exactly(candidates * n), &size);
        estimate.note(
            "expected: every proposal is read as an instruction (a proposal that is not is \
             skipped, and so is its evaluation)",
        );
        Ok(estimate.finish())
    }
}
