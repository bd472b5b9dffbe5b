//! GEPA on scripted LMs whose task model answers right only under instructions that contain a
//! magic phrase, and whose reflection LM proposes that phrase only when it sees the run that
//! needs it: GEPA must find it, for every predictor of a two-stage program; the same seed gives
//! the same search; an LM budget stops it with the best so far; a checkpoint resumes it.

use crate::support;
use dspy::lm::{Budget, LmRequest};
use dspy::prelude::*;
use dspy_optimize::{Auto, CandidateSelection, GEPA};
use serde_json::{Value, json};
use std::path::PathBuf;
use support::capitals::{
    Capital, CapitalOutput, Scripted, capitals, city_of, summary, system_and_user, temp,
};

/// Right with feedback, or wrong with the reason, as a GEPA metric gives it.
fn capital_feedback(ex: &Capital, out: &CapitalOutput) -> (f64, String) {
    if ex.city == out.city {
        (1.0, "Correct.".into())
    } else {
        (
            0.0,
            format!(
                "The capital of {} is {}, not {}.",
                ex.country, ex.city, out.city
            ),
        )
    }
}
/// Knows every capital, but says so only when its instructions contain `MAGIC`.
fn capital_task() -> Scripted<impl Fn(&LmRequest) -> Value + Send + Sync> {
    Scripted(|request: &LmRequest| {
        let (system, user, _) = system_and_user(&request.prompt);
        let city = city_of(&user);
        if system.contains("MAGIC") {
            json!({ "city": city })
        } else {
            json!({ "city": "Atlantis" })
        }
    })
}

const MAGIC: &str = "Name the capital city (MAGIC).";
const DUD: &str = "Answer carefully.";

/// Proposes the magic instruction only when the runs it reflects on include Egypt.
fn capital_reflection() -> DummyLm {
    DummyLm::keyed([
        ("Egypt", json!({ "new_instruction": MAGIC })),
        ("", json!({ "new_instruction": DUD })),
    ])
}

type Feedback = fn(&Capital, &CapitalOutput) -> (f64, String);

fn gepa() -> GEPA<Feedback> {
    GEPA::new(capital_feedback as Feedback)
        .max_metric_calls(40)
        .progress(false)
}

#[tokio::test]
async fn gepa_finds_the_instruction_the_feedback_points_to() {
    let reflection = capital_reflection();
    let trainset = capitals();
    let compiled = with_lm(
        LM::new(capital_task()),
        gepa()
            .reflection_lm(LM::new(reflection.clone()))
            .compile(&Predict::<Capital>::new(), &trainset),
    )
    .await
    .unwrap();
    assert_eq!(compiled.instructions.as_deref(), Some(MAGIC));
    let report = &compiled.report;
    assert_eq!(report.best_score, Some(1.0));
    assert_eq!(report.trials[0].candidate, "#0 seed program");
    assert_eq!(report.trials[0].score, Some(0.0));
    let best = report.best_trial().unwrap();
    assert!(best.candidate.contains("MAGIC"), "{report}");
    assert!(best.candidate.contains("minibatch 0 → "), "{report}");
    // Each reflection saw the current instruction and the metric's feedback on its minibatch.
    let requests = reflection.requests();
    assert!(!requests.is_empty());
    let first = requests[0].prompt.to_text();
    assert!(first.contains("Answer with the capital city."), "{first}");
    assert!(first.contains("not Atlantis."), "{first}");
    // Once the minibatches are perfect, nothing more is proposed.
    assert!(
        report
            .trials
            .iter()
            .any(|t| t.candidate.contains("already perfect")),
        "{report}"
    );
    assert!(!report.stopped_by_budget);
}

#[tokio::test]
async fn a_plain_score_metric_gets_generic_feedback() {
    let reflection = capital_reflection();
    let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
    let compiled = with_lm(
        LM::new(capital_task()),
        GEPA::new(metric)
            .max_metric_calls(30)
            .progress(false)
            .prompt_model(LM::new(reflection.clone()))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    assert_eq!(compiled.instructions.as_deref(), Some(MAGIC));
    let asked = reflection.requests()[0].prompt.to_text();
    assert!(
        asked.contains("This trajectory got a score of 0."),
        "{asked}"
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_search() {
    let run = |seed: u64| async move {
        let compiled = with_lm(
            LM::new(capital_task()),
            gepa()
                .seed(seed)
                .use_merge(false)
                .reflection_lm(LM::new(capital_reflection()))
                .compile(&Predict::<Capital>::new(), &capitals()),
        )
        .await
        .unwrap();
        (compiled.instructions.clone(), summary(&compiled.report))
    };
    let first = run(0).await;
    assert_eq!(first, run(0).await);
    // Other seeds draw other minibatches, so the search goes otherwise (it finds the same).
    let mut others = Vec::new();
    for seed in 1..4 {
        let other = run(seed).await;
        assert_eq!(other.0.as_deref(), Some(MAGIC));
        others.push(other.1);
    }
    assert!(others.iter().any(|o| *o != first.1), "{others:?}");
}

#[tokio::test]
async fn an_lm_budget_stops_gepa_with_the_best_so_far() {
    // The seed program's 6 validation runs fit; the first minibatch does not.
    let task = LM::builder(capital_task())
        .budget(Budget::new().max_calls(8))
        .build();
    let compiled = with_lm(
        task,
        gepa()
            .reflection_lm(LM::new(capital_reflection()))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    assert!(report.stopped_by_budget);
    assert_eq!(report.trials.len(), 2, "{report}");
    assert_eq!(report.best, Some(0));
    assert!(
        report.trials[1]
            .error
            .as_deref()
            .unwrap()
            .contains("budget")
    );
    assert_eq!(compiled.instructions, None);
}

#[tokio::test]
async fn a_checkpoint_resumes_a_compile_stopped_by_the_budget() {
    let trainset = capitals();
    let valset: Vec<Capital> = trainset.iter().rev().cloned().collect();
    let compile = |task: LM, checkpoint: Option<PathBuf>| {
        let (trainset, valset) = (trainset.clone(), valset.clone());
        async move {
            let mut gepa = gepa()
                .seed(3)
                .concurrency(2)
                .reflection_lm(LM::new(capital_reflection()));
            if let Some(path) = checkpoint {
                gepa = gepa.checkpoint(path);
            }
            with_lm(
                task,
                gepa.compile_with_valset(&Predict::<Capital>::new(), &trainset, &valset),
            )
            .await
            .unwrap()
        }
    };
    let whole = compile(LM::new(capital_task()), None).await;
    assert!(!whole.report.stopped_by_budget);
    assert_eq!(whole.instructions.as_deref(), Some(MAGIC));

    let path = temp("gepa", "resume");
    std::fs::remove_file(&path).ok();
    let limited = LM::builder(capital_task())
        .budget(Budget::new().max_calls(13))
        .build();
    let stopped = compile(limited, Some(path.clone())).await;
    assert!(stopped.report.stopped_by_budget);
    assert!(path.exists());

    let resumed = compile(LM::new(capital_task()), Some(path.clone())).await;
    assert!(!resumed.report.stopped_by_budget);
    assert_eq!(resumed.instructions, whole.instructions);
    assert_eq!(summary(&resumed.report), summary(&whole.report));
    assert_eq!(resumed.report.best, whole.report.best);
    // The iterations saved were not run again.
    assert!(
        resumed.report.usage.calls < whole.report.usage.calls,
        "resumed {} vs whole {}",
        resumed.report.usage.calls,
        whole.report.usage.calls
    );
    // A finished compile started again returns at once, with no call.
    let again = compile(LM::new(capital_task()), Some(path.clone())).await;
    assert_eq!(again.report.usage.calls, 0);
    assert_eq!(again.instructions, whole.instructions);
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn no_budget_is_a_config_error() {
    let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
    let err = GEPA::new(metric)
        .progress(false)
        .compile(&Predict::<Capital>::new(), &capitals())
        .await
        .unwrap_err();
    assert!(matches!(err, dspy::Error::Config(_)), "{err}");
}

/// Name the topic of the question.
#[derive(Signature, Clone, Debug)]
struct Topic {
    #[input]
    question: String,
    #[output]
    topic: String,
}

/// Answer the question, knowing its topic.
#[derive(Signature, Clone, Debug)]
struct Answer {
    #[input]
    question: String,
    #[input]
    topic: String,
    #[output]
    answer: String,
}

/// Answer the question.
#[derive(Signature, Clone, Debug, PartialEq)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

/// Two predictors: a topic, then an answer that knows it.
#[derive(Module, Clone)]
struct TwoStage {
    topic: Predict<Topic>,
    answer: Predict<Answer>,
}

impl Module for TwoStage {
    type Input = QAInput;
    type Output = QAOutput;

    async fn call(&self, input: QAInput) -> dspy::Result<QAOutput> {
        let topic = self
            .topic
            .call(TopicInput {
                question: input.question.clone(),
            })
            .await?;
        let answer = self
            .answer
            .call(AnswerInput {
                question: input.question,
                topic: topic.topic,
            })
            .await?;
        Ok(QAOutput {
            answer: answer.answer,
        })
    }
}

/// Questions of three kinds: `A` ones are answered right only when the topic stage says `geo`
/// (which it does under `TOPIC-MAGIC`); `B` ones only under `ANSWER-MAGIC`; `C` ones whenever
/// the topic is the seed's `misc` or the answer stage has `ANSWER-MAGIC`. So each magic phrase
/// helps some examples, the topic one alone hurts others, and both together are best.
fn two_stage_task() -> Scripted<impl Fn(&LmRequest) -> Value + Send + Sync> {
    Scripted(|request: &LmRequest| {
        let (system, user, _) = system_and_user(&request.prompt);
        if !system.contains("[[ ## answer ## ]]") {
            let topic = if system.contains("TOPIC-MAGIC") {
                "geo"
            } else {
                "misc"
            };
            return json!({ "topic": topic });
        }
        let geo = user.contains("geo");
        let magic = system.contains("ANSWER-MAGIC");
        let right = if user.contains("A-") {
            geo
        } else if user.contains("B-") {
            magic
        } else {
            !geo || magic
        };
        json!({ "answer": if right { "yes" } else { "no" } })
    })
}

fn two_stage_reflection() -> DummyLm {
    DummyLm::keyed([
        (
            "Name the topic of the question.",
            json!({ "new_instruction": "Name the topic (TOPIC-MAGIC)." }),
        ),
        (
            "Answer the question, knowing its topic.",
            json!({ "new_instruction": "Answer (ANSWER-MAGIC)." }),
        ),
        ("", json!({ "new_instruction": "Try harder." })),
    ])
}

fn kinds() -> Vec<QA> {
    ["A-1", "B-1", "C-1", "A-2", "B-2", "C-2"]
        .iter()
        .map(|q| QA {
            question: format!("question {q}"),
            answer: "yes".into(),
        })
        .collect()
}

#[tokio::test]
async fn every_predictor_of_a_pipeline_is_evolved_and_merges_combine_them() {
    let program = TwoStage {
        topic: Predict::new(),
        answer: Predict::new(),
    };
    let metric = |ex: &QA, out: &QAOutput| {
        if ex.answer == out.answer {
            (1.0, "Right.".to_string())
        } else {
            (0.0, "Wrong: the answer is yes.".to_string())
        }
    };
    let mut merges = 0;
    for seed in 0..6 {
        let compiled = with_lm(
            LM::new(two_stage_task()),
            GEPA::new(metric)
                .max_metric_calls(120)
                .seed(seed)
                .progress(false)
                .reflection_lm(LM::new(two_stage_reflection()))
                .compile(&program, &kinds()),
        )
        .await
        .unwrap();
        let report = &compiled.report;
        assert_eq!(report.best_score, Some(1.0), "seed {seed}: {report}");
        assert!(
            compiled
                .topic
                .instructions
                .as_deref()
                .unwrap()
                .contains("TOPIC-MAGIC"),
            "seed {seed}: {report}"
        );
        assert!(
            compiled
                .answer
                .instructions
                .as_deref()
                .unwrap()
                .contains("ANSWER-MAGIC"),
            "seed {seed}: {report}"
        );
        // Round robin: proposals went to both predictors.
        assert!(
            report
                .trials
                .iter()
                .any(|t| t.candidate.contains("`topic`"))
        );
        assert!(
            report
                .trials
                .iter()
                .any(|t| t.candidate.contains("`answer`"))
        );
        if report
            .trials
            .iter()
            .any(|t| t.candidate.contains("← merge") && t.score.is_some())
        {
            merges += 1;
        }
    }
    // Some seeds reach the best program by merging two branches (the searches are
    // deterministic, so this does not flake).
    assert!(merges > 0);
}

#[tokio::test]
async fn current_best_selection_and_auto_budgets_work_too() {
    let compiled = with_lm(
        LM::new(capital_task()),
        GEPA::new(capital_feedback)
            .auto(Auto::Light)
            .candidate_selection(CandidateSelection::CurrentBest)
            .progress(false)
            .reflection_lm(LM::new(capital_reflection()))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    assert_eq!(compiled.instructions.as_deref(), Some(MAGIC));
    // Light for one predictor and 6 validation examples: well over 100 metric calls, most of
    // them skipped minibatches once every run is right.
    assert!(compiled.report.trials.len() > 20, "{}", compiled.report);
}

#[tokio::test]
async fn a_larger_budget_carries_on_from_the_checkpoint() {
    let path = temp("gepa", "more");
    std::fs::remove_file(&path).ok();
    let compile = |calls: usize, checkpoint: Option<PathBuf>| async move {
        let mut gepa = gepa()
            .max_metric_calls(calls)
            .reflection_lm(LM::new(capital_reflection()));
        if let Some(path) = checkpoint {
            gepa = gepa.checkpoint(path);
        }
        with_lm(
            LM::new(capital_task()),
            gepa.compile(&Predict::<Capital>::new(), &capitals()),
        )
        .await
        .unwrap()
    };
    let small = compile(12, Some(path.clone())).await;
    assert_eq!(small.report.trials.len(), 2, "{}", small.report);
    let larger = compile(40, Some(path.clone())).await;
    let whole = compile(40, None).await;
    assert_eq!(summary(&larger.report), summary(&whole.report));
    assert_eq!(larger.instructions, whole.instructions);
    assert!(larger.report.usage.calls < whole.report.usage.calls);
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn a_proposal_that_repeats_the_instruction_costs_no_runs() {
    let echo = DummyLm::keyed([(
        "",
        json!({ "new_instruction": "Answer with the capital city." }),
    )]);
    let task = DummyLm::keyed([("", json!({ "city": "Atlantis" }))]);
    let compiled = with_lm(
        LM::new(task.clone()),
        gepa()
            .max_metric_calls(15)
            .reflection_lm(LM::new(echo))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    // The seed's 6 validation runs, then 3 iterations of one minibatch of 3 each.
    assert_eq!(report.trials.len(), 4, "{report}");
    assert!(
        report.trials[1..]
            .iter()
            .all(|t| t.candidate.contains("repeats the instruction")),
        "{report}"
    );
    assert_eq!(task.requests().len(), 6 + 3 * 3);
    assert_eq!(compiled.instructions, None);
}

/// Writes something unreadable (no `city` field in any layout) unless told the MAGIC rule.
fn unreadable_task() -> Scripted<impl Fn(&LmRequest) -> Value + Send + Sync> {
    Scripted(|request: &LmRequest| {
        let (system, user, _) = system_and_user(&request.prompt);
        if system.contains("MAGIC") {
            json!({ "city": city_of(&user) })
        } else {
            json!("I think it is a big city somewhere")
        }
    })
}

#[tokio::test]
async fn unreadable_answers_are_reflected_on_only_when_asked() {
    let trainset = capitals();
    // The proposal that fixes the format comes only from a dataset that shows the failure.
    let reflection = || {
        DummyLm::keyed([
            ("could not be read", json!({ "new_instruction": MAGIC })),
            ("", json!({ "new_instruction": DUD })),
        ])
    };
    let run = |gepa: GEPA<Feedback>, reflection: DummyLm| {
        let trainset = trainset.clone();
        async move {
            with_lm(
                LM::new(unreadable_task()),
                gepa.reflection_lm(LM::new(reflection))
                    .compile(&Predict::<Capital>::new(), &trainset),
            )
            .await
            .unwrap()
        }
    };

    // As in DSPy, by default a failed run gives nothing to reflect on.
    let plain_reflection = reflection();
    let plain = run(gepa(), plain_reflection.clone()).await;
    assert_eq!(plain.instructions, None, "{}", plain.report);
    assert!(plain_reflection.requests().is_empty());
    assert!(
        plain
            .report
            .trials
            .iter()
            .any(|t| t.candidate.contains("no successful run")),
        "{}",
        plain.report
    );

    // Asked to, it shows the reflection LM the unreadable answers and the fields they lacked.
    let told_reflection = reflection();
    let told = run(
        gepa().add_format_failure_as_feedback(true),
        told_reflection.clone(),
    )
    .await;
    assert_eq!(told.instructions.as_deref(), Some(MAGIC), "{}", told.report);
    assert_eq!(told.report.best_score, Some(1.0));
    let first = told_reflection.requests()[0].prompt.to_text();
    assert!(
        first.contains("I think it is a big city somewhere"),
        "{first}"
    );
    assert!(first.contains("`city` (str)"), "{first}");
}
