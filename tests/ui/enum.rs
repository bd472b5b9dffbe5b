use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
enum QA {
    Question(String),
    Answer(String),
}

fn main() {}
