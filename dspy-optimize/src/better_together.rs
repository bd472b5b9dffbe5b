//! `BetterTogether`: prompt and weight optimization alternated, as DSPy's, each step scored on
//! a validation set and the best program kept.

mod strategy;

use crate::search::measure::{attempt, measure};
use crate::search::scoring::score_on;
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Estimate, Optimizer, Trial};
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::{Error, Example, Module, Parameters, Result};
use serde::Serialize;
use strategy::Step;

/// Prompt optimization and fine-tuning chained by a strategy string, as DSPy's
/// `BetterTogether`: `"p -> w -> p"` (the default) optimizes the prompts, fine-tunes the
/// weights on the runs of the prompted program, then optimizes the prompts again for the
/// fine-tuned model.
///
/// `p` is any prompt optimizer (its program type the program's own: [`BootstrapFewShot`](crate::BootstrapFewShot),
/// [`BootstrapFewShotWithRandomSearch`](crate::BootstrapFewShotWithRandomSearch), [`MIPROv2`](crate::MIPROv2), ...) and `w` a weight optimizer,
/// usually [`BootstrapFinetune`](crate::BootstrapFinetune) (any optimizer of the same program
/// type is accepted). Each step compiles the program the step before returned, on the training
/// set (shuffled before each step with the seed, unless
/// [`shuffle_between_steps(false)`](Self::shuffle_between_steps)); the program as given and
/// every step's result are scored on the validation set, and the best is returned (the
/// earliest of equal scores). The validation set is the one passed to
/// [`compile_with_valset`](Self::compile_with_valset), else the first
/// [`valset_ratio`](Self::valset_ratio) (default 0.1) of the training set, held out from it;
/// with a ratio of 0 and no validation set, nothing is scored and the last program is
/// returned.
///
/// The report has a trial per program scored (`baseline`, `p`, `p -> w`, ...), with the LM
/// calls of its step and its score, and the warnings of every step. A step whose fine-tuning
/// job fails ends the search with the best program so far, the failure in its trial (as
/// DSPy does); an LM budget that runs out does the same, with
/// [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget) set. Other
/// errors (no LM, a rejected key) are returned.
///
/// ```
/// use dspy_core::lm::{DummyFinetuner, DummyLm, LM};
/// use dspy_core::Predict;
/// use dspy_optimize::{BetterTogether, BootstrapFinetune, LabeledFewShot};
/// use serde_json::json;
/// use std::sync::Arc;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let base = LM::new(DummyLm::keyed([("France", json!({"city": "Paris"}))]));
/// let finetuner = Arc::new(DummyFinetuner::new(base.clone()));
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let trainset = vec![Capital { country: "France".into(), city: "Paris".into() }; 4];
/// let together = BetterTogether::new(
///     metric,
///     LabeledFewShot::new(2),
///     BootstrapFinetune::new(metric, finetuner).no_cache().progress(false),
/// )
/// .strategy("p -> w")
/// .progress(false);
/// let compiled = dspy_core::with_lm(base, async {
///     together.compile_with_valset(&Predict::<Capital>::new(), &trainset, &trainset[..2]).await
/// }).await.unwrap();
/// let steps: Vec<&str> = compiled.report.trials.iter().map(|t| t.candidate.as_str()).collect();
/// assert_eq!(steps, ["baseline", "p", "p -> w"]);
/// assert_eq!(compiled.report.best, Some(0)); // all score 1.0: the earliest is kept
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct BetterTogether<M, Pr, W> {
    metric: M,
    prompt: Pr,
    weights: W,
    strategy: String,
    valset_ratio: f64,
    shuffle: bool,
    options: SearchOptions,
}

impl<M, Pr, W> BetterTogether<M, Pr, W> {
    /// Alternates `prompt` (the strategy's `p`) and `weights` (its `w`), scoring with
    /// `metric`, on DSPy's defaults: `"p -> w -> p"`, a tenth of the training set held out.
    pub fn new(metric: M, prompt: Pr, weights: W) -> Self {
        BetterTogether {
            metric,
            prompt,
            weights,
            strategy: "p -> w -> p".into(),
            valset_ratio: 0.1,
            shuffle: true,
            options: SearchOptions::default(),
        }
    }

    search_setters!([options] seed, concurrency, progress, task_model, metric);
    compile_methods!(compile, compile_with_valset, estimate);

    /// The steps, `p` and `w` separated by `->` (`"p -> w"`, `"w -> p -> w"`). Checked when
    /// the compile starts: anything else is an [`Error::Config`] before any call.
    #[must_use]
    pub fn strategy(mut self, strategy: impl Into<String>) -> Self {
        self.strategy = strategy.into();
        self
    }

    /// The share of the training set held out to score the steps when no validation set is
    /// given (default 0.1; at least 0, below 1).
    #[must_use]
    pub fn valset_ratio(mut self, ratio: f64) -> Self {
        self.valset_ratio = ratio;
        self
    }

    /// Whether the training set is shuffled before each step (default `true`).
    #[must_use]
    pub fn shuffle_between_steps(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The training and validation sets: the ones given, or the training set split.
    fn sets<E: Clone>(&self, trainset: &[E], valset: Option<&[E]>) -> Result<(Vec<E>, Vec<E>)> {
        if let Some(valset) = valset {
            return Ok((trainset.to_vec(), valset.to_vec()));
        }
        if !(0.0..1.0).contains(&self.valset_ratio) {
            return Err(Error::config(format!(
                "BetterTogether's valset_ratio is {}; it must be at least 0 and below 1",
                self.valset_ratio
            )));
        }
        let held = (self.valset_ratio * trainset.len() as f64) as usize;
        Ok((trainset[held..].to_vec(), trainset[..held].to_vec()))
    }

    /// `program`'s score on `valset` (`None` without one).
    async fn score<P, E>(&self, program: &P, valset: &[E]) -> Result<Option<f64>>
    where
        P: Module,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        if valset.is_empty() {
            return Ok(None);
        }
        let task = self.options.task_model.as_ref();
        let concurrency = self.options.concurrency;
        score_on(&self.metric, program, valset, concurrency, task)
            .await
            .map(Some)
    }
}

/// The programs scored so far, and which is best.
struct Candidates<P> {
    programs: Vec<(P, Option<f64>)>,
}

impl<P> Candidates<P> {
    /// The best-scoring program (the earliest of equal scores), else the last one when none
    /// was scored; its position among the trials.
    fn best(mut self) -> (P, usize, Option<f64>) {
        let scored = self
            .programs
            .iter()
            .enumerate()
            .filter_map(|(i, (_, s))| s.map(|s| (i, s)))
            .fold(None, |best: Option<(usize, f64)>, (i, s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((i, s)),
            });
        let index = scored.map_or(self.programs.len() - 1, |(i, _)| i);
        let (program, score) = self.programs.swap_remove(index);
        (program, index, score)
    }
}

impl<P, E, M, Pr, W> Search<P, E> for BetterTogether<M, Pr, W>
where
    P: Module + Parameters + Clone + Sync,
    E: Example<Input = P::Input> + Clone + Serialize + Sync,
    M: Metric<E, P::Output>,
    Pr: Optimizer<P, E, Program = P>,
    W: Optimizer<P, E, Program = P>,
{
    type Program = P;
    const NAME: &'static str = "BetterTogether";

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
        let steps = strategy::parse(&self.strategy)?;
        let (mut train, val) = self.sets(trainset, valset)?;
        let baseline = measure(self.score(program, &val)).await;
        let trial = baseline.trial("baseline", None);
        let Some(score) = frame.stop_on_budget(baseline.outcome)? else {
            // Out of budget before anything was optimized: the program as given.
            return Ok(program.clone());
        };
        frame.report.trials.push(Trial { score, ..trial });
        let mut candidates = Candidates {
            programs: vec![(program.clone(), score)],
        };
        let mut rng = Rng::new(self.options.seed);
        for (i, step) in steps.iter().enumerate() {
            if self.shuffle {
                rng.shuffle(&mut train);
            }
            let current = candidates.programs.last().map(|(p, _)| p.clone());
            let Some(current) = current else { break };
            let name = strategy::name(&steps[..=i]);
            // Boxed: a compile's future is large, and a step holds one.
            let run = Box::pin(async {
                let compiled = match step {
                    Step::Prompt => Box::pin(self.prompt.compile(&current, &train)).await?,
                    Step::Weights => Box::pin(self.weights.compile(&current, &train)).await?,
                };
                let score = self.score(&compiled.program, &val).await?;
                Ok((compiled, score))
            });
            let Some(measured) = attempt(frame, name.clone(), job_failure_kept(run)).await? else {
                break;
            };
            let trial = measured.trial(name, None);
            match measured.outcome {
                Ok((compiled, score)) => {
                    frame.report.warnings.extend(compiled.report.warnings);
                    frame.report.trials.push(Trial { score, ..trial });
                    candidates.programs.push((compiled.program, score));
                }
                Err(failed) => {
                    frame.report.trials.push(trial.failed(&failed));
                    break;
                }
            }
        }
        let (best, index, score) = candidates.best();
        frame.report.best = Some(index);
        frame.report.best_score = score;
        Ok(best)
    }

    fn estimate(&self, program: &P, trainset: &[E], valset: Option<&[E]>) -> Result<Estimate> {
        let steps = strategy::parse(&self.strategy)?;
        let (train, val) = self.sets(trainset, valset)?;
        strategy::estimate(self, &steps, program, &train, &val)
    }
}

/// A step whose fine-tuning job failed gives the failure (`Ok(Err)`): it ends the search with
/// what was found, as a budget does. Every other error is the compile's.
async fn job_failure_kept<T>(
    step: impl std::future::Future<Output = Result<T>>,
) -> Result<Result<T>> {
    match step.await {
        Ok(value) => Ok(Ok(value)),
        Err(error @ Error::Finetune { .. }) => {
            tracing::warn!(target: "dspy::optimize", %error, "BetterTogether: a fine-tuning job failed; keeping the best program so far");
            Ok(Err(error))
        }
        Err(error) => Err(error),
    }
}
