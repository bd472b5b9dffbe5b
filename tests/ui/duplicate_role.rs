use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input(desc = "a question")]
    #[input(prefix = "Q:")]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
