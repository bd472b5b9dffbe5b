//! The weights knob on the three-stage TREC program of `pipeline.rs`: BootstrapFinetune trains
//! each stage on exactly the calls of the runs that pass, rendered as the stage prompts at
//! inference; the cache trains nothing twice; a saved program names its weights and refuses to
//! run without them; BetterTogether runs its strategy in order and keeps the best program.

use super::pipeline::{
    CoarseInput, Trec, TrecInput, TrecOutput, TrecPipeline, metric, oracle, trec,
};
use crate::support::fixtures::TempDir;
use dspy::adapter::{Prompt, Role};
use dspy::lm::{BoxFuture, DummyFinetuner, FinetunedModel, LmRequest, LmResponse, WeightsFile};
use dspy::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;

/// `L` under another model name: the fine-tuned model, told apart from the base.
#[derive(Debug)]
struct Named<L>(&'static str, L);

impl<L: LanguageModel> LanguageModel for Named<L> {
    fn model(&self) -> &str {
        self.0
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        self.1.complete(request)
    }
}

/// The base model gets the fine stage of `wrong` wrong; the fine-tuned one gets every stage
/// right.
fn models(trainset: &[Trec], wrong: &[usize]) -> (LM, LM) {
    let base = LM::new(oracle(trainset, wrong));
    let tuned = LM::new(Named("scripted-ft", oracle(trainset, &[])));
    (base, tuned)
}

fn finetune(finetuner: &Arc<DummyFinetuner>, dir: &TempDir) -> BootstrapFinetune<Metric> {
    let finetuner: Arc<dyn Finetuner> = finetuner.clone();
    BootstrapFinetune::new(metric as Metric, finetuner)
        .cache_dir(dir.path())
        .progress(false)
}

/// The question of a training prompt: the last `question` section of its text.
fn question_of(prompt: &Prompt) -> String {
    let text = prompt.to_text();
    let marker = "[[ ## question ## ]]\n";
    let rest = &text[text.rfind(marker).unwrap() + marker.len()..];
    rest.split("\n\n").next().unwrap().to_string()
}

/// The user turns of a chat prompt: one per demo, and the input's.
fn user_turns(prompt: &Prompt) -> usize {
    match prompt {
        Prompt::Chat(messages) => messages.iter().filter(|m| m.role == Role::User).count(),
        Prompt::Text(_) => 0,
    }
}

#[tokio::test]
async fn every_stage_is_trained_on_exactly_the_runs_that_pass_as_it_is_prompted() {
    let trainset = trec(12);
    let (base, tuned) = models(&trainset, &[1, 3]);
    let finetuner = Arc::new(DummyFinetuner::new(tuned));
    let dir = TempDir::new("bootstrap-finetune");
    let student = TrecPipeline::new();
    let compiled = with_lm(
        base.clone(),
        finetune(&finetuner, &dir).compile(&student, &trainset),
    )
    .await
    .unwrap();

    // One multi-task run: the three stages share the base model.
    let runs = finetuner.trained();
    assert_eq!(runs.len(), 1);
    let data = &runs[0];
    assert_eq!(
        data.predictors().collect::<Vec<_>>(),
        ["coarse", "fine.predict", "shortlist"]
    );
    // Runs 1 and 3 failed the metric: none of their calls is trained on.
    let passed: BTreeSet<String> = trainset
        .iter()
        .enumerate()
        .filter(|(i, _)| ![1, 3].contains(i))
        .map(|(_, e)| e.question.clone())
        .collect();
    for stage in ["coarse", "fine.predict", "shortlist"] {
        let questions: BTreeSet<String> = data
            .examples(stage)
            .iter()
            .map(|e| question_of(&e.prompt))
            .collect();
        assert_eq!(questions, passed, "{stage}");
    }
    // Each example is what the stage sends at inference for that question, answered right.
    for example in data.examples("coarse") {
        let question = question_of(&example.prompt);
        let input = CoarseInput {
            question: question.clone(),
        };
        let rendered = with_lm(base.clone(), async { student.coarse.render(&input) })
            .await
            .unwrap();
        assert_eq!(example.prompt, rendered.prompt);
        let gold = trainset.iter().find(|e| e.question == question).unwrap();
        let label = serde_json::to_value(gold.label).unwrap();
        assert!(
            example
                .completion
                .starts_with(&format!("[[ ## label ## ]]\n{}", label.as_str().unwrap())),
            "{}",
            example.completion
        );
    }

    // Every stage now runs on the fine-tuned model, and records its weights.
    let program = &compiled.program;
    for (name, predictor) in program.predictors() {
        assert_eq!(predictor.lm().unwrap().model(), "scripted-ft", "{name}");
        let weights = predictor.weights().unwrap();
        assert_eq!(weights.backend, "dummy");
        assert_eq!(weights.base_model, "scripted-ft");
    }
    let trials: Vec<&str> = compiled
        .report
        .trials
        .iter()
        .map(|t| t.candidate.as_str())
        .collect();
    assert_eq!(trials[0], "teacher on 12 training examples");
    assert!(
        trials[1]
            .starts_with("fine-tune on `scripted`: 30 examples of coarse, fine.predict, shortlist"),
        "{}",
        trials[1]
    );
    assert_eq!(compiled.report.trials[0].score, Some(10.0 / 12.0));
    assert!(compiled.report.warnings.is_empty());

    // The same traces again: taken from the cache, nothing trains.
    let again = with_lm(
        base,
        finetune(&finetuner, &dir).compile(&student, &trainset),
    )
    .await
    .unwrap();
    assert_eq!(finetuner.runs(), 1);
    assert!(
        again.report.trials[1]
            .candidate
            .ends_with(", from the cache")
    );
    assert_eq!(
        again.program.coarse.weights(),
        compiled.program.coarse.weights()
    );
}

#[tokio::test]
async fn demos_are_in_the_training_prompts_unless_excluded_and_stages_train_apart_when_asked() {
    let trainset = trec(12);
    let (base, tuned) = models(&trainset, &[]);
    let student = LabeledFewShot::new(3)
        .compile(&TrecPipeline::new(), &trainset)
        .await
        .unwrap()
        .program;
    let demo_question = &student.coarse.demos[0].fields().unwrap()["question"];
    let demo_question = demo_question.as_str().unwrap().to_string();
    let dir = TempDir::new("finetune-demos");
    let finetuner = Arc::new(DummyFinetuner::new(tuned));

    let kept = with_lm(
        base.clone(),
        finetune(&finetuner, &dir).compile(&student, &trainset),
    )
    .await
    .unwrap();
    let with_demos = &finetuner.trained()[0];
    let prompt = with_demos.examples("coarse")[0].prompt.to_text();
    assert!(prompt.contains(&demo_question), "{prompt}");
    assert_eq!(kept.program.coarse.demos.len(), 3);

    let apart = finetune(&finetuner, &dir)
        .exclude_demos(true)
        .multitask(false);
    let excluded = with_lm(base, apart.compile(&student, &trainset))
        .await
        .unwrap();
    let runs = finetuner.trained();
    // One run per stage, each with only its own calls, none with a demo in its prompt.
    assert_eq!(runs.len(), 4);
    for run in &runs[1..] {
        assert_eq!(run.predictors().count(), 1);
        for (_, example) in run.iter() {
            assert_eq!(user_turns(&example.prompt), 1, "{:?}", example.prompt);
        }
    }
    assert!(excluded.program.coarse.demos.is_empty());
    let models: BTreeSet<String> = excluded
        .program
        .predictors()
        .iter()
        .map(|(_, p)| p.weights().unwrap().key.clone())
        .collect();
    assert_eq!(models.len(), 3, "three runs, three models");
}

#[tokio::test]
async fn a_saved_program_names_its_weights_and_runs_only_on_them() {
    let trainset = trec(12);
    let (base, tuned) = models(&trainset, &[1]);
    let finetuner = Arc::new(DummyFinetuner::new(tuned));
    let dir = TempDir::new("finetune-saved");
    let compiled = with_lm(
        base.clone(),
        finetune(&finetuner, &dir).compile(&TrecPipeline::new(), &trainset),
    )
    .await
    .unwrap();
    let path = dir.path().join("program.json");
    compiled.program.save(&path).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 4);
    assert_eq!(saved["predictors"]["coarse"]["weights"]["backend"], "dummy");

    // Loaded elsewhere, a stage never falls back to the configured base model.
    let mut loaded = TrecPipeline::new().with_lm(base.clone());
    loaded.load(&path).unwrap();
    let input = TrecInput {
        question: trainset[0].question.clone(),
    };
    let err = with_lm(base.clone(), loaded.call(input.clone()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("load_weights(&finetuner)"),
        "{err}"
    );
    assert_eq!(loaded.load_weights(&*finetuner).unwrap(), 3);
    let out = with_lm(base.clone(), loaded.call(input)).await.unwrap();
    assert_eq!(out.fine_label, trainset[0].fine_label);
    assert_eq!(loaded.coarse.lm().unwrap().model(), "scripted-ft");

    // A program whose weight file is gone is refused on load, saying how to rebuild it.
    let weights = dir.path().join("adapter.gguf");
    std::fs::write(&weights, b"lora").unwrap();
    let mut program = TrecPipeline::new();
    let model = FinetunedModel::new("k", "dummy", "base", "base-ft")
        .file(WeightsFile::hash(&weights).unwrap());
    program.coarse.set_weights(Some(model));
    program.save(&path).unwrap();
    std::fs::remove_file(&weights).unwrap();
    let err = TrecPipeline::new().load(&path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, dspy::Error::State(_)), "{message}");
    assert!(message.contains("predictor `coarse`"), "{message}");
    assert!(message.contains("adapter.gguf"), "{message}");
    assert!(message.contains("BootstrapFinetune"), "{message}");
}

type Metric = fn(&Trec, &TrecOutput) -> bool;

fn together(
    finetuner: &Arc<DummyFinetuner>,
    dir: &TempDir,
) -> BetterTogether<Metric, LabeledFewShot, BootstrapFinetune<Metric>> {
    BetterTogether::new(
        metric as Metric,
        LabeledFewShot::new(2),
        finetune(finetuner, dir),
    )
    .progress(false)
}

#[tokio::test]
async fn better_together_runs_its_strategy_in_order_and_keeps_the_best() {
    let trainset = trec(12);
    let (base, tuned) = models(&trainset, &[1, 3]);
    let finetuner = Arc::new(DummyFinetuner::new(tuned));
    let dir = TempDir::new("better-together");
    let valset = &trainset[..6];
    let compiled = with_lm(
        base,
        together(&finetuner, &dir).compile_with_valset(&TrecPipeline::new(), &trainset, valset),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    let steps: Vec<(&str, Option<f64>)> = report
        .trials
        .iter()
        .map(|t| (t.candidate.as_str(), t.score))
        .collect();
    // The base model misses 2 of the 6; the fine-tuned one none; the last `p` ties `p -> w`.
    assert_eq!(
        steps,
        [
            ("baseline", Some(4.0 / 6.0)),
            ("p", Some(4.0 / 6.0)),
            ("p -> w", Some(1.0)),
            ("p -> w -> p", Some(1.0)),
        ]
    );
    assert_eq!(report.best, Some(2));
    assert_eq!(report.best_score, Some(1.0));
    // `w` ran after `p`: its training prompts hold the demos `p` gave.
    let data = &finetuner.trained()[0];
    let prompt = &data.examples("coarse")[0].prompt;
    assert_eq!(
        user_turns(prompt),
        3,
        "two demos, then the question: {prompt:?}"
    );
    assert_eq!(compiled.program.coarse.lm().unwrap().model(), "scripted-ft");
    assert_eq!(compiled.program.coarse.demos.len(), 2);

    let Err(err) = together(&finetuner, &dir)
        .strategy("p -> q")
        .compile(&TrecPipeline::new(), &trainset)
        .await
    else {
        panic!("a strategy with an unknown step compiled");
    };
    assert!(err.to_string().contains("the step `q`"), "{err}");
}

#[tokio::test]
async fn a_failed_fine_tuning_job_ends_better_together_with_the_best_so_far() {
    let trainset = trec(12);
    let (base, tuned) = models(&trainset, &[1]);
    let finetuner = Arc::new(DummyFinetuner::new(tuned).fail_with("quota exceeded"));
    let dir = TempDir::new("better-together-failed");
    let compiled = with_lm(
        base,
        together(&finetuner, &dir).compile_with_valset(
            &TrecPipeline::new(),
            &trainset,
            &trainset[..4],
        ),
    )
    .await
    .unwrap();
    let trials = &compiled.report.trials;
    assert_eq!(
        trials.len(),
        3,
        "baseline, p, the failed w; the last p never ran"
    );
    assert_eq!(trials[2].candidate, "p -> w");
    assert!(
        trials[2]
            .error
            .as_deref()
            .unwrap()
            .contains("quota exceeded")
    );
    assert_eq!(compiled.report.best, Some(0));
    assert!(compiled.program.coarse.weights().is_none());
}
