//! Schemars' output rewritten the way pydantic writes the same types.

use serde_json::{Map, Value, json};

/// Removes schemars' noise and rewrites its forms as pydantic's: no `$schema`, no `format` on
/// numbers, string enums as `{"type": "string", "enum": [..]}`, and a nullable `T` as
/// `{"anyOf": [T, {"type": "null"}]}`. Titles are dropped but on objects (`#[schemars(title)]`
/// on a struct is kept); pydantic's own titles are added later, by [`super::titles`].
pub(super) fn normalize(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    map.remove("$schema");
    let kind = map.get("type").and_then(Value::as_str).map(str::to_string);
    if kind.as_deref() != Some("object") {
        map.remove("title");
    }
    if matches!(kind.as_deref(), Some("integer" | "number")) {
        map.remove("format");
    }
    string_enum(&mut map);
    if let Some(any_of) = nullable(&map) {
        return any_of;
    }
    Value::Object(map.into_iter().map(|(k, v)| normalize_key(k, v)).collect())
}

/// `oneOf` of string constants (a unit enum with doc comments) → a plain string enum.
fn string_enum(map: &mut Map<String, Value>) {
    let Some(Value::Array(variants)) = map.get("oneOf") else {
        return;
    };
    let consts: Option<Vec<Value>> = variants
        .iter()
        .map(|v| v.get("const").filter(|c| c.is_string()).cloned())
        .collect();
    if let Some(consts) = consts {
        map.remove("oneOf");
        map.insert("type".into(), "string".into());
        map.insert("enum".into(), Value::Array(consts));
    }
}

/// `"type": [T, "null"]` → `{"anyOf": [T, {"type": "null"}]}`, or `None` when not nullable so.
fn nullable(map: &Map<String, Value>) -> Option<Value> {
    let Some(Value::Array(types)) = map.get("type") else {
        return None;
    };
    if types.len() != 2 || !types.iter().any(|t| t == "null") {
        return None;
    }
    let inner = types.iter().find(|t| *t != "null").cloned()?;
    let mut rest = map.clone();
    rest.insert("type".into(), inner);
    if rest.get("type").and_then(Value::as_str) != Some("string") {
        rest.remove("format");
    }
    if let Some(Value::Array(values)) = rest.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    let mut out = Map::new();
    out.insert(
        "anyOf".into(),
        json!([normalize(Value::Object(rest)), {"type": "null"}]),
    );
    Some(Value::Object(out))
}

/// Normalizes the subschemas under `key`; values that are data (`enum`, `default`, ...) stay.
fn normalize_key(key: String, value: Value) -> (String, Value) {
    let value = match key.as_str() {
        "properties" | "$defs" | "patternProperties" => match value {
            Value::Object(props) => {
                Value::Object(props.into_iter().map(|(k, v)| (k, normalize(v))).collect())
            }
            other => other,
        },
        "enum" | "const" | "required" | "examples" | "default" => value,
        _ => match value {
            Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
            Value::Object(_) => normalize(value),
            other => other,
        },
    };
    (key, value)
}
