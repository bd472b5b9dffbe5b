//! A corpus of LM answers, each run through `ChatAdapter` and `JsonAdapter` one call deep (no
//! fallback, no re-ask), with the outcome a careful reader would give: the values read, or an
//! error (`"error: truncated"` when the answer was cut off).
//!
//! The answers are written to look like what small and large models send back: clean answers,
//! loose `[[ ## field ## ]]` markers, JSON without markers, bare values, prose around the answer,
//! echoes of the input, and answers cut off by `max_tokens`. Each line of
//! `tests/data/parse_corpus.jsonl` is one case:
//!
//! ```json
//! {"id": "...", "sig": "qa", "text": "...", "finish": "length", "expect": {"answer": "Paris"}}
//! ```
//!
//! `finish` is `"stop"` unless given; `adapters` lists the adapters to run (both unless given).

use dspy_core::adapter::{Adapter, FormatRequest};
use dspy_core::lm::{BoxFuture, Choice, FinishReason};
use dspy_core::module::run_adapter;
use dspy_core::{
    ChatAdapter, Error, FieldSpec, JsonAdapter, LM, LanguageModel, LmRequest, LmResponse,
    PredictConfig, SignatureInfo,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const CORPUS: &str = include_str!("data/parse_corpus.jsonl");

fn enum_field(name: &str, choices: &[&str]) -> FieldSpec {
    FieldSpec::from_schema(name, "", json!({"type": "string", "enum": choices}))
}

/// The signatures the corpus answers, by the name its entries use.
fn signature(name: &str) -> SignatureInfo {
    let sig = SignatureInfo::new(name);
    let ask = |sig: SignatureInfo| sig.input::<String>("question", "");
    match name {
        "qa" => ask(sig).output::<String>("answer", ""),
        "cot" => ask(sig)
            .output::<String>("reasoning", "")
            .output::<String>("answer", ""),
        "rag" => sig
            .input::<String>("context", "")
            .input::<String>("question", "")
            .output::<String>("reasoning", "")
            .output::<String>("answer", ""),
        "trec" => ask(sig).with_output(enum_field(
            "label",
            &[
                "HUMAN",
                "LOCATION",
                "NUMERIC_VALUE",
                "ENTITY",
                "DESCRIPTION",
                "ABBREVIATION",
            ],
        )),
        "sentiment" => sig.input::<String>("text", "").with_output(enum_field(
            "sentiment",
            &["positive", "negative", "neutral"],
        )),
        "verify" => sig
            .input::<String>("claim", "")
            .output::<bool>("verdict", ""),
        "count" => ask(sig).output::<u32>("count", ""),
        "rate" => sig.input::<String>("review", "").output::<f64>("score", ""),
        "keywords" => sig
            .input::<String>("document", "")
            .output::<Vec<String>>("keywords", ""),
        "person" => sig
            .input::<String>("bio", "")
            .with_output(FieldSpec::from_schema(
                "person",
                "",
                json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "age": {"type": "integer", "minimum": 0},
                        "city": {"anyOf": [{"type": "string"}, {"type": "null"}]}
                    },
                    "required": ["name", "age"]
                }),
            )),
        "multi" => ask(sig)
            .output::<String>("answer", "")
            .output::<f64>("confidence", "")
            .output::<Vec<String>>("citations", ""),
        "final" => ask(sig).output::<String>("final_answer", ""),
        "wordcount" => sig
            .input::<String>("text", "")
            .output::<HashMap<String, i64>>("counts", ""),
        "triage" => sig
            .input::<String>("ticket", "")
            .with_output(enum_field(
                "category",
                &["billing", "bug", "feature_request", "other"],
            ))
            .output::<bool>("urgent", ""),
        "primes" => ask(sig).output::<Vec<i64>>("primes", ""),
        "optional" => ask(sig)
            .output::<String>("answer", "")
            .output::<Option<String>>("note", ""),
        "note" => ask(sig).output::<Option<String>>("note", ""),
        other => panic!("the corpus names an unknown signature `{other}`"),
    }
}

/// Answers every request with one scripted text and finish reason.
#[derive(Debug)]
struct Scripted {
    text: String,
    finish: FinishReason,
}

impl LanguageModel for Scripted {
    fn model(&self) -> &str {
        "scripted"
    }

    fn complete(&self, _: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
        let response = LmResponse {
            choices: vec![Choice {
                text: self.text.clone(),
                finish_reason: self.finish,
            }],
            ..Default::default()
        };
        Box::pin(async move { Ok(response) })
    }
}

struct Case {
    id: String,
    sig: String,
    text: String,
    finish: FinishReason,
    expect: Value,
    adapters: Vec<String>,
}

fn cases() -> Vec<Case> {
    CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let s = |k: &str| v[k].as_str().map(str::to_string);
            Case {
                id: s("id").unwrap(),
                sig: s("sig").unwrap(),
                text: s("text").unwrap(),
                finish: match s("finish").as_deref() {
                    None | Some("stop") => FinishReason::Stop,
                    Some("length") => FinishReason::Length,
                    Some(other) => panic!("unknown finish reason {other}"),
                },
                expect: v["expect"].clone(),
                adapters: match v.get("adapters").and_then(Value::as_array) {
                    Some(list) => list
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    None => vec!["chat".into(), "json".into()],
                },
            }
        })
        .collect()
}

fn adapter(name: &str) -> Arc<dyn Adapter> {
    match name {
        "chat" => Arc::new(ChatAdapter::new().json_fallback(false).reask(false)),
        "json" => Arc::new(JsonAdapter::new().reask(false)),
        other => panic!("unknown adapter {other}"),
    }
}

/// Runs one answer through one adapter, as one predictor call would.
async fn read(case: &Case, adapter_name: &str) -> dspy_core::Result<Map<String, Value>> {
    let sig = signature(&case.sig);
    let input: Map<String, Value> = sig
        .inputs
        .iter()
        .map(|f| (f.name.clone(), json!("an input")))
        .collect();
    let request = FormatRequest {
        signature: &sig,
        instructions: "",
        demos: &[],
        input: &input,
    };
    let lm = LM::new(Scripted {
        text: case.text.clone(),
        finish: case.finish,
    });
    let prediction = run_adapter(
        &lm,
        adapter(adapter_name),
        &request,
        &PredictConfig::default(),
        |parsed| Ok(parsed.values),
    )
    .await?;
    assert_eq!(prediction.lm_calls, 1, "{}: one call, no retries", case.id);
    Ok(prediction.output)
}

#[derive(Debug, PartialEq)]
enum Verdict {
    /// The expected values.
    Read,
    /// An error, as expected.
    Rejected,
    /// Refused an answer that should have been read, or not said that it was cut off.
    WronglyRejected(String),
    /// Values other than the expected ones: a silently wrong answer.
    WronglyAccepted(String),
}

fn judge(case: &Case, outcome: dspy_core::Result<Map<String, Value>>) -> Verdict {
    match (&case.expect, outcome) {
        (Value::Object(want), Ok(got)) if *want == got => Verdict::Read,
        (Value::Object(want), Ok(got)) => Verdict::WronglyAccepted(format!(
            "read {} instead of {}",
            Value::Object(got),
            Value::Object(want.clone())
        )),
        (Value::Object(_), Err(e)) => Verdict::WronglyRejected(format!("rejected: {e}")),
        (Value::String(want), Ok(got)) => {
            Verdict::WronglyAccepted(format!("accepted {} ({want} expected)", Value::Object(got)))
        }
        (Value::String(want), Err(Error::Parse { tried, .. })) => {
            let cut_off = tried.iter().any(|t| t.contains("cut off"));
            match want.as_str() {
                "error" => Verdict::Rejected,
                "error: truncated" if cut_off => Verdict::Rejected,
                _ => Verdict::WronglyRejected(format!(
                    "rejected without saying it was cut off: {tried:?}"
                )),
            }
        }
        (_, Err(e)) => Verdict::WronglyRejected(format!("failed with a non-parse error: {e}")),
        (expect, _) => panic!("{}: bad expectation {expect}", case.id),
    }
}

#[tokio::test]
async fn every_answer_in_the_corpus_is_read_as_a_careful_reader_would() {
    let cases = cases();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for adapter_name in ["chat", "json"] {
        let (mut read_ok, mut rejected, mut refused, mut accepted, mut total) = (0, 0, 0, 0, 0);
        for case in cases
            .iter()
            .filter(|c| c.adapters.iter().any(|a| a == adapter_name))
        {
            total += 1;
            match judge(case, read(case, adapter_name).await) {
                Verdict::Read => read_ok += 1,
                Verdict::Rejected => rejected += 1,
                Verdict::WronglyRejected(why) => {
                    refused += 1;
                    wrong.push(format!("{adapter_name} {}: {why}", case.id));
                }
                Verdict::WronglyAccepted(why) => {
                    accepted += 1;
                    wrong.push(format!("{adapter_name} {}: {why}", case.id));
                }
            }
        }
        println!(
            "{adapter_name}: {total} answers: {read_ok} read correctly, {rejected} rejected correctly, \
             {} wrong ({refused} wrongly rejected, {accepted} wrong values accepted)",
            refused + accepted
        );
    }
    for line in &wrong {
        println!("WRONG {line}");
    }
    assert!(wrong.is_empty(), "{} wrong outcomes", wrong.len());
}
