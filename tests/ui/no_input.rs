use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct OnlyOutput {
    #[output]
    answer: String,
}

fn main() {}
