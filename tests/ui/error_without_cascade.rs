// One mistake, one error: the derive still emits `QAInput`, `QAOutput` and the trait impls, so
// the code that uses them reports nothing more.
use dspy::prelude::*;

/// Find passages about the question.
#[derive(Signature, Clone, Debug)]
struct Retrieve {
    #[input]
    question: String,
    #[output]
    passages: Vec<String>,
}

/// Answer from the passages.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input(desc = "a question", prefx = "Q:")]
    question: String,
    #[input]
    passages: Vec<String>,
    #[output]
    answer: String,
}

fn main() {
    let input = QAInput {
        question: "Why?".into(),
        passages: vec![],
    };
    let output = QAOutput {
        answer: "Because.".into(),
    };
    let example = QA::from_parts(input, output);
    let _: &String = &example.input().question;
    let _ = QA::info().instructions.len();
    let _ = Predict::<QA>::new().with_demos(vec![example]);
    let _ = Predict::<Retrieve>::new().then(ChainOfThought::<QA>::new());
}
