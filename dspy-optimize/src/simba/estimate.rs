//! What SIMBA costs: per step, the sampled runs on a minibatch, a rule from the prompt model
//! per bucket that tries one, the new programs on the minibatch; then the final scores.

use super::SIMBA;
use super::draws::spread;
use super::strategies::{
    AdviseFromTrajectories, AdviseFromTrajectoriesInput, AdviseFromTrajectoriesOutput,
    describe_modules,
};
use crate::Estimate;
use crate::search::estimate::{Count, Demos, Estimator};
use crate::search::fields::all_fields;
use dspy_core::{Error, Parameters, Result};
use serde::Serialize;
use serde_json::Value;

impl<M> SIMBA<M> {
    /// The estimate of improving `program` on `trainset`.
    pub(super) fn estimate_on<P, E>(&self, program: &P, trainset: &[E]) -> Result<Estimate>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        if program.predictor_names().is_empty() || trainset.is_empty() {
            return Err(Error::config(
                "SIMBA needs a program with predictors and a non-empty training set",
            ));
        }
        let mut estimate = Estimator::new("SIMBA", &self.options);
        let sizes = estimate.sizes(program, trainset)?;
        let run = sizes.run(Demos::Up(self.settings.max_demos));
        let s = &self.settings;
        let (n, bsize, k, steps) = (
            trainset.len(),
            s.bsize.min(trainset.len()),
            s.num_candidates,
            s.max_steps,
        );
        let (b, k64, steps64) = (bsize as u64, k as u64, steps as u64);
        estimate.runs(
            format!("{steps} steps: {k} sampled runs of each of {bsize} examples"),
            Count::exactly(steps64 * k64 * b),
            &run,
        );
        // Buckets are tried until k + 1 programs are made, one per example at most; each may
        // ask for a rule (half of them, drawn at random, unless only rules are appended).
        let made = b.min(k64 + 1);
        let rules = if s.max_demos == 0 {
            made
        } else {
            made.div_ceil(2)
        };
        estimate.runs(
            format!(
                "{steps} steps: up to {} new programs on the minibatch",
                made
            ),
            Count::exactly(steps64 * made * b),
            &run,
        );
        let finals = spread(steps + 1, k + 1).len() as u64;
        let name = format!("final: {finals} programs on {n} training examples");
        estimate.runs(name, Count::exactly(finals * n as u64), &run);
        self.rule_calls(
            &mut estimate,
            program,
            trainset,
            Count::new(steps64 * b, steps64 * rules),
        )?;
        estimate.note(
            "expected: every bucket makes a program, half of them (drawn at random) by a rule, \
             which the prompt model is asked for unless the runs it compares are no different",
        );
        Ok(estimate.finish())
    }

    /// The `calls` to the prompt model for rules, each comparing two runs of the first
    /// training example.
    fn rule_calls<P, E>(
        &self,
        estimate: &mut Estimator,
        program: &P,
        trainset: &[E],
        calls: Count,
    ) -> Result<()>
    where
        P: Parameters,
        E: Serialize,
    {
        let example = all_fields(&trainset[..1])?.remove(0);
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        let trajectory: Vec<Value> = program
            .predictor_names()
            .into_iter()
            .map(|name| serde_json::json!({"module_name": name, "inputs": example, "outputs": example}))
            .collect();
        let (trajectory, example) = (
            pretty(&Value::Array(trajectory)),
            pretty(&Value::Object(example)),
        );
        let names = program.predictor_names();
        let input = AdviseFromTrajectoriesInput {
            program_code: std::any::type_name::<P>().to_string(),
            modules_defn: describe_modules(program),
            program_inputs: example.clone(),
            oracle_metadata: example.clone(),
            worse_program_trajectory: trajectory.clone(),
            worse_program_outputs: example.clone(),
            worse_reward_value: "0".into(),
            worse_reward_info: String::new(),
            better_program_trajectory: trajectory,
            better_program_outputs: example,
            better_reward_value: "1".into(),
            better_reward_info: String::new(),
            module_names: names.clone(),
        };
        let rule = program
            .predictors()
            .first()
            .map(|(_, p)| p.effective_instructions().to_string())
            .unwrap_or_default();
        let answer = AdviseFromTrajectoriesOutput {
            discussion: rule.clone(),
            module_advice: names.into_iter().map(|name| (name, rule.clone())).collect(),
        };
        estimate.proposals::<AdviseFromTrajectories>(
            "rules from pairs of runs",
            calls,
            &input,
            &answer,
        )
    }
}
