//! `GEPA`: reflective prompt evolution, as the `gepa` package and DSPy's `dspy.GEPA` do it.

mod estimate;
mod merge;
mod pareto;
mod reflect;
mod state;

use crate::search::failure::{is_budget, stops};
use crate::search::measure::{Measured, measure};
use crate::search::models::scoped;
use crate::search::resume::Resume;
use crate::search::rollout::{RunSettings, Runs, evaluate};
use crate::search::seed::derive_seed;
use crate::search::steps::{Steps, run_steps};
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Auto, Estimate, Trial};
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::util::snippet;
use dspy_core::{Error, Example, LM, Module, Parameters, Result};
use merge::{Instructions, merge_subsample, propose_merge};
use pareto::{best_index, dominators, frontier, select_parent};
use reflect::{Rollout, propose_instruction, reflective_records};
use serde::Serialize;
use state::{SearchState, minibatch};

/// Which candidate the next reflective mutation starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateSelection {
    /// A candidate of the Pareto frontier, drawn by how many validation examples it is best on
    /// (the default).
    Pareto,
    /// Always the candidate with the best mean validation score.
    CurrentBest,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
enum BudgetSetting {
    Auto(Auto),
    MetricCalls(usize),
    FullEvals(usize),
}

/// The knobs that change what a compile finds (the checkpoint key includes them, with the
/// seed).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Settings {
    budget: Option<BudgetSetting>,
    reflection_minibatch_size: usize,
    candidate_selection: CandidateSelection,
    skip_perfect_score: bool,
    add_format_failure_as_feedback: bool,
    perfect_score: f64,
    use_merge: bool,
    max_merge_invocations: usize,
    failure_score: f64,
}

/// DSPy's `GEPA` (Genetic-Pareto reflective prompt evolution): it evolves the instructions of
/// every predictor of a program by reflecting, in words, on the program's runs.
///
/// Each iteration:
///
/// 1. **Select** a parent among the candidates found so far: one of the Pareto frontier over
///    the validation set (the candidates best on some example), drawn with weight the number of
///    examples it is best on, after removing candidates whose examples others also cover
///    ([`CandidateSelection::Pareto`], the default).
/// 2. **Run** it on a minibatch of `reflection_minibatch_size` training examples (default 3;
///    the training set is shuffled once per epoch and cut into minibatches), recording every
///    predictor call (its inputs and outputs) and the metric's score and feedback. When every
///    run already scores `perfect_score` (1.0), the iteration ends here.
/// 3. **Reflect**: the predictors take turns (round robin, per candidate); the one whose turn it
///    is gets a *reflective dataset* — from each successful run, one of its calls with the run's
///    feedback (and with [`add_format_failure_as_feedback`](Self::add_format_failure_as_feedback),
///    its unreadable answers too) — and the reflection LM ([`reflection_lm`](Self::reflection_lm)) reads it with the
///    current instruction and writes a new one (a real LM call through this crate's
///    `ProposeInstruction` signature).
///    A proposal that repeats the current instruction is skipped.
/// 4. **Accept** the child (the parent with that one new instruction) when its score sum on the
///    same minibatch beats the parent's; an accepted child is scored on the whole validation
///    set and joins the candidates and the frontier.
///
/// With [`use_merge`](Self::use_merge) (the default), after an iteration that added a candidate
/// the next one first tries a **merge** (up to `max_merge_invocations`, default 5, accepted):
/// two frontier candidates descended from a common ancestor that each improved different
/// predictors are combined, predictor by predictor, keeping each one's changes; the merge is
/// kept when its score on a subsample of 5 validation examples (where either parent wins, and
/// ties) is no lower than the better parent's there.
///
/// The metric may give textual feedback (return `(score, "why")` or a
/// [`Score`](dspy_core::evaluate::Score) with `feedback`), which is what the reflection LM
/// learns from; a plain score works too (the feedback is then `This trajectory got a score of
/// s.`). Runs that fail (an answer that does not parse, an LM error) score `failure_score` (0)
/// and give no record.
///
/// **Budget**: exactly one of [`auto`](Self::auto) (DSPy's light/medium/heavy estimate),
/// [`max_metric_calls`](Self::max_metric_calls) or [`max_full_evals`](Self::max_full_evals):
/// the search stops once that many example runs were scored (the first iteration past it
/// finishes). An LM [`Budget`](dspy_core::lm::Budget) running out stops it too, with
/// [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget). Either way the candidate with the best mean validation
/// score is returned.
///
/// Every candidate is a trial of the report: how it was made (its parents, the predictor and
/// the start of its new instruction), its minibatch scores and its validation score, LM calls
/// and time; proposals that were rejected are trials without a score. All randomness comes
/// from the seed (each iteration draws from a seed derived from it and the iteration number),
/// and runs are evaluated concurrently (`concurrency`, default 8) through
/// [`Evaluate`](dspy_core::evaluate::Evaluate), so a deterministic LM gives the same program for
/// the same seed. With [`checkpoint`](Self::checkpoint) the state is saved after every
/// iteration and a compile with the same arguments resumes from it (the budget apart: one given
/// a larger budget carries on where the checkpoint stopped). The file is kept once the compile
/// finishes, so running it again returns the same program at once; delete it to start over.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::GEPA;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let task = LM::new(DummyLm::keyed([("Australia", json!({"city": "Sydney"}))]));
/// let reflection = DummyLm::keyed([(
///     "Answer with the capital city.",
///     json!({"new_instruction": "Name the seat of government, not the largest city."}),
/// )]);
/// let trainset = vec![Capital { country: "Australia".into(), city: "Canberra".into() }];
/// // Feedback in words is what the reflection LM learns from.
/// let metric = |ex: &Capital, out: &CapitalOutput| {
///     if ex.city == out.city { (1.0, "Right.".to_string()) }
///     else { (0.0, format!("{} is the largest city, not the capital.", out.city)) }
/// };
/// let gepa = GEPA::new(metric)
///     .max_metric_calls(3)
///     .reflection_lm(LM::new(reflection.clone()))
///     .progress(false);
/// let compiled = dspy_core::with_lm(task, gepa.compile(&Predict::<Capital>::new(), &trainset))
///     .await
///     .unwrap();
/// let asked = reflection.last_request().unwrap().prompt.to_text();
/// assert!(asked.contains("Sydney is the largest city, not the capital."));
/// println!("{}", compiled.report); // the seed program, then each proposal
/// assert_eq!(compiled.report.trials.len(), 2);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct GEPA<M> {
    metric: M,
    settings: Settings,
    options: SearchOptions,
}

/// What one iteration did, for its trial.
struct Outcome {
    description: String,
    score: Option<f64>,
    error: Option<String>,
    added: Option<usize>,
}

impl Outcome {
    fn note(description: String) -> Self {
        Outcome {
            description,
            score: None,
            error: None,
            added: None,
        }
    }
}

/// What a search shares with its iterations.
struct Context<'a, P, E> {
    program: &'a P,
    names: Vec<String>,
    trainset: &'a [E],
    valset: &'a [E],
}

impl<M> GEPA<M> {
    /// A GEPA search scored by `metric` (any `Fn(&E, &Output) -> f64 | bool | (f64, String)`,
    /// or a [`Metric`]), with DSPy's defaults; give it a budget ([`auto`](Self::auto),
    /// [`max_metric_calls`](Self::max_metric_calls) or [`max_full_evals`](Self::max_full_evals)).
    pub fn new(metric: M) -> Self {
        GEPA {
            metric,
            settings: Settings {
                budget: None,
                reflection_minibatch_size: 3,
                candidate_selection: CandidateSelection::Pareto,
                skip_perfect_score: true,
                add_format_failure_as_feedback: false,
                perfect_score: 1.0,
                use_merge: true,
                max_merge_invocations: 5,
                failure_score: 0.0,
            },
            options: SearchOptions::default(),
        }
    }

    /// DSPy's budget presets: the metric calls of about 6 (light), 12 (medium) or 18 (heavy)
    /// candidates, estimated from the number of predictors and the validation set's size.
    #[must_use]
    pub fn auto(mut self, auto: Auto) -> Self {
        self.settings.budget = Some(BudgetSetting::Auto(auto));
        self
    }

    /// Stops after `calls` example runs were scored (training minibatches and validation).
    #[must_use]
    pub fn max_metric_calls(mut self, calls: usize) -> Self {
        self.settings.budget = Some(BudgetSetting::MetricCalls(calls));
        self
    }

    /// Stops after the metric calls of `n` full passes over the training and validation sets.
    #[must_use]
    pub fn max_full_evals(mut self, n: usize) -> Self {
        self.settings.budget = Some(BudgetSetting::FullEvals(n));
        self
    }

    /// The LM that reflects on runs and writes new instructions (default: the configured one):
    /// DSPy's name for [`prompt_model`](Self::prompt_model). A strong model pays off here.
    #[must_use]
    pub fn reflection_lm(self, lm: LM) -> Self {
        self.prompt_model(lm)
    }

    /// Training examples per reflective minibatch (default 3).
    #[must_use]
    pub fn reflection_minibatch_size(mut self, n: usize) -> Self {
        self.settings.reflection_minibatch_size = n.max(1);
        self
    }

    /// How parents are chosen (default [`CandidateSelection::Pareto`]).
    #[must_use]
    pub fn candidate_selection(mut self, selection: CandidateSelection) -> Self {
        self.settings.candidate_selection = selection;
        self
    }

    /// Skips reflecting when every minibatch run already scores `perfect_score` (default true).
    #[must_use]
    pub fn skip_perfect_score(mut self, skip: bool) -> Self {
        self.settings.skip_perfect_score = skip;
        self
    }

    /// Also reflects on runs that failed because a predictor's answer could not be read (default
    /// false, as in DSPy): the reflection LM sees what the predictor wrote and is told which
    /// output fields it had to give. Worth turning on for a task model that often misses the
    /// format, where otherwise every failed run is left out and there may be nothing to
    /// reflect on.
    ///
    /// ```
    /// use dspy_optimize::GEPA;
    /// # use dspy_core::Predict;
    /// # #[derive(dspy_macros::Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// # /// Answer.
    /// # struct QA { #[input] q: String, #[output] a: String }
    /// let metric = |ex: &QA, out: &QAOutput| ex.a == out.a;
    /// let gepa = GEPA::new(metric).max_metric_calls(200).add_format_failure_as_feedback(true);
    /// # let _ = gepa;
    /// ```
    #[must_use]
    pub fn add_format_failure_as_feedback(mut self, on: bool) -> Self {
        self.settings.add_format_failure_as_feedback = on;
        self
    }

    /// The best score an example can get (default 1.0).
    #[must_use]
    pub fn perfect_score(mut self, score: f64) -> Self {
        self.settings.perfect_score = score;
        self
    }

    /// Tries merges of frontier candidates (default true).
    #[must_use]
    pub fn use_merge(mut self, on: bool) -> Self {
        self.settings.use_merge = on;
        self
    }

    /// Accepts at most this many merges (default 5).
    #[must_use]
    pub fn max_merge_invocations(mut self, n: usize) -> Self {
        self.settings.max_merge_invocations = n;
        self
    }

    /// The score of a run that failed (default 0).
    #[must_use]
    pub fn failure_score(mut self, score: f64) -> Self {
        self.settings.failure_score = score;
        self
    }

    search_setters!([options] seed, concurrency, progress, prompt_model, task_model, checkpoint, metric);
    compile_methods!(compile, compile_with_valset, estimate);

    /// The metric calls the budget allows for a program of `predictors` predictors, as DSPy
    /// computes them (a full evaluation covers the validation set only when it is separate).
    fn max_calls(&self, predictors: usize, train: usize, val: Option<usize>) -> Result<usize> {
        let frontier = val.unwrap_or(train);
        match self.settings.budget {
            Some(BudgetSetting::MetricCalls(calls)) => Ok(calls),
            Some(BudgetSetting::FullEvals(n)) => Ok(n * (train + val.unwrap_or(0))),
            Some(BudgetSetting::Auto(auto)) => {
                Ok(auto_budget(predictors, auto.candidates(), frontier))
            }
            None => Err(Error::config(
                "GEPA needs a budget: call .auto(Auto::Light) (or Medium, Heavy), \
                 .max_metric_calls(n) or .max_full_evals(n)",
            )),
        }
    }
}

/// Without a validation set, the Pareto frontier is tracked on the training set itself (DSPy's
/// default; prefer `compile_with_valset` so the prompts generalise).
impl<P, E, M> Search<P, E> for GEPA<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize + Clone,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "GEPA";

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
        // The training set given as the validation set is not a separate one.
        let separate = valset.is_some_and(|valset| !std::ptr::eq(trainset, valset));
        let valset = valset.unwrap_or(trainset);
        let names = program.predictor_names();
        if names.is_empty() {
            return Err(Error::config(
                "GEPA found no predictor in the program: it evolves predictors' instructions",
            ));
        }
        if trainset.is_empty() || valset.is_empty() {
            return Err(Error::config(
                "GEPA needs a non-empty training set (and validation set, when one is given)",
            ));
        }
        let max_calls = self.max_calls(
            names.len(),
            trainset.len(),
            separate.then_some(valset.len()),
        )?;
        let resume = self.resume(frame, program, trainset, valset)?;
        let evolution = Evolution {
            gepa: self,
            context: Context {
                program,
                names,
                trainset,
                valset,
            },
            max_calls,
        };
        let progress = frame.progress(max_calls, "GEPA");
        let Some(state) = run_steps(frame, resume, &evolution, progress).await? else {
            return Ok(program.clone());
        };
        let best = best_index(&state.aggregates());
        frame.report.choose(state.candidates[best].trial);
        Ok(build(program, &state.candidates[best].instructions))
    }

    fn estimate(&self, program: &P, trainset: &[E], valset: Option<&[E]>) -> Result<Estimate> {
        self.estimate_on(program, trainset, valset)
    }
}

/// A GEPA search under way: the iterations [`run_steps`] takes until the metric calls are
/// spent.
struct Evolution<'a, M, P, E> {
    gepa: &'a GEPA<M>,
    context: Context<'a, P, E>,
    max_calls: usize,
}

impl<M, P, E> Steps for Evolution<'_, M, P, E>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Clone,
    M: Metric<E, P::Output>,
{
    type State = SearchState;
    type Done = Outcome;

    /// The seed program scored on the validation set. A budget that stops it leaves a trial
    /// without usage: the compile returns the program as given.
    async fn start(&self, frame: &mut Frame<'_>) -> Result<Option<SearchState>> {
        match self.gepa.seed_candidate(&self.context).await {
            Ok(seeded) => Ok(Some(seeded)),
            Err(error) if is_budget(&error) => {
                frame.report.stopped_by_budget = true;
                let trial = Trial::new(
                    "#0 seed program",
                    None,
                    &Default::default(),
                    Default::default(),
                );
                frame.report.trials.push(trial.failed(&error));
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    fn next(&self, state: &SearchState) -> Option<String> {
        (state.metric_calls < self.max_calls).then(|| format!("[{}] stopped", state.iteration + 1))
    }

    async fn step(&self, state: &mut SearchState) -> Result<Outcome> {
        state.iteration += 1;
        Box::pin(self.gepa.iterate(state, &self.context)).await
    }

    /// The iteration's trial, and which trial added the candidate it found.
    fn record(&self, state: &mut SearchState, iteration: Measured<Outcome>) {
        let outcome = &iteration.outcome;
        let description = format!("[{}] {}", state.iteration, outcome.description);
        let mut trial = iteration.trial(description, outcome.score);
        trial.error = iteration.outcome.error;
        state.trials.push(trial);
        if let Some(added) = iteration.outcome.added {
            state.candidates[added].trial = state.trials.len() - 1;
        }
    }

    /// The metric calls made so far.
    fn position(&self, state: &SearchState) -> usize {
        state.metric_calls.min(self.max_calls)
    }

    /// The best mean validation score.
    fn message(&self, state: &SearchState) -> String {
        let best = state.aggregates().into_iter().fold(f64::NAN, f64::max);
        format!("best {:.1}%", 100.0 * best)
    }

    fn trials(state: &mut SearchState) -> &mut Vec<Trial> {
        &mut state.trials
    }
}

impl<M> GEPA<M> {
    /// Where this compile's state is kept: the key has the settings and seed (not the budget:
    /// a compile given more carries on from a checkpoint of one given less), the models, the
    /// program's state and both sets.
    fn resume<P: Parameters, E: Serialize>(
        &self,
        frame: &Frame<'_>,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> Result<Resume> {
        let unbudgeted = Settings {
            budget: None,
            ..self.settings.clone()
        };
        let mut settings = serde_json::to_value(&unbudgeted)?;
        settings["seed"] = serde_json::json!(self.options.seed);
        let state = serde_json::to_value(program.state()?)?;
        let train = serde_json::to_value(trainset)?;
        let val = serde_json::to_value(valset)?;
        Ok(Resume::open(frame, &settings, &[&state, &train, &val]))
    }

    /// The state after scoring the program as given on the validation set.
    async fn seed_candidate<P, E>(&self, context: &Context<'_, P, E>) -> Result<SearchState>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let instructions: Instructions = context
            .program
            .predictors()
            .into_iter()
            .map(|(name, p)| (name, p.effective_instructions().to_string()))
            .collect();
        let scored = measure(self.run(context.program, context.valset, false)).await;
        let runs = scored.outcome?;
        let mut state = SearchState {
            metric_calls: context.valset.len(),
            ..SearchState::default()
        };
        let score = mean(&runs.scores);
        let trial = Trial::new(
            "#0 seed program",
            Some(score),
            &scored.usage,
            scored.elapsed,
        );
        state.trials.push(trial);
        state.add(instructions, Vec::new(), runs.scores, 0);
        Ok(state)
    }

    /// Runs `program` on `examples` (under the task model, if one was given).
    async fn run<P, E>(&self, program: &P, examples: &[E], traced: bool) -> Result<Runs>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let settings = RunSettings {
            concurrency: self.options.concurrency,
            failure_score: self.settings.failure_score,
            traced,
            progress: None,
        };
        // Boxed: an evaluation's future is large, and an iteration holds several.
        let run = Box::pin(evaluate(&self.metric, program, examples, settings));
        scoped(self.options.task_model.as_ref(), run).await
    }

    /// One iteration: a merge when one is due, else a reflective mutation.
    async fn iterate<P, E>(
        &self,
        state: &mut SearchState,
        context: &Context<'_, P, E>,
    ) -> Result<Outcome>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let mut rng = Rng::new(derive_seed(self.options.seed, state.iteration));
        if self.settings.use_merge && state.merges_due > 0 && state.last_found_new {
            state.last_found_new = false;
            if let Some(outcome) = self.try_merge(state, context, &mut rng).await? {
                return Ok(outcome);
            }
        }
        state.last_found_new = false;
        self.mutate(state, context, &mut rng).await
    }

    /// Merges two frontier candidates, if two can be; `None` when no pair qualifies.
    async fn try_merge<P, E>(
        &self,
        state: &mut SearchState,
        context: &Context<'_, P, E>,
        rng: &mut Rng,
    ) -> Result<Option<Outcome>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let aggregates = state.aggregates();
        let scores = state.score_table();
        let pool = dominators(&frontier(&scores), &aggregates);
        let instructions: Vec<Instructions> = state
            .candidates
            .iter()
            .map(|c| c.instructions.clone())
            .collect();
        let parents: Vec<Vec<usize>> = state.candidates.iter().map(|c| c.parents.clone()).collect();
        let Some(merged) = propose_merge(
            rng,
            &aggregates,
            &pool,
            &mut state.merge_log,
            &instructions,
            &parents,
        ) else {
            return Ok(None);
        };
        let (a, b) = (merged.first, merged.second);
        let ids = merge_subsample(&scores[a], &scores[b], MERGE_SUBSAMPLE, rng);
        let subsample: Vec<E> = ids.iter().map(|&e| context.valset[e].clone()).collect();
        let child = build(context.program, &merged.instructions);
        let runs = self.run(&child, &subsample, false).await?;
        state.metric_calls += subsample.len();
        let new_sum: f64 = runs.scores.iter().sum();
        let sum_a: f64 = ids.iter().map(|&e| scores[a][e]).sum();
        let sum_b: f64 = ids.iter().map(|&e| scores[b][e]).sum();
        let description = format!(
            "merge #{a} + #{b} (ancestor #{}): subsample {} vs parents {} / {}",
            merged.ancestor,
            fmt_sum(new_sum),
            fmt_sum(sum_a),
            fmt_sum(sum_b)
        );
        if new_sum < sum_a.max(sum_b) {
            return Ok(Some(Outcome::note(format!("{description}, rejected"))));
        }
        let full = self.run(&child, context.valset, false).await?;
        state.metric_calls += context.valset.len();
        let score = mean(&full.scores);
        let index = state.add(merged.instructions, vec![a, b], full.scores, 0);
        state.merges_due = state.merges_due.saturating_sub(1);
        state.merges_tested += 1;
        Ok(Some(Outcome {
            description: format!("#{index} ← {description}"),
            score: Some(score),
            error: None,
            added: Some(index),
        }))
    }

    /// A reflective mutation of one predictor of a parent drawn from the frontier.
    async fn mutate<P, E>(
        &self,
        state: &mut SearchState,
        context: &Context<'_, P, E>,
        rng: &mut Rng,
    ) -> Result<Outcome>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let aggregates = state.aggregates();
        let parent = match self.settings.candidate_selection {
            CandidateSelection::Pareto => select_parent(&state.score_table(), &aggregates, rng),
            CandidateSelection::CurrentBest => best_index(&aggregates),
        };
        let ids = minibatch(
            context.trainset.len(),
            self.settings.reflection_minibatch_size,
            self.options.seed,
            state.iteration - 1,
        );
        let batch: Vec<E> = ids.iter().map(|&i| context.trainset[i].clone()).collect();
        let parent_program = build(context.program, &state.candidates[parent].instructions);
        let before = self.run(&parent_program, &batch, true).await?;
        state.metric_calls += batch.len();
        let before_sum: f64 = before.scores.iter().sum();
        if self.settings.skip_perfect_score
            && before
                .scores
                .iter()
                .all(|s| *s >= self.settings.perfect_score)
        {
            return Ok(Outcome::note(format!(
                "#{parent}: minibatch {} already perfect, skipped",
                fmt_sum(before_sum)
            )));
        }

        let (name, proposed) = match self.reflect(state, context, parent, &before, rng).await? {
            Reflection::Proposed { name, instruction } => (name, instruction),
            Reflection::Nothing(outcome) => return Ok(outcome),
        };
        let mutation = Mutation {
            parent,
            name,
            proposed,
            before_sum,
        };
        self.try_child(state, context, &batch, mutation).await
    }

    /// A new instruction for the parent's next predictor in turn, from the reflection LM
    /// reading the parent's runs `before` on the minibatch; or the iteration's outcome when
    /// there is nothing to try.
    async fn reflect<P, E>(
        &self,
        state: &mut SearchState,
        context: &Context<'_, P, E>,
        parent: usize,
        before: &Runs,
        rng: &mut Rng,
    ) -> Result<Reflection> {
        let turn = state.candidates[parent].next_predictor % context.names.len();
        state.candidates[parent].next_predictor = (turn + 1) % context.names.len();
        let name = &context.names[turn];
        let rollouts: Vec<Rollout<'_>> = (0..before.scores.len())
            .map(|i| Rollout {
                score: before.scores[i],
                feedback: before.feedback[i].as_deref(),
                trace: before.traces[i].as_ref(),
                failed: before.failed_traces[i].as_ref(),
            })
            .collect();
        let format_failures = self.settings.add_format_failure_as_feedback;
        let records = reflective_records(&rollouts, name, format_failures, rng);
        if records.is_empty() {
            return Ok(Reflection::Nothing(Outcome::note(format!(
                "#{parent} `{name}`: no successful run on the minibatch called it, skipped"
            ))));
        }
        let current = &state.candidates[parent].instructions[name];
        let lm = self.options.prompt_model.as_ref();
        let proposed = match propose_instruction(lm, current, &records).await {
            Ok(proposed) => proposed,
            Err(error) if stops(&error) => return Err(error),
            Err(error) => {
                let mut outcome = Outcome::note(format!("#{parent} `{name}`: no proposal"));
                outcome.error = Some(error.to_string());
                return Ok(Reflection::Nothing(outcome));
            }
        };
        if proposed == *current {
            // Nothing to try (small models often echo the instruction back).
            return Ok(Reflection::Nothing(Outcome::note(format!(
                "#{parent} `{name}`: the proposal repeats the instruction, skipped"
            ))));
        }
        Ok(Reflection::Proposed {
            name: name.clone(),
            instruction: proposed,
        })
    }

    /// The parent with the mutation's instruction, kept when it beats the parent on the same
    /// minibatch (then scored on the validation set).
    async fn try_child<P, E>(
        &self,
        state: &mut SearchState,
        context: &Context<'_, P, E>,
        batch: &[E],
        mutation: Mutation,
    ) -> Result<Outcome>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let Mutation {
            parent,
            name,
            proposed,
            before_sum,
        } = mutation;
        let mut instructions = state.candidates[parent].instructions.clone();
        instructions.insert(name.clone(), proposed.clone());
        let child = build(context.program, &instructions);
        let after = self.run(&child, batch, false).await?;
        state.metric_calls += batch.len();
        let after_sum: f64 = after.scores.iter().sum();
        let description = format!(
            "#{parent} `{name}`: \"{}\", minibatch {} → {}",
            snippet(&proposed, INSTRUCTION_SNIPPET),
            fmt_sum(before_sum),
            fmt_sum(after_sum)
        );
        if after_sum <= before_sum {
            return Ok(Outcome::note(format!("{description}, rejected")));
        }
        let full = self.run(&child, context.valset, false).await?;
        state.metric_calls += context.valset.len();
        let score = mean(&full.scores);
        let index = state.add(instructions, vec![parent], full.scores, 0);
        state.last_found_new = true;
        if self.settings.use_merge && state.merges_tested < self.settings.max_merge_invocations {
            state.merges_due += 1;
        }
        Ok(Outcome {
            description: format!("#{index} ← {description}"),
            score: Some(score),
            error: None,
            added: Some(index),
        })
    }
}

/// What reflecting on a parent's runs gave.
enum Reflection {
    /// A new instruction to try for predictor `name`.
    Proposed { name: String, instruction: String },
    /// Nothing to try: the iteration ends with this outcome.
    Nothing(Outcome),
}

/// A new instruction for predictor `name` of candidate `parent`, proposed from runs whose
/// minibatch scores summed to `before_sum`.
struct Mutation {
    parent: usize,
    name: String,
    proposed: String,
    before_sum: f64,
}

/// Characters of a new instruction shown in its trial (60 and the ellipsis).
const INSTRUCTION_SNIPPET: usize = 61;

/// Validation examples a merge is judged on (the `gepa` package's number).
const MERGE_SUBSAMPLE: usize = 5;

/// DSPy's estimate of the metric calls of an `auto` run: the seed's validation pass, a few
/// bootstrapping trials per candidate, minibatches of 35, and a full validation pass every
/// 5 trials.
fn auto_budget(predictors: usize, candidates: usize, val: usize) -> usize {
    let (n, v) = (candidates as f64, val);
    let trials = (2.0 * (predictors as f64 * 2.0) * n.log2()).max(1.5 * n) as usize;
    let (minibatch, full_eval_steps) = (35, 5);
    let mut total = v + candidates * 5 + trials * minibatch;
    if trials == 0 {
        return total;
    }
    let periodic = (trials + 1) / full_eval_steps + 1;
    let extra = usize::from(trials < full_eval_steps);
    total += (periodic + extra) * v;
    total
}

/// A copy of `program` whose predictors have `instructions` (those that differ from what they
/// have).
fn build<P: Parameters + Clone>(program: &P, instructions: &Instructions) -> P {
    let mut built = program.clone();
    for (name, predictor) in built.predictors_mut() {
        if let Some(text) = instructions.get(&name)
            && predictor.effective_instructions() != text
        {
            predictor.set_instructions(Some(text.clone()));
        }
    }
    built
}

fn mean(scores: &[f64]) -> f64 {
    if scores.is_empty() {
        0.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    }
}

fn fmt_sum(sum: f64) -> String {
    let text = format!("{sum:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_budgets_follow_dspy() {
        // What dspy.GEPA.auto_budget(num_preds, num_candidates, valset_size) gives (DSPy 3.x).
        assert_eq!(auto_budget(1, 6, 20), 460);
        assert_eq!(auto_budget(2, 12, 50), 1390);
        assert_eq!(auto_budget(3, 18, 7), 1924);
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet("Be\n brief.", INSTRUCTION_SNIPPET), "Be brief.");
        assert_eq!(
            snippet(&"x".repeat(70), INSTRUCTION_SNIPPET)
                .chars()
                .count(),
            61
        );
        assert_eq!(fmt_sum(2.0), "2");
        assert_eq!(fmt_sum(1.5), "1.5");
    }

    #[test]
    fn no_budget_is_an_error_that_names_the_knobs() {
        let err = GEPA::new(()).max_calls(1, 3, Some(3)).unwrap_err();
        assert!(err.to_string().contains("max_metric_calls"), "{err}");
        // DSPy: max_full_evals * (len(trainset) + len(valset)), the valset counted when given.
        let gepa = GEPA::new(()).max_full_evals(2);
        assert_eq!(gepa.max_calls(1, 10, Some(5)).unwrap(), 30);
        assert_eq!(gepa.max_calls(1, 10, None).unwrap(), 20);
        let err = GEPA::new(()).max_calls(1, 3, None).unwrap_err();
        assert!(err.to_string().contains("max_metric_calls"), "{err}");
    }
}
