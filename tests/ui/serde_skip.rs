use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
    #[output]
    #[serde(skip)]
    scratch: String,
}

fn main() {}
