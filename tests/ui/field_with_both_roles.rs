use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    #[output]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
