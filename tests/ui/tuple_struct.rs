use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct QA(String, String);

fn main() {}
