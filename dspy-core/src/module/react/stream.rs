//! Streaming an agent run: each step as the LM chooses it, each observation as the tool
//! returns, the LM's text as it is generated, then the whole run.

use super::{ReAct, ReActPrediction};
use crate::lm::{Yielder, generate};
use crate::module::StreamEvent;
use crate::signature::Signature;
use crate::{Error, LmErrorKind, Result};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::Mutex;

/// What [`ReAct::stream`] yields. For each step `i`: the step call's
/// [`Delta`](Self::Delta)s, then [`Step`](Self::Step), then
/// [`Observation`](Self::Observation); after the last step, the extraction's `Delta`s with its
/// [`Field`](Self::Field)s among them; then one [`Done`](Self::Done).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReActEvent<O> {
    /// Text an LM call of the run just produced (a step or the extraction), as it arrives.
    Delta(String),
    /// The agent chose its next step; the tool has not run yet.
    Step {
        /// The step's place in the trajectory, from 0.
        index: usize,
        /// The agent's reasoning before acting.
        thought: String,
        /// The tool it picked: one of the tools, `finish`, or a name that is no tool (the
        /// observation then says so).
        tool_name: String,
        /// The arguments, as the LM wrote them.
        tool_args: Value,
    },
    /// What the agent saw after step `index`: the tool's result, or the error it was shown
    /// instead (a failing tool does not end the stream).
    Observation {
        /// The step's place in the trajectory, from 0.
        index: usize,
        /// The tool that was called.
        tool_name: String,
        /// Its result, as it is recorded in the trajectory.
        observation: Value,
    },
    /// An output field of the final extraction, complete: `reasoning` first, then the
    /// signature's outputs, as [`StreamEvent::Field`] reports them.
    Field {
        /// The field's name.
        name: String,
        /// Its value, as the adapter parsed it.
        value: Value,
    },
    /// The end: what [`ReAct::forward`] returns for the same run.
    Done(ReActPrediction<O>),
}

/// The stream [`ReAct::stream`] returns: a [`Stream`] of [`ReActEvent`]s, with
/// [`next`](Self::next) and [`prediction`](Self::prediction) as on
/// [`PredictionStream`](crate::module::PredictionStream). It ends after `Done` or after the
/// first error.
pub struct ReActStream<'a, O> {
    inner: Pin<Box<dyn Stream<Item = Result<ReActEvent<O>>> + Send + 'a>>,
}

impl<O> ReActStream<'_, O> {
    /// The next event, or `None` after the last.
    pub async fn next(&mut self) -> Option<Result<ReActEvent<O>>> {
        self.inner.next().await
    }

    /// Reads the stream to its end and returns the run, as [`ReAct::forward`] would.
    pub async fn prediction(mut self) -> Result<ReActPrediction<O>> {
        while let Some(event) = self.inner.next().await {
            if let ReActEvent::Done(prediction) = event? {
                return Ok(prediction);
            }
        }
        Err(Error::lm(
            LmErrorKind::Backend,
            "the agent's stream ended without its result",
        ))
    }
}

impl<O> Stream for ReActStream<'_, O> {
    type Item = Result<ReActEvent<O>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<O> fmt::Debug for ReActStream<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReActStream").finish_non_exhaustive()
    }
}

impl<S: Signature> ReAct<S> {
    /// Runs the agent as [`forward`](Self::forward) does, reporting it as it goes: each step
    /// when the LM has chosen it, each observation when the tool has returned, the text of
    /// every LM call, the extraction's fields, then the [`ReActPrediction`].
    ///
    /// The run is the same as `forward`'s: the same prompts, `max_iters`, failing tools and
    /// unknown tool names as observations, `finish`, truncation of a trajectory too long for
    /// the model, the same trace entries and usage. Its LM calls are streamed
    /// ([`LM::stream`](crate::LM::stream)); a parse fallback or re-ask, when needed, is a plain
    /// call. Nothing happens until the stream is first polled, and it runs in the polling task.
    ///
    /// ```
    /// use dspy_core::{ConfigureExt, DummyLm, LM, ReAct, Tool};
    /// use dspy_core::module::react::ReActEvent;
    /// # use dspy_macros::Signature;
    /// use schemars::JsonSchema;
    /// use serde::Deserialize;
    /// use serde_json::json;
    ///
    /// /// Answer with a number.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Math { #[input] question: String, #[output] answer: f64 }
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Pair { a: f64, b: f64 }
    ///
    /// let multiply = Tool::new("multiply", "Multiply two numbers.", |p: Pair| async move {
    ///     Ok::<_, String>(p.a * p.b)
    /// });
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(DummyLm::new([
    ///     json!({"next_thought": "Multiply.", "next_tool_name": "multiply", "next_tool_args": {"a": 6, "b": 7}}),
    ///     json!({"next_thought": "Done.", "next_tool_name": "finish", "next_tool_args": {}}),
    ///     json!({"reasoning": "The tool said 42.", "answer": 42}),
    /// ]));
    /// let agent = ReAct::<Math>::new([multiply]).with_lm(lm);
    /// let mut stream = agent.stream(MathInput { question: "6 times 7?".into() });
    /// let mut log = Vec::new();
    /// while let Some(event) = stream.next().await {
    ///     match event.unwrap() {
    ///         ReActEvent::Step { index, tool_name, .. } => log.push(format!("{index}: {tool_name}")),
    ///         ReActEvent::Observation { index, observation, .. } => log.push(format!("{index}: {observation}")),
    ///         ReActEvent::Done(run) => assert_eq!(run.answer, 42.0),
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(log, ["0: multiply", "0: 42.0", "1: finish", "1: \"Completed.\""]);
    /// # });
    /// ```
    pub fn stream(&self, input: S::Input) -> ReActStream<'_, S::Output> {
        let events = generate(move |mut y| async move {
            let outcome = {
                let events = Events::on(&mut y);
                self.run(input, self.max_iters, &events).await
            };
            y.send(outcome.map(ReActEvent::Done)).await;
        });
        ReActStream {
            inner: Box::pin(events),
        }
    }
}

/// Where the agent loop reports what it does: nowhere (for `forward`), or to a stream's reader.
///
/// The loop's LM calls go through closures that may be called again (to retry with a shorter
/// trajectory), so they share this by reference; the lock hands the one reader to whichever
/// call is running. Calls never overlap, so it is never contended.
pub(super) struct Events<'y, O> {
    reader: Option<Mutex<&'y mut Yielder<Result<ReActEvent<O>>>>>,
}

impl<'y, O> Events<'y, O> {
    /// Reports nothing.
    pub(super) fn off() -> Self {
        Events { reader: None }
    }

    /// Reports to the stream `reader` belongs to.
    fn on(reader: &'y mut Yielder<Result<ReActEvent<O>>>) -> Self {
        Events {
            reader: Some(Mutex::new(reader)),
        }
    }

    /// Reports the event `make` builds; it is not built when nothing is reported, so `forward`
    /// clones nothing.
    pub(super) async fn emit(&self, make: impl FnOnce() -> ReActEvent<O>) {
        if let Some(reader) = &self.reader {
            reader.lock().await.send(Ok(make())).await;
        }
    }

    /// The stream's reader, held for one streamed LM call; `None` when nothing is reported.
    pub(super) async fn reader(
        &self,
    ) -> Option<tokio::sync::MutexGuard<'_, &'y mut Yielder<Result<ReActEvent<O>>>>> {
        match &self.reader {
            Some(reader) => Some(reader.lock().await),
            None => None,
        }
    }
}

/// A predictor's streamed text and fields as agent events: the step's fields are reported as
/// the `Step` event (after its tool name and arguments are read), so only its text is kept.
pub(super) fn step_text<T, O>(event: StreamEvent<T>) -> Option<ReActEvent<O>> {
    match event {
        StreamEvent::Delta(text) => Some(ReActEvent::Delta(text)),
        _ => None,
    }
}

/// The extraction's text and fields as agent events.
pub(super) fn extraction_piece<T, O>(event: StreamEvent<T>) -> Option<ReActEvent<O>> {
    match event {
        StreamEvent::Delta(text) => Some(ReActEvent::Delta(text)),
        StreamEvent::Field { name, value } => Some(ReActEvent::Field { name, value }),
        _ => None,
    }
}
