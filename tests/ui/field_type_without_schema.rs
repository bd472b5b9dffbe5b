use dspy::prelude::*;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Plain {
    text: String,
}

#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: Plain,
}

fn main() {}
