//! Fine-tuning examples are rendered by the adapter that serves the model: the prompt is what
//! the predictor sends at inference, and the answer is what the adapter writes for the same
//! input and output shown as a demo (and reads back as that output).

use dspy::adapter::{Adapter, Prompt, TrainingExample};
use dspy::lm::TrainingData;
use dspy::prelude::*;
use serde_json::json;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Person,
    Place,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input(desc = "a question in English")]
    question: String,
    #[input(desc = "passages that may help")]
    context: Vec<String>,
    #[output(desc = "the kind of answer")]
    kind: Kind,
    #[output(desc = "words that decided it")]
    keywords: Vec<String>,
}

fn input(question: &str) -> ClassifyInput {
    ClassifyInput {
        question: question.into(),
        context: vec![
            "Galileo was an astronomer.".into(),
            "Pisa\n\nis in Italy.".into(),
        ],
    }
}

fn output() -> ClassifyOutput {
    ClassifyOutput {
        kind: Kind::Person,
        keywords: vec!["who".into(), "Galileo".into()],
    }
}

fn demo() -> Classify {
    Classify::from_parts(
        input("How many moons has Jupiter?"),
        ClassifyOutput {
            kind: Kind::Number,
            keywords: vec!["how many".into()],
        },
    )
}

/// A predictor with its own instructions and a demo, as a compiled one has them.
fn predictor(adapter: impl Adapter + Clone + 'static) -> Predict<Classify> {
    Predict::<Classify>::new()
        .with_adapter(adapter)
        .with_instructions("Name the kind of answer; list the words that decided it.")
        .with_demos([demo()])
}

/// What `predictor` sends at inference for the question, seen by the LM.
async fn sent_at_inference(predict: Predict<Classify>, completion_model: bool) -> Prompt {
    let answer = json!({"kind": "person", "keywords": ["who", "Galileo"]});
    let dummy = DummyLm::new([answer]);
    let dummy = if completion_model {
        dummy.completion_model()
    } else {
        dummy
    };
    let out = predict
        .with_lm(LM::new(dummy.clone()))
        .call(input("Who was Galileo?"))
        .await
        .unwrap();
    assert_eq!((out.kind, out.keywords), (output().kind, output().keywords));
    dummy.last_request().unwrap().prompt
}

/// The prompt of a predictor whose only demo is the training example, for another question.
fn shown_as_demo(adapter: impl Adapter + Clone + 'static) -> Prompt {
    Predict::<Classify>::new()
        .with_adapter(adapter)
        .with_demos([Classify::from_parts(input("Who was Galileo?"), output())])
        .render(&input("Where is Pisa?"))
        .unwrap()
        .prompt
}

async fn check_chat(adapter: impl Adapter + Clone + 'static) {
    let predict = predictor(adapter.clone());
    let example = predict
        .training_example(&input("Who was Galileo?"), &output())
        .unwrap();
    assert_eq!(example.prompt, sent_at_inference(predict, false).await);
    let Prompt::Chat(messages) = shown_as_demo(adapter.clone()) else {
        panic!("a chat adapter renders messages");
    };
    // system, the demo's user turn, its assistant turn, the question.
    assert_eq!(messages.len(), 4);
    assert_eq!(example.completion, messages[2].content);
    let read = adapter
        .parse(Classify::info(), &example.completion)
        .unwrap();
    assert_eq!(
        read.values,
        *json!({"kind": "person", "keywords": ["who", "Galileo"]})
            .as_object()
            .unwrap()
    );
    assert!(read.fixes.is_empty(), "{:?}", read.fixes);
}

#[tokio::test]
async fn chat_examples_are_the_inference_prompt_and_the_demo_answer() {
    check_chat(ChatAdapter::new()).await;
}

#[tokio::test]
async fn json_examples_are_the_inference_prompt_and_the_demo_answer() {
    check_chat(JsonAdapter::new()).await;
}

#[tokio::test]
async fn completion_examples_continue_the_prompt_as_the_demo_block_does() {
    let predict = predictor(CompletionAdapter::new());
    let example = predict
        .training_example(&input("Who was Galileo?"), &output())
        .unwrap();
    let prompt = sent_at_inference(predict, true).await;
    assert_eq!(example.prompt, prompt);
    let Prompt::Text(text) = &example.prompt else {
        panic!("a completion adapter renders text");
    };
    // The question's block, left open at the first output's prefix, then the answer, is the
    // demo block (and the blank line after it) of a prompt that shows the example as a demo.
    let open_block = text.rsplit("\n\n").next().unwrap();
    let Prompt::Text(demo_prompt) = shown_as_demo(CompletionAdapter::new()) else {
        panic!("a completion adapter renders text");
    };
    let block = format!("{open_block}{}", example.completion);
    assert!(
        demo_prompt.contains(&block),
        "{block:?} not in {demo_prompt:?}"
    );
    assert!(example.completion.ends_with("\n\n"));
    // The answer's text up to the stop sequence reads back as the output.
    let answer = example.completion.trim_end_matches("\n\n");
    let read = CompletionAdapter::new()
        .parse(Classify::info(), answer)
        .unwrap();
    assert_eq!(read.values["kind"], "person");
    assert_eq!(read.values["keywords"], json!(["who", "Galileo"]));
}

/// Optimizers see predictors untyped, and traces hold JSON fields: the example is the same.
#[test]
fn an_untyped_predictor_renders_the_same_example() {
    let predict = predictor(ChatAdapter::new());
    let typed = predict
        .training_example(&input("Who was Galileo?"), &output())
        .unwrap();
    let fields = |v: serde_json::Value| v.as_object().unwrap().clone();
    let dynamic: &dyn DynPredictor = &predict;
    let untyped = dynamic
        .training_example_json(
            &fields(serde_json::to_value(input("Who was Galileo?")).unwrap()),
            &fields(json!({"kind": "person", "keywords": ["who", "Galileo"]})),
        )
        .unwrap();
    assert_eq!(untyped, typed);
    let err = dynamic
        .training_example_json(
            &fields(serde_json::to_value(input("Who?")).unwrap()),
            &fields(json!({"kind": "animal", "keywords": []})),
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("output") && m.contains("Classify")),
        "{err}"
    );
}

/// The JSONL a provider gets: the inference messages, then the answer as the assistant's turn.
#[test]
fn jsonl_lines_are_the_conversation_the_model_learns() {
    let predict = predictor(ChatAdapter::new());
    let example = predict
        .training_example(&input("Who was Galileo?"), &output())
        .unwrap();
    let mut data = TrainingData::new();
    data.push("classify", example.clone());
    let line: serde_json::Value = serde_json::from_str(data.to_jsonl().unwrap().trim()).unwrap();
    let messages = line["messages"].as_array().unwrap();
    let Prompt::Chat(prompt) = &example.prompt else {
        panic!("chat");
    };
    assert_eq!(messages.len(), prompt.len() + 1);
    for (sent, message) in prompt.iter().zip(messages) {
        assert_eq!(serde_json::to_value(sent).unwrap(), *message);
    }
    assert_eq!(messages.last().unwrap()["role"], "assistant");
    assert_eq!(messages.last().unwrap()["content"], example.completion);

    // One model is trained as a chat model or a base model, not both.
    let text = TrainingExample {
        prompt: Prompt::Text("Question: Who?\nKind:".into()),
        completion: " person\n\n".into(),
    };
    data.push("other", text);
    let err = data.to_jsonl().unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("mixes")),
        "{err}"
    );
}
