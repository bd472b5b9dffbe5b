use dspy::prelude::*;

/// Answer briefly.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

struct Tokenizer;

#[derive(Module)]
struct Program {
    answer: ChainOfThought<QA>,
    tokenizer: Tokenizer,
    cache: Vec<String>,
}

fn main() {}
