//! A two-stage pipeline wired with `then`: the first stage names what a question is about, the
//! second classifies the question by the kind of answer it expects, seeing both the question
//! (the first stage's input) and the focus (its output). The compiler checks the wiring: rename
//! `focus` in one signature and this example stops compiling, with an error naming the field.
//!
//! ```sh
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --example pipeline
//! # or any OpenAI-compatible server:
//! DSPY_LM=ollama/llama3.2 cargo run --example pipeline
//! ```

use dspy::module::trace;
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

/// Name the thing the question asks for, in a few words.
#[derive(Signature, Clone, Debug)]
struct FindFocus {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "what the answer must be, e.g. `a person's name`, `a distance`")]
    focus: String,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct ClassifyQuestion {
    #[input(desc = "a question in English")]
    question: String,
    #[input(desc = "what the answer must be")]
    focus: String,
    #[output(desc = "the kind of answer the question expects")]
    label: QuestionKind,
}

/// Questions from the TREC question classification training set, with their gold labels.
const QUESTIONS: [(&str, QuestionKind); 6] = [
    (
        "How did serfdom develop in and then leave Russia ?",
        QuestionKind::Description,
    ),
    (
        "What films featured the character Popeye Doyle ?",
        QuestionKind::Entity,
    ),
    (
        "What is the full form of .com ?",
        QuestionKind::Abbreviation,
    ),
    (
        "What team did baseball s St. Louis Browns become ?",
        QuestionKind::Human,
    ),
    ("When was Ozzy Osbourne born ?", QuestionKind::Number),
    (
        "What sprawling U.S. state boasts the most airports ?",
        QuestionKind::Location,
    ),
];

#[tokio::main]
async fn main() -> dspy::Result<()> {
    let lm = match LM::from_env() {
        Ok(lm) => lm,
        Err(error) => {
            eprintln!(
                "{error}\n\nThis example calls a real LM. Run it with, for example:\n  \
                 DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --example pipeline\n  \
                 DSPY_LM=ollama/llama3.2 cargo run --example pipeline"
            );
            return Ok(());
        }
    };
    dspy::configure(lm);

    // `question` reaches the second stage from the first stage's input, `focus` from its output.
    let pipeline = Predict::<FindFocus>::new().then(ChainOfThought::<ClassifyQuestion>::new());
    println!("predictors: {:?}\n", pipeline.predictor_names());

    let mut correct = 0;
    for (question, gold) in QUESTIONS {
        let input = FindFocusInput {
            question: question.into(),
        };
        // The trace shows the first stage's output, which the pipeline passes on.
        let (result, calls) = trace::trace(pipeline.call(input)).await;
        let focus = calls
            .entries
            .first()
            .and_then(|call| call.output.get("focus"))
            .and_then(|focus| focus.as_str())
            .unwrap_or("?")
            .to_string();
        match result {
            Ok(out) => {
                correct += usize::from(out.label == gold);
                println!(
                    "{question:52} focus: {focus:30} -> {:?} (gold {gold:?})",
                    out.label
                );
            }
            Err(error) => println!("{question:52} failed: {error}"),
        }
    }
    println!("\n{correct}/{} correct", QUESTIONS.len());
    Ok(())
}
