//! The builders every module shares (`ConfigureExt`, `WrapsPredict`): written once, they reach
//! every predictor a wrapper holds and change what it sends.

use dspy::adapter::Prompt;
use dspy::prelude::*;
use serde_json::json;

/// Answer with a number.
#[derive(Signature, Clone, Debug)]
struct Add {
    #[input]
    question: String,
    #[output]
    answer: i64,
}

fn configs(program: &impl Parameters) -> Vec<(String, PredictConfig)> {
    program
        .predictors()
        .into_iter()
        .map(|(name, p)| (name, p.config().clone()))
        .collect()
}

fn tuned(config: &PredictConfig) -> bool {
    config.temperature == Some(0.3)
        && config.max_tokens == Some(99)
        && config.n == 2
        && config.stop == ["END"]
}

#[test]
fn every_wrapper_takes_the_sampling_builders_on_every_predictor() {
    fn check(name: &str, configs: Vec<(String, PredictConfig)>) {
        assert!(!configs.is_empty(), "{name} has predictors");
        for (predictor, config) in configs {
            assert!(tuned(&config), "{name}: `{predictor}` got {config:?}");
        }
    }
    let reward = |_: &AddInput, _: &WithReasoning<AddOutput>| 1.0;
    macro_rules! tune {
        ($module:expr) => {
            ConfigureExt::n($module.temperature(0.3).max_tokens(99), 2).stop("END")
        };
    }
    check(
        "ChainOfThought",
        configs(&tune!(ChainOfThought::<Add>::new())),
    );
    check(
        "MultiChainComparison",
        configs(&tune!(MultiChainComparison::<Add>::new())),
    );
    check("ReAct", configs(&tune!(ReAct::<Add>::new([]))));
    check(
        "BestOfN",
        configs(&tune!(BestOfN::new(
            ChainOfThought::<Add>::new(),
            3,
            reward
        ))),
    );
    check(
        "Refine",
        configs(&tune!(Refine::new(ChainOfThought::<Add>::new(), 3, reward))),
    );
    check(
        "Parallel",
        configs(&tune!(Parallel::new(ChainOfThought::<Add>::new()))),
    );
    // `with_config` replaces each predictor's settings whole.
    let replaced = ChainOfThought::<Add>::new()
        .temperature(0.9)
        .with_config(PredictConfig {
            max_tokens: Some(5),
            ..Default::default()
        });
    assert_eq!(replaced.predict.config.temperature, None);
    assert_eq!(replaced.predict.config.max_tokens, Some(5));
}

#[tokio::test]
async fn the_lm_and_adapter_builders_change_what_is_sent() {
    let dummy = DummyLm::new([json!({"reasoning": "Two and two.", "answer": 4})]);
    let cot = ChainOfThought::<Add>::new()
        .with_lm(LM::new(dummy.clone()))
        .with_adapter(JsonAdapter::new())
        .temperature(0.4);
    let out = cot
        .call(AddInput {
            question: "2 + 2?".into(),
        })
        .await
        .unwrap();
    assert_eq!(out.answer, 4);
    let request = dummy.last_request().unwrap();
    assert_eq!(request.temperature, Some(0.4));
    let Prompt::Chat(messages) = &request.prompt else {
        panic!("a chat prompt")
    };
    // The JSON adapter's layout, not the chat markers' default.
    assert!(
        messages[0].content.contains("JSON object"),
        "{}",
        messages[0].content
    );
}

#[test]
fn wrappers_take_the_instructions_and_demos_of_their_predictor() {
    let reasoned = Reasoned {
        example: Add {
            question: "1 + 1?".into(),
            answer: 2,
        },
        reasoning: "One and one.".into(),
    };
    let reward = |_: &AddInput, _: &WithReasoning<AddOutput>| 1.0;
    let best = BestOfN::new(ChainOfThought::<Add>::new(), 2, reward)
        .with_instructions("Add.")
        .with_demos([reasoned.clone()]);
    assert_eq!(best.module.predict.instructions.as_deref(), Some("Add."));
    assert_eq!(
        best.module.predict.demos[0].example().unwrap().reasoning,
        "One and one."
    );
    let mcc = MultiChainComparison::<Add>::new().with_instructions("Compare.");
    assert_eq!(mcc.predict.instructions.as_deref(), Some("Compare."));
    assert_eq!(mcc.attempts.predict.instructions, None);
    let refine = Refine::new(ChainOfThought::<Add>::new(), 2, reward).with_instructions("Add.");
    assert_eq!(refine.module.predict.instructions.as_deref(), Some("Add."));
    assert_eq!(refine.feedback.instructions, None);
}
