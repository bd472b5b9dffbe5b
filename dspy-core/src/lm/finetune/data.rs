//! [`TrainingData`]: the examples of a fine-tuning run, per predictor.

use crate::adapter::TrainingExample;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The examples to fine-tune one model on, grouped by the predictor (task) they teach.
///
/// Predictors that share an LM are trained together in one multi-task run: every predictor's
/// examples go into the same data. Predictors are kept in name order and each one's examples
/// in the order added, so the same examples always make the same data (and the same
/// [`Finetune::key`](super::Finetune::key)). All examples must be of one kind: chat messages, or
/// text prompts for a base model.
///
/// ```
/// use dspy_core::adapter::{Message, Prompt, TrainingExample};
/// use dspy_core::lm::TrainingData;
/// let example = |q: &str, a: &str| TrainingExample {
///     prompt: Prompt::Chat(vec![Message::user(q)]),
///     completion: a.into(),
/// };
/// let data = TrainingData::new()
///     .with("answer", example("2+2?", "4"))
///     .with("classify", example("Who was Galileo?", "HUM"))
///     .with("answer", example("3+3?", "6"));
/// assert_eq!(data.len(), 3);
/// assert_eq!(data.predictors().collect::<Vec<_>>(), ["answer", "classify"]);
/// assert_eq!(data.examples("answer").len(), 2);
/// assert!(data.is_chat().unwrap());
/// // OpenAI's fine-tuning JSONL, a line per example:
/// let jsonl = data.to_jsonl().unwrap();
/// assert_eq!(jsonl.lines().count(), 3);
/// assert!(jsonl.starts_with(r#"{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}]}"#));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingData {
    tasks: BTreeMap<String, Vec<TrainingExample>>,
}

impl TrainingData {
    /// No examples.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `example` to `predictor`'s examples.
    pub fn push(&mut self, predictor: impl Into<String>, example: TrainingExample) {
        self.tasks
            .entry(predictor.into())
            .or_default()
            .push(example);
    }

    /// [`push`](Self::push), by value.
    #[must_use]
    pub fn with(mut self, predictor: impl Into<String>, example: TrainingExample) -> Self {
        self.push(predictor, example);
        self
    }

    /// The predictors with examples, in name order.
    pub fn predictors(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }

    /// `predictor`'s examples (none when it has none).
    pub fn examples(&self, predictor: &str) -> &[TrainingExample] {
        self.tasks.get(predictor).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every example with its predictor: predictors in name order, each one's examples in the
    /// order added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TrainingExample)> {
        self.tasks
            .iter()
            .flat_map(|(name, examples)| examples.iter().map(move |e| (name.as_str(), e)))
    }

    /// How many examples, over all predictors.
    pub fn len(&self) -> usize {
        self.tasks.values().map(Vec::len).sum()
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the examples are chat messages (`true`) or text prompts (`false`); an
    /// [`Error::Config`] when there are none or both kinds are mixed (one model is trained
    /// either as a chat model or as a base model).
    pub fn is_chat(&self) -> Result<bool> {
        let mut kinds = self.iter().map(|(name, e)| (name, e.is_chat()));
        let Some((first_name, first)) = kinds.next() else {
            return Err(Error::config(
                "no training examples: a fine-tune needs at least one (did any trace pass the metric?)",
            ));
        };
        match kinds.find(|(_, chat)| *chat != first) {
            None => Ok(first),
            Some((other, _)) => Err(Error::config(format!(
                "the training data mixes chat examples and text examples (`{first_name}` and \
                 `{other}`): one model is fine-tuned as a chat model or as a base model; render \
                 every predictor that shares the LM with the same kind of adapter"
            ))),
        }
    }

    /// The examples in OpenAI's fine-tuning format, one JSON object a line, in
    /// [`iter`](Self::iter)'s order; an [`Error::Config`] as [`is_chat`](Self::is_chat) says.
    pub fn to_jsonl(&self) -> Result<String> {
        self.is_chat()?;
        let mut out = String::new();
        for (_, example) in self.iter() {
            out.push_str(&serde_json::to_string(&example.to_openai_json())?);
            out.push('\n');
        }
        Ok(out)
    }

    /// A rough count of the tokens in one pass over the data (4 characters a token, as the
    /// optimizers' estimates count), for budgets and cost estimates before anything is sent.
    pub fn estimated_tokens(&self) -> u64 {
        let chars: usize = self
            .iter()
            .map(|(_, e)| e.prompt.to_text().chars().count() + e.completion.chars().count())
            .sum();
        (chars as u64).div_ceil(4)
    }
}
