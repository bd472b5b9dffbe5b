use dspy::prelude::*;

#[derive(Module)]
union Program {
    a: u32,
    b: f32,
}

fn main() {}
