//! What the instruction optimizers (COPRO, MIPROv2) share: predictors described in words for
//! a prompt model, proposal calls on the prompt model, candidate scoring on the task model, and
//! the step log that makes a compile resumable.

use crate::Trial;
use crate::checkpoint::Checkpoint;
use crate::demos::{ByRef, is_budget, is_fatal};
use dspy_core::evaluate::{Evaluate, Metric};
use dspy_core::{DynPredictor, Error, Example, LM, Module, Predict, Result, Signature, with_lm};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;

/// Runs `future` with `lm` as the configured LM, or as it is when there is none.
pub(crate) async fn scoped<F: Future>(lm: Option<&LM>, future: F) -> F::Output {
    match lm {
        Some(lm) => with_lm(lm.clone(), future).await,
        None => future.await,
    }
}

/// The models a compile runs on, for its checkpoint key: a checkpoint made with other models
/// belongs to another compile.
pub(crate) fn models_key(prompt: Option<&LM>, task: Option<&LM>) -> Value {
    let configured = dspy_core::lm::current_lm();
    let name = |lm: Option<&LM>| {
        lm.or(configured.as_ref())
            .map(|lm| lm.model().to_string())
            .unwrap_or_default()
    };
    serde_json::json!({ "prompt_model": name(prompt), "task_model": name(task) })
}

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

/// Whether an error must end the compile (a budget ran out, or no call can succeed) rather
/// than being recorded as one failed step.
pub(crate) fn stops(error: &Error) -> bool {
    is_budget(error) || is_fatal(error)
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

/// The first `chars` characters of `text` on one line, with an ellipsis when cut.
pub(crate) fn snippet(text: &str, chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= chars {
        return flat;
    }
    let cut: String = flat.chars().take(chars.saturating_sub(1)).collect();
    format!("{cut}…")
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

/// The score of `program` on `set` under the task model, through [`Evaluate`] (its examples
/// run `concurrency` at a time). A failed example scores 0; a budget that runs out, or an error
/// no call can fix, is returned.
pub(crate) async fn score_on<P, E, M>(
    metric: &M,
    program: &P,
    set: &[E],
    concurrency: usize,
    task_lm: Option<&LM>,
) -> Result<f64>
where
    P: Module,
    E: Example<Input = P::Input> + Clone,
    M: Metric<E, P::Output>,
{
    let evaluate = Evaluate::new(ByRef(metric))
        .concurrency(concurrency)
        .progress(false);
    let evaluation = scoped(task_lm, evaluate.run(program, set)).await?;
    if let Some(fatal) = evaluation
        .results
        .into_iter()
        .find_map(|r| r.output.err().filter(is_fatal))
    {
        return Err(fatal);
    }
    Ok(evaluation.score)
}

/// One finished step of a compile: what it gave and the trials it made.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    value: Value,
    trials: Vec<Trial>,
}

/// The log of a compile's finished steps (proposals, scores), saved to a [`Checkpoint`] after
/// each one.
///
/// A compile runs from the start every time; a step found in the log is replayed (its value
/// and trials taken as they were) instead of being run. Since every random draw is made
/// whether the step is replayed or not, a resumed compile takes the same path as one that was
/// never interrupted, and only the steps not yet logged cost LM calls.
#[derive(Debug)]
pub(crate) struct StepLog {
    checkpoint: Option<Checkpoint>,
    optimizer: &'static str,
    key: String,
    steps: BTreeMap<String, Recorded>,
}

impl StepLog {
    /// The log saved under `key` in `checkpoint`, or an empty one.
    pub(crate) fn open(
        checkpoint: Option<&Checkpoint>,
        optimizer: &'static str,
        key: String,
    ) -> Result<Self> {
        let steps = match checkpoint {
            Some(checkpoint) => checkpoint.load(optimizer, &key)?.unwrap_or_default(),
            None => BTreeMap::new(),
        };
        Ok(StepLog {
            checkpoint: checkpoint.cloned(),
            optimizer,
            key,
            steps,
        })
    }

    /// The value and trials of step `step`, when it was logged.
    pub(crate) fn replay<T: DeserializeOwned>(&self, step: &str) -> Option<(T, Vec<Trial>)> {
        let recorded = self.steps.get(step)?;
        let value = serde_json::from_value(recorded.value.clone()).ok()?;
        Some((value, recorded.trials.clone()))
    }

    /// Logs step `step` and saves the log.
    pub(crate) fn record<T: Serialize>(
        &mut self,
        step: &str,
        value: &T,
        trials: &[Trial],
    ) -> Result<()> {
        let recorded = Recorded {
            value: serde_json::to_value(value)?,
            trials: trials.to_vec(),
        };
        self.steps.insert(step.to_string(), recorded);
        match &self.checkpoint {
            Some(checkpoint) => checkpoint.save(self.optimizer, &self.key, &self.steps),
            None => Ok(()),
        }
    }
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

    #[test]
    fn the_step_log_replays_what_was_saved() {
        let path = std::env::temp_dir()
            .join(format!("dspy-steplog-{}", std::process::id()))
            .join("log.json");
        let checkpoint = Checkpoint::new(&path);
        let mut log = StepLog::open(Some(&checkpoint), "COPRO", "k".into()).unwrap();
        assert!(log.replay::<f64>("score/0").is_none());
        let trial = Trial::new(
            "x",
            Some(0.5),
            &Default::default(),
            std::time::Duration::ZERO,
        );
        log.record("score/0", &0.5, std::slice::from_ref(&trial))
            .unwrap();
        let reopened = StepLog::open(Some(&checkpoint), "COPRO", "k".into()).unwrap();
        assert_eq!(reopened.replay::<f64>("score/0"), Some((0.5, vec![trial])));
        let other = StepLog::open(Some(&checkpoint), "COPRO", "other".into()).unwrap();
        assert!(other.replay::<f64>("score/0").is_none());
        checkpoint.clear().unwrap();
    }
}
