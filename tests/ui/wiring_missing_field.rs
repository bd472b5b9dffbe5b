// `then` cannot fill `context`: the first step calls it `passages`.
use dspy::prelude::*;

/// Find passages about the question.
#[derive(Signature, Clone, Debug)]
struct Retrieve {
    #[input]
    question: String,
    #[output]
    passages: Vec<String>,
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
    let _ = Predict::<Retrieve>::new().then(Predict::<Answer>::new());
}
