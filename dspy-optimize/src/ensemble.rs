//! `Ensemble`: several programs answer, one answer comes back.

use crate::search::estimate::Estimator;
use crate::search::seed::derive_seed;
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Estimate, Trial};
use dspy_core::data::Rng;
use dspy_core::evaluate::normalize_text;
use dspy_core::module::ModuleState;
use dspy_core::module::child_name;
use dspy_core::{DynPredictor, Module, Parameters, Result};
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};

/// Turns the outputs of an ensemble's programs into one.
///
/// Any `Fn(Vec<O>) -> O` is one; [`Majority`] is DSPy's vote.
pub trait Reduce<O>: Send + Sync {
    /// One output from the outputs of the programs that answered (never empty), in program
    /// order.
    fn reduce(&self, outputs: Vec<O>) -> O;
}

impl<O, F> Reduce<O> for F
where
    F: Fn(Vec<O>) -> O + Send + Sync,
{
    fn reduce(&self, outputs: Vec<O>) -> O {
        self(outputs)
    }
}

/// A majority vote, as DSPy's `majority`: outputs are compared by one field (by default the
/// last field of the output, as serialized: the answer, after any reasoning), text normalized
/// (case, punctuation, articles and spaces ignored); the most common value wins, ties going to
/// the earliest program. The winning program's whole output is returned.
///
/// ```
/// use dspy_optimize::{Majority, Reduce};
/// #[derive(serde::Serialize)]
/// struct Out { reasoning: String, answer: String }
/// let out = |r: &str, a: &str| Out { reasoning: r.into(), answer: a.into() };
/// let winner = Majority::new().reduce(vec![out("x", "Paris"), out("y", "Rome"), out("z", "paris.")]);
/// assert_eq!(winner.reasoning, "x");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Majority {
    field: Option<String>,
}

impl Majority {
    /// A vote on the last output field.
    pub fn new() -> Self {
        Self::default()
    }

    /// A vote on output field `field`.
    pub fn by_field(field: impl Into<String>) -> Self {
        Majority {
            field: Some(field.into()),
        }
    }

    /// The value an output votes with.
    fn ballot<O: Serialize>(&self, output: &O) -> Option<String> {
        let value = serde_json::to_value(output).ok()?;
        let chosen = match (&value, &self.field) {
            (Value::Object(fields), Some(field)) => fields.get(field)?.clone(),
            (Value::Object(fields), None) => fields.values().next_back()?.clone(),
            (other, _) => other.clone(),
        };
        Some(match chosen {
            Value::String(text) => normalize_text(&text),
            other => other.to_string(),
        })
    }
}

impl<O: Serialize> Reduce<O> for Majority {
    fn reduce(&self, mut outputs: Vec<O>) -> O {
        let ballots: Vec<Option<String>> = outputs.iter().map(|o| self.ballot(o)).collect();
        // The first output with the most votes; an output that cannot vote counts once.
        let votes = |i: usize| match &ballots[i] {
            Some(ballot) => ballots
                .iter()
                .filter(|b| b.as_ref() == Some(ballot))
                .count(),
            None => 1,
        };
        let mut winner = 0;
        for i in 1..outputs.len() {
            if votes(i) > votes(winner) {
                winner = i;
            }
        }
        outputs.swap_remove(winner)
    }
}

/// DSPy's `Ensemble`: runs several programs on each input and reduces their outputs to one.
///
/// `Ensemble::majority()` votes ([`Majority`]); `Ensemble::reduce(f)` applies any
/// `Fn(Vec<Output>) -> Output`. With [`size`](Self::size), each call runs a random subset of
/// that many programs, drawn from the ensemble's seed and a call counter (reproducible for a
/// sequence of calls). The programs run concurrently; those that fail are left out of the
/// reduction, and the call fails only when all of them do (with the first program's error).
///
/// ```
/// use dspy_core::{DummyLm, LM, Module, Predict};
/// use dspy_optimize::Ensemble;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let voter = |city: &str| Predict::<Capital>::new().with_lm(LM::new(DummyLm::keyed([("Italy", json!({"city": city}))])));
/// let ensemble = Ensemble::majority().compile(vec![voter("Milan"), voter("Rome"), voter("Rome")]);
/// let out = ensemble.call(CapitalInput { country: "Italy".into() }).await.unwrap();
/// assert_eq!(out.city, "Rome");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Ensemble<R> {
    reduce: R,
    size: Option<usize>,
    options: SearchOptions,
}

impl Ensemble<Majority> {
    /// An ensemble that returns the majority answer.
    pub fn majority() -> Self {
        Ensemble::reduce(Majority::new())
    }
}

impl<R> Ensemble<R> {
    /// An ensemble whose outputs are reduced by `reduce`.
    pub fn reduce(reduce: R) -> Self {
        Ensemble {
            reduce,
            size: None,
            options: SearchOptions::default(),
        }
    }

    /// Runs a random subset of `size` programs per call (all of them by default).
    #[must_use]
    pub fn size(mut self, size: usize) -> Self {
        self.size = Some(size.max(1));
        self
    }

    // The seed draws the subsets of `size`.
    search_setters!([options] seed);
    compile_methods!(estimate);

    /// The ensemble of `programs`, a module itself.
    pub fn compile<P>(&self, programs: Vec<P>) -> EnsembleProgram<P, R>
    where
        R: Clone,
    {
        EnsembleProgram {
            programs,
            reduce: self.reduce.clone(),
            size: self.size,
            seed: self.options.seed,
            calls: AtomicU64::new(0),
        }
    }
}

/// As an [`Optimizer`](crate::Optimizer) over the programs (`Vec<P>`), for code generic over
/// optimizers: the ensemble of the programs given, with a report of one trial. It takes no
/// training or validation set.
impl<P, E, R> Search<Vec<P>, E> for Ensemble<R>
where
    P: Module + Clone,
    E: Sync,
    R: Clone + Send + Sync,
{
    type Program = EnsembleProgram<P, R>;
    const NAME: &'static str = "Ensemble";

    fn options(&self) -> &SearchOptions {
        &self.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        programs: &Vec<P>,
        _: &[E],
        _: Option<&[E]>,
    ) -> Result<EnsembleProgram<P, R>> {
        let size = self
            .size
            .map_or(String::new(), |size| format!(", {size} a call"));
        let what = format!("ensemble of {} programs{size}", programs.len());
        let trial = Trial::new(what, None, &Default::default(), Default::default());
        frame.report.trials.push(trial);
        Ok(self.compile(programs.clone()))
    }

    /// No LM call: the programs are put together as they are (each call of the ensemble then
    /// runs `size` of them, or all).
    fn estimate(&self, programs: &Vec<P>, _: &[E], _: Option<&[E]>) -> Result<Estimate> {
        let mut estimate = Estimator::new("Ensemble", &self.options);
        estimate.note(format!(
            "the {} programs are put together as they are: no LM call",
            programs.len()
        ));
        Ok(estimate.finish())
    }
}

/// The program [`Ensemble::compile`] builds: a module over the programs' input and output.
///
/// Its predictors are the programs', named `programs.0...`, `programs.1...`, so an ensemble
/// saves and loads as one program.
#[derive(Debug)]
pub struct EnsembleProgram<P, R> {
    /// The programs, in order.
    pub programs: Vec<P>,
    reduce: R,
    size: Option<usize>,
    seed: u64,
    calls: AtomicU64,
}

impl<P, R> EnsembleProgram<P, R> {
    /// The indices of the programs that answer the next call, in order.
    fn members(&self) -> Vec<usize> {
        let n = self.programs.len();
        match self.size {
            Some(size) if size < n => {
                let call = self.calls.fetch_add(1, Ordering::Relaxed);
                let mut rng = Rng::new(derive_seed(self.seed, call));
                let mut picked = rng.sample_indices(n, size);
                picked.sort_unstable();
                picked
            }
            _ => (0..n).collect(),
        }
    }
}

impl<P: Clone, R: Clone> Clone for EnsembleProgram<P, R> {
    fn clone(&self) -> Self {
        EnsembleProgram {
            programs: self.programs.clone(),
            reduce: self.reduce.clone(),
            size: self.size,
            seed: self.seed,
            calls: AtomicU64::new(self.calls.load(Ordering::Relaxed)),
        }
    }
}

impl<P, R> Module for EnsembleProgram<P, R>
where
    P: Module,
    P::Input: Clone,
    R: Reduce<P::Output>,
{
    type Input = P::Input;
    type Output = P::Output;

    async fn call(&self, input: P::Input) -> Result<P::Output> {
        let runs = self
            .members()
            .into_iter()
            .map(|i| self.programs[i].call(input.clone()));
        let mut outputs = Vec::new();
        let mut first_error = None;
        for result in futures_util::future::join_all(runs).await {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) if outputs.is_empty() => Err(error),
            _ if outputs.is_empty() => Err(dspy_core::Error::config(
                "the ensemble has no programs: give Ensemble::compile at least one",
            )),
            _ => Ok(self.reduce.reduce(outputs)),
        }
    }
}

impl<P: Parameters, R> Parameters for EnsembleProgram<P, R> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.programs
            .visit_predictors(&child_name(prefix, "programs"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.programs
            .visit_predictors_mut(&child_name(prefix, "programs"), visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        self.programs
            .visit_module_states(&child_name(prefix, "programs"), visit);
    }
}
