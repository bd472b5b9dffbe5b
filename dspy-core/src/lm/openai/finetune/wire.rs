//! The fine-tuning API's objects, as far as dspy reads them: lenient, since compatible servers
//! leave fields out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An uploaded file (`POST /files`).
#[derive(Debug, Deserialize)]
pub(super) struct FileObject {
    pub id: String,
}

/// A fine-tuning job (`/fine_tuning/jobs/{id}`).
#[derive(Debug, Deserialize)]
pub(super) struct Job {
    pub id: String,
    pub status: Status,
    #[serde(default)]
    pub fine_tuned_model: Option<String>,
    #[serde(default)]
    pub error: Option<JobError>,
    #[serde(default)]
    pub trained_tokens: Option<u64>,
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Status {
    ValidatingFiles,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// A status this client does not know (`paused`, a server's own): still going.
    #[serde(untagged)]
    Other(String),
}

impl Status {
    pub(super) fn as_str(&self) -> &str {
        match self {
            Status::ValidatingFiles => "validating_files",
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Other(other) => other,
        }
    }
}

/// Why a job failed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct JobError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}

impl JobError {
    /// "the provider said: ... (code `x`, param `y`)".
    pub(super) fn describe(&self) -> String {
        let message = self
            .message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or("(no message)");
        let mut out = format!("the provider said: {message}");
        let extra: Vec<String> = [("code", &self.code), ("param", &self.param)]
            .into_iter()
            .filter_map(|(name, v)| v.as_deref().map(|v| format!("{name} `{v}`")))
            .collect();
        if !extra.is_empty() {
            out.push_str(&format!(" ({})", extra.join(", ")));
        }
        out
    }
}

/// A page of job events, newest first (`/fine_tuning/jobs/{id}/events`).
#[derive(Debug, Deserialize)]
pub(super) struct Events {
    #[serde(default)]
    pub data: Vec<Event>,
}

/// One job event; `metrics` events carry the step and the training loss.
#[derive(Debug, Deserialize)]
pub(super) struct Event {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

/// What a run saves to resume from after a crash: ids only, never a credential.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct State {
    /// The uploaded training file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The job created on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The wait between polls reached, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}
