//! How values are written into prompts, matching DSPy's rendering.

use crate::signature::FieldSpec;
use serde_json::Value;
use std::io;

/// Renders `value` as the value of `field`: as [`display_value`] does, except that a list given
/// to a text field is a numbered list of passages, as DSPy writes it (`[1] «…»` a line each; one
/// item alone unnumbered, none as `N/A`).
///
/// A `Vec<String>` field is a list (`list[str]`, shown as JSON, as DSPy shows it); a list reaches
/// a text field when fields are given as JSON values, e.g. a run-time signature's input.
///
/// ```
/// use dspy_core::FieldSpec;
/// use dspy_core::adapter::field_value;
/// use serde_json::json;
/// let text = FieldSpec::of::<String>("context", "");
/// assert_eq!(field_value(&text, &json!(["a", "b\nc"])), "[1] «a»\n[2] «««\n    b\n    c\n»»»");
/// let list = FieldSpec::of::<Vec<String>>("context", "");
/// assert_eq!(field_value(&list, &json!(["a", "b"])), r#"["a", "b"]"#);
/// ```
pub fn field_value(field: &FieldSpec, value: &Value) -> String {
    match value {
        Value::Array(items) if field.is_text() => numbered(items),
        other => display_value(other),
    }
}

fn numbered(items: &[Value]) -> String {
    match items {
        [] => "N/A".to_string(),
        [only] => passage(only),
        _ => items
            .iter()
            .enumerate()
            .map(|(i, item)| format!("[{}] {}", i + 1, passage(item)))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// One passage in guillemets; a passage with a line break or a guillemet of its own is fenced
/// by three of them, its lines indented.
fn passage(item: &Value) -> String {
    let text = display_value(item);
    if !text.contains(['\n', '«', '»']) {
        return format!("«{text}»");
    }
    format!("«««\n    {}\n»»»", text.replace('\n', "\n    "))
}

/// Renders a field value as DSPy does: strings as-is, `True`/`False`, `None`, numbers plainly,
/// and lists and objects as JSON with Python's `", "` / `": "` separators.
///
/// ```
/// use dspy_core::adapter::display_value;
/// use serde_json::json;
/// assert_eq!(display_value(&json!("Paris")), "Paris");
/// assert_eq!(display_value(&json!(true)), "True");
/// assert_eq!(display_value(&json!(["a b", "c"])), r#"["a b", "c"]"#);
/// ```
pub fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => python_json(value, false),
    }
}

/// JSON as Python's `json.dumps(value, ensure_ascii=False)` writes it; with `type_first`, object
/// keys are sorted with `type` first (DSPy's layout for schemas in prompts).
///
/// ```
/// use dspy_core::adapter::python_json;
/// let v = serde_json::json!({"items": {"type": "string"}, "type": "array"});
/// assert_eq!(python_json(&v, true), r#"{"type": "array", "items": {"type": "string"}}"#);
/// ```
pub fn python_json(value: &Value, type_first: bool) -> String {
    let mut out = Vec::with_capacity(64);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    let result = if type_first {
        serde::Serialize::serialize(&sorted_type_first(value), &mut ser)
    } else {
        serde::Serialize::serialize(value, &mut ser)
    };
    // Serializing a `Value` into memory cannot fail, and the output is UTF-8 by construction.
    debug_assert!(result.is_ok());
    String::from_utf8(out).unwrap_or_default()
}

fn sorted_type_first(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| (a.0 != "type", a.0).cmp(&(b.0 != "type", b.0)));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted_type_first(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_type_first).collect()),
        other => other.clone(),
    }
}

/// serde_json's compact format with Python's separators.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}
