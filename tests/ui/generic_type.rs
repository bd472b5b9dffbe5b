use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA<T> {
    #[input]
    question: T,
    #[output]
    answer: String,
}

fn main() {}
