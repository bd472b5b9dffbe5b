use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct QA {
    #[input]
    question: String,
    #[output]
    short_answer: String,
    #[output]
    #[serde(rename = "shortAnswer")]
    answer: String,
}

fn main() {}
