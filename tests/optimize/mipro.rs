//! MIPROv2 on scripted LMs: the prompt model proposes several instructions, one of which (it
//! contains the magic phrase) makes the task model right; the search must find and keep it.

use crate::support;

use dspy::lm::Budget;
use dspy::prelude::*;
use dspy_optimize::{Auto, MIPROv2};
use support::instruct::{MAGIC, MagicSensitive, Proposer, QA, QAOutput, exact, qa_set};

const PROPOSALS: [&str; 3] = [
    "Answer in one word.",
    "Answer with MAGIC care.",
    "Be creative.",
];

/// 6 training and 6 validation examples; the task model is right on the first training
/// example whatever its instructions, on the rest only under the magic phrase.
fn task() -> (Vec<QA>, Vec<QA>, MagicSensitive) {
    let all = qa_set(12);
    let model = MagicSensitive::new(&all, 1);
    (all[..6].to_vec(), all[6..].to_vec(), model)
}

fn mipro() -> MIPROv2<fn(&QA, &QAOutput) -> bool> {
    MIPROv2::new(exact as fn(&QA, &QAOutput) -> bool)
        .num_candidates(4)
        .num_trials(16)
        .concurrency(1)
        .progress(false)
}

fn state_json<P: Parameters>(program: &P) -> String {
    program.state().unwrap().to_json().unwrap()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("dspy-mipro-{}-{name}.json", std::process::id()))
}

fn trial_scores<P>(compiled: &Compiled<P>) -> Vec<(String, Option<f64>)> {
    compiled
        .report
        .trials
        .iter()
        .map(|t| (t.candidate.clone(), t.score))
        .collect()
}

#[tokio::test]
async fn mipro_finds_the_instruction_that_makes_the_task_right() {
    let (trainset, valset, model) = task();
    let proposer = Proposer::sequential(&PROPOSALS);
    let compiled = mipro()
        .prompt_model(LM::new(proposer.clone()))
        .task_model(LM::new(model))
        .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset)
        .await
        .unwrap();

    let instructions = compiled.instructions.clone().unwrap();
    assert!(instructions.contains(MAGIC), "{}", compiled.report);
    let report = &compiled.report;
    assert_eq!(report.best_score, Some(1.0));
    assert!(!report.stopped_by_budget);
    // The program as given scored 0 on the validation set.
    let default = report
        .trials
        .iter()
        .find(|t| t.candidate == "default program (full)")
        .unwrap();
    assert_eq!(default.score, Some(0.0));
    // 4 demo sets, 16 search trials, and the winner is a search trial naming its instruction.
    let sets = report
        .trials
        .iter()
        .filter(|t| t.candidate.starts_with("demo set"))
        .count();
    assert_eq!(sets, 4);
    let searched = report
        .trials
        .iter()
        .filter(|t| t.candidate.starts_with("trial "))
        .count();
    assert_eq!(searched, 16);
    assert!(
        report.best_trial().unwrap().candidate.contains("MAGIC"),
        "{report}"
    );

    // The proposer was grounded: data summary (2 calls), program and predictor descriptions
    // (2 calls), then 3 proposals, each told the summary, the descriptions and the predictor.
    let prompts = proposer.prompts();
    assert_eq!(prompts.len(), 2 + 2 + 3, "{prompts:#?}");
    assert!(
        prompts[0].contains("\"question\":\"q0?\""),
        "{}",
        prompts[0]
    );
    for proposal in &prompts[4..] {
        assert!(
            proposal.contains("A dataset of short questions"),
            "{proposal}"
        );
        assert!(proposal.contains("It answers questions."), "{proposal}");
        assert!(proposal.contains("It writes the answer."), "{proposal}");
        assert!(
            proposal.contains("self: Predict(question) -> answer"),
            "{proposal}"
        );
        assert!(proposal.contains("Answer the question."), "{proposal}");
    }
    // Proposals are fresh samples at the initial temperature, the descriptions at 1.0.
    let samplings = proposer.samplings();
    assert!(samplings.iter().all(|(t, _)| *t == Some(1.0)));
    assert!(samplings[..4].iter().all(|(_, rollout)| rollout.is_none()));
    let rollouts: Vec<u64> = samplings[4..].iter().filter_map(|(_, r)| *r).collect();
    assert_eq!(rollouts.len(), 3);
    assert!(rollouts[0] != rollouts[1] && rollouts[1] != rollouts[2]);
    // Proposals for bootstrapped demo sets see the demo that passed (q0, answered a0).
    assert!(
        prompts[4..]
            .iter()
            .any(|p| p.contains("question: q0?\nanswer: a0"))
    );
}

#[tokio::test]
async fn without_grounding_only_proposals_are_asked() {
    let (trainset, valset, model) = task();
    let proposer = Proposer::sequential(&PROPOSALS);
    let compiled = mipro()
        .data_aware(false)
        .program_aware(false)
        .fewshot_aware(false)
        .tip_aware(false)
        .prompt_model(LM::new(proposer.clone()))
        .task_model(LM::new(model))
        .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset)
        .await
        .unwrap();
    let prompts = proposer.prompts();
    assert_eq!(prompts.len(), 3);
    assert!(
        prompts
            .iter()
            .all(|p| p.contains("No task demos provided."))
    );
    assert!(prompts.iter().all(|p| p.contains("No particular tip.")));
    assert_eq!(compiled.report.best_score, Some(1.0));
}

#[tokio::test]
async fn zero_shot_mipro_searches_instructions_only() {
    let (trainset, valset, model) = task();
    let compiled = mipro()
        .max_bootstrapped_demos(0)
        .max_labeled_demos(0)
        .prompt_model(LM::new(Proposer::sequential(&PROPOSALS)))
        .task_model(LM::new(model))
        .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset)
        .await
        .unwrap();
    assert!(compiled.instructions.as_deref().unwrap().contains(MAGIC));
    assert!(compiled.demos.is_empty());
    assert!(
        compiled
            .report
            .trials
            .iter()
            .filter(|t| t.candidate.starts_with("trial "))
            .all(|t| !t.candidate.contains("demos")),
        "{}",
        compiled.report
    );
}

#[tokio::test]
async fn minibatches_with_periodic_full_evaluations() {
    let all = qa_set(46);
    let (trainset, valset) = (all[..6].to_vec(), all[6..].to_vec());
    let compiled = mipro()
        .num_trials(7)
        .minibatch_size(5)
        .minibatch_full_eval_steps(3)
        .prompt_model(LM::new(Proposer::sequential(&PROPOSALS)))
        .task_model(LM::new(MagicSensitive::new(&all, 1)))
        .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset)
        .await
        .unwrap();
    let report = &compiled.report;
    let minibatches: Vec<_> = report
        .trials
        .iter()
        .filter(|t| t.candidate.contains("(minibatch of 5)"))
        .collect();
    assert_eq!(minibatches.len(), 7);
    assert!(minibatches.iter().all(|t| t.lm_calls == 5));
    // DSPy's schedule: after trials 3 and 6, and after the last.
    let full: Vec<usize> = report
        .trials
        .iter()
        .enumerate()
        .filter(|(_, t)| t.candidate.starts_with("full evaluation"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(full.len(), 3, "{report}");
    assert!(report.trials[full[0] - 1].candidate.starts_with("trial 3 "));
    assert!(report.trials[full[1] - 1].candidate.starts_with("trial 6 "));
    assert!(report.trials[full[2] - 1].candidate.starts_with("trial 7 "));
    assert!(report.trials[full[0]].lm_calls == 40);
    // The program returned was scored on the whole validation set.
    assert!(
        report
            .best_trial()
            .unwrap()
            .candidate
            .starts_with("full evaluation")
    );
    assert_eq!(report.best_score, report.best_trial().unwrap().score);
}

#[tokio::test]
async fn mipro_is_deterministic_under_a_seed() {
    let run = |seed: u64| async move {
        let (trainset, valset, model) = task();
        mipro()
            .seed(seed)
            .prompt_model(LM::new(Proposer::sequential(&PROPOSALS)))
            .task_model(LM::new(model))
            .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset)
            .await
            .unwrap()
    };
    let (a, b, c) = (run(5).await, run(5).await, run(6).await);
    assert_eq!(state_json(&a), state_json(&b));
    assert_eq!(trial_scores(&a), trial_scores(&b));
    assert_ne!(trial_scores(&a), trial_scores(&c));
}

#[tokio::test]
async fn mipro_stops_at_the_budget_and_resumes_from_a_checkpoint() {
    let path = temp_path("resume");
    std::fs::remove_file(&path).ok();
    let compile = |model: LM, checkpoint: bool| async move {
        let (trainset, valset, _) = task();
        let mut mipro = mipro()
            .prompt_model(LM::new(Proposer::sequential(&PROPOSALS)))
            .task_model(model);
        if checkpoint {
            mipro = mipro.checkpoint(temp_path("resume"));
        }
        mipro
            .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset)
            .await
            .unwrap()
    };

    let (_, _, full_model) = task();
    let full = compile(LM::new(full_model.clone()), false).await;

    // Demo sets and the default program cost about 20 calls; 40 stop it among the trials.
    let (_, _, stopped_model) = task();
    let budgeted = LM::builder(stopped_model.clone())
        .budget(Budget::new().max_calls(40))
        .build();
    let stopped = compile(budgeted, true).await;
    assert!(stopped.report.stopped_by_budget);
    assert_eq!(stopped_model.calls(), 40);
    assert!(stopped.report.trials.len() < full.report.trials.len());

    let (_, _, resumed_model) = task();
    let resumed = compile(LM::new(resumed_model.clone()), true).await;
    assert!(!resumed.report.stopped_by_budget);
    assert!(resumed_model.calls() < full_model.calls());
    // Only the trial the budget cut short (4 of its 6 calls made) is run again.
    assert_eq!(resumed_model.calls(), full_model.calls() - 40 + 4);
    assert_eq!(state_json(&resumed), state_json(&full));
    assert_eq!(trial_scores(&resumed), trial_scores(&full));
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn mipro_killed_while_bootstrapping_redoes_only_the_examples_it_had_not_finished() {
    let path = temp_path("resume-demos");
    let compile = |model: LM, checkpoint: bool| async move {
        let (trainset, valset, _) = task();
        let mut mipro = mipro()
            .prompt_model(LM::new(Proposer::sequential(&PROPOSALS)))
            .task_model(model);
        if checkpoint {
            mipro = mipro.checkpoint(temp_path("resume-demos"));
        }
        mipro
            .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset)
            .await
            .unwrap()
    };
    let (_, _, full_model) = task();
    let full = compile(LM::new(full_model.clone()), false).await;
    // The last demo set is bootstrapped with calls, one per training example (one round).
    let sets: Vec<&dspy_optimize::Trial> = full
        .report
        .trials
        .iter()
        .take_while(|t| t.candidate.starts_with("demo set"))
        .collect();
    assert_eq!(sets.len(), 4);
    assert!(sets[3].lm_calls > 3, "{}", full.report);
    let before = sets[..3].iter().map(|t| t.lm_calls as usize).sum::<usize>();

    // The budget runs out `into` calls into the last set: its first `into` examples finished.
    for into in [1, 3] {
        std::fs::remove_file(&path).ok();
        let (_, _, stopped_model) = task();
        let budgeted = LM::builder(stopped_model.clone())
            .budget(Budget::new().max_calls((before + into) as u64))
            .build();
        let stopped = compile(budgeted, true).await;
        assert!(stopped.report.stopped_by_budget);
        assert_eq!(stopped.report.trials.len(), 4, "{}", stopped.report);

        // Resumed: the three sets built and the examples finished are taken from the
        // checkpoint; the same program and trials come out.
        let (_, _, resumed_model) = task();
        let resumed = compile(LM::new(resumed_model.clone()), true).await;
        assert_eq!(resumed_model.calls(), full_model.calls() - before - into);
        assert_eq!(state_json(&resumed), state_json(&full));
        assert_eq!(trial_scores(&resumed), trial_scores(&full));
    }
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn without_a_valset_the_last_80_percent_validate() {
    let all = qa_set(10);
    let compiled = mipro()
        .num_trials(2)
        .prompt_model(LM::new(Proposer::sequential(&PROPOSALS)))
        .task_model(LM::new(MagicSensitive::new(&all, 1)))
        .compile(&Predict::<QA>::new(), &all)
        .await
        .unwrap();
    // The default program is scored on 8 examples.
    let default = &compiled
        .report
        .trials
        .iter()
        .find(|t| t.candidate == "default program (full)")
        .unwrap();
    assert_eq!(default.lm_calls, 8);
    let err = mipro()
        .compile(&Predict::<QA>::new(), &all[..1])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least 2"), "{err}");
    let err = MIPROv2::new(exact as fn(&QA, &QAOutput) -> bool)
        .auto(Auto::Light)
        .num_trials(3)
        .compile(&Predict::<QA>::new(), &all)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("num_candidates"), "{err}");
}
