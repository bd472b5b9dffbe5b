//! Every format this dspy reads, as it is on disk, and its conversion to the current one.
//!
//! - Format 1 wrote each demo as the bare object of its fields (only complete demos).
//! - Format 2 wrote each demo as `{"fields": {..}}`.
//! - Format 3 adds each demo's `provenance`, the signature's text (`instructions`, and each
//!   field's `desc` and `prefix`) and the state of modules beyond their predictors (`modules`).
//!
//! Older formats read into the current layout with what they did not record left out (no
//! provenance, no saved text: the code's text is used), and saving writes the current format.

use super::{DemoState, PredictorState, ProgramState, SavedModule};
use super::{SignatureFingerprint, check_version, format_for};
use crate::Error;
use crate::lm::FinetunedModel;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A state file of any format: demos are left as JSON until the version says what they are.
#[derive(Deserialize)]
pub(super) struct AnyFormat {
    format_version: u32,
    dspy_version: String,
    predictors: BTreeMap<String, AnyPredictor>,
    #[serde(default)]
    modules: BTreeMap<String, SavedModule>,
}

#[derive(Deserialize)]
struct AnyPredictor {
    signature: SignatureFingerprint,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    demos: Vec<Value>,
    #[serde(default)]
    weights: Option<FinetunedModel>,
}

impl TryFrom<AnyFormat> for ProgramState {
    type Error = String;

    fn try_from(file: AnyFormat) -> Result<Self, String> {
        let version = file.format_version;
        check_version(version, &file.dspy_version).map_err(message)?;
        let mut predictors = BTreeMap::new();
        for (name, predictor) in file.predictors {
            let demos = predictor
                .demos
                .into_iter()
                .enumerate()
                .map(|(i, demo)| {
                    read_demo(version, demo).map_err(|e| {
                        format!(
                            "predictor `{name}`: demo {i} is not a demo of format {version}: {e}"
                        )
                    })
                })
                .collect::<Result<_, String>>()?;
            let state = PredictorState {
                signature: predictor.signature,
                instructions: predictor.instructions,
                demos,
                weights: predictor.weights,
            };
            predictors.insert(name, state);
        }
        Ok(ProgramState {
            format_version: format_for(&predictors),
            dspy_version: file.dspy_version,
            predictors,
            modules: file.modules,
        })
    }
}

/// Format 1 wrote a demo as the object of its fields; formats 2 and 3 as `{"fields": {..}}`
/// (3 with its `provenance`).
fn read_demo(version: u32, demo: Value) -> Result<DemoState, String> {
    match (version, demo) {
        (1, Value::Object(fields)) => Ok(DemoState::new(fields)),
        (1, other) => Err(format!("expected an object of fields, got {other}")),
        (_, demo) => serde_json::from_value(demo).map_err(|e| e.to_string()),
    }
}

fn message(error: Error) -> String {
    match error {
        Error::State(message) => message,
        other => other.to_string(),
    }
}
