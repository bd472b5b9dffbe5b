use dspy::prelude::*;

// The derive writes Serialize and Deserialize for the struct itself.
#[derive(Signature, Clone, Debug, Serialize, Deserialize)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn main() {}
