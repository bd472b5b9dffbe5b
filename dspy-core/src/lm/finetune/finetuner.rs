//! The [`Finetuner`] trait, and the [`TrainJob`] a backend is given.

use super::data::TrainingData;
use super::model::FinetunedModel;
use super::progress::{CancelToken, TrainProgress};
use super::settings::{Hyperparameters, TrainBudget};
use super::store::Store;
use crate::Result;
use crate::lm::{BoxFuture, LM};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;

/// A way to fine-tune a model: training data in, a new [`LM`] out.
///
/// A backend implements two things: [`train`](Self::train) (one run, which reports progress,
/// keeps to its budget, stops when cancelled, and saves what it needs to resume after a crash)
/// and [`load`](Self::load) (an LM on a model it trained, now or in an earlier process). Callers
/// do not call them directly: [`Finetune::run`](super::Finetune::run) looks the run up in the
/// cache first (by a content hash of backend, base model, data and hyperparameters), so the
/// same data never trains twice, and records what `train` returns.
///
/// Backends: [`OpenAiFinetuner`](crate::lm::OpenAiFinetuner) (feature `openai`), an
/// OpenAI-compatible fine-tuning jobs API; [`DummyFinetuner`](super::DummyFinetuner), for tests.
/// Object-safe, so optimizers hold any backend as `Arc<dyn Finetuner>`.
///
/// ```
/// use dspy_core::lm::{BoxFuture, DummyLm, FinetunedModel, Finetuner, TrainJob, TrainProgress, LM};
///
/// /// "Trains" by naming a model after the data; serves every model with one scripted LM.
/// #[derive(Debug)]
/// struct Named(LM);
///
/// impl Finetuner for Named {
///     fn backend(&self) -> &str { "named" }
///     fn base_model(&self) -> String { "base-1".into() }
///     fn train<'a>(&'a self, job: TrainJob<'a>) -> BoxFuture<'a, dspy_core::Result<FinetunedModel>> {
///         Box::pin(async move {
///             job.report(TrainProgress::new("running").step(1, Some(1)));
///             let name = format!("base-1-ft-{}", job.data().len());
///             Ok(FinetunedModel::new(job.key(), self.backend(), self.base_model(), name))
///         })
///     }
///     fn load(&self, _model: &FinetunedModel) -> dspy_core::Result<LM> { Ok(self.0.clone()) }
/// }
/// # let _ = Named(LM::new(DummyLm::new(Vec::<serde_json::Value>::new())));
/// ```
pub trait Finetuner: Send + Sync + fmt::Debug {
    /// A short name of the backend (`"openai"`), recorded with the models it trains.
    fn backend(&self) -> &str;

    /// What identifies the base model trained from (its name, and where it is served or the
    /// digest of its weights): part of the cache key, so it must never hold a credential.
    fn base_model(&self) -> String;

    /// Trains one model on `job`'s data. Called only when the cache has no model for this run;
    /// when an earlier process was interrupted in the same run, [`TrainJob::resumed`] holds
    /// what it saved.
    fn train<'a>(&'a self, job: TrainJob<'a>) -> BoxFuture<'a, Result<FinetunedModel>>;

    /// An LM on `model`, one this backend trained (in this process or an earlier one).
    fn load(&self, model: &FinetunedModel) -> Result<LM>;
}

/// Called with each progress report.
pub type ProgressFn = dyn Fn(&TrainProgress) + Send + Sync;

/// One training run, as [`Finetuner::train`] is given it: the data, how to train, the budget,
/// and the run's channels (progress, cancellation, resume state).
pub struct TrainJob<'a> {
    pub(super) key: &'a str,
    pub(super) data: &'a TrainingData,
    pub(super) hyperparameters: &'a Hyperparameters,
    pub(super) budget: TrainBudget,
    pub(super) progress: Option<&'a ProgressFn>,
    pub(super) cancel: CancelToken,
    pub(super) store: &'a Store,
    pub(super) resumed: Option<Value>,
}

impl TrainJob<'_> {
    /// The run's content hash ([`Finetune::key`](super::Finetune::key)): put it in what the
    /// run produces ([`FinetunedModel::new`]), and in names that must differ per run.
    pub fn key(&self) -> &str {
        self.key
    }

    /// The examples to train on.
    pub fn data(&self) -> &TrainingData {
        self.data
    }

    /// How to train.
    pub fn hyperparameters(&self) -> &Hyperparameters {
        self.hyperparameters
    }

    /// How much the run may spend.
    pub fn budget(&self) -> TrainBudget {
        self.budget
    }

    /// Reports progress: to the caller's callback, and as a `dspy::finetune` tracing event.
    pub fn report(&self, progress: TrainProgress) {
        tracing::info!(
            target: "dspy::finetune",
            status = %progress.status,
            step = progress.step,
            total_steps = progress.total_steps,
            loss = progress.loss,
            examples_per_sec = progress.examples_per_sec,
            "fine-tuning"
        );
        if let Some(callback) = self.progress {
            callback(&progress);
        }
    }

    /// The run's cancel token: check it between steps, or wait on it beside a poll.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// What an interrupted earlier run of the same key saved with
    /// [`save_state`](Self::save_state): where to pick up (a provider's job id, a trainer's
    /// last checkpoint). `None` for a fresh run.
    pub fn resumed(&self) -> Option<&Value> {
        self.resumed.as_ref()
    }

    /// Saves where the run is, so a run of the same key after a crash resumes there (written
    /// atomically to the cache directory; nothing is kept without one). Never put a
    /// credential in it.
    pub fn save_state(&self, state: &Value) -> Result<()> {
        self.store.save_pending(self.key, state)
    }

    /// A directory of this run's own in the cache, for weights a trainer writes (created on
    /// first call); `None` without a cache directory.
    pub fn run_dir(&self) -> Result<Option<PathBuf>> {
        let Some(dir) = self.store.run_dir(self.key) else {
            return Ok(None);
        };
        std::fs::create_dir_all(&dir).map_err(|e| {
            crate::Error::data_caused_by(&dir, None, "cannot create the run's directory", e)
        })?;
        Ok(Some(dir))
    }
}

impl fmt::Debug for TrainJob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrainJob")
            .field("key", &self.key)
            .field("examples", &self.data.len())
            .field("hyperparameters", &self.hyperparameters)
            .field("budget", &self.budget)
            .field("resumed", &self.resumed.is_some())
            .finish_non_exhaustive()
    }
}
