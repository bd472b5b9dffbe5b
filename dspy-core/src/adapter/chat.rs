use super::demos::{INCOMPLETE_PREFIX, chat_demos};
use super::read::{Asked, read_answer};
use super::render::{display_value, field_value, python_json};
use super::{
    Adapter, AnswerFormat, FieldValues, FormatRequest, Formatted, JsonAdapter, Message, Parsed,
    Prompt,
};
use crate::Result;
use crate::signature::{FieldSpec, SignatureInfo};
use serde_json::Value;
use std::sync::Arc;

/// DSPy's default chat layout: fields in `[[ ## name ## ]]` sections, demos as user/assistant
/// turns, and a closing `[[ ## completed ## ]]` marker.
///
/// The rendered messages match DSPy 3's `ChatAdapter` text for the same signature. Answers are
/// read leniently: markers in another case or spacing (`[[## Answer ##]]`), a JSON object
/// instead of markers, or a bare value for a single typed output, each recorded as a fix. When
/// an answer still cannot be parsed it falls back once to [`JsonAdapter`], then re-asks once
/// with the error shown; both can be turned off (neither follows an answer that was cut off).
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
    #[must_use]
    pub fn json_fallback(mut self, on: bool) -> Self {
        self.json_fallback = on;
        self
    }

    /// Whether to re-ask once, showing the parse error, when an answer cannot be parsed.
    #[must_use]
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
        read_answer(sig, completion, Asked::Markers)
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
/// as a user turn and an assistant turn written by `answer` (incomplete demos first, see
/// [`chat_demos`]), then the input and a `reminder`.
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
    for demo in chat_demos(sig, request.demos) {
        let inputs = input_sections(sig, demo.values);
        messages.push(Message::user(if demo.incomplete {
            format!("{INCOMPLETE_PREFIX}\n\n{inputs}")
        } else {
            inputs
        }));
        messages.push(Message::assistant(answer(&demo.answer(sig))));
    }
    // Trimmed as a whole, as DSPy does: an empty last input keeps its blank line.
    let last = format!("{}\n\n{reminder}", sections(sig, request.input));
    messages.push(Message::user(last.trim().to_string()));
    messages
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
                .map(|v| format!("[[ ## {} ## ]]\n{}", f.name, field_value(f, v)))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn output_sections(sig: &SignatureInfo, values: &FieldValues) -> String {
    let body = sig
        .outputs
        .iter()
        .map(|f| {
            let value = values
                .get(&f.name)
                .map(|v| field_value(f, v))
                .unwrap_or_default();
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
    fn dedent_like_python() {
        assert_eq!(dedent("  a\n    b\n\n  c"), "a\n  b\n\nc");
    }
}
