//! `MIPROv2`: instructions and demo sets chosen together by Bayesian search.

mod bayes;
mod estimate;
mod propose;
mod tpe;

use crate::search::bootstrap_options::{BootstrapOptions, bootstrap_setters};
use crate::search::demo_sets::{Candidate, DemoSets};
use crate::search::fields::all_fields;
use crate::search::measure::measure;
use crate::search::models::scoped;
use crate::search::provenance::{demo_ids, mark_chosen};
use crate::search::resume::Resume;
use crate::search::step_log::{Logged, StepLog, Within};
use crate::search::warnings::{chosen_has_none, warn_demoless};
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Auto, Estimate};
use bayes::Space;
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::module::DemoState;
use dspy_core::{Error, Example, Module, Parameters, Result};
use propose::{Grounding, PromptModel, Target};
use serde::Serialize;
use serde_json::json;
use std::future::Future;

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
/// [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget) set; with [`checkpoint`](Self::checkpoint), a later run
/// with the same arguments continues from the last finished step (a trial, a proposal, or
/// one training example's bootstrapping within a demo set).
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
    bootstrap: BootstrapOptions,
    search: SearchSettings,
    options: SearchOptions,
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

/// What the search found so far: kept outside it, so a budget stop still has it. `best` is
/// the best program fully scored, its score and its trial.
struct Found<P> {
    best: Option<(P, f64, usize)>,
}

impl<M> MIPROv2<M> {
    /// MIPROv2 scored by `metric`, with DSPy's defaults: `Auto::Light`, up to 4
    /// bootstrapped and 4 labeled demos, minibatches of 35 with a full evaluation every 5
    /// trials, every proposer aspect on.
    pub fn new(metric: M) -> Self {
        MIPROv2 {
            metric,
            bootstrap: BootstrapOptions {
                max_labeled_demos: 4,
                ..BootstrapOptions::default()
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
            options: SearchOptions::default(),
        }
    }

    bootstrap_setters!();
    search_setters!([options] seed, concurrency, progress, prompt_model, task_model, checkpoint, id_field, metric);
    compile_methods!(compile, compile_with_valset, estimate);

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
    #[must_use]
    pub fn auto(mut self, run: Auto) -> Self {
        self.search.auto = Some(run);
        self.search.num_candidates = None;
        self.search.num_trials = None;
        self
    }

    /// Sizes the search by hand: `n` instruction candidates and `n` demo sets per predictor
    /// (turns `auto` off). Trials default to DSPy's suggestion, `max(2 · v · log2(n), 1.5 · n)`.
    #[must_use]
    pub fn num_candidates(mut self, n: usize) -> Self {
        self.search.auto = None;
        self.search.num_candidates = Some(n.max(1));
        self
    }

    /// How many search trials to run (turns `auto` off).
    #[must_use]
    pub fn num_trials(mut self, n: usize) -> Self {
        self.search.auto = None;
        self.search.num_trials = Some(n);
        self
    }

    /// The prompt model's temperature for instruction proposals (default 1.0).
    #[must_use]
    pub fn init_temperature(mut self, temperature: f32) -> Self {
        self.search.init_temperature = temperature;
        self
    }

    /// Scores trials on minibatches (default) or on the whole validation set. Without `auto`
    /// (whose presets decide by the validation set's size), a validation set no larger than the
    /// minibatch is always scored whole.
    #[must_use]
    pub fn minibatch(mut self, on: bool) -> Self {
        self.search.minibatch = on;
        self
    }

    /// Examples per minibatch (default 35).
    #[must_use]
    pub fn minibatch_size(mut self, n: usize) -> Self {
        self.search.minibatch_size = n.max(1);
        self
    }

    /// Minibatch trials between two full evaluations (default 5).
    #[must_use]
    pub fn minibatch_full_eval_steps(mut self, n: usize) -> Self {
        self.search.minibatch_full_eval_steps = n.max(1);
        self
    }

    /// Training examples per call while summarizing the data (default 10).
    #[must_use]
    pub fn view_data_batch_size(mut self, n: usize) -> Self {
        self.search.view_data_batch_size = n.max(1);
        self
    }

    /// Whether proposals see a summary of the training data (default true).
    #[must_use]
    pub fn data_aware(mut self, on: bool) -> Self {
        self.search.data_aware = on;
        self
    }

    /// Whether proposals see the program's outline and descriptions (default true).
    #[must_use]
    pub fn program_aware(mut self, on: bool) -> Self {
        self.search.program_aware = on;
        self
    }

    /// Whether each proposal gets a random prompting tip (default true).
    #[must_use]
    pub fn tip_aware(mut self, on: bool) -> Self {
        self.search.tip_aware = on;
        self
    }

    /// Whether proposals see bootstrapped demos of the predictor (default true).
    #[must_use]
    pub fn fewshot_aware(mut self, on: bool) -> Self {
        self.search.fewshot_aware = on;
        self
    }
}

/// Without a validation set, the last 80% of the training set is the validation set (DSPy's
/// split; prefer `compile_with_valset`).
impl<P, E, M> Search<P, E> for MIPROv2<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize + Clone,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "MIPROv2";

    fn options(&self) -> &SearchOptions {
        &self.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        program: &P,
        trainset: &[E],
        valset: Option<&[E]>,
    ) -> Result<P> {
        let (trainset, valset) = self.sets(trainset, valset)?;
        let mut found = Found { best: None };
        let outcome = self
            .steps(frame, &mut found, program, trainset, valset)
            .await;
        frame.stop_on_budget(outcome)?;
        let mut chosen = match found.best {
            Some((best, _, trial)) => {
                frame.report.choose(trial);
                best
            }
            None => program.clone(),
        };
        mark_chosen(&mut frame.report, &mut chosen, program)?;
        let otherwise = chosen_has_none(&frame.report);
        warn_demoless(
            &mut frame.report,
            &chosen,
            &all_fields(trainset)?,
            &otherwise,
        );
        Ok(chosen)
    }

    fn estimate(&self, program: &P, trainset: &[E], valset: Option<&[E]>) -> Result<Estimate> {
        self.estimate_on(program, trainset, valset)
    }
}

impl<M> MIPROv2<M> {
    /// The training and validation sets a compile works on (the validation set split off the
    /// training set when none is given), checked with the settings.
    fn sets<'a, E>(
        &self,
        trainset: &'a [E],
        valset: Option<&'a [E]>,
    ) -> Result<(&'a [E], &'a [E])> {
        let (trainset, valset) = match valset {
            Some(valset) => (trainset, valset),
            None if trainset.len() < 2 => {
                return Err(Error::config(
                    "MIPROv2 needs at least 2 training examples to split off a validation set; \
                     give more, or a validation set with compile_with_valset",
                ));
            }
            None => {
                let valset_size = (trainset.len() * 4 / 5).clamp(1, 1000);
                trainset.split_at(trainset.len() - valset_size)
            }
        };
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
        Ok((trainset, valset))
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
        self.bootstrap.max_bootstrapped_demos == 0 && self.bootstrap.max_labeled_demos == 0
    }

    /// The search's steps: demo sets, instruction proposals, then the Bayesian search.
    async fn steps<P, E>(
        &self,
        frame: &mut Frame<'_>,
        found: &mut Found<P>,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let mut rng = Rng::new(self.options.seed);
        let names = program.predictor_names();
        let (plan, valset) = self.plan(names.len(), valset, &mut rng);
        let valset: Vec<E> = valset.into_iter().cloned().collect();
        let train_fields = all_fields(trainset)?;
        let log = self.open_log(frame, &plan, program, &train_fields, &valset)?;

        // Step 1: demo sets, as [predictor][set], with their provenance; the proposer sees
        // their fields.
        let demo_sets = self
            .demo_sets(frame, &log, program, trainset, plan.demo_candidates)
            .await?;
        let demo_fields = fields_of(&demo_sets);

        // Step 2: instruction candidates, the current ones first.
        let instructions = Box::pin(self.instructions(
            frame,
            &log,
            program,
            &train_fields,
            &demo_fields,
            &plan,
            &mut rng,
        ))
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
        let run = bayes::Run {
            metric: &self.metric,
            options: &self.options,
            search: &self.search,
            program,
            valset: &valset,
            space: &space,
            plan: &plan,
        };
        Box::pin(run.search(frame, &log, found, &mut rng)).await
    }

    /// The step log of this compile, keyed by everything it depends on.
    fn open_log<P: Parameters, E: Serialize>(
        &self,
        frame: &Frame<'_>,
        plan: &Plan,
        program: &P,
        train_fields: &[FieldValues],
        valset: &[E],
    ) -> Result<StepLog> {
        let settings = json!({
            "search": self.search,
            "plan": plan,
            "seed": self.options.seed,
            "max_bootstrapped_demos": self.bootstrap.max_bootstrapped_demos,
            "max_labeled_demos": self.bootstrap.max_labeled_demos,
            "max_rounds": self.bootstrap.max_rounds,
            "metric_threshold": self.bootstrap.metric_threshold,
            "labeled_per_class": self.bootstrap.labeled.per_class,
        });
        let state = serde_json::to_value(program.state()?)?;
        let train = serde_json::to_value(train_fields)?;
        let val = serde_json::to_value(all_fields(valset)?)?;
        StepLog::open(Resume::open(frame, &settings, &[&state, &train, &val]))
    }

    /// `count` demo sets per predictor, each logged as a step.
    async fn demo_sets<P, E>(
        &self,
        frame: &mut Frame<'_>,
        log: &StepLog,
        program: &P,
        trainset: &[E],
        count: usize,
    ) -> Result<Vec<Vec<Vec<DemoState>>>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let bootstrap = self.demo_bootstrap();
        let candidates = demo_candidates(&bootstrap, count);
        let predictors = program.predictor_names().len();
        let mut sets: Vec<Vec<Vec<DemoState>>> = vec![Vec::new(); predictors];
        let total = candidates.len();
        for (k, candidate) in candidates.into_iter().enumerate() {
            let label = format!("MIPROv2 demo set {}/{total}", k + 1);
            let name = format!("demos/{k}");
            // Each training example's attempts are logged within the set's step.
            let builder = DemoSets {
                metric: &self.metric,
                bootstrap: &bootstrap,
                options: &self.options,
                log: Some(Within { log, step: &name }),
            };
            // Boxed: bootstrapping's future is large, and a search holds several steps.
            let build = Box::pin(builder.build(
                candidate,
                &label,
                self.options.progress,
                program,
                trainset,
            ));
            let step = self.demo_set(k, build);
            let per_predictor = log.step(frame, &name, step).await?;
            for (p, demos) in per_predictor.into_iter().enumerate().take(predictors) {
                sets[p].push(demos);
            }
        }
        Ok(sets)
    }

    /// How demo sets are bootstrapped: as set, except that optimizing zero-shot, demos are
    /// bootstrapped only to show the proposer (DSPy's 3).
    fn demo_bootstrap(&self) -> BootstrapOptions {
        if self.zero_shot() {
            BootstrapOptions {
                max_bootstrapped_demos: 3,
                ..self.bootstrap.clone()
            }
        } else {
            self.bootstrap.clone()
        }
    }

    /// Demo set `k`, built by `build` under the task model: each predictor's demos, with a
    /// trial.
    async fn demo_set<P: Parameters>(
        &self,
        k: usize,
        build: impl Future<Output = Result<(P, String, bool)>>,
    ) -> Logged<Vec<Vec<DemoState>>> {
        let built = measure(scoped(self.options.task_model.as_ref(), build)).await;
        let (program, description, budget) = match built.outcome {
            Ok(built) => built,
            Err(error) => return Logged::failed(error),
        };
        let mut trial = crate::Trial::new(
            format!("demo set {k}: {description}"),
            None,
            &built.usage,
            built.elapsed,
        );
        trial.demos = demo_ids(&program).unwrap_or_default();
        if budget {
            let error = Error::Budget(format!(
                "the LM budget ran out while bootstrapping demo set {k}"
            ));
            return Logged {
                trials: vec![trial.failed(&error)],
                value: Err(error),
            };
        }
        let demos = program
            .predictors()
            .iter()
            .map(|(_, p)| p.demo_states())
            .collect::<Result<_>>();
        match demos {
            Ok(demos) => Logged::ok(demos, vec![trial]),
            Err(error) => Logged::failed(error),
        }
    }

    /// Per predictor: its current instructions, then the proposals.
    #[allow(clippy::too_many_arguments)]
    async fn instructions<P: Parameters>(
        &self,
        frame: &mut Frame<'_>,
        log: &StepLog,
        program: &P,
        train_fields: &[FieldValues],
        demo_sets: &[Vec<Vec<FieldValues>>],
        plan: &Plan,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<String>>> {
        let prompt = PromptModel {
            lm: self.options.prompt_model.as_ref(),
            temperature: self.search.init_temperature,
            concurrency: self.options.concurrency,
            progress: self.options.progress,
        };
        let predictors = program.predictors();
        let grounding = self
            .grounding(&prompt, frame, log, &predictors, train_fields, demo_sets)
            .await?;
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
            let proposals =
                propose::propose_instructions(&prompt, frame, log, &grounding, &target, asks)
                    .await?;
            let mut candidates = vec![predictor.effective_instructions().to_string()];
            candidates.extend(proposals);
            all.push(candidates);
        }
        Ok(all)
    }

    /// What proposals are grounded in: the data's summary and the program's descriptions, as
    /// far as the proposer is aware of them.
    async fn grounding(
        &self,
        prompt: &PromptModel<'_>,
        frame: &mut Frame<'_>,
        log: &StepLog,
        predictors: &[(String, &dyn dspy_core::DynPredictor)],
        train_fields: &[FieldValues],
        demo_sets: &[Vec<Vec<FieldValues>>],
    ) -> Result<Grounding> {
        let mut grounding = Grounding::default();
        if self.search.data_aware {
            let batch = self.search.view_data_batch_size;
            grounding.data_summary =
                propose::data_summary(prompt, frame, log, train_fields, batch).await?;
        }
        if self.search.program_aware {
            let (description, modules) =
                propose::describe_program(prompt, frame, log, predictors, demo_sets).await?;
            if description.is_some() {
                grounding.program_code = Some(propose::program_code(predictors));
                grounding.program_description = description;
                grounding.module_descriptions = modules;
            }
        }
        Ok(grounding)
    }
}

/// The fields of every demo of `sets` ([predictor][set][demo]), as the proposer shows them.
fn fields_of(sets: &[Vec<Vec<DemoState>>]) -> Vec<Vec<Vec<FieldValues>>> {
    sets.iter()
        .map(|per_set| {
            per_set
                .iter()
                .map(|demos| demos.iter().map(|d| d.fields.clone()).collect())
                .collect()
        })
        .collect()
}

/// The `count` demo-set candidates of each predictor: zero-shot, labeled (when there are
/// labeled demos), bootstrapped unshuffled, then shuffled.
fn demo_candidates(bootstrap: &BootstrapOptions, count: usize) -> Vec<Candidate> {
    let mut candidates = vec![Candidate::ZeroShot];
    if bootstrap.max_labeled_demos > 0 {
        candidates.push(Candidate::Labeled);
    }
    candidates.push(Candidate::Unshuffled);
    let shuffled = count.saturating_sub(3) as u64;
    candidates.extend((0..shuffled).map(Candidate::Shuffled));
    candidates
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
