use super::chat::{chat_messages, placeholder, type_reminder};
use super::read::{Asked, read_answer};
use super::{
    Adapter, AnswerFormat, FieldValues, FormatRequest, Formatted, Parsed, Prompt, ResponseSchema,
};
use crate::Result;
use crate::signature::{FieldSpec, SignatureInfo, as_property, inline_defs};
use serde_json::{Map, Value, json};

/// Asks for the outputs as one JSON object, and sends the output schema as the provider's
/// structured-output `response_format` when the LM supports it.
///
/// Its prompts match DSPy 3's `JSONAdapter`. Of several JSON objects in an answer (an echo of
/// the input, then the answer), it reads the one holding the output fields; an answer written
/// in `[[ ## field ## ]]` sections instead is read too, and so is a bare value for a single
/// typed output. An object cut off before its end is an error, never completed for it.
///
/// ```
/// use dspy_core::adapter::{Adapter, FormatRequest, JsonAdapter};
/// use dspy_core::SignatureInfo;
/// let sig = SignatureInfo::new("QA").input::<String>("question", "").output::<u32>("year", "");
/// let input = serde_json::json!({"question": "When?"}).as_object().unwrap().clone();
/// let formatted = JsonAdapter::new().format(&FormatRequest {
///     signature: &sig, instructions: &sig.instructions, demos: &[], input: &input,
/// });
/// let schema = formatted.response_schema.unwrap();
/// assert_eq!(schema.schema["required"], serde_json::json!(["year"]));
/// let parsed = JsonAdapter::new().parse(&sig, "```json\n{\"year\": \"1969\"}\n```").unwrap();
/// assert_eq!(parsed.values["year"], 1969);
/// assert!(!parsed.fixes.is_empty()); // the quoted number was recorded
/// ```
#[derive(Debug, Clone)]
pub struct JsonAdapter {
    reask: bool,
}

impl Default for JsonAdapter {
    fn default() -> Self {
        JsonAdapter { reask: true }
    }
}

impl JsonAdapter {
    /// A JSON adapter that re-asks once on a parse error.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to re-ask once, showing the parse error, when an answer cannot be parsed.
    #[must_use]
    pub fn reask(mut self, on: bool) -> Self {
        self.reask = on;
        self
    }
}

impl Adapter for JsonAdapter {
    fn name(&self) -> &'static str {
        "JsonAdapter"
    }

    fn format(&self, request: &FormatRequest<'_>) -> Formatted {
        let sig = request.signature;
        let order: Vec<String> = sig
            .outputs
            .iter()
            .map(|f| format!("`{}`{}", f.name, type_reminder(f)))
            .collect();
        let reminder = format!(
            "Respond with a JSON object in the following order of fields: {}.",
            order.join(", then ")
        );
        let messages = chat_messages(
            request,
            &structure(sig),
            |demo| output_json(sig, demo),
            &reminder,
        );
        Formatted {
            prompt: Prompt::Chat(messages),
            response_schema: Some(response_schema(sig)),
            stop: Vec::new(),
            answer_format: AnswerFormat::Json,
        }
    }

    fn parse(&self, sig: &SignatureInfo, completion: &str) -> Result<Parsed> {
        read_answer(sig, completion, Asked::Json)
    }

    fn reask_on_error(&self) -> bool {
        self.reask
    }
}

fn structure(sig: &SignatureInfo) -> String {
    let inputs: Vec<String> = sig
        .inputs
        .iter()
        .map(|f| format!("[[ ## {} ## ]]\n{}", f.name, placeholder(f, false)))
        .collect();
    let outputs: Map<String, Value> = sig
        .outputs
        .iter()
        .map(|f| (f.name.clone(), Value::String(placeholder(f, true))))
        .collect();
    format!(
        "All interactions will be structured in the following way, with the appropriate values filled in.\n\n\
         Inputs will have the following structure:\n\n{}\n\nOutputs will be a JSON object with the following fields.\n\n{}",
        inputs.join("\n\n"),
        pretty(&Value::Object(outputs))
    )
}

fn output_json(sig: &SignatureInfo, values: &FieldValues) -> String {
    let outputs: Map<String, Value> = sig
        .outputs
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                values.get(&f.name).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    pretty(&Value::Object(outputs))
}

/// `json.dumps(value, indent=2, ensure_ascii=False)`; serde_json's pretty printer writes the same.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The schema of the whole answer object, as DSPy sends it: the outputs as properties of
/// `DSPyProgramOutputs`, the named types they use under one `$defs` (a struct-typed field is a
/// `$ref` to its definition), each other field titled after its name. It is made strict (every
/// property required, no extra properties, no `null` defaults, no `$ref` beside other keys)
/// unless a field holds an open map, which strict mode cannot express: then `strict` is false,
/// and backends that follow DSPy ask for any JSON object instead (`json_object`).
pub(crate) fn response_schema(sig: &SignatureInfo) -> ResponseSchema {
    let mut defs = Map::new();
    let properties: Map<String, Value> = sig
        .outputs
        .iter()
        .map(|f| (f.name.clone(), answer_property(f, &mut defs)))
        .collect();
    let required: Vec<&str> = sig.outputs.iter().map(|f| f.name.as_str()).collect();
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "title": "DSPyProgramOutputs",
    });
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    let strict = sig.outputs.iter().all(|f| !has_open_map(&f.schema));
    if strict {
        let root = schema.clone();
        enforce_strict(&mut schema, &root);
    }
    ResponseSchema {
        name: "DSPyProgramOutputs".into(),
        schema,
        strict,
    }
}

/// One output field as a property of the answer object, its definitions moved into `defs`. A
/// definition that clashes with another field's of the same name keeps this field inlined.
fn answer_property(field: &FieldSpec, defs: &mut Map<String, Value>) -> Value {
    let mut schema = field.schema.clone();
    let own = match schema.as_object_mut().and_then(|m| m.remove("$defs")) {
        Some(Value::Object(own)) => own,
        _ => Map::new(),
    };
    // A struct is a model: referenced by its name, as pydantic refers to a model-typed field.
    let model = schema
        .get("title")
        .and_then(Value::as_str)
        .filter(|_| schema.get("type").and_then(Value::as_str) == Some("object"))
        .map(str::to_string);
    let mut wanted: Vec<(String, Value)> = own.into_iter().collect();
    if let Some(name) = &model {
        wanted.push((name.clone(), schema.clone()));
    }
    let clash = wanted
        .iter()
        .any(|(name, def)| defs.get(name).is_some_and(|d| d != def));
    if clash {
        return as_property(&field.name, inline_defs(&field.schema));
    }
    for (name, def) in wanted {
        defs.entry(name).or_insert(def);
    }
    match model {
        Some(name) => json!({"$ref": format!("#/$defs/{name}")}),
        None => as_property(&field.name, schema),
    }
}

fn has_open_map(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            map.get("additionalProperties")
                .is_some_and(Value::is_object)
                || map
                    .iter()
                    .any(|(k, v)| k != "additionalProperties" && has_open_map(v))
        }
        Value::Array(items) => items.iter().any(has_open_map),
        _ => false,
    }
}

/// OpenAI strict mode: every object lists all its properties as required and allows no others;
/// `null` defaults go, and a `$ref` with other keys beside it is replaced by its definition
/// (those keys winning), as strict mode requires. `root` resolves the `$ref`s.
fn enforce_strict(schema: &mut Value, root: &Value) {
    match schema {
        Value::Object(map) => {
            if map.len() > 1
                && let Some(target) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix('#'))
                    .and_then(|pointer| root.pointer(pointer))
                    .and_then(Value::as_object)
            {
                let mut merged = target.clone();
                let siblings = map.iter().filter(|(k, _)| *k != "$ref");
                merged.extend(siblings.map(|(k, v)| (k.clone(), v.clone())));
                *map = merged;
            }
            if map.get("default").is_some_and(Value::is_null) {
                map.remove("default");
            }
            if map.get("type").and_then(Value::as_str) == Some("object") {
                close_object(map);
            }
            for value in map.values_mut() {
                enforce_strict(value, root);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| enforce_strict(v, root)),
        _ => {}
    }
}

fn close_object(map: &mut Map<String, Value>) {
    let keys: Vec<Value> = match map.get("properties") {
        Some(Value::Object(props)) => props.keys().cloned().map(Value::String).collect(),
        _ => {
            map.insert("properties".into(), json!({}));
            Vec::new()
        }
    };
    map.insert("required".into(), Value::Array(keys));
    map.insert("additionalProperties".into(), Value::Bool(false));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_schema_requires_nested_properties() {
        let sig = SignatureInfo::new("S")
            .input::<String>("q", "")
            .output_field_from_schema(
                "item",
                json!({"type": "object", "properties": {"a": {"type": "string"}}}),
            );
        let schema = response_schema(&sig);
        assert!(schema.strict);
        assert_eq!(
            schema.schema["properties"]["item"]["required"],
            json!(["a"])
        );
        assert_eq!(
            schema.schema["properties"]["item"]["additionalProperties"],
            json!(false)
        );
        assert_eq!(schema.schema["additionalProperties"], json!(false));
    }

    #[test]
    fn open_maps_are_not_strict() {
        let sig = SignatureInfo::new("S")
            .input::<String>("q", "")
            .output::<std::collections::HashMap<String, i32>>("counts", "");
        assert!(!response_schema(&sig).strict);
    }

    trait FromSchema {
        fn output_field_from_schema(self, name: &str, schema: Value) -> Self;
    }
    impl FromSchema for SignatureInfo {
        fn output_field_from_schema(self, name: &str, schema: Value) -> Self {
            self.with_output(FieldSpec::from_schema(name, "", schema))
        }
    }
}
