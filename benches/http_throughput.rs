//! Evaluation-style throughput: many distinct LM calls, 32 at a time, over HTTP against the
//! zero-latency test server (tests/support/server.rs), in calls per second.
//!
//! `cargo bench --bench http_throughput` runs each setup 3 times with 4000 calls and prints the
//! median; under `cargo test` it makes a quick smoke pass. Setups: the plain backend
//! (`LM::new`); the production layers (`with_defaults`: memory + disk cache in a temp dir, every
//! call a miss, so every answer is also written to disk); the same calls again (all cache
//! hits); the production layers with a memory-only cache (misses).
//!
//! The server runs in the same process and shares the machine's cores with the client, so the
//! figures are a floor for what the client side can do.

#[path = "../tests/support/server.rs"]
mod server;

use dspy::adapter::{Message, Prompt};
use dspy::lm::{CacheConfig, LmRequest};
use dspy::prelude::*;
use server::{ServerConfig, TestServer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 32;

/// Answer questions with short factoid answers.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

/// `Predict` over `lm` with `call_batch`: requests `first..first + calls`; returns calls/s.
async fn batch_round(lm: &LM, first: usize, calls: usize) -> f64 {
    let predict = Predict::<QA>::new().with_lm(lm.clone());
    let inputs: Vec<QAInput> = (first..first + calls)
        .map(|i| QAInput {
            question: format!("Question number {i}?"),
        })
        .collect();
    let started = Instant::now();
    let outputs = predict.call_batch(inputs, CONCURRENCY).await;
    let rate = calls as f64 / started.elapsed().as_secs_f64();
    if let Some(Err(e)) = outputs.iter().find(|o| o.is_err()) {
        panic!("a call failed: {e}");
    }
    rate
}

/// Calls `lm` with requests `first..first + calls`, `CONCURRENCY` at a time; returns calls/s.
async fn round(lm: &LM, first: usize, calls: usize) -> f64 {
    let next = Arc::new(AtomicUsize::new(first));
    let end = first + calls;
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (lm, next) = (lm.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return;
                }
                let request = LmRequest::new(Prompt::Chat(vec![
                    Message::system("Answer questions with short factoid answers."),
                    Message::user(format!("[[ ## question ## ]]\nQuestion number {i}?")),
                ]));
                if let Err(e) = lm.complete(request).await {
                    panic!("call {i} failed: {e}");
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

/// Runs `rounds` rounds (starting at request `first`, each with new requests unless `repeat`)
/// and prints the median rate.
async fn measure(lm: &LM, label: &str, calls: usize, rounds: usize, first: usize, repeat: bool) {
    let mut rates = Vec::new();
    for r in 0..rounds {
        let start = if repeat { first } else { first + r * calls };
        rates.push(round(lm, start, calls).await);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "http_throughput/{label:<30} {calls} calls x {rounds}, concurrency {CONCURRENCY}: {median:>8.0} calls/s median ({:.1} µs/call; rounds {})",
        1e6 / median,
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (calls, rounds) = if full { (4000, 3) } else { (64, 1) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = TestServer::start(ServerConfig {
            record: false,
            ..ServerConfig::replies(&["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"])
        })
        .await;
        let backend = || {
            server
                .builder("/v1")
                .timeout(Duration::from_secs(30))
                .build()
                .expect("backend")
        };
        let dir = std::env::temp_dir().join(format!("dspy-bench-cache-{}", std::process::id()));

        let plain = LM::new(backend());
        round(&plain, 0, CONCURRENCY * 4).await; // warm-up: open the connections
        measure(&plain, "plain backend", calls, rounds, 0, false).await;

        let layered = LM::builder(backend())
            .with_defaults()
            .cache(CacheConfig::new().with_disk_dir(&dir))
            .build();
        round(&layered, 1_000_000, CONCURRENCY * 4).await;
        measure(
            &layered,
            "defaults, disk+memory misses",
            calls,
            rounds,
            0,
            false,
        )
        .await;
        measure(&layered, "defaults, cache hits", calls, rounds, 0, true).await;

        let memory = LM::builder(backend())
            .with_defaults()
            .cache(CacheConfig::memory_only())
            .build();
        round(&memory, 1_000_000, CONCURRENCY * 4).await;
        measure(
            &memory,
            "defaults, memory-only misses",
            calls,
            rounds,
            0,
            false,
        )
        .await;

        // What an evaluation does: typed Predict calls through call_batch, formatting and parsing
        // included, on the production layers (memory cache, every call a miss).
        batch_round(&memory, 2_000_000, CONCURRENCY * 4).await;
        let mut rates = Vec::new();
        for r in 0..rounds {
            rates.push(batch_round(&memory, 3_000_000 + r * calls, calls).await);
        }
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        println!(
            "http_throughput/{:<30} {calls} calls x {rounds}, concurrency {CONCURRENCY}: {median:>8.0} calls/s median ({:.1} µs/call)",
            "Predict call_batch, defaults",
            1e6 / median
        );

        let _ = std::fs::remove_dir_all(&dir);
    });
}
