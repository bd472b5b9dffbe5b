//! Model migration: a program compiled for one model, measured on another as it is (the naive
//! swap) and re-compiled for it, with the three evaluations compared example by example.
//!
//! Start with [`migrate`]; see [`Migrate`] for the steps and [`Migration`] for the result.

mod files;
mod migration;

pub use migration::{Migration, ModelRun};

use crate::Optimizer;
use dspy_core::evaluate::{Comparer, Evaluate, EvaluationReport, Metric, Score};
use dspy_core::lm::with_lm_sync;
use dspy_core::{
    Error, Example, ExportPrompts, LM, Module, Parameters, ProgramState, Result, with_lm,
};
use schemars::JsonSchema;
use serde::Serialize;
use std::time::Instant;

/// Starts a migration of `program` (the program as written, before compiling), scored by
/// `metric`: give it the old model with the program compiled for it ([`Migrate::from`] or
/// [`Migrate::from_state`]), the new model with an optimizer ([`Migrate::to`]), then
/// [`run`](Migrate::run) it on a trainset and a devset.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::{LabeledFewShot, Optimizer, migrate};
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let capital = |country: &str, city: &str| Capital { country: country.into(), city: city.into() };
/// let trainset = vec![capital("Spain", "Madrid"), capital("Peru", "Lima")];
/// let devset = vec![capital("France", "Paris"), capital("Italy", "Rome")];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
///
/// // The old model knows France, the new one Italy (demos change nothing for these two).
/// let old = LM::new(DummyLm::keyed([("France", json!({"city": "Paris"})), ("Italy", json!({"city": "Milan"}))]).named("old-model"));
/// let new = LM::new(DummyLm::keyed([("France", json!({"city": "Lyon"})), ("Italy", json!({"city": "Rome"}))]).named("new-model"));
///
/// let program = Predict::<Capital>::new();
/// let migration = migrate(&program, metric)
///     .progress(false)
///     .from(old, program.clone())                       // what the old model ran: here, zero-shot
///     .to(new, LabeledFewShot::new(2))
///     .run(&trainset, &devset)
///     .await
///     .unwrap();
///
/// assert_eq!(migration.old.report.score, 0.5);          // Paris right, Milan wrong
/// assert_eq!(migration.swap.report.score, 0.5);         // Rome right, Lyon wrong
/// let swap = &migration.swap_vs_old;
/// assert_eq!(swap.fixed[0].example["country"], "Italy");
/// assert_eq!(swap.regressed[0].example["country"], "France");
/// assert_eq!(migration.compiled.demos.len(), 2);        // the re-compiled program
/// assert_eq!(migration.recompiled.report.results.len(), 2);
/// println!("{migration}");                             // the three runs as a table
/// // migration.write("compiled")?;                     // a folder per model
/// # });
/// ```
pub fn migrate<P, M>(program: &P, metric: M) -> Migrate<'_, P, M> {
    Migrate {
        program,
        metric,
        concurrency: 16,
        progress: true,
        comparer: Comparer::new(),
        names: None,
        from: (),
        to: (),
    }
}

/// A migration being set up: see [`migrate`].
///
/// [`run`](Migrate::run) takes three steps on the devset, then compares them with the first:
///
/// 1. the old program on the old model (the baseline);
/// 2. the old program, unchanged, on the new model (the naive swap);
/// 3. `program` compiled for the new model by the optimizer (on the trainset, under the new
///    LM), then evaluated on it.
///
/// Each LM is set for its steps with [`with_lm`], so a predictor that holds an LM of its own
/// keeps it: give the programs none. `From` and `To` record whether [`from`](Migrate::from)
/// and [`to`](Migrate::to) were called; `run` needs both.
#[derive(Debug)]
pub struct Migrate<'p, P, M, From = (), To = ()> {
    program: &'p P,
    metric: M,
    concurrency: usize,
    progress: bool,
    comparer: Comparer,
    names: Option<(String, String)>,
    from: From,
    to: To,
}

/// The old model and the program compiled for it, as [`Migrate::from`] sets them.
#[derive(Debug, Clone)]
pub struct OldModel<Q> {
    lm: LM,
    program: Q,
}

/// The new model and the optimizer to compile for it, as [`Migrate::to`] sets them.
#[derive(Debug, Clone)]
pub struct NewModel<O> {
    lm: LM,
    optimizer: O,
}

impl<'p, P, M, From, To> Migrate<'p, P, M, From, To> {
    /// Runs up to `n` examples of each evaluation at a time (16 by default).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Shows or hides the evaluations' progress bars (shown by default; the optimizer has its
    /// own `progress` setter).
    #[must_use]
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Compares the evaluations with `comparer` (its ids, class field, interval and seed); its
    /// side names are replaced by the models'.
    #[must_use]
    pub fn comparer(mut self, comparer: Comparer) -> Self {
        self.comparer = comparer;
        self
    }

    /// Names the two models in tables, pages and folder names (by default, each LM's
    /// [`model`](LM::model)). Two models of one name need this.
    #[must_use]
    pub fn names(mut self, old: impl Into<String>, new: impl Into<String>) -> Self {
        self.names = Some((old.into(), new.into()));
        self
    }
}

impl<'p, P, M, To> Migrate<'p, P, M, (), To> {
    /// The old model, and the program compiled for it: any program with `P`'s input and
    /// output (a [`Compiled`](crate::Compiled) one, a [`KnnProgram`](crate::KnnProgram), `P` with state
    /// loaded).
    pub fn from<Q>(self, lm: LM, compiled: Q) -> Migrate<'p, P, M, OldModel<Q>, To> {
        self.with_from(OldModel {
            lm,
            program: compiled,
        })
    }

    /// The old model, and the state compiled for it (as [`Parameters::save`] wrote it),
    /// loaded into a copy of the program. State that does not fit is an
    /// [`Error::State`].
    pub fn from_state(
        self,
        lm: LM,
        state: ProgramState,
    ) -> Result<Migrate<'p, P, M, OldModel<P>, To>>
    where
        P: Parameters + Clone,
    {
        let mut program = self.program.clone();
        program.load_state(state)?;
        Ok(self.with_from(OldModel { lm, program }))
    }

    fn with_from<F>(self, from: F) -> Migrate<'p, P, M, F, To> {
        Migrate {
            program: self.program,
            metric: self.metric,
            concurrency: self.concurrency,
            progress: self.progress,
            comparer: self.comparer,
            names: self.names,
            from,
            to: self.to,
        }
    }
}

impl<'p, P, M, From> Migrate<'p, P, M, From, ()> {
    /// The new model, and the optimizer that compiles the program for it.
    pub fn to<O>(self, lm: LM, optimizer: O) -> Migrate<'p, P, M, From, NewModel<O>> {
        Migrate {
            program: self.program,
            metric: self.metric,
            concurrency: self.concurrency,
            progress: self.progress,
            comparer: self.comparer,
            names: self.names,
            from: self.from,
            to: NewModel { lm, optimizer },
        }
    }
}

impl<P, M, Q, O> Migrate<'_, P, M, OldModel<Q>, NewModel<O>>
where
    P: Module + Parameters + Clone,
    P::Output: Serialize + JsonSchema,
    Q: Module<Input = P::Input, Output = P::Output> + Parameters,
{
    /// Runs the migration: the three evaluations on `devset`, the compile on `trainset`, and
    /// the two comparisons with the baseline. An evaluation that stops early (a budget, a dead
    /// endpoint) is the error that stopped it: a comparison needs every example.
    pub async fn run<E>(
        self,
        trainset: &[E],
        devset: &[E],
    ) -> Result<Migration<E, P::Output, O::Program>>
    where
        E: Example<Input = P::Input> + Clone + Serialize,
        M: Metric<E, P::Output>,
        O: Optimizer<P, E>,
        O::Program: Module<Input = P::Input, Output = P::Output> + Parameters,
    {
        self.run_with(trainset, None, devset).await
    }

    /// [`run`](Self::run), the optimizer scoring its candidates on `valset` (see
    /// [`Optimizer::compile_with_valset`]).
    pub async fn run_with_valset<E>(
        self,
        trainset: &[E],
        valset: &[E],
        devset: &[E],
    ) -> Result<Migration<E, P::Output, O::Program>>
    where
        E: Example<Input = P::Input> + Clone + Serialize,
        M: Metric<E, P::Output>,
        O: Optimizer<P, E>,
        O::Program: Module<Input = P::Input, Output = P::Output> + Parameters,
    {
        self.run_with(trainset, Some(valset), devset).await
    }

    async fn run_with<E>(
        self,
        trainset: &[E],
        valset: Option<&[E]>,
        devset: &[E],
    ) -> Result<Migration<E, P::Output, O::Program>>
    where
        E: Example<Input = P::Input> + Clone + Serialize,
        M: Metric<E, P::Output>,
        O: Optimizer<P, E>,
        O::Program: Module<Input = P::Input, Output = P::Output> + Parameters,
    {
        let started = Instant::now();
        let (old_name, new_name) = self.model_names()?;
        let (old_lm, new_lm) = (&self.from.lm, &self.to.lm);
        let old_program = &self.from.program;
        let old = self
            .evaluate(old_lm, old_program, devset, &old_name)
            .await?;
        let swap_title = format!("{new_name} (old program)");
        let swap = self
            .evaluate(new_lm, old_program, devset, &swap_title)
            .await?;
        let optimizer = &self.to.optimizer;
        let compile = async {
            match valset {
                Some(valset) => {
                    optimizer
                        .compile_with_valset(self.program, trainset, valset)
                        .await
                }
                None => optimizer.compile(self.program, trainset).await,
            }
        };
        let compiled = with_lm(new_lm.clone(), compile).await?;
        let title = format!("{new_name} (re-compiled)");
        let recompiled = self
            .evaluate(new_lm, &compiled.program, devset, &title)
            .await?;
        let compare = |b: &str| self.comparer.clone().names(old_name.clone(), b.to_string());
        Ok(Migration {
            swap_vs_old: compare(&swap_title).run(&old, &swap)?,
            recompiled_vs_old: compare(&title).run(&old, &recompiled)?,
            old: ModelRun::new(&old_name, old_lm, old_program, old)?,
            swap: ModelRun::new(&new_name, new_lm, old_program, swap)?,
            recompiled: ModelRun::new(&new_name, new_lm, &compiled.program, recompiled)?,
            comparer: self.comparer,
            compiled,
            elapsed: started.elapsed(),
        })
    }

    /// The names of the two models: given, else the LMs'; they must differ (they name folders).
    fn model_names(&self) -> Result<(String, String)> {
        let (old, new) = self.names.clone().unwrap_or_else(|| {
            (
                self.from.lm.model().to_string(),
                self.to.lm.model().to_string(),
            )
        });
        if files::folder_name(&old) == files::folder_name(&new) {
            return Err(Error::config(format!(
                "both models are named `{old}`: name them apart with .names(old, new), as their \
                 results go into a folder each"
            )));
        }
        Ok((old, new))
    }

    /// `program` on `devset` under `lm`, every example evaluated.
    async fn evaluate<R, E>(
        &self,
        lm: &LM,
        program: &R,
        devset: &[E],
        title: &str,
    ) -> Result<EvaluationReport<E, P::Output>>
    where
        R: Module<Input = P::Input, Output = P::Output>,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let evaluate = Evaluate::new(ByRef(&self.metric))
            .concurrency(self.concurrency)
            .progress(self.progress)
            .title(title);
        with_lm(lm.clone(), evaluate.run(program, devset))
            .await?
            .into_complete()
    }
}

impl<E, O> ModelRun<E, O> {
    /// `report` of `program` on the model `name` (`lm`), with the program's state and its
    /// prompts as `lm`'s adapters render them.
    fn new<R: Parameters>(
        name: &str,
        lm: &LM,
        program: &R,
        report: EvaluationReport<E, O>,
    ) -> Result<Self> {
        Ok(ModelRun {
            model: name.to_string(),
            state: program.state()?,
            prompts: with_lm_sync(lm.clone(), || program.prompts())?,
            report,
        })
    }
}

/// A metric, borrowed: each evaluation of the migration scores with the same one.
struct ByRef<'m, M>(&'m M);

impl<E, O, M: Metric<E, O>> Metric<E, O> for ByRef<'_, M> {
    fn score(&self, example: &E, output: &O) -> impl Future<Output = Result<Score>> + Send {
        self.0.score(example, output)
    }
}
