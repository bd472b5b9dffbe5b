//! Demos for every stage of a real three-stage program, on TREC questions: the coarse class,
//! then a shortlist of fine classes (an intermediate output no training example has), then the
//! fine class by a chain of thought. Training examples carry only the question and the two
//! labels, so each stage gets the fields of an example that its signature has: complete demos
//! for the coarse stage, partial ones (no shortlist, no reasoning) for the fine stage, none for
//! the shortlist stage, which only bootstrapping can teach, and the compile report says so.
//! The fine stage's prompt is compared byte for byte with DSPy 3.4.1's rendering of the same
//! demos (fixture `pipeline_fine_*.json`, written by dspy-core/tests/data/dspy_prompts/render.py).

use crate::support::capitals::{Scripted, system_and_user};
use dspy::adapter::Prompt;
use dspy::lm::LmRequest;
use dspy::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The TREC coarse classes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// A TREC example: the question, its coarse and its fine class.
#[derive(Signature, Clone, Debug)]
pub(crate) struct Trec {
    #[input]
    pub(crate) question: String,
    #[output]
    pub(crate) label: Kind,
    #[output]
    pub(crate) fine_label: String,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
pub(crate) struct Coarse {
    #[input]
    pub(crate) question: String,
    #[output]
    label: Kind,
}

/// List the fine classes of its coarse class the question may belong to.
#[derive(Signature, Clone, Debug)]
pub(crate) struct Shortlist {
    #[input]
    question: String,
    #[input]
    label: Kind,
    #[output]
    shortlist: Vec<String>,
}

/// Pick the fine class of the question from the shortlist.
#[derive(Signature, Clone, Debug)]
pub(crate) struct Fine {
    #[input]
    question: String,
    #[input]
    label: Kind,
    #[input]
    shortlist: Vec<String>,
    #[output]
    fine_label: String,
}

/// question → coarse → shortlist → fine, wired with `then`'s field names by hand.
#[derive(Module, Clone)]
pub(crate) struct TrecPipeline {
    pub(crate) coarse: Predict<Coarse>,
    pub(crate) shortlist: Predict<Shortlist>,
    pub(crate) fine: ChainOfThought<Fine>,
}

impl TrecPipeline {
    pub(crate) fn new() -> Self {
        TrecPipeline {
            coarse: Predict::new(),
            shortlist: Predict::new(),
            fine: ChainOfThought::new(),
        }
    }
}

impl Module for TrecPipeline {
    type Input = TrecInput;
    type Output = TrecOutput;

    async fn call(&self, input: TrecInput) -> dspy::Result<TrecOutput> {
        let question = input.question;
        let coarse = self
            .coarse
            .call(CoarseInput {
                question: question.clone(),
            })
            .await?;
        let shortlist = self
            .shortlist
            .call(ShortlistInput {
                question: question.clone(),
                label: coarse.label,
            })
            .await?;
        let fine = self
            .fine
            .call(FineInput {
                question,
                label: coarse.label,
                shortlist: shortlist.shortlist,
            })
            .await?;
        Ok(TrecOutput {
            label: coarse.label,
            fine_label: fine.output.fine_label,
        })
    }
}

/// The first `n` TREC training questions.
pub(crate) fn trec(n: usize) -> Vec<Trec> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/trec/train.jsonl"
    );
    let mut all: Vec<Trec> = dspy::data::load_jsonl(path).unwrap();
    all.truncate(n);
    all
}

/// End to end: both labels right.
pub(crate) fn metric(ex: &Trec, out: &TrecOutput) -> bool {
    ex.label == out.label && ex.fine_label == out.fine_label
}

/// The value of `[[ ## name ## ]]` in a prompt's text.
fn section(text: &str, name: &str) -> Option<String> {
    let marker = format!("[[ ## {name} ## ]]\n");
    let rest = &text[text.rfind(&marker)? + marker.len()..];
    Some(rest.split("\n\n").next().unwrap_or(rest).to_string())
}

/// An LM that knows the data: each stage answers right, except the fine stage on the questions
/// in `wrong`, so the runs on them fail the metric.
pub(crate) fn oracle(
    examples: &[Trec],
    wrong: &[usize],
) -> Scripted<impl Fn(&LmRequest) -> Value + Send + Sync + use<>> {
    let gold: BTreeMap<String, (Kind, String)> = examples
        .iter()
        .map(|e| (e.question.clone(), (e.label, e.fine_label.clone())))
        .collect();
    let mut fine_of: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    for e in examples {
        fine_of
            .entry(e.label)
            .or_default()
            .insert(e.fine_label.clone());
    }
    let wrong: BTreeSet<String> = wrong
        .iter()
        .map(|&i| examples[i].question.clone())
        .collect();
    Scripted(move |request: &LmRequest| {
        let (system, user, _) = system_and_user(&request.prompt);
        let question = section(&user, "question").unwrap_or_default();
        let Some((label, fine)) = gold.get(&question) else {
            return json!("no such question");
        };
        let outputs = &system[system.find("Your output fields are:").unwrap_or(0)..];
        if outputs.contains("`fine_label`") {
            let fine = if wrong.contains(&question) {
                "other"
            } else {
                fine
            };
            json!({"reasoning": format!("It asks for a {fine}."), "fine_label": fine})
        } else if outputs.contains("`shortlist`") {
            json!({"shortlist": fine_of[label]})
        } else {
            json!({"label": label})
        }
    })
}

fn fields(demos: &[dspy::Demo<impl Signature>]) -> Vec<Value> {
    demos
        .iter()
        .map(|d| Value::Object(d.fields().unwrap()))
        .collect()
}

fn warnings(report: &CompileReport) -> Vec<String> {
    report.warnings.iter().map(|w| w.to_string()).collect()
}

#[tokio::test]
async fn labeled_demos_give_each_stage_the_fields_it_has() {
    let trainset = trec(12);
    let compiled = LabeledFewShot::new(4)
        .compile(&TrecPipeline::new(), &trainset)
        .await
        .unwrap();

    // The coarse stage has every field of its signature in each example: complete demos.
    assert_eq!(compiled.coarse.demos.len(), 4);
    assert!(compiled.coarse.demos.iter().all(|d| d.is_complete()));
    // The fine stage: the question, the coarse label and the fine one, without the shortlist
    // the middle stage would give and the reasoning the chain of thought adds.
    let fine = &compiled.fine.predict.demos;
    assert_eq!(fine.len(), 4);
    for demo in fine {
        assert_eq!(demo.missing_fields(), ["shortlist", "reasoning"]);
        let fields = demo.fields().unwrap();
        let example = trainset
            .iter()
            .find(|e| e.question == fields["question"])
            .unwrap();
        assert_eq!(fields["fine_label"], example.fine_label.as_str());
        assert_eq!(fields["label"], json!(example.label));
    }
    // No example has a shortlist: that stage gets nothing, and the report says why.
    assert!(compiled.shortlist.demos.is_empty());
    assert_eq!(
        warnings(&compiled.report),
        [
            "predictor `shortlist`: no demos: no training example has any of its output fields \
          (`shortlist`)"
        ]
    );
    let text = compiled.report.to_string();
    assert!(text.contains("warning: predictor `shortlist`"), "{text}");
}

async fn bootstrapped(trainset: &[Trec]) -> Compiled<TrecPipeline> {
    // Questions 1 and 3 fail at the fine stage.
    let lm = LM::new(oracle(trainset, &[1, 3]));
    let optimizer = BootstrapFewShot::new(metric)
        .max_bootstrapped_demos(2)
        .max_labeled_demos(4)
        .progress(false);
    with_lm(lm, optimizer.compile(&TrecPipeline::new(), trainset))
        .await
        .unwrap()
}

#[tokio::test]
async fn bootstrapping_gives_every_stage_demos_from_the_same_successful_runs() {
    let trainset = trec(12);
    let compiled = bootstrapped(&trainset).await;
    let passed = [trainset[0].question.clone(), trainset[2].question.clone()];

    // Every stage, the intermediate one too, learns from the runs whose end result passed
    // (examples 0 and 2; 1 and 3 failed), each demo its own call in that run.
    let traced = |demos: Vec<Value>| -> Vec<String> {
        demos
            .iter()
            .filter(|d| d.get("shortlist").is_some() || d.get("reasoning").is_some())
            .map(|d| d["question"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(traced(fields(&compiled.shortlist.demos)), passed);
    assert_eq!(traced(fields(&compiled.fine.predict.demos)), passed);
    let shortlist = fields(&compiled.shortlist.demos);
    assert_eq!(shortlist.len(), 2, "no labeled demo can teach a shortlist");
    assert_eq!(shortlist[0]["label"], json!(trainset[0].label));
    assert!(
        compiled.fine.predict.demos[..2]
            .iter()
            .all(|d| d.is_complete())
    );
    assert_eq!(
        compiled.fine.predict.demos[0]
            .example()
            .unwrap()
            .example
            .shortlist,
        shortlist[0]["shortlist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    // Then labeled demos from the examples that did not pass: complete for the coarse stage,
    // partial for the fine one, never the examples whose runs became demos.
    assert_eq!(compiled.coarse.demos.len(), 4);
    assert!(compiled.coarse.demos.iter().all(|d| d.is_complete()));
    let fine = &compiled.fine.predict.demos;
    assert_eq!(fine.len(), 4);
    for demo in &fine[2..] {
        assert_eq!(demo.missing_fields(), ["shortlist", "reasoning"]);
        let question = demo.fields().unwrap()["question"].clone();
        assert!(!passed.iter().any(|q| question == q.as_str()), "{question}");
    }
    assert!(
        compiled.report.warnings.is_empty(),
        "{:?}",
        compiled.report.warnings
    );
}

#[tokio::test]
async fn a_stage_bootstrapping_leaves_empty_is_named_in_the_report() {
    let trainset = trec(6);
    let labeled_only = BootstrapFewShot::new(metric)
        .max_bootstrapped_demos(0)
        .progress(false)
        .compile(&TrecPipeline::new(), &trainset)
        .await
        .unwrap();
    assert!(labeled_only.shortlist.demos.is_empty());
    assert!(!labeled_only.fine.predict.demos.is_empty());
    assert_eq!(
        warnings(&labeled_only.report),
        [
            "predictor `shortlist`: no demos: bootstrapping is off (max_bootstrapped_demos = 0), \
          and no training example has any of its output fields (`shortlist`)"
        ]
    );

    // No run passes: only labeled demos, and none fit the shortlist stage.
    let lm = LM::new(oracle(&trainset, &[0, 1, 2, 3, 4, 5]));
    let failing = with_lm(
        lm,
        BootstrapFewShot::new(metric)
            .progress(false)
            .compile(&TrecPipeline::new(), &trainset),
    )
    .await
    .unwrap();
    assert_eq!(failing.fine.predict.demos.len(), 6);
    assert_eq!(
        warnings(&failing.report),
        [
            "predictor `shortlist`: no demos: no run of the program passed the metric, and no \
          training example has any of its output fields (`shortlist`)"
        ]
    );
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/dspy-core/tests/data/dspy_prompts/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture file")).expect("json")
}

fn messages(prompt: &Prompt) -> Value {
    let Prompt::Chat(messages) = prompt else {
        panic!("a chat prompt")
    };
    messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect()
}

#[tokio::test]
async fn the_compiled_fine_stage_renders_as_dspy_renders_it() {
    let trainset = trec(12);
    let compiled = bootstrapped(&trainset).await;
    let fine = &compiled.fine.predict;
    for name in ["chat", "json"] {
        let expected = fixture(&format!("pipeline_fine_{name}"));
        // The demos DSPy was given are the ones this compile chose: traces first, then the
        // partial labeled ones (which DSPy, and so the prompt, shows first).
        assert_eq!(Value::Array(fields(&fine.demos)), expected["demos"]);
        let input: FineInput = serde_json::from_value(expected["input"].clone()).unwrap();
        let predict = match name {
            "chat" => fine.clone().with_adapter(ChatAdapter::new()),
            _ => fine.clone().with_adapter(JsonAdapter::new()),
        };
        let formatted = predict.render(&input).unwrap();
        assert_eq!(
            messages(&formatted.prompt),
            expected["messages"],
            "{name} adapter"
        );
    }
}
