//! Embeddings through the LM: the OpenAI-compatible `/embeddings` call over HTTP, and the same
//! layers completions pass (cache per text, on disk too, retries, usage, budget, the key kept
//! out of errors), so an `LM` is an `Embedder` for `VectorIndex` and `KNNFewShot`.

use crate::support;

use dspy::LmErrorKind;
use dspy::lm::{
    BoxFuture, Budget, CacheConfig, EmbedRequest, EmbedResponse, Embedder, LanguageModel,
    LmRequest, LmResponse, RetryPolicy,
};
use dspy::prelude::*;
use dspy::retrieve::{Passage, Retriever, VectorIndex};
use std::time::Duration;
use support::fixtures::{RecordingClock, TempDir, files_under};
use support::server::{Faults, KEY, ServerConfig, TestServer};

/// The test server's vector of a text: `[characters, words, vowels]`.
fn expected(text: &str) -> Vec<f32> {
    let vowels = text.chars().filter(|c| "aeiou".contains(*c)).count();
    [
        text.chars().count(),
        text.split_whitespace().count(),
        vowels,
    ]
    .map(|x| x as f32)
    .to_vec()
}

#[tokio::test]
async fn embeddings_over_http_come_in_order_with_their_tokens() {
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = server.lm();
    let request = EmbedRequest::new(["a cat", "three small dogs"]).with_dimensions(3);
    let answer = lm.embed(request).await.unwrap();
    assert_eq!(
        answer.vectors,
        [expected("a cat"), expected("three small dogs")],
        "in the texts' order, though the server lists them last-first"
    );
    assert_eq!(answer.usage.prompt_tokens, 5);
    assert_eq!(answer.model, "test-embedder-v2");
    assert!(!answer.cached);
    let hit = server.only_hit();
    assert_eq!(hit.path, "/v1/embeddings");
    assert_eq!(
        hit.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(
        hit.body,
        serde_json::json!({"model": "test-model", "input": ["a cat", "three small dogs"],
                           "encoding_format": "float", "dimensions": 3})
    );
    let usage = lm.usage();
    assert_eq!((usage.calls, usage.usage.prompt_tokens), (1, 5));
}

#[tokio::test]
async fn the_cache_keeps_each_text_so_only_new_ones_are_sent() {
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .cache(CacheConfig::memory_only())
        .build();
    let texts = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let first = Embedder::embed(&lm, &texts(&["one", "two"])).await.unwrap();
    let again = lm.embed(EmbedRequest::new(["two", "one"])).await.unwrap();
    assert!(again.cached);
    assert_eq!(again.vectors, [first[1].clone(), first[0].clone()]);
    let mixed = Embedder::embed(&lm, &texts(&["one", "three", "two"]))
        .await
        .unwrap();
    assert_eq!(mixed, [expected("one"), expected("three"), expected("two")]);
    let sent: Vec<_> = server
        .hits()
        .iter()
        .map(|h| h.body["input"].clone())
        .collect();
    assert_eq!(
        sent,
        [
            serde_json::json!(["one", "two"]),
            serde_json::json!(["three"])
        ]
    );
    // Another dimensions is another entry.
    lm.embed(EmbedRequest::new(["one"]).with_dimensions(2))
        .await
        .unwrap();
    assert_eq!(server.requests(), 3);
    let usage = lm.usage();
    assert_eq!((usage.calls, usage.cache_hits), (3, 1), "{usage:?}");
}

/// An embedding model in process: the test server's vectors, or a failure when it is down.
#[derive(Debug)]
struct Letters {
    down: bool,
}

impl LanguageModel for Letters {
    fn model(&self) -> &str {
        "letters"
    }

    fn complete(&self, _: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        Box::pin(async { Err(dspy::Error::config("an embedding model only")) })
    }

    fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, dspy::Result<EmbedResponse>> {
        let answer = match self.down {
            true => Err(dspy::Error::lm(LmErrorKind::Server, "down")),
            false => Ok(EmbedResponse {
                vectors: request.texts.iter().map(|t| expected(t)).collect(),
                ..Default::default()
            }),
        };
        Box::pin(async move { answer })
    }
}

#[tokio::test]
async fn vectors_on_disk_survive_a_new_lm() {
    let dir = TempDir::new("embed-disk");
    let config = CacheConfig::off().with_disk_dir(dir.path());
    let lm = LM::builder(Letters { down: false })
        .cache(config.clone())
        .build();
    let first = lm
        .embed(EmbedRequest::new(["a cat", "a dog"]))
        .await
        .unwrap();
    assert!(!files_under(dir.path()).is_empty(), "written to disk");

    // A new LM (nothing in memory) on a model that fails everything: only the disk answers.
    let lm = LM::builder(Letters { down: true }).cache(config).build();
    let again = lm
        .embed(EmbedRequest::new(["a dog", "a cat"]))
        .await
        .unwrap();
    assert!(again.cached);
    assert_eq!(
        again.vectors,
        [first.vectors[1].clone(), first.vectors[0].clone()]
    );
    assert!(lm.embed(EmbedRequest::new(["a bird"])).await.is_err());

    // Over HTTP, the key never reaches the stored entries.
    let keyed = TempDir::new("embed-disk-key");
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .cache(CacheConfig::off().with_disk_dir(keyed.path()))
        .build();
    lm.embed(EmbedRequest::new(["a cat"])).await.unwrap();
    let stored: Vec<u8> = files_under(keyed.path())
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .flatten()
        .collect();
    assert!(!stored.is_empty());
    assert!(!String::from_utf8_lossy(&stored).contains(KEY));
}

#[tokio::test]
async fn failed_embedding_calls_are_retried_and_budgeted() {
    let server = TestServer::start(ServerConfig {
        faults: Faults {
            server_error: 0.3,
            rate_limited: 0.2,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let clock = RecordingClock::new();
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .retry_policy(RetryPolicy::new(20).base_delay(Duration::from_millis(1)))
        .clock(clock.clone())
        .budget(Budget::new().max_calls(40))
        .build();
    for i in 0..12 {
        let text = format!("text number {i}");
        let answer = lm.embed(EmbedRequest::new([text.as_str()])).await.unwrap();
        assert_eq!(answer.vectors, [expected(&text)]);
    }
    assert!(server.stats.faults() > 0, "some attempts failed");
    assert_eq!(server.requests(), 12 + server.stats.faults());
    assert!(!clock.waits().is_empty(), "retries waited");
    let usage = lm.usage();
    assert_eq!(
        (usage.calls, usage.requests),
        (12, server.requests()),
        "{usage:?}"
    );
    // The budget bounds requests, retries included: embedding goes on until it refuses.
    let refused = loop {
        match lm.embed(EmbedRequest::new(["one more"])).await {
            Ok(_) => assert!(server.requests() <= 40),
            Err(err) => break err,
        }
    };
    assert!(matches!(refused, dspy::Error::Budget(_)), "{refused}");
    assert!(server.requests() <= 40, "{}", server.requests());
}

#[tokio::test]
async fn a_refused_key_is_an_auth_error_that_never_shows_the_key() {
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = LM::new(server.builder("/status/401/v1").build().unwrap());
    let err = lm.embed(EmbedRequest::new(["x"])).await.unwrap_err();
    let kind = match &err {
        dspy::Error::Lm { kind, .. } => *kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(kind, LmErrorKind::Auth);
    assert!(err.to_string().contains("/embeddings"), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert!(!format!("{err:?}").contains("SECRET"), "{err:?}");
}

#[tokio::test]
async fn a_model_that_cannot_embed_says_so() {
    let lm = LM::new(DummyLm::new([]));
    let err = lm.embed(EmbedRequest::new(["x"])).await.unwrap_err();
    assert!(
        matches!(&err, dspy::Error::Config(m) if m.contains("`dummy` cannot embed")),
        "{err}"
    );
    assert_eq!(lm.usage().failed_calls, 1);
}

#[tokio::test]
async fn an_lm_is_an_embedder_for_a_vector_index() {
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .cache(CacheConfig::memory_only())
        .build();
    let passages = ["a", "bb bb", "cccc cccc cccc"]
        .iter()
        .enumerate()
        .map(|(i, t)| Passage::new(i.to_string(), *t));
    let index = VectorIndex::build(lm.clone(), passages).await.unwrap();
    // [characters, words, vowels]: "dd dd" points where "bb bb" does.
    let hits = index.search("dd dd", 1).await.unwrap();
    assert_eq!(hits[0].id, "1");
    assert!((hits[0].score - 1.0).abs() < 1e-6, "{hits:?}");
    assert_eq!(lm.usage().calls, 2);
}
