//! `BootstrapFewShot`: demos from the traces of the runs a metric accepts.

mod estimate;

use crate::search::bootstrap_options::{BootstrapOptions, bootstrap_setters};
use crate::search::failure::{is_budget, is_fatal};
use crate::search::fields::{fits, is_example};
use crate::search::measure::measure;
use crate::search::provenance::Examples;
use crate::search::sampling::assign_labeled;
use crate::search::scoring::{ByRef, passes};
use crate::search::seed::derive_seed;
use crate::search::step_log::Within;
use crate::search::traces::trace_demos;
use crate::search::warnings::why_none_fit;
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{CompileWarning, Compiled, Estimate, Optimizer, Trial};
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::module::{CallOverrides, DemoState, trace as traced, with_overrides};
use dspy_core::{Example, Module, Parameters, Result};
use futures_util::{StreamExt, stream};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

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
///    successful traces (all predictors of a multi-stage program from the same runs, so an
///    intermediate stage learns from the runs whose end result passed; a predictor called twice
///    in a run gives one of its calls), then labeled demos drawn from the examples that did not
///    succeed, up to `max_labeled_demos` in all. A labeled demo holds the fields of the example
///    that the predictor's signature has, as with [`LabeledFewShot`](crate::LabeledFewShot):
///    partial where the example lacks some (shown first, as DSPy shows incomplete demos). A
///    predictor left with no demos is named in a [`CompileWarning`] of the report, with why.
/// 5. Every demo records its [`Provenance`](dspy_core::module::Provenance): its training
///    example (by content hash, or `.id_field(name)`), bootstrapped (with the round whose run
///    passed, and that run's trial `train[i] round r` and score as `chosen_by`) or labeled.
///
/// The seed (default 0) drives every draw. When an LM budget runs out, the compile stops and
/// returns the program built from the traces found so far, with
/// [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget) set; errors that no further call could fix (no LM
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
/// let cities: Vec<&str> = compiled.demos.iter().map(|d| d.example().unwrap().city.as_str()).collect();
/// assert_eq!(cities, ["Paris", "Madrid"]);
/// assert_eq!(compiled.report.trials.len(), 3);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct BootstrapFewShot<M> {
    metric: M,
    bootstrap: BootstrapOptions,
    options: SearchOptions,
    /// The progress bar's title.
    title: String,
}

impl<M> BootstrapFewShot<M> {
    /// Bootstraps with `metric` (any `Fn(&E, &Output) -> f64 | bool | (f64, String)`, or a
    /// [`Metric`]) and DSPy's defaults: 4 bootstrapped and 16 labeled demos, one round.
    pub fn new(metric: M) -> Self {
        Self::configured(
            metric,
            BootstrapOptions::default(),
            SearchOptions::default(),
            "Bootstrap".into(),
        )
    }

    /// Bootstrapping with these settings, its progress bar titled `title` (for the optimizers
    /// that bootstrap candidates).
    pub(crate) fn configured(
        metric: M,
        bootstrap: BootstrapOptions,
        options: SearchOptions,
        title: String,
    ) -> Self {
        BootstrapFewShot {
            metric,
            bootstrap,
            options,
            title,
        }
    }

    bootstrap_setters!();
    search_setters!([options] seed, concurrency, progress, id_field, metric);
    compile_methods!(compile, estimate);

    /// As [`compile`](Optimizer::compile), with `teacher` (a program of the same structure,
    /// often a compiled one or one on a stronger LM) producing the traces, used as it is.
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
        let with_teacher = Run {
            bootstrap: self,
            teacher: Some(teacher),
            within: None,
        };
        with_teacher.compile(student, trainset).await
    }

    /// As [`compile`](Optimizer::compile), each training example's attempts logged in
    /// `within` as they finish and replayed from it when logged, so a compile killed in the
    /// middle of bootstrapping redoes only the examples it had not finished.
    pub(crate) async fn compile_logged<P, E>(
        &self,
        student: &P,
        trainset: &[E],
        within: Within<'_>,
    ) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone + Sync,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Sync,
        M: Metric<E, P::Output>,
    {
        let logged = Run {
            bootstrap: self,
            teacher: None,
            within: Some(within),
        };
        Optimizer::compile(&logged, student, trainset).await
    }

    /// The teacher (a copy of `student` with labeled demos), then bootstrapping with it.
    async fn bootstrap<P, E>(
        &self,
        frame: &mut Frame<'_>,
        student: &P,
        trainset: &[E],
        within: Option<Within<'_>>,
    ) -> Result<P>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        let examples = Examples::of(trainset, &self.options)?;
        let mut rng = Rng::new(self.options.seed);
        let mut teacher = student.clone();
        if self.bootstrap.max_labeled_demos > 0 {
            let (k, sampling) = (self.bootstrap.max_labeled_demos, &self.bootstrap.labeled);
            assign_labeled(&mut teacher, &examples, k, sampling, &mut rng)?;
        }
        let runs = Runs { examples, within };
        self.run(frame, student, teacher, trainset, runs, rng).await
    }
}

/// Bootstrapping as a search of its own: with a teacher given, or its runs logged in a step of
/// another optimizer's compile.
struct Run<'a, M, P> {
    bootstrap: &'a BootstrapFewShot<M>,
    teacher: Option<&'a P>,
    within: Option<Within<'a>>,
}

impl<P, E, M> Search<P, E> for Run<'_, M, P>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "BootstrapFewShot";

    fn options(&self) -> &SearchOptions {
        &self.bootstrap.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        student: &P,
        trainset: &[E],
        _: Option<&[E]>,
    ) -> Result<P> {
        match self.teacher {
            Some(teacher) => {
                let teacher = teacher.clone();
                self.bootstrap
                    .build(frame, student, teacher, trainset)
                    .await
            }
            None => {
                let within = self.within;
                self.bootstrap
                    .bootstrap(frame, student, trainset, within)
                    .await
            }
        }
    }

    fn estimate(&self, student: &P, trainset: &[E], _: Option<&[E]>) -> Result<Estimate> {
        self.bootstrap
            .estimate_with(student, self.teacher, trainset)
    }
}

/// Bootstrapping ignores a validation set: it only runs the training examples.
impl<P, E, M> Search<P, E> for BootstrapFewShot<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "BootstrapFewShot";

    fn options(&self) -> &SearchOptions {
        &self.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        student: &P,
        trainset: &[E],
        _: Option<&[E]>,
    ) -> Result<P> {
        self.bootstrap(frame, student, trainset, None).await
    }

    fn estimate(&self, student: &P, trainset: &[E], _: Option<&[E]>) -> Result<Estimate> {
        self.estimate_with(student, None, trainset)
    }
}

/// The training examples' fields, and where their attempts are logged, if anywhere.
struct Runs<'l> {
    examples: Examples,
    within: Option<Within<'l>>,
}

/// How one training example's attempts ended.
enum Outcome {
    /// A run passed in this round: one demo per predictor name.
    Success(BTreeMap<String, FieldValues>, usize),
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
    /// Taken from the log, not run.
    replayed: bool,
}

impl Attempt {
    fn new(trials: Vec<Trial>, outcome: Outcome) -> Self {
        Attempt {
            trials,
            outcome,
            replayed: false,
        }
    }

    /// What a log keeps of an attempt that ended (a success's demos, `None` for a failure);
    /// one a budget or a fatal error stopped is not kept, so it runs again.
    fn logged(&self) -> Option<Option<(&BTreeMap<String, FieldValues>, usize)>> {
        match &self.outcome {
            Outcome::Success(demos, round) => Some(Some((demos, *round))),
            Outcome::Failed => Some(None),
            Outcome::Budget | Outcome::Fatal(_) => None,
        }
    }

    /// The attempt logged as `name` in `within`, if it was.
    fn replay(within: Option<Within<'_>>, name: &str) -> Option<Self> {
        let (demos, trials) =
            within?.replay::<Option<(BTreeMap<String, FieldValues>, usize)>>(name)?;
        let outcome = demos.map_or(Outcome::Failed, |(demos, round)| {
            Outcome::Success(demos, round)
        });
        Some(Attempt {
            trials,
            outcome,
            replayed: true,
        })
    }
}

/// The traces found: per predictor name, its demos in training-set order, and which examples
/// succeeded.
struct Traces {
    demos: BTreeMap<String, Vec<DemoState>>,
    succeeded: Vec<bool>,
}

impl<M> BootstrapFewShot<M> {
    /// Bootstraps `student` with `teacher` given: the seed's generator starts afresh.
    async fn build<P, E>(
        &self,
        frame: &mut Frame<'_>,
        student: &P,
        teacher: P,
        trainset: &[E],
    ) -> Result<P>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        let runs = Runs {
            examples: Examples::of(trainset, &self.options)?,
            within: None,
        };
        let rng = Rng::new(self.options.seed);
        self.run(frame, student, teacher, trainset, runs, rng).await
    }

    /// Runs `teacher` on the training set and gives `student` the demos found, then labeled
    /// ones (drawn with `rng`, after the teacher's).
    async fn run<P, E>(
        &self,
        frame: &mut Frame<'_>,
        student: &P,
        teacher: P,
        trainset: &[E],
        runs: Runs<'_>,
        mut rng: Rng,
    ) -> Result<P>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        let mut traces = Traces {
            demos: BTreeMap::new(),
            succeeded: vec![false; trainset.len()],
        };
        let examples = &runs.examples;
        if self.bootstrap.max_bootstrapped_demos > 0 && !trainset.is_empty() {
            self.trace(frame, &teacher, trainset, &runs, &mut traces)
                .await?;
        }
        let mut program = student.clone();
        let rest: Vec<usize> = (0..trainset.len())
            .filter(|&i| !traces.succeeded[i])
            .collect();
        let successes = trainset.len() - rest.len();
        for (name, predictor) in program.predictors_mut() {
            let mut demos = traces.demos.remove(&name).unwrap_or_default();
            demos.truncate(self.bootstrap.max_bootstrapped_demos);
            let room = self.bootstrap.max_labeled_demos.saturating_sub(demos.len());
            let fields = &examples.fields;
            let pool: Vec<usize> = rest
                .iter()
                .copied()
                .filter(|&i| fits(&*predictor, &fields[i]))
                .collect();
            let labeled = self.bootstrap.labeled.pick(&pool, fields, room, &mut rng);
            demos.extend(labeled.into_iter().map(|i| examples.labeled(i)));
            if demos.is_empty() {
                let rest: Vec<FieldValues> = rest.iter().map(|&i| fields[i].clone()).collect();
                let why = self.why_empty(&*predictor, successes, &rest);
                frame.report.warn(CompileWarning::predictor(name, why));
            }
            predictor.set_demo_states(demos)?;
        }
        Ok(program)
    }

    /// Why `predictor` got no demos: no trace of it, and no labeled demo from `rest` (the
    /// examples that did not succeed).
    fn why_empty(
        &self,
        predictor: &dyn dspy_core::DynPredictor,
        successes: usize,
        rest: &[FieldValues],
    ) -> String {
        let traced = match successes {
            _ if self.bootstrap.max_bootstrapped_demos == 0 => {
                "bootstrapping is off (max_bootstrapped_demos = 0)".to_string()
            }
            0 => "no run of the program passed the metric".to_string(),
            n => format!("it was not called in the {n} runs that passed"),
        };
        let labeled = if self.bootstrap.max_labeled_demos == 0 {
            "labeled demos are off (max_labeled_demos = 0)".to_string()
        } else if rest.is_empty() {
            "every training example became a trace".to_string()
        } else {
            why_none_fit(predictor, rest).unwrap_or_else(|| "no labeled demo was drawn".into())
        };
        format!("no demos: {traced}, and {labeled}")
    }

    /// Runs the teacher on the training examples, concurrently but taken in order, until
    /// `max_bootstrapped_demos` succeeded (or a budget ran out). An example whose attempts
    /// were logged is replayed, not run; one that runs is logged once its turn comes.
    async fn trace<P, E>(
        &self,
        frame: &mut Frame<'_>,
        teacher: &P,
        trainset: &[E],
        runs: &Runs<'_>,
        traces: &mut Traces,
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        let max = self.bootstrap.max_bootstrapped_demos;
        let teacher_demos: Vec<Vec<FieldValues>> = teacher
            .predictors()
            .iter()
            .map(|(_, p)| p.demos_json())
            .collect::<Result<_>>()?;
        let progress = frame.progress(trainset.len(), &self.title);
        let metric = ByRef(&self.metric);
        let (teacher_demos, metric, within) = (&teacher_demos, &metric, runs.within);
        let examples = &runs.examples;
        // By index, not by reference: see `Evaluate::run` (rust-lang/rust#102211).
        let mut attempts = stream::iter(0..trainset.len())
            .map(|index| async move {
                if let Some(replayed) = Attempt::replay(within, &train_step(index)) {
                    return replayed;
                }
                let (example, fields) = (&trainset[index], &examples.fields[index]);
                self.attempt(metric, teacher, teacher_demos, index, example, fields)
                    .await
            })
            // In training-set order whatever order they finish in: the result is the same.
            .buffered(self.options.concurrency);
        let mut found = 0;
        let mut index = 0;
        while let Some(attempt) = attempts.next().await {
            if let (Some(within), Some(logged), false) =
                (within, attempt.logged(), attempt.replayed)
            {
                within.record(&train_step(index), &logged, &attempt.trials)?;
            }
            frame.report.trials.extend(attempt.trials);
            match attempt.outcome {
                Outcome::Success(demos, round) => {
                    traces.succeeded[index] = true;
                    found += 1;
                    // The passing run is the attempt's last trial.
                    let trial = frame.report.trials.len() - 1;
                    let score = frame.report.trials[trial].score;
                    for (name, demo) in demos {
                        let mut demo = examples.bootstrapped(index, demo, round);
                        demo.provenance = demo
                            .provenance
                            .map(|p| p.chosen_by(&frame.report.optimizer, trial, score));
                        traces.demos.entry(name).or_default().push(demo);
                    }
                }
                Outcome::Failed => {}
                Outcome::Budget => {
                    frame.report.stopped_by_budget = true;
                    break;
                }
                Outcome::Fatal(error) => return Err(error),
            }
            index += 1;
            progress.step(|| format!("{found}/{max} traces"));
            if found >= max {
                break;
            }
        }
        Ok(())
    }

    /// Runs the teacher on one example, up to `max_rounds` times, until the metric passes.
    async fn attempt<P, E, N>(
        &self,
        metric: &N,
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
        N: Metric<E, P::Output>,
    {
        let mut trials = Vec::new();
        // The teacher never sees the example it answers among its demos.
        let teacher = match without_example(teacher, teacher_demos, fields) {
            Ok(teacher) => teacher,
            Err(error) => return Attempt::new(trials, Outcome::Fatal(error)),
        };
        let teacher = &*teacher;
        for round in 0..self.bootstrap.max_rounds.max(1) {
            let run = measure(run_once(metric, teacher, example, round)).await;
            let candidate = format!("train[{index}] round {round}");
            let (scored, trace) = run.outcome;
            match scored {
                Ok(score) => {
                    trials.push(Trial::new(candidate, Some(score), &run.usage, run.elapsed));
                    if passes(score, self.bootstrap.metric_threshold) {
                        let mut rng = Rng::new(derive_seed(self.options.seed, index as u64));
                        let demos = trace_demos(&trace.with_names(teacher), &mut rng);
                        return Attempt::new(trials, Outcome::Success(demos, round));
                    }
                }
                Err(error) => {
                    let trial = Trial::new(candidate, Some(0.0), &run.usage, run.elapsed);
                    trials.push(trial.failed(&error));
                    let outcome = if is_budget(&error) {
                        Outcome::Budget
                    } else if is_fatal(&error) {
                        Outcome::Fatal(error)
                    } else {
                        continue;
                    };
                    return Attempt::new(trials, outcome);
                }
            }
        }
        Attempt::new(trials, Outcome::Failed)
    }
}

/// The name a training example's attempts are logged under.
fn train_step(index: usize) -> String {
    format!("train/{index}")
}

/// One traced run of the teacher on `example`, scored. Later rounds are DSPy's: a fresh
/// rollout at temperature 1.0, so caches are bypassed.
async fn run_once<P, E, N>(
    metric: &N,
    teacher: &P,
    example: &E,
    round: usize,
) -> (Result<f64>, dspy_core::module::Trace)
where
    P: Module,
    P::Output: Sync,
    E: Example<Input = P::Input>,
    N: Metric<E, P::Output>,
{
    let overrides = match round {
        0 => CallOverrides::new(),
        _ => CallOverrides::new()
            .rollout_id(round as u64)
            .temperature(1.0),
    };
    let (output, trace) = traced(with_overrides(overrides, teacher.call(example.input()))).await;
    let scored = match output {
        Ok(output) => metric.score(example, &output).await.map(|s| s.score),
        Err(error) => Err(error),
    };
    (scored, trace)
}

/// `teacher` as it is when its predictors do not show `example` among their demos, else a
/// copy of it whose predictors no longer do.
fn without_example<'t, P: Parameters + Clone>(
    teacher: &'t P,
    teacher_demos: &[Vec<FieldValues>],
    example: &FieldValues,
) -> Result<Cow<'t, P>> {
    let shows = |demos: &Vec<FieldValues>| demos.iter().any(|d| is_example(d, example));
    if !teacher_demos.iter().any(shows) {
        return Ok(Cow::Borrowed(teacher));
    }
    let mut copy = teacher.clone();
    for ((_, predictor), demos) in copy.predictors_mut().into_iter().zip(teacher_demos) {
        if shows(demos) {
            let kept = demos.iter().filter(|d| !is_example(d, example)).cloned();
            predictor.set_demos_json(kept.collect())?;
        }
    }
    Ok(Cow::Owned(copy))
}
