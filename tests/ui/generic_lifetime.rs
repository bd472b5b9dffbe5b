use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA<'a> {
    #[input]
    question: &'a str,
    #[output]
    answer: String,
}

fn main() {}
