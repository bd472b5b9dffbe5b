//! One fine-tuning run against the API: upload, create, poll with backoff until the job ends,
//! saving the file and job ids as it goes so a run after a crash picks the same job up.

use super::OpenAiFinetuner;
use super::api::{Api, nonsense};
use super::plan;
use super::wire::{Events, Job, State, Status};
use crate::lm::{FinetunedModel, TrainJob, TrainProgress};
use crate::{Error, FinetuneErrorKind, LmErrorKind, Result};
use serde_json::{Value, json};
use std::time::Duration;

/// Runs `job` on `ft`'s API to a fine-tuned model.
pub(super) async fn run(ft: &OpenAiFinetuner, job: TrainJob<'_>) -> Result<FinetunedModel> {
    let hyperparameters = plan::hyperparameters(job.hyperparameters())?;
    ft.check_kind(job.data().is_chat()?)?;
    plan::check_budget(job.data(), job.hyperparameters(), job.budget(), ft.price)?;
    let mut state: State = job
        .resumed()
        .and_then(|saved| serde_json::from_value(saved.clone()).ok())
        .unwrap_or_default();
    let api = &ft.api;
    let file = match state.file.clone() {
        Some(file) => file,
        None => {
            stop_if_cancelled(&job)?;
            job.report(TrainProgress::new("uploading"));
            let name = format!("dspy-{}.jsonl", job.key().get(..16).unwrap_or(job.key()));
            let file = api.upload(&name, job.data().to_jsonl()?).await?;
            state.file = Some(file.clone());
            job.save_state(&serde_json::to_value(&state)?)?;
            file
        }
    };
    let id = match state.job.clone() {
        Some(id) => id,
        None => {
            stop_if_cancelled(&job)?;
            let created = api
                .create(&ft.job_body(&file, hyperparameters, &job))
                .await?;
            state.job = Some(created.id.clone());
            job.save_state(&serde_json::to_value(&state)?)?;
            created.id
        }
    };
    let done = poll(ft, &job, &id, &mut state).await?;
    let name = done
        .fine_tuned_model
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| {
            nonsense(
                api,
                &format!("job {id} succeeded but names no fine_tuned_model"),
            )
        })?;
    let mut model = FinetunedModel::new(job.key(), "openai", ft.base_model_id(), name)
        .detail("job", id)
        .detail("training_file", file);
    if let Some(tokens) = done.trained_tokens {
        model = model.detail("trained_tokens", tokens);
        if let Some(price) = ft.price {
            model = model.detail("cost", tokens as f64 * price / 1_000_000.0);
        }
    }
    Ok(model)
}

/// Polls job `id` until it ends: its succeeded state, or the error its end is. Waits grow from
/// the policy's first to its longest (and as long as a `Retry-After` asks), and the wait reached
/// is saved, so a resumed run polls as often as the interrupted one did. Transient failures
/// (5xx, 429, timeouts) are polled through, up to the policy's limit in a row.
async fn poll(
    ft: &OpenAiFinetuner,
    job: &TrainJob<'_>,
    id: &str,
    state: &mut State,
) -> Result<Job> {
    let policy = &ft.poll;
    let mut wait = state
        .wait_ms
        .map(Duration::from_millis)
        .unwrap_or(policy.first)
        .clamp(policy.first, policy.longest);
    let mut failures = 0;
    loop {
        match ft.api.job(id).await {
            Ok(now) => {
                failures = 0;
                if matches!(
                    now.status,
                    Status::Succeeded | Status::Failed | Status::Cancelled
                ) {
                    return finish(job, id, now);
                }
                report(ft, job, id, &now.status).await;
            }
            Err(error) if error.is_retryable() && failures < policy.max_failures => {
                failures += 1;
                tracing::warn!(target: "dspy::finetune", job = id, failures, %error, "polling failed; polling on");
                if let Error::Lm {
                    retry_after: Some(asked),
                    ..
                } = &error
                {
                    wait = wait.max(*asked);
                }
            }
            Err(error) => return Err(unreadable(id, error)),
        }
        tokio::select! {
            () = ft.clock.sleep(wait) => {}
            () = job.cancel_token().cancelled() => return Err(cancel(&ft.api, id).await),
        }
        let next = wait.mul_f64(policy.factor).min(policy.longest);
        if next != wait {
            wait = next;
            state.wait_ms = Some(wait.as_millis() as u64);
            job.save_state(&serde_json::to_value(&*state)?)?;
        }
    }
}

/// The outcome of a job that ended: the job that succeeded, or the error its end is.
fn finish(job: &TrainJob<'_>, id: &str, now: Job) -> Result<Job> {
    match now.status {
        Status::Failed => Err(failed(id, &now)),
        Status::Cancelled => Err(cancelled(
            id,
            "the job was cancelled on the provider's side".into(),
        )),
        _ => {
            job.report(TrainProgress::new("succeeded"));
            Ok(now)
        }
    }
}

/// A job that cannot be read. One that is not there (another account's, or deleted) ends the
/// run, and its saved ids are dropped; other failures (auth) keep them, to resume once fixed.
fn unreadable(id: &str, error: Error) -> Error {
    match error {
        Error::Lm {
            kind: LmErrorKind::BadRequest,
            ..
        } => Error::Finetune {
            kind: FinetuneErrorKind::Failed,
            job: Some(id.to_string()),
            message: format!("reading the job failed: {error}"),
        },
        other => other,
    }
}

/// Reports the job's status, with the step and loss of its newest metrics event while it runs.
async fn report(ft: &OpenAiFinetuner, job: &TrainJob<'_>, id: &str, status: &Status) {
    let mut progress = TrainProgress::new(status.as_str());
    if *status == Status::Running {
        // Progress is a courtesy: a failed events call is no reason to stop polling.
        match ft.api.events(id).await {
            Ok(events) => progress = with_metrics(progress, &events),
            Err(error) => {
                tracing::debug!(target: "dspy::finetune", job = id, %error, "no job events")
            }
        }
    }
    job.report(progress);
}

fn with_metrics(progress: TrainProgress, events: &Events) -> TrainProgress {
    let Some(data) = events
        .data
        .iter()
        .filter(|e| e.kind.as_deref() == Some("metrics"))
        .find_map(|e| e.data.as_ref())
    else {
        return progress;
    };
    let number = |name: &str| data.get(name).and_then(Value::as_f64);
    let step = number("step").unwrap_or(0.0) as u64;
    let progress = progress.step(step, number("total_steps").map(|t| t as u64));
    match number("train_loss") {
        Some(loss) => progress.loss(loss),
        None => progress,
    }
}

/// Asks the provider to cancel job `id`; the run ends cancelled either way.
async fn cancel(api: &Api, id: &str) -> Error {
    match api.cancel(id).await {
        Ok(job) if job.status == Status::Cancelled => {
            cancelled(id, "cancelled by this run's cancel token".into())
        }
        Ok(job) => cancelled(
            id,
            format!(
                "cancel was asked for and the provider says the job is {}; check it on the \
                 provider's side",
                job.status.as_str()
            ),
        ),
        Err(error) => cancelled(
            id,
            format!(
                "cancelling it failed ({error}), so it may still run: cancel it on the provider's side"
            ),
        ),
    }
}

/// Ends a run that was cancelled before it made a job.
fn stop_if_cancelled(job: &TrainJob<'_>) -> Result<()> {
    if job.cancel_token().is_cancelled() {
        return Err(Error::Finetune {
            kind: FinetuneErrorKind::Cancelled,
            job: None,
            message: "cancelled before the job was created".into(),
        });
    }
    Ok(())
}

fn cancelled(id: &str, message: String) -> Error {
    Error::Finetune {
        kind: FinetuneErrorKind::Cancelled,
        job: Some(id.to_string()),
        message,
    }
}

fn failed(id: &str, job: &Job) -> Error {
    let message = match &job.error {
        Some(error) => error.describe(),
        None => format!(
            "the provider gave no reason; its events say more (GET /fine_tuning/jobs/{id}/events)"
        ),
    };
    Error::Finetune {
        kind: FinetuneErrorKind::Failed,
        job: Some(id.to_string()),
        message,
    }
}

/// The body that creates the job: the base model, the file, the supervised method's
/// hyperparameters, and the seed and suffix when set.
pub(super) fn body(
    model: &str,
    file: &str,
    hyperparameters: Value,
    seed: Option<u64>,
    suffix: Option<&str>,
) -> Value {
    let mut body = json!({
        "model": model,
        "training_file": file,
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
    });
    if let Some(seed) = seed {
        body["seed"] = json!(seed);
    }
    if let Some(suffix) = suffix {
        body["suffix"] = json!(suffix);
    }
    body
}
