//! The OpenAI-compatible backend over real HTTP, against the test server (tests/support), which
//! records every request and answers in OpenAI's format.

use crate::support;

use dspy::LmErrorKind;
use dspy::adapter::{Message, Prompt, ResponseSchema};
use dspy::lm::{FinishReason, LmRequest, Mode, OpenAiLm, Usage};
use dspy::prelude::*;
use serde_json::json;
use std::time::Duration;
use support::server::{KEY, TestServer};

fn chat_request() -> LmRequest {
    LmRequest::new(Prompt::Chat(vec![
        Message::system("Be brief."),
        Message::user("Capital of France?"),
    ]))
}

/// Answer questions with short factoid answers.
#[derive(Signature, Clone, Debug)]
struct CapitalQa {
    #[input(desc = "a question about geography")]
    question: String,
    #[output(desc = "often a single word")]
    answer: String,
}

fn ask() -> CapitalQaInput {
    CapitalQaInput {
        question: "What is the capital of France?".into(),
    }
}

const CHAT_PARIS: &str = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]";

// ---------------------------------------------------------------------------------------------
// The backend alone, through `LM::complete`.

#[tokio::test]
async fn chat_request_and_response_over_http() {
    let server = TestServer::with_replies(&["Paris.", "Lutetia."]).await;
    let mut request = chat_request().with_temperature(0.25).with_max_tokens(32);
    request.n = 2;
    request.stop = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
    request.rollout_id = Some(42);
    let response = server.lm().complete(request).await.unwrap();

    let texts: Vec<&str> = response.choices.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["Paris.", "Lutetia."], "choices in index order");
    assert!(
        response
            .choices
            .iter()
            .all(|c| c.finish_reason == FinishReason::Stop)
    );
    assert_eq!(
        response.usage,
        Usage {
            prompt_tokens: 12,
            completion_tokens: 5
        }
    );
    assert_eq!(response.model, "test-model-2025-01-01");
    assert!(!response.cached);

    let hit = server.only_hit();
    assert_eq!(hit.path, "/v1/chat/completions");
    assert_eq!(hit.authorization.as_deref(), Some("Bearer sk-test-SECRET"));
    assert_eq!(
        hit.body,
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Capital of France?"},
            ],
            "max_tokens": 32,
            "n": 2,
            "stop": ["a", "b", "c", "d"],
            "temperature": 0.25,
        }),
        "only the settings given are sent, never rollout_id; at most 4 stop sequences; max_tokens off OpenAI"
    );
}

#[tokio::test]
async fn text_prompt_in_chat_mode_is_one_user_message() {
    let server = TestServer::with_replies(&["hi"]).await;
    server
        .lm()
        .complete(LmRequest::new(Prompt::Text("Say hi".into())))
        .await
        .unwrap();
    assert_eq!(
        server.only_hit().body,
        json!({"model": "test-model", "messages": [{"role": "user", "content": "Say hi"}]})
    );
}

#[tokio::test]
async fn response_schema_is_sent_as_json_schema_format() {
    let server = TestServer::with_replies(&[r#"{"answer": "Paris"}"#]).await;
    let mut request = chat_request();
    request.response_schema = Some(ResponseSchema {
        name: "CapitalQa".into(),
        schema: json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": false}),
        strict: true,
    });
    server.lm().complete(request).await.unwrap();
    let body = server.only_hit().body;
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "CapitalQa");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["required"],
        json!(["answer"])
    );
}

#[tokio::test]
async fn a_server_that_refuses_json_schema_gets_json_object_from_then_on() {
    let server =
        TestServer::with_replies(&[r#"{"answer": "Paris"}"#, r#"{"answer": "Rome"}"#]).await;
    let lm = LM::new(server.builder("/no-schema/v1").build().unwrap());
    let mut request = chat_request();
    request.response_schema = Some(ResponseSchema {
        name: "CapitalQa".into(),
        schema: json!({"type": "object", "properties": {"answer": {"type": "string"}}}),
        strict: true,
    });
    let first = lm.complete(request.clone()).await.unwrap();
    assert_eq!(first.choices[0].text, r#"{"answer": "Paris"}"#);
    let formats = |hits: Vec<support::server::Hit>| -> Vec<String> {
        hits.iter()
            .map(|h| {
                h.body["response_format"]["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(formats(server.hits()), ["json_schema", "json_object"]);
    // Refused once, the schema is not offered again.
    lm.complete(request).await.unwrap();
    assert_eq!(
        formats(server.hits()),
        ["json_schema", "json_object", "json_object"]
    );
    // A request with no schema asks for no format at all.
    lm.complete(chat_request()).await.unwrap();
    assert_eq!(server.hits()[3].body.get("response_format"), None);

    // Streaming falls back the same way (the refusal comes before any chunk).
    let streaming = LM::new(server.builder("/no-schema/v1").build().unwrap());
    let mut schema_request = chat_request();
    schema_request.response_schema = Some(ResponseSchema {
        name: "CapitalQa".into(),
        schema: json!({"type": "object"}),
        strict: true,
    });
    let mut chunks = streaming.stream(schema_request);
    let mut done = None;
    while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
        if let dspy::lm::LmChunk::Done(response) = chunk.unwrap() {
            done = Some(response);
        }
    }
    assert!(done.is_some());
    drop(chunks);
    let hits = server.hits();
    let streamed: Vec<&str> = hits[4..]
        .iter()
        .map(|h| h.body["response_format"]["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(streamed, ["json_schema", "json_object"]);

    // A 500 that does not name the parameter is a flaky server: no second try here.
    let flaky = LM::new(server.builder("/status/500/v1").build().unwrap());
    let mut request = chat_request();
    request.response_schema = Some(ResponseSchema {
        name: "CapitalQa".into(),
        schema: json!({"type": "object"}),
        strict: true,
    });
    assert!(flaky.complete(request).await.is_err());
    assert_eq!(server.hits().len(), 7);
}

#[tokio::test]
async fn completion_mode_posts_a_text_prompt_to_completions() {
    let server = TestServer::with_replies(&[" Paris"]).await;
    let lm = LM::new(
        server
            .builder("/v1")
            .mode(Mode::Completion)
            .build()
            .unwrap(),
    );
    assert!(!lm.capabilities().chat);
    let mut request = chat_request().with_max_tokens(8);
    request.stop = vec!["\n\n".into()];
    let response = lm.complete(request).await.unwrap();
    assert_eq!(response.choices.len(), 1);
    assert_eq!(response.choices[0].text, " Paris");
    assert_eq!(response.choices[0].finish_reason, FinishReason::Length);
    assert_eq!(response.model, "test-base-model");

    let hit = server.only_hit();
    assert_eq!(hit.path, "/v1/completions");
    assert_eq!(
        hit.body,
        json!({"model": "test-model", "prompt": "System: Be brief.\n\nUser: Capital of France?", "max_tokens": 8, "stop": ["\n\n"]})
    );
}

async fn error_from(server: &TestServer, prefix: &str) -> Error {
    let lm = LM::new(
        server
            .builder(prefix)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
    );
    lm.complete(chat_request()).await.unwrap_err()
}

fn kind_of(error: &Error) -> (LmErrorKind, Option<Duration>) {
    match error {
        Error::Lm {
            kind, retry_after, ..
        } => (*kind, *retry_after),
        other => panic!("expected an LM error, got {other}"),
    }
}

#[tokio::test]
async fn http_errors_map_to_kinds_without_the_key() {
    let server = TestServer::with_replies(&["unused"]).await;
    let cases = [
        ("/status/429/v1", LmErrorKind::RateLimited),
        ("/status/401/v1", LmErrorKind::Auth),
        ("/status/500/v1", LmErrorKind::Server),
        ("/status/400/v1", LmErrorKind::ContextWindowExceeded),
        ("/missing/v1", LmErrorKind::BadRequest),
    ];
    for (prefix, expected) in cases {
        let error = error_from(&server, prefix).await;
        let text = error.to_string();
        assert_eq!(kind_of(&error).0, expected, "{prefix}: {text}");
        assert!(!text.contains("SECRET"), "{prefix}: the key leaked: {text}");
        assert!(
            !format!("{error:?}").contains("SECRET"),
            "{prefix}: the key leaked in Debug"
        );
        assert!(
            text.contains(&format!("{}{prefix}/chat/completions", server.root)),
            "{prefix}: {text}"
        );
    }
    // No hidden retries under dspy's own retry layer: one request per call.
    assert_eq!(server.hits().len(), cases.len(), "{:#?}", server.hits());
}

#[tokio::test]
async fn rate_limit_keeps_retry_after_and_is_retryable() {
    let server = TestServer::with_replies(&["unused"]).await;
    let error = error_from(&server, "/status/429/v1").await;
    assert_eq!(
        kind_of(&error),
        (LmErrorKind::RateLimited, Some(Duration::from_secs(3)))
    );
    assert!(error.is_retryable());
    assert!(error.to_string().contains("Rate limit reached"), "{error}");
}

#[tokio::test]
async fn echoed_key_is_redacted() {
    let server = TestServer::with_replies(&["unused"]).await;
    let error = error_from(&server, "/status/401/v1").await;
    let text = error.to_string();
    assert!(
        text.contains("Incorrect API key provided: <redacted>"),
        "{text}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn context_window_error_says_what_to_do() {
    let server = TestServer::with_replies(&["unused"]).await;
    let text = error_from(&server, "/status/400/v1").await.to_string();
    assert!(
        text.contains("maximum context length is 8192 tokens"),
        "{text}"
    );
    assert!(text.contains("context_length_exceeded"), "{text}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_server_error_with_a_snippet() {
    let server = TestServer::with_replies(&["unused"]).await;
    let error = error_from(&server, "/html/v1").await;
    assert_eq!(kind_of(&error).0, LmErrorKind::Server);
    assert!(
        error
            .to_string()
            .contains("<html>a web page, not an API</html>"),
        "{error}"
    );
}

#[tokio::test]
async fn slow_server_times_out() {
    let server = TestServer::with_replies(&["unused"]).await;
    let error = error_from(&server, "/slow/v1").await;
    assert_eq!(kind_of(&error).0, LmErrorKind::Timeout, "{error}");
    assert!(error.is_retryable());
}

/// A stream the client's timeout cuts off midway is a Timeout, like any other (it was a server
/// error).
#[tokio::test]
async fn a_stalled_stream_times_out() {
    use futures_util::StreamExt;
    let server = TestServer::with_replies(&["Paris is the capital"]).await;
    let lm = LM::new(
        server
            .builder("/stall-stream/v1")
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
    );
    let mut stream = lm.stream(chat_request());
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    let error = last.unwrap().unwrap_err();
    assert_eq!(kind_of(&error).0, LmErrorKind::Timeout, "{error}");
    assert!(error.to_string().contains("DSPY_LM_TIMEOUT"), "{error}");
}

/// `DSPY_LM_TIMEOUT` sets the timeout of every OpenAI-compatible LM built without one.
#[tokio::test]
async fn the_timeout_comes_from_the_environment() {
    let vars = [("DSPY_LM_TIMEOUT", "0.3")];
    if !support::alone::in_own_process_with_env(
        module_path!(),
        "the_timeout_comes_from_the_environment",
        &vars,
    ) {
        return;
    }
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = LM::new(server.builder("/slow/v1").build().unwrap());
    let started = std::time::Instant::now();
    let error = lm.complete(chat_request()).await.unwrap_err();
    assert_eq!(kind_of(&error).0, LmErrorKind::Timeout, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the 5 s stall was cut at 0.3 s"
    );
    assert!(error.to_string().contains("300ms"), "{error}");
    // An explicit timeout wins over the variable.
    let lm = LM::new(
        server
            .builder("/slow/v1")
            .timeout(Duration::from_millis(700))
            .build()
            .unwrap(),
    );
    assert!(
        lm.complete(chat_request())
            .await
            .unwrap_err()
            .to_string()
            .contains("700ms")
    );
}

/// A 200 with an empty `choices` list is an LM error at once, not a parse failure re-asked
/// three times.
#[tokio::test]
async fn empty_choices_is_an_lm_error() {
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = LM::new(server.builder("/empty-choices/v1").build().unwrap());
    let error = Predict::<CapitalQa>::new()
        .with_lm(lm)
        .call(ask())
        .await
        .unwrap_err();
    assert_eq!(kind_of(&error).0, LmErrorKind::Server, "{error}");
    assert!(error.to_string().contains("`choices`"), "{error}");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn refused_connection_is_a_server_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let lm = LM::new(
        OpenAiLm::builder("m")
            .base_url(root)
            .api_key(KEY)
            .build()
            .unwrap(),
    );
    let error = lm.complete(chat_request()).await.unwrap_err();
    assert_eq!(kind_of(&error).0, LmErrorKind::Server, "{error}");
    assert!(error.to_string().contains("could not connect"), "{error}");
    assert!(!error.to_string().contains("SECRET"));
}

// ---------------------------------------------------------------------------------------------
// Predictors over HTTP.

#[tokio::test]
async fn predict_with_chat_adapter_over_http() {
    let server = TestServer::with_replies(&[CHAT_PARIS]).await;
    let predict = Predict::<CapitalQa>::new().with_lm(server.lm());
    let out: CapitalQaOutput = predict.call(ask()).await.unwrap();
    assert_eq!(out.answer, "Paris");

    let body = server.only_hit().body;
    assert_eq!(body["model"], "test-model");
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user"]);
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.contains("Your input fields are:"), "{system}");
    assert!(
        system.contains("Answer questions with short factoid answers."),
        "{system}"
    );
    let user = messages[1]["content"].as_str().unwrap();
    assert!(user.contains("What is the capital of France?"), "{user}");
    assert!(
        body.get("response_format").is_none(),
        "ChatAdapter sends no response_format: {body}"
    );
    assert!(body.get("rollout_id").is_none() && body.get("answer_format").is_none());
}

#[tokio::test]
async fn predict_with_json_adapter_uses_structured_output() {
    let server = TestServer::with_replies(&[r#"{"answer": "Paris"}"#]).await;
    let predict = Predict::<CapitalQa>::new()
        .with_lm(server.lm())
        .with_adapter(JsonAdapter::new());
    let out = predict.call(ask()).await.unwrap();
    assert_eq!(out.answer, "Paris");

    let body = server.only_hit().body;
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema", "{body}");
    assert!(
        format["json_schema"]["schema"]["properties"]
            .get("answer")
            .is_some(),
        "{format}"
    );
    assert!(format["json_schema"]["name"].is_string(), "{format}");
}

#[tokio::test]
async fn predict_without_structured_output_sends_no_schema() {
    let server = TestServer::with_replies(&[r#"{"answer": "Paris"}"#]).await;
    let lm = LM::new(
        server
            .builder("/v1")
            .structured_output(false)
            .build()
            .unwrap(),
    );
    let predict = Predict::<CapitalQa>::new()
        .with_lm(lm)
        .with_adapter(JsonAdapter::new());
    assert_eq!(predict.call(ask()).await.unwrap().answer, "Paris");
    assert!(server.only_hit().body.get("response_format").is_none());
}

#[tokio::test]
async fn predict_in_completion_mode_over_http() {
    let server = TestServer::with_replies(&[" Paris"]).await;
    let lm = LM::new(
        server
            .builder("/v1")
            .mode(Mode::Completion)
            .build()
            .unwrap(),
    );
    let predict = Predict::<CapitalQa>::new().with_lm(lm);
    let out = predict.call(ask()).await.unwrap();
    assert_eq!(out.answer, "Paris");

    let hit = server.only_hit();
    assert_eq!(hit.path, "/v1/completions");
    let prompt = hit.body["prompt"].as_str().unwrap();
    assert!(
        prompt.contains("What is the capital of France?"),
        "{prompt}"
    );
    assert!(hit.body.get("messages").is_none());
}

#[tokio::test]
async fn predict_returns_every_completion() {
    let lutetia = "[[ ## answer ## ]]\nLutetia\n\n[[ ## completed ## ]]";
    let server = TestServer::with_replies(&[CHAT_PARIS, lutetia]).await;
    let predict = Predict::<CapitalQa>::new().with_lm(server.lm()).n(2);
    let prediction = predict.forward(ask()).await.unwrap();
    let answers: Vec<&str> = prediction
        .completions
        .iter()
        .map(|c| c.answer.as_str())
        .collect();
    assert_eq!(answers, ["Paris", "Lutetia"]);
    assert_eq!(prediction.answer, "Paris");
    assert_eq!(
        prediction.usage,
        Usage {
            prompt_tokens: 12,
            completion_tokens: 5
        }
    );
    assert_eq!(server.only_hit().body["n"], 2);
}

#[tokio::test]
async fn predict_surfaces_lm_errors() {
    let server = TestServer::with_replies(&["unused"]).await;
    let lm = LM::new(server.builder("/status/401/v1").build().unwrap());
    let error = Predict::<CapitalQa>::new()
        .with_lm(lm)
        .call(ask())
        .await
        .unwrap_err();
    assert_eq!(kind_of(&error).0, LmErrorKind::Auth);
    assert!(!error.to_string().contains("SECRET"), "{error}");
}
