// A metric type that does not implement `Metric` (a DSPy habit: a metric class with a
// `__call__`): the error says what a metric is, and that DSPy's `trace` argument has no place.
use dspy::evaluate::Evaluate;
use dspy::prelude::*;

/// Answer the question.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

struct ExactMatch;

impl ExactMatch {
    #[allow(dead_code)]
    fn call(&self, example: &QA, output: &QAOutput) -> bool {
        example.answer == output.answer
    }
}

async fn evaluate(program: &Predict<QA>, devset: &[QA]) {
    let _ = Evaluate::new(ExactMatch).run(program, devset).await;
}

fn main() {
    let _ = evaluate;
}
