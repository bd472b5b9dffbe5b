//! The annotations pydantic writes and schemars does not: property titles and `None` defaults.

use serde_json::Value;

/// Keys whose values are data, not subschemas.
const DATA_KEYS: [&str; 5] = ["enum", "const", "default", "examples", "required"];

/// Titles each property after its name (`zip_code` → `Zip Code`) unless it is a named model (a
/// `$ref`, alone or nullable: pydantic lets the model's own title speak), and gives an optional
/// nullable property `"default": null`, as pydantic writes `x: Optional[T] = None`.
pub(super) fn add_pydantic_annotations(schema: &mut Value) {
    let Value::Object(map) = schema else {
        if let Value::Array(items) = schema {
            items.iter_mut().for_each(add_pydantic_annotations);
        }
        return;
    };
    let required: Vec<String> = map
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        for (name, prop) in props.iter_mut() {
            annotate_property(name, prop, required.contains(name));
        }
    }
    for (key, value) in map.iter_mut() {
        if !DATA_KEYS.contains(&key.as_str()) {
            add_pydantic_annotations_in(key, value);
        }
    }
}

/// Recurses into the subschemas under `key` (a map of them for `properties` and `$defs`).
fn add_pydantic_annotations_in(key: &str, value: &mut Value) {
    match (key, value) {
        ("properties" | "$defs" | "patternProperties", Value::Object(named)) => {
            named.values_mut().for_each(add_pydantic_annotations);
        }
        (_, value) => add_pydantic_annotations(value),
    }
}

pub(super) fn annotate_property(name: &str, prop: &mut Value, required: bool) {
    let model = is_model_ref(prop);
    let nullable = is_nullable(prop);
    let Value::Object(map) = prop else { return };
    if !model && !map.contains_key("title") {
        map.insert("title".into(), Value::String(py_title(name)));
    }
    if !required && nullable && !map.contains_key("default") {
        map.insert("default".into(), Value::Null);
    }
}

fn is_model_ref(schema: &Value) -> bool {
    if schema.get("$ref").is_some() {
        return true;
    }
    match schema
        .get("anyOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([a, b]) => {
            (is_null(a) && b.get("$ref").is_some()) || (is_null(b) && a.get("$ref").is_some())
        }
        _ => false,
    }
}

fn is_nullable(schema: &Value) -> bool {
    is_null(schema)
        || schema
            .get("anyOf")
            .and_then(Value::as_array)
            .is_some_and(|variants| variants.iter().any(is_null))
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// Python's `name.title().replace("_", " ").strip()`: pydantic's title for a field name. A letter
/// after a letter is lowered, any other letter raised (`zip_code2x` → `Zip Code2X`).
pub(super) fn py_title(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut after_letter = false;
    for c in name.chars() {
        let cased = c.is_lowercase() || c.is_uppercase();
        if !cased {
            out.push(c);
        } else if after_letter {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        after_letter = cased;
    }
    out.replace('_', " ").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_like_python() {
        assert_eq!(py_title("zip"), "Zip");
        assert_eq!(py_title("zip_code"), "Zip Code");
        assert_eq!(py_title("zipCode"), "Zipcode");
        assert_eq!(py_title("item2name"), "Item2Name");
        assert_eq!(py_title("_private_"), "Private");
        assert_eq!(py_title("élan_vital"), "Élan Vital");
    }
}
