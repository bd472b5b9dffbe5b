//! `Compiled<P>`: the program an optimizer returns, with the report of how it was found.

use crate::CompileReport;
use dspy_core::module::ModuleState;
use dspy_core::{DynPredictor, Module, Parameters, Result};
use std::future::Future;
use std::ops::{Deref, DerefMut};

/// A compiled program and the [`CompileReport`] of the compile that made it.
///
/// It is the program for every purpose: it derefs to it, runs as a [`Module`] and exposes the
/// same predictors under the same names as [`Parameters`], so `compiled.call(input)` and
/// `compiled.save(path)` work directly, and the saved state loads into a plain `P`.
/// [`into_program`](Compiled::into_program) unwraps it.
///
/// ```
/// use dspy_core::{Parameters, Predict};
/// use dspy_optimize::{CompileReport, Compiled};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// let compiled = Compiled::new(
///     Predict::<QA>::new().with_instructions("Be terse."),
///     CompileReport::new("by hand", 0),
/// );
/// assert_eq!(compiled.predictor_names(), ["self"]);
/// assert_eq!(compiled.instructions.as_deref(), Some("Be terse.")); // through Deref
/// let program: Predict<QA> = compiled.into_program();
/// # let _ = program;
/// ```
#[derive(Debug, Clone)]
pub struct Compiled<P> {
    /// The compiled program.
    pub program: P,
    /// How it was found.
    pub report: CompileReport,
}

impl<P> Compiled<P> {
    /// Pairs a program with its report.
    pub fn new(program: P, report: CompileReport) -> Self {
        Compiled { program, report }
    }

    /// The program, without the report.
    pub fn into_program(self) -> P {
        self.program
    }

    /// The report of the compile.
    pub fn report(&self) -> &CompileReport {
        &self.report
    }
}

impl<P> Deref for Compiled<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.program
    }
}

impl<P> DerefMut for Compiled<P> {
    fn deref_mut(&mut self) -> &mut P {
        &mut self.program
    }
}

impl<P: Module> Module for Compiled<P> {
    type Input = P::Input;
    type Output = P::Output;

    fn call(&self, input: P::Input) -> impl Future<Output = Result<P::Output>> + Send {
        self.program.call(input)
    }
}

/// The program's predictors, under the same names.
impl<P: Parameters> Parameters for Compiled<P> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.program.visit_predictors(prefix, visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.program.visit_predictors_mut(prefix, visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        self.program.visit_module_states(prefix, visit);
    }
}
