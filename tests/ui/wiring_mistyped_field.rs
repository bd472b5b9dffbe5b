// `then` cannot fill `context`: the first step's `context` is one string, not a list.
use dspy::prelude::*;

/// Find the passage about the question.
#[derive(Signature, Clone, Debug)]
struct Retrieve {
    #[input]
    question: String,
    #[output]
    context: String,
}

/// Answer from the context.
#[derive(Signature, Clone, Debug)]
struct Answer {
    #[input]
    question: String,
    #[input]
    context: Vec<String>,
    #[output]
    answer: String,
}

fn main() {
    let _ = ChainOfThought::<Retrieve>::new().then(Predict::<Answer>::new());
}
