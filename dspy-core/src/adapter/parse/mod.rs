//! Lenient parsing of LM answers against field schemas.
//!
//! Adapters cut a completion into per-field texts (or one JSON object) and hand each field here.
//! Parsing recovers what a careful reader would, and records every repair as a [`Fix`]:
//!
//! - code fences, prose around the answer, the first balanced JSON object or array;
//! - JSON repairs: trailing commas, single or curly quotes, Python `True`/`False`/`None`,
//!   unquoted keys, comments, missing commas, a bracket forgotten before more text;
//! - numbers written as strings or inside a sentence (`"42"`, `"about 3.5"`), `3.0` for an
//!   integer; bounds (`u8`'s `minimum: 0`) are checked, never clamped;
//! - yes/no answers for booleans; enum choices in another case, quoted, labelled, or named once
//!   in a short sentence;
//! - a single value where a list is expected, bulleted, numbered and comma-separated lists;
//! - `None`, `N/A` or an empty answer for an optional field;
//! - a yes/no, a number or a choice alone on the first line, with an explanation after it.
//!
//! What cannot be recovered fails with the list of what was tried, in order. An answer cut off
//! inside a JSON value (a list, object or string left open at the very end of the text) is not
//! recovered: closing it would invent an answer with items, keys or words missing. Nothing here
//! panics, whatever the text.
//!
//! ```
//! use dspy_core::FieldSpec;
//! use dspy_core::adapter::parse::{Fix, parse_field};
//! use serde_json::json;
//!
//! let field = FieldSpec::of::<Vec<i64>>("numbers", "");
//! let (value, fixes) = parse_field(&field, "```json\n[1, 2, 3,]\n```").unwrap();
//! assert_eq!(value, json!([1, 2, 3]));
//! assert_eq!(fixes, vec![
//!     Fix { field: "numbers".into(), what: "removed a code fence".into() },
//!     Fix { field: "numbers".into(), what: "removed a trailing comma".into() },
//! ]);
//!
//! let field = FieldSpec::of::<u8>("age", "");
//! assert_eq!(parse_field(&field, "42").unwrap(), (json!(42), vec![]));
//! assert!(parse_field(&field, "-1").is_err());
//! ```

mod choice;
mod coerce;
mod context;
mod json_find;
mod list;
mod repair;
mod scalar;
mod shape;
mod text;
mod union;

use crate::signature::FieldSpec;
use context::{Cx, Path};
use json_find::{Want, find_json, find_json_where};
use serde_json::{Map, Value};

pub(crate) use choice::same_loosely;

/// How the reason for an answer cut off short begins (see [`is_cut_off`]).
pub(crate) const CUT_OFF: &str = "the answer was cut off";

/// The reason given for a JSON value left open at the end of the answer.
pub(crate) const CUT_OFF_VALUE: &str = "the answer was cut off: it ends inside a JSON value left open \
     (raise max_tokens if the LM stopped at its limit)";

/// Whether a parse failure's reasons say the answer was cut off short (so asking again with
/// the same limits would only cut it off again).
pub(crate) fn is_cut_off(reasons: &[String]) -> bool {
    reasons.iter().any(|r| r.starts_with(CUT_OFF))
}

/// One repair that lenient parsing made to an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The output field that was repaired (`*` for the answer as a whole).
    pub field: String,
    /// What was fixed, e.g. "removed a trailing comma".
    pub what: String,
}

/// Parses the text of one field (a `ChatAdapter` `[[ ## field ## ]]` section, or a
/// completion-mode value) against its schema.
///
/// Plain text fields take the trimmed text as it is; an empty answer is an error, unless the
/// field is optional (then it is null, with a fix). Other fields are read as JSON first, then
/// leniently. Returns the value and the fixes made (none for a clean answer).
///
/// The text is taken to end the answer: a JSON value left open at its end (`["a", "b`) is an
/// error saying the answer was cut off, not a value with its end closed for it.
///
/// # Errors
///
/// When the text cannot be read as the field's type: the list of what was tried, in order, in
/// words (for [`crate::Error::Parse`]'s `tried`).
///
/// ```
/// use dspy_core::FieldSpec;
/// use dspy_core::adapter::parse::parse_field;
/// use serde_json::json;
///
/// let field = FieldSpec::of::<bool>("is_numeric", "");
/// let (value, fixes) = parse_field(&field, "Yes.").unwrap();
/// assert_eq!(value, json!(true));
/// assert_eq!(fixes[0].what, "read \"Yes.\" as true");
///
/// let field = FieldSpec::of::<i64>("count", "");
/// assert_eq!(
///     parse_field(&field, "abc").unwrap_err(),
///     vec![
///         "read as JSON: expected value at line 1 column 1".to_string(),
///         "read as a number: no number found in \"abc\"".to_string(),
///     ]
/// );
///
/// let field = FieldSpec::of::<Vec<String>>("terms", "");
/// let cut = parse_field(&field, "[\"photosynthesis\", \"chloro").unwrap_err();
/// assert!(cut[0].starts_with("the answer was cut off"));
/// ```
pub fn parse_field(field: &FieldSpec, text: &str) -> Result<(Value, Vec<Fix>), Vec<String>> {
    parse_section(field, text, true)
}

/// [`parse_field`] for a text that `ends_answer` or not: only at the end of the LM's answer is
/// a JSON value left open a sign that the answer was cut off; before more text (another
/// field's marker), it was only forgotten, and is closed.
pub(crate) fn parse_section(
    field: &FieldSpec,
    text: &str,
    ends_answer: bool,
) -> Result<(Value, Vec<Fix>), Vec<String>> {
    let text = text.trim();
    if field.is_text() {
        if text.is_empty() {
            return Err(vec!["the field is empty".to_string()]);
        }
        return Ok((Value::String(text.to_string()), Vec::new()));
    }
    let mut cx = Cx::new(&field.name, &field.schema);
    cx.ends_answer = ends_answer;
    let value = text::parse(&mut cx, &field.schema, text, &Path::Root);
    if cx.cut_off {
        return Err(vec![CUT_OFF_VALUE.to_string()]);
    }
    Ok((value?, cx.fixes))
}

/// Coerces a JSON value (a field taken from a JSON-object answer) to the field's schema.
///
/// Values of the right type pass through with no fixes; others are converted where a careful
/// reader would (`"42"` → `42`, `"yes"` → `true`, `x` → `[x]`, `"Human"` → `"human"`). As with
/// [`parse_field`], a blank string for a plain text field is an error.
///
/// # Errors
///
/// When the value cannot be made to fit the schema: the list of what was tried, in words.
///
/// ```
/// use dspy_core::FieldSpec;
/// use dspy_core::adapter::parse::coerce_field;
/// use serde_json::json;
///
/// let field = FieldSpec::of::<Vec<String>>("tags", "");
/// let (value, fixes) = coerce_field(&field, json!("rust")).unwrap();
/// assert_eq!(value, json!(["rust"]));
/// assert_eq!(fixes[0].what, "wrapped the single value in a list");
/// ```
pub fn coerce_field(field: &FieldSpec, value: Value) -> Result<(Value, Vec<Fix>), Vec<String>> {
    if field.is_text()
        && let Value::String(s) = &value
    {
        if s.trim().is_empty() {
            return Err(vec!["the field is empty".to_string()]);
        }
        return Ok((value, Vec::new()));
    }
    let mut cx = Cx::new(&field.name, &field.schema);
    let value = coerce::coerce(&mut cx, &field.schema, value, &Path::Root)?;
    Ok((value, cx.fixes))
}

/// Finds the first JSON object in a completion: the whole text, a code fence, or the first
/// balanced `{...}` amid prose, repaired if need be. Returns it with the repairs made, in words
/// (empty when the completion was exactly one strict JSON object).
///
/// ```
/// use dspy_core::adapter::parse::find_json_object;
/// let (object, repairs) = find_json_object("Sure! {'answer': 'Paris',} Hope it helps").unwrap();
/// assert_eq!(object["answer"], "Paris");
/// assert_eq!(repairs, [
///     "ignored text around the JSON",
///     "replaced single quotes with double quotes",
///     "removed a trailing comma",
/// ]);
/// ```
pub fn find_json_object(text: &str) -> Option<(Map<String, Value>, Vec<String>)> {
    match find_json(text, Want::Object)? {
        (Value::Object(map), repairs) => Some((map, repairs)),
        _ => None,
    }
}

/// Whether a field's value, written bare in an answer with no marker, can be told from chatter:
/// a yes/no, a number, a choice, a list or an object can; plain text (or an optional text, or
/// any JSON at all) cannot.
pub(crate) fn tells_from_prose(field: &FieldSpec) -> bool {
    use shape::{Kind, branches, kind_of, resolve};
    let root = &field.schema;
    let schema = resolve(root, root);
    let typed = |kind: Kind<'_>| !matches!(kind, Kind::String | Kind::Any);
    match kind_of(schema) {
        kind @ (Kind::Union(_) | Kind::Types(_)) => {
            let mut values = branches(root, schema, kind).filter(|(_, k)| *k != Kind::Null);
            values.clone().next().is_some() && values.all(|(_, k)| typed(k))
        }
        kind => typed(kind) && kind != Kind::Null,
    }
}

/// A JSON object found in an answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FoundObject {
    /// The object.
    pub map: Map<String, Value>,
    /// The repairs it needed, in words.
    pub repairs: Vec<String>,
    /// Whether it was left open at the very end of the text: the answer was cut off.
    pub cut_off: bool,
}

/// The first JSON object in `text` that `accept` approves of (one holding the output fields,
/// not an echo of the input before it), found as [`find_json_object`] finds one.
pub(crate) fn find_object_where(
    text: &str,
    accept: impl Fn(&Map<String, Value>) -> bool,
) -> Option<FoundObject> {
    let accept = |value: &Value| value.as_object().is_some_and(&accept);
    match find_json_where(text, Want::Object, &accept)? {
        json_find::Found {
            value: Value::Object(map),
            repairs,
            cut_off,
        } => Some(FoundObject {
            map,
            repairs,
            cut_off,
        }),
        _ => None,
    }
}

/// Like [`find_json_object`], but takes the first JSON object *or array*.
///
/// ```
/// use dspy_core::adapter::parse::find_json_value;
/// let (value, repairs) = find_json_value("The tags are [\"a\", \"b\"].").unwrap();
/// assert_eq!(value, serde_json::json!(["a", "b"]));
/// assert_eq!(repairs, ["ignored text around the JSON"]);
/// ```
pub fn find_json_value(text: &str) -> Option<(Value, Vec<String>)> {
    find_json(text, Want::Container)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn fixes(field: &str, whats: &[&str]) -> Vec<Fix> {
        whats
            .iter()
            .map(|w| Fix {
                field: field.into(),
                what: w.to_string(),
            })
            .collect()
    }

    fn label() -> FieldSpec {
        FieldSpec::from_schema(
            "label",
            "",
            json!({"type": "string", "enum": ["HUMAN", "LOCATION", "NUMERIC_VALUE"]}),
        )
    }

    #[test]
    fn text_fields_are_taken_as_written() {
        let f = FieldSpec::of::<String>("answer", "");
        assert_eq!(parse_field(&f, "  Paris.\n"), Ok((json!("Paris."), vec![])));
        assert_eq!(
            parse_field(&f, "```json\n{}\n```"),
            Ok((json!("```json\n{}\n```"), vec![]))
        );
        assert_eq!(
            parse_field(&f, " \n "),
            Err(vec!["the field is empty".to_string()])
        );
    }

    #[test]
    fn optional_text_accepts_empty_as_null() {
        let f = FieldSpec::of::<Option<String>>("note", "");
        assert_eq!(
            parse_field(&f, ""),
            Ok((
                json!(null),
                fixes("note", &["read an empty answer as null"])
            ))
        );
        assert_eq!(
            parse_field(&f, "None"),
            Ok((json!(null), fixes("note", &["read \"None\" as null"])))
        );
        assert_eq!(parse_field(&f, "a note"), Ok((json!("a note"), vec![])));
    }

    #[test]
    fn typed_fields() {
        let f = FieldSpec::of::<u8>("n", "");
        assert_eq!(parse_field(&f, "7"), Ok((json!(7), vec![])));
        assert_eq!(
            parse_field(&f, "-7"),
            Err(vec!["-7 is below the minimum 0".to_string()])
        );
        let f = FieldSpec::of::<f64>("x", "");
        assert_eq!(parse_field(&f, "0.25"), Ok((json!(0.25), vec![])));
        let f = FieldSpec::of::<Option<i64>>("n", "");
        assert_eq!(
            parse_field(&f, "N/A"),
            Ok((json!(null), fixes("n", &["read \"N/A\" as null"])))
        );
        let f = FieldSpec::of::<HashMap<String, i64>>("m", "");
        assert_eq!(
            parse_field(&f, "{\"a\": \"1\"}"),
            Ok((
                json!({"a": 1}),
                fixes("m", &["at `.a`: read the string \"1\" as the number 1"])
            ))
        );
    }

    #[test]
    fn enum_fields() {
        assert_eq!(parse_field(&label(), "HUMAN"), Ok((json!("HUMAN"), vec![])));
        assert_eq!(
            parse_field(&label(), "numeric value"),
            Ok((
                json!("NUMERIC_VALUE"),
                fixes(
                    "label",
                    &["read \"numeric value\" as the choice \"NUMERIC_VALUE\""]
                )
            ))
        );
        assert_eq!(
            parse_field(&label(), "Label: human"),
            Ok((
                json!("HUMAN"),
                fixes("label", &["read \"Label: human\" as the choice \"HUMAN\""])
            ))
        );
        assert!(parse_field(&label(), "robot").is_err());
    }

    #[test]
    fn coerce_text_fields() {
        let f = FieldSpec::of::<String>("answer", "");
        assert_eq!(coerce_field(&f, json!("x")), Ok((json!("x"), vec![])));
        assert_eq!(
            coerce_field(&f, json!("  ")),
            Err(vec!["the field is empty".to_string()])
        );
        assert_eq!(
            coerce_field(&f, json!(12)),
            Ok((
                json!("12"),
                fixes("answer", &["wrote the number 12 as text"])
            ))
        );
    }

    #[test]
    fn coerce_typed_fields() {
        let f = FieldSpec::of::<Vec<i64>>("ns", "");
        assert_eq!(coerce_field(&f, json!([1, 2])), Ok((json!([1, 2]), vec![])));
        assert_eq!(
            coerce_field(&f, json!(["1", 2])),
            Ok((
                json!([1, 2]),
                fixes("ns", &["at `[0]`: read the string \"1\" as the number 1"])
            ))
        );
        assert_eq!(
            coerce_field(&label(), json!("human")),
            Ok((
                json!("HUMAN"),
                fixes("label", &["read \"human\" as the choice \"HUMAN\""])
            ))
        );
    }

    #[test]
    fn json_objects_in_completions() {
        assert_eq!(
            find_json_object("{\"a\": 1}"),
            Some((
                json!({"a": 1}).as_object().cloned().unwrap_or_default(),
                vec![]
            ))
        );
        assert_eq!(find_json_object("[1, 2]"), None);
        assert_eq!(find_json_object("no json"), None);
        let (map, repairs) = find_json_object("```json\n{\"a\": True}\n```").unwrap_or_default();
        assert_eq!(Value::Object(map), json!({"a": true}));
        assert_eq!(
            repairs,
            ["removed a code fence", "replaced Python `True` with JSON"]
        );
    }
}
