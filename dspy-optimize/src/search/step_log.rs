//! The step log of a search that runs from the start every time (COPRO's, MIPROv2's): each
//! step under a name, with its value and trials, saved to the compile's checkpoint after it
//! finishes and replayed instead of run when a resumed compile comes to it again. Since every
//! random draw is made whether a step is replayed or not, a resumed compile takes the same path
//! as one that was never interrupted.
//!
//! A step that an LM budget stops returns the budget error to the search, which takes it as
//! the end with [`Frame::stop_on_budget`]. A long step can log steps of its own ([`Within`]: a
//! bootstrap, one per training example), so a resumed compile redoes only what the step had
//! not finished; they are dropped from the log when the step itself is logged.

use super::Frame;
use super::measure::measure;
use super::resume::Resume;
use crate::Trial;
use dspy_core::Result;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

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
///
/// Shared, not borrowed mutably, so a step and the steps within it log into it at once.
#[derive(Debug)]
pub(crate) struct StepLog {
    resume: Resume,
    steps: Mutex<BTreeMap<String, Recorded>>,
}

impl StepLog {
    /// The log saved for this compile, or an empty one.
    pub(crate) fn open(resume: Resume) -> Result<Self> {
        let steps = resume.load()?.unwrap_or_default();
        Ok(StepLog {
            resume,
            steps: Mutex::new(steps),
        })
    }

    /// Step `name`: replayed from the log when it is there, else run (`run` is not polled
    /// otherwise) and, when it succeeds, logged. Its trials go to `frame`'s report either way.
    pub(crate) async fn step<T, F>(&self, frame: &mut Frame<'_>, name: &str, run: F) -> Result<T>
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

    /// The value and trials of step `step`, when it was logged (for a search that runs its
    /// steps concurrently, and so replays and records them itself).
    pub(crate) fn replay<T: DeserializeOwned>(&self, step: &str) -> Option<(T, Vec<Trial>)> {
        let steps = self.steps();
        let recorded = steps.get(step)?;
        let value = serde_json::from_value(recorded.value.clone()).ok()?;
        Some((value, recorded.trials.clone()))
    }

    /// Logs step `step` (dropping the steps logged within it) and saves the log.
    pub(crate) fn record<T: Serialize>(
        &self,
        step: &str,
        value: &T,
        trials: &[Trial],
    ) -> Result<()> {
        let recorded = Recorded {
            value: serde_json::to_value(value)?,
            trials: trials.to_vec(),
        };
        let mut steps = self.steps();
        let within = format!("{step}/");
        steps.retain(|name, _| !name.starts_with(&within));
        steps.insert(step.to_string(), recorded);
        self.resume.save(&*steps)
    }

    fn steps(&self) -> MutexGuard<'_, BTreeMap<String, Recorded>> {
        self.steps.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The steps within step `step` of `log` (`demos/2/train/5` within `demos/2`): logged as they
/// finish, replayed when a resumed compile comes to them, dropped once `step` is logged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Within<'l> {
    pub log: &'l StepLog,
    pub step: &'l str,
}

impl Within<'_> {
    /// The value and trials of step `name` within this one, when it was logged.
    pub(crate) fn replay<T: DeserializeOwned>(&self, name: &str) -> Option<(T, Vec<Trial>)> {
        self.log.replay(&self.name(name))
    }

    /// Logs step `name` within this one.
    pub(crate) fn record<T: Serialize>(
        &self,
        name: &str,
        value: &T,
        trials: &[Trial],
    ) -> Result<()> {
        self.log.record(&self.name(name), value, trials)
    }

    fn name(&self, name: &str) -> String {
        format!("{}/{name}", self.step)
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
    use crate::checkpoint::Checkpoint;
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
        let log = StepLog::open(Resume::open(&frame, &key, &[])).unwrap();
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
        let reopened = StepLog::open(Resume::open(&frame, &key, &[])).unwrap();
        // Replayed: the value logged, not the one this run would give.
        let replayed = reopened.step(&mut frame, "score/0", run(0.25)).await;
        assert_eq!(replayed.unwrap(), 0.5);
        assert_eq!(frame.report.trials, vec![trial.clone(), trial.clone()]);
        let other = serde_json::json!("other");
        let other = StepLog::open(Resume::open(&frame, &other, &[])).unwrap();
        assert_eq!(
            other.step(&mut frame, "score/0", run(0.25)).await.unwrap(),
            0.25
        );
        Checkpoint::new(&path).clear().unwrap();
    }
}
