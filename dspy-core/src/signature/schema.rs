//! JSON schemas of field types, normalized for prompts and parsers.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The JSON schema of `T` with every subschema inlined and the noise removed: no `$schema`, no
/// `format` for plain numbers, string enums as `{"type": "string", "enum": [..]}`, and a nullable
/// `T` as `{"anyOf": [T, {"type": "null"}]}` (as pydantic writes it, so prompts match DSPy's).
/// Objects keep a `title` naming their Rust type, which prompts show as the type's name.
///
/// ```
/// let s = dspy_core::field_schema::<Option<u8>>();
/// assert_eq!(s, serde_json::json!({"anyOf": [{"type": "integer", "minimum": 0, "maximum": 255}, {"type": "null"}]}));
/// ```
pub fn field_schema<T: JsonSchema + ?Sized>() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.subschema_for::<T>().to_value();
    let defs = generator.take_definitions(true);
    let mut stack = Vec::new();
    let mut recursive = Map::new();
    let mut schema = normalize(inline_refs(schema, &defs, &mut stack, &mut recursive));
    // A recursive type keeps its `$ref`s; carry those definitions so the schema stays whole.
    if let (false, Value::Object(map)) = (recursive.is_empty(), &mut schema) {
        map.insert("$defs".into(), Value::Object(recursive));
    }
    schema
}

/// Replaces `{"$ref": "#/$defs/Name"}` with the definition, titled `Name` when it is an object
/// (schemars' own inlining drops the names). A type that refers to itself keeps its `$ref`.
fn inline_refs(
    schema: Value,
    defs: &Map<String, Value>,
    stack: &mut Vec<String>,
    recursive: &mut Map<String, Value>,
) -> Value {
    match schema {
        Value::Object(map) => {
            let name = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .map(str::to_string);
            if let Some(name) = name
                && let Some(def) = defs.get(&name)
            {
                if stack.contains(&name) {
                    recursive.insert(name, def.clone());
                    return Value::Object(map);
                }
                stack.push(name.clone());
                let mut inlined = inline_refs(def.clone(), defs, stack, recursive);
                stack.pop();
                if let Value::Object(obj) = &mut inlined {
                    if obj.get("type").and_then(Value::as_str) == Some("object") {
                        obj.insert("title".into(), Value::String(name));
                    }
                    // Keys beside the `$ref` (a field's description) describe this use of it.
                    for (k, v) in map {
                        if k != "$ref" {
                            obj.insert(k, inline_refs(v, defs, stack, recursive));
                        }
                    }
                }
                return inlined;
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, inline_refs(v, defs, stack, recursive)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| inline_refs(v, defs, stack, recursive))
                .collect(),
        ),
        other => other,
    }
}

fn normalize(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    map.remove("$schema");
    if map.get("type").and_then(Value::as_str) != Some("object") {
        map.remove("title");
    }
    if matches!(
        map.get("type").and_then(Value::as_str),
        Some("integer" | "number")
    ) {
        map.remove("format");
    }
    // `oneOf` of string constants (a unit enum with doc comments) → a plain string enum.
    if let Some(Value::Array(variants)) = map.get("oneOf") {
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
    // `"type": [T, "null"]` → anyOf form.
    if let Some(Value::Array(types)) = map.get("type")
        && types.len() == 2
        && types.iter().any(|t| t == "null")
    {
        {
            let inner = types
                .iter()
                .find(|t| *t != "null")
                .cloned()
                .unwrap_or(Value::Null);
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
                Value::Array(vec![
                    normalize(Value::Object(rest)),
                    serde_json::json!({"type": "null"}),
                ]),
            );
            return Value::Object(out);
        }
    }
    let map: Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "properties" | "$defs" | "patternProperties" => match v {
                    Value::Object(props) => {
                        Value::Object(props.into_iter().map(|(k, v)| (k, normalize(v))).collect())
                    }
                    other => other,
                },
                "enum" | "const" | "required" | "examples" | "default" => v,
                _ => match v {
                    Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
                    Value::Object(_) => normalize(v),
                    other => other,
                },
            };
            (k, v)
        })
        .collect();
    Value::Object(map)
}

/// A short, Python-style name for a schema, as DSPy shows types in prompts.
///
/// ```
/// use serde_json::json;
/// assert_eq!(dspy_core::type_hint(&json!({"type": "integer"})), "int");
/// assert_eq!(dspy_core::type_hint(&json!({"type": "string", "enum": ["a", "b"]})), "Literal['a', 'b']");
/// assert_eq!(dspy_core::type_hint(&json!({"type": "object", "additionalProperties": {"type": "number"}})), "dict[str, float]");
/// ```
pub fn type_hint(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let items: Vec<String> = values
            .iter()
            .map(|v| match v {
                Value::String(s) => quote_literal(s),
                other => other.to_string(),
            })
            .collect();
        return format!("Literal[{}]", items.join(", "));
    }
    if let Some(variants) = schema.get("anyOf").and_then(Value::as_array) {
        let names: Vec<String> = variants.iter().map(type_hint).collect();
        return format!("Union[{}]", names.join(", "));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => "str".into(),
        Some("integer") => "int".into(),
        Some("number") => "float".into(),
        Some("boolean") => "bool".into(),
        Some("null") => "NoneType".into(),
        Some("array") => match schema.get("items") {
            Some(items) => format!("list[{}]", type_hint(items)),
            None => "list".into(),
        },
        Some("object") => {
            if let Some(title) = schema.get("title").and_then(Value::as_str) {
                return title.to_string();
            }
            match schema.get("additionalProperties") {
                Some(v @ Value::Object(_)) if schema.get("properties").is_none() => {
                    format!("dict[str, {}]", type_hint(v))
                }
                _ => "dict".into(),
            }
        }
        _ => "Any".into(),
    }
}

/// Quotes a literal as Python's `repr` would inside `Literal[...]`.
fn quote_literal(s: &str) -> String {
    match (s.contains('\''), s.contains('"')) {
        (true, false) => format!("\"{s}\""),
        (true, true) => format!("'{}'", s.replace('\'', "\\'")),
        _ => format!("'{s}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn primitive_hints() {
        assert_eq!(type_hint(&field_schema::<String>()), "str");
        assert_eq!(type_hint(&field_schema::<i64>()), "int");
        assert_eq!(type_hint(&field_schema::<f32>()), "float");
        assert_eq!(type_hint(&field_schema::<bool>()), "bool");
        assert_eq!(type_hint(&field_schema::<Vec<String>>()), "list[str]");
        assert_eq!(
            type_hint(&field_schema::<HashMap<String, i32>>()),
            "dict[str, int]"
        );
        assert_eq!(
            type_hint(&field_schema::<Option<i64>>()),
            "Union[int, NoneType]"
        );
    }

    #[test]
    fn nullable_becomes_any_of() {
        assert_eq!(
            field_schema::<Option<i64>>(),
            json!({"anyOf": [{"type": "integer"}, {"type": "null"}]})
        );
        assert_eq!(
            field_schema::<Vec<String>>(),
            json!({"type": "array", "items": {"type": "string"}})
        );
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Citation {
        /// where it is from
        source: String,
        page: u32,
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Tree {
        children: Vec<Tree>,
    }

    #[test]
    fn nested_types_are_named_wherever_they_appear() {
        assert_eq!(type_hint(&field_schema::<Citation>()), "Citation");
        assert_eq!(
            type_hint(&field_schema::<Vec<Citation>>()),
            "list[Citation]"
        );
        assert_eq!(
            type_hint(&field_schema::<Option<Citation>>()),
            "Union[Citation, NoneType]"
        );
        let schema = field_schema::<Citation>();
        assert_eq!(
            schema["properties"]["source"]["description"],
            "where it is from"
        );
        assert_eq!(schema["required"], json!(["source", "page"]));
    }

    #[test]
    fn recursive_types_keep_their_definitions() {
        let schema = field_schema::<Tree>();
        assert_eq!(
            schema["properties"]["children"]["items"]["$ref"],
            "#/$defs/Tree"
        );
        assert!(schema["$defs"]["Tree"].is_object());
    }

    #[test]
    fn literal_quoting() {
        assert_eq!(quote_literal("it's"), "\"it's\"");
        assert_eq!(quote_literal("plain"), "'plain'");
    }
}
