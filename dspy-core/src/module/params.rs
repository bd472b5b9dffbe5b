//! The parameter interface: every predictor inside a program, by a stable dotted name, as
//! optimizers and save/load see it.

use super::dyn_predictor::DynPredictor;
use super::id::PredictorId;
use super::module_state::ModuleState;
use super::state::{LoadReport, ProgramState, module_problems};
use crate::Result;
use crate::lm::{Finetuner, LM};
use std::path::Path;

/// Lists every predictor inside a program by a stable dotted name (`retrieve.predict`,
/// `answer.predict`), immutably and mutably, in the same order both ways.
///
/// `#[derive(Module)]` implements it for a struct of modules; every module of this crate
/// implements it. A bare [`Predict`](super::Predict) at the root is named `self`, as in DSPy.
///
/// ```
/// use dspy_core::{ChainOfThought, Parameters, Predict};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// assert_eq!(Predict::<QA>::new().predictor_names(), ["self"]);
/// assert_eq!(ChainOfThought::<QA>::new().predictor_names(), ["predict"]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module: it has no predictors to list",
    label = "not a module",
    note = "in a `#[derive(Module)]` struct, mark fields that are not modules `#[dspy(skip)]`"
)]
pub trait Parameters {
    /// Calls `visit` with the dotted name and the predictor of every predictor inside, names
    /// starting with `prefix` (empty at the root).
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    );

    /// Like [`visit_predictors`](Parameters::visit_predictors), mutably, in the same order.
    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    );

    /// Calls `visit` with the name ([`own_name`] of its prefix) and the [`ModuleState`] of
    /// every module inside that holds state beyond its predictors' (a KNN program's neighbour
    /// pool), so saving the program saves it too and loading checks it.
    ///
    /// None by default: most modules' state is their predictors'. A module that wraps others
    /// forwards the call to them (as `#[derive(Module)]` does for every field), and a module
    /// with state of its own also visits itself.
    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        let _ = (prefix, visit);
    }

    /// Every module with state of its own, with its name.
    fn module_states(&self) -> Vec<(String, &dyn ModuleState)> {
        let mut all = Vec::new();
        self.visit_module_states("", &mut |name, m| all.push((name, m)));
        all
    }

    /// Every predictor with its name, in a stable order.
    fn predictors(&self) -> Vec<(String, &dyn DynPredictor)> {
        let mut all = Vec::new();
        self.visit_predictors("", &mut |name, p| all.push((name, p)));
        all
    }

    /// Every predictor with its name, mutably.
    fn predictors_mut(&mut self) -> Vec<(String, &mut dyn DynPredictor)> {
        let mut all = Vec::new();
        self.visit_predictors_mut("", &mut |name, p| all.push((name, p)));
        all
    }

    /// The names of every predictor, in order.
    fn predictor_names(&self) -> Vec<String> {
        self.predictors()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The predictor called `name`, if there is one.
    fn predictor(&self, name: &str) -> Option<&dyn DynPredictor> {
        self.predictors()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }

    /// The predictor called `name`, mutably, if there is one.
    fn predictor_mut(&mut self, name: &str) -> Option<&mut dyn DynPredictor> {
        self.predictors_mut()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }

    /// The name of the predictor with id `id`, if it is inside this program.
    fn predictor_name(&self, id: PredictorId) -> Option<String> {
        self.predictors()
            .into_iter()
            .find(|(_, p)| p.id() == id)
            .map(|(name, _)| name)
    }

    /// What every predictor learned (instructions and demos), by name, with a fingerprint of
    /// its signature and the text its prompts show, and the state of every module with state
    /// of its own. See [`ProgramState`].
    fn state(&self) -> Result<ProgramState> {
        ProgramState::capture(self)
    }

    /// Puts `state` into this program's predictors, checking first that it fits: the same
    /// predictors, with the same fields of the same types, and demos that fit them. If anything
    /// differs, the [`Error::State`](crate::Error::State) names each predictor and field, and nothing is changed.
    ///
    /// The saved text wins over the code's: see [`ProgramState::apply`], which also says which
    /// predictors' text differed.
    fn load_state(&mut self, state: ProgramState) -> Result<()> {
        state.apply(self).map(drop)
    }

    /// Saves what the program learned to `path` as versioned JSON, atomically (a temporary file
    /// renamed into place). Only instructions, demos and signature fingerprints are written:
    /// never an LM, an API key or an endpoint URL.
    ///
    /// ```
    /// use dspy_core::{Parameters, Predict};
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// let path = std::env::temp_dir().join(format!("qa-doc-{}.json", std::process::id()));
    /// Predict::<QA>::new().with_instructions("Be terse.").save(&path)?;
    ///
    /// let mut loaded = Predict::<QA>::new();
    /// loaded.load(&path)?;
    /// assert_eq!(loaded.instructions.as_deref(), Some("Be terse."));
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    fn save(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        self.state()?.write(path)
    }

    /// Loads state saved by [`save`](Parameters::save) into this program. A file that cannot
    /// be read or parsed is an [`Error::Data`](crate::Error::Data) naming it; state that does not fit the program
    /// is an [`Error::State`](crate::Error::State) naming each predictor and field that differ, and leaves the
    /// program unchanged.
    fn load(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        self.load_with_report(path).map(drop)
    }

    /// [`load`](Parameters::load), returning what the load found: the predictors whose saved
    /// text (instructions, field descriptions and prefixes) differed from the code's, which the
    /// loaded program uses rather than the code's (each is also logged as a `tracing` warning).
    ///
    /// ```
    /// use dspy_core::{Parameters, Predict};
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// let path = std::env::temp_dir().join(format!("qa-report-doc-{}.json", std::process::id()));
    /// Predict::<QA>::new().save(&path)?;
    /// let report = Predict::<QA>::new().load_with_report(&path)?;
    /// assert!(report.is_clean()); // the same code: the same text
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    fn load_with_report(&mut self, path: impl AsRef<Path>) -> Result<LoadReport>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        ProgramState::read(path)
            .and_then(|state| state.apply(self))
            .map_err(|error| match error {
                // Which file did not fit matters when a program loads several.
                crate::Error::State(message) => {
                    crate::Error::State(format!("`{}`: {message}", path.display()))
                }
                other => other,
            })
    }

    /// Serves every predictor that runs on fine-tuned weights (a program compiled by
    /// BootstrapFinetune, then saved and loaded) with an LM on them from `finetuner`, the
    /// backend that trained them; predictors that share weights share one LM. Returns how many
    /// predictors got one.
    ///
    /// Until this is called, such a predictor refuses to run (it would otherwise call the
    /// base model in place of its weights). Weights trained by another backend are an
    /// [`Error::Config`](crate::Error::Config); missing or changed weight files were already
    /// refused by the load.
    ///
    /// ```
    /// use dspy_core::lm::{DummyFinetuner, FinetunedModel, LM};
    /// use dspy_core::{DummyLm, DynPredictor, Parameters, Predict};
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// let finetuner = DummyFinetuner::new(LM::new(DummyLm::new([serde_json::json!({"answer": "4"})])));
    /// let mut program = Predict::<QA>::new();
    /// program.set_weights(Some(FinetunedModel::new("k", "dummy", "base", "base-ft-1")));
    /// assert!(program.lm().is_err()); // not the base model in their place
    /// assert_eq!(program.load_weights(&finetuner)?, 1);
    /// assert!(program.lm().is_ok());
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    fn load_weights(&mut self, finetuner: &dyn Finetuner) -> Result<usize> {
        let mut served: Vec<(String, LM)> = Vec::new();
        let mut count = 0;
        for (name, predictor) in self.predictors_mut() {
            let Some(weights) = predictor.weights().cloned() else {
                continue;
            };
            if weights.backend != finetuner.backend() {
                return Err(crate::Error::config(format!(
                    "predictor `{name}` runs on weights trained by the `{}` backend, not by \
                     `{}`: load them with the backend that trained them",
                    weights.backend,
                    finetuner.backend()
                )));
            }
            let lm = match served.iter().find(|(key, _)| *key == weights.key) {
                Some((_, lm)) => lm.clone(),
                None => {
                    let lm = finetuner.load(&weights)?;
                    served.push((weights.key.clone(), lm.clone()));
                    lm
                }
            };
            predictor.set_lm(Some(lm));
            count += 1;
        }
        Ok(count)
    }
}

// Here rather than in state.rs: they list the program's predictors through `Parameters`, which
// itself offers `state` and `load_state` through them.
impl ProgramState {
    /// The state of every predictor in `program`, and of every module in it with state of its
    /// own.
    pub fn capture<P: Parameters + ?Sized>(program: &P) -> Result<Self> {
        ProgramState::of_program(program.predictors(), program.module_states())
    }

    /// Puts this state into `program`, after checking that it fits: the same predictors, each
    /// with the same fields of the same types, demos that fit them, and the same state of every
    /// module with state of its own. When anything does not fit, the error lists every
    /// difference and `program` is left unchanged.
    ///
    /// The saved text wins: a predictor whose saved instructions or field descriptions differ
    /// from its signature's in the code keeps the saved ones, so it shows the prompts it was
    /// evaluated with. The [`LoadReport`] names those predictors and what differs.
    pub fn apply<P: Parameters + ?Sized>(self, program: &mut P) -> Result<LoadReport> {
        let problems = module_problems(&self.modules, &program.module_states());
        let report = self.put_into(program.predictors_mut(), problems)?;
        for change in &report.changed_text {
            tracing::warn!("{change}");
        }
        Ok(report)
    }

    /// The state of every predictor in `program`, without the state of its modules: what an
    /// optimizer snapshots while it searches (module state, such as a KNN program's pool, does
    /// not change during a search, and can be large). Put it back with
    /// [`apply_to_predictors`](Self::apply_to_predictors).
    pub fn of_predictors<P: Parameters + ?Sized>(program: &P) -> Result<Self> {
        ProgramState::of_program(program.predictors(), Vec::new())
    }

    /// [`apply`](Self::apply) to `program`'s predictors only: module states, saved or not, are
    /// left out of the check and of the load, and nothing is logged.
    pub fn apply_to_predictors<P: Parameters + ?Sized>(
        self,
        program: &mut P,
    ) -> Result<LoadReport> {
        let saved = ProgramState {
            modules: Default::default(),
            ..self
        };
        saved.put_into(program.predictors_mut(), Vec::new())
    }
}

/// The name a module (or predictor) at `prefix` saves its own state under: `prefix`, or `self`
/// at the root (as DSPy names a bare predictor).
///
/// ```
/// assert_eq!(dspy_core::module::own_name(""), "self");
/// assert_eq!(dspy_core::module::own_name("classify"), "classify");
/// ```
pub fn own_name(prefix: &str) -> String {
    if prefix.is_empty() {
        "self".to_string()
    } else {
        prefix.to_string()
    }
}

/// The dotted name of child `name` under `prefix`.
///
/// ```
/// assert_eq!(dspy_core::module::child_name("", "answer"), "answer");
/// assert_eq!(dspy_core::module::child_name("answer", "predict"), "answer.predict");
/// ```
pub fn child_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl<P: Parameters + ?Sized> Parameters for Box<P> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        (**self).visit_predictors(prefix, visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        (**self).visit_predictors_mut(prefix, visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        (**self).visit_module_states(prefix, visit);
    }
}

/// An absent module has no predictors; a present one is named as if it were not optional.
impl<P: Parameters> Parameters for Option<P> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        if let Some(p) = self {
            p.visit_predictors(prefix, visit);
        }
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        if let Some(p) = self {
            p.visit_predictors_mut(prefix, visit);
        }
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        if let Some(p) = self {
            p.visit_module_states(prefix, visit);
        }
    }
}

/// Element `i` is named `prefix.i`.
impl<P: Parameters> Parameters for Vec<P> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        for (i, p) in self.iter().enumerate() {
            p.visit_predictors(&child_name(prefix, &i.to_string()), visit);
        }
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        for (i, p) in self.iter_mut().enumerate() {
            p.visit_predictors_mut(&child_name(prefix, &i.to_string()), visit);
        }
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        for (i, p) in self.iter().enumerate() {
            p.visit_module_states(&child_name(prefix, &i.to_string()), visit);
        }
    }
}
