//! The parameter interface: every predictor inside a program, by a stable dotted name, as
//! optimizers and save/load see it.

use super::dyn_predictor::DynPredictor;
use super::id::PredictorId;
use super::state::ProgramState;
use crate::Result;
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
    /// its signature. See [`ProgramState`].
    fn state(&self) -> Result<ProgramState> {
        ProgramState::capture(self)
    }

    /// Puts `state` into this program's predictors, checking first that it fits: the same
    /// predictors, with the same fields of the same types, and demos that fit them. If anything
    /// differs, the [`Error::State`](crate::Error::State) names each predictor and field, and nothing is changed.
    fn load_state(&mut self, state: ProgramState) -> Result<()> {
        state.apply(self)
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
        let path = path.as_ref();
        ProgramState::read(path)
            .and_then(|state| self.load_state(state))
            .map_err(|error| match error {
                // Which file did not fit matters when a program loads several.
                crate::Error::State(message) => {
                    crate::Error::State(format!("`{}`: {message}", path.display()))
                }
                other => other,
            })
    }
}

// Here rather than in state.rs: they list the program's predictors through `Parameters`, which
// itself offers `state` and `load_state` through them.
impl ProgramState {
    /// The state of every predictor in `program`.
    pub fn capture<P: Parameters + ?Sized>(program: &P) -> Result<Self> {
        ProgramState::of_predictors(program.predictors())
    }

    /// Puts this state into `program`, after checking that it fits: the same predictors, each
    /// with the same fields of the same types, and demos that fit them. When anything does not
    /// fit, the error lists every difference and `program` is left unchanged.
    pub fn apply<P: Parameters + ?Sized>(self, program: &mut P) -> Result<()> {
        self.put_into(program.predictors_mut())
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
}
