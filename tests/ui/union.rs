use dspy::prelude::*;

#[derive(Signature)]
union QA {
    question: u32,
    answer: f32,
}

fn main() {}
