//! [`OpenAiFinetuner`]: fine-tuning through an OpenAI-compatible fine-tuning jobs API.

mod api;
mod job;
mod plan;
mod wire;

use super::{Mode, OpenAiLm, OpenAiLmBuilder, without_credentials};
use crate::lm::{
    BoxFuture, CacheConfig, Clock, FinetunedModel, Finetuner, LM, TokioClock, TrainJob,
};
use crate::{Error, Result};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Fine-tunes a model through an OpenAI-compatible API: uploads the training data as JSONL
/// (`POST /files`), creates a supervised fine-tuning job on it (`POST /fine_tuning/jobs`),
/// polls the job with backoff until it ends, and serves the fine-tuned model (the job's
/// `fine_tuned_model`) as an [`LM`] with the same endpoint, key and mode, and the production
/// layers.
///
/// Run it through [`Finetune`](crate::lm::Finetune), which caches the model by a content hash of
/// the run and resumes an interrupted one: the file and job ids are saved as soon as the
/// provider gives them, so a run of the same data after a crash polls the same job (no second
/// upload, no second job). A job that fails is an [`Error::Finetune`] saying what the provider
/// said; cancelling the run's [`CancelToken`](crate::lm::CancelToken) cancels the job.
///
/// Chat data trains a chat model; text data (a [`CompletionAdapter`](crate::CompletionAdapter)'s
/// prompts) a base model, with the builder in [`Mode::Completion`]. The key is never logged,
/// shown by `Debug`, saved in the cache or part of the cache key.
///
/// ```no_run
/// use dspy_core::lm::{Finetune, Hyperparameters, OpenAiFinetuner, TrainBudget, TrainingData};
/// # async fn demo(data: TrainingData) -> dspy_core::Result<()> {
/// // OPENAI_API_KEY (and OPENAI_BASE_URL for another server) from the environment:
/// let finetuner = OpenAiFinetuner::from_env("gpt-4.1-nano-2025-04-14")?.training_price(1.50);
/// let done = Finetune::new(&data)
///     .hyperparameters(Hyperparameters::new().epochs(3))
///     .budget(TrainBudget::cost(2.0))
///     .on_progress(|p| eprintln!("{p}"))
///     .run(&finetuner)
///     .await?;
/// println!("{} (cached: {})", done.lm.model(), done.cached); // ft:gpt-4.1-nano-...
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub struct OpenAiFinetuner {
    /// Builds the fine-tuned model's backend (its model name replaced).
    builder: OpenAiLmBuilder,
    mode: Mode,
    api: api::Api,
    poll: PollPolicy,
    clock: Arc<dyn Clock>,
    /// Dollars per million training tokens.
    price: Option<f64>,
    suffix: Option<String>,
    cache: CacheConfig,
}

/// How often a job is polled.
#[derive(Debug, Clone, Copy)]
struct PollPolicy {
    first: Duration,
    longest: Duration,
    factor: f64,
    /// Transient failures in a row polled through before the run gives up (it resumes later).
    max_failures: u32,
}

impl OpenAiFinetuner {
    /// Fine-tunes `builder`'s model on its endpoint, with its key, organization, project,
    /// timeout and mode. Fails as [`OpenAiLmBuilder::build`] fails (no key for OpenAI, a bad
    /// URL).
    ///
    /// ```
    /// use dspy_core::lm::{Finetuner, OpenAiFinetuner, OpenAiLm};
    /// let finetuner = OpenAiFinetuner::new(
    ///     OpenAiLm::builder("my-base-model").base_url("http://localhost:8000/v1"),
    /// ).unwrap();
    /// assert_eq!(finetuner.base_model(), "my-base-model @ http://localhost:8000/v1");
    /// ```
    pub fn new(builder: OpenAiLmBuilder) -> Result<Self> {
        let base: OpenAiLm = builder.clone().build()?;
        let http = reqwest::Client::builder()
            .timeout(base.timeout)
            .build()
            .map_err(|e| Error::config(format!("could not set up the HTTP client: {e}")))?;
        let api = api::Api {
            http,
            shown_url: without_credentials(&base.base_url),
            base_url: base.base_url.clone(),
            model: base.model.clone(),
            timeout: base.timeout,
            api_key: base.api_key.clone(),
            organization: trimmed(builder.organization.as_deref()),
            project: trimmed(builder.project.as_deref()),
        };
        Ok(OpenAiFinetuner {
            builder,
            mode: base.mode,
            api,
            poll: PollPolicy {
                first: Duration::from_secs(5),
                longest: Duration::from_secs(60),
                factor: 1.5,
                max_failures: 10,
            },
            clock: Arc::new(TokioClock),
            price: None,
            suffix: None,
            cache: CacheConfig::from_env(),
        })
    }

    /// [`new`](Self::new) for `model`, with `OPENAI_API_KEY`, `OPENAI_BASE_URL`,
    /// `OPENAI_ORG_ID` and `OPENAI_PROJECT_ID` from the environment when set.
    pub fn from_env(model: &str) -> Result<Self> {
        Self::new(OpenAiLm::builder(model).from_env_vars())
    }

    /// Polls first after `first`, each wait then half as long again as the last, up to
    /// `longest` (default 5 s and 60 s: jobs take minutes to hours).
    #[must_use]
    pub fn poll_interval(mut self, first: Duration, longest: Duration) -> Self {
        self.poll.first = first;
        self.poll.longest = longest.max(first);
        self
    }

    /// How polls wait (default: tokio's clock); tests give a clock that records the waits.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The price of training, in dollars per million training tokens, for cost budgets
    /// ([`TrainBudget::cost`](crate::lm::TrainBudget::cost)) and the recorded cost.
    #[must_use]
    pub fn training_price(mut self, dollars_per_million_tokens: f64) -> Self {
        self.price = Some(dollars_per_million_tokens);
        self
    }

    /// A suffix for the fine-tuned model's name (OpenAI shows it in `ft:base:org:suffix:id`).
    #[must_use]
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = Some(suffix.into());
        self
    }

    /// The cache of the fine-tuned LM's answers (default: [`CacheConfig::from_env`], memory and
    /// disk unless `DSPY_CACHE` says otherwise, as [`LM::openai`] has).
    #[must_use]
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache = config;
        self
    }

    fn base_model_id(&self) -> String {
        format!("{} @ {}", self.api.model, self.api.shown_url)
    }

    /// Chat data needs a chat model, text data a base model (completion mode).
    fn check_kind(&self, chat: bool) -> Result<()> {
        match (chat, self.mode) {
            (true, Mode::Chat) | (false, Mode::Completion) => Ok(()),
            (true, Mode::Completion) => Err(Error::config(format!(
                "the training data is chat messages, but `{}` is set up in completion mode: \
                 build the finetuner with .mode(Mode::Chat), or render the data with a \
                 CompletionAdapter",
                self.api.model
            ))),
            (false, Mode::Chat) => Err(Error::config(format!(
                "the training data is text prompts (a CompletionAdapter's), but `{}` is set up \
                 as a chat model: build the finetuner with .mode(Mode::Completion) for a base \
                 model, or render the data with a chat adapter",
                self.api.model
            ))),
        }
    }

    fn job_body(&self, file: &str, hyperparameters: Value, job: &TrainJob<'_>) -> Value {
        job::body(
            &self.api.model,
            file,
            hyperparameters,
            job.hyperparameters().seed,
            self.suffix.as_deref(),
        )
    }
}

impl Finetuner for OpenAiFinetuner {
    fn backend(&self) -> &str {
        "openai"
    }

    /// The model's name and the API root (without credentials).
    fn base_model(&self) -> String {
        self.base_model_id()
    }

    fn train<'a>(&'a self, job: TrainJob<'a>) -> BoxFuture<'a, Result<FinetunedModel>> {
        Box::pin(job::run(self, job))
    }

    /// The fine-tuned model on this endpoint, with this key and mode, and the production layers
    /// (with this finetuner's [`cache`](Self::cache)).
    fn load(&self, model: &FinetunedModel) -> Result<LM> {
        if model.backend != self.backend() {
            return Err(Error::config(format!(
                "`{}` was fine-tuned by the `{}` backend, not by OpenAiFinetuner: load it with that one",
                model.model, model.backend
            )));
        }
        let mut builder = self.builder.clone();
        builder.model = model.model.clone();
        let backend = builder.build()?;
        Ok(LM::builder(backend)
            .with_defaults()
            .cache(self.cache.clone())
            .build())
    }
}

impl fmt::Debug for OpenAiFinetuner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The builder's Debug redacts the key.
        f.debug_struct("OpenAiFinetuner")
            .field("backend", &self.builder)
            .field("poll", &self.poll)
            .field("price", &self.price)
            .field("suffix", &self.suffix)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

fn trimmed(value: Option<&str>) -> String {
    value.map(str::trim).unwrap_or_default().to_string()
}
