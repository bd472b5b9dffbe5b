//! The HTTP calls of the fine-tuning API: upload a file, create, read and cancel a job, read its
//! events. Each is one request (retrying is the poll loop's job); answers are scrubbed of the
//! API key before they are read, and failures mapped as the completion calls map theirs.

use super::super::error::{self, Context, redact};
use super::super::transport::failure;
use super::wire::{Events, FileObject, Job};
use crate::{Error, Result};
use async_openai::error::OpenAIError;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// What every call needs: the client, the API root, the headers' values.
#[derive(Clone)]
pub(super) struct Api {
    pub http: reqwest::Client,
    /// The API root, `.../v1`, as given (it may hold credentials: never shown).
    pub base_url: String,
    /// The API root without credentials, for messages.
    pub shown_url: String,
    pub model: String,
    pub timeout: Duration,
    pub api_key: Option<String>,
    pub organization: String,
    pub project: String,
}

impl Api {
    /// Uploads `jsonl` as a fine-tuning file named `name`; returns its id.
    pub(super) async fn upload(&self, name: &str, jsonl: String) -> Result<String> {
        let part = reqwest::multipart::Part::text(jsonl).file_name(name.to_string());
        let form = reqwest::multipart::Form::new()
            .text("purpose", "fine-tune")
            .part("file", part);
        let request = self
            .request(reqwest::Method::POST, "/files")
            .multipart(form);
        let file: FileObject = self.send(request, "/files").await?;
        Ok(file.id)
    }

    /// Creates a job from `body` (model, training file, method...).
    pub(super) async fn create(&self, body: &Value) -> Result<Job> {
        let path = "/fine_tuning/jobs";
        let request = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body)?);
        self.send(request, path).await
    }

    /// The job `id` as it is now.
    pub(super) async fn job(&self, id: &str) -> Result<Job> {
        let path = format!("/fine_tuning/jobs/{id}");
        self.send(self.request(reqwest::Method::GET, &path), &path)
            .await
    }

    /// Asks the provider to cancel job `id`.
    pub(super) async fn cancel(&self, id: &str) -> Result<Job> {
        let path = format!("/fine_tuning/jobs/{id}/cancel");
        self.send(self.request(reqwest::Method::POST, &path), &path)
            .await
    }

    /// The newest events of job `id`, newest first.
    pub(super) async fn events(&self, id: &str) -> Result<Events> {
        let path = format!("/fine_tuning/jobs/{id}/events");
        let request = self
            .request(reqwest::Method::GET, &path)
            .query(&[("limit", "20")]);
        self.send(request, &path).await
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        if !self.organization.is_empty() {
            request = request.header("OpenAI-Organization", &self.organization);
        }
        if !self.project.is_empty() {
            request = request.header("OpenAI-Project", &self.project);
        }
        request
    }

    /// Sends `request` once and reads its answer as `T`.
    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T> {
        let url = format!("{}{path}", self.shown_url);
        let ctx = Context {
            url: &url,
            model: &self.model,
            timeout: self.timeout,
            secret: self.api_key.as_deref(),
        };
        let fail = |e: OpenAIError| error::from_openai(e, &ctx);
        let response = request
            .send()
            .await
            .map_err(|e| fail(OpenAIError::Reqwest(e)))?;
        if !response.status().is_success() {
            return Err(fail(failure(response, ctx.secret).await));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(OpenAIError::Reqwest(e)))?;
        let text = redact(&String::from_utf8_lossy(&bytes), ctx.secret);
        serde_json::from_str(&text).map_err(|e| fail(OpenAIError::JSONDeserialize(e, text)))
    }
}

/// A failure of the poll loop's own making (an answer that makes no sense), as a server error.
pub(super) fn nonsense(api: &Api, what: &str) -> Error {
    Error::lm(
        crate::LmErrorKind::Server,
        redact(
            &format!("{}/fine_tuning/jobs: {what}", api.shown_url),
            api.api_key.as_deref(),
        ),
    )
}
