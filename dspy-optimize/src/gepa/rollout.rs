//! Runs a program over examples through [`Evaluate`], keeping each run's score, feedback and
//! (when asked) trace.

use crate::demos::is_fatal;
use dspy_core::evaluate::{Evaluate, Metric, Score};
use dspy_core::module::{Trace, trace};
use dspy_core::{Example, Module, Parameters, Result};
use std::future::Future;

/// Every run of one evaluation, in example order.
pub(crate) struct Runs {
    pub scores: Vec<f64>,
    pub feedback: Vec<Option<String>>,
    /// The trace of each run that succeeded (names resolved), when traces were asked for.
    pub traces: Vec<Option<Trace>>,
}

/// A program's output with the trace of the run that produced it.
pub(crate) struct Traced<O> {
    output: O,
    trace: Option<Trace>,
}

/// Runs the program, in a trace scope when `traced`.
struct Tracing<'a, P> {
    program: &'a P,
    traced: bool,
}

impl<P: Module + Parameters> Module for Tracing<'_, P> {
    type Input = P::Input;
    type Output = Traced<P::Output>;

    async fn call(&self, input: P::Input) -> Result<Self::Output> {
        if !self.traced {
            let output = self.program.call(input).await?;
            return Ok(Traced {
                output,
                trace: None,
            });
        }
        let (output, recorded) = trace(self.program.call(input)).await;
        Ok(Traced {
            output: output?,
            trace: Some(recorded.with_names(self.program)),
        })
    }
}

/// The metric, scoring the output inside a [`Traced`].
struct OnOutput<'a, M>(&'a M);

impl<E, O, M: Metric<E, O>> Metric<E, Traced<O>> for OnOutput<'_, M>
where
    O: Sync,
{
    fn score(&self, example: &E, output: &Traced<O>) -> impl Future<Output = Result<Score>> + Send {
        self.0.score(example, &output.output)
    }
}

/// Runs `program` on every example concurrently and scores each run. A failed run scores
/// `failure_score`; an LM budget that runs out, or an error no further call could fix (no LM, a
/// rejected key), is returned as the error.
pub(crate) async fn evaluate<P, E, M>(
    metric: &M,
    program: &P,
    examples: &[E],
    traced: bool,
    concurrency: usize,
    failure_score: f64,
) -> Result<Runs>
where
    P: Module + Parameters,
    P::Output: Sync,
    E: Example<Input = P::Input> + Clone,
    M: Metric<E, P::Output>,
{
    let report = Evaluate::new(OnOutput(metric))
        .concurrency(concurrency)
        .failure_score(failure_score)
        .progress(false)
        .run(&Tracing { program, traced }, examples)
        .await?;
    let mut runs = Runs {
        scores: Vec::with_capacity(examples.len()),
        feedback: Vec::with_capacity(examples.len()),
        traces: Vec::with_capacity(examples.len()),
    };
    for result in report.results {
        // A NaN score would poison every comparison (and the checkpoint's JSON).
        let score = if result.score.is_finite() {
            result.score
        } else {
            failure_score
        };
        runs.scores.push(score);
        runs.feedback.push(result.feedback);
        match result.output {
            Ok(traced) => runs.traces.push(traced.trace),
            Err(error) if is_fatal(&error) => return Err(error),
            Err(_) => runs.traces.push(None),
        }
    }
    Ok(runs)
}
