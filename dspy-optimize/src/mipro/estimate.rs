//! What MIPROv2 costs: bootstrapping its demo sets, the proposer's calls on the prompt model,
//! and the search's evaluations (the default program, a minibatch per trial, the periodic full
//! evaluations).

use super::bayes::full_evaluations;
use super::propose::estimate::{Asks, prompt_calls};
use super::{MIPROv2, demo_candidates};
use crate::Estimate;
use crate::search::demo_sets::DemoSets;
use crate::search::estimate::{Count, Demos, Estimator};
use crate::search::fields::all_fields;
use dspy_core::data::Rng;
use dspy_core::{Parameters, Result};
use serde::Serialize;

impl<M> MIPROv2<M> {
    /// The estimate of searching from `program` on `trainset` (and `valset`, else the split
    /// the search makes).
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
        let (trainset, valset) = self.sets(trainset, valset)?;
        let mut estimate = Estimator::new("MIPROv2", &self.options);
        let sizes = estimate.sizes(program, trainset)?;
        let predictors = program.predictors();
        let mut rng = Rng::new(self.options.seed);
        let (plan, picked) = self.plan(predictors.len(), valset, &mut rng);
        let (n, v) = (trainset.len(), picked.len() as u64);

        let bootstrap = self.demo_bootstrap();
        let candidates = demo_candidates(&bootstrap, plan.demo_candidates);
        let builder = DemoSets {
            metric: &self.metric,
            bootstrap: &bootstrap,
            options: &self.options,
            log: None,
        };
        let runs: Count = candidates.iter().map(|c| builder.runs(*c, n)).sum();
        let teacher = sizes.run(Demos::Up(bootstrap.max_labeled_demos));
        let sets = candidates.len();
        estimate.runs(
            format!("bootstrap {sets} demo sets on {n} examples"),
            runs,
            &teacher,
        );

        let per_predictor = plan
            .instruction_candidates
            .min(sets.max(1))
            .saturating_sub(1);
        let asks = Asks {
            predictors: &predictors,
            trainset: &all_fields(trainset)?,
            batch: self.search.view_data_batch_size,
            data_aware: self.search.data_aware,
            program_aware: self.search.program_aware,
            proposals: vec![per_predictor as u64; predictors.len()],
        };
        prompt_calls(&mut estimate, &asks)?;

        let given = sizes.run(Demos::Given);
        let shown = if self.zero_shot() {
            given
        } else {
            let most = bootstrap
                .max_bootstrapped_demos
                .max(bootstrap.max_labeled_demos);
            sizes.run(Demos::Up(most))
        };
        estimate.runs(
            format!("score the program as given on {v} examples"),
            Count::exactly(v),
            &given,
        );
        let trials = plan.num_trials as u64;
        let batch = if plan.minibatch {
            (self.search.minibatch_size as u64).min(v)
        } else {
            v
        };
        estimate.runs(
            format!("{trials} trials on {batch} examples"),
            Count::exactly(trials * batch),
            &shown,
        );
        if plan.minibatch {
            let steps = self.search.minibatch_full_eval_steps;
            let full = full_evaluations(plan.num_trials, steps) as u64;
            let name = format!("{full} full evaluations on {v} examples");
            estimate.runs(name, Count::exactly(full * v), &shown);
        }
        estimate.note(
            "expected: every bootstrapping run passes the metric, every proposal is read, and \
             every full evaluation due finds a combination not yet scored whole",
        );
        Ok(estimate.finish())
    }
}
