//! What the instruction optimizers cost on their own: COPRO, MIPROv2, GEPA and SIMBA compile a
//! TREC classifier against `DummyLm` (which answers at once), so the time is the optimizer's and
//! the framework's, not a model's. `benches/dspy/compile_speed.py` runs Python DSPy's four with
//! the same settings, split and answers, for comparison.
//!
//! Run with `cargo bench --bench compile_speed` (median of 5 compiles each).

use dspy::prelude::*;
use serde_json::json;
use std::future::Future;
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

const ROUNDS: usize = 5;
const CONCURRENCY: usize = 16;

/// One answer for every prompt: every output field any optimizer's signatures ask for.
fn lm() -> (LM, DummyLm) {
    let dummy = DummyLm::keyed([(
        "",
        json!({
            "label": "human",
            "proposed_instruction": "Classify the question by the kind of answer it expects, carefully.",
            "observations": "Short factual questions.",
            "summary": "Short factual questions in English.",
            "program_description": "It classifies questions.",
            "module_description": "It classifies one question.",
            "new_instruction": "Classify the question; think about what the answer is.",
            "discussion": "The label was wrong.",
            "module_advice": {"self": "Look at the question word."},
        }),
    )]);
    (LM::new(dummy.clone()), dummy)
}

fn metric(ex: &Classify, out: &ClassifyOutput) -> bool {
    ex.label == out.label
}

fn feedback(ex: &Classify, out: &ClassifyOutput) -> (f64, String) {
    if ex.label == out.label {
        (1.0, "Correct.".into())
    } else {
        (0.0, format!("Expected {:?}.", ex.label))
    }
}

/// The median time of `ROUNDS` compiles, and the LM calls of one.
fn time<F, Fut>(runtime: &tokio::runtime::Runtime, name: &str, compile: F)
where
    F: Fn(LM) -> Fut,
    Fut: Future<Output = dspy::Result<()>>,
{
    let mut times: Vec<Duration> = Vec::new();
    let mut calls = 0;
    for _ in 0..ROUNDS {
        let (lm, dummy) = lm();
        let started = Instant::now();
        runtime
            .block_on(with_lm(lm.clone(), compile(lm)))
            .expect("compile");
        times.push(started.elapsed());
        calls = dummy.requests().len();
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "  {name:<8} {:>9.1} ms, {calls:>5} LM calls",
        median.as_secs_f64() * 1e3
    );
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
    let all: Vec<Classify> = dspy::data::load_jsonl(path).expect("TREC data");
    let all = dspy::data::shuffled(all, 0);
    let (train, val) = (&all[..100], &all[100..150]);
    let program = Predict::<Classify>::new();
    println!(
        "compile_speed: 100 train, 50 validation TREC questions, DummyLm, concurrency \
         {CONCURRENCY}, median of {ROUNDS}"
    );
    time(&runtime, "COPRO", |_| async {
        COPRO::new(metric)
            .breadth(4)
            .depth(2)
            .concurrency(CONCURRENCY)
            .progress(false)
            .compile(&program, val)
            .await
            .map(drop)
    });
    time(&runtime, "MIPROv2", |_| async {
        MIPROv2::new(metric)
            .num_candidates(6)
            .num_trials(20)
            .minibatch_size(25)
            .max_bootstrapped_demos(4)
            .max_labeled_demos(4)
            .concurrency(CONCURRENCY)
            .progress(false)
            .compile_with_valset(&program, train, val)
            .await
            .map(drop)
    });
    time(&runtime, "GEPA", |lm| async {
        GEPA::new(feedback)
            .max_metric_calls(400)
            .reflection_lm(lm)
            .concurrency(CONCURRENCY)
            .progress(false)
            .compile_with_valset(&program, train, val)
            .await
            .map(drop)
    });
    time(&runtime, "SIMBA", |_| async {
        SIMBA::new(metric)
            .bsize(16)
            .num_candidates(4)
            .max_steps(4)
            .concurrency(CONCURRENCY)
            .progress(false)
            .compile(&program, val)
            .await
            .map(drop)
    });
}
