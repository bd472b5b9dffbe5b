//! What `Evaluate` costs on top of running the program: 10,000 TREC questions through
//! `Predict` on `DummyLm`, once with `call_batch` alone and once with `Evaluate` (metric, report,
//! progress bar). Target: Evaluate adds under 5%.
//!
//! Run with `cargo bench --bench evaluate_overhead`; it prints the median of several rounds.

use dspy::evaluate::Evaluate;
use dspy::prelude::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input]
    question: String,
    #[output]
    label: Kind,
}

const N: usize = 10_000;
const ROUNDS: usize = 11;
const CONCURRENCY: usize = 32;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/trec/train.jsonl"
    );
    let trec: Vec<Classify> = dspy::data::load_jsonl(path).expect("TREC data");
    let devset: Vec<Classify> = trec.iter().cycle().take(N).cloned().collect();
    let lm = LM::new(DummyLm::keyed([("", json!({"label": "human"}))]).without_recording());
    let program = Predict::<Classify>::new().with_lm(lm);
    let metric = |ex: &Classify, out: &ClassifyOutput| ex.label == out.label;

    let mut batch_times = Vec::new();
    let mut eval_times = Vec::new();
    let mut score = 0.0;
    let run_batch = || {
        let started = Instant::now();
        // What a hand-written loop does: inputs from the examples, outputs scored by the metric.
        let inputs: Vec<ClassifyInput> = devset.iter().map(|e| e.input()).collect();
        let outputs = runtime.block_on(program.call_batch(inputs, CONCURRENCY));
        let right = devset
            .iter()
            .zip(&outputs)
            .filter(|(ex, out)| out.as_ref().is_ok_and(|o| metric(ex, o)))
            .count();
        assert_eq!(outputs.len(), N);
        (started.elapsed(), right as f64 / N as f64)
    };
    let run_eval = |score: &mut f64| {
        let started = Instant::now();
        let report = runtime
            .block_on(
                Evaluate::new(metric)
                    .concurrency(CONCURRENCY)
                    .run(&program, &devset),
            )
            .expect("evaluation");
        *score = report.score;
        started.elapsed()
    };
    // Alternate which goes first, so warm-up and machine noise fall on both alike.
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            batch_times.push(run_batch().0);
            eval_times.push(run_eval(&mut score));
        } else {
            eval_times.push(run_eval(&mut score));
            let (time, batch_score) = run_batch();
            batch_times.push(time);
            assert_eq!(batch_score, score);
        }
    }
    let batch = median(batch_times);
    let eval = median(eval_times);
    let overhead = eval.as_secs_f64() / batch.as_secs_f64() - 1.0;
    println!(
        "evaluate_overhead: {N} examples, concurrency {CONCURRENCY}, median of {ROUNDS} rounds"
    );
    println!(
        "  call_batch: {:>8.1} ms ({:.1} µs/example)",
        batch.as_secs_f64() * 1e3,
        batch.as_secs_f64() * 1e6 / N as f64
    );
    println!(
        "  Evaluate:   {:>8.1} ms ({:.1} µs/example), score {:.1}%",
        eval.as_secs_f64() * 1e3,
        eval.as_secs_f64() * 1e6 / N as f64,
        score * 100.0
    );
    println!("  overhead:   {:>8.1}%", overhead * 100.0);
}
