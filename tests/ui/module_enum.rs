use dspy::prelude::*;

/// Answer briefly.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[derive(Module)]
enum Program {
    Fast(Predict<QA>),
    Careful(ChainOfThought<QA>),
}

fn main() {}
