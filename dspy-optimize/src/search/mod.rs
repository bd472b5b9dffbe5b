//! The chassis every optimizer is built on: an optimizer implements [`Search`] (its algorithm,
//! over a [`Frame`]) and gets [`Optimizer`] from it: `compile` and `compile_with_valset`, with
//! the LM usage and wall time of the whole compile in its report.
//!
//! The other pieces here are what several optimizers share, each in a file named for it: the
//! options ([`SearchOptions`]); the checkpoint of a compile (`resume`), measured steps
//! (`measure`), the one step loop of the searches that save their whole state after each step
//! (`steps`: GEPA, SIMBA) and the step log of those that replay their steps (`step_log`:
//! COPRO, MIPROv2); failure classification, scoring, demo-set candidates, labeled sampling,
//! runs with traces (`rollout`), and the prompt model's calls (`prompting`).
//!
//! A search of your own is a type with a [`SearchOptions`], a `search` that fills the frame's
//! report, and an `estimate` of what it costs (see [`estimate`]):
//!
//! ```
//! use dspy_core::{Example, Module, Parameters, Result};
//! use dspy_optimize::search::{Frame, Search, SearchOptions};
//! use dspy_optimize::{Estimate, Optimizer, Trial};
//!
//! /// Returns the program as it is: the smallest search there is.
//! struct AsIs { options: SearchOptions }
//!
//! impl<P, E> Search<P, E> for AsIs
//! where
//!     P: Module + Parameters + Clone,
//!     E: Example<Input = P::Input>,
//! {
//!     type Program = P;
//!     const NAME: &'static str = "AsIs";
//!
//!     fn options(&self) -> &SearchOptions {
//!         &self.options
//!     }
//!
//!     async fn search(&self, frame: &mut Frame<'_>, program: &P, _: &[E], _: Option<&[E]>) -> Result<P> {
//!         frame.report.trials.push(Trial::new("as given", None, &Default::default(), Default::default()));
//!         Ok(program.clone())
//!     }
//!
//!     fn estimate(&self, _: &P, _: &[E], _: Option<&[E]>) -> Result<Estimate> {
//!         Ok(Estimate::nothing("AsIs"))
//!     }
//! }
//!
//! # use dspy_macros::Signature;
//! # /// Answer.
//! # #[derive(Signature, Clone, Debug)]
//! # #[dspy(crate = "dspy_core")]
//! # struct QA { #[input] q: String, #[output] a: String }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let as_is = AsIs { options: SearchOptions::default().seed(3) };
//! let compiled = as_is.compile(&dspy_core::Predict::<QA>::new(), &[] as &[QA]).await.unwrap();
//! assert_eq!((compiled.report.optimizer.as_str(), compiled.report.seed), ("AsIs", 3));
//! # });
//! ```

pub(crate) mod bootstrap_options;
pub(crate) mod demo_sets;
pub mod estimate;
pub(crate) mod failure;
pub(crate) mod fields;
pub(crate) mod measure;
pub(crate) mod models;
mod options;
pub(crate) mod prompting;
pub(crate) mod provenance;
pub(crate) mod resume;
pub(crate) mod rollout;
pub(crate) mod sampling;
pub(crate) mod scoring;
pub(crate) mod seed;
pub(crate) mod step_log;
pub(crate) mod steps;
pub(crate) mod traces;
pub(crate) mod warnings;

pub use options::SearchOptions;
pub(crate) use options::search_setters;

use crate::{CompileReport, Compiled, Estimate, Optimizer};
use dspy_core::Result;
use dspy_core::evaluate::Progress;
use dspy_core::lm::{UsageReport, track_usage};
use std::future::Future;
use std::time::Instant;

/// An optimizer's algorithm: what it does between "here is a program" and "here is a better
/// one". Every type that implements it is an [`Optimizer`], whose `compile` runs `search` in a
/// fresh [`Frame`] and returns its program with the frame's report, the LM usage of the whole
/// search and its wall time.
///
/// `valset` is what the caller gave to
/// [`compile_with_valset`](Optimizer::compile_with_valset) (`None` from `compile`); each
/// optimizer decides what to do without one.
pub trait Search<P, E>: Send + Sync {
    /// What the search gives: `P` itself, or a program wrapping it.
    type Program;

    /// The optimizer's name in its report and checkpoints.
    const NAME: &'static str;

    /// The options it runs with (the report takes its seed).
    fn options(&self) -> &SearchOptions;

    /// Searches from `program` on `trainset` (and `valset` when given), recording its trials
    /// in `frame.report`; `program` itself is left as it was.
    fn search(
        &self,
        frame: &mut Frame<'_>,
        program: &P,
        trainset: &[E],
        valset: Option<&[E]>,
    ) -> impl Future<Output = Result<Self::Program>> + Send;

    /// What `search` would cost on these sets, before it runs: its LM calls (at most and
    /// expected), tokens and cost, phase by phase (see [`Estimate`]). No LM is called.
    fn estimate(&self, program: &P, trainset: &[E], valset: Option<&[E]>) -> Result<Estimate>;
}

impl<T, P, E> Optimizer<P, E> for T
where
    T: Search<P, E>,
    P: Sync,
    E: Sync,
{
    type Program = T::Program;

    fn compile(
        &self,
        program: &P,
        trainset: &[E],
    ) -> impl Future<Output = Result<Compiled<T::Program>>> + Send {
        compile(self, program, trainset, no_valset(trainset))
    }

    fn compile_with_valset(
        &self,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> impl Future<Output = Result<Compiled<T::Program>>> + Send {
        compile(self, program, trainset, Some(valset))
    }

    fn estimate(&self, program: &P, trainset: &[E], valset: Option<&[E]>) -> Result<Estimate> {
        Search::estimate(self, program, trainset, valset)
    }
}

/// `compile` (and, for the optimizers that score on a validation set, `compile_with_valset`)
/// as inherent methods of an optimizer, so that they are called without the [`Optimizer`]
/// trait in scope: `compile_methods!(compile, compile_with_valset)`. Each is the blanket
/// impl's method, nothing more.
macro_rules! compile_methods {
    ($($method:ident),* $(,)?) => {
        $(compile_methods!(@$method);)*
    };
    (@compile) => {
        /// Compiles `program` on `trainset` (see the type's docs); `program` itself is left as
        /// it was. The same as [`Optimizer::compile`](crate::Optimizer::compile).
        pub async fn compile<P, E>(
            &self,
            program: &P,
            trainset: &[E],
        ) -> dspy_core::Result<$crate::Compiled<<Self as $crate::search::Search<P, E>>::Program>>
        where
            Self: $crate::search::Search<P, E>,
            P: Sync,
            E: Sync,
        {
            $crate::Optimizer::compile(self, program, trainset).await
        }
    };
    (@estimate) => {
        /// What compiling `program` on `trainset` (scoring on `valset`, when given) would cost,
        /// before it runs: LM calls at most and expected, tokens and cost (see
        /// [`Estimate`](crate::Estimate)). The same as
        /// [`Optimizer::estimate`](crate::Optimizer::estimate).
        pub fn estimate<P, E>(
            &self,
            program: &P,
            trainset: &[E],
            valset: Option<&[E]>,
        ) -> dspy_core::Result<$crate::Estimate>
        where
            Self: $crate::search::Search<P, E>,
        {
            $crate::search::Search::estimate(self, program, trainset, valset)
        }
    };
    (@compile_with_valset) => {
        /// Compiles `program` on `trainset`, scoring candidates on `valset` (see the type's
        /// docs). The same as
        /// [`Optimizer::compile_with_valset`](crate::Optimizer::compile_with_valset).
        pub async fn compile_with_valset<P, E>(
            &self,
            program: &P,
            trainset: &[E],
            valset: &[E],
        ) -> dspy_core::Result<$crate::Compiled<<Self as $crate::search::Search<P, E>>::Program>>
        where
            Self: $crate::search::Search<P, E>,
            P: Sync,
            E: Sync,
        {
            $crate::Optimizer::compile_with_valset(self, program, trainset, valset).await
        }
    };
}
pub(crate) use compile_methods;

/// No validation set, of the training set's lifetime: a bare `None` would be of any lifetime,
/// and the compile's future would then ask for `E: 'static`.
fn no_valset<E>(_trainset: &[E]) -> Option<&[E]> {
    None
}

/// Runs `optimizer`'s search in a fresh frame, under one usage scope, timed.
async fn compile<T, P, E>(
    optimizer: &T,
    program: &P,
    trainset: &[E],
    valset: Option<&[E]>,
) -> Result<Compiled<T::Program>>
where
    T: Search<P, E>,
{
    let started = Instant::now();
    let mut frame = Frame::new(T::NAME, optimizer.options());
    let search = optimizer.search(&mut frame, program, trainset, valset);
    let (searched, usage) = track_usage(search).await;
    Ok(frame.finish(searched?, usage, started))
}

/// Runs a search that makes no LM call and never waits, in a fresh frame, timed: for a
/// `compile` that takes programs and examples which are not `Sync`, as
/// [`LabeledFewShot::compile`](crate::LabeledFewShot::compile) does (its future holds no
/// reference across an await, so it asks nothing of them).
pub(crate) fn compile_now<P>(
    optimizer: &str,
    options: &SearchOptions,
    search: impl FnOnce(&mut Frame<'_>) -> Result<P>,
) -> Result<Compiled<P>> {
    let started = Instant::now();
    let mut frame = Frame::new(optimizer, options);
    let program = search(&mut frame)?;
    Ok(frame.finish(program, UsageReport::default(), started))
}

/// What a search works in: the report it fills, and the options it runs with.
#[derive(Debug)]
pub struct Frame<'o> {
    /// The report of the compile: its trials, the one chosen, whether a budget stopped it.
    /// Its usage and time are filled in when the search returns.
    pub report: CompileReport,
    options: &'o SearchOptions,
}

impl<'o> Frame<'o> {
    /// A frame for `optimizer` with an empty report, seeded as `options` say.
    pub fn new(optimizer: &str, options: &'o SearchOptions) -> Self {
        Frame {
            report: CompileReport::new(optimizer, options.seed),
            options,
        }
    }

    /// The options the search runs with.
    pub fn options(&self) -> &'o SearchOptions {
        self.options
    }

    /// The compiled program: `program` with this frame's report, the search's `usage` and the
    /// time since it `started`.
    fn finish<P>(self, program: P, usage: UsageReport, started: Instant) -> Compiled<P> {
        let mut report = self.report;
        report.usage = usage;
        report.elapsed = started.elapsed();
        Compiled::new(program, report)
    }

    /// A progress bar over `total` steps, drawn when the options say so (and on a terminal);
    /// it finishes when dropped.
    pub fn progress(&self, total: usize, title: &str) -> Progress {
        Progress::new(total, title, self.options.progress)
    }

    /// `result`, with an LM budget that ran out taken as the end of the search rather than an
    /// error: the report says it stopped, and the search goes on to return what it found.
    pub(crate) fn stop_on_budget<T>(&mut self, result: Result<T>) -> Result<Option<T>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(error) if failure::is_budget(&error) => {
                self.report.stopped_by_budget = true;
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}
