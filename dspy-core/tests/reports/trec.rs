//! The fixture: TREC questions from the examples' data, and evaluations of a scripted
//! classifier on them (DummyLm answers each question with a chosen label).

use dspy_core::data::Rng;
use dspy_core::evaluate::{Evaluate, EvaluationReport};
use dspy_core::{DummyLm, LM, Predict};
use dspy_macros::Signature;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

pub(crate) const LABELS: [&str; 6] = [
    "abbreviation",
    "description",
    "entity",
    "human",
    "location",
    "number",
];

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
pub(crate) struct Classify {
    #[input]
    pub question: String,
    #[output]
    pub label: Kind,
}

pub(crate) type Report = EvaluationReport<Classify, ClassifyOutput>;

/// The first `n` questions of the TREC training file.
pub(crate) fn questions(n: usize) -> Vec<Classify> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/data/trec/train.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .take(n)
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap();
            Classify {
                question: row["question"].as_str().unwrap().to_string(),
                label: serde_json::from_value(row["label"].clone()).unwrap(),
            }
        })
        .collect()
}

pub(crate) fn gold(example: &Classify) -> &'static str {
    LABELS[example.label as usize]
}

/// A classifier's answers: the gold label with probability `accuracy`, else the class it is
/// most often confused with; a `failures` share of answers does not parse.
pub(crate) fn answers(devset: &[Classify], accuracy: f64, failures: f64, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    devset
        .iter()
        .map(|ex| {
            let draw = rng.next_f64();
            let label = if draw < failures {
                "not a class"
            } else if draw < failures + accuracy {
                gold(ex)
            } else {
                confused(gold(ex), &mut rng)
            };
            json!({ "label": label })
        })
        .collect()
}

fn confused(gold: &str, rng: &mut Rng) -> &'static str {
    let likely = match gold {
        "description" => "entity",
        "entity" => "description",
        "human" => "entity",
        "number" => "description",
        "location" => "entity",
        _ => "description",
    };
    if rng.next_f64() < 0.7 {
        likely
    } else {
        LABELS
            .iter()
            .copied()
            .find(|l| *l != gold && *l != likely)
            .unwrap()
    }
}

/// Evaluates the scripted classifier (`answers[i]` for `devset[i]`) with exact match.
pub(crate) async fn evaluate(devset: &[Classify], answers: &[Value]) -> Report {
    let keyed = devset
        .iter()
        .zip(answers)
        .map(|(ex, answer)| (ex.question.clone(), answer.clone()));
    let lm = LM::new(DummyLm::keyed(keyed));
    let metric = |ex: &Classify, out: &ClassifyOutput| ex.label == out.label;
    Evaluate::new(metric)
        .progress(false)
        .concurrency(4)
        .run(&Predict::<Classify>::new().with_lm(lm), devset)
        .await
        .unwrap()
}

/// The label the report's output has for `question`, or `None` when the call failed.
pub(crate) fn predicted(report: &Report, question: &str) -> Option<&'static str> {
    let result = report
        .results
        .iter()
        .find(|r| r.example.question == question)
        .unwrap();
    result
        .output
        .as_ref()
        .ok()
        .map(|o| LABELS[o.label as usize])
}
