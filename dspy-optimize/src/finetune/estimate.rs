//! What fine-tuning costs in LM calls: one teacher run per training example. Training itself
//! is the finetuner's (its steps or a provider's bill, bounded by the train budget).

use super::BootstrapFinetune;
use crate::Estimate;
use crate::search::estimate::{Count, Demos, Estimator};
use dspy_core::{Parameters, Result};
use serde::Serialize;

impl<M> BootstrapFinetune<M> {
    /// The estimate of fine-tuning on the runs of `teacher` over `trainset`.
    pub(super) fn estimate_with<P, E>(&self, teacher: &P, trainset: &[E]) -> Result<Estimate>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let mut estimate = Estimator::new("BootstrapFinetune", &self.options);
        let size = estimate.sizes(teacher, trainset)?.run(Demos::Given);
        let name = format!("teacher runs on {} training examples", trainset.len());
        estimate.runs(name, Count::exactly(trainset.len() as u64), &size);
        estimate.note(format!(
            "then one training run per model through the `{}` finetuner, on at most one \
             example per predictor call of each run that passes (no LM calls; its steps are \
             bounded by the train budget, and the same data again is taken from the cache)",
            self.finetuner.backend()
        ));
        Ok(estimate.finish())
    }
}
