//! [`Provenance`]: where a demo came from (the training example, how it became a demo, the
//! trial that chose it), and [`example_id`], the stable id of an example.

use crate::lm::canonical_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// Where a demo came from: the training example it was made from, whether it is that example's
/// own fields (labeled) or a successful run on it (bootstrapped, and in which round), and the
/// trial of the compile that chose it, with that trial's score.
///
/// Optimizers record it on every demo they set; a demo made by hand has none. Saved programs
/// keep it, so a demo in a file can be traced back to its training example (by
/// [`example_id`], the id [`EvaluationReport::compare`](crate::evaluate::EvaluationReport::compare)
/// pairs examples by) and to the trial of the [`CompileReport`] that chose it.
///
/// [`CompileReport`]: https://docs.rs/dspy-optimize/latest/dspy_optimize/struct.CompileReport.html
///
/// ```
/// use dspy_core::module::{DemoSource, Provenance, example_id};
/// use serde_json::json;
///
/// let example = json!({"question": "Who was Galileo ?", "label": "human"});
/// let demo = Provenance::bootstrapped(example_id(&example), 1)
///     .chosen_by("BootstrapFewShotWithRandomSearch", 4, Some(0.82));
/// assert_eq!(demo.source, DemoSource::Bootstrapped);
/// assert_eq!(demo.to_string(), format!(
///     "bootstrapped from example {} in round 1, chosen by trial #4 of \
///      BootstrapFewShotWithRandomSearch (score 0.820)", demo.example));
/// assert_eq!(serde_json::to_value(&demo).unwrap(), json!({
///     "example": example_id(&example),
///     "source": "bootstrapped",
///     "round": 1,
///     "chosen_by": {"optimizer": "BootstrapFewShotWithRandomSearch", "trial": 4, "score": 0.82}
/// }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Provenance {
    /// The training example's id: its content hash ([`example_id`]), or the id its user gave
    /// it (an optimizer's `id_field`).
    pub example: String,
    /// How the example became a demo.
    pub source: DemoSource,
    /// The bootstrap round whose run passed the metric (0 is the first try), for a
    /// bootstrapped demo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u32>,
    /// The trial that chose the demo, when the optimizer chose between scored candidates (or
    /// scored the run the demo was bootstrapped from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_by: Option<ChosenBy>,
}

/// How a demo was made from its training example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DemoSource {
    /// The example's own fields (those the predictor's signature has).
    Labeled,
    /// A predictor's call in a run of the program on the example that the metric accepted.
    Bootstrapped,
}

/// The trial that chose a demo: which optimizer's report, which trial in it, and its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChosenBy {
    /// The optimizer whose report holds the trial (`CompileReport::optimizer`).
    pub optimizer: String,
    /// The trial's index in that report's `trials`.
    pub trial: usize,
    /// The trial's score, when it was scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

impl Provenance {
    /// A labeled demo: the fields of the example with id `example`.
    pub fn labeled(example: impl Into<String>) -> Self {
        Provenance {
            example: example.into(),
            source: DemoSource::Labeled,
            round: None,
            chosen_by: None,
        }
    }

    /// A demo bootstrapped from a run on the example with id `example` that passed in `round`.
    pub fn bootstrapped(example: impl Into<String>, round: u32) -> Self {
        Provenance {
            example: example.into(),
            source: DemoSource::Bootstrapped,
            round: Some(round),
            chosen_by: None,
        }
    }

    /// The same, chosen by trial `trial` (of score `score`) of `optimizer`'s report.
    #[must_use]
    pub fn chosen_by(
        mut self,
        optimizer: impl Into<String>,
        trial: usize,
        score: Option<f64>,
    ) -> Self {
        self.chosen_by = Some(ChosenBy {
            optimizer: optimizer.into(),
            trial,
            score,
        });
        self
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            DemoSource::Labeled => "labeled",
            DemoSource::Bootstrapped => "bootstrapped",
        };
        write!(f, "{source} from example {}", self.example)?;
        if let Some(round) = self.round {
            write!(f, " in round {round}")?;
        }
        if let Some(chosen) = &self.chosen_by {
            write!(
                f,
                ", chosen by trial #{} of {}",
                chosen.trial, chosen.optimizer
            )?;
            if let Some(score) = chosen.score {
                write!(f, " (score {score:.3})")?;
            }
        }
        Ok(())
    }
}

/// The stable id of an example: the first 16 hex digits (64 bits) of the SHA-256 of its
/// canonical JSON (keys sorted, no spaces), inputs and gold outputs together.
///
/// The same example has the same id in every process and on every platform, whatever the order
/// of its fields; it is how [`EvaluationReport::compare`](crate::evaluate::EvaluationReport::compare)
/// pairs examples, and how a demo's [`Provenance`] names its training example.
///
/// ```
/// use dspy_core::module::example_id;
/// use serde_json::json;
/// let a = example_id(&json!({"question": "2+2?", "answer": "4"}));
/// assert_eq!(a, example_id(&json!({"answer": "4", "question": "2+2?"})));
/// assert_ne!(a, example_id(&json!({"question": "2+2?", "answer": "5"})));
/// assert_eq!(a.len(), 16);
/// ```
pub fn example_id(example: &Value) -> String {
    let digest = Sha256::digest(canonical_json(example).as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `ids` with repeats told apart: the second of an id becomes `id#2`, the third `id#3` (the
/// first is left as it is). Identical examples are interchangeable, so numbering them in order
/// keeps every id unique, as [`example_id`]s of a data set must be to pair examples.
///
/// ```
/// use dspy_core::module::number_repeats;
/// let ids = number_repeats(["a", "b", "a", "a"].map(String::from));
/// assert_eq!(ids, ["a", "b", "a#2", "a#3"]);
/// ```
pub fn number_repeats(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    ids.into_iter()
        .map(|id| {
            let count = seen.entry(id.clone()).or_insert(0);
            *count += 1;
            match *count {
                1 => id,
                n => format!("{id}#{n}"),
            }
        })
        .collect()
}
