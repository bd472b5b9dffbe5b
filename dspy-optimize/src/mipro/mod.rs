//! `MIPROv2`: instructions and demo sets chosen together by Bayesian search.

mod propose;
mod tpe;

use crate::bootstrap::{BootstrapSettings, bootstrap_knobs};
use crate::checkpoint::{Checkpoint, fingerprint};
use crate::demos::{all_fields, is_budget};
use crate::instruct::{StepLog, models_key, scoped, score_on, snippet};
use crate::random_search::{Candidate, build_candidate};
use crate::{Auto, CompileReport, Compiled, Optimizer, Trial};
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::evaluate::{Metric, Progress};
use dspy_core::lm::track_usage;
use dspy_core::{Error, Example, LM, Module, Parameters, Result};
use propose::{Grounding, PromptModel, Target};
use serde::Serialize;
use serde_json::json;
use std::future::Future;
use std::time::Instant;
use tpe::{Tpe, TpeSettings};

/// Below this many validation examples, `auto` mode scores every trial on all of them.
const MIN_MINIBATCH_SIZE: usize = 50;

/// DSPy's `MIPROv2`: proposes instructions grounded in the data and the program, builds demo
/// sets, and searches the combinations with a Tree-structured Parzen Estimator.
///
/// 1. **Demo sets**: for each predictor, `n` candidate demo sets built as
///    [`BootstrapFewShotWithRandomSearch`](crate::BootstrapFewShotWithRandomSearch) builds its
///    candidates: zero-shot, labeled (when `max_labeled_demos > 0`), bootstrapped unshuffled,
///    and bootstrapped on shuffled training sets (defaults: 4 bootstrapped, 4 labeled demos).
/// 2. **Instructions**: the prompt model summarizes the training data in batches
///    (`data_aware`), describes the program and each predictor's role from their signatures
///    (`program_aware`), and proposes instructions for every predictor, each proposal shown a
///    few of its bootstrapped demos (`fewshot_aware`) and a random prompting tip (`tip_aware`).
///    The predictor's current instructions are candidate 0.
/// 3. **Search**: the program as given is scored on the validation set; then each of
///    `num_trials` trials picks an instruction and a demo set per predictor with a TPE sampler
///    (random for the first 10 points, seeded) and scores the combination on a random
///    minibatch of `minibatch_size` (35) validation examples. Every `minibatch_full_eval_steps`
///    (5) trials, and after the last, the combination with the best mean minibatch score not yet
///    fully scored is scored on the whole validation set; the sampler learns from every score.
///    The program returned is the best on the whole validation set.
///
/// Sizes come from an [`Auto`] preset (default `Light`, as DSPy), or are set with
/// [`num_candidates`](Self::num_candidates) and [`num_trials`](Self::num_trials). Without a
/// validation set, the last 80% of the training set is the validation set (as DSPy).
/// Optimizing zero-shot (`max_bootstrapped_demos(0)` and `max_labeled_demos(0)`) searches
/// instructions only; demos are still bootstrapped, to show the proposer.
///
/// Proposals run on [`prompt_model`](Self::prompt_model) when given, the program on
/// [`task_model`](Self::task_model) when given; otherwise both use the configured LM. The
/// report has a trial per demo set built, per prompt-model step, per search trial (the choice,
/// with an instruction snippet, and its minibatch score) and per full evaluation. When an LM
/// budget runs out, the compile returns the best program fully scored so far with
/// [`CompileReport::stopped_by_budget`] set; with [`checkpoint`](Self::checkpoint), a later run
/// with the same arguments continues from the last finished step.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::MIPROv2;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let task = LM::new(DummyLm::keyed([("France", json!({"city": "Paris"})), ("Peru", json!({"city": "Lima"}))]));
/// let prompt = LM::new(DummyLm::keyed([("", json!({
///     "observations": "Countries.", "summary": "Countries and capitals.",
///     "program_description": "Names capitals.", "module_description": "Names the capital.",
///     "proposed_instruction": "Name the capital city of the country.",
/// }))]));
/// let trainset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Peru".into(), city: "Lima".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let compiled = MIPROv2::new(metric)
///     .num_candidates(3)
///     .num_trials(4)
///     .prompt_model(prompt)
///     .task_model(task)
///     .progress(false)
///     .compile_with_valset(&Predict::<Capital>::new(), &trainset, &trainset).await.unwrap();
/// assert_eq!(compiled.report.best_score, Some(1.0));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct MIPROv2<M> {
    metric: M,
    settings: BootstrapSettings,
    search: SearchSettings,
    prompt_model: Option<LM>,
    task_model: Option<LM>,
    checkpoint: Option<Checkpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct SearchSettings {
    auto: Option<Auto>,
    num_candidates: Option<usize>,
    num_trials: Option<usize>,
    init_temperature: f32,
    minibatch: bool,
    minibatch_size: usize,
    minibatch_full_eval_steps: usize,
    view_data_batch_size: usize,
    data_aware: bool,
    program_aware: bool,
    tip_aware: bool,
    fewshot_aware: bool,
}

/// The sizes a compile runs with, from the preset or the settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Plan {
    instruction_candidates: usize,
    demo_candidates: usize,
    num_trials: usize,
    minibatch: bool,
}

/// What the search found so far: kept outside it, so a budget stop still has it.
struct Found<P> {
    report: CompileReport,
    best: Option<(P, f64, usize)>,
}

impl<M> MIPROv2<M> {
    /// MIPROv2 scored by `metric`, with DSPy's defaults: `Auto::Light`, up to 4
    /// bootstrapped and 4 labeled demos, minibatches of 35 with a full evaluation every 5
    /// trials, every proposer aspect on.
    pub fn new(metric: M) -> Self {
        MIPROv2 {
            metric,
            settings: BootstrapSettings {
                max_labeled_demos: 4,
                ..BootstrapSettings::default()
            },
            search: SearchSettings {
                auto: Some(Auto::Light),
                num_candidates: None,
                num_trials: None,
                init_temperature: 1.0,
                minibatch: true,
                minibatch_size: 35,
                minibatch_full_eval_steps: 5,
                view_data_batch_size: 10,
                data_aware: true,
                program_aware: true,
                tip_aware: true,
                fewshot_aware: true,
            },
            prompt_model: None,
            task_model: None,
            checkpoint: None,
        }
    }

    bootstrap_knobs!();

    /// Sizes the search with a preset (the default is `Light`); clears
    /// [`num_candidates`](Self::num_candidates) and [`num_trials`](Self::num_trials).
    ///
    /// | preset | candidates `n` | validation examples |
    /// |---|---|---|
    /// | `Light` | 6 | 100 |
    /// | `Medium` | 12 | 300 |
    /// | `Heavy` | 18 | 1000 |
    ///
    /// From `n`: `n` demo sets per predictor; `n / 2` instructions per predictor (`n` when
    /// optimizing zero-shot); `max(2 · v · log2(n), 1.5 · n)` trials, `v` being the number of
    /// parameters searched (one or two per predictor); the validation set is a random sample of
    /// at most that many examples, scored on minibatches when it has more than 50.
    pub fn auto(mut self, run: Auto) -> Self {
        self.search.auto = Some(run);
        self.search.num_candidates = None;
        self.search.num_trials = None;
        self
    }

    /// Sizes the search by hand: `n` instruction candidates and `n` demo sets per predictor
    /// (turns `auto` off). Trials default to DSPy's suggestion, `max(2 · v · log2(n), 1.5 · n)`.
    pub fn num_candidates(mut self, n: usize) -> Self {
        self.search.auto = None;
        self.search.num_candidates = Some(n.max(1));
        self
    }

    /// How many search trials to run (turns `auto` off).
    pub fn num_trials(mut self, n: usize) -> Self {
        self.search.auto = None;
        self.search.num_trials = Some(n);
        self
    }

    /// The prompt model's temperature for instruction proposals (default 1.0).
    pub fn init_temperature(mut self, temperature: f32) -> Self {
        self.search.init_temperature = temperature;
        self
    }

    /// Scores trials on minibatches (default) or on the whole validation set. Without `auto`
    /// (whose presets decide by the validation set's size), a validation set no larger than the
    /// minibatch is always scored whole.
    pub fn minibatch(mut self, on: bool) -> Self {
        self.search.minibatch = on;
        self
    }

    /// Examples per minibatch (default 35).
    pub fn minibatch_size(mut self, n: usize) -> Self {
        self.search.minibatch_size = n.max(1);
        self
    }

    /// Minibatch trials between two full evaluations (default 5).
    pub fn minibatch_full_eval_steps(mut self, n: usize) -> Self {
        self.search.minibatch_full_eval_steps = n.max(1);
        self
    }

    /// Training examples per call while summarizing the data (default 10).
    pub fn view_data_batch_size(mut self, n: usize) -> Self {
        self.search.view_data_batch_size = n.max(1);
        self
    }

    /// Whether proposals see a summary of the training data (default true).
    pub fn data_aware(mut self, on: bool) -> Self {
        self.search.data_aware = on;
        self
    }

    /// Whether proposals see the program's outline and descriptions (default true).
    pub fn program_aware(mut self, on: bool) -> Self {
        self.search.program_aware = on;
        self
    }

    /// Whether each proposal gets a random prompting tip (default true).
    pub fn tip_aware(mut self, on: bool) -> Self {
        self.search.tip_aware = on;
        self
    }

    /// Whether proposals see bootstrapped demos of the predictor (default true).
    pub fn fewshot_aware(mut self, on: bool) -> Self {
        self.search.fewshot_aware = on;
        self
    }

    /// The LM that summarizes and proposes (default: the configured one).
    pub fn prompt_model(mut self, lm: LM) -> Self {
        self.prompt_model = Some(lm);
        self
    }

    /// The LM the program runs on while bootstrapping and scoring (default: the configured
    /// one; predictors with their own LM keep it).
    pub fn task_model(mut self, lm: LM) -> Self {
        self.task_model = Some(lm);
        self
    }

    /// Saves the search's progress to `path` after every step, and resumes from it when a
    /// compile with the same arguments finds it (see [`Checkpoint`]). The file stays after the
    /// compile ends, so running it again returns the same program without LM calls; other
    /// models (by name) make another key, so switching models starts over.
    pub fn checkpoint(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.checkpoint = Some(Checkpoint::new(path));
        self
    }

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// Compiles `program`, with the last 80% of `trainset` as the validation set (DSPy's
    /// split; prefer [`compile_with_valset`](Self::compile_with_valset)).
    pub async fn compile<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        if trainset.len() < 2 {
            return Err(Error::config(
                "MIPROv2 needs at least 2 training examples to split off a validation set; \
                 give more, or a validation set with compile_with_valset",
            ));
        }
        let valset_size = (trainset.len() * 4 / 5).clamp(1, 1000);
        let (train, val) = trainset.split_at(trainset.len() - valset_size);
        self.run(program, train, val).await
    }

    /// Compiles `program`: demos and proposals from `trainset`, scores on `valset`.
    pub async fn compile_with_valset<P, E>(
        &self,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        self.run(program, trainset, valset).await
    }

    async fn run<P, E>(&self, program: &P, trainset: &[E], valset: &[E]) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        if trainset.is_empty() || valset.is_empty() {
            return Err(Error::config(
                "MIPROv2 needs a non-empty training set and validation set",
            ));
        }
        if self.search.auto.is_none() && self.search.num_candidates.is_none() {
            return Err(Error::config(
                "MIPROv2 without `auto` needs .num_candidates(n) (and optionally .num_trials(t)); \
                 or use .auto(Auto::Light)",
            ));
        }
        let started = Instant::now();
        let mut found = Found {
            report: CompileReport::new("MIPROv2", self.settings.seed),
            best: None,
        };
        let (outcome, usage) =
            track_usage(self.search(program, trainset, valset, &mut found)).await;
        match outcome {
            Ok(()) => {}
            Err(error) if is_budget(&error) => found.report.stopped_by_budget = true,
            Err(error) => return Err(error),
        }
        let Found { mut report, best } = found;
        let program = match best {
            Some((best, _, trial)) => {
                report.choose(trial);
                best
            }
            None => program.clone(),
        };
        report.usage = usage;
        report.elapsed = started.elapsed();
        Ok(Compiled::new(program, report))
    }

    /// The sizes of this compile, and the validation set (sampled by `auto` presets).
    fn plan<'v, E>(&self, predictors: usize, valset: &'v [E], rng: &mut Rng) -> (Plan, Vec<&'v E>) {
        let zero_shot = self.zero_shot();
        let trials_for = |n: usize| {
            let params = predictors * if zero_shot { 1 } else { 2 };
            let n = n as f64;
            (2.0 * params as f64 * n.log2()).max(1.5 * n) as usize
        };
        match self.search.auto {
            Some(run) => {
                let (n, val_size) = run.sizes();
                let picked: Vec<&E> = rng
                    .sample_indices(valset.len(), val_size)
                    .into_iter()
                    .map(|i| &valset[i])
                    .collect();
                let plan = Plan {
                    instruction_candidates: if zero_shot { n } else { n / 2 },
                    demo_candidates: n,
                    num_trials: trials_for(n),
                    minibatch: picked.len() > MIN_MINIBATCH_SIZE,
                };
                (plan, picked)
            }
            None => {
                let n = self.search.num_candidates.unwrap_or(1);
                let plan = Plan {
                    instruction_candidates: n,
                    demo_candidates: n,
                    num_trials: self.search.num_trials.unwrap_or_else(|| trials_for(n)),
                    minibatch: self.search.minibatch && valset.len() > self.search.minibatch_size,
                };
                (plan, valset.iter().collect())
            }
        }
    }

    fn zero_shot(&self) -> bool {
        self.settings.max_bootstrapped_demos == 0 && self.settings.max_labeled_demos == 0
    }

    async fn search<P, E>(
        &self,
        program: &P,
        trainset: &[E],
        valset: &[E],
        found: &mut Found<P>,
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let mut rng = Rng::new(self.settings.seed);
        let names = program.predictor_names();
        let (plan, valset) = self.plan(names.len(), valset, &mut rng);
        let valset: Vec<E> = valset.into_iter().cloned().collect();
        let train_fields = all_fields(trainset)?;
        let key = fingerprint(&[
            &json!({
                "search": self.search,
                "plan": plan,
                "seed": self.settings.seed,
                "max_bootstrapped_demos": self.settings.max_bootstrapped_demos,
                "max_labeled_demos": self.settings.max_labeled_demos,
                "max_rounds": self.settings.max_rounds,
                "metric_threshold": self.settings.metric_threshold,
                "labeled_per_class": self.settings.labeled.per_class,
            }),
            &models_key(self.prompt_model.as_ref(), self.task_model.as_ref()),
            &serde_json::to_value(program.state()?)?,
            &serde_json::to_value(&train_fields)?,
            &serde_json::to_value(all_fields(&valset)?)?,
        ]);
        let mut log = StepLog::open(self.checkpoint.as_ref(), "MIPROv2", key)?;

        // Step 1: demo sets, as [predictor][set].
        let demo_sets = self
            .demo_sets(&mut log, found, program, trainset, plan.demo_candidates)
            .await?;

        // Step 2: instruction candidates, the current ones first.
        let instructions = self
            .instructions(
                &mut log,
                found,
                program,
                &train_fields,
                &demo_sets,
                &plan,
                &mut rng,
            )
            .await?;
        let demo_sets = if self.zero_shot() {
            None
        } else {
            Some(demo_sets)
        };

        // Step 3: the search.
        let space = Space {
            instructions,
            demo_sets,
        };
        self.bayesian_search(&mut log, found, program, &valset, &space, &plan, &mut rng)
            .await
    }

    /// `count` demo sets per predictor, each logged as a step.
    async fn demo_sets<P, E>(
        &self,
        log: &mut StepLog,
        found: &mut Found<P>,
        program: &P,
        trainset: &[E],
        count: usize,
    ) -> Result<Vec<Vec<Vec<FieldValues>>>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        // Optimizing zero-shot, demos are bootstrapped only to show the proposer (DSPy's 3).
        let settings = if self.zero_shot() {
            BootstrapSettings {
                max_bootstrapped_demos: 3,
                ..self.settings.clone()
            }
        } else {
            self.settings.clone()
        };
        let mut candidates = vec![Candidate::ZeroShot];
        if settings.max_labeled_demos > 0 {
            candidates.push(Candidate::Labeled);
        }
        candidates.push(Candidate::Unshuffled);
        let shuffled = count.saturating_sub(3) as u64;
        candidates.extend((0..shuffled).map(Candidate::Shuffled));

        let predictors = program.predictor_names().len();
        let mut sets: Vec<Vec<Vec<FieldValues>>> = vec![Vec::new(); predictors];
        let total = candidates.len();
        for (k, candidate) in candidates.into_iter().enumerate() {
            let step = format!("demos/{k}");
            let per_predictor = match log.replay::<Vec<Vec<FieldValues>>>(&step) {
                Some((demos, trials)) => {
                    found.report.trials.extend(trials);
                    demos
                }
                None => {
                    let started = Instant::now();
                    let label = format!("MIPROv2 demo set {}/{total}", k + 1);
                    let build = build_candidate(
                        &settings,
                        &self.metric,
                        candidate,
                        &label,
                        settings.progress,
                        program,
                        trainset,
                    );
                    let (built, usage) = track_usage(scoped(self.task_model.as_ref(), build)).await;
                    let (built, description, budget) = built?;
                    let description = format!("demo set {k}: {description}");
                    let trial = Trial::new(description, None, &usage, started.elapsed());
                    if budget {
                        let error = Error::Budget(format!(
                            "the LM budget ran out while bootstrapping demo set {k}"
                        ));
                        found.report.trials.push(trial.failed(&error));
                        return Err(error);
                    }
                    let demos: Vec<Vec<FieldValues>> = built
                        .predictors()
                        .iter()
                        .map(|(_, p)| p.demos_json())
                        .collect::<Result<_>>()?;
                    log.record(&step, &demos, std::slice::from_ref(&trial))?;
                    found.report.trials.push(trial);
                    demos
                }
            };
            for (p, demos) in per_predictor.into_iter().enumerate().take(predictors) {
                sets[p].push(demos);
            }
        }
        Ok(sets)
    }

    /// Per predictor: its current instructions, then the proposals.
    #[allow(clippy::too_many_arguments)]
    async fn instructions<P: Parameters>(
        &self,
        log: &mut StepLog,
        found: &mut Found<P>,
        program: &P,
        train_fields: &[FieldValues],
        demo_sets: &[Vec<Vec<FieldValues>>],
        plan: &Plan,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<String>>> {
        let prompt = PromptModel {
            lm: self.prompt_model.as_ref(),
            temperature: self.search.init_temperature,
            concurrency: self.settings.concurrency,
            progress: self.settings.progress,
        };
        let predictors = program.predictors();
        let mut grounding = Grounding::default();
        if self.search.data_aware {
            grounding.data_summary = propose::data_summary(
                &prompt,
                log,
                &mut found.report,
                train_fields,
                self.search.view_data_batch_size,
            )
            .await?;
        }
        if self.search.program_aware {
            let (description, modules) =
                propose::describe_program(&prompt, log, &mut found.report, &predictors, demo_sets)
                    .await?;
            if description.is_some() {
                grounding.program_code = Some(propose::program_code(&predictors));
                grounding.program_description = description;
                grounding.module_descriptions = modules;
            }
        }
        let mut all = Vec::new();
        for (index, (name, predictor)) in predictors.iter().enumerate() {
            let sets = if self.search.fewshot_aware {
                demo_sets[index].as_slice()
            } else {
                &[]
            };
            let count = plan
                .instruction_candidates
                .min(demo_sets[index].len().max(1));
            let asks = propose::draw_asks(count, self.search.tip_aware, rng);
            let target = Target {
                index,
                name,
                predictor: *predictor,
                demo_sets: sets,
            };
            let proposals = propose::propose_instructions(
                &prompt,
                log,
                &mut found.report,
                &grounding,
                &target,
                asks,
            )
            .await?;
            let mut candidates = vec![predictor.effective_instructions().to_string()];
            candidates.extend(proposals);
            all.push(candidates);
        }
        Ok(all)
    }

    /// Scores the program as given, then `num_trials` TPE-chosen combinations.
    #[allow(clippy::too_many_arguments)]
    async fn bayesian_search<P, E>(
        &self,
        log: &mut StepLog,
        found: &mut Found<P>,
        program: &P,
        valset: &[E],
        space: &Space,
        plan: &Plan,
        rng: &mut Rng,
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let steps = self.search.minibatch_full_eval_steps;
        let trials = plan.num_trials;
        // DSPy's count of evaluations: the default one, the trials, and the full evaluations.
        let total = if plan.minibatch {
            trials + trials / steps + 1 + usize::from(!trials.is_multiple_of(steps))
        } else {
            trials + 1
        };
        let progress = Progress::new(total, "MIPROv2 search", self.settings.progress);
        let result = async {
            let mut tpe = Tpe::new(space.cardinalities(), TpeSettings::default());
            let origin = vec![0; space.cardinalities().len()];
            let score = self
                .evaluate(
                    log,
                    found,
                    program.clone(),
                    valset,
                    "default",
                    "default program (full)".into(),
                )
                .await?;
            self.improve(found, program.clone(), score);
            tpe.tell(origin, score);
            progress.step(|| best_message(found));

            // Mean minibatch score per combination, in the order first tried.
            let mut tried: Vec<(Vec<usize>, Vec<f64>)> = Vec::new();
            let mut fully_scored: Vec<Vec<usize>> = Vec::new();
            let mut slot: usize = 1;
            for trial in 0..trials {
                slot += 1;
                let point = tpe.ask(rng);
                let batch: Vec<E> = if plan.minibatch {
                    rng.sample_indices(valset.len(), self.search.minibatch_size)
                        .into_iter()
                        .map(|i| valset[i].clone())
                        .collect()
                } else {
                    valset.to_vec()
                };
                let candidate = space.program(program, &point)?;
                let scope = if plan.minibatch {
                    format!("minibatch of {}", batch.len())
                } else {
                    "full".into()
                };
                let description = format!(
                    "trial {} ({scope}): {}",
                    trial + 1,
                    space.describe(program, &point)
                );
                let score = self
                    .evaluate(
                        log,
                        found,
                        candidate.clone(),
                        &batch,
                        &format!("trial/{trial}"),
                        description,
                    )
                    .await?;
                tpe.tell(point.clone(), score);
                if !plan.minibatch {
                    self.improve(found, candidate, score);
                }
                match tried.iter_mut().find(|(p, _)| *p == point) {
                    Some((_, scores)) => scores.push(score),
                    None => tried.push((point, vec![score])),
                }
                progress.step(|| best_message(found));

                if plan.minibatch && (slot.is_multiple_of(steps + 1) || slot + 1 == total) {
                    let mut ranked: Vec<&(Vec<usize>, Vec<f64>)> = tried
                        .iter()
                        .filter(|(p, _)| !fully_scored.contains(p))
                        .collect();
                    ranked.sort_by(|a, b| mean(&b.1).total_cmp(&mean(&a.1)));
                    let Some((point, scores)) = ranked.first().map(|(p, s)| (p.clone(), s)) else {
                        continue;
                    };
                    slot += 1;
                    let description = format!(
                        "full evaluation (minibatch mean {:.3}): {}",
                        mean(scores),
                        space.describe(program, &point)
                    );
                    let candidate = space.program(program, &point)?;
                    let score = self
                        .evaluate(
                            log,
                            found,
                            candidate.clone(),
                            valset,
                            &format!("full/{slot}"),
                            description,
                        )
                        .await?;
                    tpe.tell(point.clone(), score);
                    fully_scored.push(point);
                    self.improve(found, candidate, score);
                    progress.step(|| best_message(found));
                }
            }
            Ok(())
        }
        .await;
        progress.finish();
        result
    }

    /// Keeps `candidate` as the best when it beats the best so far (its trial is the last).
    fn improve<P>(&self, found: &mut Found<P>, candidate: P, score: f64) {
        let trial = found.report.trials.len() - 1;
        if found.best.as_ref().is_none_or(|(_, best, _)| score > *best) {
            found.best = Some((candidate, score, trial));
        }
    }

    /// The score of `candidate` on `set`, as a logged step and a trial.
    async fn evaluate<P, E>(
        &self,
        log: &mut StepLog,
        found: &mut Found<P>,
        candidate: P,
        set: &[E],
        step: &str,
        description: String,
    ) -> Result<f64>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        if let Some((score, trials)) = log.replay::<f64>(step) {
            found.report.trials.extend(trials);
            return Ok(score);
        }
        let started = Instant::now();
        let run = score_on(
            &self.metric,
            &candidate,
            set,
            self.settings.concurrency,
            self.task_model.as_ref(),
        );
        let (score, usage) = track_usage(run).await;
        let trial = Trial::new(
            description,
            score.as_ref().ok().copied(),
            &usage,
            started.elapsed(),
        );
        match score {
            Ok(score) => {
                log.record(step, &score, std::slice::from_ref(&trial))?;
                found.report.trials.push(trial);
                Ok(score)
            }
            Err(error) => {
                found.report.trials.push(trial.failed(&error));
                Err(error)
            }
        }
    }
}

fn mean(scores: &[f64]) -> f64 {
    scores.iter().sum::<f64>() / scores.len().max(1) as f64
}

fn best_message<P>(found: &Found<P>) -> String {
    match &found.best {
        Some((_, score, _)) => format!("best {:.1}%", 100.0 * score),
        None => String::new(),
    }
}

/// What the search chooses from: per predictor, instructions and (unless zero-shot) demo sets.
/// A point holds, per predictor, the instruction index then (with demos) the demo-set index.
struct Space {
    instructions: Vec<Vec<String>>,
    demo_sets: Option<Vec<Vec<Vec<FieldValues>>>>,
}

impl Space {
    fn per_predictor(&self) -> usize {
        if self.demo_sets.is_some() { 2 } else { 1 }
    }

    fn cardinalities(&self) -> Vec<usize> {
        let mut all = Vec::new();
        for (p, instructions) in self.instructions.iter().enumerate() {
            all.push(instructions.len());
            if let Some(sets) = &self.demo_sets {
                all.push(sets[p].len());
            }
        }
        all
    }

    /// `program` with the instructions and demos of `point`.
    fn program<P: Parameters + Clone>(&self, program: &P, point: &[usize]) -> Result<P> {
        let mut candidate = program.clone();
        let width = self.per_predictor();
        for (p, (_, predictor)) in candidate.predictors_mut().into_iter().enumerate() {
            let instruction = &self.instructions[p][point[p * width]];
            if predictor.effective_instructions() != instruction {
                predictor.set_instructions(Some(instruction.clone()));
            }
            if let Some(sets) = &self.demo_sets {
                predictor.set_demos_json(sets[p][point[p * width + 1]].clone())?;
            }
        }
        Ok(candidate)
    }

    /// The choice of `point` in words, with a snippet of each instruction.
    fn describe<P: Parameters>(&self, program: &P, point: &[usize]) -> String {
        let width = self.per_predictor();
        program
            .predictor_names()
            .iter()
            .enumerate()
            .map(|(p, name)| {
                let i = point[p * width];
                let mut text = format!(
                    "`{name}` instruction {i} \"{}\"",
                    snippet(&self.instructions[p][i], 32)
                );
                if self.demo_sets.is_some() {
                    text.push_str(&format!(" demos {}", point[p * width + 1]));
                }
                text
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl<P, E, M> Optimizer<P, E> for MIPROv2<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize + Clone,
    M: Metric<E, P::Output>,
{
    type Program = P;

    fn compile(
        &self,
        program: &P,
        trainset: &[E],
    ) -> impl Future<Output = Result<Compiled<P>>> + Send {
        MIPROv2::compile(self, program, trainset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_presets_size_the_search_as_dspy() {
        let mipro = MIPROv2::new(());
        let valset: Vec<u32> = (0..400).collect();
        let (plan, picked) = mipro.plan(1, &valset, &mut Rng::new(0));
        // n = 6: 3 instructions, 6 demo sets, max(2·2·log2 6, 9) = 10 trials.
        assert_eq!(
            plan,
            Plan {
                instruction_candidates: 3,
                demo_candidates: 6,
                num_trials: 10,
                minibatch: true
            }
        );
        assert_eq!(picked.len(), 100);

        let heavy = MIPROv2::new(()).auto(Auto::Heavy);
        let (plan, picked) = heavy.plan(2, &valset[..40], &mut Rng::new(0));
        // n = 18: max(2·4·log2 18, 27) = 33 trials; 40 examples are too few for minibatches.
        assert_eq!(
            (plan.num_trials, plan.minibatch, picked.len()),
            (33, false, 40)
        );

        let zero_shot = MIPROv2::new(())
            .max_bootstrapped_demos(0)
            .max_labeled_demos(0)
            .auto(Auto::Medium);
        let (plan, _) = zero_shot.plan(1, &valset, &mut Rng::new(0));
        // n = 12: every candidate an instruction; max(2·1·log2 12, 18) = 18 trials.
        assert_eq!((plan.instruction_candidates, plan.num_trials), (12, 18));
    }

    #[test]
    fn by_hand_the_trials_default_to_dspys_suggestion() {
        let mipro = MIPROv2::new(()).num_candidates(8);
        let valset: Vec<u32> = (0..20).collect();
        let (plan, picked) = mipro.plan(1, &valset, &mut Rng::new(0));
        // max(2·2·3, 12) = 12; 20 examples fit in one minibatch of 35.
        assert_eq!(
            (plan.num_trials, plan.minibatch, picked.len()),
            (12, false, 20)
        );
        let (plan, _) = mipro.num_trials(3).plan(1, &valset, &mut Rng::new(0));
        assert_eq!(plan.num_trials, 3);
    }
}
