//! SIMBA on scripted LMs: a task model that is right on one sampler's runs only (so buckets
//! disagree) and always right under a magic rule, or once it is shown a demo; a prompt model
//! that writes the magic rule only for one example's bucket. SIMBA must find the rule (or the
//! demos); the same seed gives the same search; an LM budget stops it; a checkpoint resumes it.

use crate::support;
use dspy::lm::{Budget, LmRequest};
use dspy::prelude::*;
use dspy_optimize::SIMBA;
use serde_json::{Value, json};
use std::path::PathBuf;
use support::capitals::{
    CAPITALS, Capital, CapitalOutput, Scripted, capitals, city_of, summary, system_and_user, temp,
};

fn metric(ex: &Capital, out: &CapitalOutput) -> (f64, String) {
    if ex.city == out.city {
        (1.0, "Correct.".into())
    } else {
        (
            0.0,
            format!("The capital is {}, not {}.", ex.city, out.city),
        )
    }
}

/// Right on sampler 0's runs (rollout id 0), or always when its instructions say `MAGIC`.
fn rule_task() -> Scripted<impl Fn(&LmRequest) -> Value + Send + Sync> {
    Scripted(|request: &LmRequest| {
        let (system, user, _) = system_and_user(&request.prompt);
        if system.contains("MAGIC") || request.rollout_id == Some(0) {
            json!({ "city": city_of(&user) })
        } else {
            json!({ "city": "Atlantis" })
        }
    })
}

/// Right on sampler 0's runs, or always when shown a demo (a chat prompt longer than a system
/// and a user message).
fn demo_task() -> Scripted<impl Fn(&LmRequest) -> Value + Send + Sync> {
    Scripted(|request: &LmRequest| {
        let (_, user, messages) = system_and_user(&request.prompt);
        if messages > 2 || request.rollout_id == Some(0) {
            json!({ "city": city_of(&user) })
        } else {
            json!({ "city": "Atlantis" })
        }
    })
}

const MAGIC: &str = "Name the capital city, never a made-up one (MAGIC).";

/// Writes the magic rule when comparing runs on Egypt, a useless one otherwise.
fn rule_writer() -> DummyLm {
    DummyLm::keyed([
        (
            "Egypt",
            json!({"discussion": "The worse run made a city up.", "module_advice": {"self": MAGIC}}),
        ),
        (
            "",
            json!({"discussion": "Hard to say.", "module_advice": {"self": "Be careful."}}),
        ),
    ])
}

type Feedback = fn(&Capital, &CapitalOutput) -> (f64, String);

fn simba() -> SIMBA<Feedback> {
    SIMBA::new(metric as Feedback)
        .bsize(4)
        .num_candidates(4)
        .max_steps(4)
        .progress(false)
}

#[tokio::test]
async fn simba_finds_the_rule_that_makes_every_run_right() {
    let writer = rule_writer();
    let compiled = with_lm(
        LM::new(rule_task()),
        simba()
            .prompt_model(LM::new(writer.clone()))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    let instructions = compiled.instructions.as_deref().unwrap_or_default();
    assert!(
        instructions.starts_with("Answer with the capital city."),
        "{instructions}"
    );
    assert!(instructions.contains(MAGIC), "{report}");
    assert_eq!(report.best_score, Some(1.0), "{report}");
    assert!(
        report
            .best_trial()
            .unwrap()
            .candidate
            .starts_with("final: ")
    );
    // The prompt model saw a better and a worse run of the same example, with the feedback.
    let asked = writer.requests()[0].prompt.to_text();
    assert!(asked.contains("worse_program_trajectory"), "{asked}");
    assert!(asked.contains("not Atlantis."), "{asked}");
    assert!(asked.contains("Module self"), "{asked}");
    // Both strategies were tried.
    assert!(
        report
            .trials
            .iter()
            .any(|t| t.candidate.contains("append_a_demo"))
    );
    assert!(
        report
            .trials
            .iter()
            .any(|t| t.candidate.contains("append_a_rule"))
    );
    assert!(!report.stopped_by_budget);
}

#[tokio::test]
async fn simba_adds_the_demos_that_help() {
    let compiled = with_lm(
        LM::new(demo_task()),
        simba()
            .prompt_model(LM::new(rule_writer()))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    assert_eq!(compiled.report.best_score, Some(1.0), "{}", compiled.report);
    assert!(!compiled.demos.is_empty());
    // Every demo is a right answer from a sampled run.
    for demo in &compiled.demos {
        assert!(CAPITALS.contains(&(
            demo.example().unwrap().country.as_str(),
            demo.example().unwrap().city.as_str()
        )));
    }
    // With no demos allowed, only rules are tried, and none helps this model.
    let rules_only = with_lm(
        LM::new(demo_task()),
        simba()
            .max_demos(0)
            .prompt_model(LM::new(rule_writer()))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    assert!(rules_only.demos.is_empty());
    let report = &rules_only.report;
    assert!(
        !report
            .trials
            .iter()
            .any(|t| t.candidate.contains("append_a_demo"))
    );
    assert_eq!(report.best_score, Some(0.0), "{report}");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_search() {
    let run = |seed: u64| async move {
        let compiled = with_lm(
            LM::new(rule_task()),
            simba()
                .seed(seed)
                .prompt_model(LM::new(rule_writer()))
                .compile(&Predict::<Capital>::new(), &capitals()),
        )
        .await
        .unwrap();
        (compiled.state().unwrap(), summary(&compiled.report))
    };
    let first = run(0).await;
    assert_eq!(first, run(0).await);
    let mut differs = false;
    for seed in 1..4 {
        differs |= run(seed).await.1 != first.1;
    }
    assert!(differs);
}

#[tokio::test]
async fn an_lm_budget_stops_simba_with_the_best_so_far() {
    // The first step's 16 sampled runs fit; scoring its new programs does not.
    let task = LM::builder(rule_task())
        .budget(Budget::new().max_calls(18))
        .build();
    let compiled = with_lm(
        task,
        simba()
            .prompt_model(LM::new(rule_writer()))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    assert!(report.stopped_by_budget);
    assert_eq!(report.trials.len(), 1, "{report}");
    assert!(
        report.trials[0]
            .error
            .as_deref()
            .unwrap()
            .contains("budget")
    );
    assert_eq!(compiled.instructions, None);
}

#[tokio::test]
async fn a_checkpoint_resumes_a_compile_stopped_by_the_budget() {
    let compile = |task: LM, checkpoint: Option<PathBuf>| async move {
        let mut simba = simba()
            .seed(1)
            .concurrency(3)
            .prompt_model(LM::new(rule_writer()));
        if let Some(path) = checkpoint {
            simba = simba.checkpoint(path);
        }
        with_lm(task, simba.compile(&Predict::<Capital>::new(), &capitals()))
            .await
            .unwrap()
    };
    let whole = compile(LM::new(rule_task()), None).await;
    assert!(!whole.report.stopped_by_budget);

    let path = temp("simba", "resume");
    std::fs::remove_file(&path).ok();
    // Enough for the first step (16 sampled runs, up to 5 new programs on 4 examples), not the
    // second.
    let limited = LM::builder(rule_task())
        .budget(Budget::new().max_calls(45))
        .build();
    let stopped = compile(limited, Some(path.clone())).await;
    assert!(stopped.report.stopped_by_budget);
    assert!(
        stopped.report.trials.iter().any(|t| t.score.is_some()),
        "a step was saved: {}",
        stopped.report
    );

    let resumed = compile(LM::new(rule_task()), Some(path.clone())).await;
    assert!(!resumed.report.stopped_by_budget);
    assert_eq!(resumed.state().unwrap(), whole.state().unwrap());
    assert_eq!(summary(&resumed.report), summary(&whole.report));
    assert!(
        resumed.report.usage.calls < whole.report.usage.calls,
        "resumed {} vs whole {}",
        resumed.report.usage.calls,
        whole.report.usage.calls
    );
    // A finished compile started again returns at once, with no call.
    let again = compile(LM::new(rule_task()), Some(path.clone())).await;
    assert_eq!(again.report.usage.calls, 0);
    assert_eq!(again.state().unwrap(), whole.state().unwrap());
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn a_rule_that_does_not_parse_is_recorded_not_fatal() {
    let garbled = DummyLm::keyed([("", json!("I would rather not answer in fields."))]);
    let compiled = with_lm(
        LM::new(rule_task()),
        simba()
            .max_demos(0)
            .max_steps(1)
            .prompt_model(LM::new(garbled))
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    let failed: Vec<_> = report.trials.iter().filter(|t| t.error.is_some()).collect();
    assert!(!failed.is_empty(), "{report}");
    assert!(failed.iter().all(|t| t.candidate.contains("append_a_rule")));
    // No rule, no new program: the baseline is all there is.
    assert_eq!(compiled.instructions, None);
    assert_eq!(
        report.best_trial().unwrap().candidate,
        "final: #0 on the training set"
    );
}
