use super::builder::LmBuilder;
use super::layers::{
    Admission, Budget, CacheConfig, History, HistoryEntry, Meter, PriceTable, UsageReport,
    format_history,
};
use super::stream::{ChunkStream, LmChunk, generate, response_stream};
use super::{Capabilities, LmRequest, LmResponse};
use crate::{Error, LmErrorKind, Result};
use futures_util::StreamExt;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tracing::Instrument;

/// A boxed, sendable future, as object-safe traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A language model backend: one request in, one response out.
///
/// Object-safe, so any backend (an HTTP API, the local model, a test double, a caching layer
/// around another backend) sits behind an [`LM`].
///
/// ```
/// use dspy_core::lm::{BoxFuture, Choice, LanguageModel, LmRequest, LmResponse, LM};
///
/// #[derive(Debug)]
/// struct Echo;
/// impl LanguageModel for Echo {
///     fn model(&self) -> &str { "echo" }
///     fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
///         Box::pin(async move {
///             Ok(LmResponse { choices: vec![Choice::new(request.prompt.to_text())], ..Default::default() })
///         })
///     }
/// }
/// let lm = LM::new(Echo);
/// assert_eq!(lm.model(), "echo");
/// ```
pub trait LanguageModel: Send + Sync + fmt::Debug {
    /// The model's name, as shown in traces and saved in histories.
    fn model(&self) -> &str;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Runs one request.
    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>>;

    /// Runs one request, yielding the text as it is generated: [`LmChunk::Delta`]s of the
    /// first choice, then [`LmChunk::Done`] with the whole response (or an `Err`, and nothing
    /// after it).
    ///
    /// The default runs [`complete`](Self::complete) and yields its text as one delta, so every
    /// backend streams, if not incrementally; backends that can stream for real override it.
    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            match self.complete(request).await {
                Ok(response) => {
                    let mut whole = response_stream(response);
                    while let Some(item) = whole.next().await {
                        y.send(item).await;
                    }
                }
                Err(error) => y.send(Err(error)).await,
            }
        }))
    }
}

/// The handle users hold: cheap to clone, shared by every predictor that uses it.
///
/// Clones share everything: the backend and its layers, the usage counters, the budget and the
/// history. [`LM::new`] wraps a backend as it is (usage is counted, nothing else is added, and
/// nothing touches the disk), which suits tests on [`DummyLm`](super::DummyLm);
/// [`LM::builder`] adds layers one by one; [`LM::from_env`] and [`LM::openai`] come with the
/// production set on (see [`LmBuilder::with_defaults`]).
///
/// Every call runs in a `dspy.lm` [`tracing`](https://docs.rs/tracing) span with the fields
/// `model`, `prompt_tokens`, `completion_tokens`, `latency_ms`, `cache_hit` and, on failure,
/// `error`. Nothing is printed unless the program installs a subscriber (`tracing-subscriber`,
/// or an OpenTelemetry one).
///
/// ```
/// use dspy_core::lm::{DummyLm, LM};
/// let lm = LM::new(DummyLm::new([serde_json::json!({"answer": "4"})]));
/// let same = lm.clone(); // an Arc clone
/// assert_eq!(same.model(), "dummy");
/// ```
#[derive(Clone)]
pub struct LM {
    /// The outermost layer (the backend itself when there are none).
    backend: Arc<dyn LanguageModel>,
    shared: Arc<Shared>,
}

/// A call let through the budget, with when it started.
struct Started<'a> {
    admission: Admission<'a>,
    timestamp: SystemTime,
    instant: Instant,
}

/// What the clones of one LM share besides the backend.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) meter: Meter,
    pub(crate) history: Option<History>,
    pub(crate) cache: Option<CacheConfig>,
}

impl LM {
    /// Wraps a backend as it is: no cache, no retries, no limits, no history.
    pub fn new(backend: impl LanguageModel + 'static) -> Self {
        Self::from_arc(Arc::new(backend))
    }

    /// Wraps a shared backend as it is.
    pub fn from_arc(backend: Arc<dyn LanguageModel>) -> Self {
        LM {
            backend,
            shared: Arc::default(),
        }
    }

    /// Stacks layers over `backend`; see [`LmBuilder`].
    ///
    /// ```
    /// use dspy_core::lm::{Budget, CacheConfig, DummyLm, LM};
    /// let lm = LM::builder(DummyLm::new([]))
    ///     .cache(CacheConfig::memory_only())
    ///     .retries(2)
    ///     .max_in_flight(8)
    ///     .budget(Budget::new().max_calls(100))
    ///     .history(20)
    ///     .build();
    /// assert_eq!(lm.model(), "dummy");
    /// ```
    pub fn builder(backend: impl LanguageModel + 'static) -> LmBuilder {
        LmBuilder::new(Arc::new(backend))
    }

    pub(crate) fn assemble(backend: Arc<dyn LanguageModel>, shared: Shared) -> Self {
        LM {
            backend,
            shared: Arc::new(shared),
        }
    }

    /// The LM named by the environment, with the production layers on
    /// ([`LmBuilder::with_defaults`]: memory and disk cache, retries, a concurrency limit,
    /// history). `DSPY_CACHE=off` or `memory` and `DSPY_CACHE_DIR` steer the cache.
    ///
    /// `DSPY_LM=provider/model` picks the model (`openai/gpt-4o-mini`, `ollama/llama3.2`,
    /// `openrouter/...`, or any `name/model` with `OPENAI_BASE_URL` set); without it,
    /// `OPENAI_API_KEY` alone selects `openai/gpt-4o-mini`. `DSPY_LM_MODE=completion` uses the
    /// text completions endpoint (base models). With no endpoint configured (or `DSPY_LM=local`)
    /// and the `local` feature on, this is [`LM::local`] (`DSPY_LM=local-instruct`:
    /// [`LM::local_instruct`]); otherwise
    /// [`Error::Config`](crate::Error::Config) saying what to set.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), reading the variables through `get` (a `.env` map, a
    /// config file, a test). The local model's own variables (`DSPY_LOCAL_MODEL`...) are still
    /// read from the process environment.
    ///
    /// ```
    /// use dspy_core::LM;
    /// let vars = [("DSPY_LM", "ollama/llama3.2")];
    /// let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// # #[cfg(feature = "openai")]
    /// assert_eq!(LM::from_lookup(get).unwrap().model(), "llama3.2");
    /// ```
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        #[cfg(feature = "openai")]
        {
            if let Some(lm) = super::openai::OpenAiLm::from_lookup(&get)? {
                return Ok(LM::builder(lm).with_defaults().build());
            }
        }
        let spec = get("DSPY_LM").unwrap_or_default();
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("local-instruct") {
            #[cfg(feature = "local")]
            return LM::local_instruct();
            #[cfg(not(feature = "local"))]
            return Err(crate::Error::config(
                "DSPY_LM=local-instruct needs dspy's `local` feature (the embedded llama.cpp \
                 model): enable it",
            ));
        }
        let wants_local =
            spec.eq_ignore_ascii_case("local") || spec.to_ascii_lowercase().starts_with("local/");
        if !spec.is_empty() && !wants_local && cfg!(not(feature = "openai")) {
            return Err(crate::Error::config(format!(
                "DSPY_LM=`{spec}` names an HTTP endpoint, but dspy was built without its `openai` \
                 feature: enable it, or unset DSPY_LM"
            )));
        }
        #[cfg(feature = "local")]
        {
            LM::local()
        }
        #[cfg(not(feature = "local"))]
        {
            Err(crate::Error::config(if wants_local {
                "DSPY_LM=local needs dspy's `local` feature (the embedded llama.cpp model): enable it"
            } else {
                "no LM configured: set DSPY_LM=openai/gpt-4o-mini and OPENAI_API_KEY (or OPENAI_BASE_URL for \
                 an OpenAI-compatible server such as vLLM, Ollama or llama.cpp), or enable dspy's `local` \
                 feature to run a small model in process"
            }))
        }
    }

    /// The embedded local model ([`LocalLm`](super::LocalLm)): Gemma 3 270M unless
    /// `DSPY_LOCAL_MODEL` names another GGUF file, fetched on first use. Handles from this
    /// function share one engine while any of them lives.
    #[cfg(feature = "local")]
    pub fn local() -> Result<Self> {
        // The production layers, but no retries: a local engine does not fail transiently.
        Ok(LM::builder(super::LocalLm::shared()?)
            .with_defaults()
            .retries(0)
            .build())
    }

    /// The small instruction-tuned local model (SmolLM2 135M Instruct, see
    /// [`LocalLmBuilder::instruct_model`](super::LocalLmBuilder::instruct_model)) with the
    /// production layers, fetched on first use: a prompt model for optimizers when the task
    /// model is a base model, with no endpoint needed. Every call starts another engine.
    ///
    /// ```no_run
    /// use dspy_core::LM;
    /// let proposer = LM::local_instruct()?;
    /// assert!(proposer.capabilities().chat);
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    #[cfg(feature = "local")]
    pub fn local_instruct() -> Result<Self> {
        let local = super::LocalLm::builder().instruct_model().build()?;
        Ok(LM::builder(local).with_defaults().retries(0).build())
    }

    /// An OpenAI chat model (`OPENAI_API_KEY`, and `OPENAI_BASE_URL` if set, from the
    /// environment), with the production layers on, as [`LM::from_env`].
    #[cfg(feature = "openai")]
    pub fn openai(model: &str) -> Result<Self> {
        let backend = super::openai::OpenAiLm::builder(model)
            .from_env_vars()
            .build()?;
        Ok(LM::builder(backend).with_defaults().build())
    }

    /// The backend's model name.
    pub fn model(&self) -> &str {
        self.backend.model()
    }

    /// What the backend supports.
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// Runs one request through the layers.
    ///
    /// Fails with [`Error::Budget`](crate::Error::Budget), before anything is sent, once the
    /// LM's budget is spent.
    pub async fn complete(&self, request: LmRequest) -> Result<LmResponse> {
        let span = self.span();
        self.run(request, span.clone()).instrument(span).await
    }

    /// Runs one request through the layers, yielding the answer as it is generated:
    /// [`LmChunk::Delta`]s of the first choice's text, then [`LmChunk::Done`] with the whole
    /// response, exactly what [`complete`](Self::complete) would have returned.
    ///
    /// The budget is checked before anything is sent (a spent budget is an `Err` as the only
    /// item); usage, history and the `dspy.lm` span are recorded when the stream ends, before
    /// the last item is yielded. A stream dropped before its end frees its place under the
    /// budget and counts nothing, as a dropped [`complete`](Self::complete) does. Through the
    /// layers: a cache hit streams as one delta; an answer streamed to its end is cached;
    /// retries happen only before the first chunk (once text has been yielded, a failure is
    /// returned as it is).
    ///
    /// ```
    /// use dspy_core::adapter::Prompt;
    /// use dspy_core::lm::{DummyLm, LM, LmChunk, LmRequest};
    /// use futures_util::StreamExt;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(DummyLm::new([serde_json::json!({"answer": "Paris"})]));
    /// let mut stream = lm.stream(LmRequest::new(Prompt::Text("Capital of France?".into())));
    /// let mut text = String::new();
    /// while let Some(chunk) = stream.next().await {
    ///     match chunk.unwrap() {
    ///         LmChunk::Delta(delta) => text.push_str(&delta),
    ///         LmChunk::Done(response) => assert_eq!(response.choices[0].text, text),
    ///     }
    /// }
    /// assert_eq!(text, "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]\n");
    /// assert_eq!(lm.usage().calls, 1);
    /// # });
    /// ```
    pub fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        let span = self.span();
        let recorder = span.clone();
        Box::pin(generate(move |mut y| {
            async move {
                let model = self.model();
                let started = match self.start(&recorder) {
                    Ok(started) => started,
                    Err(error) => return y.send(Err(error)).await,
                };
                let kept = self.shared.history.as_ref().map(|_| request.clone());
                let mut inner = self.backend.stream(request);
                let outcome = loop {
                    match inner.next().await {
                        Some(Ok(LmChunk::Delta(text))) => y.send(Ok(LmChunk::Delta(text))).await,
                        Some(Ok(LmChunk::Done(response))) => break Ok(response),
                        Some(Err(error)) => break Err(error),
                        None => {
                            break Err(Error::lm(
                                LmErrorKind::Backend,
                                format!(
                                    "the stream from `{model}` ended without its final chunk; a \
                                     LanguageModel::stream must end with LmChunk::Done or an error"
                                ),
                            ));
                        }
                    }
                };
                drop(inner);
                self.finish(started, &recorder, kept, &outcome);
                y.send(outcome.map(LmChunk::Done)).await;
            }
            .instrument(span)
        }))
    }

    /// The `dspy.lm` span of one call.
    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "dspy.lm",
            model = self.model(),
            prompt_tokens = tracing::field::Empty,
            completion_tokens = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            cache_hit = tracing::field::Empty,
            error = tracing::field::Empty,
        )
    }

    async fn run(&self, request: LmRequest, span: tracing::Span) -> Result<LmResponse> {
        let started = self.start(&span)?;
        let kept = self.shared.history.as_ref().map(|_| request.clone());
        let outcome = self.backend.complete(request).await;
        self.finish(started, &span, kept, &outcome);
        outcome
    }

    /// Lets a call through the budget and starts its clocks.
    fn start(&self, span: &tracing::Span) -> Result<Started<'_>> {
        let admission = self.shared.meter.admit(self.model()).inspect_err(|e| {
            span.record("error", tracing::field::display(e));
        })?;
        Ok(Started {
            admission,
            timestamp: SystemTime::now(),
            instant: Instant::now(),
        })
    }

    /// Counts how a call ended: usage and budget, the span's fields, the history.
    fn finish(
        &self,
        started: Started<'_>,
        span: &tracing::Span,
        request: Option<LmRequest>,
        outcome: &Result<LmResponse>,
    ) {
        let model = self.model();
        let latency = started.instant.elapsed();
        started.admission.finish(model, outcome);
        span.record("latency_ms", latency.as_millis() as u64);
        match outcome {
            Ok(response) => {
                span.record("prompt_tokens", response.usage.prompt_tokens);
                span.record("completion_tokens", response.usage.completion_tokens);
                span.record("cache_hit", response.cached);
            }
            Err(error) => {
                span.record("error", tracing::field::display(error));
            }
        }
        if let (Some(history), Some(request)) = (&self.shared.history, request) {
            history.push(HistoryEntry {
                timestamp: started.timestamp,
                model: model.to_string(),
                request,
                outcome: match outcome {
                    Ok(response) => Ok(response.clone()),
                    Err(error) => Err(error.to_string()),
                },
                latency,
            });
        }
    }

    /// The shared backend: the outermost layer, or the backend itself when there are none.
    pub fn backend(&self) -> &Arc<dyn LanguageModel> {
        &self.backend
    }

    /// What this LM (and its clones) used so far.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use dspy_core::lm::{DummyLm, LM, LmRequest};
    /// let lm = LM::new(DummyLm::new([serde_json::json!({"a": "1"})]));
    /// lm.complete(LmRequest::new(dspy_core::adapter::Prompt::Text("hi".into()))).await.unwrap();
    /// assert_eq!(lm.usage().calls, 1);
    /// # });
    /// ```
    pub fn usage(&self) -> UsageReport {
        self.shared.meter.report()
    }

    /// The budget, if one was set.
    pub fn budget(&self) -> Option<Budget> {
        self.shared.meter.budget()
    }

    /// The prices used for [`UsageReport::cost`].
    pub fn prices(&self) -> &PriceTable {
        self.shared.meter.prices()
    }

    /// The cache settings, if the LM caches.
    pub fn cache_config(&self) -> Option<&CacheConfig> {
        self.shared.cache.as_ref()
    }

    /// The last `n` calls, oldest first (empty unless the LM keeps a history:
    /// [`LmBuilder::history`]).
    pub fn history(&self, n: usize) -> Vec<HistoryEntry> {
        self.shared
            .history
            .as_ref()
            .map_or_else(Vec::new, |h| h.last(n))
    }

    /// How many calls the history keeps (0: none).
    pub fn history_capacity(&self) -> usize {
        self.shared.history.as_ref().map_or(0, History::capacity)
    }

    /// Prints the last `n` calls as DSPy's `inspect_history` does: each message, then the
    /// response (in colour on a terminal).
    pub fn inspect_history(&self, n: usize) {
        use std::io::{IsTerminal, Write};
        let mut stdout = std::io::stdout();
        let text = if self.shared.history.is_none() {
            "No history kept for this LM: build it with LM::builder(..).history(n).\n".to_string()
        } else {
            format_history(&self.history(n), stdout.is_terminal())
        };
        // Printing is best effort, like print!, without its panic on a closed stdout.
        let _ = stdout.write_all(text.as_bytes());
    }
}

impl fmt::Debug for LM {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LM")
            .field("backend", &self.backend)
            .field("budget", &self.shared.meter.budget())
            .field("history", &self.history_capacity())
            .finish()
    }
}

#[cfg(all(test, not(feature = "local")))]
mod tests {
    use super::*;

    #[test]
    fn without_the_local_feature_nothing_configured_says_what_to_set() {
        let err = LM::from_lookup(|_| None).unwrap_err();
        assert!(
            matches!(&err, crate::Error::Config(m) if m.contains("DSPY_LM") && m.contains("`local` feature")),
            "{err}"
        );
        let err = LM::from_lookup(|n| (n == "DSPY_LM").then(|| "local".to_string())).unwrap_err();
        assert!(err.to_string().contains("`local` feature"), "{err}");
    }
}
