//! Where demos came from, on TREC questions: every optimizer that sets demos records each
//! one's training example (by the id evaluation reports pair examples by), labeled or
//! bootstrapped (and in which round), and the trial that chose it with its score; saving and
//! loading keeps all of it, and the report's trials list the examples of their demos.

use dspy::evaluate::{Comparer, Evaluate};
use dspy::lm::{BoxFuture, LmRequest, LmResponse};
use dspy::module::{DemoSource, Provenance, example_id};
use dspy::prelude::*;
use dspy::{DummyLm, LM, ProgramState, with_lm};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;

/// The TREC coarse classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: Kind,
}

/// The first `n` TREC training questions.
fn trec(n: usize) -> Vec<Classify> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/trec/train.jsonl"
    );
    let all: Vec<Classify> = dspy::data::load_jsonl(path).unwrap();
    all.into_iter().take(n).collect()
}

/// Answers every question with its gold label, except every third, which it gets wrong.
fn task(examples: &[Classify]) -> LM {
    let answers = examples.iter().enumerate().map(|(i, ex)| {
        let label = if i % 3 == 2 {
            wrong(ex.label)
        } else {
            ex.label
        };
        (ex.question.clone(), json!({ "label": label }))
    });
    LM::new(DummyLm::keyed(answers))
}

/// A task model that answers better with more demos: right about the question asked (the
/// known question last in the prompt) when a hash of the prompt falls under the number of
/// label markers in it, so every candidate's demos change its score, and more demos help.
#[derive(Debug)]
struct DemoHungry(HashMap<String, Kind>);

impl DemoHungry {
    fn lm(examples: &[Classify]) -> LM {
        let labels = examples.iter().map(|e| (e.question.clone(), e.label));
        LM::new(DemoHungry(labels.collect()))
    }
}

impl LanguageModel for DemoHungry {
    fn model(&self) -> &str {
        "demo-hungry"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        let text = request.prompt.to_text();
        let gold = self
            .0
            .iter()
            .filter_map(|(q, label)| text.rfind(q.as_str()).map(|at| (at, *label)))
            .max_by_key(|(at, _)| *at)
            .map_or(Kind::Entity, |(_, label)| label);
        let markers = text.matches("[[ ## label ## ]]").count() as u64;
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let label = if hash % 8 < markers {
            gold
        } else {
            wrong(gold)
        };
        Box::pin(async move {
            DummyLm::new([json!({ "label": label })])
                .complete(request)
                .await
        })
    }
}

fn wrong(kind: Kind) -> Kind {
    if kind == Kind::Entity {
        Kind::Human
    } else {
        Kind::Entity
    }
}

fn metric(ex: &Classify, out: &ClassifyOutput) -> bool {
    ex.label == out.label
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "dspy-provenance-{}-{name}.json",
        std::process::id()
    ))
}

/// The ids of the examples, by id.
fn by_id(examples: &[Classify]) -> HashMap<String, &Classify> {
    examples
        .iter()
        .map(|ex| (example_id(&serde_json::to_value(ex).unwrap()), ex))
        .collect()
}

fn provenances(program: &Predict<Classify>) -> Vec<Provenance> {
    program
        .demos
        .iter()
        .map(|d| {
            d.provenance()
                .expect("every demo an optimizer set has provenance")
                .clone()
        })
        .collect()
}

/// `program` saved and loaded into a fresh predictor: the demos' provenance as loaded.
fn reloaded(program: &Predict<Classify>, name: &str) -> Predict<Classify> {
    let path = temp(name);
    program.save(&path).unwrap();
    let mut loaded = Predict::<Classify>::new();
    let report = loaded.load_with_report(&path).unwrap();
    assert!(report.is_clean(), "{report}");
    std::fs::remove_file(&path).ok();
    loaded
}

#[tokio::test]
async fn labeled_demos_name_their_examples_through_save_and_load() {
    let train = trec(60);
    let compiled = LabeledFewShot::new(8)
        .compile(&Predict::<Classify>::new(), &train)
        .await
        .unwrap();
    let ids = by_id(&train);
    let provenance = provenances(&compiled);
    assert_eq!(provenance.len(), 8);
    for (demo, p) in compiled.demos.iter().zip(&provenance) {
        assert_eq!(p.source, DemoSource::Labeled);
        assert_eq!((p.round, &p.chosen_by), (None, &None));
        let example = ids[&p.example];
        assert_eq!(demo.example().unwrap().question, example.question, "{p}");
    }
    // The report's trial lists the same examples, in prompt order.
    let listed: Vec<String> = provenance.iter().map(|p| p.example.clone()).collect();
    assert_eq!(compiled.report.trials[0].demos["self"], listed);

    let loaded = reloaded(&compiled, "labeled");
    assert_eq!(provenances(&loaded), provenance);
    assert_eq!(loaded.state().unwrap(), compiled.state().unwrap());
}

#[tokio::test]
async fn the_ids_are_the_ones_evaluation_reports_pair_examples_by() {
    let train = trec(30);
    let compiled = LabeledFewShot::new(6)
        .compile(&Predict::<Classify>::new(), &train)
        .await
        .unwrap();
    let eval = Evaluate::new(metric).progress(false);
    let program = Predict::<Classify>::new();
    let (a, b) = with_lm(task(&train), async {
        (
            eval.run(&program, &train).await.unwrap(),
            eval.run(&program, &train).await.unwrap(),
        )
    })
    .await;
    let comparison = Comparer::new().run(&a, &b).unwrap();
    let paired: Vec<&str> = comparison.unchanged.iter().map(|p| p.id.as_str()).collect();
    for p in provenances(&compiled) {
        assert!(paired.contains(&p.example.as_str()), "{p}");
    }
}

#[tokio::test]
async fn a_field_can_name_the_examples() {
    let train = trec(20);
    let compiled = LabeledFewShot::new(3)
        .id_field("question")
        .compile(&Predict::<Classify>::new(), &train)
        .await
        .unwrap();
    for demo in &compiled.demos {
        let p = demo.provenance().unwrap();
        assert_eq!(p.example, demo.example().unwrap().question);
    }
}

#[tokio::test]
async fn bootstrapped_demos_name_their_example_round_and_passing_trial() {
    let train = trec(40);
    let compiled = with_lm(
        task(&train),
        BootstrapFewShot::new(metric)
            .max_bootstrapped_demos(4)
            .max_labeled_demos(8)
            .max_rounds(2)
            .progress(false)
            .compile(&Predict::<Classify>::new(), &train),
    )
    .await
    .unwrap();
    let ids = by_id(&train);
    let provenance = provenances(&compiled);
    assert_eq!(provenance.len(), 8);
    let (bootstrapped, labeled) = provenance.split_at(4);
    for p in bootstrapped {
        assert_eq!(p.source, DemoSource::Bootstrapped, "{p}");
        let chosen = p.chosen_by.as_ref().unwrap();
        assert_eq!(chosen.optimizer, "BootstrapFewShot");
        // The trial that chose it is the passing run on its example, in its round.
        let trial = &compiled.report.trials[chosen.trial];
        let index = train
            .iter()
            .position(|ex| ex.question == ids[&p.example].question)
            .unwrap();
        let round = p.round.unwrap();
        assert_eq!(trial.candidate, format!("train[{index}] round {round}"));
        assert_eq!((chosen.score, trial.score), (Some(1.0), Some(1.0)));
        assert_eq!(round, 0, "the task model is right the first time or never");
    }
    for p in labeled {
        assert_eq!(
            (p.source, p.round, &p.chosen_by),
            (DemoSource::Labeled, None, &None)
        );
    }
    let loaded = reloaded(&compiled, "bootstrap");
    assert_eq!(provenances(&loaded), provenance);

    // The exported prompt says under each demo's heading where it came from.
    let markdown = compiled.prompts().unwrap().to_markdown();
    for (k, p) in provenance.iter().enumerate() {
        let heading = format!("#### Demo {} of 8 · complete\n\n_{p}._\n", k + 1);
        assert!(
            markdown.contains(&heading),
            "{heading} is not in:\n{markdown}"
        );
    }
    assert!(
        markdown.contains("_bootstrapped from example "),
        "{markdown}"
    );
}

#[tokio::test]
async fn a_search_records_the_winning_trial_on_every_demo_it_chose() {
    let all = trec(36);
    let (train, val) = all.split_at(24);
    let compiled = with_lm(
        DemoHungry::lm(&all),
        BootstrapFewShotWithRandomSearch::new(metric)
            .num_candidate_programs(3)
            .max_bootstrapped_demos(3)
            .max_labeled_demos(4)
            .progress(false)
            .compile_with_valset(&Predict::<Classify>::new(), train, val),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    let best = report.best.unwrap();
    let provenance = provenances(&compiled);
    // The winner bootstrapped its demos (then filled with labeled ones), each from its round.
    let sources: Vec<DemoSource> = provenance.iter().map(|p| p.source).collect();
    assert!(sources.contains(&DemoSource::Bootstrapped), "{report}");
    assert!(
        provenance
            .iter()
            .all(|p| (p.source == DemoSource::Bootstrapped) == p.round.is_some())
    );
    for p in &provenance {
        let chosen = p.chosen_by.as_ref().unwrap();
        assert_eq!(chosen.optimizer, "BootstrapFewShotWithRandomSearch");
        assert_eq!(
            (chosen.trial, chosen.score),
            (best, report.best_score),
            "{p}"
        );
    }
    // Every candidate's trial lists its demos' examples; the winner's are the program's.
    let listed: Vec<String> = provenance.iter().map(|p| p.example.clone()).collect();
    assert_eq!(report.trials[best].demos["self"], listed);
    assert!(report.trials[0].demos.is_empty(), "zero-shot has no demos");
    assert!(report.trials.iter().skip(1).all(|t| !t.demos.is_empty()));

    let loaded = reloaded(&compiled, "random-search");
    assert_eq!(provenances(&loaded), provenance);
    // And through the JSON of the report.
    let back: dspy::dspy_optimize::CompileReport =
        serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(back.trials[best].demos, report.trials[best].demos);
}

#[tokio::test]
async fn saved_provenance_is_in_the_file_and_hand_made_demos_have_none() {
    let train = trec(10);
    let compiled = LabeledFewShot::new(2)
        .compile(&Predict::<Classify>::new(), &train)
        .await
        .unwrap();
    let mut program = compiled.into_program();
    program.demos.push(train[9].clone().into());
    let state: Value = serde_json::from_str(&program.state().unwrap().to_json().unwrap()).unwrap();
    let demos = state["predictors"]["self"]["demos"].as_array().unwrap();
    assert_eq!(demos[0]["provenance"]["source"], "labeled");
    assert_eq!(
        demos[0]["provenance"]["example"].as_str().unwrap().len(),
        16
    );
    assert!(demos[2].get("provenance").is_none(), "{}", demos[2]);
    let reread = ProgramState::from_json(&state.to_string()).unwrap();
    let mut loaded = Predict::<Classify>::new();
    loaded.load_state(reread).unwrap();
    assert!(loaded.demos[2].provenance().is_none());
    assert!(loaded.demos[1].provenance().is_some());
}
