use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
    #[output]
    #[serde(rename = "answer")]
    short_answer: String,
}

fn main() {}
