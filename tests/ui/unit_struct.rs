use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA;

fn main() {}
