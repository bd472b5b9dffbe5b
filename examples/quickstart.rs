//! Quickstart: a typed question classifier, run against whatever LM the environment names.
//!
//! ```sh
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --example quickstart
//! # or any OpenAI-compatible server:
//! DSPY_LM=ollama/llama3.2 cargo run --example quickstart
//! ```

use dspy::prelude::*;

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum QuestionKind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct ClassifyQuestion {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: QuestionKind,
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    dspy::configure(LM::from_env()?);
    let classify = Predict::<ClassifyQuestion>::new().with_demos([
        ClassifyQuestion {
            question: "What does NASA stand for ?".into(),
            label: QuestionKind::Abbreviation,
        },
        ClassifyQuestion {
            question: "Who wrote Hamlet ?".into(),
            label: QuestionKind::Human,
        },
    ]);
    for question in [
        "Who was Galileo ?",
        "How far is it from Denver to Aspen ?",
        "What is a golden parachute ?",
    ] {
        let prediction = classify
            .forward(ClassifyQuestionInput {
                question: question.into(),
            })
            .await?;
        println!(
            "{question:45} -> {:?} ({} tokens)",
            prediction.label,
            prediction.usage.total()
        );
    }
    Ok(())
}
