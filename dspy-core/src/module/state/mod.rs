//! A program's learned state (per predictor: instructions, demos with their provenance, and
//! the text it was evaluated with; per module with state of its own: that state), as versioned
//! JSON.
//!
//! The file holds only what optimization changes and what the prompts depend on, plus a
//! fingerprint of each predictor's signature so a file is never loaded into a program it does
//! not fit. It never holds an LM, an API key or an endpoint URL.

mod fingerprint;
mod load;
mod scope;
mod versioned;

pub use fingerprint::{FieldFingerprint, SignatureFingerprint};
pub(crate) use load::module_problems;
pub use load::{LoadReport, TextChange};

use super::demo::DemoState;
use super::dyn_predictor::DynPredictor;
use super::module_state::ModuleState;
use crate::lm::FinetunedModel;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The format version this dspy writes. It reads this one and every older one.
///
/// Format 3 records where each demo came from (its [`Provenance`](super::Provenance)), the
/// text each predictor was evaluated with (its signature's instructions and each field's
/// description and prefix, which win over the code's on load), and the state of modules beyond
/// their predictors (a KNN program's neighbour pool). Format 2 wrote each demo as an object with
/// its `fields`; format 1 wrote each demo as the bare object of its fields, and only complete
/// ones.
pub const STATE_FORMAT_VERSION: u32 = 3;

/// The format written when a predictor runs on fine-tuned weights: format 3 with each such
/// predictor's `weights` (the model, and its weight files by path and SHA-256). A file without
/// weights is still written as format 3, so a dspy that knows no weights reads it; one with
/// weights is refused by such a dspy rather than run on the base model.
pub const WEIGHTS_FORMAT_VERSION: u32 = 4;

/// The oldest format version this dspy reads.
const OLDEST_FORMAT_VERSION: u32 = 1;

/// The newest format version this dspy reads.
const NEWEST_FORMAT_VERSION: u32 = WEIGHTS_FORMAT_VERSION;

/// Everything a program learned, by predictor name: what [`Parameters::save`](super::Parameters::save) writes.
///
/// ```
/// use dspy_core::{Parameters, Predict, ProgramState};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// let tuned = Predict::<QA>::new()
///     .with_instructions("Answer in one word.")
///     .with_demos([QA { question: "Capital of France?".into(), answer: "Paris".into() }]);
/// let state: ProgramState = tuned.state().unwrap();
/// let json = state.to_json().unwrap();
/// assert!(json.contains("\"format_version\": 3"));
///
/// let mut fresh = Predict::<QA>::new();
/// fresh.load_state(ProgramState::from_json(&json).unwrap()).unwrap();
/// assert_eq!(fresh.demos[0].example().unwrap().answer, "Paris");
/// assert_eq!(fresh.instructions.as_deref(), Some("Answer in one word."));
/// ```
///
/// The JSON looks like this (`schema` is a hash of the field type's JSON schema, see
/// [`FieldFingerprint`]; `example` is the training example's id, see
/// [`example_id`](super::example_id)):
///
/// ```json
/// {
///   "format_version": 3,
///   "dspy_version": "0.1.0",
///   "predictors": {
///     "answer.predict": {
///       "signature": {
///         "name": "QA",
///         "instructions": "Answer briefly.",
///         "inputs": [{ "name": "question", "type": "str", "schema": "9f0c8a1b2c3d4e5f",
///                      "desc": "a question", "prefix": "Question:" }],
///         "outputs": [{ "name": "reasoning", "type": "str", "schema": "9f0c8a1b2c3d4e5f",
///                       "desc": "${reasoning}", "prefix": "Reasoning: Let's think step by step in order to" },
///                     { "name": "answer", "type": "str", "schema": "9f0c8a1b2c3d4e5f",
///                       "desc": "", "prefix": "Answer:" }]
///       },
///       "instructions": "Answer in one word.",
///       "demos": [
///         { "fields": { "question": "..", "reasoning": "..", "answer": ".." },
///           "provenance": { "example": "3f2a9c0d11b2e4f5", "source": "bootstrapped", "round": 0,
///                           "chosen_by": { "optimizer": "BootstrapFewShotWithRandomSearch",
///                                          "trial": 4, "score": 0.82 } } },
///         { "fields": { "question": "..", "answer": ".." },
///           "provenance": { "example": "0b9d6e2a4c1f3e57", "source": "labeled" } }
///       ]
///     }
///   }
/// }
/// ```
///
/// The second demo above is partial: it lacks `reasoning`. The signature's `instructions` and
/// each field's `desc` and `prefix` are the text the predictor's prompts showed; the top-level
/// `instructions` are the predictor's own (an optimizer's), when it has them. A program with a
/// module that holds state of its own (a [`ModuleState`]) also has `modules`, by module name.
///
/// A file of an older format loads (it is read into this layout, and saving it again writes
/// this format); what it did not record (provenance, text) is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "versioned::AnyFormat")]
pub struct ProgramState {
    /// The layout of this JSON; [`STATE_FORMAT_VERSION`] when written by this dspy.
    pub format_version: u32,
    /// The dspy version that wrote it (informational: loading does not check it).
    pub dspy_version: String,
    /// Every predictor, by its dotted name (sorted, so files diff well).
    pub predictors: BTreeMap<String, PredictorState>,
    /// The state of every module that holds some beyond its predictors', by the module's name
    /// (`self` at the root, else its dotted name).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, SavedModule>,
}

/// What one predictor learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorState {
    /// The shape of its signature, checked on load, and the text its prompts showed.
    pub signature: SignatureFingerprint,
    /// Its own instructions, when they replace the signature's; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Its demos, complete or partial, in the order prompts get them.
    #[serde(default)]
    pub demos: Vec<DemoState>,
    /// The fine-tuned weights it runs on, when it was fine-tuned (format 4); the load checks
    /// that their files are there and unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<FinetunedModel>,
}

/// The saved state of one module that holds state beyond its predictors' (see
/// [`ModuleState`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModule {
    /// The kind of module ([`ModuleState::kind`]).
    pub kind: String,
    /// Its state ([`ModuleState::save_state`]).
    pub state: Value,
}

impl ProgramState {
    /// The state of `predictors` and `modules`, each by its name in the program
    /// ([`ProgramState::capture`] lists them).
    pub(crate) fn of_program(
        all: Vec<(String, &dyn DynPredictor)>,
        modules: Vec<(String, &dyn ModuleState)>,
    ) -> Result<Self> {
        let mut predictors = BTreeMap::new();
        for (name, predictor) in all {
            let state = PredictorState {
                // The text as the prompts show it: the code's, or what a load restored.
                signature: SignatureFingerprint::of(predictor.effective_signature()),
                instructions: predictor
                    .has_own_instructions()
                    .then(|| predictor.effective_instructions().to_string()),
                demos: predictor.demo_states()?,
                weights: predictor.weights().cloned(),
            };
            if predictors.insert(name.clone(), state).is_some() {
                return Err(collision("predictors", &name));
            }
        }
        let mut saved = BTreeMap::new();
        for (name, module) in modules {
            let state = SavedModule {
                kind: module.kind().to_string(),
                state: module.save_state()?,
            };
            if saved.insert(name.clone(), state).is_some() {
                return Err(collision("modules", &name));
            }
        }
        Ok(ProgramState {
            format_version: format_for(&predictors),
            dspy_version: env!("CARGO_PKG_VERSION").to_string(),
            predictors,
            modules: saved,
        })
    }

    /// This state as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        Ok(json)
    }

    /// State from JSON written by [`to_json`](ProgramState::to_json). A file written by a
    /// newer dspy with another format version is an [`Error::State`] that says so; malformed
    /// JSON is an [`Error::Serde`].
    pub fn from_json(json: &str) -> Result<Self> {
        // The version first: a newer format may not parse as this one.
        #[derive(Deserialize)]
        struct Header {
            format_version: Option<u32>,
            dspy_version: Option<String>,
        }
        let header: Header = serde_json::from_str(json)?;
        let Some(version) = header.format_version else {
            return Err(Error::State(
                "this is not a saved program state: it has no `format_version`; save one with \
                 `program.save(path)`"
                    .to_string(),
            ));
        };
        check_version(version, header.dspy_version.as_deref().unwrap_or("unknown"))?;
        Ok(serde_json::from_str(json)?)
    }

    /// Writes this state to `path` atomically: to a temporary file beside it, then renamed over
    /// it, so a crash never leaves a half-written file. IO errors are [`Error::Data`] naming the
    /// file.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = self.to_json()?;
        crate::util::write_atomic(path, json.as_bytes()).map_err(|e| {
            let message = format!(
                "could not write the program state: {e}; check that the directory exists and \
                 is writable"
            );
            Error::data_caused_by(path, None, message, e)
        })
    }

    /// Reads state written by [`write`](ProgramState::write). A missing or unreadable file, or
    /// one that is not valid state JSON, is an [`Error::Data`] naming the file (and the line).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = fs::read_to_string(path).map_err(|e| {
            let message = format!("could not read the program state: {e}; check the path");
            Error::data_caused_by(path, None, message, e)
        })?;
        ProgramState::from_json(&json).map_err(|e| match e {
            Error::Serde(e) => {
                let message = format!(
                    "not a valid program state file: {e}; it should be JSON written by \
                     `program.save(path)`"
                );
                Error::data_caused_by(path, Some(e.line()).filter(|&l| l > 0), message, e)
            }
            other => other,
        })
    }
}

/// The format `predictors` are written in: 4 with weights, else 3.
pub(super) fn format_for(predictors: &BTreeMap<String, PredictorState>) -> u32 {
    if predictors.values().any(|p| p.weights.is_some()) {
        WEIGHTS_FORMAT_VERSION
    } else {
        STATE_FORMAT_VERSION
    }
}

/// Refuses a format this dspy cannot read.
fn check_version(version: u32, written_by: &str) -> Result<()> {
    if (OLDEST_FORMAT_VERSION..=NEWEST_FORMAT_VERSION).contains(&version) {
        return Ok(());
    }
    let advice = if version > NEWEST_FORMAT_VERSION {
        "upgrade dspy to load it"
    } else {
        "load and save it again with the dspy that wrote it, or compile the program again"
    };
    Err(Error::State(format!(
        "the state file has format version {version} (written by dspy {written_by}), but this \
         dspy ({}) reads format versions {OLDEST_FORMAT_VERSION} to {NEWEST_FORMAT_VERSION}; \
         {advice}",
        env!("CARGO_PKG_VERSION")
    )))
}

/// Two predictors (or modules) under one name.
fn collision(what: &str, name: &str) -> Error {
    Error::config(format!(
        "two {what} of the program are named `{name}`, so their state would collide; each \
         needs its own name (check the program's `Parameters` impl)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_1_files_load_into_the_current_layout() {
        // Written by the dspy before partial demos: each demo the bare object of its fields.
        let v1 = json!({
            "format_version": 1,
            "dspy_version": "0.1.0",
            "predictors": {"self": {
                "signature": {"name": "QA", "inputs": [], "outputs": []},
                "instructions": "Be brief.",
                "demos": [{"question": "2+2?", "answer": "4"}]
            }}
        });
        let state = ProgramState::from_json(&v1.to_string()).unwrap();
        assert_eq!(state.format_version, STATE_FORMAT_VERSION);
        let predictor = &state.predictors["self"];
        assert_eq!(predictor.instructions.as_deref(), Some("Be brief."));
        assert_eq!(
            Value::Object(predictor.demos[0].fields.clone()),
            json!({"question": "2+2?", "answer": "4"})
        );
        // Saved again, it is the current format: each demo's fields under `fields`.
        let again: Value = serde_json::from_str(&state.to_json().unwrap()).unwrap();
        assert_eq!(again["format_version"], STATE_FORMAT_VERSION);
        assert_eq!(
            again["predictors"]["self"]["demos"][0],
            json!({"fields": {"question": "2+2?", "answer": "4"}})
        );
        // A format 1 demo that is not an object is named.
        let mut bad = v1.clone();
        bad["predictors"]["self"]["demos"] = json!(["2+2?"]);
        let err = ProgramState::from_json(&bad.to_string()).unwrap_err();
        assert!(
            err.to_string().contains("predictor `self`: demo 0"),
            "{err}"
        );
    }

    #[test]
    fn versions_other_than_ours_are_refused_with_advice() {
        let newer = json!({"format_version": 5, "dspy_version": "9.0.0", "future": true});
        let err = ProgramState::from_json(&newer.to_string()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::State(_)), "{message}");
        assert!(message.contains("format version 5"), "{message}");
        assert!(message.contains("dspy 9.0.0"), "{message}");
        assert!(message.contains("upgrade dspy"), "{message}");

        let err = ProgramState::from_json(r#"{"predictors": {}}"#).unwrap_err();
        assert!(err.to_string().contains("no `format_version`"), "{err}");
        assert!(matches!(
            ProgramState::from_json("{not json"),
            Err(Error::Serde(_))
        ));
    }
}
