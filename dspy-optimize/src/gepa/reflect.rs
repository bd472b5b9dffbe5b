//! Reflection: the reflective dataset built from a minibatch's traces, and the LM call that
//! reads it and writes a new instruction for one predictor.

use crate::search::models::scoped;
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::module::Trace;
use dspy_core::signature::SignatureInfo;
use dspy_core::{Error, LM, Module, Predict, Result};
use dspy_macros::Signature;
use serde_json::Value;

/// I gave an assistant instructions for a task. Below are those instructions, then examples
/// of task inputs it was given, what it answered to each, and feedback on how each answer
/// could have been better.
///
/// Write a new instruction for the assistant.
///
/// Study the inputs to work out their format and what the task really is, in detail. Study
/// every answer and its feedback: gather all the specific, domain-dependent facts about the
/// task into the instruction, since the assistant will not see these examples again. If the
/// assistant used a strategy that generalises, describe it in the instruction too.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
pub(crate) struct ProposeInstruction {
    /// The instructions the assistant had.
    #[input(desc = "the instructions the assistant was given")]
    pub current_instruction: String,
    /// The reflective dataset, as markdown.
    #[input(desc = "task inputs, the assistant's answer to each, and feedback on each answer")]
    pub examples_with_feedback: String,
    /// What the assistant should be told instead.
    #[output(desc = "the new instruction for the assistant")]
    pub new_instruction: String,
}

/// One run of a predictor, for the reflection LM: what it was given, what it answered, and
/// what the metric said about the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub inputs: FieldValues,
    pub outputs: Generated,
    pub feedback: String,
}

/// What a predictor answered: its output fields, or text that could not be read as them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Generated {
    Fields(FieldValues),
    Unreadable(String),
}

/// One minibatch run: its score, the metric's feedback, and its trace: `trace` when it
/// succeeded, `failed` (up to the failure) when it did not.
pub(crate) struct Rollout<'a> {
    pub score: f64,
    pub feedback: Option<&'a str>,
    pub trace: Option<&'a Trace>,
    pub failed: Option<&'a Trace>,
}

/// The reflective dataset for predictor `name`: from each successful run that called it, one of
/// its calls (drawn with `rng` when it was called more than once), with the run's feedback (or,
/// from a metric that gives none, its score). Failed runs are left out, as in DSPy, unless
/// `format_failures`: then a run that failed on an unreadable answer of this predictor gives
/// that answer, with feedback on the format it should have had.
pub(crate) fn reflective_records(
    rollouts: &[Rollout<'_>],
    name: &str,
    format_failures: bool,
    rng: &mut Rng,
) -> Vec<Record> {
    let mut records = Vec::new();
    for rollout in rollouts {
        let Some(trace) = rollout.trace else {
            let failure = rollout
                .failed
                .filter(|_| format_failures)
                .and_then(|failed| failed.failures_by_name(name).next());
            if let Some(failure) = failure {
                records.push(Record {
                    inputs: failure.input.clone(),
                    outputs: Generated::Unreadable(failure.raw.clone()),
                    feedback: format_feedback(failure.signature),
                });
            }
            continue;
        };
        let calls: Vec<_> = trace.by_name(name).collect();
        if calls.is_empty() {
            continue;
        }
        let call = calls[rng.below(calls.len())];
        let feedback = match rollout.feedback {
            Some(text) if !text.trim().is_empty() => text.to_string(),
            _ => format!("This trajectory got a score of {}.", rollout.score),
        };
        records.push(Record {
            inputs: call.input.clone(),
            outputs: Generated::Fields(call.output.clone()),
            feedback,
        });
    }
    records
}

/// What to tell the reflection LM about an answer that could not be read: the output fields
/// it had to contain, with their types.
fn format_feedback(signature: &SignatureInfo) -> String {
    let fields: Vec<String> = signature
        .outputs
        .iter()
        .map(|f| format!("`{}` ({})", f.name, f.type_hint))
        .collect();
    format!(
        "The answer could not be read, so the task failed. It must give every output field, {}, \
         each in the layout the prompt shows and nothing else.",
        fields.join(", ")
    )
}

/// The records as markdown: an `# Example n` section each, with its inputs, outputs and
/// feedback.
pub(crate) fn render_records(records: &[Record]) -> String {
    let mut text = String::new();
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&format!("# Example {}\n## Inputs\n", i + 1));
        render_fields(&mut text, &record.inputs);
        text.push_str("## Generated Outputs\n");
        match &record.outputs {
            Generated::Fields(fields) => render_fields(&mut text, fields),
            Generated::Unreadable(raw) => text.push_str(&format!(
                "The answer could not be read as the output fields. It was:\n```\n{}\n```\n\n",
                raw.trim()
            )),
        }
        text.push_str("## Feedback\n");
        text.push_str(record.feedback.trim());
        text.push('\n');
    }
    text
}

fn render_fields(text: &mut String, fields: &FieldValues) {
    for (name, value) in fields {
        text.push_str(&format!("### {name}\n"));
        match value {
            Value::String(s) => text.push_str(s.trim()),
            other => text.push_str(&other.to_string()),
        }
        text.push_str("\n\n");
    }
}

/// The instruction inside the reflection LM's answer: trimmed, without a surrounding code
/// fence (some models fence it, as the `gepa` package's own prompt asks).
pub(crate) fn clean_instruction(raw: &str) -> Option<String> {
    let mut text = raw.trim();
    if let Some(rest) = text.strip_prefix("```") {
        // Drop a language tag on the fence's line.
        text = rest.split_once('\n').map_or("", |(_, body)| body);
        text = text.trim_end().strip_suffix("```").unwrap_or(text);
    }
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Asks the reflection LM (`lm`, else the one configured) for a new instruction, given the
/// current one and the reflective dataset. An empty answer is an [`Error::Parse`].
pub(crate) async fn propose_instruction(
    lm: Option<&LM>,
    current: &str,
    records: &[Record],
) -> Result<String> {
    let input = ProposeInstructionInput {
        current_instruction: current.to_string(),
        examples_with_feedback: render_records(records),
    };
    let predict = Predict::<ProposeInstruction>::new();
    let output = scoped(lm, predict.call(input)).await?;
    clean_instruction(&output.new_instruction).ok_or_else(|| Error::Parse {
        field: "new_instruction".into(),
        raw: output.new_instruction.clone(),
        tried: vec!["a non-empty instruction".into()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspy_core::signature::Signature;

    #[test]
    fn fences_and_blank_answers() {
        assert_eq!(
            clean_instruction("  Be brief. ").as_deref(),
            Some("Be brief.")
        );
        assert_eq!(
            clean_instruction("```text\nBe brief.\n```").as_deref(),
            Some("Be brief.")
        );
        assert_eq!(clean_instruction("```\n```"), None);
        assert_eq!(clean_instruction("   "), None);
    }

    #[test]
    fn records_render_as_markdown_sections() {
        let fields = |v: Value| v.as_object().cloned().unwrap_or_default();
        let records = vec![
            Record {
                inputs: fields(serde_json::json!({"question": "Who?", "n": 2})),
                outputs: Generated::Fields(fields(serde_json::json!({"label": "human"}))),
                feedback: "Right.".into(),
            },
            Record {
                inputs: fields(serde_json::json!({"question": "Where?"})),
                outputs: Generated::Unreadable(" a plac".into()),
                feedback: format_feedback(ProposeInstruction::info()),
            },
        ];
        let text = render_records(&records);
        assert_eq!(
            text,
            "# Example 1\n## Inputs\n### question\nWho?\n\n### n\n2\n\n## Generated Outputs\n\
             ### label\nhuman\n\n## Feedback\nRight.\n\n\
             # Example 2\n## Inputs\n### question\nWhere?\n\n## Generated Outputs\n\
             The answer could not be read as the output fields. It was:\n```\na plac\n```\n\n\
             ## Feedback\nThe answer could not be read, so the task failed. It must give every \
             output field, `new_instruction` (str), each in the layout the prompt shows and nothing \
             else.\n"
        );
    }
}
