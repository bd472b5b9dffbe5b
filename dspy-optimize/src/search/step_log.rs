//! The step log of a search that runs from the start every time (COPRO's, MIPROv2's): each
//! step under a name, with its value and trials, saved to the compile's checkpoint after it
//! finishes and replayed instead of run when a resumed compile comes to it again. Since every
//! random draw is made whether a step is replayed or not, a resumed compile takes the same path
//! as one that was never interrupted.
//!
//! A step that an LM budget stops returns the budget error to the search, which takes it as
//! the end with [`Frame::stop_on_budget`].

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

    /// The value and trials of step `step`, when it was logged (for a search that runs its
    /// steps concurrently, and so replays and records them itself).
    pub(crate) fn replay<T: DeserializeOwned>(&self, step: &str) -> Option<(T, Vec<Trial>)> {
        let recorded = self.steps.get(step)?;
        let value = serde_json::from_value(recorded.value.clone()).ok()?;
        Some((value, recorded.trials.clone()))
    }

    /// Logs step `step` and saves the log.
    pub(crate) fn record<T: Serialize>(
        &mut self,
        step: &str,
        value: &T,
        trials: &[Trial],
    ) -> Result<()> {
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
