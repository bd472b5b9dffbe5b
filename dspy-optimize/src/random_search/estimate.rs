//! What a random search costs: the bootstrapping of its candidates, and one evaluation of each
//! on the validation set.

use super::BootstrapFewShotWithRandomSearch;
use crate::Estimate;
use crate::search::demo_sets::{Candidate, DemoSets};
use crate::search::estimate::{Count, Demos, Estimator};
use dspy_core::{Parameters, Result};
use serde::Serialize;

impl<M> BootstrapFewShotWithRandomSearch<M> {
    /// The estimate of searching from `program` on `trainset`, scoring on `valset`.
    pub(super) fn estimate_on<P, E>(
        &self,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> Result<Estimate>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let mut estimate = Estimator::new("BootstrapFewShotWithRandomSearch", &self.options);
        let sizes = estimate.sizes(program, trainset)?;
        let demo_sets = DemoSets {
            metric: &self.metric,
            bootstrap: &self.bootstrap,
            options: &self.options,
            log: None,
        };
        let (labeled, boot) = (
            self.bootstrap.max_labeled_demos,
            self.bootstrap.max_bootstrapped_demos,
        );
        let teacher = sizes.run(Demos::Up(labeled));
        let n = trainset.len();
        estimate.runs(
            format!("bootstrap unshuffled on {n} examples"),
            demo_sets.runs(Candidate::Unshuffled, n),
            &teacher,
        );
        let shuffled: Count = (0..self.num_candidate_programs as u64)
            .map(|i| demo_sets.runs(Candidate::Shuffled(i), n))
            .sum();
        let count = self.num_candidate_programs;
        estimate.runs(
            format!("bootstrap {count} shuffled sets"),
            shuffled,
            &teacher,
        );
        let v = valset.len() as u64;
        let scored = [
            ("zero-shot", 1, Demos::Up(0)),
            ("labeled", 1, Demos::Up(labeled)),
            (
                "bootstrapped",
                count as u64 + 1,
                Demos::Up(labeled.max(boot)),
            ),
        ];
        for (what, candidates, demos) in scored {
            let name = format!("score {candidates} {what} on {v} examples");
            estimate.runs(name, Count::exactly(candidates * v), &sizes.run(demos));
        }
        estimate.note(
            "expected: every bootstrapping run passes the metric, and no candidate reaches \
             stop_at_score (which ends the search early)",
        );
        Ok(estimate.finish())
    }
}
