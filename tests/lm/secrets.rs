//! Secrets and tracing. The test runs in a process of its own (see `support::alone`): a
//! tracing subscriber set for one test is process-wide state (callsite interest), which tests
//! running beside it would race with.

use crate::support;

use dspy::adapter::{Message, Prompt};
use dspy::lm::{CacheConfig, LmRequest};
use dspy::prelude::*;
use std::sync::{Arc, Mutex};
use support::alone::in_own_process;
use support::fixtures::{RecordingClock, TempDir, files_under};
use support::server::{KEY, TestServer};

fn ask(text: &str) -> LmRequest {
    LmRequest::new(Prompt::Chat(vec![Message::user(text)]))
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

/// A tracing subscriber that writes every span and event, with all their fields, to a log.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<CaptureState>>);

#[derive(Default)]
struct CaptureState {
    /// Whether to keep other crates' events too (async-openai's, for one).
    every_target: bool,
    spans: Vec<(&'static str, Option<u64>, String)>,
    stack: Vec<u64>,
    events: Vec<String>,
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?};", field.name(), value));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        // dspy's own spans and events (the HTTP client's would name the endpoint, by design).
        metadata.target().starts_with("dspy") || self.0.lock().unwrap().every_target
    }

    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut state = self.0.lock().unwrap();
        let mut fields = String::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = attrs.parent().map(|p| p.into_u64()).or_else(|| {
            attrs
                .is_contextual()
                .then(|| state.stack.last().copied())
                .flatten()
        });
        state.spans.push((attrs.metadata().name(), parent, fields));
        tracing::span::Id::from_u64(state.spans.len() as u64)
    }

    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut state = self.0.lock().unwrap();
        let index = span.into_u64() as usize - 1;
        values.record(&mut Fields(&mut state.spans[index].2));
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = String::new();
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().events.push(line);
    }

    fn enter(&self, span: &tracing::span::Id) {
        self.0.lock().unwrap().stack.push(span.into_u64());
    }

    fn exit(&self, _: &tracing::span::Id) {
        self.0.lock().unwrap().stack.pop();
    }
}

impl Capture {
    fn everything(&self) -> String {
        let state = self.0.lock().unwrap();
        let mut out = String::new();
        for (name, parent, fields) in &state.spans {
            out.push_str(&format!("{name} (parent {parent:?}): {fields}\n"));
        }
        for event in &state.events {
            out.push_str(event);
            out.push('\n');
        }
        out
    }

    fn span(&self, name: &str) -> Vec<(usize, Option<u64>, String)> {
        let state = self.0.lock().unwrap();
        state
            .spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.0 == name)
            .map(|(i, s)| (i + 1, s.1, s.2.clone()))
            .collect()
    }
}

/// With every layer on (disk cache included) over HTTP, the key and the endpoint never reach
/// Debug output, history, logs or the cache's files; module and LM calls run in spans.
#[tokio::test]
async fn api_key_never_leaks_and_calls_are_traced() {
    if !in_own_process(module_path!(), "api_key_never_leaks_and_calls_are_traced") {
        return;
    }
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let server =
        TestServer::with_replies(&["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"]).await;
    let dir = TempDir::new("secrets");
    let clock = RecordingClock::new();
    let build = |prefix: &str| {
        LM::builder(server.builder(prefix).build().unwrap())
            .with_defaults()
            .cache(CacheConfig::new().with_disk_dir(dir.path()))
            .retries(1)
            .clock(clock.clone())
            .build()
    };
    let lm = build("/v1");
    let predict = Predict::<CapitalQa>::new().with_lm(lm.clone());
    assert_eq!(
        predict.call(question("France?")).await.unwrap().answer,
        "Paris"
    );
    assert_eq!(
        predict.call(question("France?")).await.unwrap().answer,
        "Paris"
    );
    // The server echoes the key in its 401 message; a 429 is retried once (a logged retry).
    let bad = build("/status/401/v1");
    bad.complete(ask("q")).await.unwrap_err();
    let limited = build("/status/429/v1");
    limited.complete(ask("q")).await.unwrap_err();

    let mut seen = vec![
        ("Debug of the LM", format!("{lm:?} {lm:#?} {bad:?}")),
        (
            "Debug of a builder",
            format!("{:?}", LM::builder(server.builder("/v1").build().unwrap())),
        ),
        ("history", dspy::lm::format_history(&lm.history(10), false)),
        (
            "history of errors",
            dspy::lm::format_history(&bad.history(10), false),
        ),
        ("logs", capture.everything()),
    ];
    let files = files_under(dir.path());
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        seen.push(("a cache file", String::from_utf8_lossy(&bytes).into_owned()));
    }
    for (what, text) in &seen {
        assert!(!text.contains(KEY), "the key leaked into {what}: {text}");
        assert!(
            !text.contains("SECRET"),
            "the key leaked into {what}: {text}"
        );
    }
    for (what, text) in &seen[5..] {
        assert!(
            !text.contains(&server.root),
            "the endpoint is in {what}: {text}"
        );
        assert!(
            !text.contains("127.0.0.1"),
            "the endpoint is in {what}: {text}"
        );
    }

    // Spans: each Predict call is a dspy.module span holding its dspy.lm span.
    let modules = capture.span("dspy.module");
    assert_eq!(modules.len(), 2, "{}", capture.everything());
    assert!(
        modules[0].2.contains("signature=\"CapitalQa\""),
        "{:?}",
        modules[0]
    );
    let lm_spans = capture.span("dspy.lm");
    assert_eq!(lm_spans.len(), 2 + 1 + 1, "{}", capture.everything());
    let (first, second) = (&lm_spans[0], &lm_spans[1]);
    assert_eq!(
        first.1,
        Some(modules[0].0 as u64),
        "nested in its module span"
    );
    assert_eq!(second.1, Some(modules[1].0 as u64));
    for field in [
        "model=\"test-model\"",
        "prompt_tokens=12",
        "completion_tokens=5",
        "cache_hit=false",
        "latency_ms=",
    ] {
        assert!(first.2.contains(field), "{field} missing: {}", first.2);
    }
    assert!(second.2.contains("cache_hit=true"), "{}", second.2);
    assert!(lm_spans[2].2.contains("error="), "{}", lm_spans[2].2);
    assert!(
        capture.everything().contains("attempt=1"),
        "the retry is logged: {}",
        capture.everything()
    );
}

/// async-openai logs every answer it cannot decode in full, at ERROR: a server that echoes the
/// key in such an answer (whole, or as a stream event) must not put it in the logs, nor in the
/// error the caller sees.
#[tokio::test]
async fn undecodable_answers_never_log_the_key() {
    if !in_own_process(module_path!(), "undecodable_answers_never_log_the_key") {
        return;
    }
    use futures_util::StreamExt;
    let capture = Capture::default();
    capture.0.lock().unwrap().every_target = true;
    let _guard = tracing::subscriber::set_default(capture.clone());
    let server = TestServer::with_replies(&["unused"]).await;
    let whole = LM::new(server.builder("/echo-key/v1").build().unwrap());
    let error = whole.complete(ask("q")).await.unwrap_err();
    let streamed = LM::new(server.builder("/echo-key-stream/v1").build().unwrap());
    let mut items = Vec::new();
    let mut stream = streamed.stream(ask("q"));
    while let Some(item) = stream.next().await {
        items.push(format!("{item:?}"));
    }
    assert_eq!(server.requests(), 2);
    let logs = capture.everything();
    assert!(
        logs.contains("failed deserialization of: oops, your key is"),
        "async-openai logged the body (the test sees its events): {logs}"
    );
    for (what, text) in [
        ("logs", logs),
        ("the error", error.to_string()),
        ("the stream", items.join("\n")),
    ] {
        assert!(
            !text.contains("SECRET"),
            "the key leaked into {what}: {text}"
        );
    }
}

/// Fine-tuning over HTTP with every path that could carry the key: a job run to its model, an
/// upload refused with a 401 that quotes the key, a job whose failure quotes it, and a run
/// interrupted with its state saved. The key reaches no error, log, Debug output, saved file
/// or cache key.
#[tokio::test]
async fn finetuning_never_leaks_the_key() {
    if !in_own_process(module_path!(), "finetuning_never_leaks_the_key") {
        return;
    }
    use dspy::lm::{Finetune, Finetuner, Hyperparameters, OpenAiFinetuner, TrainingData};
    let capture = Capture::default();
    capture.0.lock().unwrap().every_target = true;
    let _guard = tracing::subscriber::set_default(capture.clone());
    let server =
        TestServer::with_replies(&["[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"]).await;
    let dir = TempDir::new("ft-secrets");
    let runs = dir.path().join("runs");
    let clock = RecordingClock::new();
    let finetuner = |prefix: &str| {
        OpenAiFinetuner::new(server.builder(prefix))
            .unwrap()
            .clock(clock.clone())
            .cache(CacheConfig::new().with_disk_dir(dir.path().join("answers")))
    };
    let predict = Predict::<CapitalQa>::new().with_adapter(ChatAdapter::new());
    let mut data = TrainingData::new();
    for i in 0..support::server::jobs::MIN_EXAMPLES {
        let output = CapitalQaOutput {
            answer: format!("City {i}"),
        };
        let input = question(&format!("Capital of country {i}?"));
        data.push("answer", predict.training_example(&input, &output).unwrap());
    }

    let ok = finetuner("/v1");
    let done = Finetune::new(&data)
        .cache_dir(&runs)
        .run(&ok)
        .await
        .unwrap();
    let answer = predict
        .clone()
        .with_lm(done.lm.clone())
        .call(question("France?"))
        .await;
    assert_eq!(answer.unwrap().answer, "Paris");
    let refused = Finetune::new(&data)
        .no_cache()
        .run(&finetuner("/status/401/v1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &refused,
            Error::Lm {
                kind: dspy::LmErrorKind::Auth,
                ..
            }
        ),
        "{refused}"
    );
    let few = TrainingData::new().with("answer", data.examples("answer")[0].clone());
    let leaky = Finetune::new(&few)
        .cache_dir(&runs)
        .run(&finetuner("/echo-key/v1"))
        .await
        .unwrap_err();
    assert!(
        leaky
            .to_string()
            .contains("request made with key <redacted>"),
        "{leaky}"
    );
    // Interrupted once its job runs: its saved state stays on disk.
    let running = Arc::new(tokio::sync::Notify::new());
    let signal = running.clone();
    let interrupted = Finetune::new(&data)
        .hyperparameters(Hyperparameters::new().epochs(1))
        .cache_dir(&runs)
        .on_progress(move |p| {
            if p.status == "running" {
                signal.notify_one();
            }
        })
        .run(&ok);
    tokio::select! {
        biased;
        () = running.notified() => {}
        done = interrupted => panic!("the run should not finish: {done:?}"),
    }

    let files = files_under(dir.path());
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("model.json")), "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("pending.json")),
        "{names:?}"
    );
    let mut seen = vec![
        ("the 401 error", format!("{refused} {refused:?}")),
        ("the failed job's error", format!("{leaky} {leaky:?}")),
        ("Debug of the finetuner", format!("{ok:?} {ok:#?}")),
        ("Debug of the result", format!("{done:?}")),
        ("the base model", ok.base_model()),
        ("logs", capture.everything()),
    ];
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        seen.push(("a saved file", String::from_utf8_lossy(&bytes).into_owned()));
    }
    for (what, text) in &seen {
        assert!(!text.contains(KEY), "the key leaked into {what}: {text}");
        assert!(
            !text.contains("SECRET"),
            "the key leaked into {what}: {text}"
        );
    }
    assert!(
        capture.everything().contains("fine-tuning"),
        "progress is logged"
    );
    // The key is no part of a run's cache key: with another key, the same run is the same.
    let other = OpenAiFinetuner::new(server.builder("/v1").api_key("sk-other-key-1234")).unwrap();
    let run = Finetune::new(&data);
    assert_eq!(run.key(&other).unwrap(), run.key(&ok).unwrap());
}
