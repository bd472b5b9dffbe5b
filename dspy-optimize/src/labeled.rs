//! `LabeledFewShot`: demos straight from the training set.

use crate::Trial;
use crate::search::estimate::Estimator;
use crate::search::provenance::{Examples, demo_ids};
use crate::search::sampling::{Sampling, assign_labeled};
use crate::search::warnings::warn_demoless;
use crate::search::{Frame, Search, SearchOptions, compile_methods, compile_now, search_setters};
use crate::{Compiled, Estimate};
use dspy_core::data::Rng;
use dspy_core::{Parameters, Result};
use serde::Serialize;
use std::time::Instant;

const NAME: &str = "LabeledFewShot";

/// Gives every predictor `k` labeled examples from the training set as demos, as DSPy's
/// `LabeledFewShot`: no LM calls, no metric.
///
/// Examples are drawn at random with the seed (default 0; `.sample(false)` takes the first `k`
/// instead). Each predictor gets the fields of the example that its signature has: an example
/// serializes to one JSON object, and it is a demo of every predictor for which it has at least
/// one input and one output field, each of the field's type
/// ([`DynPredictor::check_demos_json`](dspy_core::DynPredictor::check_demos_json)). So one
/// training set of a whole pipeline gives each stage demos: complete ones where the example has
/// all the stage's fields, partial ones (shown as DSPy shows an incomplete demo) where it lacks
/// some, e.g. an intermediate stage's output given as its input. A stage none of whose output
/// fields the examples carry gets no demos, and the report says so in a
/// [`CompileWarning`](crate::CompileWarning). Demos the program had before are replaced.
///
/// `.per_class("label")` balances the draw over the values of a field: `k` demos dealt out class
/// by class, so each class gets about `k / classes`.
///
/// Every demo records its [`Provenance`](dspy_core::module::Provenance): labeled, from the
/// example with its content hash (or its `.id_field(name)`); the report's one trial lists them.
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
#[derive(Debug, Clone)]
pub struct LabeledFewShot {
    /// How many demos each predictor gets (fewer when fewer examples fit it).
    pub k: usize,
    sampling: Sampling,
    options: SearchOptions,
}

impl LabeledFewShot {
    /// Up to `k` demos per predictor, drawn at random with seed 0.
    pub fn new(k: usize) -> Self {
        LabeledFewShot {
            k,
            sampling: Sampling::random(),
            options: SearchOptions::default(),
        }
    }

    /// Draws at random (the default), or takes the first `k` examples in order.
    #[must_use]
    pub fn sample(mut self, random: bool) -> Self {
        self.sampling.random = random;
        self
    }

    /// Balances the demos over the values of `field` (e.g. a label).
    #[must_use]
    pub fn per_class(mut self, field: impl Into<String>) -> Self {
        self.sampling.per_class = Some(field.into());
        self
    }

    search_setters!([options] seed, id_field);
    compile_methods!(estimate);

    /// A copy of `program` whose predictors carry labeled demos from `trainset`.
    ///
    /// Any program with [`Parameters`] and any examples that serialize to objects of fields
    /// will do: the examples' input need not be the program's, so one set of examples of a
    /// whole pipeline gives each stage the demos that fit it. ([`Optimizer::compile`](crate::Optimizer::compile) is the
    /// same, for code generic over optimizers.)
    pub async fn compile<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        compile_now(NAME, &self.options, |frame| {
            self.assign(frame, program, trainset)
        })
    }

    /// Draws the demos: the whole of the algorithm, which needs no LM and so never waits.
    fn assign<P, E>(&self, frame: &mut Frame<'_>, program: &P, trainset: &[E]) -> Result<P>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let started = Instant::now();
        let mut student = program.clone();
        let examples = Examples::of(trainset, &self.options)?;
        let mut rng = Rng::new(self.options.seed);
        assign_labeled(&mut student, &examples, self.k, &self.sampling, &mut rng)?;
        warn_demoless(&mut frame.report, &student, &examples.fields, "k is 0");
        let demos: usize = student
            .predictors()
            .iter()
            .map(|(_, p)| p.demo_count())
            .sum();
        let mut trial = Trial::new(
            format!("labeled ({demos} demos)"),
            None,
            &Default::default(),
            started.elapsed(),
        );
        trial.demos = demo_ids(&student)?;
        frame.report.trials.push(trial);
        Ok(student)
    }
}

/// Equal when they draw the same demos: `k`, sampling and seed (its only option).
impl PartialEq for LabeledFewShot {
    fn eq(&self, other: &Self) -> bool {
        (self.k, &self.sampling, self.options.seed)
            == (other.k, &other.sampling, other.options.seed)
    }
}

/// No LM calls, and no validation set: the demos are drawn from the training set.
impl<P, E> Search<P, E> for LabeledFewShot
where
    P: Parameters + Clone + Sync,
    E: Serialize + Sync,
{
    type Program = P;
    const NAME: &'static str = NAME;

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
        self.assign(frame, program, trainset)
    }

    fn estimate(&self, _: &P, _: &[E], _: Option<&[E]>) -> Result<Estimate> {
        let mut estimate = Estimator::new(NAME, &self.options);
        estimate.note("labeled demos are drawn from the training set: no LM call");
        Ok(estimate.finish())
    }
}
