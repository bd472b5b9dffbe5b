//! JSON schemas of field types, written as pydantic writes them so prompts and structured-output
//! requests match DSPy's.

mod normalize;
mod refs;
mod titles;

pub(crate) use refs::inline_defs;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The JSON schema of `T`, as pydantic's `TypeAdapter(T).json_schema()` writes the Python twin of
/// `T` (what DSPy shows in prompts and sends as `response_format`):
///
/// - structs are pydantic models: a struct inside `T` is a `{"$ref": "#/$defs/Name"}` to its
///   definition under `$defs`, titled `Name`; `T` itself, when a struct, is written out with its
///   `title`;
/// - properties are titled after their names (`zip_code` → `"Zip Code"`) unless they are a
///   struct, and an optional (`Option`) property not required has `"default": null`;
/// - unit enums are Python `Literal`s, written in place: `{"type": "string", "enum": [..]}`;
/// - no `$schema`, no `format` for plain numbers, and a nullable `T` is
///   `{"anyOf": [T, {"type": "null"}]}`.
///
/// ```
/// let s = dspy_core::field_schema::<Option<u8>>();
/// assert_eq!(s, serde_json::json!({"anyOf": [{"type": "integer", "minimum": 0, "maximum": 255}, {"type": "null"}]}));
///
/// #[derive(schemars::JsonSchema)]
/// struct City { name: String }
/// #[derive(schemars::JsonSchema)]
/// struct Trip { to: City, days: Option<u32> }
/// let s = dspy_core::field_schema::<Trip>();
/// assert_eq!(s["title"], "Trip");
/// assert_eq!(s["properties"]["to"], serde_json::json!({"$ref": "#/$defs/City"}));
/// assert_eq!(s["properties"]["days"]["title"], "Days");
/// assert_eq!(s["properties"]["days"]["default"], serde_json::Value::Null);
/// assert_eq!(s["$defs"]["City"]["title"], "City");
/// ```
pub fn field_schema<T: JsonSchema + ?Sized>() -> Value {
    let (root, defs) = generate::<T>();
    let model = |name: &str| {
        defs.get(name)
            .and_then(|d| d.get("type"))
            .and_then(Value::as_str)
            == Some("object")
    };
    let mut schema = refs::with_defs(root, &defs, &model);
    titles::add_pydantic_annotations(&mut schema);
    schema
}

/// The schema of `T` with every named type written in place (objects titled with their type's
/// name) and no pydantic titles: how DSPy shows a tool's arguments, whose references it resolves.
pub(crate) fn inlined_schema<T: JsonSchema + ?Sized>() -> Value {
    let (root, defs) = generate::<T>();
    refs::with_defs(root, &defs, &|_| false)
}

/// `schema` as the property `name` of an object, titled after the name as pydantic titles a
/// field (unless it is a named model).
pub(crate) fn as_property(name: &str, mut schema: Value) -> Value {
    titles::annotate_property(name, &mut schema, true);
    schema
}

/// Schemars' schema of `T` and its definitions, normalized.
fn generate<T: JsonSchema + ?Sized>() -> (Value, Map<String, Value>) {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let root = generator.subschema_for::<T>().to_value();
    let defs = generator
        .take_definitions(true)
        .into_iter()
        .map(|(name, def)| (name, normalize::normalize(def)))
        .collect();
    (normalize::normalize(root), defs)
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
    if let Some(name) = refs::ref_name(schema) {
        return name.to_string();
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
