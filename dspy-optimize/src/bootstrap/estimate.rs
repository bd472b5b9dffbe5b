//! What bootstrapping costs: one run of the teacher per training example at most, fewer when
//! the traces needed are found first.

use super::BootstrapFewShot;
use crate::Estimate;
use crate::search::estimate::counts::bootstrap_runs;
use crate::search::estimate::{Demos, Estimator};
use dspy_core::{Parameters, Result};
use serde::Serialize;

impl<M> BootstrapFewShot<M> {
    /// The estimate of bootstrapping `student` on `trainset`, the traces coming from `teacher`
    /// when one is given (else from the student with labeled demos).
    pub(super) fn estimate_with<P, E>(
        &self,
        student: &P,
        teacher: Option<&P>,
        trainset: &[E],
    ) -> Result<Estimate>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let mut estimate = Estimator::new("BootstrapFewShot", &self.options);
        let labeled = self.bootstrap.max_labeled_demos;
        let (runs_on, demos) = match teacher {
            Some(teacher) => (teacher, Demos::Given),
            None if labeled > 0 => (student, Demos::Up(labeled)),
            None => (student, Demos::Given),
        };
        let size = estimate.sizes(runs_on, trainset)?.run(demos);
        let runs = bootstrap_runs(
            trainset.len(),
            self.bootstrap.max_bootstrapped_demos,
            self.bootstrap.max_rounds,
        );
        let name = format!(
            "bootstrap: the teacher on up to {} examples × {} round(s)",
            trainset.len(),
            self.bootstrap.max_rounds
        );
        estimate.runs(name, runs, &size);
        estimate.note(format!(
            "expected: every teacher run passes the metric on its first round, so bootstrapping \
             stops after {} traces (runs still in flight then, up to {}, are dropped uncounted)",
            self.bootstrap.max_bootstrapped_demos,
            self.options.concurrency.saturating_sub(1)
        ));
        Ok(estimate.finish())
    }
}
