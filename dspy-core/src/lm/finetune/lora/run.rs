//! One training run on a blocking thread: tokenize, load the base model, train, write the
//! adapter. It talks to the async side through a channel (progress, resume state).

use super::adapter::{Lora, read_adapter};
use super::base::load_gemma;
use super::settings::Settings;
use super::train::{Sequence, Step, train};
use crate::adapter::Prompt;
use crate::lm::finetune::{CancelToken, TrainProgress};
use crate::lm::local::tokenize_examples;
use crate::util::write_atomic;
use crate::{Error, FinetuneErrorKind, Result};
use serde_json::{Value, json};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// Steps between checkpoints (the adapter so far, a few MB, written atomically).
const CHECKPOINT_EVERY: u64 = 10;

/// What the training thread tells the async side.
#[derive(Debug)]
pub(super) enum Event {
    Progress(TrainProgress),
    /// A checkpoint was written: the resume state to save.
    Checkpoint(Value),
}

/// What a run needs, owned (it moves to the blocking thread).
#[derive(Debug)]
pub(super) struct RunInput {
    pub base: PathBuf,
    pub examples: Vec<(Prompt, String)>,
    pub settings: Settings,
    /// Where the adapter goes.
    pub adapter: PathBuf,
    pub resumed: Option<Value>,
    pub cancel: CancelToken,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub(super) struct RunOutcome {
    pub steps: u64,
    pub loss: Option<f64>,
    pub examples: usize,
    pub skipped: usize,
    pub parameters: usize,
    pub seconds: f64,
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Finetune {
        kind: FinetuneErrorKind::Failed,
        job: None,
        message: format!("local LoRA training: {what}: {e}"),
    }
}

/// Runs the training (blocking).
pub(super) fn run(input: RunInput, events: &UnboundedSender<Event>) -> Result<RunOutcome> {
    let started = Instant::now();
    let send = |p: TrainProgress| drop(events.send(Event::Progress(p)));
    send(TrainProgress::new("tokenizing"));
    let (data, skipped) = sequences(&input)?;
    if data.is_empty() {
        return Err(Error::config(format!(
            "no training example fits in {} tokens with an answer to learn",
            input.settings.max_tokens
        )));
    }
    send(TrainProgress::new("loading the base model"));
    let model = load_gemma(&input.base).map_err(|e| failed("cannot load the base model", e))?;
    let s = &input.settings;
    let lora = Lora::new(&model.config, s.rank, s.alpha, s.schedule.seed)
        .map_err(|e| failed("cannot create the adapter", e))?;
    let mut schedule = s.schedule.clone();
    let checkpoint = input.adapter.with_extension("checkpoint.gguf");
    schedule.start_step = resume(&lora, &checkpoint, input.resumed.as_ref());
    let mut cancelled = false;
    let mut saving = Ok(());
    let last = train(&model, &lora, &data, &schedule, |step: &Step| {
        send(
            TrainProgress::new("training")
                .step(step.step, Some(step.total))
                .loss(step.loss)
                .examples_per_sec(step.examples_per_sec),
        );
        if step.step.is_multiple_of(CHECKPOINT_EVERY) && step.step < step.total {
            saving = save(&lora, &checkpoint).map(|()| {
                let state = json!({"step": step.step, "checkpoint": checkpoint});
                drop(events.send(Event::Checkpoint(state)));
            });
        }
        cancelled = input.cancel.is_cancelled();
        if cancelled || saving.is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .map_err(|e| failed("a training step failed", e))?;
    saving?;
    if cancelled {
        return Err(Error::Finetune {
            kind: FinetuneErrorKind::Cancelled,
            job: None,
            message: format!("cancelled at step {}", last.map_or(0, |s| s.step)),
        });
    }
    save(&lora, &input.adapter)?;
    let _ = std::fs::remove_file(&checkpoint);
    Ok(RunOutcome {
        steps: last.map_or(schedule.start_step, |s| s.step),
        loss: last.map(|s| s.loss),
        examples: data.len(),
        skipped,
        parameters: lora.parameters(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The examples as token sequences, leaving out those too long or with no answer token.
fn sequences(input: &RunInput) -> Result<(Vec<Sequence>, usize)> {
    let tokenized = tokenize_examples(&input.base, &input.examples)?;
    let total = tokenized.len();
    let data: Vec<Sequence> = tokenized
        .into_iter()
        .filter(|(tokens, prompt_len)| {
            tokens.len() > *prompt_len && tokens.len() <= input.settings.max_tokens
        })
        .map(|(tokens, prompt_len)| Sequence { tokens, prompt_len })
        .collect();
    let skipped = total - data.len();
    if skipped > 0 {
        tracing::warn!(target: "dspy::finetune", skipped, "examples left out: too long or no answer");
    }
    Ok((data, skipped))
}

/// Picks up an interrupted run: the adapter of its last checkpoint, and the step it reached
/// (the optimizer's moments start afresh). 0 when there is nothing usable to resume.
fn resume(lora: &Lora, checkpoint: &Path, state: Option<&Value>) -> u64 {
    let Some(step) = state.and_then(|s| s.get("step")).and_then(Value::as_u64) else {
        return 0;
    };
    let loaded = std::fs::read(checkpoint)
        .map_err(|e| e.to_string())
        .and_then(|bytes| read_adapter(&bytes).map_err(|e| e.to_string()))
        .and_then(|(_, tensors)| lora.load(&tensors).map_err(|e| e.to_string()));
    match loaded {
        Ok(()) => step,
        Err(error) => {
            tracing::warn!(target: "dspy::finetune", %error, "checkpoint unusable; training from the start");
            0
        }
    }
}

/// Writes the adapter atomically (a crash never leaves half a file).
fn save(lora: &Lora, path: &Path) -> Result<()> {
    let bytes = lora
        .to_gguf("gemma3")
        .map_err(|e| failed("cannot encode the adapter", e))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::data_caused_by(dir, None, "cannot create the adapter's directory", e)
        })?;
    }
    write_atomic(path, bytes)
        .map_err(|e| Error::data_caused_by(path, None, "cannot write the LoRA adapter", e))
}
