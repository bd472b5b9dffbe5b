//! `BootstrapFewShotWithRandomSearch`: several demo sets, the best on a validation set.

mod estimate;

use crate::search::bootstrap_options::{BootstrapOptions, bootstrap_setters};
use crate::search::demo_sets::{Candidate, DemoSets};
use crate::search::failure::is_budget;
use crate::search::fields::all_fields;
use crate::search::measure::measure;
use crate::search::provenance::{demo_ids, mark_chosen};
use crate::search::resume::Resume;
use crate::search::scoring::{ByRef, score_of};
use crate::search::step_log::StepLog;
use crate::search::warnings::{chosen_has_none, warn_demoless};
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Estimate, Trial};
use dspy_core::evaluate::{Evaluate, Metric, Progress};
use dspy_core::{Example, Module, Parameters, ProgramState, Result};
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Mutex;

/// DSPy's `BootstrapFewShotWithRandomSearch`: builds candidate programs, scores each on a
/// validation set with [`Evaluate`], and returns the best.
///
/// The candidates, in order (DSPy's seeds -3 to N-1):
///
/// 1. **zero-shot**: the program with no demos;
/// 2. **labeled**: `max_labeled_demos` labeled demos per predictor (as
///    [`LabeledFewShot`](crate::LabeledFewShot));
/// 3. **unshuffled bootstrap**: [`BootstrapFewShot`](crate::BootstrapFewShot) with these
///    settings on the training set as given;
/// 4. **N shuffled bootstraps** (`num_candidate_programs`, default 16): each on the training
///    set shuffled with its own seed, stopping at a random number of traces between 1 and
///    `max_bootstrapped_demos`.
///
/// Each candidate is scored on the validation set (the training set when none is given, as
/// in DSPy); the first with the highest score wins (later ties do not replace it). Each
/// candidate's trial lists its demos' training examples, and each demo of the program returned
/// records its [`Provenance`](dspy_core::module::Provenance): its example, labeled or
/// bootstrapped (in which round), and the winning trial with its score. The search
/// stops early once a candidate reaches [`stop_at_score`](Self::stop_at_score). Every
/// candidate is a trial of the report (score, LM calls for building and scoring it, time), and
/// [`CompileReport::best`](crate::CompileReport::best) points at the winner.
///
/// Each evaluation runs its examples concurrently; `.candidate_concurrency(n)` also builds and
/// scores `n` candidates at a time (default 1, which shows a progress bar per phase). Every
/// candidate draws from a seed derived from the optimizer's seed and its position, and results
/// are taken in candidate order, so the outcome is the same at any concurrency.
///
/// When an LM budget runs out, the search stops and returns the best candidate scored so far
/// (the program as given if none was), with [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget) set.
/// With [`checkpoint`](Self::checkpoint), every candidate scored is saved as it finishes: a
/// compile run again with the same arguments takes the saved candidates as they were (their
/// trials too, without a call) and builds only the rest, so a killed compile redoes at most
/// the candidates it was in (one, at the default `candidate_concurrency`).
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::BootstrapFewShotWithRandomSearch;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::keyed([("France", json!({"city": "Paris"})), ("Peru", json!({"city": "Lima"}))]));
/// let trainset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Peru".into(), city: "Lima".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let search = BootstrapFewShotWithRandomSearch::new(metric)
///     .num_candidate_programs(2)
///     .stop_at_score(1.0)
///     .progress(false);
/// let compiled = dspy_core::with_lm(lm, search.compile(&Predict::<Capital>::new(), &trainset)).await.unwrap();
/// assert_eq!(compiled.report.best_score, Some(1.0));
/// assert_eq!(compiled.report.trials.len(), 1); // zero-shot already scores 1.0
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct BootstrapFewShotWithRandomSearch<M> {
    metric: M,
    bootstrap: BootstrapOptions,
    options: SearchOptions,
    num_candidate_programs: usize,
    stop_at_score: Option<f64>,
    candidate_concurrency: usize,
}

/// A candidate built and scored (or cut short by the budget).
struct Scored<P> {
    program: Option<P>,
    score: Option<f64>,
    trial: Trial,
    budget: bool,
    /// What the checkpoint is to keep of a candidate built and scored in this run (`None`
    /// when it was replayed, or cut short).
    fresh: Option<Done>,
}

/// A candidate as the checkpoint keeps it: its demos and instructions, and its score.
#[derive(Debug, Serialize, Deserialize)]
struct Done {
    state: ProgramState,
    score: f64,
}

/// A candidate found in the checkpoint, with its trial.
type Replay = (Done, Vec<Trial>);

/// What every candidate is built from and scored on, and the best score so far (for the
/// progress bars' titles).
struct Sets<'a, P, E> {
    program: &'a P,
    trainset: &'a [E],
    valset: &'a [E],
    best_score: &'a Mutex<Option<f64>>,
}

/// The name of candidate `k`'s step in the log.
fn step(k: usize) -> String {
    format!("candidate/{k}")
}

impl<M> BootstrapFewShotWithRandomSearch<M> {
    /// A search scored by `metric`, with DSPy's defaults: 16 shuffled candidates, up to 4
    /// bootstrapped and 16 labeled demos, one round.
    pub fn new(metric: M) -> Self {
        BootstrapFewShotWithRandomSearch {
            metric,
            bootstrap: BootstrapOptions::default(),
            options: SearchOptions::default(),
            num_candidate_programs: 16,
            stop_at_score: None,
            candidate_concurrency: 1,
        }
    }

    bootstrap_setters!();
    search_setters!([options] seed, concurrency, progress, checkpoint, id_field, metric);
    compile_methods!(compile, compile_with_valset, estimate);

    /// How many shuffled bootstrap candidates to try after the three fixed ones (default 16).
    #[must_use]
    pub fn num_candidate_programs(mut self, n: usize) -> Self {
        self.num_candidate_programs = n;
        self
    }

    /// Stops as soon as a candidate scores at least `score`.
    #[must_use]
    pub fn stop_at_score(mut self, score: f64) -> Self {
        self.stop_at_score = Some(score);
        self
    }

    /// Builds and scores up to `n` candidates at a time (default 1).
    #[must_use]
    pub fn candidate_concurrency(mut self, n: usize) -> Self {
        self.candidate_concurrency = n.max(1);
        self
    }
}

/// Without a validation set, candidates are scored on the training set (as in DSPy).
impl<P, E, M> Search<P, E> for BootstrapFewShotWithRandomSearch<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize + Clone,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "BootstrapFewShotWithRandomSearch";

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
        let valset = valset.unwrap_or(trainset);
        let candidates = self.candidates();
        let total = candidates.len();
        let log = self.open_log(frame, program, trainset, valset)?;
        // What the checkpoint holds is replayed; only the rest is built and scored.
        let replays: Vec<Option<Replay>> = (0..total).map(|k| log.replay(&step(k))).collect();
        let sequential = self.candidate_concurrency == 1;
        // One bar per phase when candidates go one by one, else one bar over the candidates.
        let overall = Progress::new(total, "Random search", self.options.progress && !sequential);
        let best_score: Mutex<Option<f64>> = Mutex::new(None);
        let sets = Sets {
            program,
            trainset,
            valset,
            best_score: &best_score,
        };
        let show = sequential && self.options.progress;
        let mut runs = stream::iter(candidates.into_iter().zip(replays).enumerate())
            .map(|(position, (candidate, replay))| {
                let label = format!("[{}/{total}]", position + 1);
                self.replay_or_build(replay, candidate, label, show, &sets)
            })
            .buffered(self.candidate_concurrency);
        let mut best: Option<(P, f64)> = None;
        let mut position = 0;
        while let Some(scored) = runs.next().await {
            let scored = scored?;
            if let Some(done) = &scored.fresh {
                log.record(&step(position), done, std::slice::from_ref(&scored.trial))?;
            }
            position += 1;
            let stop = self.take(frame, scored, &mut best, &best_score);
            overall.step(|| match &best {
                Some((_, score)) => format!("best {:.1}%", 100.0 * score),
                None => String::new(),
            });
            if stop {
                break;
            }
        }
        let mut chosen = best.map_or_else(|| program.clone(), |(program, _)| program);
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
        self.estimate_on(program, trainset, valset.unwrap_or(trainset))
    }
}

impl<M> BootstrapFewShotWithRandomSearch<M> {
    /// The candidates, in order: zero-shot, labeled, unshuffled, then the shuffled ones.
    fn candidates(&self) -> Vec<Candidate> {
        [
            Candidate::ZeroShot,
            Candidate::Labeled,
            Candidate::Unshuffled,
        ]
        .into_iter()
        .chain((0..self.num_candidate_programs as u64).map(Candidate::Shuffled))
        .collect()
    }

    /// The step log of this compile (one step per candidate), keyed by everything a
    /// candidate's score depends on.
    fn open_log<P: Parameters, E: Serialize>(
        &self,
        frame: &Frame<'_>,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> Result<StepLog> {
        let settings = json!({
            "seed": self.options.seed,
            "bootstrap": self.bootstrap.key(),
        });
        let state = serde_json::to_value(program.state()?)?;
        let train = serde_json::to_value(all_fields(trainset)?)?;
        let val = serde_json::to_value(all_fields(valset)?)?;
        StepLog::open(Resume::open(frame, &settings, &[&state, &train, &val]))
    }

    /// Candidate `candidate` as the checkpoint holds it (`replay`), else built and scored.
    async fn replay_or_build<P, E>(
        &self,
        replay: Option<Replay>,
        candidate: Candidate,
        label: String,
        show: bool,
        sets: &Sets<'_, P, E>,
    ) -> Result<Scored<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let Some((done, mut trials)) = replay.filter(|(_, trials)| trials.len() == 1) else {
            return self.candidate(candidate, label, show, sets).await;
        };
        let mut program = sets.program.clone();
        program.load_state(done.state)?;
        Ok(Scored {
            program: Some(program),
            score: Some(done.score),
            trial: trials.remove(0),
            budget: false,
            fresh: None,
        })
    }

    /// Puts `scored` in the report, the best so far when it beats `best`; whether the search
    /// stops there (a budget ran out, or it reached `stop_at_score`).
    fn take<P>(
        &self,
        frame: &mut Frame<'_>,
        scored: Scored<P>,
        best: &mut Option<(P, f64)>,
        best_score: &Mutex<Option<f64>>,
    ) -> bool {
        frame.report.trials.push(scored.trial);
        if let (Some(candidate), Some(score)) = (scored.program, scored.score)
            && best.as_ref().is_none_or(|(_, b)| score > *b)
        {
            frame.report.choose(frame.report.trials.len() - 1);
            *best = Some((candidate, score));
            *best_score.lock().unwrap_or_else(|e| e.into_inner()) = Some(score);
        }
        if scored.budget {
            frame.report.stopped_by_budget = true;
            return true;
        }
        matches!((self.stop_at_score, scored.score), (Some(stop), Some(score)) if score >= stop)
    }

    /// Builds one candidate and scores it on the validation set.
    async fn candidate<P, E>(
        &self,
        candidate: Candidate,
        label: String,
        show: bool,
        sets: &Sets<'_, P, E>,
    ) -> Result<Scored<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let demo_sets = DemoSets {
            metric: &self.metric,
            bootstrap: &self.bootstrap,
            options: &self.options,
            log: None,
        };
        let run = measure(async {
            let (candidate, description, budget) = demo_sets
                .build(candidate, &label, show, sets.program, sets.trainset)
                .await?;
            if budget {
                return Ok((None, None, description, None));
            }
            let best = *sets.best_score.lock().unwrap_or_else(|e| e.into_inner());
            let title = match best {
                Some(best) => format!("{label} evaluate {description} (best {:.1}%)", 100.0 * best),
                None => format!("{label} evaluate {description}"),
            };
            match self.evaluate(&candidate, sets.valset, show, title).await {
                Ok(score) => Ok((Some(candidate), Some(score), description, None)),
                Err(error) if is_budget(&error) => Ok((None, None, description, Some(error))),
                Err(error) => Err(error),
            }
        })
        .await;
        let (candidate, score, description, budget_error) = run.outcome?;
        let budget = candidate.is_none();
        let mut trial = Trial::new(description, score, &run.usage, run.elapsed);
        if let Some(candidate) = &candidate {
            trial.demos = demo_ids(candidate)?;
        }
        if let Some(error) = &budget_error {
            trial = trial.failed(error);
        } else if budget {
            trial.error = Some("the LM budget ran out while bootstrapping".into());
        }
        let fresh = match (&candidate, score) {
            (Some(program), Some(score)) => Some(Done {
                state: program.state()?,
                score,
            }),
            _ => None,
        };
        Ok(Scored {
            program: candidate,
            score,
            trial,
            budget,
            fresh,
        })
    }

    /// The score of `candidate` on `valset`; an error no call can fix is returned.
    async fn evaluate<P, E>(
        &self,
        candidate: &P,
        valset: &[E],
        show: bool,
        title: String,
    ) -> Result<f64>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let evaluation = Evaluate::new(ByRef(&self.metric))
            .concurrency(self.options.concurrency)
            .progress(show)
            .title(title)
            .max_lm_errors(usize::MAX)
            .run(candidate, valset)
            .await?
            .into_complete()?;
        score_of(evaluation)
    }
}
