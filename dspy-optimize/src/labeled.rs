//! `LabeledFewShot`: demos straight from the training set.

use crate::demos::{Sampling, all_fields, assign_labeled};
use crate::{CompileReport, Compiled, Optimizer};
use dspy_core::data::Rng;
use dspy_core::{Example, Module, Parameters, Result};
use serde::Serialize;
use std::future::Future;
use std::time::Instant;

/// Gives every predictor `k` labeled examples from the training set as demos, as DSPy's
/// `LabeledFewShot`: no LM calls, no metric.
///
/// Examples are drawn at random with the seed (default 0; `.sample(false)` takes the first `k`
/// instead). A predictor only gets the examples that fit its signature: an example serializes to
/// one JSON object, and it becomes a predictor's demo only if the predictor accepts it
/// ([`DynPredictor::check_demos_json`](dspy_core::DynPredictor::check_demos_json)) — in a
/// multi-stage program, the stages whose fields the examples do not carry get no demos. Demos the
/// program had before are replaced.
///
/// `.per_class("label")` balances the draw over the values of a field: `k` demos dealt out class
/// by class, so each class gets about `k / classes`.
///
/// ```
/// use dspy_core::{Parameters, Predict};
/// use dspy_optimize::LabeledFewShot;
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let trainset: Vec<QA> = (0..10)
///     .map(|i| QA { question: format!("{i}+{i}?"), answer: (2 * i).to_string() })
///     .collect();
/// let compiled = LabeledFewShot::new(3).compile(&Predict::<QA>::new(), &trainset).await.unwrap();
/// assert_eq!(compiled.demos.len(), 3);
/// assert!(compiled.report.trials[0].candidate.contains("3 demos"));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledFewShot {
    /// How many demos each predictor gets (fewer when fewer examples fit it).
    pub k: usize,
    sampling: Sampling,
    seed: u64,
}

impl LabeledFewShot {
    /// Up to `k` demos per predictor, drawn at random with seed 0.
    pub fn new(k: usize) -> Self {
        LabeledFewShot {
            k,
            sampling: Sampling {
                random: true,
                per_class: None,
            },
            seed: 0,
        }
    }

    /// Draws at random (the default), or takes the first `k` examples in order.
    pub fn sample(mut self, random: bool) -> Self {
        self.sampling.random = random;
        self
    }

    /// Balances the demos over the values of `field` (e.g. a label).
    pub fn per_class(mut self, field: impl Into<String>) -> Self {
        self.sampling.per_class = Some(field.into());
        self
    }

    /// The seed of the draw.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// A copy of `program` whose predictors carry labeled demos from `trainset`.
    pub async fn compile<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        self.assign(program, trainset)
    }

    /// The work of [`compile`](Self::compile), which needs no LM and so never waits.
    fn assign<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let started = Instant::now();
        let mut student = program.clone();
        let examples = all_fields(trainset)?;
        assign_labeled(
            &mut student,
            &examples,
            self.k,
            &self.sampling,
            &mut Rng::new(self.seed),
        )?;
        let demos: usize = student
            .predictors()
            .iter()
            .map(|(_, p)| p.demo_count())
            .sum();
        let mut report = CompileReport::new("LabeledFewShot", self.seed);
        report.elapsed = started.elapsed();
        report.trials.push(crate::Trial::new(
            format!("labeled ({demos} demos)"),
            None,
            &Default::default(),
            report.elapsed,
        ));
        Ok(Compiled::new(student, report))
    }
}

impl<P, E> Optimizer<P, E> for LabeledFewShot
where
    P: Module + Parameters + Clone,
    E: Example<Input = P::Input> + Serialize,
{
    type Program = P;

    fn compile(
        &self,
        program: &P,
        trainset: &[E],
    ) -> impl Future<Output = Result<Compiled<P>>> + Send {
        std::future::ready(self.assign(program, trainset))
    }
}
