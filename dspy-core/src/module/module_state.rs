//! [`ModuleState`]: what a module's prompts depend on beyond its predictors' instructions and
//! demos, saved with the program.

use crate::Result;
use serde_json::Value;

/// State a module holds beyond its predictors': what its prompts depend on besides their
/// instructions and demos, such as the neighbour pool a KNN program draws each call's demos
/// from. A program that has such a module saves its state with the predictors'
/// ([`ProgramState::modules`](super::ProgramState::modules), under the module's name), so the
/// saved file gives back the program that was evaluated.
///
/// Modules list theirs through
/// [`Parameters::visit_module_states`](super::Parameters::visit_module_states); most modules
/// have none. Loading checks it rather than setting it: a module whose state needs more than
/// the file to rebuild (an embedder, an async index build) is made from the file by a loader
/// of its own, and [`check_state`](Self::check_state) refuses a file whose state is not the one
/// the module holds, with an error that says how to load it.
///
/// ```
/// use dspy_core::module::ModuleState;
/// use dspy_core::{Error, Result};
/// use serde_json::{Value, json};
///
/// /// A module that always shows the same glossary.
/// struct Glossary(Vec<String>);
///
/// impl ModuleState for Glossary {
///     fn kind(&self) -> &str { "Glossary" }
///     fn save_state(&self) -> Result<Value> { Ok(json!(self.0)) }
///     fn check_state(&self, saved: &Value) -> Result<()> {
///         if *saved == json!(self.0) { Ok(()) } else {
///             Err(Error::State("the saved glossary differs from this one: build the module from the file".into()))
///         }
///     }
/// }
///
/// let glossary = Glossary(vec!["BM25: a ranking by shared words".into()]);
/// let saved = glossary.save_state().unwrap();
/// assert!(glossary.check_state(&saved).is_ok());
/// assert!(glossary.check_state(&json!([])).is_err());
/// ```
pub trait ModuleState: Send + Sync {
    /// What kind of module it is (`KnnProgram`): saved with the state, named in errors, and a
    /// saved state loads only into a module of the same kind.
    fn kind(&self) -> &str;

    /// The state as saved: any JSON. It must not hold a secret (an API key, a URL with
    /// credentials).
    fn save_state(&self) -> Result<Value>;

    /// Checks, when a program is loaded, that `saved` (what [`save_state`](Self::save_state)
    /// wrote, maybe in another process) is the state this module holds. An
    /// [`Error::State`](crate::Error::State) saying what differs and how to load the file
    /// otherwise; the load then changes nothing.
    fn check_state(&self, saved: &Value) -> Result<()>;
}
