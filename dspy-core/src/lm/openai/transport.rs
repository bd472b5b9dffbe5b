//! The HTTP transport under async-openai's client.
//!
//! It replaces async-openai's default, which retries 429 and 5xx answers by itself (sleeping as
//! long as `Retry-After` says) and then drops the response headers. Here every attempt is one
//! request: a failed answer comes back as an [`HttpFailure`] with its status, body and
//! `Retry-After`, and dspy's retry layer decides what to do.
//!
//! It also scrubs the API key out of every answer before async-openai reads it: async-openai
//! logs a body it cannot decode in full (at ERROR, through `tracing`), and a server that echoes
//! the key would otherwise put it in the user's logs.

use super::error::{HttpFailure, is_secret, redact, retry_after};
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures_util::StreamExt;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static>>;

/// Sends each request once with a [`reqwest::Client`].
#[derive(Clone)]
pub(super) struct Transport {
    client: reqwest::Client,
    /// The API key, to scrub from answers (`None` when there is none worth scrubbing).
    secret: Option<Arc<str>>,
}

impl Transport {
    pub(super) fn new(client: reqwest::Client, secret: Option<&str>) -> Self {
        let secret = secret.filter(|s| is_secret(s)).map(Arc::from);
        Transport { client, secret }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("scrubs_key", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> ResponseFuture {
        let client = self.client.clone();
        let secret = self.secret.clone();
        Box::pin(async move {
            let request = request.build().await?;
            let response = client
                .execute(request)
                .await
                .map_err(OpenAIError::Reqwest)?;
            if response.status().is_success() {
                return match secret {
                    Some(secret) => scrubbed(response, secret).await,
                    None => Ok(response),
                };
            }
            Err(failure(response, secret.as_deref()).await)
        })
    }
}

/// A non-2xx answer as an [`HttpFailure`], its body already scrubbed.
pub(super) async fn failure(response: reqwest::Response, secret: Option<&str>) -> OpenAIError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = match response.bytes().await {
        Ok(bytes) => redact(&String::from_utf8_lossy(&bytes), secret),
        // A timeout while reading the error body is still a timeout.
        Err(error) if error.is_timeout() => return OpenAIError::Reqwest(error),
        Err(error) => format!(
            "(the error body could not be read: {})",
            error.without_url()
        ),
    };
    OpenAIError::Boxed(Box::new(HttpFailure {
        status,
        retry_after,
        body,
    }))
}

/// The answer with the key replaced wherever it appears: read whole, or line by line for a
/// server-sent event stream (a key holds no newline, so no line boundary cuts one in two).
async fn scrubbed(
    response: reqwest::Response,
    secret: Arc<str>,
) -> Result<reqwest::Response, OpenAIError> {
    let mut head = http::Response::builder().status(response.status());
    if let Some(headers) = head.headers_mut() {
        *headers = response.headers().clone();
    }
    let streaming = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = if streaming {
        reqwest::Body::wrap_stream(scrub_lines(response, secret))
    } else {
        let bytes = response.bytes().await.map_err(OpenAIError::Reqwest)?;
        // Most answers hold no key: pass their bytes on without a copy.
        match std::str::from_utf8(&bytes) {
            Ok(text) if !text.contains(&*secret) => reqwest::Body::from(bytes),
            _ => reqwest::Body::from(scrub(&bytes, &secret)),
        }
    };
    head.body(body)
        .map(reqwest::Response::from)
        .map_err(|e| OpenAIError::InvalidArgument(format!("could not pass the answer on: {e}")))
}

fn scrub(bytes: &[u8], secret: &str) -> Vec<u8> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.contains(secret) => redact(text, Some(secret)).into_bytes(),
        Ok(_) => bytes.to_vec(),
        Err(_) => redact(&String::from_utf8_lossy(bytes), Some(secret)).into_bytes(),
    }
}

/// The body's bytes re-cut at line ends, each run of whole lines scrubbed.
fn scrub_lines(
    response: reqwest::Response,
    secret: Arc<str>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, reqwest::Error>> + Send + 'static {
    let chunks = response.bytes_stream();
    futures_util::stream::unfold(
        (chunks, Vec::new(), false),
        move |(mut chunks, mut pending, done)| {
            let secret = secret.clone();
            async move {
                if done {
                    return None;
                }
                loop {
                    match chunks.next().await {
                        Some(Ok(bytes)) => {
                            pending.extend_from_slice(&bytes);
                            if let Some(end) = pending.iter().rposition(|b| *b == b'\n') {
                                let rest = pending.split_off(end + 1);
                                let out = scrub(&pending, &secret);
                                return Some((Ok(out), (chunks, rest, false)));
                            }
                        }
                        Some(Err(error)) => return Some((Err(error), (chunks, pending, true))),
                        None if pending.is_empty() => return None,
                        None => {
                            let out = scrub(&pending, &secret);
                            return Some((Ok(out), (chunks, Vec::new(), true)));
                        }
                    }
                }
            }
        },
    )
}
