//! A step of a search measured: the LM usage and wall time of what it ran, and what a budget
//! that runs out in it leaves in the report.

use super::Frame;
use super::failure::is_budget;
use crate::Trial;
use dspy_core::Result;
use dspy_core::lm::{UsageReport, track_usage};
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
