//! Reading LM answers as a careful reader would (issue 18, parsing): loose markers, answers
//! without markers, cut-off markers and values, echoes before the answer, and what a predictor
//! call does after an answer was cut off.

use dspy_core::adapter::parse::parse_field;
use dspy_core::adapter::{Adapter, FormatRequest, Parsed};
use dspy_core::lm::{BoxFuture, Choice, FinishReason};
use dspy_core::module::run_adapter;
use dspy_core::{
    ChatAdapter, DummyLm, Error, FieldSpec, JsonAdapter, LM, LanguageModel, LmRequest, LmResponse,
    PredictConfig, SignatureInfo,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn qa() -> SignatureInfo {
    SignatureInfo::new("QA")
        .input::<String>("question", "")
        .output::<String>("answer", "")
}

fn values(parsed: &Parsed) -> Value {
    Value::Object(parsed.values.clone())
}

fn chat(sig: &SignatureInfo, text: &str) -> dspy_core::Result<Parsed> {
    ChatAdapter::new().parse(sig, text)
}

fn cut_off(err: &Error) -> bool {
    matches!(err, Error::Parse { tried, .. } if tried.iter().any(|t| t.contains("cut off")))
}

#[test]
fn loose_markers_are_read_when_they_name_exactly_one_output_field() {
    let sig = qa();
    for text in [
        "[[## answer ##]]\nParis\n\n[[## completed ##]]",
        "[[ ## Answer ## ]]\nParis\n\n[[ ## completed ## ]]",
        "[[ ## ANSWER ## ]]\nParis\n\n[[ ## COMPLETED ## ]]",
        "[[  ##  answer  ##  ]]\nParis\n\n[[  ##  completed  ##  ]]",
        "[[ ## answer ##]]\nParis\n\n[[ ## completed ##]]",
        "**[[ ## answer ## ]]**\nParis\n\n**[[ ## completed ## ]]**",
    ] {
        let parsed = chat(&sig, text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(values(&parsed), json!({"answer": "Paris"}), "{text:?}");
        assert!(
            parsed.fixes.iter().any(|f| f.field == "answer"),
            "{text:?}: {:?}",
            parsed.fixes
        );
    }
    let sig = SignatureInfo::new("S")
        .input::<String>("question", "")
        .output::<String>("final_answer", "");
    for text in [
        "[[ ## final answer ## ]]\nNile",
        "[[ ## Final Answer ## ]]\nNile",
        "[[ ## FINAL_ANSWER ## ]]\nNile",
    ] {
        let parsed = chat(&sig, text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(values(&parsed), json!({"final_answer": "Nile"}), "{text:?}");
    }
    // Never a different field: an input's marker, or a name that is not the output's.
    assert!(chat(&qa(), "[[ ## Question ## ]]\nWhat is it?").is_err());
    assert!(chat(&qa(), "[[ ## answers ## ]]\nParis").is_err());
}

#[test]
fn answers_without_markers_are_read_from_a_json_object_or_a_bare_value() {
    let parsed = chat(&qa(), "Here you go:\n```json\n{\"answer\": \"Paris\"}\n```").unwrap();
    assert_eq!(values(&parsed), json!({"answer": "Paris"}));
    assert!(
        parsed.fixes.iter().any(|f| f.field == "*"),
        "{:?}",
        parsed.fixes
    );

    let verify = SignatureInfo::new("V")
        .input::<String>("claim", "")
        .output::<bool>("verdict", "");
    let parsed = chat(&verify, "True").unwrap();
    assert_eq!(values(&parsed), json!({"verdict": true}));
    assert!(
        parsed.fixes.iter().any(|f| f.field == "verdict"),
        "{:?}",
        parsed.fixes
    );
    let count = SignatureInfo::new("C")
        .input::<String>("question", "")
        .output::<u32>("count", "");
    assert_eq!(
        values(&chat(&count, "There are 12 apples.").unwrap()),
        json!({"count": 12})
    );
    // Plain text cannot be told from chatter, nor one of two outputs from the other.
    assert!(chat(&qa(), "Paris").is_err());
    let two = count.output::<bool>("sure", "");
    assert!(chat(&two, "12").is_err());
}

#[test]
fn a_completed_marker_cut_off_at_the_end_is_not_part_of_the_last_field() {
    for text in [
        "[[ ## answer ## ]]\nParis\n\n[[ ## comp",
        "[[ ## answer ## ]]\nParis\n\n[[ ## completed ##",
        "[[ ## answer ## ]]\nParis\n\n[[",
    ] {
        let parsed = chat(&qa(), text).unwrap();
        assert_eq!(values(&parsed), json!({"answer": "Paris"}), "{text:?}");
        assert!(
            parsed.fixes.iter().any(|f| f.what.contains("cut off")),
            "{text:?}: {:?}",
            parsed.fixes
        );
    }
}

#[test]
fn a_bool_followed_by_a_blank_line_and_prose_is_read() {
    let verify = SignatureInfo::new("V")
        .input::<String>("claim", "")
        .output::<bool>("verdict", "");
    for (text, want) in [
        (
            "[[ ## verdict ## ]]\nTrue\n\nThe passage supports it.\n\n[[ ## completed ## ]]",
            true,
        ),
        ("[[ ## verdict ## ]]\nFalse\n\n## completed ##", false),
    ] {
        let parsed = chat(&verify, text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(values(&parsed), json!({"verdict": want}), "{text:?}");
    }
    let field = FieldSpec::of::<bool>("verdict", "");
    assert_eq!(
        parse_field(&field, "Yes\n\nBecause it rains.").unwrap().0,
        true
    );
    assert!(parse_field(&field, "Yes\n\nNo, wait.").is_err());
}

#[test]
fn the_json_adapter_reads_the_object_with_the_outputs_and_falls_back_to_markers() {
    let rag = SignatureInfo::new("R")
        .input::<String>("context", "")
        .input::<String>("question", "")
        .output::<String>("answer", "");
    let echo_first = "{\"context\": \"Lisbon is the capital.\", \"question\": \"Capital?\"}\n\
                      {\"answer\": \"Lisbon\"}";
    let parsed = JsonAdapter::new().parse(&rag, echo_first).unwrap();
    assert_eq!(values(&parsed), json!({"answer": "Lisbon"}));
    let markers = "[[ ## answer ## ]]\nLisbon\n\n[[ ## completed ## ]]";
    let parsed = JsonAdapter::new().parse(&rag, markers).unwrap();
    assert_eq!(values(&parsed), json!({"answer": "Lisbon"}));
    assert!(
        parsed.fixes.iter().any(|f| f.field == "*"),
        "{:?}",
        parsed.fixes
    );
}

#[test]
fn values_cut_off_at_the_end_are_errors_not_answers() {
    let tags = FieldSpec::of::<Vec<String>>("tags", "");
    let err = parse_field(&tags, "[\"photosynthesis\", \"chloro").unwrap_err();
    assert!(err[0].starts_with("the answer was cut off"), "{err:?}");
    let counts = SignatureInfo::new("W")
        .input::<String>("text", "")
        .output::<HashMap<String, i64>>("counts", "");
    for text in [
        "{\"counts\": {\"the\": 2, \"cat\": 1, \"sa",
        "[[ ## counts ## ]]\n{\"the\": 2, \"cat\": 1, \"sa",
    ] {
        for adapter in [
            Arc::new(ChatAdapter::new()) as Arc<dyn Adapter>,
            Arc::new(JsonAdapter::new()),
        ] {
            let err = adapter.parse(&counts, text).unwrap_err();
            assert!(cut_off(&err), "{}: {text:?}: {err}", adapter.name());
        }
    }
    let err = JsonAdapter::new()
        .parse(&qa(), "{\"answer\": \"The capital of France is Par")
        .unwrap_err();
    assert!(cut_off(&err), "{err}");
    // Repairs before more text are not cut-offs: the answer went on.
    let parsed = chat(
        &counts,
        "[[ ## counts ## ]]\n{\"the\": 2, \"cat\": 1\n\n[[ ## completed ## ]]",
    )
    .unwrap();
    assert_eq!(values(&parsed), json!({"counts": {"the": 2, "cat": 1}}));
    let parsed = JsonAdapter::new()
        .parse(&qa(), "```json\n{\"answer\": \"Paris\",\n```")
        .unwrap();
    assert_eq!(values(&parsed), json!({"answer": "Paris"}));
    assert_eq!(
        parse_field(&tags, "[\"a\", \"b\",]").unwrap().0,
        json!(["a", "b"])
    );
}

/// Answers every call with the same text and finish reason, counting the calls.
#[derive(Debug)]
struct Scripted {
    text: &'static str,
    finish: FinishReason,
    calls: Arc<AtomicUsize>,
}

impl LanguageModel for Scripted {
    fn model(&self) -> &str {
        "scripted"
    }

    fn complete(&self, _: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let response = LmResponse {
            choices: vec![Choice {
                text: self.text.into(),
                finish_reason: self.finish,
            }],
            ..Default::default()
        };
        Box::pin(async move { Ok(response) })
    }
}

fn count_sure() -> SignatureInfo {
    SignatureInfo::new("Count")
        .input::<String>("question", "")
        .output::<u32>("count", "")
        .output::<bool>("sure", "")
}

async fn call(
    lm: &LM,
    sig: &SignatureInfo,
    adapter: Arc<dyn Adapter>,
) -> dspy_core::Result<Map<String, Value>> {
    let input: Map<String, Value> = json!({"question": "How many?"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let request = FormatRequest {
        signature: sig,
        instructions: "",
        demos: &[],
        input: &input,
    };
    run_adapter(lm, adapter, &request, &PredictConfig::default(), |p| {
        Ok(p.values)
    })
    .await
    .map(|p| p.output)
}

#[tokio::test]
async fn a_cut_off_answer_is_not_asked_again() {
    for (text, finish) in [
        (
            "[[ ## count ## ]]\n12\n\n[[ ## sure ## ]]\ntr",
            FinishReason::Length,
        ),
        ("{\"count\": 12, \"sure\": tr", FinishReason::Length),
        ("{\"count\": 12, \"sure\": \"tr", FinishReason::Stop),
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let lm = LM::new(Scripted {
            text,
            finish,
            calls: calls.clone(),
        });
        let err = call(&lm, &count_sure(), Arc::new(ChatAdapter::new()))
            .await
            .unwrap_err();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "{text:?}: no fallback, no re-ask"
        );
        assert!(err.to_string().contains("max_tokens"), "{text:?}: {err}");
        assert!(
            matches!(&err, Error::Parse { field, .. } if field == "sure"),
            "{err}"
        );
    }
    // With `length`, JSON closed before the cut is whole.
    let lm = LM::new(Scripted {
        text: "{\"count\": 12, \"sure\": true}\n\nI counted",
        finish: FinishReason::Length,
        calls: Arc::default(),
    });
    let out = call(&lm, &count_sure(), Arc::new(JsonAdapter::new())).await;
    assert_eq!(
        Value::Object(out.unwrap()),
        json!({"count": 12, "sure": true})
    );
}

#[tokio::test]
async fn a_parse_error_names_the_field_that_failed_first() {
    // The chat answer fails on `sure`; the fallback and the re-ask then fail on `count`.
    let dummy = DummyLm::new([
        json!("[[ ## count ## ]]\n12\n\n[[ ## sure ## ]]\nmaybe\n\n[[ ## completed ## ]]"),
        json!("{\"count\": \"many\", \"sure\": true}"),
        json!("{\"count\": \"lots\", \"sure\": true}"),
    ]);
    let lm = LM::new(dummy.clone());
    let err = call(&lm, &count_sure(), Arc::new(ChatAdapter::new()))
        .await
        .unwrap_err();
    assert_eq!(dummy.remaining(), 0, "chat, json fallback, re-ask");
    let Error::Parse { field, raw, tried } = &err else {
        panic!("{err}")
    };
    assert_eq!(field, "sure", "{tried:?}");
    assert_eq!(raw, "{\"count\": \"lots\", \"sure\": true}");
}
