//! The prompt model's side of the instruction optimizers (COPRO, MIPROv2): predictors described
//! in words, proposal calls made concurrently, and proposals read back as instructions.

use super::failure::stops;
use super::measure::{Measured, measure};
use super::models::scoped;
use crate::Trial;
use dspy_core::evaluate::Progress;
use dspy_core::util::snippet;
use dspy_core::{DynPredictor, LM, Module, Predict, Result, Signature};
use futures_util::{StreamExt, stream};

/// One call of a proposer signature on the prompt model: at `temperature`, with `rollout` so
/// that otherwise identical calls get fresh samples instead of the cached answer.
pub(crate) async fn propose<S: Signature>(
    lm: Option<&LM>,
    input: S::Input,
    temperature: f32,
    rollout: Option<u64>,
) -> Result<S::Output> {
    let mut predict = Predict::<S>::new().temperature(temperature);
    predict.config.rollout_id = rollout;
    scoped(lm, predict.call(input)).await
}

/// The proposer calls of `inputs` (each with its rollout id), `concurrency` at a time, in
/// order, each with the LM usage and time it took; `progress` steps as each one ends.
pub(crate) async fn propose_all<S: Signature>(
    lm: Option<&LM>,
    temperature: f32,
    inputs: Vec<(S::Input, u64)>,
    concurrency: usize,
    progress: &Progress,
) -> Vec<Measured<Result<S::Output>>> {
    stream::iter(inputs)
        .map(|(input, rollout)| measure(propose::<S>(lm, input, temperature, Some(rollout))))
        .buffered(concurrency)
        .inspect(|_| progress.step(String::new))
        .collect()
        .await
}

/// A proposal call read back: its trial (`label` and the start of the instruction) and the
/// instruction, if there is one. A call that failed is a failed trial, unless its error ends
/// the compile (a budget, no LM), which is returned.
pub(crate) fn read_proposal(
    label: &str,
    call: Measured<Result<Option<String>>>,
) -> Result<(Trial, Option<String>)> {
    let trial = |what: String| Trial::new(what, None, &call.usage, call.elapsed);
    match call.outcome {
        Ok(Some(instruction)) => Ok((
            trial(format!("{label}: {}", snippet(&instruction, 40))),
            Some(instruction),
        )),
        Ok(None) => {
            let mut empty = trial(format!("{label}: empty"));
            empty.error = Some("the prompt model proposed empty instructions".into());
            Ok((empty, None))
        }
        Err(error) if stops(&error) => Err(error),
        Err(error) => Ok((trial(format!("{label}: failed")).failed(&error), None)),
    }
}

/// A proposal as an instruction: trimmed, without the quotes models like to wrap it in;
/// `None` when nothing is left.
pub(crate) fn clean_instruction(text: &str) -> Option<String> {
    let text = text.trim().trim_matches('"').trim();
    // A model that echoes the field's label ("Proposed Instruction: ...") means what follows.
    let text = match text.split_once(':') {
        Some((label, rest)) if label.to_lowercase().contains("instruction") && label.len() < 30 => {
            rest.trim()
        }
        _ => text,
    };
    (!text.is_empty()).then(|| text.to_string())
}

/// A predictor in words: its name, signature name, fields (type, description) and current
/// instructions. This is the "program code" the prompt model reads (DSPy shows Python source;
/// a Rust program's structure is its signatures).
pub(crate) fn describe_predictor(name: &str, predictor: &dyn DynPredictor) -> String {
    let info = predictor.signature();
    let mut text = format!("Predictor `{name}` (signature `{}`)\n", info.name);
    for (role, fields) in [("Input", &info.inputs), ("Output", &info.outputs)] {
        for field in fields.iter() {
            text.push_str(&format!("  {role} `{}` ({})", field.name, field.type_hint));
            if !field.desc.is_empty() {
                text.push_str(&format!(": {}", field.desc));
            }
            text.push('\n');
        }
    }
    text.push_str(&format!(
        "  Instructions: {}\n",
        predictor.effective_instructions()
    ));
    text
}

/// The predictor's signature in one line: `Predict(question, topic) -> answer`.
pub(crate) fn module_line(name: &str, predictor: &dyn DynPredictor) -> String {
    let info = predictor.signature();
    let names = |fields: &[dspy_core::FieldSpec]| {
        fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{name}: Predict({}) -> {}",
        names(&info.inputs),
        names(&info.outputs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_cleaned_of_quotes_and_labels() {
        assert_eq!(
            clean_instruction("  \"Answer tersely.\" ").as_deref(),
            Some("Answer tersely.")
        );
        assert_eq!(
            clean_instruction("Proposed instruction: Be brief.").as_deref(),
            Some("Be brief.")
        );
        assert_eq!(
            clean_instruction("Note: keep it short").as_deref(),
            Some("Note: keep it short")
        );
        assert_eq!(clean_instruction(" \"\" "), None);
    }

    #[test]
    fn snippets_are_one_line_and_cut() {
        assert_eq!(snippet("a\n b", 10), "a b");
        assert_eq!(snippet("abcdefghij", 5), "abcd…");
    }
}
