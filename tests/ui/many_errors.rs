use dspy::prelude::*;

// Every problem is reported in one compile.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input(desc = "a question", prefx = "Q:")]
    question: String,
    #[output(desc = 42)]
    answer: String,
    notes: String,
}

fn main() {}
