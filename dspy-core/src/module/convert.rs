//! Typed values to and from their JSON fields: what predictors send to an adapter and read
//! back from it.

use crate::adapter::{FieldValues, Parsed};
use crate::{Error, Result};
use serde::Serialize;

/// Parsed fields → the typed output; a type mismatch the parser let through is a parse error.
pub(crate) fn decode<O: serde::de::DeserializeOwned>(parsed: Parsed) -> Result<O> {
    let raw = serde_json::Value::Object(parsed.values);
    serde_json::from_value(raw.clone()).map_err(|e| Error::Parse {
        field: field_of_serde_error(&e.to_string()),
        raw: raw.to_string(),
        tried: vec![format!("convert to the output type: {e}")],
    })
}

fn field_of_serde_error(message: &str) -> String {
    // serde names missing fields as "missing field `x`"; otherwise the error is about the answer.
    message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field"))
        .unwrap_or("*")
        .to_string()
}

/// The JSON view of a value's fields.
pub(crate) fn to_fields<T: Serialize>(value: &T) -> Result<FieldValues> {
    match serde_json::to_value(value)? {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(Error::config(format!(
            "signature values must serialize to JSON objects, got {other}"
        ))),
    }
}
