//! Demo-set candidates, as [`BootstrapFewShotWithRandomSearch`](crate::BootstrapFewShotWithRandomSearch)
//! and [`MIPROv2`](crate::MIPROv2) build them: zero-shot, labeled, bootstrapped on the training
//! set as given, and bootstrapped on shuffled copies of it. Bootstrapping is
//! [`BootstrapFewShot`] itself, run with the candidate's settings.

use super::SearchOptions;
use super::bootstrap_options::BootstrapOptions;
use super::estimate::Count;
use super::estimate::counts::bootstrap_runs;
use super::fields::clear_demos;
use super::provenance::Examples;
use super::sampling::assign_labeled;
use super::scoring::{ByRef, passes};
use super::seed::derive_seed;
use super::step_log::Within;
use crate::{BootstrapFewShot, Compiled};
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::{Example, Module, Parameters, Result};
use serde::Serialize;

/// Which kind of candidate, with DSPy's seed numbering in mind (-3 to N-1).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Candidate {
    ZeroShot,
    Labeled,
    Unshuffled,
    Shuffled(u64),
}

/// What a demo-set candidate is built with.
pub(crate) struct DemoSets<'a, M> {
    pub metric: &'a M,
    pub bootstrap: &'a BootstrapOptions,
    /// The seed, concurrency and progress of bootstrapping.
    pub options: &'a SearchOptions,
    /// Where bootstrapping logs each training example's attempts, when a compile checkpoints
    /// inside a candidate.
    pub log: Option<Within<'a>>,
}

/// A candidate built: the program, its description, and whether the budget cut its
/// bootstrapping short.
pub(crate) type Built<P> = (P, String, bool);

impl<M> DemoSets<'_, M> {
    /// Builds `candidate` from `program` on `trainset`; bootstrapping shows a progress bar
    /// titled after `label` when `show`.
    pub(crate) async fn build<P, E>(
        &self,
        candidate: Candidate,
        label: &str,
        show: bool,
        program: &P,
        trainset: &[E],
    ) -> Result<Built<P>>
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
            Candidate::Labeled => self.labeled(program, trainset),
            Candidate::Unshuffled => {
                let options = self.options.clone().progress(show);
                let title = format!("{label} bootstrap");
                let compiled = self
                    .bootstrap(self.bootstrap.clone(), options, title, program, trainset)
                    .await?;
                let description = format!(
                    "bootstrap unshuffled ({} traces)",
                    self.successes(&compiled)
                );
                let budget = compiled.report.stopped_by_budget;
                Ok((compiled.program, description, budget))
            }
            Candidate::Shuffled(index) => {
                self.shuffled(index, label, show, program, trainset).await
            }
        }
    }

    /// `max_labeled_demos` labeled demos per predictor.
    fn labeled<P, E>(&self, program: &P, trainset: &[E]) -> Result<Built<P>>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let mut labeled = program.clone();
        let examples = Examples::of(trainset, self.options)?;
        let mut rng = Rng::new(self.options.seed);
        let (k, sampling) = (self.bootstrap.max_labeled_demos, &self.bootstrap.labeled);
        assign_labeled(&mut labeled, &examples, k, sampling, &mut rng)?;
        let demos = labeled
            .predictors()
            .iter()
            .map(|(_, p)| p.demo_count())
            .max();
        let description = format!("labeled ({} demos)", demos.unwrap_or(0));
        Ok((labeled, description, false))
    }

    /// Bootstrapped on the training set shuffled with a seed of its own, stopping at a random
    /// number of traces between 1 and `max_bootstrapped_demos`.
    async fn shuffled<P, E>(
        &self,
        index: u64,
        label: &str,
        show: bool,
        program: &P,
        trainset: &[E],
    ) -> Result<Built<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let seed = derive_seed(self.options.seed, index);
        let mut shuffled = trainset.to_vec();
        let size = self.shuffle(seed, &mut shuffled);
        let bootstrap = BootstrapOptions {
            max_bootstrapped_demos: size,
            ..self.bootstrap.clone()
        };
        let options = self.options.clone().seed(seed).progress(show);
        let title = format!("{label} bootstrap seed {index}");
        let compiled = self
            .bootstrap(bootstrap, options, title, program, &shuffled)
            .await?;
        let description = format!(
            "bootstrap seed {index} ({}/{size} traces)",
            self.successes(&compiled)
        );
        let budget = compiled.report.stopped_by_budget;
        Ok((compiled.program, description, budget))
    }

    /// Shuffles `trainset` with `seed` and draws how many traces its bootstrapping stops at:
    /// between 1 and `max_bootstrapped_demos` (0 when that is 0).
    fn shuffle<T>(&self, seed: u64, trainset: &mut [T]) -> usize {
        let mut rng = Rng::new(seed);
        rng.shuffle(trainset);
        let most = self.bootstrap.max_bootstrapped_demos;
        if most == 0 { 0 } else { 1 + rng.below(most) }
    }

    /// The runs of bootstrapping `candidate` on `examples` training examples (see
    /// [`bootstrap_runs`]): none for the zero-shot and labeled ones; a shuffled one stops at
    /// the number of traces it draws.
    pub(crate) fn runs(&self, candidate: Candidate, examples: usize) -> Count {
        let traces = match candidate {
            Candidate::ZeroShot | Candidate::Labeled => return Count::default(),
            Candidate::Unshuffled => self.bootstrap.max_bootstrapped_demos,
            Candidate::Shuffled(index) => {
                let seed = derive_seed(self.options.seed, index);
                self.shuffle(seed, &mut vec![(); examples])
            }
        };
        bootstrap_runs(examples, traces, self.bootstrap.max_rounds)
    }

    /// [`BootstrapFewShot`] with these settings.
    async fn bootstrap<P, E>(
        &self,
        bootstrap: BootstrapOptions,
        options: SearchOptions,
        title: String,
        program: &P,
        trainset: &[E],
    ) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone + Sync,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Sync,
        M: Metric<E, P::Output>,
    {
        let optimizer = BootstrapFewShot::configured(ByRef(self.metric), bootstrap, options, title);
        match self.log {
            Some(within) => optimizer.compile_logged(program, trainset, within).await,
            None => optimizer.compile(program, trainset).await,
        }
    }

    /// How many bootstrapping runs passed (each success is one passing trial).
    fn successes<P>(&self, compiled: &Compiled<P>) -> usize {
        let threshold = self.bootstrap.metric_threshold;
        compiled
            .report
            .trials
            .iter()
            .filter(|t| t.error.is_none() && t.score.is_some_and(|s| passes(s, threshold)))
            .count()
    }
}
