use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
#[serde(rename_all = "Title Case")]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
