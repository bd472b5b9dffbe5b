//! One `Predict` call of a three-field signature on `DummyLm`: formatting and parsing, no network.
//! Target: under 20 µs per call.

use criterion::Criterion;
use dspy::prelude::*;
use serde_json::json;
use std::hint::black_box;

/// Answer the question from the context.
#[derive(Signature, Clone, Debug)]
struct ContextQa {
    #[input(desc = "facts that may help")]
    context: String,
    #[input(desc = "a question")]
    question: String,
    #[output(desc = "often between 1 and 5 words")]
    answer: String,
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let lm = LM::new(DummyLm::keyed([("", json!({"answer": "Paris"}))]).without_recording());
    let predict = Predict::<ContextQa>::new().with_lm(lm);
    let input = ContextQaInput {
        context: "Paris is the capital and largest city of France.".into(),
        question: "What is the capital of France?".into(),
    };
    c.bench_function("predict_overhead", |b| {
        b.iter(|| {
            let out = runtime
                .block_on(predict.call(black_box(input.clone())))
                .expect("call");
            black_box(out)
        })
    });
}

// What `criterion_group!` and `criterion_main!` expand to, written out: the group function they
// generate is `pub` and undocumented, which the workspace's `missing_docs` rejects.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
