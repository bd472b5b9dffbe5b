//! `BootstrapFinetune`: the weights knob. A teacher's runs that pass the metric become
//! training data for each predictor, and the predictors run on the model fine-tuned on it.

mod data;
mod estimate;
mod train;

use crate::search::fields::clear_demos;
use crate::search::rollout::{RunSettings, evaluate};
use crate::search::scoring::passes;
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Compiled, Estimate, Optimizer, Trial};
use data::Groups;
use dspy_core::evaluate::Metric;
use dspy_core::lm::{Finetuner, Hyperparameters, TrainBudget, UsageReport};
use dspy_core::module::Trace;
use dspy_core::{Example, Module, Parameters, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Fine-tunes the program's LM on its own successful runs, as DSPy's `BootstrapFinetune`.
///
/// 1. A *teacher* runs on every training example, traced: the program as given (with its
///    demos, if a prompt optimizer gave it some), or one passed to
///    [`compile_with_teacher`](Self::compile_with_teacher) (the same structure; often the
///    program on a stronger LM).
/// 2. Only runs whose score passes the metric (`score >= threshold` with
///    [`metric_threshold`](Self::metric_threshold), else `score > 0`) are kept. Each call a
///    kept run made becomes one training example for the predictor that made it, rendered
///    exactly as that predictor of the *student* prompts at inference (its instructions,
///    field layout and adapter; its demos too unless [`exclude_demos`](Self::exclude_demos)),
///    answered with the teacher's output.
/// 3. Predictors that run on the same model are trained together, in one multi-task run
///    (each its own task in [`TrainingData`](dspy_core::lm::TrainingData)); with
///    [`multitask(false)`](Self::multitask), each predictor gets a run of its own. Every run
///    goes through the [`Finetuner`] given (the embedded model's LoRA trainer, a provider's
///    jobs API, ...), cached by a content hash of its data and hyperparameters: compiling again
///    on the same traces trains nothing.
/// 4. Each predictor of the returned program runs on its fine-tuned LM and records its
///    weights ([`DynPredictor::weights`](dspy_core::DynPredictor::weights)), which a saved
///    program keeps by hash and path; after loading one, serve them with
///    [`Parameters::load_weights`].
///
/// A predictor that no kept run called is left as it was, named in a warning of the report.
/// The report has a trial for the teacher's runs (their mean score) and one per training run
/// (its examples, and whether it came from the cache). When an LM budget runs out during the
/// teacher's runs, nothing is trained and the program is returned as given, with
/// [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget) set.
///
/// ```
/// use dspy_core::lm::{DummyFinetuner, DummyLm, LM};
/// use dspy_core::{DynPredictor, Predict};
/// use dspy_optimize::BootstrapFinetune;
/// use serde_json::json;
/// use std::sync::Arc;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let base = LM::new(DummyLm::keyed([
///     ("France", json!({"city": "Paris"})),
///     ("Italy", json!({"city": "Milan"})), // wrong: not trained on
/// ]));
/// let tuned = LM::new(DummyLm::new([json!({"city": "Rome"})]).named("tuned"));
/// let finetuner = Arc::new(DummyFinetuner::new(tuned));
/// let trainset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Italy".into(), city: "Rome".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let compiled = dspy_core::with_lm(base, async {
///     BootstrapFinetune::new(metric, finetuner.clone()).no_cache().progress(false)
///         .compile(&Predict::<Capital>::new(), &trainset).await
/// }).await.unwrap();
/// assert_eq!(finetuner.trained()[0].len(), 1); // only France's run passed
/// assert_eq!(compiled.program.lm().unwrap().model(), "tuned");
/// assert!(compiled.program.weights().is_some());
/// # });
/// ```
#[derive(Clone)]
pub struct BootstrapFinetune<M> {
    metric: M,
    finetuner: Arc<dyn Finetuner>,
    hyperparameters: Hyperparameters,
    budget: TrainBudget,
    cache: Cache,
    exclude_demos: bool,
    multitask: bool,
    threshold: Option<f64>,
    options: SearchOptions,
}

/// Where training runs are cached.
#[derive(Debug, Clone)]
enum Cache {
    /// dspy's cache directory (`finetunes` in it).
    Default,
    Dir(PathBuf),
    Off,
}

impl<M> BootstrapFinetune<M> {
    /// Fine-tunes through `finetuner` on the runs `metric` accepts (any
    /// `Fn(&E, &Output) -> f64 | bool | (f64, String)`, or a [`Metric`]), with the backend's
    /// default hyperparameters, demos kept in the prompts, one run per model.
    pub fn new(metric: M, finetuner: Arc<dyn Finetuner>) -> Self {
        BootstrapFinetune {
            metric,
            finetuner,
            hyperparameters: Hyperparameters::default(),
            budget: TrainBudget::default(),
            cache: Cache::Default,
            exclude_demos: false,
            multitask: true,
            threshold: None,
            options: SearchOptions::default(),
        }
    }

    search_setters!([options] seed, concurrency, progress, metric);
    compile_methods!(compile, estimate);

    /// How to train (epochs, batch size, learning rate, a backend's own settings): part of
    /// each run's cache key.
    #[must_use]
    pub fn hyperparameters(mut self, hyperparameters: Hyperparameters) -> Self {
        self.hyperparameters = hyperparameters;
        self
    }

    /// What each training run may spend (steps, or a provider's cost).
    #[must_use]
    pub fn train_budget(mut self, budget: TrainBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Caches training runs under `dir` (default: `finetunes` in dspy's cache directory).
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = Cache::Dir(dir.into());
        self
    }

    /// Caches no training run: every compile trains.
    #[must_use]
    pub fn no_cache(mut self) -> Self {
        self.cache = Cache::Off;
        self
    }

    /// Renders training prompts without the student's demos, and removes its demos from the
    /// program returned (DSPy's `exclude_demos`; default `false`): the fine-tuned model is
    /// then asked with short prompts, as it was trained.
    #[must_use]
    pub fn exclude_demos(mut self, exclude: bool) -> Self {
        self.exclude_demos = exclude;
        self
    }

    /// Whether predictors on the same model share one training run (default `true`), or each
    /// gets its own.
    #[must_use]
    pub fn multitask(mut self, multitask: bool) -> Self {
        self.multitask = multitask;
        self
    }

    /// A run passes when its score is at least `threshold` (default: above zero).
    #[must_use]
    pub fn metric_threshold(mut self, threshold: f64) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// As [`compile`](Optimizer::compile), with `teacher` (a program of the same structure)
    /// making the runs that become training data.
    pub async fn compile_with_teacher<P, E>(
        &self,
        student: &P,
        teacher: &P,
        trainset: &[E],
    ) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone + Sync,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Sync,
        M: Metric<E, P::Output>,
    {
        Optimizer::compile(
            &Taught {
                finetune: self,
                teacher,
            },
            student,
            trainset,
        )
        .await
    }

    /// The teacher's runs on `trainset`, then a training run per group, then the student on
    /// the fine-tuned LMs.
    async fn run<P, E>(
        &self,
        frame: &mut Frame<'_>,
        student: &P,
        teacher: &P,
        trainset: &[E],
    ) -> Result<P>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        let Some(traces) = self.passing_traces(frame, teacher, trainset).await? else {
            return Ok(student.clone());
        };
        let mut program = student.clone();
        if self.exclude_demos {
            clear_demos(&mut program)?;
        }
        let groups = Groups::of(&program, &traces, self.multitask)?;
        frame.report.warnings.extend(groups.warnings(&program));
        for group in groups.into_iter() {
            let trained = self.train(frame, &group).await?;
            data::serve(&mut program, &group, &trained);
        }
        Ok(program)
    }

    /// The traces of the teacher's runs that pass (`None`: a budget stopped them), with the
    /// teacher's trial.
    async fn passing_traces<P, E>(
        &self,
        frame: &mut Frame<'_>,
        teacher: &P,
        trainset: &[E],
    ) -> Result<Option<Vec<Trace>>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        let settings = RunSettings {
            concurrency: self.options.concurrency,
            failure_score: 0.0,
            traced: true,
            progress: self.options.progress.then_some("Finetune: teacher runs"),
        };
        let started = Instant::now();
        // Boxed: an evaluation's future is large.
        let runs = Box::pin(evaluate(&self.metric, teacher, trainset, settings)).await;
        let Some(runs) = frame.stop_on_budget(runs)? else {
            return Ok(None);
        };
        let mean = runs.scores.iter().sum::<f64>() / runs.scores.len().max(1) as f64;
        let mut usage = UsageReport::default();
        for run in &runs.usage {
            usage += *run;
        }
        let candidate = format!("teacher on {} training examples", trainset.len());
        let trial = Trial::new(candidate, Some(mean), &usage, started.elapsed());
        frame.report.trials.push(trial);
        let kept = runs
            .traces
            .into_iter()
            .zip(&runs.scores)
            .filter(|(_, score)| passes(**score, self.threshold))
            .filter_map(|(trace, _)| trace)
            .collect();
        Ok(Some(kept))
    }
}

impl<M> std::fmt::Debug for BootstrapFinetune<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapFinetune")
            .field("finetuner", &self.finetuner)
            .field("hyperparameters", &self.hyperparameters)
            .field("budget", &self.budget)
            .field("cache", &self.cache)
            .field("exclude_demos", &self.exclude_demos)
            .field("multitask", &self.multitask)
            .field("threshold", &self.threshold)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The program as given is its own teacher; a validation set is not used.
impl<P, E, M> Search<P, E> for BootstrapFinetune<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "BootstrapFinetune";

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
        self.run(frame, student, student, trainset).await
    }

    fn estimate(&self, student: &P, trainset: &[E], _: Option<&[E]>) -> Result<Estimate> {
        self.estimate_with(student, trainset)
    }
}

/// Fine-tuning on a given teacher's runs.
struct Taught<'a, M, P> {
    finetune: &'a BootstrapFinetune<M>,
    teacher: &'a P,
}

impl<P, E, M> Search<P, E> for Taught<'_, M, P>
where
    P: Module + Parameters + Clone + Sync,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "BootstrapFinetune";

    fn options(&self) -> &SearchOptions {
        &self.finetune.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        student: &P,
        trainset: &[E],
        _: Option<&[E]>,
    ) -> Result<P> {
        let teacher = self.teacher.clone();
        self.finetune.run(frame, student, &teacher, trainset).await
    }

    fn estimate(&self, _: &P, trainset: &[E], _: Option<&[E]>) -> Result<Estimate> {
        self.finetune.estimate_with(self.teacher, trainset)
    }
}
