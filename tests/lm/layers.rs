//! The LM layers (cache, retries, limits, usage and budget, history, tracing) on `DummyLm` and
//! over HTTP against the test server (tests/support), which injects faults.

use crate::support;

use dspy::LmErrorKind;
use dspy::adapter::{Message, Prompt};
use dspy::lm::{
    BoxFuture, Budget, CacheConfig, LanguageModel, LmRequest, LmResponse, Price, RetryPolicy,
    Usage, current_usage, track_usage,
};
use dspy::prelude::*;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use support::fixtures::{RecordingClock, TempDir, files_under};
use support::server::{Faults, Reply, ServerConfig, TestServer};

// ---------------------------------------------------------------------------------------------
// Helpers

fn ask(text: &str) -> LmRequest {
    LmRequest::new(Prompt::Chat(vec![Message::user(text)]))
}

/// A DummyLm answering every input, however often.
fn endless() -> DummyLm {
    DummyLm::keyed([("", json!({"answer": "Paris"}))])
}

/// Answer questions with short factoid answers.
#[derive(Signature, Clone, Debug)]
struct CapitalQa {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn question(text: &str) -> CapitalQaInput {
    CapitalQaInput {
        question: text.into(),
    }
}

fn kind_of(error: &Error) -> LmErrorKind {
    match error {
        Error::Lm { kind, .. } => *kind,
        other => panic!("expected an LM error, got {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Cache

#[tokio::test]
async fn cache_answers_repeats_without_calling_the_backend() {
    let dummy = endless();
    let lm = LM::builder(dummy.clone())
        .cache(CacheConfig::memory_only())
        .build();
    let first = lm.complete(ask("Capital of France?")).await.unwrap();
    let second = lm.complete(ask("Capital of France?")).await.unwrap();
    assert!(!first.cached);
    assert!(second.cached);
    assert_eq!(first.choices, second.choices);
    assert_eq!(first.usage, second.usage);
    assert_eq!(dummy.requests().len(), 1, "the repeat came from the cache");

    // Anything that changes the answer is a different entry.
    lm.complete(ask("Capital of Spain?")).await.unwrap();
    lm.complete(ask("Capital of France?").with_temperature(0.9))
        .await
        .unwrap();
    let mut two = ask("Capital of France?");
    two.n = 2;
    let pair = lm.complete(two.clone()).await.unwrap();
    assert_eq!(pair.choices.len(), 2);
    assert_eq!(dummy.requests().len(), 4);
    assert!(lm.complete(two).await.unwrap().cached);

    let usage = lm.usage();
    assert_eq!((usage.calls, usage.cache_hits), (4, 2));
    let mut saved = first.usage;
    saved += pair.usage;
    assert_eq!(usage.cached_usage, saved, "cache hits are counted apart");
}

#[tokio::test]
async fn rollout_id_separates_entries() {
    let dummy = endless();
    let lm = LM::builder(dummy.clone())
        .cache(CacheConfig::memory_only())
        .build();
    let with_rollout = |id: Option<u64>| {
        let mut request = ask("Tell me a joke").with_temperature(1.0);
        request.rollout_id = id;
        request
    };
    for id in [None, Some(1), Some(2)] {
        assert!(
            !lm.complete(with_rollout(id)).await.unwrap().cached,
            "{id:?}"
        );
    }
    assert!(lm.complete(with_rollout(Some(1))).await.unwrap().cached);
    assert_eq!(dummy.requests().len(), 3);
}

#[tokio::test]
async fn failures_are_not_cached() {
    let dummy = DummyLm::new([]);
    let lm = LM::builder(dummy.clone())
        .cache(CacheConfig::memory_only())
        .build();
    assert!(lm.complete(ask("q")).await.is_err());
    assert!(lm.complete(ask("q")).await.is_err());
    assert_eq!(dummy.requests().len(), 2);
    assert_eq!(lm.usage().failed_calls, 2);
}

#[tokio::test]
async fn disk_cache_survives_a_new_lm_and_skips_memory() {
    let dir = TempDir::new("disk");
    let config = CacheConfig::off().with_disk_dir(dir.path());
    let dummy = endless();
    let lm = LM::builder(dummy.clone()).cache(config.clone()).build();
    let first = lm.complete(ask("q")).await.unwrap();
    assert!(!first.cached);
    assert!(!files_under(dir.path()).is_empty(), "written to disk");

    // A new LM (nothing in memory) whose backend has no answers at all.
    let empty = DummyLm::new([]);
    let lm = LM::builder(empty.clone()).cache(config).build();
    let again = lm.complete(ask("q")).await.unwrap();
    assert!(again.cached);
    assert_eq!(again.choices, first.choices);
    assert_eq!(again.model, first.model);
    assert!(empty.requests().is_empty());
}

const CHILD: &str = "DSPY_LM_LAYERS_TEST_CHILD";

/// Run twice: by the test harness, and again by itself as a child process with the same cache
/// directory in `DSPY_CACHE_DIR`, whose backend cannot answer: only the disk can.
#[tokio::test]
async fn disk_cache_persists_across_processes() {
    if let Some(expected) = std::env::var_os(CHILD) {
        let lm = LM::builder(DummyLm::new([]))
            .cache(CacheConfig::from_env())
            .build();
        assert!(lm.cache_config().unwrap().disk_dir.is_some());
        let response = lm
            .complete(ask("persist me"))
            .await
            .expect("the child's backend has no answers: this must come from disk");
        assert!(response.cached);
        assert_eq!(response.choices[0].text, expected.to_string_lossy());
        println!("CHILD-READ-FROM-DISK");
        return;
    }
    let dir = TempDir::new("processes");
    let lm = LM::builder(DummyLm::new([json!({"answer": "kept"})]))
        .cache(CacheConfig::memory_only().with_disk_dir(dir.path()))
        .build();
    let written = lm.complete(ask("persist me")).await.unwrap();
    assert!(!written.cached);

    let name = support::alone::test_name(module_path!(), "disk_cache_persists_across_processes");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, &written.choices[0].text)
        .env("DSPY_CACHE_DIR", dir.path())
        .env_remove("DSPY_CACHE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("CHILD-READ-FROM-DISK"),
        "the child did not run the test:\n{stdout}"
    );
}

#[tokio::test]
async fn corrupt_entry_is_a_miss_and_is_replaced() {
    let dir = TempDir::new("corrupt");
    let config = CacheConfig::off().with_disk_dir(dir.path());
    let lm = LM::builder(endless()).cache(config.clone()).build();
    let original = lm.complete(ask("q")).await.unwrap();

    // Damage every stored answer (same length, other bytes).
    let content: Vec<PathBuf> = files_under(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("content-v2"))
        .collect();
    assert_eq!(content.len(), 1, "{content:?}");
    let len = std::fs::read(&content[0]).unwrap().len();
    std::fs::write(&content[0], vec![b'#'; len]).unwrap();

    let dummy = endless();
    let lm = LM::builder(dummy.clone()).cache(config.clone()).build();
    let fresh = lm.complete(ask("q")).await.unwrap();
    assert!(!fresh.cached, "a damaged entry is a miss");
    assert_eq!(fresh.choices, original.choices);
    assert_eq!(dummy.requests().len(), 1);

    // ...and was replaced: a backend with no answers is served from disk now.
    let lm = LM::builder(DummyLm::new([])).cache(config).build();
    assert!(lm.complete(ask("q")).await.unwrap().cached);
}

#[tokio::test]
async fn damaged_index_is_a_miss_and_is_replaced() {
    let dir = TempDir::new("index");
    let config = CacheConfig::off().with_disk_dir(dir.path());
    LM::builder(endless())
        .cache(config.clone())
        .build()
        .complete(ask("q"))
        .await
        .unwrap();
    let index: Vec<PathBuf> = files_under(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("index-v5"))
        .collect();
    assert_eq!(index.len(), 1, "{index:?}");

    // A write cut short by a crash leaves half a line at the end: the entry still reads.
    let mut bytes = std::fs::read(&index[0]).unwrap();
    bytes.extend_from_slice(b"\n3f2a\t{\"key\":\"trunc");
    std::fs::write(&index[0], &bytes).unwrap();
    let lm = LM::builder(DummyLm::new([])).cache(config.clone()).build();
    assert!(lm.complete(ask("q")).await.unwrap().cached);

    // Garbage that is not even text: a miss, then replaced.
    std::fs::write(&index[0], [0xff, 0xfe, 0x00, 0x9c, b'\n', 0xff]).unwrap();
    let dummy = endless();
    let lm = LM::builder(dummy.clone()).cache(config.clone()).build();
    assert!(!lm.complete(ask("q")).await.unwrap().cached);
    assert_eq!(dummy.requests().len(), 1);
    let lm = LM::builder(DummyLm::new([])).cache(config).build();
    assert!(lm.complete(ask("q")).await.unwrap().cached);
}

// ---------------------------------------------------------------------------------------------
// Retries

/// 200 calls, 32 at a time, while the server fails 30% of requests (429, 500, stalls past the
/// client timeout, dropped connections): every call succeeds with its own answer, and every
/// fault cost exactly one retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_lose_no_request_under_injected_faults() {
    const CALLS: usize = 200;
    let server = TestServer::start(ServerConfig {
        faults: Faults {
            rate_limited: 0.10,
            server_error: 0.10,
            timeout: 0.05,
            dropped: 0.05,
        },
        reply: Reply::Echo,
        stall: Duration::from_secs(3),
        record: false,
        ..Default::default()
    })
    .await;
    let backend = server
        .builder("/v1")
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let clock = RecordingClock::new();
    let lm = LM::builder(backend)
        .retry_policy(
            RetryPolicy::new(10)
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .max_in_flight(32)
        .clock(clock.clone())
        .build();

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let lm = lm.clone();
        calls.spawn(async move { (i, lm.complete(ask(&format!("call {i}"))).await) });
    }
    let mut answered = 0;
    while let Some(joined) = calls.join_next().await {
        let (i, result) = joined.unwrap();
        let response = result.unwrap_or_else(|e| panic!("call {i} was lost: {e}"));
        assert_eq!(response.choices[0].text, format!("call {i}"));
        answered += 1;
    }
    assert_eq!(answered, CALLS);

    let stats = &server.stats;
    let faults = stats.faults();
    for (what, count) in [
        ("429", &stats.rate_limited),
        ("500", &stats.server_errors),
        ("timeout", &stats.timeouts),
        ("dropped", &stats.dropped),
    ] {
        assert!(count.load(Ordering::SeqCst) > 0, "no {what} was injected");
    }
    assert!(faults >= 30, "only {faults} faults injected");
    assert_eq!(server.requests(), CALLS as u64 + faults);
    let waits = clock.waits();
    assert_eq!(waits.len() as u64, faults, "one retry per fault");
    let retry_after = waits
        .iter()
        .filter(|w| **w == Duration::from_secs(1))
        .count() as u64;
    assert_eq!(
        retry_after,
        stats.rate_limited.load(Ordering::SeqCst),
        "every 429 waited its Retry-After"
    );
    assert!(
        waits
            .iter()
            .all(|w| *w == Duration::from_secs(1) || *w <= Duration::from_millis(5))
    );
    let usage = lm.usage();
    assert_eq!((usage.calls, usage.failed_calls), (CALLS as u64, 0));
}

#[tokio::test]
async fn no_retry_on_bad_request_or_auth() {
    let server = TestServer::with_replies(&["unused"]).await;
    let clock = RecordingClock::new();
    for (prefix, kind) in [
        ("/status/400/v1", LmErrorKind::ContextWindowExceeded),
        ("/status/401/v1", LmErrorKind::Auth),
        ("/missing/v1", LmErrorKind::BadRequest),
    ] {
        let lm = LM::builder(server.builder(prefix).build().unwrap())
            .retries(5)
            .clock(clock.clone())
            .build();
        let error = lm.complete(ask("q")).await.unwrap_err();
        assert_eq!(kind_of(&error), kind, "{error}");
    }
    assert_eq!(server.requests(), 3, "one request each");
    assert!(clock.waits().is_empty());
}

#[tokio::test]
async fn retry_after_is_honoured_and_giving_up_says_so() {
    let server = TestServer::with_replies(&["unused"]).await;
    let clock = RecordingClock::new();
    let lm = LM::builder(server.builder("/status/429/v1").build().unwrap())
        .retries(2)
        .clock(clock.clone())
        .build();
    let error = lm.complete(ask("q")).await.unwrap_err();
    assert_eq!(kind_of(&error), LmErrorKind::RateLimited);
    assert!(
        error.to_string().contains("gave up after 3 attempts"),
        "{error}"
    );
    assert_eq!(server.requests(), 3);
    assert_eq!(clock.waits(), [Duration::from_secs(3); 2], "Retry-After: 3");

    // Without Retry-After: jittered backoff under a doubling ceiling.
    let clock = RecordingClock::new();
    let policy = RetryPolicy::new(3)
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_secs(10));
    let lm = LM::builder(server.builder("/status/500/v1").build().unwrap())
        .retry_policy(policy)
        .clock(clock.clone())
        .build();
    assert_eq!(
        kind_of(&lm.complete(ask("q")).await.unwrap_err()),
        LmErrorKind::Server
    );
    let waits = clock.waits();
    assert_eq!(waits.len(), 3);
    for (attempt, wait) in waits.iter().enumerate() {
        assert!(
            *wait <= policy.ceiling(attempt as u32),
            "{attempt}: {wait:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Limits

/// A backend that counts the calls inside it at once.
#[derive(Debug, Default)]
struct Gauge {
    now: AtomicU64,
    max: AtomicU64,
}

impl LanguageModel for Gauge {
    fn model(&self) -> &str {
        "gauge"
    }

    fn complete(&self, _request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        Box::pin(async move {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(LmResponse {
                choices: vec![dspy::lm::Choice::new("ok")],
                ..Default::default()
            })
        })
    }
}

async fn most_in_flight(max_in_flight: usize) -> u64 {
    let gauge = Arc::new(Gauge::default());
    let lm = LM::builder(GaugeRef(gauge.clone()))
        .max_in_flight(max_in_flight)
        .build();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40 {
        let lm = lm.clone();
        calls.spawn(async move { lm.complete(ask(&format!("{i}"))).await });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
    gauge.max.load(Ordering::SeqCst)
}

#[derive(Debug)]
struct GaugeRef(Arc<Gauge>);

impl LanguageModel for GaugeRef {
    fn model(&self) -> &str {
        self.0.model()
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        self.0.complete(request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_is_respected() {
    let limited = most_in_flight(4).await;
    assert!((1..=4).contains(&limited), "{limited} calls in flight");
    let unlimited = most_in_flight(0).await;
    assert!(unlimited > 4, "without a limit, {unlimited} in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_holds_over_http() {
    let server = TestServer::start(ServerConfig {
        latency: Duration::from_millis(10),
        record: false,
        ..Default::default()
    })
    .await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .max_in_flight(3)
        .build();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..24 {
        let lm = lm.clone();
        calls.spawn(async move { lm.complete(ask(&format!("{i}"))).await });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(server.requests(), 24);
    assert!(server.max_in_flight() <= 3, "{}", server.max_in_flight());
}

#[tokio::test]
async fn rpm_spaces_requests_evenly() {
    let clock = RecordingClock::new();
    let dummy = endless();
    let lm = LM::builder(dummy.clone())
        .rpm(60)
        .clock(clock.clone())
        .build();
    for i in 0..4 {
        lm.complete(ask(&format!("{i}"))).await.unwrap();
    }
    assert_eq!(dummy.requests().len(), 4);
    assert_eq!(clock.waits(), [Duration::from_secs(1); 3]);
}

// ---------------------------------------------------------------------------------------------
// Usage, cost and budgets

#[tokio::test]
async fn usage_per_prediction_and_per_scope_with_cache_hits_apart() {
    let lm = LM::builder(endless())
        .cache(CacheConfig::memory_only())
        .price(Price::per_million(1_000.0, 2_000.0))
        .build();
    let predict = Predict::<CapitalQa>::new().with_lm(lm.clone());

    let (predictions, outer) = track_usage(async {
        let first = predict.forward(question("France?")).await.unwrap();
        let (second, inner) = track_usage(async {
            let p = predict.forward(question("Spain?")).await.unwrap();
            assert_eq!(current_usage().unwrap().calls, 1);
            p
        })
        .await;
        assert_eq!((inner.calls, inner.cache_hits), (1, 0));
        let repeat = predict.forward(question("France?")).await.unwrap();
        vec![first, second, repeat]
    })
    .await;

    let [first, second, repeat] = &predictions[..] else {
        panic!()
    };
    assert!(first.usage.total() > 0);
    assert_eq!(repeat.usage, Usage::default(), "a cache hit costs nothing");
    assert_eq!((outer.calls, outer.cache_hits), (2, 1));
    let mut spent = first.usage;
    spent += second.usage;
    assert_eq!(outer.usage, spent);
    assert_eq!(outer.cached_usage, first.usage);
    let expected_cost =
        (spent.prompt_tokens as f64 * 1_000.0 + spent.completion_tokens as f64 * 2_000.0) / 1e6;
    assert!((outer.cost - expected_cost).abs() < 1e-9, "{outer:?}");
    assert_eq!(lm.usage(), outer, "the LM saw the same calls");
    assert!(current_usage().is_none(), "no scope out here");
}

#[tokio::test]
async fn concurrent_scopes_do_not_mix() {
    let lm = LM::new(endless());
    let run = |n: usize| {
        let lm = lm.clone();
        track_usage(async move {
            for i in 0..n {
                lm.complete(ask(&format!("{n}-{i}"))).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let ((_, a), (_, b)) = tokio::join!(run(3), run(5));
    assert_eq!((a.calls, b.calls), (3, 5));
    assert_eq!(lm.usage().calls, 8);
}

#[tokio::test]
async fn budget_stops_work_and_keeps_counts() {
    let dummy = endless();
    let lm = LM::builder(dummy.clone())
        .cache(CacheConfig::memory_only())
        .budget(Budget::new().max_calls(3))
        .build();
    let clone = lm.clone();
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let lm = if i % 2 == 0 { &lm } else { &clone };
        outcomes.push(lm.complete(ask(&format!("q{i}"))).await);
    }
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(ok, 3, "clones share one budget");
    for refused in &outcomes[3..] {
        let error = refused.as_ref().unwrap_err();
        assert!(matches!(error, Error::Budget(_)), "{error}");
        assert!(error.to_string().contains("limit of 3 LM calls"), "{error}");
    }
    assert_eq!(
        dummy.requests().len(),
        3,
        "refused calls never reach the backend"
    );
    let usage = lm.usage();
    assert_eq!((usage.calls, usage.refused_calls), (3, 2));
    assert!(usage.usage.total() > 0, "what was done is kept");

    // Through a predictor, the refusal is the same typed error.
    let error = Predict::<CapitalQa>::new()
        .with_lm(lm.clone())
        .call(question("more?"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Budget(_)), "{error}");
}

/// The call limit bounds requests sent, retries included: a server that always fails gets at
/// most `max_calls` requests however many calls are retried (before, 20 calls × 4 attempts).
#[tokio::test]
async fn the_call_limit_bounds_requests_with_retries() {
    let server = TestServer::start(ServerConfig {
        faults: Faults {
            server_error: 1.0,
            ..Default::default()
        },
        record: false,
        ..Default::default()
    })
    .await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .retry_policy(RetryPolicy::new(3).base_delay(Duration::from_millis(1)))
        .clock(RecordingClock::new())
        .budget(Budget::new().max_calls(20))
        .build();
    let mut refused = 0;
    for i in 0..20 {
        match lm.complete(ask(&format!("q{i}"))).await {
            Err(Error::Budget(message)) => {
                assert!(message.contains("limit of 20 LM calls"), "{message}");
                refused += 1;
            }
            Err(error) => assert_eq!(kind_of(&error), LmErrorKind::Server, "{error}"),
            Ok(_) => panic!("the server always fails"),
        }
    }
    assert_eq!(
        server.requests(),
        20,
        "exactly the budget reached the server"
    );
    let usage = lm.usage();
    assert_eq!(usage.requests, 20);
    // 5 calls ran their 4 attempts; the rest were refused, at a retry or at the door.
    assert_eq!(usage.failed_calls, 5);
    assert_eq!(usage.refused_calls, refused);
    assert_eq!(refused, 15);
}

/// A call whose caller gives up mid-flight still spent a request: it counts in the usage and
/// against the budget (before, a budget of 10 let 40 such requests through).
#[tokio::test]
async fn calls_dropped_mid_flight_count_against_the_budget() {
    let server = TestServer::start(ServerConfig {
        latency: Duration::from_millis(300),
        reply: Reply::Echo,
        record: false,
        ..Default::default()
    })
    .await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .budget(Budget::new().max_calls(10))
        .build();
    let mut gave_up = 0;
    let mut refused = 0;
    for i in 0..40 {
        let call = lm.complete(ask(&format!("q{i}")));
        match tokio::time::timeout(Duration::from_millis(50), call).await {
            Err(_) => gave_up += 1,
            Ok(Err(Error::Budget(_))) => refused += 1,
            Ok(other) => panic!("unexpected: {other:?}"),
        }
    }
    // Give the server time to see the last requests arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((gave_up, refused), (10, 30));
    assert_eq!(server.requests(), 10);
    let usage = lm.usage();
    assert_eq!(
        (usage.requests, usage.calls, usage.refused_calls),
        (10, 0, 30)
    );
}

/// The same model name on two servers is two models: the cache (on a shared disk here) does
/// not answer one with the other's reply.
#[tokio::test]
async fn the_cache_keys_on_the_endpoint() {
    let one = TestServer::with_replies(&["from one"]).await;
    let two = TestServer::with_replies(&["from two"]).await;
    let dir = TempDir::new("endpoint-cache");
    let lm = |server: &TestServer| {
        LM::builder(server.builder("/v1").build().unwrap())
            .cache(CacheConfig::new().with_disk_dir(dir.path()))
            .build()
    };
    let (a, b) = (lm(&one), lm(&two));
    assert_eq!(
        a.complete(ask("q")).await.unwrap().choices[0].text,
        "from one"
    );
    let answer = b.complete(ask("q")).await.unwrap();
    assert_eq!(answer.choices[0].text, "from two");
    assert!(!answer.cached);
    assert_eq!((one.requests(), two.requests()), (1, 1));
    // The same endpoint is still answered from the cache, by another LM too.
    assert!(lm(&one).complete(ask("q")).await.unwrap().cached);
    assert_eq!(one.requests(), 1);
    // The key holds no endpoint in the clear (it is a hash), and no key at all.
    for file in files_under(dir.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("SECRET"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn token_and_cost_budgets() {
    let dummy = endless();
    let lm = LM::builder(dummy.clone())
        .budget(Budget::new().max_tokens(1))
        .build();
    lm.complete(ask("q")).await.unwrap();
    let error = lm.complete(ask("q")).await.unwrap_err();
    assert!(error.to_string().contains("limit of 1 tokens"), "{error}");

    let lm = LM::builder(endless())
        .price(Price::per_million(1e6, 1e6)) // a dollar a token
        .budget(Budget::new().max_cost(1.0))
        .build();
    lm.complete(ask("q")).await.unwrap();
    let error = lm.complete(ask("q")).await.unwrap_err();
    assert!(matches!(error, Error::Budget(_)), "{error}");
    assert!(lm.usage().cost >= 1.0);
}

// ---------------------------------------------------------------------------------------------
// History

#[tokio::test]
async fn history_keeps_the_last_calls_and_prints_like_dspy() {
    let lm = LM::builder(DummyLm::new([
        json!({"answer": "one"}),
        json!({"answer": "two"}),
    ]))
    .history(2)
    .cache(CacheConfig::memory_only())
    .build();
    assert_eq!(lm.history_capacity(), 2);
    lm.complete(ask("first")).await.unwrap();
    lm.complete(ask("second")).await.unwrap();
    lm.complete(ask("second")).await.unwrap(); // a cache hit
    lm.complete(ask("third")).await.unwrap_err(); // out of answers

    let history = lm.history(10);
    assert_eq!(history.len(), 2);
    assert!(history[0].cached());
    assert!(history[1].outcome.is_err());
    let text = dspy::lm::format_history(&lm.history(2), false);
    assert!(text.contains("(cached)"), "{text}");
    assert!(text.contains("User message:\n\nsecond\n"), "{text}");
    assert!(
        text.contains("Response:\n\n[[ ## answer ## ]]\ntwo\n\n[[ ## completed ## ]]\n"),
        "{text}"
    );
    assert!(text.contains("Error:\n\n"), "{text}");
    assert!(!text.contains("first"), "only the last two: {text}");
    assert!(LM::new(endless()).history(5).is_empty(), "off by default");
}

#[test]
fn defaults_are_on_for_production_constructors_only() {
    let lm = LM::builder(DummyLm::new([]))
        .with_defaults()
        .cache(CacheConfig::memory_only())
        .build();
    assert_eq!(lm.history_capacity(), dspy::lm::DEFAULT_HISTORY);
    assert_eq!(lm.cache_config(), Some(&CacheConfig::memory_only()));
    let debug = format!("{lm:?}");
    for layer in ["CacheLayer", "LimitLayer", "RetryLayer"] {
        assert!(debug.contains(layer), "{layer} missing: {debug}");
    }
    let plain = LM::new(DummyLm::new([]));
    assert!(plain.cache_config().is_none());
    assert_eq!(plain.history_capacity(), 0);
    assert!(!format!("{plain:?}").contains("Layer"));
}
