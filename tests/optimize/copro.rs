//! COPRO on scripted LMs: the prompt model proposes several instructions, one of which (it
//! contains the magic phrase) makes the task model right; COPRO must find and keep it.

use crate::support;

use dspy::lm::Budget;
use dspy::prelude::*;
use dspy_optimize::COPRO;
use support::instruct::{MAGIC, MagicSensitive, Proposer, QA, QAInput, QAOutput, exact, qa_set};

const PROPOSALS: [&str; 3] = [
    "Answer in one word.",
    "Answer with MAGIC care.",
    "Be creative.",
];

fn copro() -> COPRO<fn(&QA, &QAOutput) -> bool> {
    COPRO::new(exact as fn(&QA, &QAOutput) -> bool)
        .breadth(4)
        .depth(2)
        .concurrency(2)
        .progress(false)
}

fn state_json<P: Parameters>(program: &P) -> String {
    program.state().unwrap().to_json().unwrap()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("dspy-copro-{}-{name}.json", std::process::id()))
}

#[tokio::test]
async fn copro_finds_the_instruction_that_makes_the_task_right() {
    let trainset = qa_set(4);
    let task = MagicSensitive::new(&trainset, 1);
    let proposer = Proposer::new(&PROPOSALS);
    let compiled = copro()
        .prompt_model(LM::new(proposer.clone()))
        .task_model(LM::new(task.clone()))
        .compile(&Predict::<QA>::new(), &trainset)
        .await
        .unwrap();

    let instructions = compiled.instructions.clone().unwrap();
    assert!(instructions.contains(MAGIC), "{instructions}");
    let report = &compiled.report;
    assert_eq!(report.best_score, Some(1.0));
    assert!(!report.stopped_by_budget);
    assert!(
        report.best_trial().unwrap().candidate.contains(MAGIC),
        "{report}"
    );
    // The original instructions scored 1 in 4 (the one lucky example).
    assert!(
        report
            .trials
            .iter()
            .any(|t| t.candidate.contains("Answer the question") && t.score == Some(0.25)),
        "{report}"
    );

    // DSPy's `track_stats`: the newest scores of each round, and the best ones.
    let stats: Vec<&str> = report
        .trials
        .iter()
        .filter(|t| t.candidate.contains(": max "))
        .map(|t| t.candidate.as_str())
        .collect();
    assert_eq!(stats.len(), 2 + 1 + 1, "{stats:?}");
    assert_eq!(
        stats[0],
        "round 1 `self` newest: max 1.000 mean 0.438 min 0.250 sd 0.325"
    );
    assert!(
        stats[3].starts_with("final `self` top 10: max 1.000"),
        "{stats:?}"
    );

    // Round 1: 3 proposals; round 2: 4 proposals shown the attempts, lowest score first.
    let prompts = proposer.prompts();
    assert_eq!(prompts.len(), 3 + 4);
    // At the initial temperature, each with its own rollout id (so no answer is a cache hit).
    let samplings = proposer.samplings();
    assert!(samplings.iter().all(|(t, _)| *t == Some(1.4)));
    let mut rollouts: Vec<u64> = samplings.iter().filter_map(|(_, r)| *r).collect();
    rollouts.sort_unstable();
    rollouts.dedup();
    assert_eq!(rollouts.len(), 7);
    let attempts = &prompts[3];
    let magic = attempts.find("Answer with MAGIC care.").unwrap();
    let original = attempts.find("Answer the question.").unwrap();
    assert!(original < magic, "the best attempt comes last:\n{attempts}");
    assert!(attempts.contains("Resulting score #4: 1.000"), "{attempts}");
    assert!(attempts.contains("Resulting score #1: 0.250"), "{attempts}");
}

/// Two predictors: a rewrite of the question, then the answer. The task model is right only
/// when the answering predictor's instructions hold the magic phrase.
#[derive(Module, Clone)]
struct TwoStage {
    rewrite: Predict<Rewrite>,
    answer: Predict<QA>,
}

/// Restate the question.
#[derive(Signature, Clone, Debug)]
struct Rewrite {
    #[input]
    question: String,
    #[output]
    question_again: String,
}

impl Module for TwoStage {
    type Input = QAInput;
    type Output = QAOutput;

    async fn call(&self, input: QAInput) -> dspy::Result<QAOutput> {
        let rewritten = self
            .rewrite
            .call(RewriteInput {
                question: input.question,
            })
            .await?;
        self.answer
            .call(QAInput {
                question: rewritten.question_again,
            })
            .await
    }
}

#[tokio::test]
async fn copro_tunes_each_predictor_of_a_pipeline_with_the_others_fixed() {
    let trainset = qa_set(4);
    let task = MagicSensitive::new(&trainset, 0);
    // The rewrite echoes the question whatever its instructions say.
    let rewrite = DummyLm::keyed(trainset.iter().map(|ex| {
        (
            ex.question.clone(),
            serde_json::json!({"question_again": ex.question}),
        )
    }));
    let mut program = TwoStage {
        rewrite: Predict::new(),
        answer: Predict::new(),
    };
    program.rewrite = program.rewrite.with_lm(LM::new(rewrite));
    let compiled = copro()
        .prompt_model(LM::new(Proposer::new(&PROPOSALS)))
        .task_model(LM::new(task))
        .compile(&program, &trainset)
        .await
        .unwrap();
    assert!(
        compiled
            .answer
            .instructions
            .as_deref()
            .unwrap()
            .contains(MAGIC)
    );
    assert_eq!(compiled.report.best_score, Some(1.0));
    // Both predictors had candidates scored.
    for name in ["`rewrite`", "`answer`"] {
        assert!(
            compiled
                .report
                .trials
                .iter()
                .any(|t| t.candidate.contains(name) && t.score.is_some()),
            "{}",
            compiled.report
        );
    }
}

#[tokio::test]
async fn copro_is_deterministic_under_a_seed() {
    let trainset = qa_set(4);
    let run = |seed: u64| {
        let trainset = trainset.clone();
        async move {
            copro()
                .seed(seed)
                .prompt_model(LM::new(Proposer::new(&PROPOSALS)))
                .task_model(LM::new(MagicSensitive::new(&trainset, 1)))
                .compile(&Predict::<QA>::new(), &trainset)
                .await
                .unwrap()
        }
    };
    let (a, b) = (run(3).await, run(3).await);
    assert_eq!(state_json(&a), state_json(&b));
    let scores = |c: &Compiled<Predict<QA>>| {
        c.report
            .trials
            .iter()
            .map(|t| (t.candidate.clone(), t.score))
            .collect::<Vec<_>>()
    };
    assert_eq!(scores(&a), scores(&b));
}

#[tokio::test]
async fn copro_stops_at_the_budget_with_the_best_so_far_and_resumes_from_a_checkpoint() {
    let trainset = qa_set(4);
    let path = temp_path("resume");
    std::fs::remove_file(&path).ok();

    // Uninterrupted, without a checkpoint.
    let full_task = MagicSensitive::new(&trainset, 1);
    let full = copro()
        .prompt_model(LM::new(Proposer::new(&PROPOSALS)))
        .task_model(LM::new(full_task.clone()))
        .compile(&Predict::<QA>::new(), &trainset)
        .await
        .unwrap();

    // Stopped by the budget after two candidates (4 calls each) and part of a third.
    let stopped_task = MagicSensitive::new(&trainset, 1);
    let budgeted = LM::builder(stopped_task.clone())
        .budget(Budget::new().max_calls(10))
        .build();
    let stopped = copro()
        .checkpoint(&path)
        .prompt_model(LM::new(Proposer::new(&PROPOSALS)))
        .task_model(budgeted)
        .compile(&Predict::<QA>::new(), &trainset)
        .await
        .unwrap();
    assert!(stopped.report.stopped_by_budget);
    assert_eq!(stopped_task.calls(), 10);
    // The best of the two candidates scored: the first proposal (0.25), then MAGIC (1.0).
    assert_eq!(stopped.report.best_score, Some(1.0));
    assert!(stopped.instructions.as_deref().unwrap().contains(MAGIC));

    // Restarted with a fresh budget: the two scored candidates are not scored again.
    let resumed_task = MagicSensitive::new(&trainset, 1);
    let resumed = copro()
        .checkpoint(&path)
        .prompt_model(LM::new(Proposer::new(&PROPOSALS)))
        .task_model(LM::new(resumed_task.clone()))
        .compile(&Predict::<QA>::new(), &trainset)
        .await
        .unwrap();
    assert!(!resumed.report.stopped_by_budget);
    assert_eq!(resumed_task.calls(), full_task.calls() - 8);
    assert_eq!(state_json(&resumed), state_json(&full));
    assert_eq!(resumed.report.best_score, full.report.best_score);
    assert_eq!(resumed.report.trials.len(), full.report.trials.len());
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn a_proposal_that_fails_to_parse_is_recorded_and_skipped() {
    let trainset = qa_set(2);
    // Every proposal call fails to parse: only the original instructions are scored.
    let prompt = LM::new(DummyLm::keyed([("", serde_json::json!("no fields here"))]));
    let compiled = copro()
        .depth(1)
        .prompt_model(prompt)
        .task_model(LM::new(MagicSensitive::new(&trainset, 1)))
        .compile(&Predict::<QA>::new(), &trainset)
        .await
        .unwrap();
    let report = &compiled.report;
    let failed = report.trials.iter().filter(|t| t.error.is_some()).count();
    assert_eq!(failed, 3, "{report}");
    assert_eq!(report.best_score, Some(0.5));
    assert_eq!(compiled.instructions, None);
}
