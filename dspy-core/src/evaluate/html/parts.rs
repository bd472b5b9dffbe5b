//! Small pieces of markup the report pages share: a JSON object as a field list, an outcome,
//! a coloured label, an id.

use super::markup::{Html, escape};
use super::page::Tone;
use crate::util::snippet;
use serde_json::Value;

/// Longest text shown for one field; the rest is in the JSON and CSV exports.
const FIELD_CHARS: usize = 600;
/// Longest error shown in a table cell (parse errors repeat every adapter's attempt).
const ERROR_CHARS: usize = 240;

/// A JSON object as a two-column field list (`name  value`, long values cut to 600
/// characters), without the keys in `skip` (shown in their own columns); any other value as
/// text. For an example, an output, or a candidate's instructions and demos.
///
/// ```
/// use dspy_core::evaluate::html::fields;
/// let list = fields(&serde_json::json!({"question": "Who <b>?", "label": "human"}), &["label"]);
/// assert_eq!(list.as_str(), "<dl class=\"kv\"><dt>question</dt><dd>Who &lt;b&gt;?</dd></dl>");
/// ```
pub fn fields(value: &Value, skip: &[&str]) -> Html {
    let Value::Object(map) = value else {
        return Html::text(&text(value));
    };
    let items: Html = map
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            Html::markup(format!(
                "<dt>{}</dt><dd>{}</dd>",
                escape(k),
                escape(&cut(&text(v)))
            ))
        })
        .collect();
    Html::tag("dl", "kv", items)
}

/// The output as a field list, or the error in red.
pub(crate) fn outcome(output: Option<&Value>, error: Option<&str>, skip: &[&str]) -> Html {
    match (output, error) {
        (Some(output), _) => fields(output, skip),
        (None, Some(error)) => Html::tag("div", "error", Html::text(&snippet(error, ERROR_CHARS))),
        (None, None) => Html::empty(),
    }
}

/// A short label in a rounded, coloured pill: a class, `failed`, `best`.
///
/// ```
/// use dspy_core::evaluate::html::{Tone, pill};
/// assert_eq!(pill("human", Tone::Good).as_str(), "<span class=\"pill good\">human</span>");
/// ```
pub fn pill(text: &str, tone: Tone) -> Html {
    Html::markup(format!(
        "<span class=\"pill {}\">{}</span>",
        tone.name(),
        escape(text)
    ))
}

/// Text in the muted monospace style (ids, indices, hashes).
///
/// ```
/// assert_eq!(dspy_core::evaluate::html::mono("#7").as_str(), "<span class=\"mono\">#7</span>");
/// ```
pub fn mono(text: &str) -> Html {
    Html::tag("span", "mono", Html::text(text))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= FIELD_CHARS {
        text.to_string()
    } else {
        snippet(text, FIELD_CHARS)
    }
}
