//! `BootstrapFewShotWithRandomSearch`: several demo sets, the best on a validation set.

use crate::bootstrap::{BootstrapSettings, bootstrap, bootstrap_knobs};
use crate::demos::{
    ByRef, all_fields, assign_labeled, clear_demos, derive_seed, is_budget, is_fatal, passes,
};
use crate::{CompileReport, Compiled, Optimizer, Trial};
use dspy_core::data::Rng;
use dspy_core::evaluate::{Evaluate, Metric, Progress};
use dspy_core::lm::track_usage;
use dspy_core::{Example, Module, Parameters, Result};
use futures_util::{StreamExt, stream};
use serde::Serialize;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

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
/// in DSPy); the first with the highest score wins (later ties do not replace it). The search
/// stops early once a candidate reaches [`stop_at_score`](Self::stop_at_score). Every
/// candidate is a trial of the report (score, LM calls for building and scoring it, time), and
/// [`CompileReport::best`] points at the winner.
///
/// Each evaluation runs its examples concurrently; `.candidate_concurrency(n)` also builds and
/// scores `n` candidates at a time (default 1, which shows a progress bar per phase). Every
/// candidate draws from a seed derived from the optimizer's seed and its position, and results
/// are taken in candidate order, so the outcome is the same at any concurrency.
///
/// When an LM budget runs out, the search stops and returns the best candidate scored so far
/// (the program as given if none was), with [`CompileReport::stopped_by_budget`] set.
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
    settings: BootstrapSettings,
    num_candidate_programs: usize,
    stop_at_score: Option<f64>,
    candidate_concurrency: usize,
}

/// Which kind of candidate, with DSPy's seed numbering in mind.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Candidate {
    ZeroShot,
    Labeled,
    Unshuffled,
    Shuffled(u64),
}

/// A candidate built and scored (or cut short by the budget).
struct Scored<P> {
    program: Option<P>,
    score: Option<f64>,
    trial: Trial,
    budget: bool,
}

impl<M> BootstrapFewShotWithRandomSearch<M> {
    /// A search scored by `metric`, with DSPy's defaults: 16 shuffled candidates, up to 4
    /// bootstrapped and 16 labeled demos, one round.
    pub fn new(metric: M) -> Self {
        BootstrapFewShotWithRandomSearch {
            metric,
            settings: BootstrapSettings::default(),
            num_candidate_programs: 16,
            stop_at_score: None,
            candidate_concurrency: 1,
        }
    }

    bootstrap_knobs!();

    /// How many shuffled bootstrap candidates to try after the three fixed ones (default 16).
    pub fn num_candidate_programs(mut self, n: usize) -> Self {
        self.num_candidate_programs = n;
        self
    }

    /// Stops as soon as a candidate scores at least `score`.
    pub fn stop_at_score(mut self, score: f64) -> Self {
        self.stop_at_score = Some(score);
        self
    }

    /// Builds and scores up to `n` candidates at a time (default 1).
    pub fn candidate_concurrency(mut self, n: usize) -> Self {
        self.candidate_concurrency = n.max(1);
        self
    }

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// The best candidate, scored on `trainset` itself (DSPy's default when no validation set
    /// is given; prefer [`compile_with_valset`](Self::compile_with_valset)).
    pub async fn compile<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        self.compile_with_valset(program, trainset, trainset).await
    }

    /// The best candidate built from `trainset`, scored on `valset`.
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
        crate::compiled::run_search(self.search(program, trainset, valset)).await
    }

    async fn search<P, E>(
        &self,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> Result<(P, CompileReport)>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let mut report = CompileReport::new("BootstrapFewShotWithRandomSearch", self.settings.seed);
        let candidates: Vec<Candidate> = [
            Candidate::ZeroShot,
            Candidate::Labeled,
            Candidate::Unshuffled,
        ]
        .into_iter()
        .chain((0..self.num_candidate_programs as u64).map(Candidate::Shuffled))
        .collect();
        let total = candidates.len();
        let sequential = self.candidate_concurrency == 1;
        // One bar per phase when candidates go one by one, else one bar over the candidates.
        let overall = Progress::new(
            total,
            "Random search",
            self.settings.progress && !sequential,
        );
        let best_score: Mutex<Option<f64>> = Mutex::new(None);
        let mut runs = stream::iter(candidates.into_iter().enumerate())
            .map(|(position, candidate)| {
                let label = format!("[{}/{total}]", position + 1);
                self.candidate(
                    candidate,
                    label,
                    sequential,
                    &best_score,
                    program,
                    trainset,
                    valset,
                )
            })
            .buffered(self.candidate_concurrency);

        let mut best: Option<(P, f64)> = None;
        while let Some(scored) = runs.next().await {
            let scored = match scored {
                Ok(scored) => scored,
                Err(error) => {
                    overall.finish();
                    return Err(error);
                }
            };
            report.trials.push(scored.trial);
            if let (Some(candidate), Some(score)) = (scored.program, scored.score)
                && best.as_ref().is_none_or(|(_, b)| score > *b)
            {
                report.choose(report.trials.len() - 1);
                best = Some((candidate, score));
                *best_score.lock().unwrap_or_else(|e| e.into_inner()) = Some(score);
            }
            overall.step(|| match &best {
                Some((_, score)) => format!("best {:.1}%", 100.0 * score),
                None => String::new(),
            });
            if scored.budget {
                report.stopped_by_budget = true;
                break;
            }
            if let (Some(stop), Some(score)) = (self.stop_at_score, scored.score)
                && score >= stop
            {
                break;
            }
        }
        overall.finish();
        let program = best.map_or_else(|| program.clone(), |(program, _)| program);
        Ok((program, report))
    }

    /// Builds one candidate and scores it on `valset`.
    #[allow(clippy::too_many_arguments)]
    async fn candidate<P, E>(
        &self,
        candidate: Candidate,
        label: String,
        show: bool,
        best_score: &Mutex<Option<f64>>,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> Result<Scored<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let started = Instant::now();
        let show = show && self.settings.progress;
        let (outcome, usage) = track_usage(async {
            let (candidate, description, budget) = self
                .build(candidate, &label, show, program, trainset)
                .await?;
            if budget {
                return Ok((None, None, description, None));
            }
            let best = *best_score.lock().unwrap_or_else(|e| e.into_inner());
            let title = match best {
                Some(best) => format!("{label} evaluate {description} (best {:.1}%)", 100.0 * best),
                None => format!("{label} evaluate {description}"),
            };
            let evaluation = Evaluate::new(ByRef(&self.metric))
                .concurrency(self.settings.concurrency)
                .progress(show)
                .title(title)
                .run(&candidate, valset)
                .await;
            match evaluation {
                Ok(evaluation) => {
                    let score = evaluation.score;
                    if let Some(fatal) = evaluation
                        .results
                        .into_iter()
                        .find_map(|r| r.output.err().filter(is_fatal))
                    {
                        return Err(fatal);
                    }
                    Ok((Some(candidate), Some(score), description, None))
                }
                Err(error) if is_budget(&error) => Ok((None, None, description, Some(error))),
                Err(error) => Err(error),
            }
        })
        .await;
        let (candidate, score, description, budget_error) = outcome?;
        let budget = candidate.is_none();
        let mut trial = Trial::new(description, score, &usage, started.elapsed());
        if let Some(error) = &budget_error {
            trial = trial.failed(error);
        } else if budget {
            trial.error = Some("the LM budget ran out while bootstrapping".into());
        }
        Ok(Scored {
            program: candidate,
            score,
            trial,
            budget,
        })
    }

    /// The candidate program, its description, and whether the budget cut its building short.
    async fn build<P, E>(
        &self,
        candidate: Candidate,
        label: &str,
        show: bool,
        program: &P,
        trainset: &[E],
    ) -> Result<(P, String, bool)>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let settings = &self.settings;
        build_candidate(
            settings,
            &self.metric,
            candidate,
            label,
            show,
            program,
            trainset,
        )
        .await
    }
}

/// Builds one demo-set candidate (see [`BootstrapFewShotWithRandomSearch`]): the program, its
/// description, and whether the budget cut its building short. MIPROv2 builds its demo sets
/// with it too.
pub(crate) async fn build_candidate<P, E, M>(
    settings: &BootstrapSettings,
    metric: &M,
    candidate: Candidate,
    label: &str,
    show: bool,
    program: &P,
    trainset: &[E],
) -> Result<(P, String, bool)>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize + Clone,
    M: Metric<E, P::Output>,
{
    match candidate {
        Candidate::ZeroShot => {
            let mut zero_shot = program.clone();
            clear_demos(&mut zero_shot)?;
            Ok((zero_shot, "zero-shot".into(), false))
        }
        Candidate::Labeled => {
            let mut labeled = program.clone();
            let examples = all_fields(trainset)?;
            let mut rng = Rng::new(settings.seed);
            let k = settings.max_labeled_demos;
            assign_labeled(&mut labeled, &examples, k, &settings.labeled, &mut rng)?;
            let demos = labeled
                .predictors()
                .iter()
                .map(|(_, p)| p.demo_count())
                .max();
            let description = format!("labeled ({} demos)", demos.unwrap_or(0));
            Ok((labeled, description, false))
        }
        Candidate::Unshuffled => {
            let settings = BootstrapSettings {
                progress: show,
                ..settings.clone()
            };
            let title = format!("{label} bootstrap");
            let compiled = bootstrap(&settings, metric, program, None, trainset, &title).await?;
            let description = format!(
                "bootstrap unshuffled ({} traces)",
                successes(&compiled, &settings)
            );
            let budget = compiled.report.stopped_by_budget;
            Ok((compiled.program, description, budget))
        }
        Candidate::Shuffled(index) => {
            let seed = derive_seed(settings.seed, index);
            let mut rng = Rng::new(seed);
            let mut shuffled = trainset.to_vec();
            rng.shuffle(&mut shuffled);
            let most = settings.max_bootstrapped_demos;
            let size = if most == 0 { 0 } else { 1 + rng.below(most) };
            let settings = BootstrapSettings {
                max_bootstrapped_demos: size,
                seed,
                progress: show,
                ..settings.clone()
            };
            let title = format!("{label} bootstrap seed {index}");
            let compiled = bootstrap(&settings, metric, program, None, &shuffled, &title).await?;
            let description = format!(
                "bootstrap seed {index} ({}/{size} traces)",
                successes(&compiled, &settings)
            );
            let budget = compiled.report.stopped_by_budget;
            Ok((compiled.program, description, budget))
        }
    }
}

/// How many bootstrapping runs passed (each success is one passing trial).
fn successes<P>(compiled: &Compiled<P>, settings: &BootstrapSettings) -> usize {
    compiled
        .report
        .trials
        .iter()
        .filter(|t| {
            t.error.is_none()
                && t.score
                    .is_some_and(|s| passes(s, settings.metric_threshold))
        })
        .count()
}

impl<P, E, M> Optimizer<P, E> for BootstrapFewShotWithRandomSearch<M>
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
        self.compile_with_valset(program, trainset, trainset)
    }
}
