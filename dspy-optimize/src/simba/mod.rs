//! `SIMBA`: stochastic introspective mini-batch ascent, as DSPy's `dspy.SIMBA` does it.

mod draws;
mod estimate;
mod step;
mod strategies;

use crate::search::measure::{Measured, measure};
use crate::search::models::scoped;
use crate::search::provenance::{Examples, mark_chosen};
use crate::search::resume::Resume;
use crate::search::rollout::{Job, RunSettings, Runs, run_jobs};
use crate::search::steps::{Steps, run_steps};
use crate::search::warnings::{chosen_has_none, warn_demoless};
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Estimate, Trial};
use draws::spread;
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::lm::UsageReport;
use dspy_core::module::ProgramState;
use dspy_core::{Error, Example, Module, Parameters, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The knobs that change what a compile finds (the checkpoint key includes them, with the
/// seed).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Settings {
    bsize: usize,
    num_candidates: usize,
    max_steps: usize,
    max_demos: usize,
    demo_input_field_maxlen: usize,
    temperature_for_sampling: f64,
    temperature_for_candidates: f64,
}

/// DSPy's `SIMBA` (Stochastic Introspective Mini-Batch Ascent): it improves a program step by
/// step on minibatches of the training set, learning from the examples where its own runs
/// disagree.
///
/// Each of `max_steps` steps (default 8):
///
/// 1. takes the next minibatch of `bsize` training examples (default 32; the training set is
///    shuffled, and reshuffled when it runs out; a smaller training set is used whole);
/// 2. runs every example `num_candidates` times (default 6), each time with a program drawn
///    from the best ones so far (the baseline always among them) by a softmax over their
///    average scores (`temperature_for_sampling`, 0.2), each of the `num_candidates` runs per
///    example at temperature 1.0 with its own rollout id, so the samples vary;
/// 3. groups the runs by example into *buckets* and sorts them by the gap between the best and
///    the worst run (then the best score, then the gap between the best and the average):
///    examples where the program is inconsistent come first;
/// 4. for each bucket, in that order, until `num_candidates + 1` new programs are made: draws a
///    source program by softmax (`temperature_for_candidates`, 0.2), drops a random few of its
///    demos (more the more it has against `max_demos`), and applies a strategy drawn at random:
///    - **append a demo**: the best run's call of each predictor becomes a new demo of it
///      (inputs longer than `demo_input_field_maxlen` characters are cut), unless that run
///      scored no more than the batch's 10th percentile;
///    - **append a rule**: the prompt model ([`prompt_model`](Self::prompt_model)) compares the
///      best and the worst run of the bucket (their trajectories, outputs, rewards and the
///      metric's feedback) and writes advice for each predictor, which is appended to its
///      instructions (a real LM call through this crate's `AdviseFromTrajectories` signature);
///      skipped unless the best run beats the batch's 10th percentile and the worst falls
///      below its 90th. A predictor advised `N/A` is left as it was.
///
///    With `max_demos(0)` only rules are appended.
/// 5. scores the new programs on the same minibatch; all join the pool with their scores, and
///    the best is this step's winner.
///
/// At the end, up to `num_candidates + 1` winners, evenly spread over the steps (the baseline
/// first), are scored on the whole training set, and the best is returned. Every new program,
/// every step's sampling and every final score is a trial of the report.
///
/// All randomness comes from the seed (each step draws from a seed derived from it and the
/// step number); runs go concurrently through [`Evaluate`](dspy_core::evaluate::Evaluate) and
/// are taken in a fixed order, so a deterministic LM gives the same program for the same
/// seed. A run that fails scores 0. When an LM budget runs out the compile returns the program
/// with the best minibatch average so far, with [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget); with
/// [`checkpoint`](Self::checkpoint) the state is saved after every step and a compile with the
/// same arguments resumes from it (`max_steps` apart: one given more steps carries on where the
/// checkpoint stopped). The file is kept once the compile finishes, so running it again returns
/// the same program at once; delete it to start over.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::SIMBA;
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
///     ("Peru", json!({"city": "Lima"})),
/// ]));
/// let trainset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Peru".into(), city: "Lima".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let simba = SIMBA::new(metric).bsize(2).num_candidates(2).max_steps(1).progress(false);
/// let compiled = dspy_core::with_lm(lm, simba.compile(&Predict::<Capital>::new(), &trainset))
///     .await
///     .unwrap();
/// assert_eq!(compiled.report.best_score, Some(1.0));
/// println!("{}", compiled.report);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SIMBA<M> {
    metric: M,
    settings: Settings,
    options: SearchOptions,
}

/// A program of the pool: its state and its scores on the minibatch it was made on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    state: ProgramState,
    scores: Vec<f64>,
    /// The trial that made it (none for the baseline).
    trial: Option<usize>,
}

impl Entry {
    fn average(&self) -> f64 {
        if self.scores.is_empty() {
            0.0
        } else {
            self.scores.iter().sum::<f64>() / self.scores.len() as f64
        }
    }
}

/// Everything the search needs to carry on from where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SimbaState {
    programs: Vec<Entry>,
    /// Each step's best new program (the baseline first).
    winners: Vec<usize>,
    /// The shuffled training indices minibatches are cut from, and where the next one starts.
    order: Vec<usize>,
    next: usize,
    steps: usize,
    trials: Vec<Trial>,
    /// The final scores on the training set: (program, score, trial).
    finals: Option<Vec<(usize, f64, usize)>>,
}

/// What a search shares with its steps.
struct Context<'a, P, E> {
    program: &'a P,
    trainset: &'a [E],
    fields: Vec<FieldValues>,
    /// Each training example's id, as demos made from it record it.
    ids: Vec<String>,
    bsize: usize,
}

impl<M> SIMBA<M> {
    /// A SIMBA search scored by `metric` (any `Fn(&E, &Output) -> f64 | bool | (f64, String)`,
    /// or a [`Metric`]), with DSPy's defaults: minibatches of 32, 6 candidates, 8 steps, at most
    /// 4 demos.
    pub fn new(metric: M) -> Self {
        SIMBA {
            metric,
            settings: Settings {
                bsize: 32,
                num_candidates: 6,
                max_steps: 8,
                max_demos: 4,
                demo_input_field_maxlen: 100_000,
                temperature_for_sampling: 0.2,
                temperature_for_candidates: 0.2,
            },
            options: SearchOptions::default(),
        }
    }

    /// Training examples per minibatch (default 32).
    #[must_use]
    pub fn bsize(mut self, n: usize) -> Self {
        self.settings.bsize = n.max(1);
        self
    }

    /// Runs per example, and new programs per step (one more), default 6.
    #[must_use]
    pub fn num_candidates(mut self, n: usize) -> Self {
        self.settings.num_candidates = n.max(1);
        self
    }

    /// Steps (minibatches), default 8.
    #[must_use]
    pub fn max_steps(mut self, n: usize) -> Self {
        self.settings.max_steps = n;
        self
    }

    /// Demos a predictor holds before some are dropped (default 4); 0 appends rules only.
    #[must_use]
    pub fn max_demos(mut self, n: usize) -> Self {
        self.settings.max_demos = n;
        self
    }

    /// Characters of an input field kept in a new demo (default 100 000).
    #[must_use]
    pub fn demo_input_field_maxlen(mut self, n: usize) -> Self {
        self.settings.demo_input_field_maxlen = n;
        self
    }

    /// Softmax temperature for drawing the programs that run (default 0.2).
    #[must_use]
    pub fn temperature_for_sampling(mut self, t: f64) -> Self {
        self.settings.temperature_for_sampling = t;
        self
    }

    /// Softmax temperature for drawing the programs new ones are made from (default 0.2).
    #[must_use]
    pub fn temperature_for_candidates(mut self, t: f64) -> Self {
        self.settings.temperature_for_candidates = t;
        self
    }

    search_setters!([options] seed, concurrency, progress, prompt_model, task_model, checkpoint, id_field, metric);
    compile_methods!(compile, estimate);
}

/// SIMBA learns from the training set alone; it takes no validation set.
impl<P, E, M> Search<P, E> for SIMBA<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "SIMBA";

    fn options(&self) -> &SearchOptions {
        &self.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        program: &P,
        trainset: &[E],
        _: Option<&[E]>,
    ) -> Result<P> {
        if program.predictor_names().is_empty() {
            return Err(Error::config(
                "SIMBA found no predictor in the program: it changes predictors' demos and instructions",
            ));
        }
        if trainset.is_empty() {
            return Err(Error::config("SIMBA needs a non-empty training set"));
        }
        let Examples { fields, ids } = Examples::of(trainset, &self.options)?;
        let resume = self.resume(frame, program, &fields)?;
        let ascent = Ascent {
            simba: self,
            context: Context {
                program,
                trainset,
                fields,
                ids,
                bsize: self.settings.bsize.min(trainset.len()),
            },
        };
        let progress = frame.progress(self.settings.max_steps + 1, "SIMBA");
        let chosen = match run_steps(frame, resume, &ascent, progress).await? {
            Some(state) => choose(frame, program, state)?,
            // SIMBA's start makes no LM call, so no budget stops it.
            None => program.clone(),
        };
        let otherwise = chosen_has_none(&frame.report);
        warn_demoless(
            &mut frame.report,
            &chosen,
            &ascent.context.fields,
            &otherwise,
        );
        Ok(chosen)
    }

    fn estimate(&self, program: &P, trainset: &[E], _: Option<&[E]>) -> Result<Estimate> {
        self.estimate_on(program, trainset)
    }
}

/// A SIMBA search under way: the steps [`run_steps`] takes, then the final scores.
struct Ascent<'a, M, P, E> {
    simba: &'a SIMBA<M>,
    context: Context<'a, P, E>,
}

impl<M, P, E> Steps for Ascent<'_, M, P, E>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input>,
    M: Metric<E, P::Output>,
{
    type State = SimbaState;
    type Done = ();

    async fn start(&self, _: &mut Frame<'_>) -> Result<Option<SimbaState>> {
        let context = &self.context;
        self.simba
            .start(context.program, context.trainset.len())
            .map(Some)
    }

    /// `max_steps` steps, then the final scores (unless a checkpoint of a longer compile has
    /// them already).
    fn next(&self, state: &SimbaState) -> Option<String> {
        if state.steps < self.simba.settings.max_steps {
            Some(format!("[step {}] stopped", state.steps + 1))
        } else {
            state.finals.is_none().then(|| "final: stopped".into())
        }
    }

    async fn step(&self, state: &mut SimbaState) -> Result<()> {
        if state.steps < self.simba.settings.max_steps {
            Box::pin(self.simba.step(state, &self.context)).await
        } else {
            Box::pin(self.simba.final_scores(state, &self.context)).await
        }
    }

    /// A step keeps its trials in the state as it goes.
    fn record(&self, _: &mut SimbaState, _: Measured<()>) {}

    /// The steps taken, then the final scores.
    fn position(&self, state: &SimbaState) -> usize {
        state.steps.min(self.simba.settings.max_steps) + usize::from(state.finals.is_some())
    }

    /// The best minibatch average so far.
    fn message(&self, state: &SimbaState) -> String {
        let best = state
            .programs
            .iter()
            .map(Entry::average)
            .fold(0.0, f64::max);
        format!("best minibatch {:.1}%", 100.0 * best)
    }

    fn trials(state: &mut SimbaState) -> &mut Vec<Trial> {
        &mut state.trials
    }
}

/// The program chosen: the best final score on the training set, or (stopped before the final
/// scores) the best minibatch average so far.
fn choose<P: Parameters + Clone>(
    frame: &mut Frame<'_>,
    program: &P,
    state: SimbaState,
) -> Result<P> {
    let chosen = match &state.finals {
        Some(finals) => {
            let mut best = 0;
            for (i, (_, score, _)) in finals.iter().enumerate() {
                if *score > finals[best].1 {
                    best = i;
                }
            }
            finals
                .get(best)
                .map(|&(program, _, trial)| (program, Some(trial)))
        }
        None => {
            let averages: Vec<f64> = state.programs.iter().map(Entry::average).collect();
            let mut best = 0;
            for (i, average) in averages.iter().enumerate() {
                if *average > averages[best] {
                    best = i;
                }
            }
            Some((best, state.programs[best].trial))
        }
    };
    let (best, trial) = chosen.unwrap_or((0, None));
    if let Some(trial) = trial {
        frame.report.choose(trial);
    }
    let mut built = build(program, &state.programs[best].state)?;
    mark_chosen(&mut frame.report, &mut built, program)?;
    Ok(built)
}

impl<M> SIMBA<M> {
    /// Where this compile's state is kept: the key has the settings and seed (not the number
    /// of steps: a compile given more carries on from a checkpoint of fewer), the models, the
    /// program's state and the training set.
    fn resume<P: Parameters>(
        &self,
        frame: &Frame<'_>,
        program: &P,
        fields: &[FieldValues],
    ) -> Result<Resume> {
        let unbounded = Settings {
            max_steps: 0,
            ..self.settings.clone()
        };
        let mut settings = serde_json::to_value(&unbounded)?;
        settings["seed"] = json!(self.options.seed);
        let state = serde_json::to_value(program.state()?)?;
        let examples = Value::Array(fields.iter().cloned().map(Value::Object).collect());
        Ok(Resume::open(frame, &settings, &[&state, &examples]))
    }

    /// The state before the first step: the program as given, and the training set shuffled.
    fn start<P: Parameters>(&self, program: &P, train_len: usize) -> Result<SimbaState> {
        let mut order: Vec<usize> = (0..train_len).collect();
        Rng::new(self.options.seed).shuffle(&mut order);
        Ok(SimbaState {
            programs: vec![Entry {
                state: ProgramState::of_predictors(program)?,
                scores: Vec::new(),
                trial: None,
            }],
            winners: vec![0],
            order,
            ..SimbaState::default()
        })
    }

    /// Makes `jobs` over `programs` (under the task model, if one was given).
    async fn run<P, E>(&self, programs: &[P], jobs: &[Job<'_, E>], traced: bool) -> Result<Runs>
    where
        P: Module + Parameters,
        P::Output: Sync,
        E: Example<Input = P::Input>,
        M: Metric<E, P::Output>,
    {
        let settings = RunSettings {
            concurrency: self.options.concurrency,
            failure_score: 0.0,
            traced,
            progress: None,
        };
        // Boxed: an evaluation's future is large, and a step holds several.
        let run = Box::pin(run_jobs(&self.metric, programs, jobs, settings));
        scoped(self.options.task_model.as_ref(), run).await
    }

    /// Scores up to `num_candidates + 1` winners, spread evenly over the steps, on the whole
    /// training set.
    async fn final_scores<P, E>(
        &self,
        state: &mut SimbaState,
        context: &Context<'_, P, E>,
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input>,
        M: Metric<E, P::Output>,
    {
        let chosen = spread(state.winners.len(), self.settings.num_candidates + 1);
        let indices: Vec<usize> = chosen.into_iter().map(|i| state.winners[i]).collect();
        let programs: Vec<P> = indices
            .iter()
            .map(|&i| build(context.program, &state.programs[i].state))
            .collect::<Result<_>>()?;
        let n = context.trainset.len();
        let jobs: Vec<Job<'_, E>> = (0..programs.len())
            .flat_map(|c| {
                context.trainset.iter().map(move |example| Job {
                    example,
                    program: c,
                    overrides: None,
                })
            })
            .collect();
        let scored = measure(self.run(&programs, &jobs, false)).await;
        let share = scored.elapsed / programs.len().max(1) as u32;
        let scored = scored.outcome?;
        let mut finals = Vec::new();
        for (c, &index) in indices.iter().enumerate() {
            let range = c * n..(c + 1) * n;
            let score = scored.scores[range.clone()].iter().sum::<f64>() / n as f64;
            let usage = scored.usage[range]
                .iter()
                .fold(UsageReport::default(), |mut sum, u| {
                    sum += *u;
                    sum
                });
            state.trials.push(Trial::new(
                format!("final: #{index} on the training set"),
                Some(score),
                &usage,
                share,
            ));
            finals.push((index, score, state.trials.len() - 1));
        }
        state.finals = Some(finals);
        Ok(())
    }
}

/// A copy of `program` with `state` (its predictors') loaded.
fn build<P: Parameters + Clone>(program: &P, state: &ProgramState) -> Result<P> {
    let mut built = program.clone();
    state.clone().apply_to_predictors(&mut built)?;
    Ok(built)
}
