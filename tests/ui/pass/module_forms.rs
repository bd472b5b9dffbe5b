// Every accepted form of `#[derive(Module)]` compiles, with the prelude alone.
#![deny(warnings)]

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

/// The derive and a hand-written `impl Module` live together.
#[derive(Module)]
struct Program {
    answer: ChainOfThought<QA>,
    #[dspy(skip)]
    tokenizer: Tokenizer,
}

impl Module for Program {
    type Input = QAInput;
    type Output = QAOutput;
    async fn call(&self, input: QAInput) -> dspy::Result<QAOutput> {
        Ok(self.answer.call(input).await?.output)
    }
}

#[derive(Module)]
struct Generic<R, T = Predict<QA>>
where
    R: Send,
{
    retrieve: R,
    steps: Vec<T>,
    fallback: Option<Box<Predict<QA>>>,
}

#[derive(Module)]
struct Tuple(Predict<QA>, #[dspy(skip)] u32, ChainOfThought<QA>);

#[derive(Module)]
struct Unit;

#[derive(Module)]
#[dspy(crate = "dspy")]
struct Borrowed<'a, const N: usize> {
    r#type: Predict<QA>,
    #[dspy(skip)]
    label: &'a str,
    #[dspy(skip)]
    sizes: [usize; N],
}

#[derive(Module)]
#[allow(non_snake_case)]
struct Shadowing {
    Predict: Predict<QA>,
    QA: Option<Predict<QA>>,
}

#[derive(Module)]
struct Recursive {
    step: Predict<QA>,
    next: Option<Box<Self>>,
}

fn names(p: &impl Parameters) -> Vec<String> {
    p.predictor_names()
}

fn main() {
    let program = Program { answer: ChainOfThought::new(), tokenizer: Tokenizer };
    let _ = (names(&program), &program.tokenizer);
    let generic: Generic<Program> = Generic { retrieve: program, steps: vec![], fallback: None };
    let _ = names(&generic);
    let tuple = Tuple(Predict::new(), 0, ChainOfThought::new());
    let _ = (names(&tuple), tuple.1);
    let _ = names(&Unit);
    let borrowed = Borrowed::<'_, 2> { r#type: Predict::new(), label: "x", sizes: [1, 2] };
    let _ = (names(&borrowed), borrowed.label, borrowed.sizes);
    let _ = names(&Shadowing { Predict: Predict::new(), QA: None });
    let _ = names(&Recursive { step: Predict::new(), next: None });
}
