use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct OnlyInput {
    #[input(desc = "a question")]
    question: String,
}

fn main() {}
