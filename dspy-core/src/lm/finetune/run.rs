//! [`Finetune`]: one fine-tuning run through any [`Finetuner`], cached by content hash and
//! resumable after a crash.

use super::data::TrainingData;
use super::finetuner::{Finetuner, ProgressFn, TrainJob};
use super::model::FinetunedModel;
use super::progress::{CancelToken, TrainProgress};
use super::settings::{Hyperparameters, TrainBudget};
use super::store::Store;
use crate::lm::{CacheConfig, LM, canonical_json};
use crate::{Error, Result};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Bumped when the key's inputs change shape, so old records are not taken for new runs.
const KEY_VERSION: u64 = 1;

/// One fine-tuning run: data, hyperparameters, budget, and where runs are cached.
///
/// [`run`](Self::run) hashes (backend, base model, data, hyperparameters, step budget) into the
/// run's [`key`](Self::key). A model the cache holds for that key is loaded and nothing trains;
/// an earlier run of that key that was interrupted (a crash, a killed process) is resumed from
/// the state it saved; otherwise the backend trains, and its model is recorded. The cache is a
/// directory per key under [`cache_dir`](Self::cache_dir) (default: `finetunes` in dspy's cache
/// directory, `DSPY_CACHE_DIR` or the user's cache directory).
///
/// ```
/// use dspy_core::adapter::{Message, Prompt, TrainingExample};
/// use dspy_core::lm::{DummyFinetuner, DummyLm, Finetune, Hyperparameters, TrainingData, LM};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let data = TrainingData::new().with("answer", TrainingExample {
///     prompt: Prompt::Chat(vec![Message::user("2+2?")]),
///     completion: "4".into(),
/// });
/// let finetuner = DummyFinetuner::new(LM::new(DummyLm::new([serde_json::json!({"answer": "4"})])));
/// let dir = std::env::temp_dir().join(format!("dspy-finetune-doc-{}", std::process::id()));
/// let run = || Finetune::new(&data).hyperparameters(Hyperparameters::new().epochs(2)).cache_dir(&dir);
/// let first = run().run(&finetuner).await?;
/// assert!(!first.cached);
/// let again = run().run(&finetuner).await?; // same data: nothing trains
/// assert!(again.cached);
/// assert_eq!(again.model, first.model);
/// assert_eq!(finetuner.runs(), 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), dspy_core::Error>(())
/// # }).unwrap();
/// ```
pub struct Finetune<'a> {
    data: &'a TrainingData,
    hyperparameters: Hyperparameters,
    budget: TrainBudget,
    cache_dir: Option<PathBuf>,
    progress: Option<Arc<ProgressFn>>,
    cancel: CancelToken,
}

/// What [`Finetune::run`] gives back.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Finetuned {
    /// An LM on the fine-tuned model.
    pub lm: LM,
    /// The model, as the cache records it.
    pub model: FinetunedModel,
    /// Whether it came from the cache (nothing was trained).
    pub cached: bool,
}

impl<'a> Finetune<'a> {
    /// A run on `data` with the backend's default hyperparameters, no budget, and the default
    /// cache directory.
    pub fn new(data: &'a TrainingData) -> Self {
        Finetune {
            data,
            hyperparameters: Hyperparameters::default(),
            budget: TrainBudget::default(),
            cache_dir: CacheConfig::default_dir().map(|dir| dir.join("finetunes")),
            progress: None,
            cancel: CancelToken::new(),
        }
    }

    /// How to train.
    #[must_use]
    pub fn hyperparameters(mut self, hyperparameters: Hyperparameters) -> Self {
        self.hyperparameters = hyperparameters;
        self
    }

    /// How much the run may spend.
    #[must_use]
    pub fn budget(mut self, budget: TrainBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Caches runs under `dir` (a directory per run key).
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Caches nothing: every run trains, and a crashed run cannot be resumed.
    #[must_use]
    pub fn no_cache(mut self) -> Self {
        self.cache_dir = None;
        self
    }

    /// Calls `callback` with each progress report.
    #[must_use]
    pub fn on_progress(
        mut self,
        callback: impl Fn(&TrainProgress) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Stops the run when `token` is cancelled (see [`CancelToken`]).
    #[must_use]
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }

    /// The run's key for `finetuner`: the SHA-256 (64 hex digits) of a canonical JSON of the
    /// backend, the base model, the data, the hyperparameters and the step budget. Nothing
    /// else (no credential, no cache path) goes in.
    pub fn key(&self, finetuner: &dyn Finetuner) -> Result<String> {
        let value = json!({
            "v": KEY_VERSION,
            "backend": finetuner.backend(),
            "base_model": finetuner.base_model(),
            "data": serde_json::to_value(self.data)?,
            "hyperparameters": serde_json::to_value(&self.hyperparameters)?,
            // A run stopped early by its step budget is another model than a full one.
            "max_steps": self.budget.max_steps,
        });
        let digest = Sha256::digest(canonical_json(&value).as_bytes());
        Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Runs: the cached model for this key if there is one, else a (resumed or new) training
    /// run, recorded once it succeeds.
    ///
    /// Fails with [`Error::Config`] on data of no or mixed kinds, [`Error::Budget`] when the
    /// backend finds the budget too small (before anything is spent),
    /// [`Error::Finetune`] when the job failed or was cancelled (the next run starts afresh),
    /// or the backend's own errors (then an interrupted run resumes next time).
    pub async fn run(self, finetuner: &dyn Finetuner) -> Result<Finetuned> {
        self.data.is_chat()?;
        let key = self.key(finetuner)?;
        let store = Store::new(self.cache_dir.clone());
        if let Some(model) = cached_model(&store, &key) {
            let lm = finetuner.load(&model)?;
            return Ok(Finetuned {
                lm,
                model,
                cached: true,
            });
        }
        let job = TrainJob {
            key: &key,
            data: self.data,
            hyperparameters: &self.hyperparameters,
            budget: self.budget,
            progress: self.progress.as_deref(),
            cancel: self.cancel.clone(),
            store: &store,
            resumed: store.pending(&key),
        };
        let trained = finetuner.train(job).await;
        if matches!(trained, Err(Error::Finetune { .. })) {
            store.clear_pending(&key);
        }
        let mut model = trained?;
        model.key = key.clone();
        store.save_model(&model)?;
        store.clear_pending(&key);
        let lm = finetuner.load(&model)?;
        Ok(Finetuned {
            lm,
            model,
            cached: false,
        })
    }
}

/// The recorded model of `key`, unless its weights are gone or changed (then it trains again).
fn cached_model(store: &Store, key: &str) -> Option<FinetunedModel> {
    let model = store.model(key)?;
    match model.check_files() {
        Ok(()) => Some(model),
        Err(error) => {
            tracing::warn!(target: "dspy::finetune", %error, "cached fine-tune unusable; training again");
            None
        }
    }
}

impl fmt::Debug for Finetune<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finetune")
            .field("examples", &self.data.len())
            .field("hyperparameters", &self.hyperparameters)
            .field("budget", &self.budget)
            .field("cache_dir", &self.cache_dir)
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{Message, Prompt, TrainingExample};
    use crate::lm::{BoxFuture, DummyFinetuner, DummyLm, WeightsFile};
    use crate::{FinetuneErrorKind, LmErrorKind};
    use serde_json::Value;
    use std::sync::Mutex;

    fn data(answers: &[&str]) -> TrainingData {
        let mut data = TrainingData::new();
        for a in answers {
            data.push(
                "answer",
                TrainingExample {
                    prompt: Prompt::Chat(vec![Message::user("q")]),
                    completion: a.to_string(),
                },
            );
        }
        data
    }

    fn temp_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dspy-finetune-{label}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn dummy() -> DummyFinetuner {
        DummyFinetuner::new(LM::new(DummyLm::new(Vec::<Value>::new())))
    }

    #[test]
    fn the_key_covers_what_changes_the_model_and_nothing_else() {
        let finetuner = dummy();
        let d = data(&["4"]);
        let key = |run: Finetune<'_>| run.key(&finetuner).unwrap();
        let base = key(Finetune::new(&d));
        assert_eq!(base.len(), 64);
        assert_eq!(base, key(Finetune::new(&d).cache_dir("/elsewhere")));
        assert_eq!(base, key(Finetune::new(&d).budget(TrainBudget::cost(3.0))));
        let other = data(&["5"]);
        assert_ne!(base, key(Finetune::new(&other)));
        assert_ne!(
            base,
            key(Finetune::new(&d).hyperparameters(Hyperparameters::new().epochs(2)))
        );
        assert_ne!(base, key(Finetune::new(&d).budget(TrainBudget::steps(10))));
        let named = DummyFinetuner::new(LM::new(DummyLm::new(Vec::<Value>::new()).named("other")));
        assert_ne!(base, Finetune::new(&d).key(&named).unwrap());
    }

    #[tokio::test]
    async fn a_model_whose_weights_are_gone_trains_again() {
        let dir = temp_dir("weights");
        let finetuner = dummy();
        let d = data(&["4"]);
        let first = Finetune::new(&d)
            .cache_dir(&dir)
            .run(&finetuner)
            .await
            .unwrap();
        // Give the record a weights file, then take the file away.
        let weights = dir.join("adapter.bin");
        std::fs::write(&weights, b"w").unwrap();
        let mut model = first.model.clone();
        model.files.push(WeightsFile::hash(&weights).unwrap());
        Store::new(Some(dir.clone())).save_model(&model).unwrap();
        assert!(
            Finetune::new(&d)
                .cache_dir(&dir)
                .run(&finetuner)
                .await
                .unwrap()
                .cached
        );
        std::fs::remove_file(&weights).unwrap();
        let again = Finetune::new(&d)
            .cache_dir(&dir)
            .run(&finetuner)
            .await
            .unwrap();
        assert!(!again.cached);
        assert_eq!(finetuner.runs(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Saves a state, then fails as `fail` says; records what each run resumed from.
    #[derive(Debug)]
    struct Crashy {
        fail: Mutex<Option<Error>>,
        resumed: Mutex<Vec<Option<Value>>>,
    }

    impl Finetuner for Crashy {
        fn backend(&self) -> &str {
            "crashy"
        }
        fn base_model(&self) -> String {
            "base".into()
        }
        fn train<'a>(&'a self, job: TrainJob<'a>) -> BoxFuture<'a, Result<FinetunedModel>> {
            Box::pin(async move {
                self.resumed.lock().unwrap().push(job.resumed().cloned());
                job.save_state(&json!({"job": "j-1"}))?;
                match self.fail.lock().unwrap().take() {
                    Some(error) => Err(error),
                    None => Ok(FinetunedModel::new(job.key(), "crashy", "base", "m")),
                }
            })
        }
        fn load(&self, _: &FinetunedModel) -> Result<LM> {
            Ok(LM::new(DummyLm::new(Vec::<Value>::new())))
        }
    }

    #[tokio::test]
    async fn an_interrupted_run_resumes_and_a_failed_one_starts_afresh() {
        let dir = temp_dir("resume");
        let d = data(&["4"]);
        let crashy = Crashy {
            fail: Mutex::new(Some(Error::lm(LmErrorKind::Server, "connection reset"))),
            resumed: Mutex::new(Vec::new()),
        };
        let run = || Finetune::new(&d).cache_dir(&dir);
        assert!(matches!(run().run(&crashy).await, Err(Error::Lm { .. })));
        *crashy.fail.lock().unwrap() = Some(Error::Finetune {
            kind: FinetuneErrorKind::Failed,
            job: Some("j-1".into()),
            message: "bad data".into(),
        });
        assert!(matches!(
            run().run(&crashy).await,
            Err(Error::Finetune { .. })
        ));
        let done = run().run(&crashy).await.unwrap();
        assert_eq!(done.model.key, run().key(&crashy).unwrap());
        assert_eq!(
            *crashy.resumed.lock().unwrap(),
            [None, Some(json!({"job": "j-1"})), None],
            "the crash is resumed; the failed job is not"
        );
        let key = run().key(&crashy).unwrap();
        assert!(!dir.join(&key).join("pending.json").exists());
        assert!(dir.join(&key).join("model.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
