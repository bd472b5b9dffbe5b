use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input(description = "a question")]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
