use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
    notes: String,
}

fn main() {}
