//! The test server's fine-tuning API (included by `server.rs`), as OpenAI's behaves:
//!
//! - `POST /v1/files` takes a multipart upload (`purpose`, `file`) and answers a file object.
//! - `POST /v1/fine_tuning/jobs` creates a job on an uploaded file (`validating_files`); a file
//!   id it does not know is a 400.
//! - `GET /v1/fine_tuning/jobs/{id}` moves the job one tick each time it is read: first its
//!   file is validated (at least [`MIN_EXAMPLES`] lines, each `{"messages": [...]}` ending with
//!   an assistant message or `{"prompt", "completion"}`; else the job fails with OpenAI's error
//!   object), then it runs [`TRAIN_STEPS`] steps (a `metrics` event each, loss falling), then it
//!   succeeds with `fine_tuned_model` = `ft:{model}:dspy-test:{suffix}:{id}`.
//! - `POST /v1/fine_tuning/jobs/{id}/cancel` cancels a job that has not ended (else a 400);
//!   `GET /v1/fine_tuning/jobs/{id}/events` lists its events, newest first.
//! - Prefixes: `/flaky/v1/..` answers every other read of a job with a 503 (`Retry-After: 2`);
//!   `/echo-key/v1/..` fails its jobs with a message that quotes the key sent.
//!
//! Chat and completion requests for an `ft:` model that no job produced are a 404
//! (`model_not_found`), so a test that gets an answer from a fine-tuned model really asked
//! for the one the job made.

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Mutex;

/// Examples a training file needs (OpenAI's minimum).
pub(crate) const MIN_EXAMPLES: usize = 10;
/// Steps every job runs.
pub(crate) const TRAIN_STEPS: u64 = 4;

/// An uploaded file.
#[derive(Debug, Clone)]
pub(crate) struct UploadedFile {
    pub id: String,
    pub filename: String,
    pub purpose: String,
    pub content: String,
}

/// A job, as the server keeps it.
#[derive(Debug, Clone)]
pub(crate) struct StoredJob {
    pub id: String,
    /// The body it was created with.
    pub request: Value,
    pub status: &'static str,
    /// Times it was read.
    pub reads: u64,
    pub step: u64,
    pub error: Option<Value>,
    pub fine_tuned_model: Option<String>,
    events: Vec<Value>,
    /// The key to quote in its failure (`/echo-key`).
    leak: Option<String>,
    flaky: bool,
}

/// Every file and job.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    files: Mutex<Vec<UploadedFile>>,
    jobs: Mutex<Vec<StoredJob>>,
}

impl Jobs {
    /// Files uploaded so far.
    pub(crate) fn files(&self) -> Vec<UploadedFile> {
        self.files.lock().unwrap().clone()
    }

    /// Jobs created so far.
    pub(crate) fn jobs(&self) -> Vec<StoredJob> {
        self.jobs.lock().unwrap().clone()
    }

    /// Whether some job produced `model`.
    pub(crate) fn serves(&self, model: &str) -> bool {
        self.jobs
            .lock()
            .unwrap()
            .iter()
            .any(|j| j.fine_tuned_model.as_deref() == Some(model))
    }

    /// Answers a fine-tuning request at `path` (its prefix, if any, split off), or `None` when
    /// the path is not one of the API's.
    pub(crate) fn handle(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &str,
        key: &str,
    ) -> Option<Response> {
        let (prefix, rest) = split_prefix(path);
        let rest = rest.strip_prefix("/v1")?;
        let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        Some(match (method.as_str(), segments.as_slice()) {
            ("POST", ["files"]) => self.upload(headers, body),
            ("POST", ["fine_tuning", "jobs"]) => {
                let leak = (prefix == "/echo-key").then(|| key.to_string());
                self.create(body, leak, prefix == "/flaky")
            }
            ("GET", ["fine_tuning", "jobs", id]) => self.read(id),
            ("POST", ["fine_tuning", "jobs", id, "cancel"]) => self.cancel(id),
            ("GET", ["fine_tuning", "jobs", id, "events"]) => self.events(id),
            _ => return None,
        })
    }

    fn upload(&self, headers: &HeaderMap, body: &str) -> Response {
        let Some(parts) = multipart(headers, body) else {
            return bad_request("expected a multipart/form-data body with `purpose` and `file`");
        };
        let field = |name: &str| parts.iter().find(|p| p.name == name);
        let (Some(purpose), Some(file)) = (field("purpose"), field("file")) else {
            return bad_request("missing `purpose` or `file`");
        };
        let mut files = self.files.lock().unwrap();
        let uploaded = UploadedFile {
            id: format!("file-{}", files.len() + 1),
            filename: file.filename.clone().unwrap_or_default(),
            purpose: purpose.content.clone(),
            content: file.content.clone(),
        };
        let answer = json!({
            "id": uploaded.id, "object": "file", "bytes": uploaded.content.len(),
            "created_at": 1_700_000_000, "filename": uploaded.filename,
            "purpose": uploaded.purpose, "status": "processed",
        });
        files.push(uploaded);
        axum::Json(answer).into_response()
    }

    fn create(&self, body: &str, leak: Option<String>, flaky: bool) -> Response {
        let Ok(request) = serde_json::from_str::<Value>(body) else {
            return bad_request("the body is not JSON");
        };
        let file = request["training_file"].as_str().unwrap_or_default();
        if !self.files.lock().unwrap().iter().any(|f| f.id == file) {
            return bad_request(&format!("invalid training_file: {file}"));
        }
        let mut jobs = self.jobs.lock().unwrap();
        let job = StoredJob {
            id: format!("ftjob-{}", jobs.len() + 1),
            request,
            status: "validating_files",
            reads: 0,
            step: 0,
            error: None,
            fine_tuned_model: None,
            events: Vec::new(),
            leak,
            flaky,
        };
        let answer = job_json(&job);
        jobs.push(job);
        axum::Json(answer).into_response()
    }

    fn read(&self, id: &str) -> Response {
        let content = |file: &str| {
            let files = self.files.lock().unwrap();
            files
                .iter()
                .find(|f| f.id == file)
                .map(|f| f.content.clone())
        };
        let mut jobs = self.jobs.lock().unwrap();
        let Some(job) = jobs.iter_mut().find(|j| j.id == id) else {
            return not_found(&format!("no fine-tuning job {id}"));
        };
        job.reads += 1;
        if job.flaky && job.reads % 2 == 1 {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "2")],
                axum::Json(json!({"error": {"message": "The server is overloaded", "type": "server_error"}})),
            )
                .into_response();
        }
        let file = job.request["training_file"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        tick(job, &content(&file).unwrap_or_default());
        axum::Json(job_json(job)).into_response()
    }

    fn cancel(&self, id: &str) -> Response {
        let mut jobs = self.jobs.lock().unwrap();
        let Some(job) = jobs.iter_mut().find(|j| j.id == id) else {
            return not_found(&format!("no fine-tuning job {id}"));
        };
        if matches!(job.status, "succeeded" | "failed" | "cancelled") {
            return bad_request(&format!("Job has already completed: {id}"));
        }
        job.status = "cancelled";
        axum::Json(job_json(job)).into_response()
    }

    fn events(&self, id: &str) -> Response {
        let jobs = self.jobs.lock().unwrap();
        let Some(job) = jobs.iter().find(|j| j.id == id) else {
            return not_found(&format!("no fine-tuning job {id}"));
        };
        let data: Vec<Value> = job.events.iter().rev().cloned().collect();
        axum::Json(json!({"object": "list", "data": data, "has_more": false})).into_response()
    }
}

/// One step of a job's life: validate, then train step by step, then succeed.
fn tick(job: &mut StoredJob, content: &str) {
    match job.status {
        "validating_files" => match validate(content) {
            Ok(()) => {
                job.status = "running";
                step(job);
            }
            Err(mut error) => {
                if let Some(key) = &job.leak {
                    error["message"] = json!(format!(
                        "{} (request made with key {key})",
                        error["message"].as_str().unwrap_or_default()
                    ));
                }
                job.status = "failed";
                job.error = Some(error);
            }
        },
        "running" if job.step < TRAIN_STEPS => step(job),
        "running" => {
            let model = job.request["model"].as_str().unwrap_or_default();
            let suffix = job.request["suffix"].as_str().unwrap_or_default();
            job.status = "succeeded";
            job.fine_tuned_model = Some(format!("ft:{model}:dspy-test:{suffix}:{}", job.id));
        }
        _ => {}
    }
}

fn step(job: &mut StoredJob) {
    job.step += 1;
    let loss = 2.0 / job.step as f64;
    job.events.push(json!({
        "object": "fine_tuning.job.event", "id": format!("ftevent-{}", job.events.len() + 1),
        "created_at": 1_700_000_000 + job.step, "level": "info",
        "message": format!("Step {}/{TRAIN_STEPS}: training loss={loss:.4}", job.step),
        "type": "metrics",
        "data": {"step": job.step, "train_loss": loss, "total_steps": TRAIN_STEPS},
    }));
}

/// OpenAI's checks of a training file, with its error objects.
fn validate(content: &str) -> Result<(), Value> {
    let lines: Vec<&str> = content.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, line) in lines.iter().enumerate() {
        let Ok(example) = serde_json::from_str::<Value>(line) else {
            return Err(invalid_file(&format!("line {} is not JSON", i + 1)));
        };
        if !well_formed(&example) {
            return Err(invalid_file(&format!(
                "line {} is neither {{\"messages\": [...]}} ending with an assistant message nor {{\"prompt\", \"completion\"}}",
                i + 1
            )));
        }
    }
    if lines.len() < MIN_EXAMPLES {
        return Err(json!({
            "code": "invalid_n_examples", "param": "training_file",
            "message": format!("Training file has {} example(s), but must have at least {MIN_EXAMPLES} examples", lines.len()),
        }));
    }
    Ok(())
}

fn well_formed(example: &Value) -> bool {
    if let Some(messages) = example["messages"].as_array() {
        let roles_ok = messages.iter().all(|m| {
            matches!(m["role"].as_str(), Some("system" | "user" | "assistant"))
                && m["content"].is_string()
        });
        return roles_ok && messages.last().is_some_and(|m| m["role"] == "assistant");
    }
    example["prompt"].is_string() && example["completion"].is_string()
}

fn invalid_file(why: &str) -> Value {
    json!({"code": "invalid_training_file", "param": "training_file", "message": format!("The job failed due to an invalid training file: {why}")})
}

fn job_json(job: &StoredJob) -> Value {
    json!({
        "object": "fine_tuning.job", "id": job.id, "model": job.request["model"],
        "created_at": 1_700_000_000, "status": job.status,
        "training_file": job.request["training_file"], "fine_tuned_model": job.fine_tuned_model,
        "error": job.error, "trained_tokens": job.fine_tuned_model.as_ref().map(|_| 1234),
        "hyperparameters": job.request["method"]["supervised"]["hyperparameters"],
    })
}

/// The prefix before `/v1` (`""`, `/flaky`, `/echo-key`) and the rest.
fn split_prefix(path: &str) -> (&str, &str) {
    for prefix in ["/flaky", "/echo-key"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return (prefix, rest);
        }
    }
    ("", path)
}

struct Part {
    name: String,
    filename: Option<String>,
    content: String,
}

/// The parts of a `multipart/form-data` body.
fn multipart(headers: &HeaderMap, body: &str) -> Option<Vec<Part>> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let parts = body
        .split(delimiter.as_str())
        .skip(1)
        .take_while(|chunk| !chunk.starts_with("--"))
        .filter_map(|chunk| {
            let (head, content) = chunk.trim_start_matches("\r\n").split_once("\r\n\r\n")?;
            let disposition = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
            let attribute = |name: &str| {
                // After a space: `name=` also ends `filename=`.
                let start = disposition.find(&format!(" {name}=\""))? + name.len() + 3;
                let end = disposition[start..].find('"')? + start;
                Some(disposition[start..end].to_string())
            };
            Some(Part {
                name: attribute("name")?,
                filename: attribute("filename"),
                content: content.strip_suffix("\r\n").unwrap_or(content).to_string(),
            })
        })
        .collect();
    Some(parts)
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})),
    )
        .into_response()
}

fn not_found(message: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "not_found"}})),
    )
        .into_response()
}
