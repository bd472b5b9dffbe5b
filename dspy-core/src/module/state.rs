//! A program's learned state (per predictor: instructions and demos), as versioned JSON.
//!
//! The file holds only what optimization changes, plus a fingerprint of each predictor's
//! signature so a file is never loaded into a program it does not fit. It never holds an LM, an
//! API key or an endpoint URL.

use super::demo::DemoState;
use super::dyn_predictor::DynPredictor;
use crate::signature::{FieldSpec, SignatureInfo, inline_defs};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The format version this dspy writes. It reads this one and every older one.
///
/// Format 2 writes each demo as an object with its `fields` (room for what else a demo carries);
/// format 1 wrote each demo as the bare object of its fields, and only complete ones.
pub const STATE_FORMAT_VERSION: u32 = 2;

/// The oldest format version this dspy reads.
const OLDEST_FORMAT_VERSION: u32 = 1;

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
/// assert!(json.contains("\"format_version\": 2"));
///
/// let mut fresh = Predict::<QA>::new();
/// fresh.load_state(ProgramState::from_json(&json).unwrap()).unwrap();
/// assert_eq!(fresh.demos[0].example().unwrap().answer, "Paris");
/// assert_eq!(fresh.instructions.as_deref(), Some("Answer in one word."));
/// ```
///
/// The JSON looks like this (`schema` is a hash of the field type's JSON schema, see
/// [`FieldFingerprint`]):
///
/// ```json
/// {
///   "format_version": 2,
///   "dspy_version": "0.1.0",
///   "predictors": {
///     "answer.predict": {
///       "signature": {
///         "name": "QA",
///         "inputs": [{ "name": "question", "type": "str", "schema": "9f0c8a1b2c3d4e5f" }],
///         "outputs": [{ "name": "reasoning", "type": "str", "schema": "9f0c8a1b2c3d4e5f" },
///                     { "name": "answer", "type": "str", "schema": "9f0c8a1b2c3d4e5f" }]
///       },
///       "instructions": "Answer in one word.",
///       "demos": [
///         { "fields": { "question": "..", "reasoning": "..", "answer": ".." } },
///         { "fields": { "question": "..", "answer": ".." } }
///       ]
///     }
///   }
/// }
/// ```
///
/// The second demo above is partial: it lacks `reasoning`. A file of an older format loads (it is
/// read into this layout, and saving it again writes this format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "versioned::AnyFormat")]
pub struct ProgramState {
    /// The layout of this JSON; [`STATE_FORMAT_VERSION`] when written by this dspy.
    pub format_version: u32,
    /// The dspy version that wrote it (informational: loading does not check it).
    pub dspy_version: String,
    /// Every predictor, by its dotted name (sorted, so files diff well).
    pub predictors: BTreeMap<String, PredictorState>,
}

/// What one predictor learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorState {
    /// The shape of its signature, checked on load.
    pub signature: SignatureFingerprint,
    /// Its own instructions, when they replace the signature's; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Its demos, complete or partial, in the order prompts get them.
    #[serde(default)]
    pub demos: Vec<DemoState>,
}

/// The shape of a signature: its name and its fields' names and types, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFingerprint {
    /// The signature's name (informational: a renamed signature with the same fields loads).
    pub name: String,
    /// Its input fields.
    pub inputs: Vec<FieldFingerprint>,
    /// Its output fields.
    pub outputs: Vec<FieldFingerprint>,
}

/// One field's name and type.
///
/// `type` is the short type name prompts show (`str`, `list[int]`, `Answer`); `schema` is a hash
/// of the type's JSON schema, which catches what the short name hides (a field added to a nested
/// struct, an enum variant renamed). The hash is FNV-1a (64 bits, hex) of the schema written as
/// compact JSON with object keys sorted and annotations (`title`, `description`, `examples`,
/// `default`, `$comment`) removed, so doc comments and type renames do not count as changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldFingerprint {
    /// The field's name on the wire.
    pub name: String,
    /// Its type as prompts name it.
    #[serde(rename = "type")]
    pub type_name: String,
    /// A hash of its JSON schema.
    pub schema: String,
}

impl SignatureFingerprint {
    /// The fingerprint of `info`.
    pub fn of(info: &SignatureInfo) -> Self {
        SignatureFingerprint {
            name: info.name.clone(),
            inputs: info.inputs.iter().map(FieldFingerprint::of).collect(),
            outputs: info.outputs.iter().map(FieldFingerprint::of).collect(),
        }
    }
}

impl FieldFingerprint {
    /// The fingerprint of one field.
    pub fn of(field: &FieldSpec) -> Self {
        FieldFingerprint {
            name: field.name.clone(),
            type_name: field.type_hint.clone(),
            // The shape, not how prompts show it: named types written in place, so a state
            // saved when nested types were inlined in prompts still matches.
            schema: schema_hash(&inline_defs(&field.schema)),
        }
    }
}

impl ProgramState {
    /// The state of `predictors`, each by its name in the program ([`ProgramState::capture`]
    /// lists them).
    pub(crate) fn of_predictors(all: Vec<(String, &dyn DynPredictor)>) -> Result<Self> {
        let mut predictors = BTreeMap::new();
        for (name, predictor) in all {
            let state = PredictorState {
                signature: SignatureFingerprint::of(predictor.signature()),
                instructions: predictor
                    .has_own_instructions()
                    .then(|| predictor.effective_instructions().to_string()),
                demos: predictor.demo_states()?,
            };
            if predictors.insert(name.clone(), state).is_some() {
                return Err(Error::config(format!(
                    "two predictors of the program are named `{name}`, so their state would \
                     collide; each predictor needs its own name (check the program's \
                     `Parameters` impl)"
                )));
            }
        }
        Ok(ProgramState {
            format_version: STATE_FORMAT_VERSION,
            dspy_version: env!("CARGO_PKG_VERSION").to_string(),
            predictors,
        })
    }

    /// Puts this state into `targets`, a program's predictors by name, after checking that it
    /// fits ([`ProgramState::apply`] lists them).
    pub(crate) fn put_into(self, mut targets: Vec<(String, &mut dyn DynPredictor)>) -> Result<()> {
        check_version(self.format_version, &self.dspy_version)?;
        let mut saved = self.predictors;
        let mut problems = Vec::new();
        // Only demos that do not fit: the shapes match, the file's data is at fault.
        let mut only_demos = true;

        for (name, predictor) in &targets {
            let Some(state) = saved.get(name) else {
                only_demos = false;
                problems.push(format!(
                    "predictor `{name}` is in the program but not in the saved state"
                ));
                continue;
            };
            let now = SignatureFingerprint::of(predictor.signature());
            let differences = compare(&state.signature, &now);
            if differences.is_empty() {
                if let Err(e) = predictor.check_demo_states(&state.demos) {
                    problems.push(format!("predictor `{name}`: {}", state_message(e)));
                }
            } else {
                only_demos = false;
                problems.extend(
                    differences
                        .into_iter()
                        .map(|d| format!("predictor `{name}`: {d}")),
                );
            }
        }
        for name in saved.keys() {
            if !targets.iter().any(|(n, _)| n == name) {
                only_demos = false;
                let known: Vec<_> = targets.iter().map(|(n, _)| format!("`{n}`")).collect();
                problems.push(format!(
                    "predictor `{name}` is in the saved state but not in the program (its \
                     predictors: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        if !problems.is_empty() {
            let advice = if only_demos {
                "The file's demos were edited or written by other code: fix or remove them"
            } else {
                "The state was saved from a different program (or an older version of it): load \
                 it into the program it was saved from, or compile this program again and save \
                 its state"
            };
            return Err(Error::State(format!("{}. {advice}", problems.join("; "))));
        }

        for (name, predictor) in targets.iter_mut() {
            if let Some(state) = saved.remove(name) {
                predictor.set_demo_states(state.demos)?;
                predictor.set_instructions(state.instructions);
            }
        }
        Ok(())
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

/// Refuses a format this dspy cannot read.
fn check_version(version: u32, written_by: &str) -> Result<()> {
    if (OLDEST_FORMAT_VERSION..=STATE_FORMAT_VERSION).contains(&version) {
        return Ok(());
    }
    let advice = if version > STATE_FORMAT_VERSION {
        "upgrade dspy to load it"
    } else {
        "load and save it again with the dspy that wrote it, or compile the program again"
    };
    Err(Error::State(format!(
        "the state file has format version {version} (written by dspy {written_by}), but this \
         dspy ({}) reads format versions {OLDEST_FORMAT_VERSION} to {STATE_FORMAT_VERSION}; \
         {advice}",
        env!("CARGO_PKG_VERSION")
    )))
}

/// Every format this dspy reads, as it is on disk, and its conversion to the current one.
mod versioned {
    use super::{DemoState, PredictorState, ProgramState, STATE_FORMAT_VERSION};
    use super::{SignatureFingerprint, check_version};
    use crate::Error;
    use serde::Deserialize;
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// A state file of any format: demos are left as JSON until the version says what they are.
    #[derive(Deserialize)]
    pub(super) struct AnyFormat {
        format_version: u32,
        dspy_version: String,
        predictors: BTreeMap<String, AnyPredictor>,
    }

    #[derive(Deserialize)]
    struct AnyPredictor {
        signature: SignatureFingerprint,
        #[serde(default)]
        instructions: Option<String>,
        #[serde(default)]
        demos: Vec<Value>,
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
                    .map(|(i, demo)| read_demo(version, demo).map_err(|e| {
                        format!("predictor `{name}`: demo {i} is not a demo of format {version}: {e}")
                    }))
                    .collect::<Result<_, String>>()?;
                let state = PredictorState {
                    signature: predictor.signature,
                    instructions: predictor.instructions,
                    demos,
                };
                predictors.insert(name, state);
            }
            Ok(ProgramState {
                format_version: STATE_FORMAT_VERSION,
                dspy_version: file.dspy_version,
                predictors,
            })
        }
    }

    /// Format 1 wrote a demo as the object of its fields; format 2 as `{"fields": {..}}`.
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
}

/// Every difference between the saved fields and the program's, one message each.
fn compare(saved: &SignatureFingerprint, now: &SignatureFingerprint) -> Vec<String> {
    let mut differences = Vec::new();
    let sides = [
        ("input", &saved.inputs, &now.inputs),
        ("output", &saved.outputs, &now.outputs),
    ];
    for (role, was, is) in sides {
        for field in was {
            match is.iter().find(|f| f.name == field.name) {
                None => differences.push(missing_field(role, field, now)),
                Some(current) if current.type_name != field.type_name => {
                    differences.push(format!(
                        "{role} field `{}` has type `{}` in the saved state but `{}` in the \
                         program",
                        field.name, field.type_name, current.type_name
                    ));
                }
                Some(current) if current.schema != field.schema => {
                    differences.push(format!(
                        "the type `{}` of {role} field `{}` changed shape since the state was \
                         saved (schema {} then, {} now)",
                        field.type_name, field.name, field.schema, current.schema
                    ));
                }
                Some(_) => {}
            }
        }
        for field in is.iter().filter(|f| !was.iter().any(|w| w.name == f.name)) {
            let other = if role == "input" {
                &saved.outputs
            } else {
                &saved.inputs
            };
            // A field that moved sides is reported once, by `missing_field`.
            if !other.iter().any(|w| w.name == field.name) {
                differences.push(format!(
                    "{role} field `{}` is in the program but not in the saved state",
                    field.name
                ));
            }
        }
    }
    differences
}

/// A saved field the program no longer has on the same side.
fn missing_field(role: &str, field: &FieldFingerprint, now: &SignatureFingerprint) -> String {
    let (other_role, other) = if role == "input" {
        ("output", &now.outputs)
    } else {
        ("input", &now.inputs)
    };
    if other.iter().any(|f| f.name == field.name) {
        format!(
            "field `{}` is an {role} in the saved state but an {other_role} in the program",
            field.name
        )
    } else {
        format!(
            "{role} field `{}` is in the saved state but not in the program",
            field.name
        )
    }
}

/// The message of an [`Error::State`], without the variant's prefix.
fn state_message(error: Error) -> String {
    match error {
        Error::State(message) => message,
        other => other.to_string(),
    }
}

/// FNV-1a (64 bits) of the schema's canonical JSON, in hex; see [`FieldFingerprint`].
fn schema_hash(schema: &Value) -> String {
    let canonical = canonical_schema(schema).to_string();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The schema with sorted keys and without annotations. Keys of `properties` (and the other
/// maps of names) are field names, kept whatever they are called.
fn canonical_schema(schema: &Value) -> Value {
    const ANNOTATIONS: [&str; 5] = ["title", "description", "examples", "default", "$comment"];
    const NAME_MAPS: [&str; 4] = ["properties", "$defs", "definitions", "patternProperties"];
    match schema {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .keys()
                .filter(|k| !ANNOTATIONS.contains(&k.as_str()))
                .collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                let value = &map[key];
                let value = match value {
                    Value::Object(names) if NAME_MAPS.contains(&key.as_str()) => {
                        let mut names_sorted: Vec<_> = names.iter().collect();
                        names_sorted.sort_by(|a, b| a.0.cmp(b.0));
                        Value::Object(
                            names_sorted
                                .into_iter()
                                .map(|(k, v)| (k.clone(), canonical_schema(v)))
                                .collect(),
                        )
                    }
                    other => canonical_schema(other),
                };
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical_schema).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_see_the_shape_of_nested_types_not_their_references() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Stop {
            city: String,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Trip {
            first: Stop,
            rest: Vec<Stop>,
        }
        let field = FieldSpec::of::<Trip>("trip", "");
        assert_eq!(field.schema["properties"]["first"]["$ref"], "#/$defs/Stop");
        // The schema every nested type was written out in before prompts kept `$defs`.
        let inlined = crate::signature::inlined_schema::<Trip>();
        assert_eq!(
            FieldFingerprint::of(&field).schema,
            schema_hash(&inlined),
            "{inlined}"
        );
    }

    #[test]
    fn schema_hash_ignores_annotations_and_key_order() {
        let a = json!({"type": "object", "title": "A", "description": "doc",
            "properties": {"title": {"type": "string", "description": "x"}, "n": {"type": "integer"}},
            "required": ["title", "n"]});
        let b = json!({"required": ["title", "n"], "type": "object",
            "properties": {"n": {"type": "integer"}, "title": {"type": "string"}}});
        assert_eq!(schema_hash(&a), schema_hash(&b));
        // A property called `title` is a field, not an annotation.
        let c = json!({"type": "object", "properties": {"n": {"type": "integer"}},
            "required": ["title", "n"]});
        assert_ne!(schema_hash(&a), schema_hash(&c));
        let d = json!({"type": "object",
            "properties": {"title": {"type": "integer"}, "n": {"type": "integer"}},
            "required": ["title", "n"]});
        assert_ne!(schema_hash(&a), schema_hash(&d));
        assert_eq!(schema_hash(&a).len(), 16);
    }

    #[test]
    fn schema_hash_is_stable_across_runs() {
        // FNV-1a of `{"type":"string"}`, computed independently: a changed hash function would
        // make every saved file unloadable.
        assert_eq!(schema_hash(&json!({"type": "string"})), "37140e51efa8b132");
    }

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
        // Saved again, it is format 2: each demo's fields under `fields`.
        let again: Value = serde_json::from_str(&state.to_json().unwrap()).unwrap();
        assert_eq!(again["format_version"], 2);
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
        let newer = json!({"format_version": 3, "dspy_version": "9.0.0", "future": true});
        let err = ProgramState::from_json(&newer.to_string()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::State(_)), "{message}");
        assert!(message.contains("format version 3"), "{message}");
        assert!(message.contains("dspy 9.0.0"), "{message}");
        assert!(message.contains("upgrade dspy"), "{message}");

        let err = ProgramState::from_json(r#"{"predictors": {}}"#).unwrap_err();
        assert!(err.to_string().contains("no `format_version`"), "{err}");
        assert!(matches!(
            ProgramState::from_json("{not json"),
            Err(Error::Serde(_))
        ));
    }

    #[test]
    fn compare_names_each_difference() {
        let field = |name: &str, ty: &str, schema: &str| FieldFingerprint {
            name: name.into(),
            type_name: ty.into(),
            schema: schema.into(),
        };
        let saved = SignatureFingerprint {
            name: "S".into(),
            inputs: vec![field("q", "str", "1"), field("k", "int", "2")],
            outputs: vec![field("a", "Answer", "3"), field("moved", "str", "1")],
        };
        let now = SignatureFingerprint {
            name: "Renamed".into(),
            inputs: vec![field("q", "int", "2"), field("moved", "str", "1")],
            outputs: vec![field("a", "Answer", "4"), field("extra", "str", "1")],
        };
        let differences = compare(&saved, &now);
        assert_eq!(
            differences,
            [
                "input field `q` has type `str` in the saved state but `int` in the program",
                "input field `k` is in the saved state but not in the program",
                "the type `Answer` of output field `a` changed shape since the state was saved \
                 (schema 3 then, 4 now)",
                "field `moved` is an output in the saved state but an input in the program",
                "output field `extra` is in the program but not in the saved state",
            ]
        );
        assert!(compare(&saved, &saved).is_empty());
    }
}
