//! Wiring modules by name with `then`, and by hand with `map`, on `DummyLm`.
// Generated wiring code must not warn in a user's crate.
#![deny(warnings)]

use dspy::adapter::Prompt;
use dspy::lm::LmRequest;
use dspy::module::trace;
use dspy::prelude::*;
use dspy::{Map, Then};
use serde_json::json;

/// Write a search query for the question.
#[derive(Signature, Clone, Debug)]
struct Rewrite {
    #[input]
    question: String,
    #[output]
    query: String,
}

/// Answer the question; the query says what was looked up.
#[derive(Signature, Clone, Debug)]
struct Answer {
    #[input]
    question: String,
    #[input]
    query: String,
    #[output]
    answer: String,
}

/// Check the answer.
#[derive(Signature, Clone, Debug)]
struct Verify {
    #[input]
    question: String,
    #[input]
    answer: String,
    #[output]
    ok: bool,
}

/// Name the key entity.
#[derive(Signature, Clone, Debug)]
struct Extract {
    #[input]
    question: String,
    #[output]
    entity: String,
    #[output]
    confidence: f64,
}

/// Explain how the entity was found.
#[derive(Signature, Clone, Debug)]
struct Explain {
    #[input]
    r#question: String,
    #[input]
    reasoning: String,
    #[input]
    entity: String,
    #[output]
    explanation: String,
}

/// Describe the topic.
#[derive(Signature, Clone, Debug)]
struct Describe {
    #[input]
    topic: String,
    #[output]
    description: String,
}

fn user_text(request: &LmRequest) -> String {
    match &request.prompt {
        Prompt::Chat(m) => m.last().map(|m| m.content.clone()).unwrap_or_default(),
        Prompt::Text(t) => t.clone(),
    }
}

fn rewrite_input() -> RewriteInput {
    RewriteInput {
        question: "Who was Galileo ?".into(),
    }
}

#[tokio::test]
async fn fills_the_next_input_from_the_first_input_and_output() {
    let dummy = DummyLm::new([
        json!({"query": "Galileo biography"}),
        json!({"answer": "an astronomer"}),
    ]);
    let pipeline = Predict::<Rewrite>::new().then(Predict::<Answer>::new());
    let out = dspy::with_lm(LM::new(dummy.clone()), pipeline.call(rewrite_input()))
        .await
        .unwrap();
    assert_eq!(out.answer, "an astronomer");

    let requests = dummy.requests();
    assert_eq!(requests.len(), 2);
    let second = user_text(&requests[1]);
    assert!(
        second.contains("[[ ## question ## ]]\nWho was Galileo ?"),
        "question comes from the first input: {second}"
    );
    assert!(
        second.contains("[[ ## query ## ]]\nGalileo biography"),
        "query comes from the first output: {second}"
    );
}

#[tokio::test]
async fn sees_reasoning_and_the_wrapped_output_of_a_chain_of_thought() {
    let dummy = DummyLm::new([
        json!({"reasoning": "The question names a person.", "entity": "Galileo", "confidence": 0.9}),
        json!({"explanation": "named in the question"}),
    ]);
    let pipeline = ChainOfThought::<Extract>::new().then(Predict::<Explain>::new());
    let out = dspy::with_lm(LM::new(dummy.clone()), async {
        pipeline
            .call(ExtractInput {
                question: "Who was Galileo ?".into(),
            })
            .await
    })
    .await
    .unwrap();
    assert_eq!(out.explanation, "named in the question");

    let second = user_text(&dummy.requests()[1]);
    for (field, value) in [
        ("question", "Who was Galileo ?"),
        ("reasoning", "The question names a person."),
        ("entity", "Galileo"),
    ] {
        assert!(
            second.contains(&format!("[[ ## {field} ## ]]\n{value}")),
            "{field}: {second}"
        );
    }
}

#[tokio::test]
async fn a_chain_of_three_wires_from_the_first_input_and_the_last_output() {
    let dummy = DummyLm::new([
        json!({"query": "Galileo biography"}),
        json!({"answer": "an astronomer"}),
        json!({"ok": true}),
    ]);
    let pipeline = Predict::<Rewrite>::new()
        .then(Predict::<Answer>::new())
        .then(Predict::<Verify>::new());
    assert_eq!(pipeline.predictor_names(), ["0.0", "0.1", "1"]);
    let out = dspy::with_lm(LM::new(dummy.clone()), pipeline.call(rewrite_input()))
        .await
        .unwrap();
    assert!(out.ok);
    let third = user_text(&dummy.requests()[2]);
    assert!(
        third.contains("[[ ## question ## ]]\nWho was Galileo ?"),
        "{third}"
    );
    assert!(
        third.contains("[[ ## answer ## ]]\nan astronomer"),
        "{third}"
    );
}

#[tokio::test]
async fn a_failing_first_step_stops_the_pipeline() {
    let first = DummyLm::new([]);
    let second = DummyLm::new([json!({"answer": "never asked"})]);
    let pipeline = Predict::<Rewrite>::new()
        .with_lm(LM::new(first.clone()))
        .then(Predict::<Answer>::new().with_lm(LM::new(second.clone())));
    assert!(pipeline.call(rewrite_input()).await.is_err());
    assert_eq!(first.requests().len(), 1);
    assert!(second.requests().is_empty());
}

#[tokio::test]
async fn map_builds_the_next_input_by_hand() {
    let dummy = DummyLm::new([
        json!({"entity": "Galileo", "confidence": 0.5}),
        json!({"description": "an astronomer"}),
    ]);
    let pipeline = Predict::<Extract>::new()
        .map(|out| DescribeInput {
            topic: format!("{} (confidence {})", out.entity, out.confidence),
        })
        .then(Predict::<Describe>::new());
    // A map adds no predictors and no name.
    assert_eq!(pipeline.predictor_names(), ["0", "1"]);
    let out = dspy::with_lm(LM::new(dummy.clone()), async {
        pipeline
            .call(ExtractInput {
                question: "Who was Galileo ?".into(),
            })
            .await
    })
    .await
    .unwrap();
    assert_eq!(out.description, "an astronomer");
    let second = user_text(&dummy.requests()[1]);
    assert!(
        second.contains("[[ ## topic ## ]]\nGalileo (confidence 0.5)"),
        "{second}"
    );
}

#[tokio::test]
async fn map_alone_returns_the_mapped_value() {
    let dummy = DummyLm::new([json!({"entity": "Galileo", "confidence": 1.0})]);
    let entity = Predict::<Extract>::new()
        .with_lm(LM::new(dummy))
        .map(|out: ExtractOutput| out.entity.to_uppercase());
    let out: String = entity
        .call(ExtractInput {
            question: "Who was Galileo ?".into(),
        })
        .await
        .unwrap();
    assert_eq!(out, "GALILEO");
    assert_eq!(entity.predictor_names(), ["self"]);
}

/// A program holding a pipeline: its type is written out, its predictors are named through it.
#[derive(Module)]
struct Program {
    pipeline: Then<Predict<Rewrite>, ChainOfThought<Answer>>,
    describe: Map<Predict<Describe>, fn(DescribeOutput) -> String>,
}

impl Program {
    fn new() -> Self {
        fn text(out: DescribeOutput) -> String {
            out.description
        }
        Program {
            pipeline: Predict::new().then(ChainOfThought::new()),
            describe: Predict::new().map(text as fn(DescribeOutput) -> String),
        }
    }
}

impl Module for Program {
    type Input = RewriteInput;
    type Output = String;

    async fn call(&self, input: RewriteInput) -> dspy::Result<String> {
        let answer = self.pipeline.call(input).await?;
        self.describe
            .call(DescribeInput {
                topic: answer.output.answer,
            })
            .await
    }
}

#[tokio::test]
async fn a_pipeline_inside_a_program_is_named_traced_and_tunable() {
    let mut program = Program::new();
    assert_eq!(
        program.predictor_names(),
        ["pipeline.0", "pipeline.1.predict", "describe"]
    );
    program
        .predictor_mut("pipeline.1.predict")
        .unwrap()
        .set_instructions(Some("Answer in two words.".into()));

    let dummy = DummyLm::new([
        json!({"query": "Galileo biography"}),
        json!({"reasoning": "He studied the sky.", "answer": "an astronomer"}),
        json!({"description": "someone who studies stars"}),
    ]);
    let (out, trace) = dspy::with_lm(
        LM::new(dummy.clone()),
        trace::trace(program.call(rewrite_input())),
    )
    .await;
    assert_eq!(out.unwrap(), "someone who studies stars");

    let trace = trace.with_names(&program);
    let names: Vec<_> = trace
        .entries
        .iter()
        .map(|e| e.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["pipeline.0", "pipeline.1.predict", "describe"]);

    let Prompt::Chat(messages) = &dummy.requests()[1].prompt else {
        panic!("a chat prompt")
    };
    assert!(
        messages[0].content.contains("Answer in two words."),
        "{}",
        messages[0].content
    );
}

#[test]
fn a_cloned_pipeline_has_its_own_predictors() {
    let pipeline = Predict::<Rewrite>::new().then(Predict::<Answer>::new());
    let copy = pipeline.clone();
    assert_eq!(copy.predictor_names(), pipeline.predictor_names());
    for ((_, a), (_, b)) in pipeline.predictors().into_iter().zip(copy.predictors()) {
        assert_ne!(a.id(), b.id());
    }
    assert!(format!("{copy:?}").starts_with("Then(Predict"));
}

/// Translate the text into French.
#[derive(Signature, Clone, Debug)]
struct Translate {
    #[input]
    text: String,
    #[output]
    french: String,
}

/// Translate the French back into English.
#[derive(Signature, Clone, Debug)]
struct TranslateBack {
    #[input]
    french: String,
    #[output]
    text: String,
}

/// Say whether the text reads naturally.
#[derive(Signature, Clone, Debug)]
struct Fluent {
    #[input]
    text: String,
    #[output]
    fluent: bool,
}

#[tokio::test]
async fn a_field_both_sides_have_is_taken_from_the_side_named_explicitly() {
    use dspy::signature::fields::{FromInput, FromOutput, Here};
    // After a round trip both the input and the output have `text`; by name alone that is a
    // compile error (tests/ui/wiring_ambiguous_field.rs), so each pipeline names the side.
    let round_trip = || Predict::<Translate>::new().then(Predict::<TranslateBack>::new());
    let back = round_trip().then::<_, (FromOutput<Here>,)>(Predict::<Fluent>::new());
    let original = round_trip().then::<_, (FromInput<Here>,)>(Predict::<Fluent>::new());

    for (pipeline_text, expected) in [("back", "Good morning."), ("original", "Hello there.")] {
        let dummy = DummyLm::new([
            json!({"french": "Bonjour."}),
            json!({"text": "Good morning."}),
            json!({"fluent": true}),
        ]);
        let input = TranslateInput {
            text: "Hello there.".into(),
        };
        let lm = LM::new(dummy.clone());
        let out = match pipeline_text {
            "back" => dspy::with_lm(lm, back.call(input)).await,
            _ => dspy::with_lm(lm, original.call(input)).await,
        };
        assert!(out.unwrap().fluent);
        let third = user_text(&dummy.requests()[2]);
        assert!(
            third.contains(&format!("[[ ## text ## ]]\n{expected}")),
            "{pipeline_text}: {third}"
        );
    }
}

#[tokio::test]
async fn map_then_passes_the_mapped_value_as_is() {
    // By name, `question` would be ambiguous here (the first input and the mapped value both
    // have it); after `map`, `then` takes the mapped value whole instead.
    let dummy = DummyLm::new([
        json!({"query": "Galileo biography"}),
        json!({"answer": "an astronomer"}),
    ]);
    let pipeline = Predict::<Rewrite>::new()
        .map(|out: RewriteOutput| AnswerInput {
            question: "Who was Galileo Galilei ?".into(),
            query: out.query,
        })
        .then(Predict::<Answer>::new());
    let out = dspy::with_lm(LM::new(dummy.clone()), pipeline.call(rewrite_input()))
        .await
        .unwrap();
    assert_eq!(out.answer, "an astronomer");
    let second = user_text(&dummy.requests()[1]);
    assert!(
        second.contains("[[ ## question ## ]]\nWho was Galileo Galilei ?"),
        "{second}"
    );
}
