//! `BootstrapFewShot`: demos from the traces of the runs a metric accepts.

use crate::demos::{
    ByRef, Sampling, all_fields, assign_labeled, derive_seed, fits, is_budget, is_example,
    is_fatal, passes, trace_demos,
};
use crate::{CompileReport, Compiled, Optimizer, Trial};
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::evaluate::{Metric, Progress};
use dspy_core::lm::track_usage;
use dspy_core::module::{CallOverrides, DEFAULT_CONCURRENCY, trace as traced, with_overrides};
use dspy_core::{Example, Module, Parameters, Result};
use futures_util::{StreamExt, stream};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

/// Few-shot demos bootstrapped from the program's own successful runs, as DSPy's
/// `BootstrapFewShot`.
///
/// 1. A *teacher* runs on the training examples: by default a copy of the program given
///    `max_labeled_demos` labeled demos (drawn as [`LabeledFewShot`](crate::LabeledFewShot)
///    does); one passed to [`compile_with_teacher`](Self::compile_with_teacher) is used as it is.
///    The teacher never sees the example it is answering among its demos (a copy without it
///    answers; the teacher itself never changes, unlike DSPy 3.4's, which lost the demo for
///    good whenever a run failed).
/// 2. Each run is traced. A run succeeds when the metric's score passes: `score >= threshold`
///    with [`metric_threshold`](Self::metric_threshold), else `score > 0` (DSPy's truthiness:
///    `true`, a pass, any positive score). A run that fails — a wrong answer, an answer that
///    does not parse, an LM error — is a failed example, recorded in the report with score 0,
///    never an error of the compile. Examples that fail get up to `max_rounds - 1` more tries,
///    each with a fresh rollout id at temperature 1.0 so caches are bypassed.
/// 3. Bootstrapping stops once `max_bootstrapped_demos` examples succeeded. Examples run
///    concurrently (unlike DSPy; [`concurrency`](Self::concurrency), default 8), but their
///    outcomes are taken in training-set order, so the result does not depend on which run
///    finished first. Runs already started past the last needed example are dropped; their
///    calls count in the report's usage, not in its trials.
/// 4. Every predictor of the program gets, as demos, its own call from each of the first
///    successful traces (all predictors of a multi-stage program from the same runs; a
///    predictor called twice in a run gives one of its calls), then labeled demos drawn from the
///    examples that did not succeed and fit its signature, up to `max_labeled_demos` in all.
///
/// The seed (default 0) drives every draw. When an LM budget runs out, the compile stops and
/// returns the program built from the traces found so far, with
/// [`CompileReport::stopped_by_budget`] set; errors that no further call could fix (no LM
/// configured, a rejected API key) are returned.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::BootstrapFewShot;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::keyed([
///     ("France", json!({"city": "Paris"})),
///     ("Italy", json!({"city": "Milan"})), // wrong: not a demo
///     ("Spain", json!({"city": "Madrid"})),
/// ]));
/// let trainset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Italy".into(), city: "Rome".into() },
///     Capital { country: "Spain".into(), city: "Madrid".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let compiled = dspy_core::with_lm(lm, async {
///     BootstrapFewShot::new(metric).max_labeled_demos(0).progress(false)
///         .compile(&Predict::<Capital>::new(), &trainset).await
/// }).await.unwrap();
/// let cities: Vec<&str> = compiled.demos.iter().map(|d| d.city.as_str()).collect();
/// assert_eq!(cities, ["Paris", "Madrid"]);
/// assert_eq!(compiled.report.trials.len(), 3);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct BootstrapFewShot<M> {
    metric: M,
    settings: BootstrapSettings,
}

/// The knobs of bootstrapping, shared with the random search.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BootstrapSettings {
    pub max_bootstrapped_demos: usize,
    pub max_labeled_demos: usize,
    pub max_rounds: usize,
    pub metric_threshold: Option<f64>,
    pub concurrency: usize,
    pub seed: u64,
    pub labeled: Sampling,
    pub progress: bool,
}

impl Default for BootstrapSettings {
    fn default() -> Self {
        BootstrapSettings {
            max_bootstrapped_demos: 4,
            max_labeled_demos: 16,
            max_rounds: 1,
            metric_threshold: None,
            concurrency: DEFAULT_CONCURRENCY,
            seed: 0,
            labeled: Sampling {
                random: true,
                per_class: None,
            },
            progress: true,
        }
    }
}

/// The builder methods both bootstrapping optimizers share.
macro_rules! bootstrap_knobs {
    () => {
        /// At most this many demos per predictor come from successful traces (default 4); it is
        /// also how many successful examples bootstrapping stops at.
        pub fn max_bootstrapped_demos(mut self, n: usize) -> Self {
            self.settings.max_bootstrapped_demos = n;
            self
        }

        /// At most this many demos per predictor in all, labeled ones filling up after the
        /// bootstrapped (default 16); also the teacher's labeled demos.
        pub fn max_labeled_demos(mut self, n: usize) -> Self {
            self.settings.max_labeled_demos = n;
            self
        }

        /// Tries per training example (default 1); later tries use a fresh rollout id at
        /// temperature 1.0.
        pub fn max_rounds(mut self, n: usize) -> Self {
            self.settings.max_rounds = n.max(1);
            self
        }

        /// A run succeeds when its score is at least `threshold` (default: above 0).
        pub fn metric_threshold(mut self, threshold: f64) -> Self {
            self.settings.metric_threshold = Some(threshold);
            self
        }

        /// Runs up to `n` examples at a time (default 8).
        pub fn concurrency(mut self, n: usize) -> Self {
            self.settings.concurrency = n.max(1);
            self
        }

        /// The seed of every random draw (default 0).
        pub fn seed(mut self, seed: u64) -> Self {
            self.settings.seed = seed;
            self
        }

        /// Balances the labeled demos over the values of `field` (e.g. a label).
        pub fn labeled_per_class(mut self, field: impl Into<String>) -> Self {
            self.settings.labeled.per_class = Some(field.into());
            self
        }

        /// Shows progress bars on a terminal (the default) or not.
        pub fn progress(mut self, show: bool) -> Self {
            self.settings.progress = show;
            self
        }
    };
}
pub(crate) use bootstrap_knobs;

impl<M> BootstrapFewShot<M> {
    /// Bootstraps with `metric` (any `Fn(&E, &Output) -> f64 | bool | (f64, String)`, or a
    /// [`Metric`]) and DSPy's defaults: 4 bootstrapped and 16 labeled demos, one round.
    pub fn new(metric: M) -> Self {
        BootstrapFewShot {
            metric,
            settings: BootstrapSettings::default(),
        }
    }

    bootstrap_knobs!();

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// A copy of `program` with bootstrapped and labeled demos; see the type's docs.
    pub async fn compile<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        bootstrap(
            &self.settings,
            &self.metric,
            program,
            None,
            trainset,
            "Bootstrap",
        )
        .await
    }

    /// As [`compile`](Self::compile), with `teacher` (a program of the same structure, often
    /// a compiled one or one on a stronger LM) producing the traces, used as it is.
    pub async fn compile_with_teacher<P, E>(
        &self,
        student: &P,
        teacher: &P,
        trainset: &[E],
    ) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        let teacher = Some(teacher);
        bootstrap(
            &self.settings,
            &self.metric,
            student,
            teacher,
            trainset,
            "Bootstrap",
        )
        .await
    }
}

impl<P, E, M> Optimizer<P, E> for BootstrapFewShot<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    type Program = P;

    fn compile(
        &self,
        program: &P,
        trainset: &[E],
    ) -> impl Future<Output = Result<Compiled<P>>> + Send {
        bootstrap(
            &self.settings,
            &self.metric,
            program,
            None,
            trainset,
            "Bootstrap",
        )
    }
}

/// Bootstraps `student` on `trainset` (see [`BootstrapFewShot`]), reporting as `title`.
pub(crate) async fn bootstrap<'p, P, E, M>(
    settings: &BootstrapSettings,
    metric: &M,
    student: &'p P,
    // The student's lifetime, so a `None` here never asks for `P: 'static`.
    teacher: Option<&'p P>,
    trainset: &[E],
    title: &str,
) -> Result<Compiled<P>>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    let started = Instant::now();
    let (built, usage) =
        track_usage(build(settings, metric, student, teacher, trainset, title)).await;
    let (program, mut report) = built?;
    report.usage = usage;
    report.elapsed = started.elapsed();
    Ok(Compiled::new(program, report))
}

/// How one training example's attempts ended.
enum Outcome {
    /// A run passed: one demo per predictor name.
    Success(BTreeMap<String, FieldValues>),
    /// Every round failed.
    Failed,
    /// An LM budget ran out.
    Budget,
    /// An error no further call can fix.
    Fatal(dspy_core::Error),
}

struct Attempt {
    trials: Vec<Trial>,
    outcome: Outcome,
}

async fn build<'p, P, E, M>(
    settings: &BootstrapSettings,
    metric: &M,
    student: &'p P,
    // The student's lifetime, so a `None` here never asks for `P: 'static`.
    teacher: Option<&'p P>,
    trainset: &[E],
    title: &str,
) -> Result<(P, CompileReport)>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    let examples = all_fields(trainset)?;
    let mut rng = Rng::new(settings.seed);
    let mut report = CompileReport::new("BootstrapFewShot", settings.seed);
    let teacher = match teacher {
        Some(teacher) => teacher.clone(),
        None => {
            let mut teacher = student.clone();
            if settings.max_labeled_demos > 0 {
                let k = settings.max_labeled_demos;
                assign_labeled(&mut teacher, &examples, k, &settings.labeled, &mut rng)?;
            }
            teacher
        }
    };

    let max = settings.max_bootstrapped_demos;
    let mut traces: BTreeMap<String, Vec<FieldValues>> = BTreeMap::new();
    let mut succeeded = vec![false; trainset.len()];
    if max > 0 && !trainset.is_empty() {
        let teacher_demos: Vec<Vec<FieldValues>> = teacher
            .predictors()
            .iter()
            .map(|(_, p)| p.demos_json())
            .collect::<Result<_>>()?;
        let progress = Progress::new(trainset.len(), title, settings.progress);
        let metric = ByRef(metric);
        let (teacher, teacher_demos, examples) = (&teacher, &teacher_demos, &examples);
        // By index, not by reference: see `Evaluate::run` (rust-lang/rust#102211).
        let mut attempts = stream::iter(0..trainset.len())
            .map(|index| {
                let (example, fields) = (&trainset[index], &examples[index]);
                attempt(
                    settings,
                    &metric,
                    teacher,
                    teacher_demos,
                    index,
                    example,
                    fields,
                )
            })
            // In training-set order whatever order they finish in: the result is the same.
            .buffered(settings.concurrency);
        let mut found = 0;
        let mut index = 0;
        while let Some(attempt) = attempts.next().await {
            report.trials.extend(attempt.trials);
            match attempt.outcome {
                Outcome::Success(demos) => {
                    succeeded[index] = true;
                    found += 1;
                    for (name, demo) in demos {
                        traces.entry(name).or_default().push(demo);
                    }
                }
                Outcome::Failed => {}
                Outcome::Budget => {
                    report.stopped_by_budget = true;
                    break;
                }
                Outcome::Fatal(error) => {
                    progress.finish();
                    return Err(error);
                }
            }
            index += 1;
            progress.step(|| format!("{found}/{max} traces"));
            if found >= max {
                break;
            }
        }
        progress.finish();
    }

    let mut program = student.clone();
    let rest: Vec<usize> = (0..trainset.len()).filter(|&i| !succeeded[i]).collect();
    for (name, predictor) in program.predictors_mut() {
        let mut demos = traces.remove(&name).unwrap_or_default();
        demos.truncate(max);
        let room = settings.max_labeled_demos.saturating_sub(demos.len());
        let pool: Vec<usize> = rest
            .iter()
            .copied()
            .filter(|&i| fits(&*predictor, &examples[i]))
            .collect();
        let labeled = settings.labeled.pick(&pool, &examples, room, &mut rng);
        demos.extend(labeled.into_iter().map(|i| examples[i].clone()));
        predictor.set_demos_json(demos)?;
    }
    Ok((program, report))
}

/// Runs the teacher on one example, up to `max_rounds` times, until the metric passes.
async fn attempt<P, E, M>(
    settings: &BootstrapSettings,
    metric: &M,
    teacher: &P,
    teacher_demos: &[Vec<FieldValues>],
    index: usize,
    example: &E,
    fields: &FieldValues,
) -> Attempt
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input>,
    M: Metric<E, P::Output>,
{
    let mut trials = Vec::new();
    let own_copy;
    let shows_example = teacher_demos
        .iter()
        .any(|demos| demos.iter().any(|d| is_example(d, fields)));
    let teacher = if shows_example {
        match without_example(teacher, teacher_demos, fields) {
            Ok(copy) => {
                own_copy = copy;
                &own_copy
            }
            Err(error) => {
                return Attempt {
                    trials,
                    outcome: Outcome::Fatal(error),
                };
            }
        }
    } else {
        teacher
    };

    for round in 0..settings.max_rounds.max(1) {
        let started = Instant::now();
        // DSPy's later rounds: a fresh rollout at temperature 1.0, so caches are bypassed.
        let overrides = match round {
            0 => CallOverrides::new(),
            _ => CallOverrides::new()
                .rollout_id(round as u64)
                .temperature(1.0),
        };
        let ((scored, trace), usage) = track_usage(async {
            let (output, trace) =
                traced(with_overrides(overrides, teacher.call(example.input()))).await;
            let scored = match output {
                Ok(output) => metric.score(example, &output).await.map(|s| s.score),
                Err(error) => Err(error),
            };
            (scored, trace)
        })
        .await;
        let candidate = format!("train[{index}] round {round}");
        match scored {
            Ok(score) => {
                trials.push(Trial::new(
                    candidate,
                    Some(score),
                    &usage,
                    started.elapsed(),
                ));
                if passes(score, settings.metric_threshold) {
                    let mut rng = Rng::new(derive_seed(settings.seed, index as u64));
                    let demos = trace_demos(&trace.with_names(teacher), &mut rng);
                    return Attempt {
                        trials,
                        outcome: Outcome::Success(demos),
                    };
                }
            }
            Err(error) => {
                let trial = Trial::new(candidate, Some(0.0), &usage, started.elapsed());
                trials.push(trial.failed(&error));
                let outcome = if is_budget(&error) {
                    Outcome::Budget
                } else if is_fatal(&error) {
                    Outcome::Fatal(error)
                } else {
                    continue;
                };
                return Attempt { trials, outcome };
            }
        }
    }
    Attempt {
        trials,
        outcome: Outcome::Failed,
    }
}

/// A copy of `teacher` whose predictors no longer show `example` among their demos.
fn without_example<P: Parameters + Clone>(
    teacher: &P,
    teacher_demos: &[Vec<FieldValues>],
    example: &FieldValues,
) -> Result<P> {
    let mut copy = teacher.clone();
    for ((_, predictor), demos) in copy.predictors_mut().into_iter().zip(teacher_demos) {
        if demos.iter().any(|d| is_example(d, example)) {
            let kept = demos.iter().filter(|d| !is_example(d, example)).cloned();
            predictor.set_demos_json(kept.collect())?;
        }
    }
    Ok(copy)
}
