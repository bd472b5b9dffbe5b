use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input(desc = 3)]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
