//! Prompts and requests equal what DSPy 3.4.1 renders, byte for byte (issue 18 items 9-12, issue 15
//! item 2): nested models, incomplete demos, lists given to text fields, maps in demo order.
//!
//! The fixtures in tests/data/dspy_prompts/ were written by DSPy itself, by `render.py` there
//! (`python3 dspy-core/tests/data/dspy_prompts/render.py` with `dspy==3.4.1` installed). Each holds
//! the demos, the input and the messages DSPy's adapter formats; the Rust twin of each Python
//! signature is below.

use dspy_core::IndexMap;
use dspy_core::adapter::{Adapter, FieldValues, FormatRequest, Message, Prompt};
use dspy_core::{ChatAdapter, DummyLm, JsonAdapter, LM, Predict, Signature, SignatureInfo};
use dspy_macros::Signature;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/dspy_prompts/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture file")).expect("json")
}

fn objects(value: &Value) -> Vec<FieldValues> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d.as_object().cloned().expect("an object"))
        .collect()
}

/// Formats the fixture's demos and input with `adapter` and compares every message with DSPy's.
fn check_with(name: &str, sig: &SignatureInfo, adapter: &dyn Adapter, demos: &[FieldValues]) {
    let golden = fixture(name);
    let input = golden["input"].as_object().cloned().expect("input");
    let expected: Vec<Message> =
        serde_json::from_value(golden["messages"].clone()).expect("messages");
    let formatted = adapter.format(&FormatRequest {
        signature: sig,
        instructions: &sig.instructions,
        demos,
        input: &input,
    });
    let Prompt::Chat(messages) = formatted.prompt else {
        panic!("{name}: a chat prompt expected")
    };
    for (i, (ours, theirs)) in messages.iter().zip(&expected).enumerate() {
        assert_eq!(ours.role, theirs.role, "{name}: role of message {i}");
        assert_eq!(
            ours.content, theirs.content,
            "{name}: content of message {i}"
        );
    }
    assert_eq!(messages.len(), expected.len(), "{name}: message count");
}

/// [`check_with`] on the fixture's own demos, with both chat adapters.
fn check_both(name: &str, sig: &SignatureInfo) {
    for (suffix, adapter) in [
        ("chat", &ChatAdapter::new() as &dyn Adapter),
        ("json", &JsonAdapter::new()),
    ] {
        let name = format!("{name}_{suffix}");
        let demos = objects(&fixture(&name)["demos"]);
        check_with(&name, sig, adapter, &demos);
    }
}

// --- Item 9: nested models -------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Address {
    city: String,
    /// postal code
    zip: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Priority {
    Low,
    High,
}

/// A person mentioned in the text.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Person {
    name: String,
    age: i64,
    address: Address,
    priority: Priority,
    tags: Vec<String>,
    alt: Option<Address>,
    nickname: Option<String>,
}

/// Extract the person and their contacts.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct Extract {
    #[input]
    text: String,
    #[output(desc = "who the text is about")]
    person: Person,
    #[output]
    contacts: Vec<Address>,
}

fn ada() -> Extract {
    let address = Address {
        city: "Paris".into(),
        zip: "75001".into(),
    };
    Extract {
        text: "Ada lives in Paris.".into(),
        person: Person {
            name: "Ada".into(),
            age: 36,
            address: address.clone(),
            priority: Priority::High,
            tags: vec!["math".into(), "engines".into()],
            alt: None,
            nickname: Some("Countess".into()),
        },
        contacts: vec![address],
    }
}

/// A typed demo, as a predictor hands it to its adapter.
fn demo_values<S: Signature>(demo: &S) -> FieldValues {
    serde_json::to_value(demo)
        .expect("serializes")
        .as_object()
        .cloned()
        .expect("an object")
}

#[test]
fn nested_models_are_shown_with_defs_refs_and_titles_as_dspy_shows_them() {
    let demos = vec![demo_values(&ada())];
    // The typed demo is the fixture's demo, key for key and in the same order.
    assert_eq!(
        serde_json::to_string(&demos).unwrap(),
        serde_json::to_string(&fixture("nested_chat")["demos"]).unwrap()
    );
    check_with("nested_chat", Extract::info(), &ChatAdapter::new(), &demos);
    check_with("nested_json", Extract::info(), &JsonAdapter::new(), &demos);
}

/// The `response_format.json_schema` DSPy sent for `case` to a model it knows takes schemas.
fn dspy_json_schema(case: &str) -> Value {
    fixture("response_formats")[case]["openai/gpt-4o-mini"]["json_schema"].clone()
}

#[test]
fn nested_models_are_sent_as_dspy_sends_them() {
    let input = json!({"text": "x"}).as_object().cloned().unwrap();
    let formatted = JsonAdapter::new().format(&FormatRequest {
        signature: Extract::info(),
        instructions: &Extract::info().instructions,
        demos: &[],
        input: &input,
    });
    let ours = formatted.response_schema.expect("a schema");
    let theirs = dspy_json_schema("nested");
    assert_eq!(ours.name, theirs["name"]);
    assert_eq!(ours.strict, theirs["strict"]);
    assert_eq!(ours.schema, theirs["schema"]);
}

#[test]
fn a_nested_answer_still_parses() {
    let answer = json!({"person": demo_values(&ada())["person"], "contacts": [{"city": "Rome", "zip": "00100"}]});
    for adapter in [&ChatAdapter::new() as &dyn Adapter, &JsonAdapter::new()] {
        let text = match adapter.name() {
            "ChatAdapter" => format!(
                "[[ ## person ## ]]\n{}\n\n[[ ## contacts ## ]]\n{}\n\n[[ ## completed ## ]]",
                answer["person"], answer["contacts"]
            ),
            _ => answer.to_string(),
        };
        let parsed = adapter.parse(Extract::info(), &text).unwrap();
        let output: ExtractOutput = serde_json::from_value(Value::Object(parsed.values)).unwrap();
        assert_eq!(output.person.address.city, "Paris");
        assert!(matches!(output.person.priority, Priority::High));
        assert_eq!(output.contacts[0].zip, "00100");
    }
}

// --- Issue 15 item 2: incomplete demos -------------------------------------------------------

fn labelled() -> SignatureInfo {
    SignatureInfo::new("Labelled")
        .with_instructions("Label the question and answer it.")
        .input::<String>("context", "")
        .input::<String>("question", "")
        .output::<String>("label", "")
        .output::<String>("answer", "")
}

#[test]
fn incomplete_demos_render_as_dspy_renders_them() {
    check_both("incomplete", &labelled());
}

// --- Item 11: a list given to a text field ---------------------------------------------------

/// DSPy's `"context, question -> answer"`: every field is text.
fn text_rag() -> SignatureInfo {
    SignatureInfo::new("TextRag")
        .with_instructions("Answer the question from the context.")
        .input::<String>("context", "")
        .input::<String>("question", "")
        .output::<String>("answer", "")
}

#[test]
fn a_list_given_to_a_text_field_is_numbered() {
    check_both("text_list", &text_rag());
}

/// Answer the question from the context.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct ListRag {
    #[input]
    context: Vec<String>,
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[test]
fn a_list_field_is_json_as_in_dspy() {
    check_both("list_context", ListRag::info());
}

// --- Item 10: maps keep the order they were written in ---------------------------------------

/// Count the words.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct Count {
    #[input]
    text: String,
    #[output]
    counts: IndexMap<String, i64>,
}

fn zebra_first() -> Count {
    let mut counts = IndexMap::new();
    counts.insert("zebra".to_string(), 2);
    counts.insert("apple".to_string(), 1);
    Count {
        text: "zebra apple zebra".into(),
        counts,
    }
}

#[test]
fn an_index_map_demo_renders_in_the_order_written() {
    assert_eq!(Count::info().outputs[0].type_hint, "dict[str, int]");
    let demos = vec![demo_values(&zebra_first())];
    check_with(
        "ordered_map_chat",
        Count::info(),
        &ChatAdapter::new(),
        &demos,
    );
    check_with(
        "ordered_map_json",
        Count::info(),
        &JsonAdapter::new(),
        &demos,
    );
}

#[tokio::test]
async fn an_index_map_keeps_its_order_through_a_predictor_and_back() {
    let dummy = DummyLm::new([json!({"counts": {"b": 2, "a": 1}})]);
    let predict = Predict::<Count>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_demos([zebra_first()]);
    let out = predict
        .forward(CountInput {
            text: "b a b".into(),
        })
        .await
        .unwrap();
    let keys: Vec<&str> = out.counts.keys().map(String::as_str).collect();
    assert_eq!(keys, ["b", "a"], "the answer's order is kept");
    let Prompt::Chat(messages) = dummy.last_request().unwrap().prompt else {
        panic!("chat prompt")
    };
    let expected: Vec<Message> =
        serde_json::from_value(fixture("ordered_map_chat")["messages"].clone()).unwrap();
    assert_eq!(messages, expected);
}

// --- Item 12: what is sent follows the LM's capabilities --------------------------------------

#[tokio::test]
async fn the_schema_goes_only_to_an_lm_that_honours_a_response_format() {
    // DSPy sends nothing to a model it does not know takes a `response_format`.
    let sent = fixture("response_formats");
    assert_eq!(sent["qa"]["openai/my-local-model"], Value::Null);
    let answer = || DummyLm::new([json!({"counts": {"a": 1}})]);
    let none = answer();
    let json_mode = answer().json_object(true);
    let schema = answer().structured_output(true);
    for dummy in [&none, &json_mode, &schema] {
        let out = Predict::<Count>::new()
            .with_lm(LM::new(dummy.clone()))
            .with_adapter(JsonAdapter::new())
            .forward(CountInput { text: "a".into() })
            .await
            .unwrap();
        assert_eq!(out.counts["a"], 1);
    }
    assert_eq!(none.last_request().unwrap().response_schema, None);
    // An open map's schema is not strict: a backend asks for any JSON object with it.
    for dummy in [&json_mode, &schema] {
        let sent = dummy.last_request().unwrap().response_schema.expect("sent");
        assert!(!sent.strict);
    }
}
