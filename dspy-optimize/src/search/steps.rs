//! The checkpointed step driver every iterative optimizer runs on.
//!
//! A search is a sequence of steps, each run under its own usage scope ([`measure`]). What a
//! finished step leaves is kept in the compile's checkpoint ([`Resume`]) in one of two ways:
//!
//! - a [`StepLog`] (COPRO, MIPROv2): each step under a name, with its value and trials. The
//!   search runs from the start every time and a logged step is replayed instead of run;
//!   since every random draw is made either way, a resumed compile takes the same path.
//! - [`Snapshots`] (GEPA, SIMBA): the whole search state, saved after each step. A step runs
//!   on a copy of the state ([`attempt`]), which replaces it only when the step finishes.
//!
//! Either way an LM budget that runs out ends the search with what it found: a logged step
//! returns the budget error to the search, which takes it with
//! [`Frame::stop_on_budget`]; an [`attempt`] records it as the stopped step's trial.

use super::Frame;
use super::failure::is_budget;
use super::models::models_key;
use crate::Trial;
use crate::checkpoint::{Checkpoint, fingerprint};
use dspy_core::Result;
use dspy_core::lm::{UsageReport, track_usage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// What a future gave, with the LM usage and the wall time it took.
#[derive(Debug)]
pub(crate) struct Measured<T> {
    pub outcome: T,
    pub usage: UsageReport,
    pub elapsed: Duration,
}

impl<T> Measured<T> {
    /// The same measurement of `f(outcome)`.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Measured<U> {
        Measured {
            outcome: f(self.outcome),
            usage: self.usage,
            elapsed: self.elapsed,
        }
    }

    /// A trial of `candidate` with this usage and time.
    pub(crate) fn trial(&self, candidate: impl Into<String>, score: Option<f64>) -> Trial {
        Trial::new(candidate, score, &self.usage, self.elapsed)
    }
}

/// Runs `future` under a usage scope of its own, timed.
pub(crate) async fn measure<F: Future>(future: F) -> Measured<F::Output> {
    let started = Instant::now();
    let (outcome, usage) = track_usage(future).await;
    Measured {
        outcome,
        usage,
        elapsed: started.elapsed(),
    }
}

/// Runs one step of a search, measured. A step that an LM budget stopped is recorded in the
/// report as a failed trial `stopped` (with what it used) and gives `None`: the search ends
/// there with what it found. Other errors are returned.
pub(crate) async fn attempt<F, T>(
    frame: &mut Frame<'_>,
    stopped: String,
    step: F,
) -> Result<Option<Measured<T>>>
where
    F: Future<Output = Result<T>>,
{
    let step = measure(step).await;
    match step.outcome {
        Ok(value) => Ok(Some(Measured {
            outcome: value,
            usage: step.usage,
            elapsed: step.elapsed,
        })),
        Err(error) if is_budget(&error) => {
            // The step is dropped whole, so a resumed compile redoes it.
            let trial = Trial::new(stopped, None, &step.usage, step.elapsed);
            frame.report.stopped_by_budget = true;
            frame.report.trials.push(trial.failed(&error));
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Where a compile's progress is kept: its checkpoint, when it has one, under the key of this
/// compile (the optimizer's settings, the models, the program's state and the data).
#[derive(Debug)]
pub(crate) struct Resume {
    checkpoint: Option<Checkpoint>,
    optimizer: String,
    key: String,
}

impl Resume {
    /// The checkpoint of this compile: `settings` (what changes what it finds), the models of
    /// `frame`'s options, then `rest` (the program's state, the data).
    pub(crate) fn open(frame: &Frame<'_>, settings: &Value, rest: &[&Value]) -> Self {
        let models = models_key(frame.options());
        let mut parts = vec![settings, &models];
        parts.extend_from_slice(rest);
        Resume {
            checkpoint: frame.options().checkpoint.clone(),
            optimizer: frame.report.optimizer.clone(),
            key: fingerprint(&parts),
        }
    }

    /// What was saved for this compile, if anything.
    pub(crate) fn load<S: DeserializeOwned>(&self) -> Result<Option<S>> {
        match &self.checkpoint {
            Some(checkpoint) => checkpoint.load(&self.optimizer, &self.key),
            None => Ok(None),
        }
    }

    /// Saves `state` for this compile (nothing without a checkpoint).
    pub(crate) fn save<S: Serialize>(&self, state: &S) -> Result<()> {
        match &self.checkpoint {
            Some(checkpoint) => checkpoint.save(&self.optimizer, &self.key, state),
            None => Ok(()),
        }
    }
}

/// A search state saved after every step it takes (GEPA's, SIMBA's).
#[derive(Debug)]
pub(crate) struct Snapshots<S> {
    resume: Resume,
    /// The state after the last finished step.
    pub state: S,
}

impl<S: Serialize + DeserializeOwned + Default> Snapshots<S> {
    /// The state saved for this compile, or a default one.
    pub(crate) fn open(resume: Resume) -> Result<Self> {
        let state = resume.load()?.unwrap_or_default();
        Ok(Snapshots { resume, state })
    }

    /// Takes `next` as the state (a step finished on it) and saves it.
    pub(crate) fn commit(&mut self, next: S) -> Result<()> {
        self.state = next;
        self.resume.save(&self.state)
    }
}

/// One finished step of a compile: what it gave and the trials it made.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    value: Value,
    trials: Vec<Trial>,
}

/// What a logged step gives: its value (or why it failed) and the trials it made either way.
#[derive(Debug)]
pub(crate) struct Logged<T> {
    pub value: Result<T>,
    pub trials: Vec<Trial>,
}

impl<T> Logged<T> {
    /// A step that gave `value`, with its trials.
    pub(crate) fn ok(value: T, trials: Vec<Trial>) -> Self {
        Logged {
            value: Ok(value),
            trials,
        }
    }

    /// A step that ended the compile with `error`, leaving no trial.
    pub(crate) fn failed(error: dspy_core::Error) -> Self {
        Logged {
            value: Err(error),
            trials: Vec::new(),
        }
    }
}

/// The log of a compile's finished steps (proposals, scores), saved to the checkpoint after
/// each one (COPRO's, MIPROv2's).
///
/// A compile runs from the start every time; a step found in the log is replayed (its value
/// and trials taken as they were) instead of being run. Since every random draw is made
/// whether the step is replayed or not, a resumed compile takes the same path as one that was
/// never interrupted, and only the steps not yet logged cost LM calls.
#[derive(Debug)]
pub(crate) struct StepLog {
    resume: Resume,
    steps: BTreeMap<String, Recorded>,
}

impl StepLog {
    /// The log saved for this compile, or an empty one.
    pub(crate) fn open(resume: Resume) -> Result<Self> {
        let steps = resume.load()?.unwrap_or_default();
        Ok(StepLog { resume, steps })
    }

    /// Step `name`: replayed from the log when it is there, else run (`run` is not polled
    /// otherwise) and, when it succeeds, logged. Its trials go to `frame`'s report either way.
    pub(crate) async fn step<T, F>(
        &mut self,
        frame: &mut Frame<'_>,
        name: &str,
        run: F,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Logged<T>>,
    {
        if let Some((value, trials)) = self.replay(name) {
            frame.report.trials.extend(trials);
            return Ok(value);
        }
        let Logged { value, trials } = run.await;
        if let Ok(value) = &value {
            self.record(name, value, &trials)?;
        }
        frame.report.trials.extend(trials);
        value
    }

    /// The value and trials of step `step`, when it was logged.
    fn replay<T: DeserializeOwned>(&self, step: &str) -> Option<(T, Vec<Trial>)> {
        let recorded = self.steps.get(step)?;
        let value = serde_json::from_value(recorded.value.clone()).ok()?;
        Some((value, recorded.trials.clone()))
    }

    /// Logs step `step` and saves the log.
    fn record<T: Serialize>(&mut self, step: &str, value: &T, trials: &[Trial]) -> Result<()> {
        let recorded = Recorded {
            value: serde_json::to_value(value)?,
            trials: trials.to_vec(),
        };
        self.steps.insert(step.to_string(), recorded);
        self.resume.save(&self.steps)
    }
}

/// A scoring step: `score` measured, as one trial `description` (failed when the score is an
/// error).
pub(crate) async fn scored<F>(description: String, score: F) -> Logged<f64>
where
    F: Future<Output = Result<f64>>,
{
    let scored = measure(score).await;
    let trial = scored.trial(description, scored.outcome.as_ref().ok().copied());
    match scored.outcome {
        Ok(score) => Logged {
            value: Ok(score),
            trials: vec![trial],
        },
        Err(error) => Logged {
            trials: vec![trial.failed(&error)],
            value: Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::SearchOptions;

    fn options(path: &std::path::Path) -> SearchOptions {
        SearchOptions::default().checkpoint(path)
    }

    #[tokio::test]
    async fn the_step_log_replays_what_was_saved() {
        let path = std::env::temp_dir()
            .join(format!("dspy-steplog-{}", std::process::id()))
            .join("log.json");
        let options = options(&path);
        let mut frame = Frame::new("COPRO", &options);
        let key = serde_json::json!("k");
        let mut log = StepLog::open(Resume::open(&frame, &key, &[])).unwrap();
        let trial = Trial::new(
            "x",
            Some(0.5),
            &Default::default(),
            std::time::Duration::ZERO,
        );
        let run = |score: f64| {
            let trials = vec![trial.clone()];
            async move {
                Logged {
                    value: Ok(score),
                    trials,
                }
            }
        };
        assert_eq!(
            log.step(&mut frame, "score/0", run(0.5)).await.unwrap(),
            0.5
        );
        let mut reopened = StepLog::open(Resume::open(&frame, &key, &[])).unwrap();
        // Replayed: the value logged, not the one this run would give.
        let replayed = reopened.step(&mut frame, "score/0", run(0.25)).await;
        assert_eq!(replayed.unwrap(), 0.5);
        assert_eq!(frame.report.trials, vec![trial.clone(), trial.clone()]);
        let other = serde_json::json!("other");
        let mut other = StepLog::open(Resume::open(&frame, &other, &[])).unwrap();
        assert_eq!(
            other.step(&mut frame, "score/0", run(0.25)).await.unwrap(),
            0.25
        );
        Checkpoint::new(&path).clear().unwrap();
    }
}
