//! [`FieldSpec`]: one input or output field of a signature, as prompts and parsers see it.

use super::schema::{field_schema, type_hint};
use schemars::JsonSchema;
use serde_json::Value;

/// One input or output field of a signature, as prompts and parsers see it.
///
/// ```
/// use dspy_core::FieldSpec;
/// let f = FieldSpec::of::<Vec<String>>("tags", "a few keywords");
/// assert_eq!(f.type_hint, "list[str]");
/// assert_eq!(f.prefix, "Tags:");
/// assert_eq!(f.schema["type"], "array");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// The name the LM sees (after any serde rename).
    pub name: String,
    /// What the field holds, in words; may be empty.
    pub desc: String,
    /// The label that introduces the field in completion-mode prompts, e.g. `Question:`.
    pub prefix: String,
    /// The JSON schema of the field's type, with subschemas inlined.
    pub schema: Value,
    /// A short type name for prompts, written as DSPy writes it (`str`, `int`, `list[str]`,
    /// `Literal['a', 'b']`, ...).
    pub type_hint: String,
}

impl FieldSpec {
    /// The field `name` of Rust type `T`.
    pub fn of<T: JsonSchema + ?Sized>(name: &str, desc: &str) -> Self {
        Self::from_schema(name, desc, field_schema::<T>())
    }

    /// A field from a JSON schema (for signatures built at run time).
    pub fn from_schema(name: &str, desc: &str, schema: Value) -> Self {
        FieldSpec {
            name: name.to_string(),
            desc: desc.to_string(),
            prefix: default_prefix(name),
            type_hint: type_hint(&schema),
            schema,
        }
    }

    /// Replaces the completion-mode label.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Whether the field is plain text (a JSON string with no enum), which prompts show unquoted.
    pub fn is_text(&self) -> bool {
        self.schema.get("type").and_then(Value::as_str) == Some("string")
            && self.schema.get("enum").is_none()
    }

    /// The allowed values, when the field is an enum of strings.
    pub fn choices(&self) -> Option<Vec<&str>> {
        let values = self.schema.get("enum")?.as_array()?;
        values.iter().map(Value::as_str).collect()
    }
}

/// DSPy's default prefix: `snake_case` name → `Snake case:`.
fn default_prefix(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => format!("{}{}:", first.to_uppercase(), chars.as_str()),
        None => ":".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_from_name() {
        assert_eq!(default_prefix("question"), "Question:");
        assert_eq!(default_prefix("answer_type"), "Answer type:");
    }

    #[test]
    fn enum_choices() {
        let f = FieldSpec::from_schema(
            "label",
            "",
            serde_json::json!({"type": "string", "enum": ["a", "b"]}),
        );
        assert_eq!(f.choices(), Some(vec!["a", "b"]));
        assert!(!f.is_text());
        assert!(FieldSpec::of::<String>("x", "").is_text());
    }
}
