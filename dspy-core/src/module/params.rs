//! The parameter interface: every predictor inside a program, by a stable dotted name, as
//! optimizers and save/load see it.

use super::state::{ProgramState, misfit_field};
use super::{Predict, PredictConfig};
use crate::adapter::{FieldValues, Formatted};
use crate::lm::LM;
use crate::signature::{Signature, SignatureInfo};
use crate::{Error, Result};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies one predictor value; traces record it, [`Parameters`] maps it to a name.
///
/// Every [`Predict`] gets a fresh id when it is created or cloned, so the predictors of a program
/// and of its clone (a teacher and its student) are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PredictorId(u64);

impl PredictorId {
    /// A new id, never handed out before in this process.
    pub fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PredictorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for PredictorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A predictor seen without its signature type: what optimizers read and change.
///
/// Demos cross this boundary as JSON objects (one complete example each) and are checked against
/// the signature when set, so a bad demo is an error, never a broken prompt.
///
/// ```
/// use dspy_core::{DynPredictor, Predict};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// let mut predict = Predict::<QA>::new();
/// let demo = serde_json::json!({"question": "2+2?", "answer": "4"});
/// let dynamic: &mut dyn DynPredictor = &mut predict;
/// dynamic.set_demos_json(vec![demo.as_object().unwrap().clone()]).unwrap();
/// dynamic.set_instructions(Some("Answer with a number.".into()));
/// assert_eq!(predict.demos[0].answer, "4");
/// assert_eq!(predict.effective_instructions(), "Answer with a number.");
/// ```
pub trait DynPredictor: Send + Sync {
    /// This predictor's id, as traces record it.
    fn id(&self) -> PredictorId;
    /// Its signature's description.
    fn signature(&self) -> &'static SignatureInfo;
    /// The instructions in effect (its own, else the signature's).
    fn effective_instructions(&self) -> &str;
    /// Replaces its instructions; `None` goes back to the signature's.
    fn set_instructions(&mut self, instructions: Option<String>);
    /// Whether its instructions were replaced.
    fn has_own_instructions(&self) -> bool;
    /// Takes `id` as its own. For a wrapper that runs a per-call copy of a program (with other
    /// demos, say): giving the copy's predictors the original ids makes traces of the copy's
    /// calls name the original predictors, which is what optimizers look them up by.
    fn set_id(&mut self, id: PredictorId);
    /// Its demos, each as one JSON object of inputs and outputs.
    fn demos_json(&self) -> Result<Vec<FieldValues>>;
    /// Replaces its demos; each must deserialize into the signature, else [`Error::State`] names
    /// the demo and field, and nothing is changed.
    fn set_demos_json(&mut self, demos: Vec<FieldValues>) -> Result<()>;
    /// Checks demos as [`set_demos_json`](DynPredictor::set_demos_json) would, without setting
    /// them.
    fn check_demos_json(&self, demos: &[FieldValues]) -> Result<()>;
    /// How many demos it has.
    fn demo_count(&self) -> usize;
    /// Its sampling settings.
    fn config(&self) -> &PredictConfig;
    /// Its sampling settings, to change.
    fn config_mut(&mut self) -> &mut PredictConfig;
    /// Gives it its own LM (`None`: use the configured one).
    fn set_lm(&mut self, lm: Option<LM>);
    /// The prompt it would send for `input` (a JSON object of the input fields).
    fn render_json(&self, input: &FieldValues) -> Result<Formatted>;
}

impl<S: Signature> DynPredictor for Predict<S> {
    fn id(&self) -> PredictorId {
        self.id
    }

    fn signature(&self) -> &'static SignatureInfo {
        S::info()
    }

    fn effective_instructions(&self) -> &str {
        Predict::effective_instructions(self)
    }

    fn set_instructions(&mut self, instructions: Option<String>) {
        self.instructions = instructions;
    }

    fn has_own_instructions(&self) -> bool {
        self.instructions.is_some()
    }

    fn set_id(&mut self, id: PredictorId) {
        self.id = id;
    }

    fn demos_json(&self) -> Result<Vec<FieldValues>> {
        self.demos.iter().map(super::predict::to_fields).collect()
    }

    fn set_demos_json(&mut self, demos: Vec<FieldValues>) -> Result<()> {
        self.demos = typed_demos::<S>(&demos)?;
        Ok(())
    }

    fn check_demos_json(&self, demos: &[FieldValues]) -> Result<()> {
        typed_demos::<S>(demos).map(drop)
    }

    fn demo_count(&self) -> usize {
        self.demos.len()
    }

    fn config(&self) -> &PredictConfig {
        &self.config
    }

    fn config_mut(&mut self) -> &mut PredictConfig {
        &mut self.config
    }

    fn set_lm(&mut self, lm: Option<LM>) {
        self.lm = lm;
    }

    fn render_json(&self, input: &FieldValues) -> Result<Formatted> {
        let typed: S::Input = serde_json::from_value(serde_json::Value::Object(input.clone()))
            .map_err(|e| {
                Error::config(format!(
                    "input does not fit signature `{}`: {e}",
                    S::info().name
                ))
            })?;
        self.render(&typed)
    }
}

/// Demos as values of `S`; the first that does not fit is an [`Error::State`] naming it and, when
/// it can be told, the field.
fn typed_demos<S: Signature>(demos: &[FieldValues]) -> Result<Vec<S>> {
    demos
        .iter()
        .enumerate()
        .map(|(i, demo)| {
            serde_json::from_value::<S>(serde_json::Value::Object(demo.clone())).map_err(|e| {
                let field = misfit_field(S::info(), demo)
                    .map(|f| format!("{f}; "))
                    .unwrap_or_default();
                Error::State(format!(
                    "demo {i} does not fit signature `{}`: {field}{e}",
                    S::info().name
                ))
            })
        })
        .collect()
}

/// Lists every predictor inside a program by a stable dotted name (`retrieve.predict`,
/// `answer.predict`), immutably and mutably, in the same order both ways.
///
/// `#[derive(Module)]` implements it for a struct of modules; every module of this crate
/// implements it. A bare [`Predict`] at the root is named `self`, as in DSPy.
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
    /// differs, the [`Error::State`] names each predictor and field, and nothing is changed.
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
    /// be read or parsed is an [`Error::Data`] naming it; state that does not fit the program
    /// is an [`Error::State`] naming each predictor and field that differ, and leaves the
    /// program unchanged.
    fn load(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        self.load_state(ProgramState::read(path)?)
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

impl<S: Signature> Parameters for Predict<S> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        visit(leaf_name(prefix), self);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        visit(leaf_name(prefix), self);
    }
}

fn leaf_name(prefix: &str) -> String {
    if prefix.is_empty() {
        "self".to_string()
    } else {
        prefix.to_string()
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
