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

/// Examples that may fail on LM errors before an [`Evaluate`] stops, by default.
pub const DEFAULT_MAX_LM_ERRORS: usize = 10;

/// Runs a program over a dev set with bounded concurrency and scores each output with a metric.
///
/// A failed call (an LM error, an answer that would not parse) is a failed example scored at
/// `failure_score`, not a failed evaluation. It stops early when a budget runs out, when more
/// than [`max_errors`](Self::max_errors) examples fail (off by default), or when more than
/// [`max_lm_errors`](Self::max_lm_errors) examples fail on LM errors (10 by default: a dead
/// endpoint should not be sent thousands of requests). A stopped evaluation still returns what
/// it evaluated, with [`EvaluationReport::stopped`] saying why; use
/// [`EvaluationReport::into_complete`] to treat a stop as the error. A progress bar with the
/// running score is drawn on a terminal (a line every few seconds elsewhere).
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
    max_lm_errors: usize,
    progress: bool,
    title: String,
}

impl<M> Evaluate<M> {
    /// An evaluation scored by `metric`: concurrency 16, failures scored 0, stopping after more
    /// than 10 LM errors (answers that do not parse never stop it), progress shown.
    pub fn new(metric: M) -> Self {
        Evaluate {
            metric,
            concurrency: 16,
            failure_score: 0.0,
            max_errors: None,
            max_lm_errors: DEFAULT_MAX_LM_ERRORS,
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

    /// Stops (with [`Error::TooManyErrors`] as the [cause](super::Stopped::cause)) once more
    /// than `n` examples have failed, for any reason.
    #[must_use]
    pub fn max_errors(mut self, n: usize) -> Self {
        self.max_errors = Some(n);
        self
    }

    /// Stops once more than `n` examples have failed on an LM error ([`Error::Lm`]: the
    /// endpoint down, the key wrong, retries exhausted); default
    /// [`DEFAULT_MAX_LM_ERRORS`]. `usize::MAX` never stops. Answers that fail to parse do
    /// not count: they are a weak model's failed examples, scored and kept.
    #[must_use]
    pub fn max_lm_errors(mut self, n: usize) -> Self {
        self.max_lm_errors = n;
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
                lm_errors: 0,
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
        let Tally {
            mut results,
            errors,
            total,
            failure,
            ..
        } = tally;
        let stopped = failure.map(|cause| super::Stopped {
            evaluated: results.len(),
            total: devset.len(),
            cause,
        });
        if let Some(stopped) = &stopped {
            tracing::warn!(
                target: "dspy::evaluate",
                evaluated = stopped.evaluated,
                total = stopped.total,
                "evaluation stopped early: {}",
                stopped.cause
            );
        }
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
            stopped,
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
            let stop = match &result.output {
                Err(error) => self.stop_for(error, &mut tally),
                Ok(_) => None,
            };
            if let Some(stop) = stop {
                // The example that stops the run is not counted: a refused one never ran.
                let evaluated = tally.results.len();
                if let Err(error) = result.output {
                    let cause = stop.cause(error, evaluated, devset.len());
                    tally.failure.get_or_insert(cause);
                }
                shared.stop.store(true, Ordering::Relaxed);
                return;
            }
            tally.errors += usize::from(result.output.is_err());
            tally.total += result.score;
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

    /// Whether `error` stops the evaluation. Counts LM errors as it goes.
    fn stop_for<O>(&self, error: &Error, tally: &mut Tally<O>) -> Option<Stop> {
        if matches!(error, Error::Budget(_)) {
            return Some(Stop::Budget);
        }
        let errors = tally.errors + 1;
        if self.max_errors.is_some_and(|max| errors > max) {
            return Some(Stop::TooMany(errors));
        }
        if matches!(error, Error::Lm { .. }) {
            tally.lm_errors += 1;
            if tally.lm_errors > self.max_lm_errors {
                return Some(Stop::TooMany(tally.lm_errors));
            }
        }
        None
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

/// Why a run stops.
enum Stop {
    Budget,
    /// Too many failures (of this count).
    TooMany(usize),
}

impl Stop {
    fn cause(self, error: Error, evaluated: usize, total: usize) -> Error {
        match self {
            Stop::Budget => Error::Budget(format!(
                "evaluation stopped after {evaluated} of {total} examples"
            )),
            Stop::TooMany(errors) => Error::TooManyErrors {
                errors,
                last: Box::new(error),
            },
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
    /// Examples that failed on an LM error.
    lm_errors: usize,
    total: f64,
    /// Why the evaluation stopped early, if it did.
    failure: Option<Error>,
}
