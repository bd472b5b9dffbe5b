//! [`ProgramState::scoped`]: the part of a program's state that belongs to one of its modules.

use super::ProgramState;
use crate::{Error, Result};
use std::collections::BTreeMap;

impl ProgramState {
    /// The state of the module named `name` inside the saved program (`0` for the first stage
    /// of `a.then(b)`, `classify` for a field of a derived module), as if that module had been
    /// saved on its own: its predictors and module states with `name` taken off their names
    /// (the module itself becomes `self`).
    ///
    /// It is how a module saved inside a bigger program is loaded by a loader of its own, such
    /// as a KNN stage of a pipeline. A name that owns nothing in the state is an
    /// [`Error::State`] listing the names there are.
    ///
    /// ```
    /// use dspy_core::{ModuleExt, Parameters, Predict};
    /// # use dspy_macros::Signature;
    /// /// Answer the question.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// /// Say whether the answer is polite.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Polite { #[input] answer: String, #[output] polite: bool }
    ///
    /// let pipeline = Predict::<QA>::new().then(Predict::<Polite>::new());
    /// let state = pipeline.state().unwrap();
    /// let second = state.scoped("1").unwrap();
    /// assert_eq!(second.predictors.keys().collect::<Vec<_>>(), ["self"]);
    /// assert!(state.scoped("2").is_err());
    /// ```
    pub fn scoped(&self, name: &str) -> Result<ProgramState> {
        let scoped = ProgramState {
            format_version: self.format_version,
            dspy_version: self.dspy_version.clone(),
            predictors: within(&self.predictors, name),
            modules: within(&self.modules, name),
        };
        if scoped.predictors.is_empty() && scoped.modules.is_empty() {
            let known: Vec<String> = self.predictors.keys().map(|n| format!("`{n}`")).collect();
            return Err(Error::State(format!(
                "the saved state has nothing under `{name}` (its predictors: {}); name a module \
                 of the program it was saved from",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        Ok(scoped)
    }
}

/// The entries named `name` (renamed `self`) or `name.rest` (renamed `rest`).
fn within<T: Clone>(all: &BTreeMap<String, T>, name: &str) -> BTreeMap<String, T> {
    all.iter()
        .filter_map(|(key, value)| {
            let inner = if key == name {
                "self".to_string()
            } else {
                key.strip_prefix(name)?.strip_prefix('.')?.to_string()
            };
            Some((inner, value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::within;
    use std::collections::BTreeMap;

    #[test]
    fn a_scope_takes_its_own_names_and_no_others() {
        let all: BTreeMap<String, u8> = [("0", 1), ("0.a", 2), ("01", 3), ("1.0", 4)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let scoped = within(&all, "0");
        let keys: Vec<_> = scoped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(keys, [("a", 2), ("self", 1)]);
    }
}
