use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
#[input]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
