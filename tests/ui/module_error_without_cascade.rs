// One mistake, one error: the derive still implements `Parameters`, so the code that lists the
// program's predictors reports nothing more.
use dspy::prelude::*;

/// Answer briefly.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[derive(Module)]
struct Program {
    answer: Predict<QA>,
    #[dspy(skipp)]
    retries: u32,
}

fn names(program: &impl Parameters) -> Vec<String> {
    program.predictors().into_iter().map(|(name, _)| name).collect()
}

fn main() {
    let program = Program {
        answer: Predict::new(),
        retries: 2,
    };
    let _ = names(&program);
}
