//! Streaming: `Predict::stream` and `LM::stream`, on `DummyLm` (which streams its answers in
//! small pieces) and over HTTP against the test server (tests/support), which streams with
//! server-sent events. The rule throughout: streaming equals non-streaming.

use crate::support;

use dspy::LmErrorKind;
use dspy::adapter::{Message, Prompt};
use dspy::lm::{Budget, CacheConfig, LmChunk, LmRequest, Mode, Usage};
use dspy::module::trace;
use dspy::prelude::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use support::fixtures::RecordingClock;
use support::server::{Faults, KEY, ServerConfig, TestServer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Climate {
    Oceanic,
    Continental,
    Mediterranean,
}

/// Describe a city.
#[derive(Signature, Clone, Debug)]
struct CityFacts {
    #[input(desc = "a city")]
    city: String,
    #[output(desc = "the country it is in")]
    country: String,
    #[output]
    population: u64,
    #[output]
    landmarks: Vec<String>,
    #[output]
    climate: Climate,
}

const OUTPUTS: [&str; 4] = ["country", "population", "landmarks", "climate"];

fn paris() -> CityFactsInput {
    CityFactsInput {
        city: "Paris".into(),
    }
}

fn answer() -> Value {
    json!({
        "country": "France",
        "population": 2102650,
        "landmarks": ["Eiffel Tower", "Louvre, the museum"],
        "climate": "oceanic",
    })
}

/// What a stream yielded, taken apart.
struct Streamed {
    deltas: Vec<String>,
    fields: Vec<(String, Value)>,
    /// Where each field event came, counted in deltas seen before it.
    field_after_deltas: Vec<usize>,
    done: Option<Prediction<CityFactsOutput>>,
    error: Option<Error>,
    events_after_end: usize,
}

async fn collect(mut stream: PredictionStream<'_, CityFactsOutput>) -> Streamed {
    let mut out = Streamed {
        deltas: Vec::new(),
        fields: Vec::new(),
        field_after_deltas: Vec::new(),
        done: None,
        error: None,
        events_after_end: 0,
    };
    while let Some(event) = stream.next().await {
        if out.done.is_some() || out.error.is_some() {
            out.events_after_end += 1;
            continue;
        }
        match event {
            Ok(StreamEvent::Delta(text)) => out.deltas.push(text),
            Ok(StreamEvent::Field { name, value }) => {
                out.fields.push((name, value));
                out.field_after_deltas.push(out.deltas.len());
            }
            Ok(StreamEvent::Done(prediction)) => out.done = Some(prediction),
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(error) => out.error = Some(error),
        }
    }
    out
}

fn as_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// The checks every adapter must pass: fields in order, each as in the final output, the final
/// output as `forward`'s, the text as the raw completion, and the same request sent.
async fn streaming_equals_forward(
    make: impl Fn(DummyLm) -> Predict<CityFacts>,
    dummy: impl Fn() -> DummyLm,
    fields_mid_stream: usize,
) {
    let forward_lm = dummy();
    let expected = make(forward_lm.clone()).forward(paris()).await.unwrap();

    let stream_lm = dummy();
    let predict = make(stream_lm.clone());
    let streamed = collect(predict.stream(paris())).await;
    assert!(streamed.error.is_none(), "{:?}", streamed.error);
    assert_eq!(streamed.events_after_end, 0, "nothing after Done");
    let done = streamed.done.expect("a Done event");

    assert_eq!(as_json(&done.output), as_json(&expected.output));
    assert_eq!(done.raw, expected.raw);
    assert_eq!(done.fixes, expected.fixes);
    assert_eq!(done.lm_calls, 1);
    assert_eq!(done.usage, expected.usage);
    assert!(
        streamed.deltas.len() > 5,
        "DummyLm streams in small pieces: {:?}",
        streamed.deltas
    );
    assert_eq!(streamed.deltas.concat(), expected.raw);

    let names: Vec<&str> = streamed.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, OUTPUTS, "each field once, in order");
    let output = as_json(&done.output);
    for (name, value) in &streamed.fields {
        assert_eq!(&output[name], value, "field `{name}` agrees with Done");
    }
    // The first fields were reported while text was still coming, not all at the end.
    let total = streamed.deltas.len();
    let early = streamed
        .field_after_deltas
        .iter()
        .filter(|&&seen| seen < total)
        .count();
    assert!(
        early >= fields_mid_stream,
        "fields reported mid-stream: {:?} of {total} deltas",
        streamed.field_after_deltas
    );

    assert_eq!(
        stream_lm.requests(),
        forward_lm.requests(),
        "the same request"
    );
}

#[tokio::test]
async fn chat_adapter_streams_fields_as_markers_close() {
    streaming_equals_forward(
        |dummy| Predict::new().with_lm(LM::new(dummy)),
        || DummyLm::new([answer()]),
        // The last field closes at `[[ ## completed ## ]]`, which may be the last piece.
        3,
    )
    .await;
}

#[tokio::test]
async fn json_adapter_streams_fields_as_keys_close() {
    streaming_equals_forward(
        |dummy| {
            Predict::new()
                .with_lm(LM::new(dummy))
                .with_adapter(JsonAdapter::new())
        },
        || DummyLm::new([answer()]),
        // The last pair closes with the object's `}`, the very last character.
        3,
    )
    .await;
}

#[tokio::test]
async fn completion_adapter_streams_fields_as_prefixes_start() {
    streaming_equals_forward(
        |dummy| Predict::new().with_lm(LM::new(dummy)),
        || DummyLm::new([answer()]).completion_model(),
        // The last field has no line after it: it is complete only when the stream ends.
        3,
    )
    .await;
}

#[tokio::test]
async fn chunk_size_does_not_change_the_outcome() {
    for chars in [1, 2, 5, 13, 10_000] {
        let dummy = DummyLm::new([answer()]).chunk_chars(chars);
        let predict = Predict::<CityFacts>::new().with_lm(LM::new(dummy));
        let streamed = collect(predict.stream(paris())).await;
        let done = streamed.done.expect("Done");
        assert_eq!(as_json(&done.output), answer(), "chunks of {chars}");
        let fields: serde_json::Map<String, Value> = streamed.fields.into_iter().collect();
        assert_eq!(Value::Object(fields), answer(), "chunks of {chars}");
    }
}

#[tokio::test]
async fn lenient_fixes_apply_to_streamed_fields() {
    // Quoted number, enum in another case, one landmark instead of a list.
    let messy = "[[ ## country ## ]]\nFrance\n\n[[ ## population ## ]]\n\"2102650\"\n\n\
                 [[ ## landmarks ## ]]\nEiffel Tower\n\n[[ ## climate ## ]]\nOCEANIC\n\n[[ ## completed ## ]]";
    let forward = Predict::<CityFacts>::new()
        .with_lm(LM::new(DummyLm::new([json!(messy)])))
        .forward(paris())
        .await
        .unwrap();
    let predict = Predict::<CityFacts>::new().with_lm(LM::new(DummyLm::new([json!(messy)])));
    let streamed = collect(predict.stream(paris())).await;
    let done = streamed.done.expect("Done");
    assert_eq!(as_json(&done.output), as_json(&forward.output));
    assert_eq!(done.fixes, forward.fixes);
    assert!(!done.fixes.is_empty());
    let output = as_json(&done.output);
    assert_eq!(streamed.fields.len(), 4);
    for (name, value) in &streamed.fields {
        assert_eq!(&output[name], value, "{name}");
    }
    assert_eq!(output["landmarks"], json!(["Eiffel Tower"]));
}

#[tokio::test]
async fn a_bad_answer_fails_as_forward_fails() {
    let bad = || DummyLm::new([json!("no idea"), json!("still no idea"), json!("nope")]);
    let forward_lm = bad();
    let forward_error = Predict::<CityFacts>::new()
        .with_lm(LM::new(forward_lm.clone()))
        .forward(paris())
        .await
        .unwrap_err();
    let stream_lm = bad();
    let predict = Predict::<CityFacts>::new().with_lm(LM::new(stream_lm.clone()));
    let streamed = collect(predict.stream(paris())).await;
    assert!(streamed.done.is_none());
    assert_eq!(streamed.events_after_end, 0, "nothing after the error");
    let stream_error = streamed.error.expect("an error");
    match (&stream_error, &forward_error) {
        (
            Error::Parse {
                field: a,
                raw: raw_a,
                tried: tried_a,
            },
            Error::Parse {
                field: b,
                raw: raw_b,
                tried: tried_b,
            },
        ) => {
            assert_eq!((a, raw_a, tried_a), (b, raw_b, tried_b));
        }
        other => panic!("expected two parse errors, got {other:?}"),
    }
    // The same recovery: JSON fallback, then one re-ask, both as plain calls.
    assert_eq!(stream_lm.requests(), forward_lm.requests());
    assert_eq!(stream_lm.requests().len(), 3);
    assert_eq!(streamed.deltas.concat(), "no idea");
}

#[tokio::test]
async fn a_fallback_parse_reports_the_fallback_values() {
    // An answer readable in no layout: the stream finds no field, the fallback (a second,
    // plain JSON call, answered with the object) parses, and Done has the output. (A JSON
    // object where markers were asked for is read in the first pass: no fallback needed.)
    let object = answer().to_string();
    let dummy = DummyLm::new([json!("no idea"), json!(object)]);
    let predict = Predict::<CityFacts>::new().with_lm(LM::new(dummy.clone()));
    let streamed = collect(predict.stream(paris())).await;
    let done = streamed.done.expect("Done");
    assert_eq!(as_json(&done.output), answer());
    assert_eq!(done.lm_calls, 2);
    let names: Vec<&str> = streamed.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, OUTPUTS, "reported from the final parse");
    assert!(
        streamed
            .field_after_deltas
            .iter()
            .all(|&n| n == streamed.deltas.len())
    );
}

#[tokio::test]
async fn streamed_calls_are_traced_and_counted() {
    let lm = LM::new(DummyLm::new([answer()]));
    let predict = Predict::<CityFacts>::new().with_lm(lm.clone());
    let (prediction, trace) = trace(predict.stream(paris()).prediction()).await;
    let prediction = prediction.unwrap();
    assert_eq!(trace.len(), 1);
    let entry = &trace.entries[0];
    assert_eq!(entry.predictor, predict.id());
    assert_eq!(Value::Object(entry.output.clone()), answer());
    assert_eq!(entry.example::<CityFacts>().unwrap().city, "Paris");
    let usage = lm.usage();
    assert_eq!(usage.calls, 1);
    assert_eq!(usage.usage, prediction.usage);
    assert!(prediction.usage.total() > 0);
}

#[tokio::test]
async fn an_unreadable_streamed_answer_is_traced_as_a_failure() {
    let lm = LM::new(DummyLm::new([
        json!("no idea"),
        json!("no idea"),
        json!("no idea"),
    ]));
    let predict = Predict::<CityFacts>::new().with_lm(lm);
    let (prediction, trace) = trace(predict.stream(paris()).prediction()).await;
    assert!(prediction.is_err());
    assert!(trace.is_empty());
    assert_eq!(trace.failures.len(), 1);
    assert_eq!(trace.failures[0].predictor, predict.id());
    assert_eq!(trace.failures[0].raw, "no idea");
}

#[tokio::test]
async fn nothing_is_sent_until_the_stream_is_polled() {
    let dummy = DummyLm::new([answer()]);
    let predict = Predict::<CityFacts>::new().with_lm(LM::new(dummy.clone()));
    let stream = predict.stream(paris());
    assert!(dummy.requests().is_empty());
    drop(stream);
    assert!(dummy.requests().is_empty());
    assert_eq!(dummy.remaining(), 1);
}

#[tokio::test]
async fn the_task_lm_is_used() {
    let lm = LM::new(DummyLm::new([answer()]));
    let output = dspy::with_lm(lm, async {
        Predict::<CityFacts>::new()
            .stream(paris())
            .prediction()
            .await
    })
    .await
    .unwrap();
    assert_eq!(output.country, "France");
}

// ---------------------------------------------------------------------------------------------
// `LM::stream` through the layers, on DummyLm.

fn ask(text: &str) -> LmRequest {
    LmRequest::new(Prompt::Chat(vec![Message::user(text)]))
}

async fn chunks(lm: &LM, request: LmRequest) -> Vec<Result<LmChunk>> {
    lm.stream(request).collect().await
}

#[tokio::test]
async fn a_cache_hit_streams_as_one_chunk() {
    let dummy = DummyLm::keyed([("", answer())]);
    let lm = LM::builder(dummy.clone())
        .cache(CacheConfig::memory_only())
        .history(10)
        .build();
    let first = chunks(&lm, ask("Paris?")).await;
    assert!(first.len() > 3, "streamed in pieces");
    let second = chunks(&lm, ask("Paris?")).await;
    assert_eq!(second.len(), 2, "one delta, then Done: {second:?}");
    let (Ok(LmChunk::Delta(text)), Ok(LmChunk::Done(hit))) = (&second[0], &second[1]) else {
        panic!("{second:?}");
    };
    assert!(hit.cached);
    assert_eq!(&hit.choices[0].text, text);
    let Some(Ok(LmChunk::Done(original))) = first.last() else {
        panic!("{first:?}")
    };
    assert_eq!(hit.choices, original.choices);
    assert_eq!(dummy.requests().len(), 1, "the repeat came from the cache");

    // A streamed answer also serves plain calls, and the other way round.
    assert!(lm.complete(ask("Paris?")).await.unwrap().cached);
    lm.complete(ask("Lyon?")).await.unwrap();
    assert_eq!(chunks(&lm, ask("Lyon?")).await.len(), 2);
    assert_eq!(dummy.requests().len(), 2);

    let usage = lm.usage();
    assert_eq!((usage.calls, usage.cache_hits), (2, 3));
    assert_eq!(lm.history(10).len(), 5, "streamed calls are in the history");
}

#[tokio::test]
async fn the_budget_is_checked_before_a_stream_starts() {
    let dummy = DummyLm::keyed([("", answer())]);
    let lm = LM::builder(dummy.clone())
        .budget(Budget::new().max_calls(1))
        .build();
    assert!(matches!(
        chunks(&lm, ask("a")).await.last(),
        Some(Ok(LmChunk::Done(_)))
    ));
    let refused = chunks(&lm, ask("b")).await;
    assert_eq!(refused.len(), 1);
    assert!(matches!(refused[0], Err(Error::Budget(_))), "{refused:?}");
    assert_eq!(dummy.requests().len(), 1);
    assert_eq!(lm.usage().refused_calls, 1);
}

/// A stream dropped midway was sent: its request counts in the usage and against the budget
/// (issue 18, item 13: before, it counted nothing and a budget of 1 let a second call through),
/// though it answered nothing. A stream dropped before it was ever polled sent nothing and
/// frees its place.
#[tokio::test]
async fn a_dropped_stream_still_counts_its_request() {
    let dummy = DummyLm::keyed([("", answer())]);
    let lm = LM::builder(dummy.clone())
        .budget(Budget::new().max_calls(1))
        .build();
    drop(lm.stream(ask("never polled")));
    assert_eq!(lm.usage().requests, 0);
    let mut stream = lm.stream(ask("a"));
    assert!(matches!(stream.next().await, Some(Ok(LmChunk::Delta(_)))));
    drop(stream);
    let usage = lm.usage();
    assert_eq!((usage.requests, usage.calls), (1, 0));
    let refused = chunks(&lm, ask("b")).await;
    assert!(
        matches!(refused.last(), Some(Err(Error::Budget(_)))),
        "{refused:?}"
    );
    assert_eq!(dummy.requests().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Over HTTP: server-sent events from the test server.

/// `CityFacts` answered in markers, as a chat model would.
const CHAT_ANSWER: &str = "[[ ## country ## ]]\nFrance\n\n[[ ## population ## ]]\n2102650\n\n\
     [[ ## landmarks ## ]]\n[\"Eiffel Tower\", \"Louvre\"]\n\n[[ ## climate ## ]]\noceanic\n\n[[ ## completed ## ]]";

/// `CityFacts` as a base model continues the completion prompt.
const COMPLETION_ANSWER: &str =
    " France\nPopulation: 2102650\nLandmarks: Eiffel Tower, Louvre\nClimate: oceanic";

fn without_stream_fields(mut body: Value) -> Value {
    if let Value::Object(map) = &mut body {
        map.remove("stream");
        map.remove("stream_options");
    }
    body
}

#[tokio::test]
async fn streaming_equals_non_streaming_over_http() {
    let server = TestServer::with_replies(&[CHAT_ANSWER]).await;
    let predict = Predict::<CityFacts>::new().with_lm(server.lm());
    let expected = predict.forward(paris()).await.unwrap();
    let streamed = collect(predict.stream(paris())).await;
    assert!(streamed.error.is_none(), "{:?}", streamed.error);
    let done = streamed.done.expect("Done");

    assert_eq!(as_json(&done.output), as_json(&expected.output));
    assert_eq!(done.raw, CHAT_ANSWER);
    assert_eq!(streamed.deltas.concat(), CHAT_ANSWER);
    assert!(
        streamed.deltas.len() > 20,
        "{} deltas",
        streamed.deltas.len()
    );
    assert_eq!(
        done.usage,
        Usage {
            prompt_tokens: 12,
            completion_tokens: 5
        },
        "usage from the last chunk"
    );
    assert_eq!(done.usage, expected.usage);
    let names: Vec<&str> = streamed.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, OUTPUTS);
    let output = as_json(&done.output);
    for (name, value) in &streamed.fields {
        assert_eq!(&output[name], value);
    }
    assert!(streamed.field_after_deltas[0] < streamed.deltas.len() / 2);

    let hits = server.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].path, "/v1/chat/completions");
    assert_eq!(hits[1].body["stream"], json!(true));
    assert_eq!(
        hits[1].body["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(
        without_stream_fields(hits[1].body.clone()),
        hits[0].body,
        "otherwise the same request"
    );
    assert!(hits[0].body.get("stream").is_none());
}

#[tokio::test]
async fn completion_mode_streams_from_completions() {
    let server = TestServer::with_replies(&[COMPLETION_ANSWER]).await;
    let lm = LM::new(
        server
            .builder("/v1")
            .mode(Mode::Completion)
            .build()
            .unwrap(),
    );
    let predict = Predict::<CityFacts>::new().with_lm(lm);
    let expected = predict.forward(paris()).await.unwrap();
    let streamed = collect(predict.stream(paris())).await;
    let done = streamed.done.expect("Done");
    assert_eq!(as_json(&done.output), as_json(&expected.output));
    assert_eq!(
        as_json(&done.output),
        json!({"country": "France", "population": 2102650, "landmarks": ["Eiffel Tower", "Louvre"], "climate": "oceanic"})
    );
    assert_eq!(streamed.deltas.concat(), COMPLETION_ANSWER);
    assert_eq!(streamed.fields.len(), 4);
    let hits = server.hits();
    assert_eq!(hits[1].path, "/v1/completions");
    assert_eq!(hits[1].body["stream"], json!(true));
    assert_eq!(without_stream_fields(hits[1].body.clone()), hits[0].body);
}

#[tokio::test]
async fn several_choices_are_assembled_by_index() {
    let server = TestServer::with_replies(&["Paris, of course.", "Lutetia!"]).await;
    let mut request = ask("Capital of France?");
    request.n = 2;
    let streamed = chunks(&server.lm(), request.clone()).await;
    let mut deltas = String::new();
    let mut done = None;
    for chunk in streamed {
        match chunk.unwrap() {
            LmChunk::Delta(text) => deltas.push_str(&text),
            LmChunk::Done(response) => done = Some(response),
        }
    }
    let done = done.unwrap();
    assert_eq!(deltas, "Paris, of course.", "deltas are the first choice's");
    let plain = server.lm().complete(request).await.unwrap();
    assert_eq!(done, plain, "the same response as a plain call");
}

#[tokio::test]
async fn without_stream_usage_the_option_is_not_sent() {
    let server = TestServer::with_replies(&["hi"]).await;
    let lm = LM::new(server.builder("/v1").stream_usage(false).build().unwrap());
    let streamed = chunks(&lm, ask("hello")).await;
    let Some(Ok(LmChunk::Done(response))) = streamed.last() else {
        panic!("{streamed:?}")
    };
    assert_eq!(response.choices[0].text, "hi");
    assert_eq!(response.usage, Usage::default(), "no usage was sent");
    let body = server.only_hit().body;
    assert_eq!(body["stream"], json!(true));
    assert!(body.get("stream_options").is_none(), "{body}");
}

#[tokio::test]
async fn a_cache_hit_over_http_streams_as_one_chunk() {
    let server = TestServer::with_replies(&[CHAT_ANSWER]).await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .cache(CacheConfig::memory_only())
        .build();
    let predict = Predict::<CityFacts>::new().with_lm(lm.clone());
    let first = collect(predict.stream(paris())).await;
    let second = collect(predict.stream(paris())).await;
    assert!(first.deltas.len() > 20);
    assert_eq!(
        second.deltas,
        [CHAT_ANSWER],
        "the whole answer as one chunk"
    );
    let (first, second) = (first.done.unwrap(), second.done.unwrap());
    assert_eq!(as_json(&first.output), as_json(&second.output));
    assert_eq!(second.usage, Usage::default(), "a cache hit costs nothing");
    assert_eq!(server.requests(), 1);
    assert_eq!(lm.usage().cache_hits, 1);
}

#[tokio::test]
async fn failures_before_the_first_chunk_are_retried() {
    let server = TestServer::with_replies(&["ok"]).await;
    let clock = RecordingClock::new();
    let lm = LM::builder(server.builder("/status/429/v1").build().unwrap())
        .retries(2)
        .clock(clock.clone())
        .build();
    let streamed = chunks(&lm, ask("hi")).await;
    assert_eq!(streamed.len(), 1);
    let Err(Error::Lm {
        kind, retry_after, ..
    }) = &streamed[0]
    else {
        panic!("{streamed:?}")
    };
    assert_eq!(*kind, LmErrorKind::RateLimited);
    assert_eq!(*retry_after, Some(Duration::from_secs(3)));
    assert_eq!(server.requests(), 3, "the first attempt and two retries");
    assert_eq!(clock.waits(), [Duration::from_secs(3); 2]);
}

#[tokio::test]
async fn a_stream_broken_midway_fails_without_a_retry() {
    let server = TestServer::start(ServerConfig {
        faults: Faults {
            dropped: 1.0,
            ..Default::default()
        },
        ..ServerConfig::replies(&[CHAT_ANSWER])
    })
    .await;
    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .retries(3)
        .clock(RecordingClock::new())
        .build();
    let predict = Predict::<CityFacts>::new().with_lm(lm.clone());
    let streamed = collect(predict.stream(paris())).await;
    assert!(!streamed.deltas.is_empty(), "part of the answer arrived");
    let error = streamed.error.expect("an error");
    assert!(
        matches!(
            error,
            Error::Lm {
                kind: LmErrorKind::Server,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(server.requests(), 1, "not retried after the first chunk");
    assert_eq!(lm.usage().failed_calls, 1);
}

#[tokio::test]
async fn the_api_key_never_appears() {
    let server = TestServer::with_replies(&[CHAT_ANSWER]).await;
    // The 401 path echoes the key it was sent, as OpenAI does.
    let lm = LM::new(server.builder("/status/401/v1").build().unwrap());
    let streamed = chunks(&lm, ask("hi")).await;
    let Err(error) = &streamed[0] else {
        panic!("{streamed:?}")
    };
    assert!(matches!(
        error,
        Error::Lm {
            kind: LmErrorKind::Auth,
            ..
        }
    ));
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("Incorrect API key"), "{shown}");

    let lm = LM::builder(server.builder("/v1").build().unwrap())
        .history(5)
        .build();
    let predict = Predict::<CityFacts>::new().with_lm(lm.clone());
    let streamed = collect(predict.stream(paris())).await;
    let everything = format!(
        "{:?} {:?} {:?} {lm:?}",
        streamed.deltas,
        streamed.done,
        lm.history(5)
    );
    assert!(!everything.contains(KEY));
    assert_eq!(
        server.hits()[1].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
}
