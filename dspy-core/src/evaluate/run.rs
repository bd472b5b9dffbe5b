//! `Evaluate`: runs a program over a dev set concurrently and scores every output.

use super::progress::Progress;
use super::{EvaluationReport, ExampleResult, Metric};
use crate::lm::{UsageReport, current_usage, track_usage};
use crate::module::Module;
use crate::signature::Example;
use crate::{Error, Result};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs a program over a dev set with bounded concurrency and scores each output with a metric.
///
/// A failed call (an LM error, an answer that would not parse) is a failed example scored at
/// `failure_score`, not a failed evaluation — unless more than `max_errors` examples fail, or a
/// budget runs out. A progress bar with the running score is drawn on a terminal.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_core::evaluate::Evaluate;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::keyed([
///     ("France", serde_json::json!({"city": "Paris"})),
///     ("Italy", serde_json::json!({"city": "Milan"})),
/// ]));
/// let devset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Italy".into(), city: "Rome".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let report = Evaluate::new(metric)
///     .concurrency(4)
///     .run(&Predict::<Capital>::new().with_lm(lm), &devset)
///     .await
///     .unwrap();
/// assert_eq!(report.score, 0.5);
/// assert_eq!(report.results[1].output.as_ref().unwrap().city, "Milan");
/// println!("{report}"); // a table of the worst examples
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Evaluate<M> {
    metric: M,
    concurrency: usize,
    failure_score: f64,
    max_errors: Option<usize>,
    progress: bool,
    title: String,
}

impl<M> Evaluate<M> {
    /// An evaluation scored by `metric`: concurrency 16, failures scored 0, never stopping on
    /// errors, progress shown on a terminal.
    pub fn new(metric: M) -> Self {
        Evaluate {
            metric,
            concurrency: 16,
            failure_score: 0.0,
            max_errors: None,
            progress: true,
            title: "Evaluate".into(),
        }
    }

    /// Runs up to `n` examples at a time.
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The score of an example whose call or metric failed.
    #[must_use]
    pub fn failure_score(mut self, score: f64) -> Self {
        self.failure_score = score;
        self
    }

    /// Stops with [`Error::TooManyErrors`] once more than `n` examples have failed.
    #[must_use]
    pub fn max_errors(mut self, n: usize) -> Self {
        self.max_errors = Some(n);
        self
    }

    /// Shows or hides the progress bar (it is never drawn when stderr is not a terminal).
    #[must_use]
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// The title beside the progress bar.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// Runs `program` on every example of `devset` and scores it.
    ///
    /// Results come back in dev-set order whatever the order they finished in.
    pub async fn run<P, E>(
        &self,
        program: &P,
        devset: &[E],
    ) -> Result<EvaluationReport<E, P::Output>>
    where
        P: Module,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let started = Instant::now();
        let progress = Progress::new(devset.len(), &self.title, self.progress);
        let shared = Shared {
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            tally: Mutex::new(Tally {
                results: Vec::with_capacity(devset.len()),
                errors: 0,
                total: 0.0,
                failure: None,
            }),
        };
        // A fixed pool of workers pulls examples by index: one future per worker, not one
        // (large, heap-allocated) future per example.
        let mut workers: FuturesUnordered<_> = (0..self.concurrency.min(devset.len()))
            .map(|_| track_usage(self.worker(program, devset, &shared, &progress)))
            .collect();
        while workers.next().await.is_some() {
            if shared.stop.load(Ordering::Relaxed) {
                break; // dropping the pool cancels the calls still in flight
            }
        }
        drop(workers);
        progress.finish();

        let tally = shared.tally.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(failure) = tally.failure {
            return Err(failure);
        }
        let Tally {
            mut results,
            errors,
            total,
            ..
        } = tally;
        results.sort_by_key(|r| r.index);
        let usage = results.iter().fold(UsageReport::default(), |mut sum, r| {
            sum += r.usage;
            sum
        });
        // The examples are copied into the report only now, all at once: copies made during
        // the run would stay behind among the calls' short-lived allocations and fragment the
        // heap, which cost ~6% of a fast run (benches/evaluate_overhead.rs).
        let results: Vec<ExampleResult<E, P::Output>> = results
            .into_iter()
            .map(|run| ExampleResult {
                index: run.index,
                example: devset[run.index].clone(),
                output: run.output,
                score: run.score,
                feedback: run.feedback,
                usage: run.usage,
                elapsed: run.elapsed,
            })
            .collect();
        let score = if results.is_empty() {
            0.0
        } else {
            total / results.len() as f64
        };
        Ok(EvaluationReport {
            score,
            results,
            errors,
            usage,
            elapsed: started.elapsed(),
        })
    }

    /// Runs examples until none are left or the evaluation must stop.
    async fn worker<P, E>(
        &self,
        program: &P,
        devset: &[E],
        shared: &Shared<P::Output>,
        progress: &Progress,
    ) where
        P: Module,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        // One clock read per example: an example starts when this worker's previous one ended
        // (clock reads cost tens of nanoseconds on a VM, a visible share of a DummyLm call).
        let mut last_end = Instant::now();
        while !shared.stop.load(Ordering::Relaxed) {
            let index = shared.next.fetch_add(1, Ordering::Relaxed);
            let Some(example) = devset.get(index) else {
                return;
            };
            let mut result = self.one(program, index, example).await;
            let end = Instant::now();
            result.elapsed = end - last_end;
            last_end = end;
            let mut tally = shared.tally.lock().unwrap_or_else(|e| e.into_inner());
            tally.total += result.score;
            if result.output.is_err() {
                tally.errors += 1;
                let too_many = self.max_errors.is_some_and(|max| tally.errors > max);
                match result.output {
                    Err(Error::Budget(_)) => {
                        let message = format!(
                            "evaluation stopped after {} of {} examples",
                            tally.results.len(),
                            devset.len()
                        );
                        tally.failure.get_or_insert(Error::Budget(message));
                        shared.stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(last) if too_many => {
                        let errors = tally.errors;
                        tally.failure.get_or_insert(Error::TooManyErrors {
                            errors,
                            last: Box::new(last),
                        });
                        shared.stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    _ => {}
                }
            }
            tally.results.push(result);
            progress.step(|| {
                format!(
                    "score {:.1}% ({} failed)",
                    100.0 * tally.total / tally.results.len() as f64,
                    tally.errors
                )
            });
        }
    }

    async fn one<P, E>(
        &self,
        program: &P,
        index: usize,
        example: &E,
    ) -> ExampleResult<(), P::Output>
    where
        P: Module,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        // The metric's own LM calls (an LM judge) count in the example's usage too.
        let run = async {
            match program.call(example.input()).await {
                Ok(output) => match self.metric.score(example, &output).await {
                    Ok(score) => (Ok(output), score.score, score.feedback),
                    Err(e) => (Err(e), self.failure_score, None),
                },
                Err(e) => (Err(e), self.failure_score, None),
            }
        };
        // The worker's usage scope, read before and after: the example's own usage, without a
        // scope (an allocation and a task-local swap) per example.
        let before = current_usage().unwrap_or_default();
        let (output, score, feedback) = run.await;
        let usage = current_usage().unwrap_or_default().since(&before);
        ExampleResult {
            index,
            example: (),
            output,
            score,
            feedback,
            usage,
            elapsed: Duration::ZERO, // set by the worker
        }
    }
}

/// What the workers of one evaluation share.
struct Shared<O> {
    next: AtomicUsize,
    stop: AtomicBool,
    tally: Mutex<Tally<O>>,
}

struct Tally<O> {
    /// Results without their example, copied in after the run (see `run`).
    results: Vec<ExampleResult<(), O>>,
    errors: usize,
    total: f64,
    /// Why the evaluation stopped early, if it did.
    failure: Option<Error>,
}
