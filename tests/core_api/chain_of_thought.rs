//! `ChainOfThought` on `DummyLm`.

use dspy::adapter::Prompt;
use dspy::prelude::*;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Human,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input]
    question: String,
    #[output]
    label: Kind,
}

fn demo() -> Reasoned<Classify> {
    Reasoned {
        example: Classify {
            question: "How many legs ?".into(),
            label: Kind::Number,
        },
        reasoning: "It asks for a count.".into(),
    }
}

#[tokio::test]
async fn reasons_first_then_answers_with_demos_carrying_reasoning() {
    let dummy = DummyLm::new([json!({"reasoning": "It asks about a person.", "label": "human"})]);
    let cot = ChainOfThought::<Classify>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_demos([demo()]);
    let out = cot
        .call(ClassifyInput {
            question: "Who was Galileo ?".into(),
        })
        .await
        .unwrap();
    assert_eq!(out.label, Kind::Human, "derefs to the signature's output");
    assert_eq!(out.reasoning, "It asks about a person.");

    let Prompt::Chat(messages) = dummy.last_request().unwrap().prompt else {
        panic!()
    };
    assert!(
        messages[0]
            .content
            .contains("1. `reasoning` (str): \n2. `label`"),
        "{}",
        messages[0].content
    );
    assert_eq!(
        messages[2].content,
        "[[ ## reasoning ## ]]\nIt asks for a count.\n\n[[ ## label ## ]]\nnumber\n\n[[ ## completed ## ]]\n"
    );
    assert!(
        messages[3]
            .content
            .contains("starting with the field `[[ ## reasoning ## ]]`, then `[[ ## label ## ]]`")
    );
}

#[tokio::test]
async fn an_answer_without_reasoning_is_a_parse_error() {
    let dummy = DummyLm::new([
        json!({"label": "human"}),
        json!({"label": "human"}),
        json!({"label": "human"}),
    ]);
    let cot = ChainOfThought::<Classify>::new().with_lm(LM::new(dummy));
    let err = cot
        .call(ClassifyInput {
            question: "Who ?".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Parse { ref field, .. } if field == "reasoning"),
        "{err}"
    );
}

#[tokio::test]
async fn base_models_are_primed_to_reason() {
    let dummy = DummyLm::new([json!("it asks for a person.\nLabel: human")]).completion_model();
    let cot = ChainOfThought::<Classify>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_demos([demo()]);
    let out = cot
        .call(ClassifyInput {
            question: "Who was Galileo ?".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        (out.label, out.reasoning.as_str()),
        (Kind::Human, "it asks for a person.")
    );
    let Prompt::Text(text) = dummy.last_request().unwrap().prompt else {
        panic!()
    };
    assert!(text.contains(
        "Question: How many legs ?\nReasoning: Let's think step by step in order to It asks for a count.\nLabel: number"
    ));
    assert!(
        text.ends_with(
            "Question: Who was Galileo ?\nReasoning: Let's think step by step in order to"
        )
    );
}

#[test]
fn reasoned_examples_are_one_flat_json_object() {
    let value = serde_json::to_value(demo()).unwrap();
    assert_eq!(
        value,
        json!({"question": "How many legs ?", "label": "number", "reasoning": "It asks for a count."})
    );
    let back: Reasoned<Classify> = serde_json::from_value(value).unwrap();
    assert_eq!(
        (back.example.label, back.reasoning.as_str()),
        (Kind::Number, "It asks for a count.")
    );
    let (input, output) = back.into_parts();
    assert_eq!(
        (input.question.as_str(), output.reasoning.as_str()),
        ("How many legs ?", "It asks for a count.")
    );
}
