//! The OpenAI-compatible backend: OpenAI itself and every server that speaks its HTTP API (vLLM,
//! Ollama, llama.cpp server, OpenRouter, LM Studio, ...), on [async-openai](https://docs.rs/async-openai).
//!
//! - [`Mode::Chat`] calls `/chat/completions`; [`Mode::Completion`] calls `/completions`, for base
//!   models that only continue text.
//! - When a request carries a response schema (the [`JsonAdapter`](crate::adapter::JsonAdapter)
//!   asks for one), it is sent as `response_format: {type: "json_schema", ...}`.
//! - Failures become [`Error::Lm`](crate::Error::Lm) with a [`LmErrorKind`](crate::LmErrorKind) a
//!   caller can act on, and the `Retry-After` the provider sent. Messages never contain the API key.
//! - [`LanguageModel::stream`] streams for real on both endpoints (server-sent events), asking
//!   for the token usage in the last chunk (`stream_options.include_usage`; turn it off with
//!   [`OpenAiLmBuilder::stream_usage`] for servers that reject it, and the usage is then 0).
//! - No hidden retries: async-openai's built-in retry layer is replaced by a plain transport, so
//!   retrying is the job of dspy's retry layer, which sees every attempt.

mod convert;
mod embed;
mod embedder;
mod env;
mod error;
mod finetune;
mod transport;

pub use embedder::OpenAiEmbedder;
pub use finetune::OpenAiFinetuner;

use super::stream::Yielder;
use super::{
    BoxFuture, Capabilities, ChunkStream, EmbedRequest, EmbedResponse, LanguageModel, LmChunk,
    LmRequest, LmResponse, generate,
};
use crate::{Error, Result};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use futures_util::StreamExt;
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// OpenAI's API.
pub(crate) const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// Ollama's OpenAI-compatible API on its default port.
pub(crate) const OLLAMA_BASE_URL: &str = "http://localhost:11434/v1";
/// OpenRouter's API.
pub(crate) const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// How long one request may take, unless [`OpenAiLmBuilder::timeout`] or [`TIMEOUT_VAR`] says
/// otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The environment variable that sets the request timeout, in seconds (`30`, `2.5`), for every
/// [`OpenAiLm`] built without an explicit [`OpenAiLmBuilder::timeout`].
pub const TIMEOUT_VAR: &str = "DSPY_LM_TIMEOUT";
/// How close to the timeout a broken stream counts as timed out (timers are not exact).
const TIMEOUT_SLACK: Duration = Duration::from_millis(100);

/// Which endpoint to call.
///
/// ```
/// use dspy_core::lm::Mode;
/// assert_eq!("completion".parse::<Mode>().unwrap(), Mode::Completion);
/// assert_eq!(Mode::default(), Mode::Chat);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// `/chat/completions`: chat models (the default).
    #[default]
    Chat,
    /// `/completions`: base models that continue a text prompt.
    Completion,
}

impl FromStr for Mode {
    type Err = Error;

    /// `chat` or `completion` (also `completions` and `text`), in any case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "chat" => Ok(Mode::Chat),
            "completion" | "completions" | "text" => Ok(Mode::Completion),
            _ => Err(Error::config(format!(
                "unknown LM mode `{s}`: use `chat` (chat models) or `completion` (base models)"
            ))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Chat => "chat",
            Mode::Completion => "completion",
        })
    }
}

/// A model behind an OpenAI-compatible HTTP API.
///
/// ```
/// use dspy_core::lm::{LM, Mode, OpenAiLm};
/// let lm = OpenAiLm::builder("llama3.2")
///     .base_url("http://localhost:11434/v1")
///     .build()
///     .unwrap();
/// assert_eq!(lm.base_url(), "http://localhost:11434/v1");
/// assert_eq!(lm.mode(), Mode::Chat);
/// let lm = LM::new(lm); // what predictors hold
/// assert_eq!(lm.model(), "llama3.2");
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub struct OpenAiLm {
    model: String,
    base_url: String,
    /// The endpoint's URL without credentials, for messages.
    shown_url: String,
    mode: Mode,
    structured_output: bool,
    /// Whether the server takes a JSON schema; if not, JSON mode (`json_object`) is asked for.
    json_schema: bool,
    timeout: Duration,
    /// OpenAI's own API wants `max_completion_tokens`; compatible servers mostly know only
    /// `max_tokens`.
    max_completion_tokens: bool,
    /// Whether streamed requests ask for usage in their last chunk.
    stream_usage: bool,
    /// Kept only to scrub it from error messages.
    api_key: Option<String>,
    /// Set once the server refused a JSON-schema `response_format` and took `json_object`:
    /// later requests ask for `json_object` straight away.
    schema_refused: std::sync::atomic::AtomicBool,
    client: Client<OpenAIConfig>,
}

impl OpenAiLm {
    /// A builder for `model`, on OpenAI's API unless [`base_url`](OpenAiLmBuilder::base_url) says
    /// otherwise.
    pub fn builder(model: &str) -> OpenAiLmBuilder {
        OpenAiLmBuilder {
            model: model.to_string(),
            base_url: None,
            api_key: None,
            organization: None,
            project: None,
            mode: Mode::Chat,
            structured_output: true,
            json_schema: true,
            stream_usage: true,
            timeout: None,
        }
    }

    /// The LM the environment names, or `None` when nothing is configured.
    ///
    /// - `DSPY_LM=provider/model`: `openai/gpt-4o-mini` (needs `OPENAI_API_KEY`),
    ///   `ollama/llama3.2` (`http://localhost:11434/v1`, no key), `openrouter/<model>` (needs
    ///   `OPENROUTER_API_KEY`); any other provider needs `OPENAI_BASE_URL` and sends the model
    ///   name after the first `/` (`vllm/meta-llama/Llama-3.1-8B-Instruct`). A name without `/` is
    ///   an OpenAI model. `local` and `local/...` name the in-process model: `None` here.
    /// - `OPENAI_BASE_URL` replaces the provider's URL; `OPENAI_API_KEY` is sent to OpenAI, to
    ///   that URL, and to unknown providers.
    /// - Without `DSPY_LM`, `OPENAI_API_KEY` or `OPENAI_BASE_URL` alone selects `gpt-4o-mini`.
    /// - `DSPY_LM_MODE=completion` calls `/completions` (base models); the default is `chat`.
    ///
    /// A configuration that is named but incomplete (no key for OpenAI) is
    /// [`Error::Config`](crate::Error::Config) naming the variable to set.
    pub fn from_env() -> Result<Option<OpenAiLm>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), reading the variables through `get` (a `.env` map, a
    /// config file, a test).
    ///
    /// ```
    /// use dspy_core::lm::OpenAiLm;
    /// let vars = [("DSPY_LM", "ollama/llama3.2")];
    /// let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// let lm = OpenAiLm::from_lookup(get).unwrap().unwrap();
    /// assert_eq!(lm.base_url(), "http://localhost:11434/v1");
    /// assert!(OpenAiLm::from_lookup(|_| None).unwrap().is_none());
    /// ```
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<OpenAiLm>> {
        env::from_lookup(get)?
            .map(OpenAiLmBuilder::build)
            .transpose()
    }

    /// The API's base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The endpoint called.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn error_context(&self) -> error::Context<'_> {
        error::Context {
            url: &self.shown_url,
            model: &self.model,
            timeout: self.timeout,
            secret: self.api_key.as_deref(),
        }
    }

    /// How to ask for JSON: by schema, unless this server takes none (it said so, or refused one
    /// before) or the schema is one strict mode cannot express (an open map), where DSPy asks
    /// for any JSON object.
    fn json_format(&self, request: &LmRequest) -> convert::JsonFormat {
        let loose = request.response_schema.as_ref().is_some_and(|s| !s.strict);
        if loose || !self.json_schema || self.schema_refused.load(Ordering::Relaxed) {
            convert::JsonFormat::Object
        } else {
            convert::JsonFormat::Schema
        }
    }

    async fn run(&self, request: LmRequest) -> Result<LmResponse> {
        match self.mode {
            Mode::Chat => {
                self.with_json_fallback(&request, |format| self.chat(&request, format))
                    .await
            }
            Mode::Completion => {
                let body = convert::completion_request(&self.model, &request)?;
                let response: convert::CompletionResponse = self
                    .client
                    .completions()
                    .create_byot(body)
                    .await
                    .map_err(|e| error::from_openai(e, &self.error_context()))?;
                convert::from_completion_response(response, &self.model, &self.error_context())
            }
        }
    }

    /// Runs `attempt` asking for JSON the way this server takes it. Many compatible servers
    /// (llama.cpp's Python server, older vLLM) reject a JSON-schema `response_format` but take
    /// `json_object`: after such a refusal the request is tried once more with `json_object`, and
    /// once that works, later requests ask for it straight away (as DSPy falls back).
    async fn with_json_fallback<T, F, Fut>(&self, request: &LmRequest, attempt: F) -> Result<T>
    where
        F: Fn(convert::JsonFormat) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let format = self.json_format(request);
        match attempt(format).await {
            Err(error)
                if request.response_schema.is_some()
                    && format == convert::JsonFormat::Schema
                    && schema_refusal(&error) =>
            {
                let retried = attempt(convert::JsonFormat::Object).await;
                if retried.is_ok() {
                    self.schema_refused.store(true, Ordering::Relaxed);
                }
                retried
            }
            other => other,
        }
    }

    async fn chat(&self, request: &LmRequest, format: convert::JsonFormat) -> Result<LmResponse> {
        let body = convert::chat_request(&self.model, request, self.max_completion_tokens, format)?;
        let response: convert::ChatResponse = self
            .client
            .chat()
            .create_byot(body)
            .await
            .map_err(|e| error::from_openai(e, &self.error_context()))?;
        convert::from_chat_response(response, &self.model, &self.error_context())
    }

    /// Posts the texts to `/embeddings` with this model.
    async fn embed_texts(&self, request: EmbedRequest) -> Result<EmbedResponse> {
        let url = format!("{}/embeddings", without_credentials(&self.base_url));
        let ctx = error::Context {
            url: &url,
            ..self.error_context()
        };
        let body: embed::EmbeddingsBody = self
            .client
            .embeddings()
            .create_byot(embed::body(&self.model, &request))
            .await
            .map_err(|e| error::from_openai(e, &ctx))?;
        embed::response(body, &ctx)
    }

    /// Sends a streaming request and yields its text as it comes; the final response is
    /// assembled from the chunks.
    async fn run_stream(&self, request: LmRequest, y: &mut Yielder<Result<LmChunk>>) -> Result<()> {
        let ctx = self.error_context();
        let fail = |e| error::from_openai(e, &ctx);
        let started = Instant::now();
        // A stream cut by the client's timeout surfaces as a bare stream error: tell it by the
        // clock, so it is a Timeout like any other.
        let fail_event = |e| match started.elapsed() + TIMEOUT_SLACK >= self.timeout {
            true => error::stream_timeout(&ctx),
            false => error::from_openai(e, &ctx),
        };
        let mut assembler = convert::Assembler::new(request.n);
        match self.mode {
            Mode::Chat => {
                // A refused schema fails the request before any chunk: safe to try again.
                let request = &request;
                let fail = &fail;
                let open = |format| async move {
                    let body = convert::chat_request(
                        &self.model,
                        request,
                        self.max_completion_tokens,
                        format,
                    )?;
                    let body = convert::streaming(body, self.stream_usage)?;
                    self.client
                        .chat()
                        .create_stream_byot::<Value, convert::ChatChunk>(body)
                        .await
                        .map_err(fail)
                };
                let mut events = self.with_json_fallback(request, open).await?;
                while let Some(event) = events.next().await {
                    let delta = assembler.add_chat(event.map_err(fail_event)?, &ctx)?;
                    if !delta.is_empty() {
                        y.send(Ok(LmChunk::Delta(delta))).await;
                    }
                }
            }
            Mode::Completion => {
                let body = convert::completion_request(&self.model, &request)?;
                let body = convert::streaming(body, self.stream_usage)?;
                let mut events = self
                    .client
                    .completions()
                    .create_stream_byot::<Value, convert::CompletionChunk>(body)
                    .await
                    .map_err(fail)?;
                while let Some(event) = events.next().await {
                    let delta = assembler.add_completion(event.map_err(fail_event)?, &ctx)?;
                    if !delta.is_empty() {
                        y.send(Ok(LmChunk::Delta(delta))).await;
                    }
                }
            }
        }
        let response = assembler.finish(&self.model, &ctx)?;
        y.send(Ok(LmChunk::Done(response))).await;
        Ok(())
    }
}

impl LanguageModel for OpenAiLm {
    fn model(&self) -> &str {
        &self.model
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.shown_url)
    }

    /// Chat in [`Mode::Chat`]; a `response_format` when enabled (the default) and in chat mode,
    /// since `/completions` has none: a JSON schema, or JSON mode where the schema is off.
    fn capabilities(&self) -> Capabilities {
        let chat = self.mode == Mode::Chat;
        Capabilities {
            chat,
            structured_output: self.structured_output && self.json_schema && chat,
            json_object: self.structured_output && chat,
            schema_enforced: false,
        }
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>> {
        Box::pin(self.run(request))
    }

    /// Streams over server-sent events (`stream: true`) on either endpoint.
    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            if let Err(error) = self.run_stream(request, &mut y).await {
                y.send(Err(error)).await;
            }
        }))
    }

    /// `/embeddings` with this model (so build the backend with an embedding model's name).
    fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse>> {
        Box::pin(self.embed_texts(request))
    }
}

impl fmt::Debug for OpenAiLm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OpenAiLm");
        // Without user-info: `http://user:KEY@host` carries a secret too.
        d.field("model", &self.model)
            .field("base_url", &without_credentials(&self.base_url))
            .field("mode", &self.mode)
            .field("structured_output", &self.structured_output)
            .field("json_schema", &self.json_schema)
            .field("timeout", &self.timeout);
        redacted_key(&mut d, self.api_key.is_some());
        d.finish()
    }
}

/// Builds an [`OpenAiLm`]; see [`OpenAiLm::builder`].
///
/// ```
/// use dspy_core::lm::{LanguageModel, Mode, OpenAiLm};
/// use std::time::Duration;
/// let lm = OpenAiLm::builder("Qwen/Qwen2.5-0.5B")
///     .base_url("http://localhost:8000/v1/")
///     .api_key("EMPTY")
///     .mode(Mode::Completion)
///     .timeout(Duration::from_secs(30))
///     .build()
///     .unwrap();
/// assert_eq!(lm.base_url(), "http://localhost:8000/v1");
/// assert!(!lm.capabilities().chat);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
#[derive(Clone)]
pub struct OpenAiLmBuilder {
    model: String,
    base_url: Option<String>,
    api_key: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    mode: Mode,
    structured_output: bool,
    json_schema: bool,
    stream_usage: bool,
    timeout: Option<Duration>,
}

impl OpenAiLmBuilder {
    /// The API's base URL, up to and including `/v1` (default: `https://api.openai.com/v1`).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API key, sent as `Authorization: Bearer <key>`. Required for OpenAI and OpenRouter;
    /// local servers mostly need none.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The OpenAI organization (`OpenAI-Organization` header).
    #[must_use]
    pub fn organization(mut self, id: impl Into<String>) -> Self {
        self.organization = Some(id.into());
        self
    }

    /// The OpenAI project (`OpenAI-Project` header).
    #[must_use]
    pub fn project(mut self, id: impl Into<String>) -> Self {
        self.project = Some(id.into());
        self
    }

    /// Chat (`/chat/completions`, the default) or text completion (`/completions`).
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether the server honours `response_format` (default: true). Turn it off for servers
    /// that reject it; the JSON adapter then asks for JSON in the prompt only (as DSPy does for
    /// models it does not know support it).
    #[must_use]
    pub fn structured_output(mut self, enabled: bool) -> Self {
        self.structured_output = enabled;
        self
    }

    /// Whether the server takes a JSON schema as `response_format` (default: true). Turn it off
    /// for servers that take only JSON mode: the JSON adapter then asks for any JSON object
    /// (`{"type": "json_object"}`), as DSPy does for models without schema support. A server
    /// that refuses a schema is switched to JSON mode on its first refusal anyway; this saves
    /// that request.
    ///
    /// ```
    /// use dspy_core::lm::{LanguageModel, OpenAiLm};
    /// let lm = OpenAiLm::builder("m").base_url("http://localhost:1/v1").json_schema(false).build().unwrap();
    /// let caps = lm.capabilities();
    /// assert!(caps.json_object && !caps.structured_output);
    /// ```
    #[must_use]
    pub fn json_schema(mut self, enabled: bool) -> Self {
        self.json_schema = enabled;
        self
    }

    /// Whether streamed requests ask for the token usage in their last chunk
    /// (`stream_options: {"include_usage": true}`; default: true). Turn it off for servers that
    /// reject the option; streamed calls then report no usage.
    #[must_use]
    pub fn stream_usage(mut self, enabled: bool) -> Self {
        self.stream_usage = enabled;
        self
    }

    /// How long one request may take before it fails with
    /// [`LmErrorKind::Timeout`](crate::LmErrorKind::Timeout), a streamed one included (default:
    /// `DSPY_LM_TIMEOUT` seconds if set, else 120 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Fills what is not set yet from `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID` and
    /// `OPENAI_PROJECT_ID`.
    #[must_use]
    pub fn from_env_vars(self) -> Self {
        self.env_vars_from(|name| std::env::var(name).ok())
    }

    fn env_vars_from(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        self.api_key = self.api_key.or_else(|| get("OPENAI_API_KEY"));
        self.base_url = self.base_url.or_else(|| get("OPENAI_BASE_URL"));
        self.organization = self.organization.or_else(|| get("OPENAI_ORG_ID"));
        self.project = self.project.or_else(|| get("OPENAI_PROJECT_ID"));
        self
    }

    /// Checks the settings and builds the client; nothing is sent yet.
    ///
    /// Fails with [`Error::Config`](crate::Error::Config) on an empty model name, a base URL that
    /// is not `http(s)://...`, a missing key for OpenAI or OpenRouter, or a key that cannot be
    /// sent in a header.
    pub fn build(self) -> Result<OpenAiLm> {
        let model = self.model.trim().to_string();
        if model.is_empty() {
            return Err(Error::config(
                "the model name is empty; name one, e.g. OpenAiLm::builder(\"gpt-4o-mini\") or \
                 DSPY_LM=openai/gpt-4o-mini",
            ));
        }
        let (base_url, host) =
            normalize_base_url(self.base_url.as_deref().unwrap_or(OPENAI_BASE_URL))?;
        let api_key = self
            .api_key
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        if api_key.is_none()
            && let Some(variable) = key_variable_for(&host)
        {
            return Err(Error::config(format!(
                "no API key for {base_url}: set {variable} (or pass one with .api_key(..))"
            )));
        }
        if let Some(key) = &api_key {
            check_header_value(key, "the API key")?;
        }
        let organization = self
            .organization
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        check_header_value(&organization, "the OpenAI organization id")?;
        let project = self
            .project
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        check_header_value(&project, "the OpenAI project id")?;

        let timeout = match self.timeout {
            Some(timeout) => timeout,
            None => timeout_from(std::env::var(TIMEOUT_VAR).ok().as_deref())?,
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::config(format!("could not set up the HTTP client: {e}")))?;
        // Every field is set here, so nothing async-openai reads from the environment remains.
        let config = OpenAIConfig::new()
            .with_api_base(base_url.clone())
            .with_api_key(api_key.clone().unwrap_or_default())
            .with_org_id(organization)
            .with_project_id(project);
        let client = Client::build(http.clone(), config)
            .with_http_service(transport::Transport::new(http, api_key.as_deref()));
        let endpoint = match self.mode {
            Mode::Chat => "/chat/completions",
            Mode::Completion => "/completions",
        };
        Ok(OpenAiLm {
            model,
            shown_url: format!("{}{endpoint}", without_credentials(&base_url)),
            max_completion_tokens: host == "api.openai.com",
            base_url,
            mode: self.mode,
            structured_output: self.structured_output,
            json_schema: self.json_schema,
            stream_usage: self.stream_usage,
            timeout,
            api_key,
            schema_refused: Default::default(),
            client,
        })
    }
}

/// The timeout [`TIMEOUT_VAR`] sets (its value given), or the default when it is unset.
fn timeout_from(value: Option<&str>) -> Result<Duration> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_TIMEOUT);
    };
    value
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| {
            Error::config(format!(
                "{TIMEOUT_VAR}=`{value}` is not a timeout: give seconds, e.g. {TIMEOUT_VAR}=30"
            ))
        })
}

/// Whether `error` may be a server refusing a JSON-schema `response_format`, so the request is
/// worth one more try with `json_object`: a 400 or 422, or a 500 that names the parameter (as
/// llama.cpp's Python server answers). A plain 500 is a flaky server, for the retry layer.
fn schema_refusal(error: &Error) -> bool {
    match error {
        Error::Lm { kind, message, .. } => match kind {
            crate::LmErrorKind::BadRequest => true,
            crate::LmErrorKind::Server => {
                message.contains("response_format") || message.contains("json_schema")
            }
            _ => false,
        },
        _ => false,
    }
}

impl fmt::Debug for OpenAiLmBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OpenAiLmBuilder");
        d.field("model", &self.model)
            .field(
                "base_url",
                &self.base_url.as_deref().map(without_credentials),
            )
            .field("mode", &self.mode)
            .field("structured_output", &self.structured_output)
            .field("json_schema", &self.json_schema)
            .field("timeout", &self.timeout);
        redacted_key(&mut d, self.api_key.is_some());
        d.finish()
    }
}

fn redacted_key(d: &mut fmt::DebugStruct<'_, '_>, present: bool) {
    if present {
        d.field("api_key", &"<redacted>");
    } else {
        d.field("api_key", &None::<()>);
    }
}

/// The environment variable that holds the key a known host requires.
fn key_variable_for(host: &str) -> Option<&'static str> {
    match host {
        "api.openai.com" => Some("OPENAI_API_KEY"),
        "openrouter.ai" => Some("OPENROUTER_API_KEY"),
        _ => None,
    }
}

/// Trims whitespace and trailing slashes (async-openai appends `/chat/completions`), and checks
/// the URL is `http(s)://host...`. Returns the URL and its host, lowercased.
fn normalize_base_url(url: &str) -> Result<(String, String)> {
    let trimmed = url.trim().trim_end_matches('/');
    let invalid = |why: String| {
        Error::config(format!(
            "the base URL `{trimmed}` is not usable ({why}); give the API root, e.g. \
             https://api.openai.com/v1 or http://localhost:8000/v1 (OPENAI_BASE_URL)"
        ))
    };
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme `{}`, expected http or https",
            parsed.scheme()
        )));
    }
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok((trimmed.to_string(), host.to_ascii_lowercase())),
        _ => Err(invalid("no host".to_string())),
    }
}

/// The URL without a `user:password@` part, for messages.
fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both only fail for URLs that cannot have credentials, which this one has.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_string()
        }
        _ => url.to_string(),
    }
}

/// async-openai panics on header values it cannot encode; refuse them here instead. The message
/// never shows the value (it may be the key).
fn check_header_value(value: &str, what: &str) -> Result<()> {
    if value
        .bytes()
        .all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t')
    {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{what} contains control characters (a stray newline or carriage return?) and cannot be \
             sent in an HTTP header; check the value you set"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key in the base URL's user-info (`http://user:KEY@host`) is a secret too.
    #[test]
    fn debug_never_shows_credentials_in_the_base_url() {
        let builder = OpenAiLm::builder("m").base_url("http://me:sk-url-SECRET@proxy.local/v1");
        let lm = builder.clone().build().unwrap();
        let handle = crate::LM::new(builder.clone().build().unwrap());
        for text in [
            format!("{builder:?}"),
            format!("{lm:?}"),
            format!("{lm:#?}"),
            format!("{handle:?}"),
        ] {
            assert!(!text.contains("SECRET") && !text.contains("me:"), "{text}");
            assert!(text.contains("proxy.local/v1"), "{text}");
        }
        assert_eq!(
            lm.endpoint(),
            Some("http://proxy.local/v1/chat/completions")
        );
    }

    #[test]
    fn timeouts_from_the_environment() {
        assert_eq!(timeout_from(None).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(timeout_from(Some(" ")).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(timeout_from(Some("30")).unwrap(), Duration::from_secs(30));
        assert_eq!(
            timeout_from(Some("2.5")).unwrap(),
            Duration::from_millis(2500)
        );
        for bad in ["0", "-1", "soon", "inf", "NaN"] {
            let error = timeout_from(Some(bad)).unwrap_err().to_string();
            assert!(
                error.contains("DSPY_LM_TIMEOUT") && error.contains(bad),
                "{error}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let builder = OpenAiLm::builder("gpt-4o-mini").api_key("sk-test-SECRET");
        let text = format!("{builder:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains(r#"api_key: "<redacted>""#), "{text}");
        assert!(text.contains("gpt-4o-mini"), "{text}");

        let lm = builder.build().unwrap();
        let text = format!("{lm:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains(r#"api_key: "<redacted>""#), "{text}");
        assert!(
            text.contains(r#"base_url: "https://api.openai.com/v1""#),
            "{text}"
        );
        assert!(text.contains("mode: Chat"), "{text}");
        let pretty = format!("{lm:#?}");
        assert!(!pretty.contains("SECRET"), "{pretty}");

        let lm = OpenAiLm::builder("llama3.2")
            .base_url("http://localhost:11434/v1")
            .build()
            .unwrap();
        assert!(format!("{lm:?}").contains("api_key: None"));
    }

    #[test]
    fn openai_needs_a_key_local_servers_do_not() {
        let err = OpenAiLm::builder("gpt-4o-mini").build().unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("OPENAI_API_KEY")),
            "{err}"
        );
        let err = OpenAiLm::builder("x")
            .base_url(OPENROUTER_BASE_URL)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("OPENROUTER_API_KEY"), "{err}");
        let err = OpenAiLm::builder("gpt-4o-mini")
            .api_key("  ")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
        assert!(
            OpenAiLm::builder("m")
                .base_url("http://127.0.0.1:8080/v1")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn builder_checks_and_normalizes() {
        let lm = OpenAiLm::builder(" m ")
            .base_url(" http://localhost:8000/v1// ")
            .build()
            .unwrap();
        assert_eq!(lm.base_url(), "http://localhost:8000/v1");
        assert_eq!(lm.model(), "m");
        assert!(!lm.max_completion_tokens);
        let lm = OpenAiLm::builder("gpt-4o").api_key("k").build().unwrap();
        assert!(lm.max_completion_tokens);

        assert!(matches!(
            OpenAiLm::builder("").build(),
            Err(Error::Config(_))
        ));
        for bad in [
            "localhost:8000/v1",
            "ftp://example.com",
            "not a url",
            "http://",
        ] {
            let err = OpenAiLm::builder("m").base_url(bad).build().unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad}: {err}");
        }
        let err = OpenAiLm::builder("m").api_key("sk-SECRET\n").build();
        assert!(err.is_ok(), "surrounding whitespace is trimmed");
        let err = OpenAiLm::builder("m")
            .api_key("sk-SEC\nRET")
            .build()
            .unwrap_err();
        assert!(matches!(&err, Error::Config(_)));
        assert!(!err.to_string().contains("SEC"), "{err}");
        let err = OpenAiLm::builder("m")
            .base_url("http://h/v1")
            .organization("org\r1")
            .build();
        assert!(matches!(err, Err(Error::Config(_))));
    }

    #[test]
    fn capabilities_follow_mode_and_flag() {
        let base = || OpenAiLm::builder("m").base_url("http://localhost:1/v1");
        let caps = base().build().unwrap().capabilities();
        assert_eq!(
            caps,
            Capabilities {
                chat: true,
                structured_output: true,
                json_object: true,
                schema_enforced: false
            }
        );
        let caps = base()
            .structured_output(false)
            .build()
            .unwrap()
            .capabilities();
        assert_eq!(
            caps,
            Capabilities {
                chat: true,
                structured_output: false,
                json_object: false,
                schema_enforced: false
            }
        );
        let caps = base().json_schema(false).build().unwrap().capabilities();
        assert_eq!(
            caps,
            Capabilities {
                chat: true,
                structured_output: false,
                json_object: true,
                schema_enforced: false
            }
        );
        let caps = base()
            .mode(Mode::Completion)
            .build()
            .unwrap()
            .capabilities();
        assert_eq!(
            caps,
            Capabilities {
                chat: false,
                structured_output: false,
                json_object: false,
                schema_enforced: false
            }
        );
    }

    /// The `response_format` this backend sends for `sig`'s JSON-adapter request.
    fn response_format(lm: &OpenAiLm, sig: &crate::SignatureInfo) -> Value {
        use crate::adapter::{Adapter, FormatRequest};
        let input = serde_json::Map::new();
        let formatted = crate::JsonAdapter::new().format(&FormatRequest {
            signature: sig,
            instructions: &sig.instructions,
            demos: &[],
            input: &input,
        });
        let mut request = LmRequest::new(formatted.prompt);
        request.response_schema = formatted.response_schema;
        let body = convert::chat_request("m", &request, false, lm.json_format(&request)).unwrap();
        serde_json::to_value(body).unwrap()["response_format"].clone()
    }

    #[test]
    fn json_requests_ask_for_what_dspy_asks_for() {
        // What DSPy 3.4.1 sent (tests/data/dspy_prompts/render.py) to a model it knows takes schemas.
        let dspy: Value = serde_json::from_str(include_str!(
            "../../../tests/data/dspy_prompts/response_formats.json"
        ))
        .unwrap();
        let sent = |case: &str| dspy[case]["openai/gpt-4o-mini"].clone();
        let lm = OpenAiLm::builder("m")
            .base_url("http://localhost:1/v1")
            .build()
            .unwrap();
        let qa = crate::SignatureInfo::new("QA")
            .input::<String>("question", "")
            .output::<String>("answer", "");
        assert_eq!(response_format(&lm, &qa), sent("qa"));
        // An open map cannot be a strict schema: any JSON object, as DSPy asks.
        let open = crate::SignatureInfo::new("Count")
            .input::<String>("text", "")
            .output::<std::collections::HashMap<String, i64>>("counts", "");
        assert_eq!(sent("open_map"), serde_json::json!({"type": "json_object"}));
        assert_eq!(response_format(&lm, &open), sent("open_map"));
        // A server that takes no schema gets JSON mode for every answer.
        let no_schema = OpenAiLm::builder("m")
            .base_url("http://localhost:1/v1")
            .json_schema(false)
            .build()
            .unwrap();
        assert_eq!(response_format(&no_schema, &qa), sent("open_map"));
    }

    #[test]
    fn env_vars_fill_only_what_is_unset() {
        let vars = [
            ("OPENAI_API_KEY", "from-env-key"),
            ("OPENAI_BASE_URL", "http://env:1/v1"),
        ];
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let b = OpenAiLm::builder("m")
            .base_url("http://mine:2/v1")
            .env_vars_from(get);
        assert_eq!(b.base_url.as_deref(), Some("http://mine:2/v1"));
        assert_eq!(b.api_key.as_deref(), Some("from-env-key"));
        let b = OpenAiLm::builder("m").api_key("mine").env_vars_from(get);
        assert_eq!(b.api_key.as_deref(), Some("mine"));
        assert_eq!(b.base_url.as_deref(), Some("http://env:1/v1"));
    }

    #[test]
    fn credentials_stay_out_of_messages() {
        assert_eq!(
            without_credentials("https://u:p@host.example/v1"),
            "https://host.example/v1"
        );
        assert_eq!(
            without_credentials("http://localhost:8000/v1"),
            "http://localhost:8000/v1"
        );
    }

    #[test]
    fn mode_parses() {
        assert_eq!(" Chat ".parse::<Mode>().unwrap(), Mode::Chat);
        assert_eq!("COMPLETIONS".parse::<Mode>().unwrap(), Mode::Completion);
        assert!(matches!("instruct".parse::<Mode>(), Err(Error::Config(_))));
        assert_eq!(Mode::Completion.to_string(), "completion");
    }
}
