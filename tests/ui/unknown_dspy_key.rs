use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
#[dspy(krate = "dspy_core")]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
