//! The trait every optimizer implements.

use crate::{Compiled, Estimate};
use dspy_core::Result;
use std::future::Future;

/// What every optimizer does: compile a program on a training set into a [`Compiled`] program.
///
/// Every optimizer of this crate implements it through [`Search`](crate::search::Search) (with
/// `use dspy::prelude::*`, or `use dspy_optimize::Optimizer`, its methods are in scope).
///
/// `compile_with_valset` scores candidates on a validation set of the caller's. Without one,
/// [`BootstrapFewShotWithRandomSearch`](crate::BootstrapFewShotWithRandomSearch) and
/// [`GEPA`](crate::GEPA) score on the training set and [`MIPROv2`](crate::MIPROv2) splits off
/// its last 80%; the others learn from the training set alone and ignore a validation set.
///
/// ```
/// use dspy_core::{Example, Module, Parameters, Result};
/// use dspy_optimize::{Compiled, Optimizer};
///
/// /// Compiles with any optimizer and prints what it tried.
/// async fn compile_and_log<O, P, E>(optimizer: &O, program: &P, trainset: &[E]) -> Result<Compiled<O::Program>>
/// where
///     O: Optimizer<P, E>,
/// {
///     let compiled = optimizer.compile(program, trainset).await?;
///     println!("{}", compiled.report);
///     Ok(compiled)
/// }
/// ```
pub trait Optimizer<P, E>: Send + Sync {
    /// The program compiling gives: `P` itself, except for optimizers that wrap it
    /// ([`KNNFewShot`](crate::KNNFewShot) gives a [`KnnProgram<P>`](crate::KnnProgram)).
    type Program;

    /// Compiles `program` on `trainset`; `program` itself is left as it was.
    fn compile(
        &self,
        program: &P,
        trainset: &[E],
    ) -> impl Future<Output = Result<Compiled<Self::Program>>> + Send;

    /// Compiles `program` on `trainset`, scoring candidates on `valset` where the optimizer
    /// scores on a validation set (by default it does not: `valset` is ignored).
    fn compile_with_valset(
        &self,
        program: &P,
        trainset: &[E],
        valset: &[E],
    ) -> impl Future<Output = Result<Compiled<Self::Program>>> + Send {
        let _ = valset;
        self.compile(program, trainset)
    }

    /// What compiling `program` on `trainset` (scoring on `valset`, when given) would cost,
    /// before it runs: the LM calls at most and expected, split between the task and the prompt
    /// model, the prompt tokens (from the prompts rendered with the program's adapters) and the
    /// cost by the LMs' price tables. No LM is called. See [`Estimate`].
    fn estimate(&self, program: &P, trainset: &[E], valset: Option<&[E]>) -> Result<Estimate>;
}
