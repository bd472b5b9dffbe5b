//! Lenient parsing of LM answers against field schemas. (Being written.)

use crate::signature::FieldSpec;
use serde_json::{Map, Value};

/// One repair that lenient parsing made to an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The output field that was repaired (`*` for the answer as a whole).
    pub field: String,
    /// What was fixed, e.g. "removed a trailing comma".
    pub what: String,
}

/// Parses the text of one field against its schema. `Err` lists what was tried.
pub fn parse_field(field: &FieldSpec, text: &str) -> Result<(Value, Vec<Fix>), Vec<String>> {
    let text = text.trim();
    if field.is_text() {
        return Ok((Value::String(text.to_string()), Vec::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) => coerce_field(field, v),
        Err(e) => {
            if let Some(choices) = field.choices() {
                if choices.contains(&text) {
                    return Ok((Value::String(text.into()), Vec::new()));
                }
            }
            Err(vec![format!("read as JSON: {e}")])
        }
    }
}

/// Coerces a JSON value to a field's schema. `Err` lists what was tried.
pub fn coerce_field(_field: &FieldSpec, value: Value) -> Result<(Value, Vec<Fix>), Vec<String>> {
    Ok((value, Vec::new()))
}

/// Finds the first JSON object in a completion. Returns it with the repairs made.
pub fn find_json_object(text: &str) -> Option<(Map<String, Value>, Vec<String>)> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let v: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    match v {
        Value::Object(m) => Some((m, Vec::new())),
        _ => None,
    }
}
