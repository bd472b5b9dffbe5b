//! `migrate`: the old program on the old model, the same program on the new model, and the
//! program re-compiled for the new model, compared example by example and saved a folder per
//! model, on scripted LMs whose answers are known.

use dspy::adapter::Prompt;
use dspy::evaluate::{Comparer, Comparison};
use dspy::lm::{BoxFuture, LmRequest, LmResponse};
use dspy::prelude::*;
use dspy::{Error, ProgramState};
use dspy_optimize::{Migration, migrate};
use serde_json::{Value, json};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Human,
    Number,
    Location,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input]
    question: String,
    #[output]
    label: Kind,
}

fn metric(ex: &Classify, out: &ClassifyOutput) -> bool {
    ex.label == out.label
}

fn example(question: &str, label: Kind) -> Classify {
    Classify {
        question: question.into(),
        label,
    }
}

fn trainset() -> Vec<Classify> {
    vec![
        example("Who painted Guernica ?", Kind::Human),
        example("How many legs has a spider ?", Kind::Number),
        example("Where is Timbuktu ?", Kind::Location),
    ]
}

/// Six questions, q1 to q6.
fn devset() -> Vec<Classify> {
    vec![
        example("q1 Who was Galileo ?", Kind::Human),
        example("q2 How tall is Everest ?", Kind::Number),
        example("q3 Where is Aspen ?", Kind::Location),
        example("q4 Who wrote Hamlet ?", Kind::Human),
        example("q5 How old is the sun ?", Kind::Number),
        example("q6 Where is Lima ?", Kind::Location),
    ]
}

/// Answers keyed by the question's `q<i>`: right (the gold label) for the `right` ones.
fn answers(right: &[usize]) -> DummyLm {
    let wrong = |kind: Kind| match kind {
        Kind::Human => "number",
        Kind::Number => "location",
        Kind::Location => "human",
    };
    DummyLm::keyed(devset().into_iter().enumerate().map(|(i, ex)| {
        let label = if right.contains(&(i + 1)) {
            serde_json::to_value(ex.label).unwrap()
        } else {
            json!(wrong(ex.label))
        };
        (format!("q{} ", i + 1), json!({ "label": label }))
    }))
}

/// The new model: right on q1, q2, q4, q5 and q6 when the prompt shows three demos or more,
/// else only on q1 and q4.
#[derive(Debug)]
struct NewModel {
    with_demos: DummyLm,
    without: DummyLm,
}

impl NewModel {
    fn new() -> Self {
        NewModel {
            with_demos: answers(&[1, 2, 4, 5, 6]),
            without: answers(&[1, 4]),
        }
    }
}

impl LanguageModel for NewModel {
    fn model(&self) -> &str {
        "new-model"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        let demos = match &request.prompt {
            Prompt::Chat(messages) => messages.len().saturating_sub(2) / 2,
            Prompt::Text(_) => 0,
        };
        if demos >= 3 {
            self.with_demos.complete(request)
        } else {
            self.without.complete(request)
        }
    }
}

/// The old model: right on q1, q2, q3 and q6.
fn old_model() -> DummyLm {
    answers(&[1, 2, 3, 6]).named("old-model")
}

/// The old program: one labeled demo, saved as state.
fn old_state() -> ProgramState {
    Predict::<Classify>::new()
        .with_demos([example("Who invented the telephone ?", Kind::Human)])
        .state()
        .unwrap()
}

fn questions(list: &[dspy::evaluate::PairedExample]) -> Vec<String> {
    let mut qs: Vec<String> = list
        .iter()
        .map(|p| p.example["question"].as_str().unwrap()[..2].to_string())
        .collect();
    qs.sort();
    qs
}

type Migrated = Migration<Classify, ClassifyOutput, Predict<Classify>>;

async fn run_migration(old: DummyLm) -> Migrated {
    let program = Predict::<Classify>::new();
    migrate(&program, metric)
        .progress(false)
        .from_state(LM::new(old), old_state())
        .unwrap()
        .to(LM::new(NewModel::new()), LabeledFewShot::new(3))
        .run(&trainset(), &devset())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_three_runs_and_what_each_fixed_and_regressed() {
    let old = old_model();
    let migration = run_migration(old.clone()).await;
    // The old model ran only the baseline: one call per dev example.
    assert_eq!(old.requests().len(), 6);

    assert_eq!(migration.old.model, "old-model");
    assert_eq!(migration.recompiled.model, "new-model");
    assert_eq!(migration.old.report.score, 4.0 / 6.0);
    assert_eq!(migration.swap.report.score, 2.0 / 6.0);
    assert_eq!(migration.recompiled.report.score, 5.0 / 6.0);

    let swap = &migration.swap_vs_old;
    assert_eq!(questions(&swap.fixed), ["q4"]);
    assert_eq!(questions(&swap.regressed), ["q2", "q3", "q6"]);
    assert_eq!(swap.delta, -2.0 / 6.0);
    assert_eq!(swap.a.name, "old-model");
    assert_eq!(swap.b.name, "new-model (old program)");
    let mcnemar = swap.mcnemar.as_ref().unwrap();
    assert_eq!((mcnemar.fixed, mcnemar.regressed), (1, 3));

    let recompiled = &migration.recompiled_vs_old;
    assert_eq!(questions(&recompiled.fixed), ["q4", "q5"]);
    assert_eq!(questions(&recompiled.regressed), ["q3"]);
    assert_eq!(recompiled.unchanged.len(), 3);
    assert!(
        recompiled.interval.low <= recompiled.delta && recompiled.delta <= recompiled.interval.high
    );

    let gain = migration.recompiled_vs_swap().unwrap();
    assert_eq!(questions(&gain.fixed), ["q2", "q5", "q6"]);
    assert!(gain.regressed.is_empty());

    // The re-compiled program, its report, and what each run ran.
    assert_eq!(migration.compiled.report.optimizer, "LabeledFewShot");
    assert_eq!(migration.compiled.demos.len(), 3);
    assert_eq!(migration.old.state, old_state());
    assert_eq!(migration.swap.state, old_state());
    assert_eq!(
        migration.recompiled.state,
        migration.compiled.state().unwrap()
    );
    let table = migration.to_string();
    assert!(table.contains("old-model (baseline)"), "{table}");
    assert!(
        table.contains("new-model running the old program"),
        "{table}"
    );
    let recompiled_row = table
        .lines()
        .find(|l| l.starts_with("new-model re-compiled"))
        .unwrap();
    assert!(
        recompiled_row.contains("83.3%") && recompiled_row.contains("+16.7 ["),
        "{table}"
    );
}

#[tokio::test]
async fn a_migration_writes_a_folder_per_model_that_loads_back() {
    let migration = run_migration(old_model()).await;
    let dir = std::env::temp_dir().join(format!("dspy-migrate-{}", std::process::id()));
    migration.write(&dir).unwrap();

    let old = dir.join("old-model");
    let new = dir.join("new-model");
    let swap = new.join("old-program");
    for folder in [&old, &new, &swap] {
        for file in ["program.json", "report.json", "report.html", "prompts.md"] {
            assert!(
                folder.join(file).is_file(),
                "{}",
                folder.join(file).display()
            );
        }
    }
    for file in [
        new.join("compile.json"),
        new.join("compile.html"),
        dir.join("naive-swap.html"),
        dir.join("recompiled.html"),
    ] {
        assert!(file.is_file(), "{}", file.display());
    }
    let page = std::fs::read_to_string(new.join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("new-model, re-compiled for it"));

    // The programs load into a fresh one as they were run.
    let mut loaded = Predict::<Classify>::new();
    loaded.load(old.join("program.json")).unwrap();
    assert_eq!(loaded.state().unwrap(), old_state());
    loaded.load(new.join("program.json")).unwrap();
    assert_eq!(loaded.state().unwrap(), migration.compiled.state().unwrap());

    // The comparisons read back, and the saved reports pair up into the same comparison.
    let read = Comparison::read_json(dir.join("naive-swap.json")).unwrap();
    assert_eq!(read, migration.swap_vs_old);
    let json = |path: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let again = Comparer::new()
        .class_field("label")
        .run_json(
            &json(&old.join("report.json")),
            &json(&new.join("report.json")),
        )
        .unwrap();
    assert_eq!(questions(&again.fixed), ["q4", "q5"]);
    assert_eq!(questions(&again.regressed), ["q3"]);
    let compile: CompileReport =
        serde_json::from_str(&std::fs::read_to_string(new.join("compile.json")).unwrap()).unwrap();
    assert_eq!(compile, migration.compiled.report);

    // Each folder's prompts are what that model was sent: the old demo, then the new ones.
    let prompts = |folder: &Path| std::fs::read_to_string(folder.join("prompts.md")).unwrap();
    assert!(prompts(&old).contains("Who invented the telephone ?"));
    assert!(prompts(&swap).contains("Who invented the telephone ?"));
    let recompiled = prompts(&new);
    assert!(recompiled.contains("Where is Timbuktu ?") && !recompiled.contains("telephone"));
    assert!(recompiled.contains("with `new-model`"), "{recompiled}");
    assert_eq!(
        std::fs::read_to_string(dir.join("summary.txt")).unwrap(),
        migration.to_string()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn two_models_of_one_name_must_be_named_apart() {
    let program = Predict::<Classify>::new();
    let same = || LM::new(DummyLm::keyed([("", json!({"label": "human"}))]));
    let unnamed = migrate(&program, metric)
        .progress(false)
        .from(same(), program.clone())
        .to(same(), LabeledFewShot::new(1))
        .run(&trainset(), &devset())
        .await;
    assert!(
        matches!(&unnamed, Err(Error::Config(m)) if m.contains(".names(old, new)")),
        "{unnamed:?}"
    );
    let named = migrate(&program, metric)
        .progress(false)
        .names("before", "after")
        .from(same(), program.clone())
        .to(same(), LabeledFewShot::new(1))
        .run(&trainset(), &devset())
        .await
        .unwrap();
    assert_eq!(named.old.model, "before");
    assert_eq!(named.recompiled_vs_old.b.name, "after (re-compiled)");
    // Every human question right, every other one wrong, in every run.
    assert_eq!(named.old.report.score, 2.0 / 6.0);
    assert!(named.swap_vs_old.fixed.is_empty() && named.swap_vs_old.regressed.is_empty());
}
