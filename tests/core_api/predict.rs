//! `Predict` on `DummyLm`: prompts, parsing, fallbacks, configuration.

use dspy::adapter::{AnswerFormat, Prompt, Role};
use dspy::lm::{BoxFuture, Choice, FinishReason, LmRequest, LmResponse};
use dspy::prelude::*;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input(desc = "a question in English")]
    question: String,
    #[output(
        desc = "the kind of answer the question expects",
        prefix = "Answer type:"
    )]
    label: Kind,
}

/// Answer with a number and say how sure you are.
#[derive(Signature, Clone, Debug)]
struct Count {
    #[input]
    question: String,
    #[output]
    count: u32,
    #[output]
    sure: bool,
}

fn ask(q: &str) -> ClassifyInput {
    ClassifyInput { question: q.into() }
}

fn user_text(request: &LmRequest) -> String {
    match &request.prompt {
        Prompt::Chat(m) => m.last().map(|m| m.content.clone()).unwrap_or_default(),
        Prompt::Text(t) => t.clone(),
    }
}

#[tokio::test]
async fn parses_a_typed_output_and_renders_demos_and_instructions() {
    let dummy = DummyLm::new([json!({"label": "human"})]);
    let predict = Predict::<Classify>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_instructions("Pick the answer type.")
        .with_demos([Classify {
            question: "Where is Rome ?".into(),
            label: Kind::Location,
        }]);
    let prediction = predict.forward(ask("Who was Galileo ?")).await.unwrap();
    assert_eq!(prediction.label, Kind::Human);
    assert_eq!(prediction.lm_calls, 1);
    assert!(prediction.fixes.is_empty());

    let request = dummy.last_request().unwrap();
    let Prompt::Chat(messages) = &request.prompt else {
        panic!("chat expected")
    };
    assert_eq!(messages.len(), 4, "system, demo user, demo assistant, user");
    assert!(
        messages[0]
            .content
            .ends_with("your objective is: \n        Pick the answer type.")
    );
    assert_eq!(messages[1].content, "[[ ## question ## ]]\nWhere is Rome ?");
    assert_eq!(messages[2].role, Role::Assistant);
    assert_eq!(
        messages[2].content,
        "[[ ## label ## ]]\nlocation\n\n[[ ## completed ## ]]\n"
    );
    assert!(
        messages[3]
            .content
            .starts_with("[[ ## question ## ]]\nWho was Galileo ?\n\nRespond with")
    );
}

#[tokio::test]
async fn sampling_settings_reach_the_request() {
    let dummy = DummyLm::new([
        json!({"label": "number"}),
        json!({"label": "human"}),
        json!({"label": "location"}),
    ]);
    let predict = Predict::<Classify>::new()
        .with_lm(LM::new(dummy.clone()))
        .temperature(0.7)
        .max_tokens(50)
        .stop("###")
        .n(3);
    let prediction = predict.forward(ask("How many ?")).await.unwrap();
    let labels: Vec<Kind> = prediction.completions.iter().map(|o| o.label).collect();
    assert_eq!(labels, vec![Kind::Number, Kind::Human, Kind::Location]);
    let request = dummy.last_request().unwrap();
    assert_eq!(
        (request.temperature, request.max_tokens, request.n),
        (Some(0.7), Some(50), 3)
    );
    assert_eq!(request.stop, vec!["###".to_string()]);
    assert_eq!(request.answer_format, Some(AnswerFormat::Markers));
    assert_eq!(
        request.response_schema, None,
        "the chat adapter sends no schema"
    );
}

#[tokio::test]
async fn lenient_parsing_is_recorded() {
    let dummy = DummyLm::new([json!(
        "[[ ## count ## ]]\n\"7\"\n\n[[ ## sure ## ]]\nyes\n\n[[ ## completed ## ]]"
    )]);
    let predict = Predict::<Count>::new().with_lm(LM::new(dummy));
    let p = predict
        .forward(CountInput {
            question: "How many?".into(),
        })
        .await
        .unwrap();
    assert_eq!((p.count, p.sure), (7, true));
    let fixed: Vec<&str> = p.fixes.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fixed, vec!["count", "sure"], "{:?}", p.fixes);
}

#[tokio::test]
async fn falls_back_to_json_then_succeeds() {
    let dummy = DummyLm::new([
        json!("I think it's a person."),
        json!("{\"label\": \"human\"}"),
    ]);
    let predict = Predict::<Classify>::new().with_lm(LM::new(dummy.clone()));
    let p = predict.forward(ask("Who ?")).await.unwrap();
    assert_eq!((p.label, p.lm_calls), (Kind::Human, 2));
    let requests = dummy.requests();
    assert_eq!(requests[1].answer_format, Some(AnswerFormat::Json));
    assert!(user_text(&requests[1]).contains("Respond with a JSON object"));
}

#[tokio::test]
async fn reasks_with_the_error_then_gives_up_with_everything_tried() {
    let dummy = DummyLm::new([
        json!("garbage"),
        json!("more garbage"),
        json!("{\"label\": \"human\"}"),
    ]);
    let predict = Predict::<Classify>::new().with_lm(LM::new(dummy.clone()));
    let p = predict.forward(ask("Who ?")).await.unwrap();
    assert_eq!(p.lm_calls, 3);
    let third = &dummy.requests()[2];
    let Prompt::Chat(messages) = &third.prompt else {
        panic!()
    };
    assert_eq!(messages[messages.len() - 2].content, "more garbage");
    assert!(
        messages[messages.len() - 1]
            .content
            .starts_with("Your answer could not be read")
    );

    let dummy = DummyLm::new([json!("a"), json!("b"), json!("c")]);
    let err = Predict::<Classify>::new()
        .with_lm(LM::new(dummy.clone()))
        .call(ask("Who ?"))
        .await
        .unwrap_err();
    let Error::Parse { field, raw, tried } = &err else {
        panic!("{err}")
    };
    assert_eq!(dummy.remaining(), 0, "chat, json fallback, re-ask");
    assert_eq!(raw, "c");
    assert!(
        tried.iter().any(|t| t.starts_with("ChatAdapter:")),
        "{tried:?}"
    );
    assert!(
        tried.iter().any(|t| t.starts_with("JsonAdapter:")),
        "{tried:?}"
    );
    assert!(!field.is_empty());
}

#[tokio::test]
async fn fallbacks_can_be_turned_off() {
    let dummy = DummyLm::new([json!("garbage"), json!({"label": "human"})]);
    let predict = Predict::<Classify>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_adapter(ChatAdapter::new().json_fallback(false).reask(false));
    assert!(matches!(
        predict.call(ask("Who ?")).await,
        Err(Error::Parse { .. })
    ));
    assert_eq!(dummy.remaining(), 1, "exactly one call");
}

#[tokio::test]
async fn garbage_empty_and_truncated_answers_are_parse_errors() {
    for bad in [
        "",
        "   ",
        "no markers here",
        "[[ ## label ## ]]\nbanana",
        "[[ ## count ## ]]\n",
        "{\"label\": ",
    ] {
        let dummy = DummyLm::new([json!(bad), json!(bad), json!(bad)]);
        let err = Predict::<Count>::new()
            .with_lm(LM::new(dummy))
            .call(CountInput {
                question: "q".into(),
            })
            .await;
        assert!(
            matches!(err, Err(Error::Parse { .. })),
            "{bad:?} gave {err:?}"
        );
    }

    #[derive(Debug)]
    struct Truncating;
    impl LanguageModel for Truncating {
        fn model(&self) -> &str {
            "truncating"
        }
        fn complete(&self, _: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
            Box::pin(async {
                Ok(LmResponse {
                    choices: vec![Choice {
                        text: "[[ ## count ## ]]\n12\n\n[[ ## sure ## ]]\ntr".into(),
                        finish_reason: FinishReason::Length,
                    }],
                    ..Default::default()
                })
            })
        }
    }
    let err = Predict::<Count>::new()
        .with_lm(LM::new(Truncating))
        .with_adapter(ChatAdapter::new().json_fallback(false).reask(false))
        .call(CountInput {
            question: "q".into(),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_tokens"), "{err}");
}

#[tokio::test]
async fn completion_models_get_a_primed_few_shot_transcript() {
    let dummy = DummyLm::new([json!({"label": "human"})]).completion_model();
    let predict = Predict::<Classify>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_demos([Classify {
            question: "Where is Rome ?".into(),
            label: Kind::Location,
        }]);
    assert_eq!(
        predict.call(ask("Who was Galileo ?")).await.unwrap().label,
        Kind::Human
    );
    let request = dummy.last_request().unwrap();
    assert_eq!(
        request.prompt,
        Prompt::Text(
            "Classify the question by the kind of answer it expects.\n\n\
             Question: Where is Rome ?\nAnswer type: location\n\n\
             Question: Who was Galileo ?\nAnswer type:"
                .into()
        )
    );
    assert_eq!(request.stop, vec!["\n\n".to_string()]);
}

#[tokio::test]
async fn completion_models_with_structured_output_get_the_schema_for_a_grammar() {
    let plain = DummyLm::new([json!({"label": "human"})]).completion_model();
    let constrained = DummyLm::new([json!({"label": "human"})])
        .completion_model()
        .structured_output(true);
    for dummy in [&plain, &constrained] {
        Predict::<Classify>::new()
            .with_lm(LM::new(dummy.clone()))
            .call(ask("Who ?"))
            .await
            .unwrap();
    }
    let (plain, constrained) = (
        plain.last_request().unwrap(),
        constrained.last_request().unwrap(),
    );
    assert_eq!(
        plain.response_schema, None,
        "no schema for backends that cannot use it"
    );
    assert_eq!(
        plain.prompt, constrained.prompt,
        "the schema is never shown in the prompt"
    );
    assert_eq!(
        constrained.answer_format,
        Some(AnswerFormat::Completion {
            fields: vec![("label".into(), "Answer type:".into())]
        })
    );
    let schema = constrained.response_schema.unwrap().schema;
    assert_eq!(
        schema["properties"]["label"]["enum"],
        json!(["human", "location", "number"])
    );
}

#[tokio::test]
async fn chat_models_that_enforce_the_schema_get_json_answers_by_default() {
    let markers = DummyLm::new([json!({"label": "human"})]);
    let enforced = DummyLm::new([json!({"label": "human"})])
        .structured_output(true)
        .schema_enforced(true);
    for dummy in [&markers, &enforced] {
        let out = Predict::<Classify>::new()
            .with_lm(LM::new(dummy.clone()))
            .call(ask("Who ?"))
            .await
            .unwrap();
        assert_eq!(out.label, Kind::Human);
    }
    let (markers, enforced) = (
        markers.last_request().unwrap(),
        enforced.last_request().unwrap(),
    );
    assert_eq!(markers.answer_format, Some(AnswerFormat::Markers));
    assert_eq!(enforced.answer_format, Some(AnswerFormat::Json));
    assert!(matches!(enforced.prompt, Prompt::Chat(_)));
    let schema = enforced.response_schema.unwrap().schema;
    assert_eq!(schema["required"], json!(["label"]));
}

#[tokio::test]
async fn json_adapter_sends_the_schema_when_supported() {
    let dummy = DummyLm::new([json!({"count": 3, "sure": false})]).structured_output(true);
    let predict = Predict::<Count>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_adapter(JsonAdapter::new());
    let p = predict
        .forward(CountInput {
            question: "q".into(),
        })
        .await
        .unwrap();
    assert_eq!((p.count, p.sure), (3, false));
    let schema = dummy
        .last_request()
        .unwrap()
        .response_schema
        .expect("schema sent");
    assert_eq!(schema.schema["required"], json!(["count", "sure"]));
    assert_eq!(schema.schema["properties"]["sure"]["type"], "boolean");
}

#[tokio::test]
async fn keyed_and_follow_examples_modes() {
    let keyed = DummyLm::keyed([
        ("Galileo", json!({"label": "human"})),
        ("Rome", json!({"label": "location"})),
    ]);
    let predict = Predict::<Classify>::new().with_lm(LM::new(keyed));
    assert_eq!(
        predict.call(ask("Where is Rome ?")).await.unwrap().label,
        Kind::Location
    );
    assert_eq!(
        predict.call(ask("Who was Galileo ?")).await.unwrap().label,
        Kind::Human
    );

    let demos = [
        Classify {
            question: "Where is Rome ?".into(),
            label: Kind::Location,
        },
        Classify {
            question: "How many legs ?".into(),
            label: Kind::Number,
        },
    ];
    for lm in [
        DummyLm::follow_examples(),
        DummyLm::follow_examples().completion_model(),
    ] {
        let predict = Predict::<Classify>::new()
            .with_lm(LM::new(lm))
            .with_demos(demos.clone());
        assert_eq!(
            predict.call(ask("How many legs ?")).await.unwrap().label,
            Kind::Number
        );
        assert!(predict.call(ask("Unseen ?")).await.is_err());
    }
}

#[tokio::test]
async fn task_local_lms_do_not_mix() {
    let predict = Predict::<Classify>::new();
    let run = |label: &'static str| {
        let predict = predict.clone();
        let lm = LM::new(DummyLm::keyed([("", json!({ "label": label }))]));
        dspy::with_lm(lm, async move {
            let mut seen = Vec::new();
            for _ in 0..20 {
                seen.push(predict.call(ask("q")).await.unwrap().label);
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    let (a, b) = tokio::join!(tokio::spawn(run("human")), tokio::spawn(run("number")));
    assert!(a.unwrap().iter().all(|k| *k == Kind::Human));
    assert!(b.unwrap().iter().all(|k| *k == Kind::Number));
}

#[tokio::test]
async fn predictor_lm_overrides_the_task_lm() {
    let own = LM::new(DummyLm::keyed([("", json!({"label": "number"}))]));
    let task = LM::new(DummyLm::keyed([("", json!({"label": "human"}))]));
    let predict = Predict::<Classify>::new().with_lm(own);
    let label = dspy::with_lm(task, predict.call(ask("q")))
        .await
        .unwrap()
        .label;
    assert_eq!(label, Kind::Number);
}
