use super::parse::{Fix, parse_field};
use super::render::{display_value, python_json};
use super::{
    Adapter, AnswerFormat, FieldValues, FormatRequest, Formatted, JsonAdapter, Message, Parsed,
    Prompt,
};
use crate::signature::{FieldSpec, SignatureInfo};
use crate::{Error, Result};
use serde_json::Value;
use std::sync::Arc;

/// DSPy's default chat layout: fields in `[[ ## name ## ]]` sections, demos as user/assistant
/// turns, and a closing `[[ ## completed ## ]]` marker.
///
/// The rendered messages match DSPy 3's `ChatAdapter` text for the same signature. When an
/// answer cannot be parsed it falls back once to [`JsonAdapter`], then re-asks once with the
/// error shown; both can be turned off.
///
/// ```
/// use dspy_core::ChatAdapter;
/// let strict = ChatAdapter::new().json_fallback(false).reask(false);
/// # let _ = strict;
/// ```
#[derive(Debug, Clone)]
pub struct ChatAdapter {
    json_fallback: bool,
    reask: bool,
}

impl Default for ChatAdapter {
    fn default() -> Self {
        ChatAdapter {
            json_fallback: true,
            reask: true,
        }
    }
}

impl ChatAdapter {
    /// A chat adapter with JSON fallback and re-asking on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to retry once with [`JsonAdapter`] when an answer cannot be parsed.
    pub fn json_fallback(mut self, on: bool) -> Self {
        self.json_fallback = on;
        self
    }

    /// Whether to re-ask once, showing the parse error, when an answer cannot be parsed.
    pub fn reask(mut self, on: bool) -> Self {
        self.reask = on;
        self
    }
}

impl Adapter for ChatAdapter {
    fn name(&self) -> &'static str {
        "ChatAdapter"
    }

    fn format(&self, request: &FormatRequest<'_>) -> Formatted {
        let sig = request.signature;
        let messages = chat_messages(
            request,
            &marker_structure(sig),
            |demo| output_sections(sig, demo),
            &output_requirements(sig),
        );
        Formatted {
            prompt: Prompt::Chat(messages),
            response_schema: None,
            stop: Vec::new(),
            answer_format: AnswerFormat::Markers,
        }
    }

    fn parse(&self, sig: &SignatureInfo, completion: &str) -> Result<Parsed> {
        let sections = split_sections(completion);
        let mut parsed = Parsed::default();
        for field in &sig.outputs {
            if parsed.values.contains_key(&field.name) {
                continue;
            }
            let Some((_, text)) = sections.iter().find(|(name, _)| *name == field.name) else {
                continue;
            };
            parsed.push_field(field, completion, parse_field(field, text))?;
        }
        fill_missing(sig, &mut parsed, completion, || {
            let found: Vec<&str> = sections
                .iter()
                .map(|(name, _)| *name)
                .filter(|n| !n.is_empty())
                .collect();
            format!(
                "look for `[[ ## field ## ]]` sections: found {}",
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                }
            )
        })?;
        Ok(parsed)
    }

    fn fallback(&self) -> Option<Arc<dyn Adapter>> {
        self.json_fallback
            .then(|| Arc::new(JsonAdapter::new().reask(self.reask)) as Arc<dyn Adapter>)
    }

    fn reask_on_error(&self) -> bool {
        self.reask
    }
}

/// The layout both chat adapters share: a system message (fields, `structure`, task), each demo
/// as a user turn and an assistant turn written by `answer`, then the input and a `reminder`.
pub(super) fn chat_messages(
    request: &FormatRequest<'_>,
    structure: &str,
    answer: impl Fn(&FieldValues) -> String,
    reminder: &str,
) -> Vec<Message> {
    let sig = request.signature;
    let mut messages = Vec::with_capacity(2 + 2 * request.demos.len());
    messages.push(Message::system(format!(
        "{}\n{structure}\n{}",
        field_descriptions(sig),
        task_description(request.instructions)
    )));
    for demo in request.demos {
        messages.push(Message::user(input_sections(sig, demo)));
        messages.push(Message::assistant(answer(demo)));
    }
    // Trimmed as a whole, as DSPy does: an empty last input keeps its blank line.
    let last = format!("{}\n\n{reminder}", sections(sig, request.input));
    messages.push(Message::user(last.trim().to_string()));
    messages
}

/// Output fields the answer left out: null for nullable fields (recorded), else an error.
pub(super) fn fill_missing(
    sig: &SignatureInfo,
    parsed: &mut Parsed,
    completion: &str,
    what_was_tried: impl FnOnce() -> String,
) -> Result<()> {
    let mut missing = Vec::new();
    for field in &sig.outputs {
        if parsed.values.contains_key(&field.name) {
            continue;
        }
        if is_nullable(field) {
            parsed.values.insert(field.name.clone(), Value::Null);
            parsed.fixes.push(Fix {
                field: field.name.clone(),
                what: "missing; set to null".into(),
            });
        } else {
            missing.push(field.name.as_str());
        }
    }
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(Error::Parse {
            field: (*first).to_string(),
            raw: completion.to_string(),
            tried: vec![
                what_was_tried(),
                format!("missing output fields: {}", missing.join(", ")),
            ],
        }),
    }
}

fn is_nullable(field: &FieldSpec) -> bool {
    field
        .schema
        .get("anyOf")
        .and_then(Value::as_array)
        .is_some_and(|variants| {
            variants
                .iter()
                .any(|v| v.get("type").and_then(Value::as_str) == Some("null"))
        })
}

/// Splits an answer into `(field name, text)` sections; text before any header has name "".
pub(super) fn split_sections(completion: &str) -> Vec<(&str, String)> {
    let mut sections: Vec<(&str, Vec<&str>)> = vec![("", Vec::new())];
    for line in completion.lines() {
        let trimmed = line.trim();
        match header(trimmed) {
            Some((name, rest)) => {
                let rest = rest.trim();
                sections.push((
                    name,
                    if rest.is_empty() {
                        Vec::new()
                    } else {
                        vec![rest]
                    },
                ));
            }
            None => {
                if let Some(last) = sections.last_mut() {
                    last.1.push(line);
                }
            }
        }
    }
    sections
        .into_iter()
        .map(|(name, lines)| (name, lines.join("\n").trim().to_string()))
        .collect()
}

/// `[[ ## name ## ]]rest` → `(name, rest)`.
pub(super) fn header(line: &str) -> Option<(&str, &str)> {
    let inner = line.strip_prefix("[[ ## ")?;
    let end = inner.find(" ## ]]")?;
    let name = &inner[..end];
    let is_word = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    is_word.then(|| (name, &inner[end + " ## ]]".len()..]))
}

/// "Your input fields are: ..." — the field list that opens the system message.
pub(super) fn field_descriptions(sig: &SignatureInfo) -> String {
    format!(
        "Your input fields are:\n{}\nYour output fields are:\n{}",
        field_list(&sig.inputs),
        field_list(&sig.outputs)
    )
}

fn field_list(fields: &[FieldSpec]) -> String {
    let lines: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{}. `{}` ({}): {}", i + 1, f.name, f.type_hint, f.desc))
        .collect();
    lines.join("\n").trim().to_string()
}

/// The placeholder for a field in the structure section, with DSPy's type note for outputs.
pub(super) fn placeholder(field: &FieldSpec, is_output: bool) -> String {
    let note = if !is_output || field.is_text() {
        None
    } else if let Some(choices) = field.choices() {
        Some(format!(
            "must exactly match (no extra characters) one of: {}",
            choices.join("; ")
        ))
    } else {
        match field.schema.get("type").and_then(Value::as_str) {
            Some("boolean") => Some("must be True or False".to_string()),
            Some("integer") => Some("must be a single int value".to_string()),
            Some("number") => Some("must be a single float value".to_string()),
            _ => Some(format!(
                "must adhere to the JSON schema: {}",
                python_json(&field.schema, true)
            )),
        }
    };
    match note {
        Some(note) => format!(
            "{{{}}}        # note: the value you produce {note}",
            field.name
        ),
        None => format!("{{{}}}", field.name),
    }
}

fn marker_structure(sig: &SignatureInfo) -> String {
    let section = |fields: &[FieldSpec], is_output: bool| {
        fields
            .iter()
            .map(|f| format!("[[ ## {} ## ]]\n{}", f.name, placeholder(f, is_output)))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    format!(
        "All interactions will be structured in the following way, with the appropriate values filled in.\n\n\
         {}\n\n{}\n\n[[ ## completed ## ]]",
        section(&sig.inputs, false),
        section(&sig.outputs, true)
    )
}

/// "In adhering to this structure, your objective is: ..." with the instructions indented.
pub(super) fn task_description(instructions: &str) -> String {
    let mut out = String::from("In adhering to this structure, your objective is: ");
    for line in dedent(instructions).lines() {
        out.push_str("\n        ");
        out.push_str(line);
    }
    out
}

/// Removes the indentation common to all non-blank lines (Python's `textwrap.dedent`).
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                l.get(indent..).unwrap_or(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `[[ ## field ## ]]\nvalue` for each input field present.
pub(super) fn input_sections(sig: &SignatureInfo, values: &FieldValues) -> String {
    sections(sig, values).trim().to_string()
}

fn sections(sig: &SignatureInfo, values: &FieldValues) -> String {
    sig.inputs
        .iter()
        .filter_map(|f| {
            values
                .get(&f.name)
                .map(|v| format!("[[ ## {} ## ]]\n{}", f.name, display_value(v)))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn output_sections(sig: &SignatureInfo, values: &FieldValues) -> String {
    let body = sig
        .outputs
        .iter()
        .map(|f| {
            let value = values.get(&f.name).map(display_value).unwrap_or_default();
            format!("[[ ## {} ## ]]\n{value}", f.name)
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    format!("{}\n\n[[ ## completed ## ]]\n", body.trim())
}

/// ` (must be formatted as a valid Python T)` for non-text fields.
pub(super) fn type_reminder(field: &FieldSpec) -> String {
    if field.is_text() {
        String::new()
    } else {
        format!(" (must be formatted as a valid Python {})", field.type_hint)
    }
}

fn output_requirements(sig: &SignatureInfo) -> String {
    let fields: Vec<String> = sig
        .outputs
        .iter()
        .map(|f| format!("`[[ ## {} ## ]]`{}", f.name, type_reminder(f)))
        .collect();
    format!(
        "Respond with the corresponding output fields, starting with the field {}, and then ending with \
         the marker for `[[ ## completed ## ]]`.",
        fields.join(", then ")
    )
}

/// Renders output values as a ChatAdapter answer (what a model should reply).
pub(crate) fn render_markers(values: &FieldValues) -> String {
    let body: Vec<String> = values
        .iter()
        .map(|(name, v)| format!("[[ ## {name} ## ]]\n{}", display_value(v)))
        .collect();
    format!("{}\n\n[[ ## completed ## ]]\n", body.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_word_names() {
        assert_eq!(header("[[ ## answer ## ]]"), Some(("answer", "")));
        assert_eq!(
            header("[[ ## answer ## ]] Paris"),
            Some(("answer", " Paris"))
        );
        assert_eq!(header("[[ ## two words ## ]]"), None);
        assert_eq!(header("[[ ## ## ]]"), None);
    }

    #[test]
    fn sections_keep_first_text_and_lines() {
        let s =
            split_sections("intro\n[[ ## a ## ]]\nx\ny\n\n[[ ## b ## ]] z\n[[ ## completed ## ]]");
        assert_eq!(s[0], ("", "intro".to_string()));
        assert_eq!(s[1], ("a", "x\ny".to_string()));
        assert_eq!(s[2], ("b", "z".to_string()));
        assert_eq!(s[3], ("completed", String::new()));
    }

    #[test]
    fn dedent_like_python() {
        assert_eq!(dedent("  a\n    b\n\n  c"), "a\n  b\n\nc");
    }
}
