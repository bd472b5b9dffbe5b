//! The HTTP transport under async-openai's client.
//!
//! It replaces async-openai's default, which retries 429 and 5xx answers by itself (sleeping as
//! long as `Retry-After` says) and then drops the response headers. Here every attempt is one
//! request: a failed answer comes back as an [`HttpFailure`] with its status, body and
//! `Retry-After`, and dspy's retry layer decides what to do.

use super::error::{HttpFailure, retry_after};
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static>>;

/// Sends each request once with a [`reqwest::Client`].
#[derive(Debug, Clone)]
pub(super) struct Transport {
    client: reqwest::Client,
}

impl Transport {
    pub(super) fn new(client: reqwest::Client) -> Self {
        Transport { client }
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
        Box::pin(async move {
            let request = request.build().await?;
            let response = client
                .execute(request)
                .await
                .map_err(OpenAIError::Reqwest)?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let retry_after = retry_after(response.headers());
            let body = match response.bytes().await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                // A timeout while reading the error body is still a timeout.
                Err(error) if error.is_timeout() => return Err(OpenAIError::Reqwest(error)),
                Err(error) => format!(
                    "(the error body could not be read: {})",
                    error.without_url()
                ),
            };
            let failure = HttpFailure {
                status: status.as_u16(),
                retry_after,
                body,
            };
            Err(OpenAIError::Boxed(Box::new(failure)))
        })
    }
}
