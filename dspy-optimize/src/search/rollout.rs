//! Runs programs over examples through [`Evaluate`], keeping each run's score, feedback and
//! (when asked) trace: one program over a set (GEPA's minibatches and validation passes), or
//! many (program, example, sampling) jobs at once (SIMBA's trajectory sampling).

use super::failure::is_fatal;
use dspy_core::evaluate::{Evaluate, Metric, Score};
use dspy_core::lm::UsageReport;
use dspy_core::module::{CallOverrides, Trace, trace, with_overrides};
use dspy_core::{Example, Module, Parameters, Result};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// Every run of one evaluation, in job order.
pub(crate) struct Runs {
    pub scores: Vec<f64>,
    pub feedback: Vec<Option<String>>,
    /// The trace of each run that succeeded (names resolved), when traces were asked for.
    pub traces: Vec<Option<Trace>>,
    /// The trace of each run that failed, up to its failure (names resolved; an unreadable
    /// answer is among its `failures`), when traces were asked for.
    pub failed_traces: Vec<Option<Trace>>,
    /// Each run's LM usage.
    pub usage: Vec<UsageReport>,
}

/// One run to make: `example` through program number `program`, with `overrides` (a rollout
/// id, a temperature) when given.
pub(crate) struct Job<'a, E> {
    pub example: &'a E,
    pub program: usize,
    pub overrides: Option<CallOverrides>,
}

impl<E> Clone for Job<'_, E> {
    fn clone(&self) -> Self {
        Job {
            example: self.example,
            program: self.program,
            overrides: self.overrides.clone(),
        }
    }
}

/// A job's input: the example's input and which program runs it, how.
pub(crate) struct JobInput<I> {
    index: usize,
    input: I,
    program: usize,
    overrides: Option<CallOverrides>,
}

/// A job with its position among the jobs of one run, so a failed run's trace can be put back
/// in its place.
struct Numbered<'j, 'a, E> {
    index: usize,
    job: &'j Job<'a, E>,
}

impl<E> Clone for Numbered<'_, '_, E> {
    fn clone(&self) -> Self {
        Numbered {
            index: self.index,
            job: self.job,
        }
    }
}

impl<E: Example> Example for Numbered<'_, '_, E> {
    type Input = JobInput<E::Input>;

    fn input(&self) -> Self::Input {
        JobInput {
            index: self.index,
            input: self.job.example.input(),
            program: self.job.program,
            overrides: self.job.overrides.clone(),
        }
    }
}

/// A program's output with the trace of the run that produced it.
pub(crate) struct Traced<O> {
    output: O,
    trace: Option<Trace>,
}

/// Runs a job on its program, in a trace scope when `traced`.
struct Pool<'a, P> {
    programs: &'a [P],
    traced: bool,
    /// The traces of failed runs, by job index (an error carries no trace out of `call`).
    failed: Mutex<HashMap<usize, Trace>>,
}

impl<P: Module + Parameters> Module for Pool<'_, P> {
    type Input = JobInput<P::Input>;
    type Output = Traced<P::Output>;

    async fn call(&self, job: Self::Input) -> Result<Self::Output> {
        let program = &self.programs[job.program];
        let run = async {
            if !self.traced {
                return (program.call(job.input).await, None);
            }
            let (output, recorded) = trace(program.call(job.input)).await;
            (output, Some(recorded.with_names(program)))
        };
        let (output, trace) = match job.overrides {
            Some(overrides) => with_overrides(overrides, run).await,
            None => run.await,
        };
        match output {
            Ok(output) => Ok(Traced { output, trace }),
            Err(error) => {
                if let Some(trace) = trace {
                    let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
                    failed.insert(job.index, trace);
                }
                Err(error)
            }
        }
    }
}

/// The metric, scoring the output inside a [`Traced`] against the job's example.
struct OnJob<'a, M>(&'a M);

impl<E, O, M> Metric<Numbered<'_, '_, E>, Traced<O>> for OnJob<'_, M>
where
    M: Metric<E, O>,
    O: Sync,
{
    fn score(
        &self,
        numbered: &Numbered<'_, '_, E>,
        output: &Traced<O>,
    ) -> impl Future<Output = Result<Score>> + Send {
        self.0.score(numbered.job.example, &output.output)
    }
}

/// How runs are made: concurrency, the score of a failed run, and whether to trace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunSettings {
    pub concurrency: usize,
    pub failure_score: f64,
    pub traced: bool,
    /// The progress bar's title, when one is shown.
    pub progress: Option<&'static str>,
}

/// Makes every job concurrently and scores each run. A failed run scores `failure_score`; an
/// LM budget that runs out, or an error no further call could fix (no LM, a rejected key), is
/// returned as the error.
pub(crate) async fn run_jobs<P, E, M>(
    metric: &M,
    programs: &[P],
    jobs: &[Job<'_, E>],
    settings: RunSettings,
) -> Result<Runs>
where
    P: Module + Parameters,
    P::Output: Sync,
    E: Example<Input = P::Input>,
    M: Metric<E, P::Output>,
{
    let pool = Pool {
        programs,
        traced: settings.traced,
        failed: Mutex::new(HashMap::new()),
    };
    let numbered: Vec<Numbered<'_, '_, E>> = jobs
        .iter()
        .enumerate()
        .map(|(index, job)| Numbered { index, job })
        .collect();
    let report = Evaluate::new(OnJob(metric))
        .concurrency(settings.concurrency)
        .failure_score(settings.failure_score)
        .progress(settings.progress.is_some())
        .title(settings.progress.unwrap_or("Runs"))
        // Failed runs are data here (traces of failures, scores of 0): never stop on them.
        .max_lm_errors(usize::MAX)
        .run(&pool, &numbered)
        .await?
        .into_complete()?;
    let mut failed = pool.failed.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut runs = Runs {
        scores: Vec::with_capacity(jobs.len()),
        feedback: Vec::with_capacity(jobs.len()),
        traces: Vec::with_capacity(jobs.len()),
        failed_traces: Vec::with_capacity(jobs.len()),
        usage: Vec::with_capacity(jobs.len()),
    };
    for result in report.results {
        // A NaN score would poison every comparison (and a checkpoint's JSON).
        let score = if result.score.is_finite() {
            result.score
        } else {
            settings.failure_score
        };
        runs.scores.push(score);
        runs.feedback.push(result.feedback);
        runs.usage.push(result.usage);
        match result.output {
            Ok(traced) => {
                runs.traces.push(traced.trace);
                runs.failed_traces.push(None);
            }
            Err(error) if is_fatal(&error) => return Err(error),
            Err(_) => {
                runs.traces.push(None);
                runs.failed_traces.push(failed.remove(&result.index));
            }
        }
    }
    Ok(runs)
}

/// Runs one program on every example (see [`run_jobs`]).
pub(crate) async fn evaluate<P, E, M>(
    metric: &M,
    program: &P,
    examples: &[E],
    settings: RunSettings,
) -> Result<Runs>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input>,
    M: Metric<E, P::Output>,
{
    let jobs: Vec<Job<'_, E>> = examples
        .iter()
        .map(|example| Job {
            example,
            program: 0,
            overrides: None,
        })
        .collect();
    run_jobs(metric, std::slice::from_ref(program), &jobs, settings).await
}
