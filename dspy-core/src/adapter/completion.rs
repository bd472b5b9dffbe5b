use super::parse::parse_section;
use super::render::{display_value, field_value};
use super::{
    Adapter, AnswerFormat, FieldValues, FormatRequest, Formatted, Prompt, TrainingExample,
};
use crate::Result;
use crate::signature::{FieldSpec, SignatureInfo};

/// Plain few-shot completion text for base (non-chat) models.
///
/// Base models do not follow instructions, but they continue patterns. The prompt is the
/// instructions, then each demo as `Prefix: value` lines, then the input with the first output's
/// prefix left open for the model to complete:
///
/// ```text
/// Classify the question by the kind of answer it expects.
///
/// Question: What is AI ?
/// Answer type: description
///
/// Question: Who was Galileo ?
/// Answer type:
/// ```
///
/// The answer ends at the first blank line (a stop sequence), so blank lines inside demo values
/// are written as single line breaks.
///
/// A demo that lacks some fields shows the ones it has, in the order given (DSPy has no
/// completion adapter; a base model continues a pattern, which a placeholder such as the chat
/// adapters' "Not supplied for this particular example." would only teach it to copy). A demo
/// with no input or no output field at all is left out, as the chat adapters leave it out.
///
/// ```
/// use dspy_core::adapter::{Adapter, CompletionAdapter};
/// use dspy_core::SignatureInfo;
/// let sig = SignatureInfo::new("QA").input::<String>("question", "").output::<String>("answer", "");
/// let parsed = CompletionAdapter::new().parse(&sig, " Paris").unwrap();
/// assert_eq!(parsed.values["answer"], "Paris");
/// ```
#[derive(Debug, Clone, Default)]
pub struct CompletionAdapter {}

impl CompletionAdapter {
    /// A completion adapter.
    pub fn new() -> Self {
        CompletionAdapter {}
    }
}

impl Adapter for CompletionAdapter {
    fn name(&self) -> &'static str {
        "CompletionAdapter"
    }

    fn format(&self, request: &FormatRequest<'_>) -> Formatted {
        let sig = request.signature;
        let mut blocks = Vec::with_capacity(request.demos.len() + 2);
        let instructions = request.instructions.trim();
        if !instructions.is_empty() {
            blocks.push(instructions.to_string());
        }
        for demo in super::demos::shown(sig, request.demos) {
            let mut lines = field_lines(&sig.inputs, demo);
            lines.extend(field_lines(&sig.outputs, demo));
            blocks.push(lines.join("\n"));
        }
        let mut last = field_lines(&sig.inputs, request.input);
        if let Some(first) = sig.outputs.first() {
            last.push(first.prefix.clone());
        }
        blocks.push(last.join("\n"));
        Formatted {
            prompt: Prompt::Text(blocks.join("\n\n")),
            // Not shown in the prompt; a backend that constrains decoding (the local model's
            // grammar) builds the answer's shape from it.
            response_schema: Some(super::json::response_schema(sig)),
            stop: vec!["\n\n".to_string()],
            answer_format: AnswerFormat::Completion {
                fields: sig
                    .outputs
                    .iter()
                    .map(|f| (f.name.clone(), f.prefix.clone()))
                    .collect(),
            },
        }
    }

    /// The prompt, and the answer as a demo block writes the outputs (`value\nPrefix: value`,
    /// blank lines collapsed), after the first output's prefix that the prompt leaves open, and
    /// ending with the blank line that separates a demo from the next block: where the adapter's
    /// stop sequence ends an answer at inference.
    ///
    /// ```
    /// use dspy_core::adapter::{Adapter, CompletionAdapter, FormatRequest, Prompt};
    /// use dspy_core::SignatureInfo;
    /// let sig = SignatureInfo::new("QA").input::<String>("question", "").output::<String>("answer", "");
    /// let input = serde_json::json!({"question": "2+2?"}).as_object().unwrap().clone();
    /// let output = serde_json::json!({"answer": "4"}).as_object().unwrap().clone();
    /// let request = FormatRequest { signature: &sig, instructions: "", demos: &[], input: &input };
    /// let example = CompletionAdapter::new().format_training(&request, &output);
    /// assert_eq!(example.prompt, Prompt::Text("Question: 2+2?\nAnswer:".into()));
    /// assert_eq!(example.completion, " 4\n\n");
    /// ```
    fn format_training(
        &self,
        request: &FormatRequest<'_>,
        output: &FieldValues,
    ) -> TrainingExample {
        let formatted = self.format(request);
        let sig = request.signature;
        let lines = field_lines(&sig.outputs, output).join("\n");
        // The prompt ends with the first output's prefix; without that field the answer can
        // only start on the next line.
        let answer = match sig.outputs.first() {
            Some(first) if output.contains_key(&first.name) => lines
                .strip_prefix(first.prefix.as_str())
                .unwrap_or(&lines)
                .to_string(),
            _ => format!("\n{lines}"),
        };
        let end = formatted
            .stop
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        TrainingExample {
            prompt: formatted.prompt,
            completion: format!("{answer}{end}"),
        }
    }

    fn parse(&self, sig: &SignatureInfo, completion: &str) -> Result<Parsed> {
        let texts = split_fields(sig, completion);
        // The last field found runs to the end of the answer, unless the answer went on after
        // a blank line (which ends it): a value left open there was cut off.
        let last = texts.iter().rposition(Option::is_some);
        let ended_early = completion.contains("\n\n");
        let mut parsed = Parsed::default();
        for (i, (field, text)) in sig.outputs.iter().zip(texts).enumerate() {
            let Some(text) = text else { continue };
            let ends_answer = Some(i) == last && !ended_early;
            parsed.push_field(field, completion, parse_section(field, &text, ends_answer))?;
        }
        super::read::fill_missing(sig, &mut parsed, completion, || {
            let prefixes: Vec<&str> = sig
                .outputs
                .iter()
                .skip(1)
                .map(|f| f.prefix.as_str())
                .collect();
            format!(
                "read the answer as the first field, then lines starting with {}",
                prefixes.join(", ")
            )
        })?;
        Ok(parsed)
    }
}

use super::Parsed;

/// `Prefix value` lines for the fields present; blank lines inside values are collapsed so a
/// value never ends the answer early.
fn field_lines(fields: &[FieldSpec], values: &FieldValues) -> Vec<String> {
    fields
        .iter()
        .filter_map(|f| {
            let value = field_value(f, values.get(&f.name)?);
            Some(format!(
                "{} {}",
                f.prefix,
                collapse_blank_lines(value.trim())
            ))
        })
        .collect()
}

fn collapse_blank_lines(text: &str) -> String {
    if !text.contains("\n\n") {
        return text.to_string();
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of each output field: the first starts the answer; each later one starts at a line
/// beginning with its prefix. `None` for fields not found.
fn split_fields(sig: &SignatureInfo, completion: &str) -> Vec<Option<String>> {
    split_fields_so_far(sig, completion).texts
}

/// The fields of a (possibly partial) answer, and how far it got.
pub(super) struct SplitFields {
    /// The text of each output field found.
    pub texts: Vec<Option<String>>,
    /// The field the last line belongs to: the ones before it can no longer change.
    pub current: usize,
    /// Whether the answer ended (a blank line): no field can change.
    pub ended: bool,
}

/// [`split_fields`], also saying which fields a longer answer could still change (for
/// streaming, see `adapter::stream`).
pub(super) fn split_fields_so_far(sig: &SignatureInfo, completion: &str) -> SplitFields {
    let mut texts: Vec<Option<Vec<&str>>> = vec![None; sig.outputs.len()];
    let mut current = 0;
    // The answer may stop at the first blank line the model writes.
    let answer = completion.split("\n\n").next().unwrap_or_default();
    for (i, line) in answer.lines().enumerate() {
        let started = sig
            .outputs
            .iter()
            .enumerate()
            .skip(current + 1)
            .find_map(|(j, f)| {
                line.trim_start()
                    .strip_prefix(f.prefix.as_str())
                    .map(|rest| (j, rest))
            });
        match started {
            Some((j, rest)) => {
                current = j;
                texts[j] = Some(vec![rest]);
            }
            None if i == 0 => texts[0] = Some(vec![line]),
            None => {
                if let Some(lines) = texts[current].as_mut() {
                    lines.push(line);
                }
            }
        }
    }
    SplitFields {
        texts: texts
            .into_iter()
            .map(|t| t.map(|lines| lines.join("\n").trim().to_string()))
            .collect(),
        current,
        ended: completion.contains("\n\n"),
    }
}

/// Renders output values as a completion would continue the primed prompt.
pub(crate) fn render_completion(sig_prefixes: &[(String, String)], values: &FieldValues) -> String {
    let mut out = String::new();
    for (i, (name, prefix)) in sig_prefixes.iter().enumerate() {
        let Some(value) = values.get(name) else {
            continue;
        };
        if i == 0 {
            out.push(' ');
        } else {
            out.push('\n');
            out.push_str(prefix);
            out.push(' ');
        }
        out.push_str(&display_value(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn sig() -> SignatureInfo {
        SignatureInfo::new("S")
            .input::<String>("question", "")
            .output::<String>("reasoning", "")
            .output::<String>("answer", "")
    }

    #[test]
    fn splits_later_fields_by_prefix() {
        let texts = split_fields(&sig(), " it is big\nso big\nAnswer: yes\n\nQuestion: next");
        assert_eq!(
            texts,
            vec![Some("it is big\nso big".into()), Some("yes".into())]
        );
    }

    #[test]
    fn sends_the_output_schema_without_showing_it() {
        let sig = SignatureInfo::new("S")
            .input::<String>("question", "")
            .output::<u32>("year", "");
        let input = serde_json::json!({"question": "When?"});
        let formatted = CompletionAdapter::new().format(&FormatRequest {
            signature: &sig,
            instructions: "",
            demos: &[],
            input: input.as_object().unwrap(),
        });
        let schema = formatted
            .response_schema
            .expect("schema for constrained decoding");
        assert_eq!(schema.schema["required"], serde_json::json!(["year"]));
        assert_eq!(schema.schema["properties"]["year"]["type"], "integer");
        assert_eq!(
            formatted.prompt,
            Prompt::Text("Question: When?\nYear:".into())
        );
    }

    #[test]
    fn incomplete_demos_show_the_fields_they_have() {
        let demos: Vec<FieldValues> = [
            serde_json::json!({"question": "Q1", "answer": "A1"}),
            serde_json::json!({"question": "Q2"}),
            serde_json::json!({"reasoning": "R3", "answer": "A3"}),
            serde_json::json!({"question": "Q4", "reasoning": "R4", "answer": "A4"}),
        ]
        .into_iter()
        .map(|d| d.as_object().cloned().unwrap())
        .collect();
        let input = serde_json::json!({"question": "Q5"});
        let formatted = CompletionAdapter::new().format(&FormatRequest {
            signature: &sig(),
            instructions: "",
            demos: &demos,
            input: input.as_object().unwrap(),
        });
        assert_eq!(
            formatted.prompt,
            Prompt::Text(
                "Question: Q1\nAnswer: A1\n\nQuestion: Q4\nReasoning: R4\nAnswer: A4\n\nQuestion: Q5\nReasoning:"
                    .into()
            )
        );
    }

    #[test]
    fn a_list_left_open_at_the_end_was_cut_off() {
        let sig = SignatureInfo::new("S")
            .input::<String>("question", "")
            .output::<Vec<String>>("tags", "")
            .output::<String>("note", "");
        let adapter = CompletionAdapter::new();
        let err = adapter.parse(&sig, " [\"a\", \"b").unwrap_err();
        assert!(err.to_string().contains("cut off"), "{err}");
        let parsed = adapter.parse(&sig, " [\"a\", \"b\"\nNote: fine").unwrap();
        assert_eq!(parsed.values["tags"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn missing_field_is_a_parse_error() {
        let err = CompletionAdapter::new()
            .parse(&sig(), " only reasoning")
            .unwrap_err();
        assert!(
            matches!(err, Error::Parse { ref field, .. } if field == "answer"),
            "{err}"
        );
    }
}
