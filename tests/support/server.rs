//! A small OpenAI-compatible server for tests and benchmarks, on 127.0.0.1 only.
//!
//! - `POST /v1/chat/completions` and `/v1/completions` answer in OpenAI's format, after an
//!   optional latency, with usage `12 + 5` tokens. The reply is the next of the configured
//!   replies (choice `i` takes `replies[i % len]`) or, with [`Reply::Echo`], the last message.
//! - `POST /v1/embeddings` answers one vector per input text, `[characters, words, vowels]`
//!   (listed last-first, so clients must order them by `index`), with a prompt token per word.
//! - A request with `"stream": true` is answered with server-sent events as OpenAI sends them:
//!   each reply in pieces of [`STREAM_PIECE_CHARS`] characters (the choices interleaved), a
//!   last chunk per choice with its finish reason, the usage in a chunk with no choices when
//!   `stream_options.include_usage` asks for it, then `data: [DONE]`.
//! - Faults are injected on those paths by rate: 429 with `Retry-After`, 500, a stall longer
//!   than the client's timeout, and a dropped connection (the answer starts, then the body
//!   breaks off). Which request gets which fault depends only on its arrival number and the
//!   seed, so a run's fault pattern is reproducible.
//! - Fixed failures by path prefix, for error-mapping tests: `/status/{429,401,500,400}/v1/..`
//!   (401 on `/embeddings` too),
//!   `/no-schema/v1/..` (refuses a JSON-schema `response_format`),
//!   `/html/v1/..` (a web page), `/slow/v1/..` (5 s stall), `/empty-choices/v1/..` (a 200 with
//!   `choices: []`), `/echo-key/v1/..` and `/echo-key-stream/v1/..` (a 200 that is not JSON and
//!   quotes the key, whole or as a stream event), `/stall-stream/v1/..` (a stream that stalls 5 s
//!   after its first events); anything else is 404.
//! - The fine-tuning API (`/v1/files`, `/v1/fine_tuning/jobs...`), with jobs that move a step
//!   each time they are read: see `jobs.rs`. `/status/401/v1/files` and
//!   `/status/401/v1/fine_tuning/jobs` echo the key in a 401, as the completion paths do.
//! - It counts requests, faults and the most requests in flight at once, and records each
//!   request (path, `Authorization`, body) unless told not to.
//!
//! Included by tests (`mod support;`) and benches (`#[path = "../tests/support/server.rs"]`).
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "jobs.rs"]
pub(crate) mod jobs;
use jobs::Jobs;

/// The key tests send; it must never show up in errors, logs or caches.
pub(crate) const KEY: &str = "sk-test-SECRET";

/// How often each fault happens, as a fraction of requests (their sum at most 1).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Faults {
    /// 429 with `Retry-After`.
    pub rate_limited: f64,
    /// 500.
    pub server_error: f64,
    /// No answer for [`ServerConfig::stall`].
    pub timeout: f64,
    /// A 200 whose body breaks off.
    pub dropped: f64,
}

/// What the server answers.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// These texts, in turn per choice.
    Fixed(Vec<String>),
    /// The content of the last message (or the prompt): tells calls apart.
    Echo,
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    /// Wait before each answer.
    pub latency: Duration,
    /// Fault rates.
    pub faults: Faults,
    /// The `Retry-After` of injected 429s, in seconds.
    pub retry_after_secs: u64,
    /// How long an injected timeout stalls.
    pub stall: Duration,
    /// Seeds the fault pattern.
    pub seed: u64,
    /// The answer.
    pub reply: Reply,
    /// Whether to keep every request (off for benchmarks).
    pub record: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            latency: Duration::ZERO,
            faults: Faults::default(),
            retry_after_secs: 1,
            stall: Duration::from_secs(3),
            seed: 7,
            reply: Reply::Fixed(vec!["ok".into()]),
            record: true,
        }
    }
}

impl ServerConfig {
    /// Answers with `replies` in turn.
    pub(crate) fn replies(replies: &[&str]) -> Self {
        ServerConfig {
            reply: Reply::Fixed(replies.iter().map(|r| r.to_string()).collect()),
            ..Default::default()
        }
    }
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

/// What happened, counted as it happens.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub dropped: AtomicU64,
    in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    hits: Mutex<Vec<Hit>>,
}

impl Stats {
    /// Faults injected so far.
    pub(crate) fn faults(&self) -> u64 {
        [
            &self.rate_limited,
            &self.server_errors,
            &self.timeouts,
            &self.dropped,
        ]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum()
    }
}

struct Shared {
    config: ServerConfig,
    stats: Arc<Stats>,
    jobs: Arc<Jobs>,
}

/// A running server; it stops with the runtime that started it.
pub(crate) struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub root: String,
    pub stats: Arc<Stats>,
    /// The fine-tuning API's files and jobs.
    pub jobs: Arc<Jobs>,
}

impl TestServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub(crate) async fn start(config: ServerConfig) -> TestServer {
        let stats = Arc::new(Stats::default());
        let jobs = Arc::new(Jobs::default());
        let shared = Arc::new(Shared {
            config,
            stats: stats.clone(),
            jobs: jobs.clone(),
        });
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let root = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestServer { root, stats, jobs }
    }

    /// A server answering `replies` in turn, with no faults.
    pub(crate) async fn with_replies(replies: &[&str]) -> TestServer {
        Self::start(ServerConfig::replies(replies)).await
    }

    /// The API root for clients: `{root}/v1`.
    pub(crate) fn base_url(&self) -> String {
        format!("{}/v1", self.root)
    }

    /// Requests received.
    pub(crate) fn requests(&self) -> u64 {
        self.stats.requests.load(Ordering::SeqCst)
    }

    /// The most requests that were in flight at once.
    pub(crate) fn max_in_flight(&self) -> u64 {
        self.stats.max_in_flight.load(Ordering::SeqCst)
    }

    /// Every request recorded so far.
    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.stats.hits.lock().unwrap().clone()
    }

    /// A builder for `test-model` on `{root}{prefix}`, with the test key.
    pub(crate) fn builder(&self, prefix: &str) -> dspy::lm::OpenAiLmBuilder {
        dspy::lm::OpenAiLm::builder("test-model")
            .base_url(format!("{}{prefix}", self.root))
            .api_key(KEY)
    }

    /// The plain backend on `{root}/v1`, with no layers.
    pub(crate) fn lm(&self) -> dspy::LM {
        dspy::LM::new(self.builder("/v1").build().expect("test backend"))
    }

    /// The one request received; fails the test otherwise.
    pub(crate) fn only_hit(&self) -> Hit {
        let hits = self.hits();
        assert_eq!(hits.len(), 1, "expected exactly one request: {hits:#?}");
        hits.into_iter().next().unwrap()
    }
}

/// Counts a request in flight until dropped (also when the client goes away mid-answer).
struct InFlight<'a>(&'a Stats);

impl<'a> InFlight<'a> {
    fn enter(stats: &'a Stats) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    RateLimited,
    ServerError,
    Timeout,
    Dropped,
}

/// A uniform number in [0, 1) from the seed and the request's number (splitmix64).
fn unit(seed: u64, n: u64) -> f64 {
    let mut z = seed
        .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn pick_fault(faults: &Faults, x: f64) -> Fault {
    let mut edge = faults.rate_limited;
    if x < edge {
        return Fault::RateLimited;
    }
    edge += faults.server_error;
    if x < edge {
        return Fault::ServerError;
    }
    edge += faults.timeout;
    if x < edge {
        return Fault::Timeout;
    }
    edge += faults.dropped;
    if x < edge {
        return Fault::Dropped;
    }
    Fault::None
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: String,
) -> Response {
    let stats = &*shared.stats;
    let config = &shared.config;
    let n = stats.requests.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight::enter(stats);
    let path = uri.path().to_string();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = serde_json::from_str(&raw).unwrap_or_else(|_| Value::String(raw.clone()));
    if config.record {
        stats.hits.lock().unwrap().push(Hit {
            path: path.clone(),
            authorization: authorization.clone(),
            body: body.clone(),
        });
    }
    if !config.latency.is_zero() {
        tokio::time::sleep(config.latency).await;
    }

    if let Some(response) =
        shared
            .jobs
            .handle(&method, &path, &headers, &raw, &sent_key(&authorization))
    {
        return response;
    }
    let model = body["model"].as_str().unwrap_or_default();
    if path != "/v1/embeddings" && model.starts_with("ft:") && !shared.jobs.serves(model) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({"error": {"message": format!("The model `{model}` does not exist"),
                "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
            ),
        )
            .into_response();
    }
    match path.as_str() {
        "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings" => {
            match pick_fault(&config.faults, unit(config.seed, n)) {
                Fault::None => answer(config, &path, &body),
                Fault::RateLimited => {
                    stats.rate_limited.fetch_add(1, Ordering::SeqCst);
                    rate_limited(config.retry_after_secs)
                }
                Fault::ServerError => {
                    stats.server_errors.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
                }
                Fault::Timeout => {
                    stats.timeouts.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(config.stall).await;
                    answer(config, &path, &body)
                }
                Fault::Dropped if is_streaming(&body) => {
                    stats.dropped.fetch_add(1, Ordering::SeqCst);
                    // A stream that starts, then breaks off midway.
                    let mut events = stream_events(config, &path, &body);
                    events.truncate(3);
                    sse(events, true)
                }
                Fault::Dropped => {
                    stats.dropped.fetch_add(1, Ordering::SeqCst);
                    let broken = futures_util::stream::iter([
                        Ok(axum::body::Bytes::from_static(b"{\"id\": \"chatcmpl-")),
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "connection dropped by the test server",
                        )),
                    ]);
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        Body::from_stream(broken),
                    )
                        .into_response()
                }
            }
        }
        "/status/429/v1/chat/completions" => rate_limited(3),
        "/status/401/v1/chat/completions"
        | "/status/401/v1/embeddings"
        | "/status/401/v1/files"
        | "/status/401/v1/fine_tuning/jobs" => {
            // Like OpenAI, echo the key that was sent: the client must scrub it.
            let sent = authorization
                .unwrap_or_default()
                .trim_start_matches("Bearer ")
                .to_string();
            let message = format!(
                "Incorrect API key provided: {sent}. You can find your API key at https://platform.openai.com/account/api-keys."
            );
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})),
            )
                .into_response()
        }
        "/status/500/v1/chat/completions" => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
        "/status/400/v1/chat/completions" => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {
                "message": "This model's maximum context length is 8192 tokens",
                "type": "invalid_request_error", "code": "context_length_exceeded"}})),
        )
            .into_response(),
        // Like llama.cpp's Python server: a JSON-schema response_format is refused (a 500
        // around a validation error); `json_object` is fine.
        "/no-schema/v1/chat/completions" => {
            if body["response_format"]["type"] == "json_schema" {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"error": {
                        "message": "1 validation error: body.response_format.type: Input should be 'text' or 'json_object'",
                        "type": "internal_server_error"}})),
                )
                    .into_response()
            } else {
                answer(config, "/v1/chat/completions", &body)
            }
        }
        "/html/v1/chat/completions" => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>a web page, not an API</html>",
        )
            .into_response(),
        "/empty-choices/v1/chat/completions" => axum::Json(
            json!({"id": "x", "object": "chat.completion", "model": "test-model", "choices": []}),
        )
        .into_response(),
        // A 200 that is not JSON and quotes the key sent (async-openai logs such bodies).
        "/echo-key/v1/chat/completions" => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            format!("oops, your key is {}", sent_key(&authorization)),
        )
            .into_response(),
        // The same inside a stream: an event that is not JSON.
        "/echo-key-stream/v1/chat/completions" => {
            let frame = format!("data: oops, your key is {}\n\n", sent_key(&authorization));
            (
                [(header::CONTENT_TYPE, "text/event-stream")],
                Body::from(frame),
            )
                .into_response()
        }
        // A stream that starts, then stalls past the client's timeout.
        "/stall-stream/v1/chat/completions" => {
            let mut events = stream_events(config, "/v1/chat/completions", &body);
            events.truncate(2);
            let frames: Vec<Result<axum::body::Bytes, std::io::Error>> = events
                .iter()
                .map(|event| Ok(format!("data: {event}\n\n").into()))
                .collect();
            let stall = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"data: [DONE]\n\n"))
            });
            use futures_util::StreamExt;
            (
                [(header::CONTENT_TYPE, "text/event-stream")],
                Body::from_stream(futures_util::stream::iter(frames).chain(stall)),
            )
                .into_response()
        }
        "/slow/v1/chat/completions" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"detail": "Not Found"})),
        )
            .into_response(),
    }
}

fn sent_key(authorization: &Option<String>) -> String {
    authorization
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_string()
}

fn rate_limited(retry_after_secs: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after_secs.to_string())],
        axum::Json(json!({"error": {
            "message": "Rate limit reached for test-model on requests per min (RPM): Limit 3, Used 3.",
            "type": "requests", "param": null, "code": "rate_limit_exceeded"}})),
    )
        .into_response()
}

/// The text of the last message, or the prompt.
fn last_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .or_else(|| body["prompt"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn reply(config: &ServerConfig, body: &Value, i: usize) -> String {
    match &config.reply {
        Reply::Fixed(replies) => replies[i % replies.len()].clone(),
        Reply::Echo => last_text(body),
    }
}

fn choices_asked(body: &Value) -> usize {
    body.get("n").and_then(Value::as_u64).unwrap_or(1) as usize
}

fn usage() -> Value {
    json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17})
}

/// Characters per streamed piece: few enough that field markers are split across chunks.
pub(crate) const STREAM_PIECE_CHARS: usize = 4;

fn is_streaming(body: &Value) -> bool {
    body.get("stream") == Some(&Value::Bool(true))
}

/// The data of each server-sent event of a streamed answer, `[DONE]` left out.
fn stream_events(config: &ServerConfig, path: &str, body: &Value) -> Vec<Value> {
    let chat = path == "/v1/chat/completions";
    let n = choices_asked(body);
    let pieces: Vec<Vec<String>> = (0..n)
        .map(|i| {
            let chars: Vec<char> = reply(config, body, i).chars().collect();
            chars
                .chunks(STREAM_PIECE_CHARS)
                .map(|c| c.iter().collect())
                .collect()
        })
        .collect();
    let chunk = |choices: Value| {
        if chat {
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
                   "model": "test-model-2025-01-01", "choices": choices})
        } else {
            json!({"id": "cmpl-1", "object": "text_completion", "created": 1_700_000_000,
                   "model": "test-base-model", "choices": choices})
        }
    };
    let piece = |i: usize, text: &str, finish: Option<&str>| {
        if chat {
            let delta = match finish {
                Some(_) => json!({}),
                None => json!({"content": text}),
            };
            json!({"index": i, "delta": delta, "finish_reason": finish})
        } else {
            json!({"index": i, "text": text, "finish_reason": finish, "logprobs": null})
        }
    };
    let mut events = Vec::new();
    if chat {
        // OpenAI opens each choice with its role and empty content.
        for i in 0..n {
            events.push(chunk(json!([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])));
        }
    }
    let longest = pieces.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for (i, choice) in pieces.iter().enumerate() {
            if let Some(text) = choice.get(k) {
                events.push(chunk(json!([piece(i, text, None)])));
            }
        }
    }
    let finish = if chat { "stop" } else { "length" };
    for i in 0..n {
        events.push(chunk(json!([piece(i, "", Some(finish))])));
    }
    if body["stream_options"]["include_usage"] == json!(true) {
        let mut last = chunk(json!([]));
        last["usage"] = usage();
        events.push(last);
    }
    events
}

/// Server-sent events with each value as `data`, then `[DONE]`; or, when `broken`, the events
/// and then a dropped connection.
fn sse(events: Vec<Value>, broken: bool) -> Response {
    use futures_util::StreamExt;
    let frames: Vec<Result<axum::body::Bytes, std::io::Error>> = events
        .iter()
        .map(|event| Ok(format!("data: {event}\n\n").into()))
        .collect();
    let end = futures_util::stream::once(async move {
        if broken {
            // Pausing first lets the server flush the events before the connection drops.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection dropped by the test server",
            ))
        } else {
            Ok("data: [DONE]\n\n".into())
        }
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(futures_util::stream::iter(frames).chain(end)),
    )
        .into_response()
}

fn answer(config: &ServerConfig, path: &str, body: &Value) -> Response {
    if path == "/v1/embeddings" {
        return embeddings(body);
    }
    if is_streaming(body) {
        return sse(stream_events(config, path, body), false);
    }
    let n = choices_asked(body);
    let reply = |i: usize| reply(config, body, i);
    let usage = usage();
    if path == "/v1/chat/completions" {
        // Choices are listed last-first: the client must order them by `index`.
        let choices: Vec<Value> = (0..n)
            .rev()
            .map(|i| json!({"index": i, "message": {"role": "assistant", "content": reply(i)}, "finish_reason": "stop"}))
            .collect();
        axum::Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
            "model": "test-model-2025-01-01", "choices": choices, "usage": usage,
        }))
        .into_response()
    } else {
        let choices: Vec<Value> = (0..n)
            .map(|i| json!({"index": i, "text": reply(i), "finish_reason": "length", "logprobs": null}))
            .collect();
        axum::Json(json!({
            "id": "cmpl-1", "object": "text_completion", "created": 1_700_000_000,
            "model": "test-base-model", "choices": choices, "usage": usage,
        }))
        .into_response()
    }
}

/// `[characters, words, vowels]` per input text, last-first, a prompt token per word.
fn embeddings(body: &Value) -> Response {
    let texts: Vec<&str> = body["input"]
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let words = |t: &str| t.split_whitespace().count();
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| {
            let vowels = t.chars().filter(|c| "aeiou".contains(*c)).count();
            let vector = [t.chars().count(), words(t), vowels].map(|x| x as f32);
            json!({"object": "embedding", "index": i, "embedding": vector})
        })
        .collect();
    let tokens: usize = texts.iter().map(|t| words(t)).sum();
    axum::Json(json!({
        "object": "list", "data": data, "model": "test-embedder-v2",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}
