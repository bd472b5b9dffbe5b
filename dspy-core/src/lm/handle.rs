//! The [`LM`] handle: what users hold and predictors call, with the budget, usage counters,
//! history and `dspy.lm` span every call passes.

use super::language_model::LanguageModel;
use super::layers::{
    Admission, Budget, CacheConfig, History, HistoryEntry, Meter, PriceTable, UsageReport,
    format_history,
};
use super::stream::{ChunkStream, LmChunk, generate};
use super::{Capabilities, EmbedRequest, EmbedResponse, LmRequest, LmResponse};
use crate::{Error, LmErrorKind, Result};
use futures_util::StreamExt;
use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tracing::Instrument;

/// The handle users hold: cheap to clone, shared by every predictor that uses it.
///
/// Clones share everything: the backend and its layers, the usage counters, the budget and the
/// history. [`LM::new`] wraps a backend as it is (usage is counted, nothing else is added, and
/// nothing touches the disk), which suits tests on [`DummyLm`](super::DummyLm);
/// [`LM::builder`] adds layers one by one; [`LM::from_env`] and [`LM::openai`] come with the
/// production set on (see [`LmBuilder::with_defaults`](super::LmBuilder::with_defaults)).
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
    pub(crate) meter: Arc<Meter>,
    /// Whether a send counter below counts each request (the builder puts one there); without
    /// it, the handle counts the one request each call sends.
    pub(crate) sends_counted: bool,
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

    pub(crate) fn assemble(backend: Arc<dyn LanguageModel>, shared: Shared) -> Self {
        LM {
            backend,
            shared: Arc::new(shared),
        }
    }

    /// The backend's model name.
    pub fn model(&self) -> &str {
        self.backend.model()
    }

    /// What the backend supports.
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// Where the model is served, without credentials; `None` in process (see
    /// [`LanguageModel::endpoint`]).
    pub fn endpoint(&self) -> Option<&str> {
        self.backend.endpoint()
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
                let outcome = started.admission.run(async { loop {
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
                }}).await;
                drop(inner);
                self.finish(started, &recorder, kept, &outcome);
                y.send(outcome.map(LmChunk::Done)).await;
            }
            .instrument(span)
        }))
    }

    /// Embeds texts through the layers: the cache (per text, so re-embedding a corpus with a
    /// few texts added sends only those), the concurrency limit, retries and the rate limit,
    /// then the backend's [`LanguageModel::embed`]. The budget, usage counters and `dspy.lm`
    /// span count it as one call whose tokens are prompt tokens; the history keeps
    /// completions only.
    ///
    /// Most code wants the [`Embedder`](super::Embedder) an `LM` is, which hands the vectors
    /// to [`VectorIndex`](crate::retrieve::VectorIndex) and `KNNFewShot`.
    ///
    /// ```
    /// use dspy_core::lm::{BoxFuture, EmbedRequest, EmbedResponse, LanguageModel, LmRequest, LmResponse, LM, Usage};
    ///
    /// /// Vectors of letter counts, one token per text.
    /// #[derive(Debug)]
    /// struct Letters;
    /// impl LanguageModel for Letters {
    ///     fn model(&self) -> &str { "letters" }
    ///     fn complete(&self, _: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
    ///         unimplemented!("an embedding model only")
    ///     }
    ///     fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, dspy_core::Result<EmbedResponse>> {
    ///         let vectors = request.texts.iter()
    ///             .map(|t| "abc".chars().map(|c| t.matches(c).count() as f32).collect())
    ///             .collect();
    ///         let usage = Usage { prompt_tokens: request.texts.len() as u64, completion_tokens: 0 };
    ///         Box::pin(async move { Ok(EmbedResponse { vectors, usage, ..Default::default() }) })
    ///     }
    /// }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(Letters);
    /// let answer = lm.embed(EmbedRequest::new(["abba", "cab"])).await.unwrap();
    /// assert_eq!(answer.vectors, [vec![2.0, 2.0, 0.0], vec![1.0, 1.0, 1.0]]);
    /// assert_eq!((lm.usage().calls, lm.usage().usage.prompt_tokens), (1, 2));
    /// # });
    /// ```
    pub async fn embed(&self, request: EmbedRequest) -> Result<EmbedResponse> {
        let span = self.span();
        async {
            let started = self.start(&span)?;
            let outcome = started.admission.run(self.backend.embed(request)).await;
            let latency = started.instant.elapsed();
            started.admission.finish_embed(self.model(), &outcome);
            span.record("latency_ms", latency.as_millis() as u64);
            match &outcome {
                Ok(response) => {
                    span.record("prompt_tokens", response.usage.prompt_tokens);
                    span.record("cache_hit", response.cached);
                }
                Err(error) => {
                    span.record("error", tracing::field::display(error));
                }
            }
            outcome
        }
        .instrument(span.clone())
        .await
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
        let outcome = started.admission.run(self.backend.complete(request)).await;
        self.finish(started, &span, kept, &outcome);
        outcome
    }

    /// Lets a call through the budget and starts its clocks.
    fn start(&self, span: &tracing::Span) -> Result<Started<'_>> {
        let admission = self.shared.meter.admit(self.model()).inspect_err(|e| {
            span.record("error", tracing::field::display(e));
        })?;
        if !self.shared.sends_counted {
            admission.mark_sent();
        }
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
    /// [`LmBuilder::history`](super::LmBuilder::history)).
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
