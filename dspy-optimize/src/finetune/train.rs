//! One training run of a compile: its data through the finetuner, cached, with progress and a
//! trial in the report.

use super::data::Group;
use super::{BootstrapFinetune, Cache};
use crate::Trial;
use crate::search::Frame;
use dspy_core::Result;
use dspy_core::lm::{Finetune, Finetuned, UsageReport};
use std::sync::Arc;
use std::time::Instant;

impl<M> BootstrapFinetune<M> {
    /// Trains on `group`'s data (or takes the cached model of the same data and settings).
    pub(super) async fn train(&self, frame: &mut Frame<'_>, group: &Group) -> Result<Finetuned> {
        let started = Instant::now();
        let title = format!("Finetune: {}", group.name);
        let progress = Arc::new(frame.progress(1, &title));
        let bar = progress.clone();
        let mut run = Finetune::new(&group.data)
            .hyperparameters(self.hyperparameters.clone())
            .budget(self.budget)
            .on_progress(move |report| bar.set_message(report.to_string()));
        run = match &self.cache {
            Cache::Default => run,
            Cache::Dir(dir) => run.cache_dir(dir),
            Cache::Off => run.no_cache(),
        };
        let trained = run.run(&*self.finetuner).await?;
        progress.step(|| "done".to_string());
        let candidate = format!(
            "fine-tune on `{}`: {} examples of {} ({}){}",
            group.name,
            group.data.len(),
            group.data.predictors().collect::<Vec<_>>().join(", "),
            trained.model.model,
            if trained.cached {
                ", from the cache"
            } else {
                ""
            },
        );
        let trial = Trial::new(candidate, None, &UsageReport::default(), started.elapsed());
        frame.report.trials.push(trial);
        Ok(trained)
    }
}
