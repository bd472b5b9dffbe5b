//! The adapters render exactly what DSPy 3.4 renders for the same signature, demos and input.
//!
//! The files in tests/golden/ were written by DSPy's own `ChatAdapter.format` and
//! `JSONAdapter.format` (see tests/golden/README.md).

use dspy::adapter::{
    Adapter, ChatAdapter, FieldValues, FormatRequest, JsonAdapter, Message, Prompt,
};
use dspy::{FieldSpec, SignatureInfo};
use serde_json::{Value, json};
use std::collections::HashMap;

fn classify() -> SignatureInfo {
    SignatureInfo::new("Classify")
        .with_instructions("Classify the question by the kind of answer it expects.")
        .input::<String>("question", "a question in English")
        .with_output(FieldSpec::from_schema(
            "label",
            "the kind of answer the question expects",
            json!({"type": "string", "enum": ["abbreviation", "description", "entity", "human", "location", "number"]}),
        ))
}

fn qa() -> SignatureInfo {
    SignatureInfo::new("QA")
        .with_instructions(
            "Answer the question from the context.\n\nBe brief: a few words.\n  Indented line.",
        )
        .input::<Vec<String>>("context", "passages that may help")
        .input::<String>("question", "")
        .output::<String>("answer", "often between 1 and 5 words")
        .output::<f64>("confidence", "")
        .output::<bool>("ok", "")
        .output::<Vec<String>>("tags", "")
        .output::<Option<i64>>("maybe", "")
        .output::<HashMap<String, i32>>("counts", "")
}

fn plain() -> SignatureInfo {
    SignatureInfo::new("Plain")
        .input::<String>("question", "")
        .output::<i64>("year", "")
}

pub(crate) fn check(name: &str, sig: SignatureInfo, adapter: &dyn Adapter) {
    let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).expect("json");
    let demos: Vec<FieldValues> = golden["demos"]
        .as_array()
        .expect("demos")
        .iter()
        .map(|d| d.as_object().cloned().expect("object"))
        .collect();
    let input = golden["input"].as_object().cloned().expect("input");
    let expected: Vec<Message> =
        serde_json::from_value(golden["messages"].clone()).expect("messages");
    let formatted = adapter.format(&FormatRequest {
        signature: &sig,
        instructions: &sig.instructions,
        demos: &demos,
        input: &input,
    });
    let Prompt::Chat(messages) = formatted.prompt else {
        panic!("chat prompt expected")
    };
    assert_eq!(messages.len(), expected.len(), "{name}: message count");
    for (i, (ours, theirs)) in messages.iter().zip(&expected).enumerate() {
        assert_eq!(ours.role, theirs.role, "{name}: role of message {i}");
        assert_eq!(
            ours.content, theirs.content,
            "{name}: content of message {i}"
        );
    }
}

#[test]
fn chat_adapter_matches_dspy() {
    check("classify_chat", classify(), &ChatAdapter::new());
    check("qa_chat", qa(), &ChatAdapter::new());
    check("plain_chat", plain(), &ChatAdapter::new());
}

#[test]
fn json_adapter_matches_dspy() {
    check("classify_json", classify(), &JsonAdapter::new());
    check("qa_json", qa(), &JsonAdapter::new());
    check("plain_json", plain(), &JsonAdapter::new());
}

#[test]
fn default_instructions_match_dspy() {
    assert_eq!(
        plain().instructions,
        "Given the fields `question`, produce the fields `year`."
    );
}

mod chain_of_thought {
    use super::check;
    use dspy::prelude::*;
    use dspy::{ChatAdapter, Reasoned};

    #[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
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
        #[input(desc = "a question in English")]
        question: String,
        #[output(desc = "the kind of answer the question expects")]
        label: Kind,
    }

    #[derive(Signature, Clone, Debug)]
    struct Plain {
        #[input]
        question: String,
        #[output]
        year: i64,
    }

    #[test]
    fn chain_of_thought_matches_dspy() {
        check(
            "cot_classify_chat",
            Reasoned::<Classify>::info().clone(),
            &ChatAdapter::new(),
        );
        check(
            "cot_plain_chat",
            Reasoned::<Plain>::info().clone(),
            &ChatAdapter::new(),
        );
    }
}
