//! `BestOfN`, `Refine`, `MultiChainComparison` and `Parallel` / `call_batch` on `DummyLm`.

use dspy::adapter::{Message, Prompt};
use dspy::lm::{BoxFuture, Choice, LmRequest, LmResponse};
use dspy::module::{call_batch, trace};
use dspy::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answer questions with short factoid answers.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn ask(question: &str) -> QAInput {
    QAInput {
        question: question.into(),
    }
}

/// A predictor whose unreadable answers fail in one LM call (no JSON fallback, no re-ask), so
/// each attempt uses exactly one scripted answer.
fn strict_qa() -> Predict<QA> {
    Predict::<QA>::new().with_adapter(ChatAdapter::new().json_fallback(false).reask(false))
}

fn rollout_ids(dummy: &DummyLm) -> Vec<Option<u64>> {
    dummy.requests().iter().map(|r| r.rollout_id).collect()
}

fn messages(request: &LmRequest) -> Vec<Message> {
    match &request.prompt {
        Prompt::Chat(messages) => messages.clone(),
        Prompt::Text(text) => panic!("expected chat messages, got text {text:?}"),
    }
}

fn user_message(request: &LmRequest) -> String {
    messages(request)
        .last()
        .map(|m| m.content.clone())
        .unwrap_or_default()
}

fn golden_messages(name: &str) -> Vec<Message> {
    let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("golden file")).expect("json");
    serde_json::from_value(golden["messages"].clone()).expect("messages")
}

fn word_count_reward(_: &QAInput, out: &QAOutput) -> f64 {
    out.answer.split_whitespace().count() as f64
}

fn one_word(_: &QAInput, out: &QAOutput) -> f64 {
    (out.answer.split_whitespace().count() == 1) as u8 as f64
}

// ---------------------------------------------------------------- BestOfN

#[tokio::test]
async fn best_of_n_returns_the_highest_reward_with_distinct_rollouts_at_temperature_one() {
    let dummy = DummyLm::new([
        json!({"answer": "two words"}),
        json!({"answer": "three whole words"}),
        json!({"answer": "one"}),
    ]);
    let best = BestOfN::new(
        Predict::<QA>::new().with_lm(LM::new(dummy.clone())),
        3,
        word_count_reward,
    );
    let out = best.call(ask("Say something")).await.unwrap();
    assert_eq!(out.answer, "three whole words");
    assert_eq!(rollout_ids(&dummy), [Some(0), Some(1), Some(2)]);
    assert!(dummy.requests().iter().all(|r| r.temperature == Some(1.0)));
}

#[tokio::test]
async fn best_of_n_stops_at_the_threshold() {
    let dummy = DummyLm::new([
        json!({"answer": "It is Brussels"}),
        json!({"answer": "Brussels"}),
        json!({"answer": "Antwerp"}),
    ]);
    let best = BestOfN::new(
        Predict::<QA>::new().with_lm(LM::new(dummy.clone())),
        3,
        one_word,
    )
    .threshold(1.0);
    let out = best.call(ask("Capital of Belgium?")).await.unwrap();
    assert_eq!(out.answer, "Brussels");
    assert_eq!(dummy.requests().len(), 2, "the third attempt is never made");
    assert_eq!(dummy.remaining(), 1);
}

#[tokio::test]
async fn best_of_n_keeps_a_predictors_own_temperature_and_starts_from_an_outer_rollout() {
    let dummy = DummyLm::new([json!({"answer": "a"}), json!({"answer": "b"})]);
    let inner = Predict::<QA>::new()
        .with_lm(LM::new(dummy.clone()))
        .temperature(0.2);
    let best = BestOfN::new(inner, 2, |_: &QAInput, _: &QAOutput| 0.0);
    let outer = dspy::module::CallOverrides::new().rollout_id(10);
    dspy::module::with_overrides(outer, best.call(ask("Q?")))
        .await
        .unwrap();
    assert_eq!(rollout_ids(&dummy), [Some(10), Some(11)]);
    assert!(dummy.requests().iter().all(|r| r.temperature == Some(0.2)));
}

#[tokio::test]
async fn best_of_n_survives_unreadable_answers_within_fail_count() {
    let dummy = DummyLm::new([
        json!("I cannot follow any format"),
        json!({"answer": "Brussels"}),
    ]);
    let best =
        BestOfN::new(strict_qa().with_lm(LM::new(dummy.clone())), 3, one_word).threshold(1.0);
    let out = best.call(ask("Capital of Belgium?")).await.unwrap();
    assert_eq!(out.answer, "Brussels");
    assert_eq!(rollout_ids(&dummy), [Some(0), Some(1)]);
}

#[tokio::test]
async fn best_of_n_returns_the_error_once_failures_exceed_fail_count() {
    let dummy = DummyLm::new([
        json!("garbage 1"),
        json!("garbage 2"),
        json!({"answer": "Brussels"}),
    ]);
    let best = BestOfN::new(strict_qa().with_lm(LM::new(dummy.clone())), 3, one_word)
        .threshold(1.0)
        .fail_count(1);
    let err = best.call(ask("Capital of Belgium?")).await.unwrap_err();
    match err {
        Error::Parse { raw, .. } => assert_eq!(raw, "garbage 2", "the failure over the limit"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert_eq!(rollout_ids(&dummy), [Some(0), Some(1)]);
    assert_eq!(dummy.remaining(), 1, "no attempt after the limit");
}

#[tokio::test]
async fn best_of_n_returns_the_last_error_when_every_attempt_fails() {
    // Default adapter: each attempt tries chat, then JSON, then re-asks, all unreadable.
    let dummy = DummyLm::keyed([
        ("Belgium", json!("no structure here")),
        ("could not be read", json!("still no structure")),
    ]);
    let best = BestOfN::new(
        Predict::<QA>::new().with_lm(LM::new(dummy.clone())),
        2,
        one_word,
    );
    let err = best.call(ask("Capital of Belgium?")).await.unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");
    let ids: BTreeSet<_> = rollout_ids(&dummy).into_iter().collect();
    assert_eq!(ids, BTreeSet::from([Some(0), Some(1)]));
}

#[tokio::test]
async fn best_of_n_passes_on_only_the_chosen_attempts_calls_to_a_trace() {
    let dummy = DummyLm::new([
        json!({"answer": "short"}),
        json!({"answer": "much longer answer"}),
    ]);
    let best = BestOfN::new(
        Predict::<QA>::new().with_lm(LM::new(dummy)),
        2,
        word_count_reward,
    );
    let (out, trace) = trace(best.call(ask("Q?"))).await;
    assert_eq!(out.unwrap().answer, "much longer answer");
    let trace = trace.with_names(&best);
    assert_eq!(trace.len(), 1);
    assert_eq!(trace.entries[0].name.as_deref(), Some("module"));
    assert_eq!(trace.entries[0].output["answer"], "much longer answer");
}

#[test]
fn wrappers_name_predictors_as_dspy_does() {
    let cot = ChainOfThought::<QA>::new();
    assert_eq!(
        BestOfN::new(
            cot.clone(),
            3,
            |_: &QAInput, _: &WithReasoning<QAOutput>| 0.0
        )
        .predictor_names(),
        ["module.predict"]
    );
    assert_eq!(
        Refine::new(
            cot.clone(),
            3,
            |_: &QAInput, _: &WithReasoning<QAOutput>| 0.0
        )
        .predictor_names(),
        ["module.predict"]
    );
    assert_eq!(
        MultiChainComparison::<QA>::new().predictor_names(),
        ["attempts.predict", "predict"]
    );
    assert_eq!(Parallel::new(cot).predictor_names(), ["predict"]);
}

// ---------------------------------------------------------------- Refine

#[tokio::test]
async fn refine_feeds_advice_to_the_next_attempt_as_a_hint() {
    let dummy = DummyLm::new([
        json!({"reasoning": "Lyon is big.", "answer": "Lyon"}),
        json!({"discussion": "wrong city", "advice": {"predict": "The capital of France is Paris; answer Paris."}}),
        json!({"reasoning": "The hint says Paris.", "answer": "Paris"}),
    ]);
    let is_paris =
        |_: &QAInput, out: &WithReasoning<QAOutput>| (out.answer == "Paris") as u8 as f64;
    let refine = Refine::new(ChainOfThought::<QA>::new(), 3, is_paris)
        .threshold(1.0)
        .reward_code("1 if the answer is Paris, else 0");
    let out = dspy::with_lm(
        LM::new(dummy.clone()),
        refine.call(ask("Capital of France?")),
    )
    .await
    .unwrap();
    assert_eq!(out.answer, "Paris");

    let requests = dummy.requests();
    assert_eq!(
        requests.len(),
        3,
        "attempt, advice, attempt; then the threshold is met"
    );
    assert!(!user_message(&requests[0]).contains("hint_"));

    let feedback = user_message(&requests[1]);
    assert!(
        feedback
            .contains("[[ ## program_inputs ## ]]\n{\n  \"question\": \"Capital of France?\"\n}"),
        "{feedback}"
    );
    assert!(
        feedback.contains("\"module_name\": \"predict\""),
        "{feedback}"
    );
    assert!(feedback.contains("\"answer\": \"Lyon\""), "{feedback}");
    assert!(feedback.contains("[[ ## reward_code ## ]]\n1 if the answer is Paris, else 0"));
    assert!(
        feedback.contains("[[ ## target_threshold ## ]]\n1.0"),
        "{feedback}"
    );
    assert!(
        feedback.contains("[[ ## reward_value ## ]]\n0.0"),
        "{feedback}"
    );
    assert!(
        feedback.contains("[[ ## modules_defn ## ]]\n--------"),
        "{feedback}"
    );
    assert!(feedback.contains("Module predict\n\tInput Fields:\n\t\t1. `question` (str):"));
    assert_eq!(
        requests[1].rollout_id, None,
        "advice is not part of an attempt"
    );

    // The retry is exactly what DSPy sends for a hinted ChainOfThought.
    assert_eq!(
        messages(&requests[2]),
        golden_messages("refine_hint_cot_chat")
    );
    assert_eq!(requests[2].rollout_id, Some(1));
}

#[tokio::test]
async fn refine_hints_na_to_predictors_without_advice_and_keeps_hints_out_of_traces() {
    let dummy = DummyLm::new([
        json!({"answer": "It is Paris"}),
        json!({"discussion": "d", "advice": {"someone_else": "do better"}}),
        json!({"answer": "Paris"}),
    ]);
    let refine = Refine::new(Predict::<QA>::new(), 2, one_word).threshold(1.0);
    let (out, trace) =
        dspy::with_lm(LM::new(dummy.clone()), trace(refine.call(ask("Capital?")))).await;
    assert_eq!(out.unwrap().answer, "Paris");
    assert!(user_message(&dummy.requests()[2]).contains("[[ ## hint_ ## ]]\nN/A"));
    // Only the returned attempt reaches the trace: no advice call, no hint in its input.
    let trace = trace.with_names(&refine);
    assert_eq!(trace.len(), 1);
    assert_eq!(trace.entries[0].name.as_deref(), Some("module"));
    assert!(!trace.entries[0].input.contains_key("hint_"));
}

#[tokio::test]
async fn refine_counts_unreadable_advice_as_a_failure_and_keeps_the_best() {
    let dummy = DummyLm::new([
        json!({"answer": "It is Paris"}),
        json!("advice without any structure"),
        json!("still no structure"),
        json!("and again"),
        json!({"answer": "Paris, France"}),
    ]);
    let refine = Refine::new(Predict::<QA>::new(), 2, word_count_reward)
        .threshold(10.0)
        .fail_count(1);
    let out = dspy::with_lm(LM::new(dummy.clone()), refine.call(ask("Capital?")))
        .await
        .unwrap();
    assert_eq!(out.answer, "It is Paris", "the best of the two attempts");
    let requests = dummy.requests();
    assert_eq!(
        requests.len(),
        5,
        "attempt, advice (chat, JSON, re-ask), attempt"
    );
    assert!(
        !user_message(&requests[4]).contains("hint_"),
        "no advice was read, so none is shown"
    );
}

#[tokio::test]
async fn refine_returns_the_error_when_advice_fails_past_fail_count() {
    let dummy = DummyLm::new([
        json!({"answer": "It is Paris"}),
        json!("x"),
        json!("y"),
        json!("z"),
    ]);
    let refine = Refine::new(Predict::<QA>::new(), 3, one_word)
        .threshold(1.0)
        .fail_count(0);
    let err = dspy::with_lm(LM::new(dummy.clone()), refine.call(ask("Capital?")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");
    assert_eq!(dummy.remaining(), 0);
}

// ---------------------------------------------------------------- MultiChainComparison

#[tokio::test]
async fn multi_chain_comparison_shows_every_attempt_and_returns_the_comparisons_answer() {
    let dummy = DummyLm::new([
        json!({"reasoning": "The capital of France is Paris.\nIt has been for centuries.", "answer": "Paris"}),
        json!({"reasoning": "Lyon is a big city.", "answer": "Lyon"}),
        json!({"reasoning": "  France's capital is Paris. ", "answer": "Paris\nFrance"}),
        json!({"rationale": "Two attempts say Paris.", "answer": "Paris"}),
    ]);
    let mcc = MultiChainComparison::<QA>::new().with_lm(LM::new(dummy.clone()));
    let out = mcc.call(ask("Capital of France?")).await.unwrap();
    assert_eq!(out.answer, "Paris");
    assert_eq!(out.rationale, "Two attempts say Paris.");

    let requests = dummy.requests();
    assert_eq!(requests.len(), 4);
    let attempt_rollouts: Vec<_> = requests[..3].iter().map(|r| r.rollout_id).collect();
    assert_eq!(attempt_rollouts, [Some(0), Some(1), Some(2)]);
    assert!(requests[..3].iter().all(|r| r.temperature == Some(0.7)));
    // The comparison prompt is exactly DSPy's, at DSPy's temperature.
    assert_eq!(messages(&requests[3]), golden_messages("mcc_qa_chat"));
    assert_eq!(requests[3].temperature, Some(0.7));
}

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

#[tokio::test]
async fn multi_chain_comparison_with_more_attempts_and_typed_outputs() {
    let dummy = DummyLm::keyed([
        (
            "reasoning_attempt_5",
            json!({"rationale": "Most say human.", "label": "human"}),
        ),
        (
            "Who",
            json!({"reasoning": "It asks who.", "label": "human"}),
        ),
    ]);
    let mcc = MultiChainComparison::<Classify, 5>::new().with_lm(LM::new(dummy.clone()));
    let out = mcc
        .call(ClassifyInput {
            question: "Who was Galileo ?".into(),
        })
        .await
        .unwrap();
    assert_eq!(out.label, Kind::Human);
    let compare = user_message(&dummy.last_request().unwrap());
    assert!(compare.contains(
        "[[ ## reasoning_attempt_5 ## ]]\n«I'm trying to It asks who. I'm not sure but my prediction is human»"
    ));
    assert_eq!(dummy.requests().len(), 6);
}

#[tokio::test]
async fn multi_chain_comparison_reports_unreadable_answers() {
    // The attempts are fine; the comparison never gives a readable answer.
    let dummy = DummyLm::keyed([
        (
            "reasoning_attempt_1",
            json!({"rationale": "fine", "label": "planet"}),
        ),
        (
            "could not be read",
            json!({"rationale": "fine", "label": "planet"}),
        ),
        ("Who", json!({"reasoning": "who", "label": "human"})),
    ]);
    let mcc = MultiChainComparison::<Classify>::new().with_lm(LM::new(dummy.clone()));
    let err = mcc
        .call(ClassifyInput {
            question: "Who ?".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Parse { field, .. } if field == "label"),
        "{err:?}"
    );

    // An attempt that cannot be read fails the call before any comparison.
    let dummy = DummyLm::keyed([
        ("Who", json!("no structure")),
        ("could not be read", json!("no structure")),
    ]);
    let mcc = MultiChainComparison::<Classify>::new().with_lm(LM::new(dummy.clone()));
    let err = mcc
        .call(ClassifyInput {
            question: "Who ?".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");
    assert!(
        dummy
            .requests()
            .iter()
            .all(|r| !user_message(r).contains("reasoning_attempt_1"))
    );
}

#[tokio::test]
async fn multi_chain_comparison_compares_given_completions_and_checks_their_number() {
    let dummy = DummyLm::new([json!({"rationale": "agree", "answer": "4"})]);
    let mcc = MultiChainComparison::<QA, 2>::new().with_lm(LM::new(dummy.clone()));
    let attempt = |r: &str, a: &str| WithReasoning {
        reasoning: r.into(),
        output: QAOutput { answer: a.into() },
    };
    let err = mcc
        .compare(ask("2+2?"), &[attempt("one", "4")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("exactly 2 attempts but got 1")),
        "{err:?}"
    );
    assert!(dummy.requests().is_empty());

    let out = mcc
        .compare(ask("2+2?"), &[attempt("Add.", "4"), attempt("Guess.", "5")])
        .await
        .unwrap();
    assert_eq!(out.answer, "4");
    assert!(user_message(&dummy.last_request().unwrap()).contains(
        "[[ ## reasoning_attempt_2 ## ]]\n«I'm trying to Guess. I'm not sure but my prediction is 5»"
    ));
}

// ---------------------------------------------------------------- Parallel / call_batch

/// Answers `{"answer": <question>}` after a delay that shrinks with the question's number, so
/// later inputs finish first; counts calls in flight.
#[derive(Debug, Default)]
struct SlowEcho {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: Mutex<Vec<String>>,
}

impl LanguageModel for SlowEcho {
    fn model(&self) -> &str {
        "slow-echo"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let input = user_message(&request);
            let question = input.lines().nth(1).unwrap_or_default().to_string();
            self.seen.lock().unwrap().push(question.clone());
            let number: u64 = question.trim_start_matches('q').parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(20u64.saturating_sub(number * 2))).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let text = if question == "q3" {
                "not an answer".to_string()
            } else {
                format!("[[ ## answer ## ]]\n{question}\n\n[[ ## completed ## ]]")
            };
            Ok(LmResponse {
                choices: vec![Choice::new(text)],
                ..Default::default()
            })
        })
    }
}

#[tokio::test]
async fn call_batch_keeps_input_order_and_per_item_errors() {
    let backend = Arc::new(SlowEcho::default());
    let lm = LM::from_arc(backend.clone());
    let qa = strict_qa();
    let inputs = (0..8).map(|i| ask(&format!("q{i}")));
    let results = dspy::with_lm(lm, call_batch(&qa, inputs, 3)).await;

    assert_eq!(results.len(), 8);
    for (i, result) in results.iter().enumerate() {
        if i == 3 {
            assert!(matches!(result, Err(Error::Parse { .. })), "{result:?}");
        } else {
            assert_eq!(result.as_ref().unwrap().answer, format!("q{i}"));
        }
    }
    assert_eq!(backend.max_in_flight.load(Ordering::SeqCst), 3);
    assert_eq!(backend.seen.lock().unwrap().len(), 8);
}

#[tokio::test]
async fn parallel_module_and_call_batch_method_share_task_locals() {
    let dummy = DummyLm::keyed([
        ("France", json!({"answer": "Paris"})),
        ("Italy", json!({"answer": "Rome"})),
        ("Spain", json!("unreadable")),
    ]);
    let batch = Parallel::new(strict_qa()).concurrency(2);
    let inputs = vec![ask("Spain?"), ask("Italy?"), ask("France?")];
    let (results, trace) =
        dspy::with_lm(LM::new(dummy.clone()), trace(batch.call(inputs.clone()))).await;
    let results = results.unwrap();
    assert!(results[0].is_err());
    assert_eq!(results[1].as_ref().unwrap().answer, "Rome");
    assert_eq!(results[2].as_ref().unwrap().answer, "Paris");
    assert_eq!(
        trace.len(),
        2,
        "successful calls are traced in the caller's scope"
    );

    let again = dspy::with_lm(LM::new(dummy), batch.module.call_batch(inputs, 1)).await;
    let answers: Vec<_> = again
        .iter()
        .map(|r| r.as_ref().ok().map(|o| o.answer.clone()))
        .collect();
    assert_eq!(answers, [None, Some("Rome".into()), Some("Paris".into())]);
}

#[tokio::test]
async fn best_of_n_runs_in_batches() {
    let dummy = DummyLm::keyed([
        ("Belgium", json!({"answer": "Brussels"})),
        ("France", json!({"answer": "It is Paris"})),
    ]);
    let best = BestOfN::new(
        Predict::<QA>::new().with_lm(LM::new(dummy.clone())),
        2,
        one_word,
    )
    .threshold(1.0);
    let results = best.call_batch([ask("Belgium?"), ask("France?")], 2).await;
    assert_eq!(results[0].as_ref().unwrap().answer, "Brussels");
    assert_eq!(results[1].as_ref().unwrap().answer, "It is Paris");
    assert_eq!(
        dummy.requests().len(),
        3,
        "one attempt for Belgium, two for France"
    );
}
