//! [`SignatureFingerprint`]: the shape and text of a saved predictor's signature, and the
//! differences in shape between a saved one and the program's.

use crate::signature::{FieldSpec, SignatureInfo, inline_defs};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The shape of a signature (its name and its fields' names and types, in order: checked on
/// load) and its text as the predictor showed it (its instructions and each field's description
/// and prefix: on load, the saved text wins over the code's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFingerprint {
    /// The signature's name (informational: a renamed signature with the same fields loads).
    pub name: String,
    /// The signature's instructions (its doc comment, or DSPy's default) when saved; absent
    /// in files of format 1 and 2, which did not record them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
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
///
/// `desc` and `prefix` are the field's text as the predictor's prompts showed it (absent in
/// files of format 1 and 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldFingerprint {
    /// The field's name on the wire.
    pub name: String,
    /// Its type as prompts name it.
    #[serde(rename = "type")]
    pub type_name: String,
    /// A hash of its JSON schema.
    pub schema: String,
    /// Its description when saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// Its prefix in completion prompts when saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl SignatureFingerprint {
    /// The fingerprint of `info`: its shape and its text.
    pub fn of(info: &SignatureInfo) -> Self {
        SignatureFingerprint {
            name: info.name.clone(),
            instructions: Some(info.instructions.clone()),
            inputs: info.inputs.iter().map(FieldFingerprint::of).collect(),
            outputs: info.outputs.iter().map(FieldFingerprint::of).collect(),
        }
    }
}

impl FieldFingerprint {
    /// The fingerprint of one field: its name, type and text.
    pub fn of(field: &FieldSpec) -> Self {
        FieldFingerprint {
            desc: Some(field.desc.clone()),
            prefix: Some(field.prefix.clone()),
            name: field.name.clone(),
            type_name: field.type_hint.clone(),
            // The shape, not how prompts show it: named types written in place, so a state
            // saved when nested types were inlined in prompts still matches.
            schema: schema_hash(&inline_defs(&field.schema)),
        }
    }
}

/// Every difference between the saved fields and the program's, one message each.
pub(super) fn compare(saved: &SignatureFingerprint, now: &SignatureFingerprint) -> Vec<String> {
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
    fn compare_names_each_difference() {
        let field = |name: &str, ty: &str, schema: &str| FieldFingerprint {
            name: name.into(),
            type_name: ty.into(),
            schema: schema.into(),
            desc: None,
            prefix: None,
        };
        let saved = SignatureFingerprint {
            name: "S".into(),
            instructions: None,
            inputs: vec![field("q", "str", "1"), field("k", "int", "2")],
            outputs: vec![field("a", "Answer", "3"), field("moved", "str", "1")],
        };
        let now = SignatureFingerprint {
            name: "Renamed".into(),
            instructions: None,
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
