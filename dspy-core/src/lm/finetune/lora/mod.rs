//! [`LocalFinetuner`]: LoRA fine-tuning of the embedded model in process, on the CPU (candle),
//! served by [`LocalLm`] (llama.cpp) with the adapter applied at load.

mod adapter;
mod base;
mod gemma;
mod merge;
mod ops;
mod run;
mod settings;
mod shape;
mod train;

use super::finetuner::{Finetuner, TrainJob};
use super::model::{FinetunedModel, WeightsFile};
use super::progress::TrainProgress;
use crate::lm::local::{GEMMA_3_270M, file_sha256};
use crate::lm::{BoxFuture, LM, LocalLm, LocalLmBuilder};
use crate::{Error, FinetuneErrorKind, Result};
use run::{Event, RunInput};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Fine-tunes the embedded model (Gemma 3 270M, or another Gemma 3 GGUF) in process: LoRA on
/// the attention and MLP projections of every layer, trained on the CPU with candle on a
/// blocking thread, the loss on the answer tokens only. The result is a LoRA adapter GGUF (a
/// few MB, in the run's cache directory) that [`LocalLm`] applies at load
/// ([`LocalLmBuilder::lora`]); the base model file is shared.
///
/// Hyperparameters (defaults): `epochs` (1), `batch_size` (8), `learning_rate` (1e-3), `seed`
/// (0), and by name `lora_rank` (8), `lora_alpha` (16), `weight_decay` (0), `max_tokens`
/// (1024: longer examples are left out). A [`TrainBudget`](super::TrainBudget) of steps stops
/// the run early. Every 10 steps the adapter so far is saved: a run interrupted by a crash
/// resumes there (with fresh optimizer moments). Training uses candle's CPU threads: set
/// `RAYON_NUM_THREADS` to limit them.
///
/// The training data must be text (completion) examples, as
/// [`CompletionAdapter`](crate::CompletionAdapter) renders them for a base model.
///
/// ```no_run
/// use dspy_core::adapter::{Prompt, TrainingExample};
/// use dspy_core::lm::{Finetune, Hyperparameters, LocalFinetuner, TrainingData};
/// # async fn demo() -> dspy_core::Result<()> {
/// let data = TrainingData::new().with("classify", TrainingExample {
///     prompt: Prompt::Text("Question: Who wrote Hamlet?\nLabel:".into()),
///     completion: " human".into(),
/// });
/// let finetuner = LocalFinetuner::new();
/// let done = Finetune::new(&data)
///     .hyperparameters(Hyperparameters::new().epochs(1).batch_size(8))
///     .on_progress(|p| eprintln!("{p}"))
///     .run(&finetuner)
///     .await?;
/// println!("{} ({} adapter)", done.model.model, done.model.files[0].path.display());
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "finetune")))]
pub struct LocalFinetuner {
    model: Option<PathBuf>,
    serve: LocalLmBuilder,
    base_id: OnceLock<String>,
}

impl LocalFinetuner {
    /// Fine-tunes the default local model (`DSPY_LOCAL_MODEL`, else the embedded Gemma 3
    /// 270M), serving its models with [`LocalLm`]'s default settings.
    pub fn new() -> Self {
        LocalFinetuner {
            model: None,
            serve: LocalLm::builder(),
            base_id: OnceLock::new(),
        }
    }

    /// Fine-tunes this Gemma 3 GGUF instead.
    #[must_use]
    pub fn model_path(mut self, path: impl AsRef<Path>) -> Self {
        self.model = Some(path.as_ref().to_path_buf());
        self.base_id = OnceLock::new();
        self
    }

    /// Serves the fine-tuned models with these settings (threads, context size, seed...); the
    /// model file and the adapter are set by the finetuner.
    #[must_use]
    pub fn serve_with(mut self, builder: LocalLmBuilder) -> Self {
        self.serve = builder;
        self
    }

    /// Writes `model` (one this finetuner trained) as a standalone GGUF at `out`: the base
    /// model with the adapter merged into its weights, the adapted weights in F32
    /// (`requantize: false`, about 1.1 GB for the 270M model) or quantized back to the base
    /// model's types (`true`, the base model's size). Serve it with
    /// `LocalLm::builder().model_path(out)`. For comparing with the adapter applied at load,
    /// which needs no second copy of the model. Blocks: call it off the async runtime.
    ///
    /// ```no_run
    /// # fn demo(finetuner: &dspy_core::lm::LocalFinetuner, done: &dspy_core::lm::Finetuned) -> dspy_core::Result<()> {
    /// finetuner.merge(&done.model, "merged.gguf", true)?;
    /// let merged = dspy_core::lm::LocalLm::builder().model_path("merged.gguf").build()?;
    /// # let _ = merged; Ok(()) }
    /// ```
    pub fn merge(
        &self,
        model: &FinetunedModel,
        out: impl AsRef<Path>,
        requantize: bool,
    ) -> Result<()> {
        model.check_files()?;
        let Some(adapter) = model.files.first() else {
            return Err(Error::State(format!(
                "`{}` names no adapter file",
                model.model
            )));
        };
        let out = out.as_ref();
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| Error::data_caused_by(p, None, "cannot read the adapter", e))
        };
        let base = match &self.model {
            Some(path) => path.clone(),
            None => LocalLm::fetch_default_model()?,
        };
        let bytes = merge::merged_gguf(&base, &read(&adapter.path)?, requantize).map_err(|e| {
            Error::data_caused_by(&base, None, "cannot merge the adapter into the model", e)
        })?;
        crate::util::write_atomic(out, bytes)
            .map_err(|e| Error::data_caused_by(out, None, "cannot write the merged model", e))
    }

    /// The settings the models are served with, on this finetuner's base model.
    fn serve_builder(&self) -> LocalLmBuilder {
        match &self.model {
            Some(path) => self.serve.clone().model_path(path),
            None => self.serve.clone(),
        }
    }

    async fn train_job(&self, job: TrainJob<'_>) -> Result<FinetunedModel> {
        let settings = settings::Settings::new(job.hyperparameters(), job.budget())?;
        if job.data().is_chat()? {
            return Err(Error::config(
                "the local trainer fine-tunes a base model on text prompts: render the \
                 predictors with CompletionAdapter (the default for the local model)",
            ));
        }
        let key = job.key().to_string();
        let dir = match job.run_dir()? {
            Some(dir) => dir,
            None => std::env::temp_dir().join("dspy-lora").join(&key),
        };
        let adapter = dir.join(format!("lora-{}.gguf", key.get(..16).unwrap_or(&key)));
        let base = match self.model.clone() {
            Some(path) => path,
            None => blocking(LocalLm::fetch_default_model).await?,
        };
        let input = RunInput {
            base,
            examples: job
                .data()
                .iter()
                .map(|(_, e)| (e.prompt.clone(), e.completion.clone()))
                .collect(),
            settings: settings.clone(),
            adapter: adapter.clone(),
            resumed: job.resumed().cloned(),
            cancel: job.cancel_token().clone(),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = tokio::task::spawn_blocking(move || run::run(input, &tx));
        while let Some(event) = rx.recv().await {
            match event {
                Event::Progress(progress) => job.report(progress),
                Event::Checkpoint(state) => {
                    if let Err(error) = job.save_state(&state) {
                        tracing::warn!(target: "dspy::finetune", %error, "cannot save the resume state");
                    }
                }
            }
        }
        let outcome = handle.await.map_err(thread_failed)??;
        job.report(done(&outcome));
        let file = WeightsFile::hash(&adapter)?;
        let name = format!("{}+{}", self.serve_builder().model_name(), stem(&adapter));
        let mut model = FinetunedModel::new(job.key(), self.backend(), self.base_model(), name)
            .file(file)
            .detail("steps", outcome.steps)
            .detail("examples", outcome.examples)
            .detail("skipped_examples", outcome.skipped)
            .detail("trainable_parameters", outcome.parameters)
            .detail("seconds", outcome.seconds)
            .detail("lora_rank", settings.rank)
            .detail("lora_alpha", settings.alpha);
        if let Some(loss) = outcome.loss {
            model = model.detail("final_loss", loss);
        }
        Ok(model)
    }
}

/// The final progress report.
fn done(outcome: &run::RunOutcome) -> TrainProgress {
    let p = TrainProgress::new("succeeded").step(outcome.steps, Some(outcome.steps));
    match outcome.loss {
        Some(loss) => p.loss(loss),
        None => p,
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(thread_failed)?
}

fn thread_failed(e: tokio::task::JoinError) -> Error {
    Error::Finetune {
        kind: FinetuneErrorKind::Failed,
        job: None,
        message: format!("the training thread stopped: {e}"),
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("lora")
        .to_string()
}

impl Default for LocalFinetuner {
    fn default() -> Self {
        Self::new()
    }
}

impl Finetuner for LocalFinetuner {
    fn backend(&self) -> &str {
        "local-lora"
    }

    /// The model's file name and its SHA-256 (the embedded model's is known; another file is
    /// hashed once).
    fn base_model(&self) -> String {
        self.base_id
            .get_or_init(|| {
                let path = match &self.model {
                    Some(path) => path.clone(),
                    None => match std::env::var("DSPY_LOCAL_MODEL") {
                        Ok(p) if !p.trim().is_empty() => PathBuf::from(p.trim()),
                        _ => {
                            return format!(
                                "{} sha256:{}",
                                GEMMA_3_270M.file_name, GEMMA_3_270M.sha256
                            );
                        }
                    },
                };
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("model");
                match file_sha256(&path) {
                    Ok(hash) => format!("{name} sha256:{hash}"),
                    Err(_) => format!("{name} (unreadable)"),
                }
            })
            .clone()
    }

    fn train<'a>(&'a self, job: TrainJob<'a>) -> BoxFuture<'a, Result<FinetunedModel>> {
        Box::pin(self.train_job(job))
    }

    /// A [`LocalLm`] on the base model with the run's adapter; the adapter's hash is checked
    /// first, and a model trained from another base is refused.
    fn load(&self, model: &FinetunedModel) -> Result<LM> {
        if model.base_model != self.base_model() {
            return Err(Error::State(format!(
                "`{}` was trained from {}, but this finetuner's base model is {}; fine-tune \
                 again on this base model",
                model.model,
                model.base_model,
                self.base_model()
            )));
        }
        model.check_files()?;
        let Some(adapter) = model.files.first() else {
            return Err(Error::State(format!(
                "`{}` names no adapter file",
                model.model
            )));
        };
        let local = self.serve_builder().lora(&adapter.path, 1.0).build()?;
        Ok(LM::new(local))
    }
}

impl fmt::Debug for LocalFinetuner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalFinetuner")
            .field("model", &self.model)
            .field("serve", &self.serve)
            .finish_non_exhaustive()
    }
}
