//! The one step loop of the iterative searches that save their whole state after every step
//! (GEPA's, SIMBA's): resume from the checkpoint, take each step measured on a copy of the
//! state, keep and save the copy when the step finishes, stop when an LM budget runs out with
//! what was found, and move the progress bar.

use super::Frame;
use super::measure::{Measured, attempt};
use super::resume::Resume;
use crate::Trial;
use dspy_core::Result;
use dspy_core::evaluate::Progress;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// An iterative search, as [`run_steps`] drives it: a state, and the step that takes it
/// further until the search is done.
pub(crate) trait Steps: Sync {
    /// Everything a resumed compile needs to carry on, its trials among it.
    type State: Clone + Serialize + DeserializeOwned + Send + Sync;
    /// What a step gives besides the state it changes.
    type Done: Send;

    /// The state a compile starts from when its checkpoint holds none; `None` when an LM
    /// budget stopped the making of it (the trial saying so is in the frame's report).
    fn start(
        &self,
        frame: &mut Frame<'_>,
    ) -> impl Future<Output = Result<Option<Self::State>>> + Send;

    /// The trial a budget that stops the next step leaves (`[step 3] stopped`), or `None`
    /// when the search is done.
    fn next(&self, state: &Self::State) -> Option<String>;

    /// Takes the next step on `state`.
    fn step(&self, state: &mut Self::State) -> impl Future<Output = Result<Self::Done>> + Send;

    /// Records what the step gave, measured, in the state it finished on.
    fn record(&self, state: &mut Self::State, done: Measured<Self::Done>);

    /// How far the search is in `state`, in steps of its progress bar.
    fn position(&self, state: &Self::State) -> usize;

    /// What the progress bar says beside it (the best score so far).
    fn message(&self, state: &Self::State) -> String;

    /// The trials of `state`, in the order they were made.
    fn trials(state: &mut Self::State) -> &mut Vec<Trial>;
}

/// Runs `search` to its end, or until an LM budget stops it, from the state `resume` holds
/// (else the one it starts from), saving the state after every step; `progress` follows
/// [`Steps::position`] and finishes when this returns.
///
/// Each step runs on a copy of the state, which replaces it only when the step finishes: a
/// step a budget stopped is dropped whole (a resumed compile redoes it) and leaves the trial
/// [`Steps::next`] names. The frame's report gets the state's trials, then that one. The state
/// it returns is the last finished one; `None` when the budget stopped the start.
pub(crate) async fn run_steps<S: Steps>(
    frame: &mut Frame<'_>,
    resume: Resume,
    search: &S,
    progress: Progress,
) -> Result<Option<S::State>> {
    let mut state = match resume.load()? {
        Some(saved) => saved,
        None => match search.start(frame).await? {
            Some(started) => {
                resume.save(&started)?;
                started
            }
            None => return Ok(None),
        },
    };
    let mut shown = advance(&progress, search, &state, 0);
    while let Some(stopped) = search.next(&state) {
        let mut next = state.clone();
        let Some(done) = attempt(frame, stopped, search.step(&mut next)).await? else {
            break;
        };
        search.record(&mut next, done);
        state = next;
        resume.save(&state)?;
        shown = advance(&progress, search, &state, shown);
    }
    // The steps' trials, then the one a budget stopped.
    let stopped = std::mem::take(&mut frame.report.trials);
    frame.report.trials = std::mem::take(S::trials(&mut state));
    frame.report.trials.extend(stopped);
    Ok(Some(state))
}

/// Moves `progress` from `shown` to where `state` is; returns where that is.
fn advance<S: Steps>(progress: &Progress, search: &S, state: &S::State, shown: usize) -> usize {
    let position = search.position(state);
    for _ in shown..position {
        progress.step(|| search.message(state));
    }
    position.max(shown)
}
