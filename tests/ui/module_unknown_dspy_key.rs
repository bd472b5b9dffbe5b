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
#[dspy(krate = "dspy")]
struct Program {
    #[dspy(skipp)]
    answer: Predict<QA>,
    #[dspy(skip = true)]
    retries: u32,
}

fn main() {}
