//! Optimizers on scripted LMs whose right answers are known: which traces become demos, per
//! predictor of a multi-stage program; which candidate the random search keeps; determinism
//! under a seed; budgets; compiled state that reloads to the same prompts; KNN neighbours;
//! ensembles.

use dspy::adapter::Prompt;
use dspy::evaluate::Evaluate;
use dspy::lm::{BoxFuture, Budget, LmRequest, LmResponse};
use dspy::prelude::*;
use dspy_optimize::{Embedder, Majority};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum QuestionKind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct ClassifyQuestion {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: QuestionKind,
}

/// Answer with the capital city.
#[derive(Signature, Clone, Debug, PartialEq)]
struct Capital {
    #[input]
    country: String,
    #[output]
    city: String,
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
#[derive(Signature, Clone, Debug)]
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

impl TwoStage {
    fn new() -> Self {
        TwoStage {
            topic: Predict::new(),
            answer: Predict::new(),
        }
    }
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

/// Answers after a delay that depends on the prompt, so concurrent runs finish out of order.
#[derive(Debug)]
struct Jittery(DummyLm);

impl LanguageModel for Jittery {
    fn model(&self) -> &str {
        "jittery"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        Box::pin(async move {
            let spin = request
                .prompt
                .to_text()
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64));
            tokio::time::sleep(Duration::from_millis(spin % 7)).await;
            self.0.complete(request).await
        })
    }
}

/// Right (as `right` answers) only when a demo in the prompt mentions `GOLDEN`, else wrong:
/// a model whose accuracy depends on which demos it is shown.
#[derive(Debug, Clone)]
struct DemoSensitive {
    right: DummyLm,
    wrong: DummyLm,
}

impl LanguageModel for DemoSensitive {
    fn model(&self) -> &str {
        "demo-sensitive"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        let shown = match &request.prompt {
            // Every message but the last: the demos, not the input being answered.
            Prompt::Chat(messages) => messages
                .iter()
                .rev()
                .skip(1)
                .any(|m| m.content.contains("GOLDEN")),
            Prompt::Text(text) => text
                .rsplit_once("\n\n")
                .is_some_and(|(demos, _)| demos.contains("GOLDEN")),
        };
        if shown {
            self.right.complete(request)
        } else {
            self.wrong.complete(request)
        }
    }
}

/// (country, capital, what the LM answers): the LM is right when its answer contains the
/// capital; `None` is an answer that does not parse at all.
const SCRIPT: [(&str, &str, Option<&str>); 8] = [
    ("France", "Paris", Some("Paris, France")),
    ("Italy", "Rome", Some("Milan")),
    ("Peru", "Lima", None),
    ("Spain", "Madrid", Some("Madrid!")),
    ("Chile", "Santiago", Some("Valparaiso")),
    ("Norway", "Oslo", Some("Oslo city")),
    ("Japan", "Tokyo", Some("Kyoto")),
    ("Egypt", "Cairo", Some("Cairo")),
];

fn capitals() -> Vec<Capital> {
    SCRIPT
        .iter()
        .map(|(country, city, _)| Capital {
            country: country.to_string(),
            city: city.to_string(),
        })
        .collect()
}

fn scripted_backend() -> DummyLm {
    DummyLm::keyed(SCRIPT.iter().map(|(country, _, answer)| {
        let answer = match answer {
            Some(city) => json!({ "city": city }),
            None => json!("I will not answer in any format."),
        };
        (*country, answer)
    }))
}

fn scripted_lm() -> LM {
    LM::new(Jittery(scripted_backend()))
}

/// The metric: the answer names the capital.
fn names_capital(ex: &Capital, out: &CapitalOutput) -> bool {
    out.city.contains(&ex.city)
}

/// What the metric accepts, from the script: (country, the LM's answer), in training order.
fn passing_traces() -> Vec<(String, String)> {
    SCRIPT
        .iter()
        .filter_map(|(country, city, answer)| {
            let answer = (*answer)?;
            answer
                .contains(city)
                .then(|| (country.to_string(), answer.to_string()))
        })
        .collect()
}

fn demo_pairs(program: &Predict<Capital>) -> Vec<(String, String)> {
    program
        .demos
        .iter()
        .map(|d| d.example().unwrap())
        .map(|d| (d.country.clone(), d.city.clone()))
        .collect()
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dspy-optimize-{}-{name}", std::process::id()))
}

fn state_json<P: Parameters>(program: &P) -> String {
    program.state().unwrap().to_json().unwrap()
}

#[tokio::test]
async fn the_design_example_runs_on_a_dummy_lm() -> dspy::Result<()> {
    let rows = [
        ("Who was Galileo ?", "human"),
        ("What does NASA stand for ?", "abbreviation"),
        ("How far is it from Denver to Aspen ?", "number"),
        ("What is a golden parachute ?", "description"),
        ("Where is Aspen ?", "location"),
    ];
    let train_file = temp_path("design-train.jsonl");
    let lines: Vec<String> = rows
        .iter()
        .map(|(q, label)| json!({"question": q, "label": label, "fine_label": "x"}).to_string())
        .collect();
    std::fs::write(&train_file, lines.join("\n")).unwrap();
    // Right on every question but the golden parachute.
    let lm = LM::new(DummyLm::keyed([
        ("Galileo", json!({"label": "human"})),
        ("NASA", json!({"label": "abbreviation"})),
        ("Denver", json!({"label": "number"})),
        ("parachute", json!({"label": "entity"})),
        ("Where is Aspen", json!({"label": "location"})),
    ]));
    let saved = temp_path("classify.json");

    dspy::with_lm(lm, async {
        // The user's view from DESIGN.md, with a scripted LM and temporary files.
        let classify = Predict::<ClassifyQuestion>::new();
        let out: ClassifyQuestionOutput = classify
            .call(ClassifyQuestionInput {
                question: "Who was Galileo ?".into(),
            })
            .await?;
        assert_eq!(out.label, QuestionKind::Human);

        let trainset: Vec<ClassifyQuestion> = dspy::data::load_jsonl(&train_file)?;
        let metric = |ex: &ClassifyQuestion, out: &ClassifyQuestionOutput| {
            (ex.label == out.label) as u8 as f64
        };
        let compiled = BootstrapFewShot::new(metric)
            .compile(&classify, &trainset)
            .await?;
        compiled.save(&saved)?;

        // Four traces (the default) from the first four right answers, then the one left.
        let questions: Vec<&str> = compiled
            .demos
            .iter()
            .map(|d| d.example().unwrap().question.as_str())
            .collect();
        assert_eq!(
            questions,
            [
                "Who was Galileo ?",
                "What does NASA stand for ?",
                "How far is it from Denver to Aspen ?",
                "Where is Aspen ?",
                "What is a golden parachute ?",
            ]
        );
        let mut loaded = Predict::<ClassifyQuestion>::new();
        loaded.load(&saved)?;
        assert_eq!(state_json(&loaded), state_json(&compiled));
        Ok::<(), dspy::Error>(())
    })
    .await?;
    std::fs::remove_file(train_file).ok();
    std::fs::remove_file(saved).ok();
    Ok(())
}

#[tokio::test]
async fn bootstrapping_keeps_exactly_the_traces_that_pass() {
    let compiled = with_lm(
        scripted_lm(),
        BootstrapFewShot::new(names_capital)
            .max_bootstrapped_demos(SCRIPT.len())
            .max_labeled_demos(0)
            .concurrency(4)
            .progress(false)
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();

    // The demos are the LM's own answers (not the labels) where the metric passed, in order.
    assert_eq!(demo_pairs(&compiled), passing_traces());
    let report = &compiled.report;
    assert_eq!(report.trials.len(), SCRIPT.len());
    assert!(!report.stopped_by_budget);
    for (trial, (country, city, answer)) in report.trials.iter().zip(SCRIPT) {
        let passed = answer.is_some_and(|a| a.contains(city));
        assert_eq!(
            trial.score,
            Some(passed as u8 as f64),
            "{country}: {trial:?}"
        );
        // The unreadable answer is a failed example with its error, not a failed compile.
        assert_eq!(
            trial.error.is_some(),
            answer.is_none(),
            "{country}: {trial:?}"
        );
        assert!(trial.lm_calls >= 1);
    }
    assert!(report.trials[2].error.as_deref().unwrap().contains("parse"));
    let json: Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(json["optimizer"], "BootstrapFewShot");
    assert_eq!(json["trials"].as_array().unwrap().len(), SCRIPT.len());
    // write_json, named as EvaluationReport's, writes the same JSON.
    let path =
        std::env::temp_dir().join(format!("dspy-compile-report-{}.json", std::process::id()));
    report.write_json(&path).unwrap();
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written, json);
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn bootstrapping_stops_at_the_limit_and_fills_with_labels() {
    let trainset = capitals();
    let compiled = with_lm(
        scripted_lm(),
        BootstrapFewShot::new(names_capital)
            .max_bootstrapped_demos(2)
            .max_labeled_demos(5)
            .progress(false)
            .compile(&Predict::<Capital>::new(), &trainset),
    )
    .await
    .unwrap();

    let demos = demo_pairs(&compiled);
    assert_eq!(demos.len(), 5);
    assert_eq!(demos[..2], passing_traces()[..2]);
    // Then labeled demos (gold answers) from the examples that did not pass.
    let bootstrapped: Vec<&str> = demos[..2].iter().map(|(c, _)| c.as_str()).collect();
    for (country, city) in &demos[2..] {
        assert!(!bootstrapped.contains(&country.as_str()), "{country}");
        let gold = trainset.iter().find(|c| &c.country == country).unwrap();
        assert_eq!(city, &gold.city);
    }
}

#[tokio::test]
async fn a_metric_threshold_decides_success() {
    // Scores 0.5 for an answer containing the capital, 1.0 for exactly the capital.
    let graded = |ex: &Capital, out: &CapitalOutput| {
        if out.city == ex.city {
            1.0
        } else if out.city.contains(&ex.city) {
            0.5
        } else {
            0.0
        }
    };
    let compiled = with_lm(
        scripted_lm(),
        BootstrapFewShot::new(graded)
            .metric_threshold(1.0)
            .max_bootstrapped_demos(8)
            .max_labeled_demos(0)
            .progress(false)
            .compile(&Predict::<Capital>::new(), &capitals()),
    )
    .await
    .unwrap();
    assert_eq!(
        demo_pairs(&compiled),
        [("Egypt".to_string(), "Cairo".to_string())]
    );
}

#[tokio::test]
async fn later_rounds_use_fresh_rollouts() {
    let backend = DummyLm::keyed([("Italy", json!({"city": "Milan"}))]);
    let lm = LM::new(backend.clone());
    let trainset = vec![Capital {
        country: "Italy".into(),
        city: "Rome".into(),
    }];
    let compiled = with_lm(
        lm,
        BootstrapFewShot::new(names_capital)
            .max_rounds(3)
            .max_labeled_demos(0)
            .progress(false)
            .compile(&Predict::<Capital>::new(), &trainset),
    )
    .await
    .unwrap();
    let requests = backend.requests();
    let settings: Vec<(Option<u64>, Option<f32>)> = requests
        .iter()
        .map(|r| (r.rollout_id, r.temperature))
        .collect();
    assert_eq!(
        settings,
        [(None, None), (Some(1), Some(1.0)), (Some(2), Some(1.0))]
    );
    assert_eq!(compiled.report.trials.len(), 3);
    assert!(compiled.demos.is_empty());
}

#[tokio::test]
async fn the_teacher_never_shows_an_example_its_own_answer() {
    let backend = scripted_backend();
    let trainset = capitals();
    with_lm(
        LM::new(backend.clone()),
        BootstrapFewShot::new(names_capital)
            .max_bootstrapped_demos(SCRIPT.len())
            .max_labeled_demos(SCRIPT.len())
            .concurrency(1)
            .progress(false)
            .compile(&Predict::<Capital>::new(), &trainset),
    )
    .await
    .unwrap();
    let requests = backend.requests();
    assert!(requests.len() >= SCRIPT.len());
    for request in requests {
        let Prompt::Chat(messages) = &request.prompt else {
            panic!("a chat prompt was expected");
        };
        let (input, demos) = messages.split_last().unwrap();
        if input.content.starts_with("Your answer could not be read") {
            continue; // a re-ask after the unreadable answer: the same input again
        }
        let country = SCRIPT
            .iter()
            .find(|(c, _, _)| input.content.contains(c))
            .unwrap()
            .0;
        // Every other example stays among the teacher's demos, failed runs or not.
        let shown = SCRIPT
            .iter()
            .filter(|(c, _, _)| demos.iter().any(|m| m.content.contains(c)))
            .count();
        assert!(
            !demos.iter().any(|m| m.content.contains(country)),
            "{country}"
        );
        assert_eq!(shown, SCRIPT.len() - 1, "{country}");
    }
}

#[tokio::test]
async fn a_multi_stage_program_gets_demos_for_every_predictor_from_the_same_runs() {
    // Stage-two keys first: its input also holds the question.
    let lm = LM::new(DummyLm::keyed([
        ("T-France", json!({"answer": "Paris"})),
        ("T-Italy", json!({"answer": "Milan"})),
        ("T-Spain", json!({"answer": "Madrid"})),
        ("France", json!({"topic": "T-France"})),
        ("Italy", json!({"topic": "T-Italy"})),
        ("Spain", json!({"topic": "T-Spain"})),
    ]));
    let trainset: Vec<QA> = [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid")]
        .iter()
        .map(|(country, city)| QA {
            question: format!("Capital of {country}?"),
            answer: city.to_string(),
        })
        .collect();
    let metric = |ex: &QA, out: &QAOutput| ex.answer == out.answer;
    let compiled = with_lm(
        lm,
        BootstrapFewShot::new(metric)
            .progress(false)
            .compile(&TwoStage::new(), &trainset),
    )
    .await
    .unwrap();

    let topics: Vec<(&str, &str)> = compiled
        .topic
        .demos
        .iter()
        .map(|d| d.example().unwrap())
        .map(|d| (d.question.as_str(), d.topic.as_str()))
        .collect();
    assert_eq!(
        topics,
        [
            ("Capital of France?", "T-France"),
            ("Capital of Spain?", "T-Spain")
        ]
    );
    let answers: Vec<(&str, &str, &str)> = compiled
        .answer
        .demos
        .iter()
        .filter_map(|d| d.example())
        .map(|d| (d.question.as_str(), d.topic.as_str(), d.answer.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("Capital of France?", "T-France", "Paris"),
            ("Capital of Spain?", "T-Spain", "Madrid")
        ]
    );
    // The example that failed is a labeled demo where its fields make one: the answer stage's
    // `question` and `answer` (a partial demo, without `topic`, after the traces); the topic
    // stage has no `topic` to learn from.
    let partial: Vec<Value> = compiled
        .answer
        .demos
        .iter()
        .map(|d| (d.is_complete(), Value::Object(d.fields().unwrap())))
        .filter_map(|(complete, fields)| (!complete).then_some(fields))
        .collect();
    assert_eq!(
        partial,
        [json!({"question": "Capital of Italy?", "answer": "Rome"})]
    );
    assert_eq!(compiled.answer.demos.len(), 3);
    assert!(compiled.report.warnings.is_empty());
    let state: Value = serde_json::from_str(&state_json(&compiled)).unwrap();
    let names: Vec<&String> = state["predictors"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["answer", "topic"]);
}

#[tokio::test]
async fn labeled_demos_go_where_their_fields_fit() {
    let trainset: Vec<Capital> = capitals();
    let compiled = LabeledFewShot::new(3)
        .compile(&Predict::<Capital>::new(), &trainset)
        .await
        .unwrap();
    assert_eq!(compiled.demos.len(), 3);
    let qa: Vec<QA> = vec![QA {
        question: "q".into(),
        answer: "a".into(),
    }];
    let two_stage = LabeledFewShot::new(3)
        .compile(&TwoStage::new(), &qa)
        .await
        .unwrap();
    // Each stage gets the example's fields that its signature has: the answer stage a partial
    // demo without `topic`; the topic stage nothing (no example has a `topic`), and the report
    // says so.
    assert!(two_stage.topic.demos.is_empty());
    assert_eq!(two_stage.answer.demos.len(), 1);
    assert_eq!(two_stage.answer.demos[0].missing_fields(), ["topic"]);
    let warnings: Vec<String> = two_stage
        .report
        .warnings
        .iter()
        .map(|w| w.to_string())
        .collect();
    assert_eq!(
        warnings,
        ["predictor `topic`: no demos: no training example has any of its output fields (`topic`)"]
    );
}

#[tokio::test]
async fn labeled_demos_balance_classes() {
    let trainset: Vec<ClassifyQuestion> = (0..60)
        .map(|i| ClassifyQuestion {
            question: format!("question {i}"),
            // Mostly humans: an unbalanced draw would show it.
            label: if i % 6 == 0 {
                QuestionKind::Location
            } else {
                QuestionKind::Human
            },
        })
        .collect();
    let compiled = LabeledFewShot::new(6)
        .per_class("label")
        .seed(3)
        .compile(&Predict::<ClassifyQuestion>::new(), &trainset)
        .await
        .unwrap();
    let locations = compiled
        .demos
        .iter()
        .filter(|d| d.example().unwrap().label == QuestionKind::Location)
        .count();
    assert_eq!((compiled.demos.len(), locations), (6, 3));
}

/// Train examples: question `q{i}` answered `a{i}`, one of them GOLDEN; valset `v{i}` → `b{i}`.
fn golden_task() -> (Vec<QA>, Vec<QA>, DemoSensitive) {
    let qa = |q: String, a: String| QA {
        question: q,
        answer: a,
    };
    let mut trainset: Vec<QA> = (0..8)
        .map(|i| qa(format!("q{i}"), format!("a{i}")))
        .collect();
    trainset[5].question = "q5 GOLDEN".into();
    let valset: Vec<QA> = (0..4)
        .map(|i| qa(format!("v{i}"), format!("b{i}")))
        .collect();
    let right = DummyLm::keyed(
        trainset
            .iter()
            .chain(&valset)
            .map(|ex| (ex.question.clone(), json!({"answer": ex.answer}))),
    );
    let wrong = DummyLm::keyed([("", json!({"answer": "no idea"}))]);
    (trainset, valset, DemoSensitive { right, wrong })
}

fn exact(ex: &QA, out: &QAOutput) -> bool {
    ex.answer == out.answer
}

fn search() -> BootstrapFewShotWithRandomSearch<fn(&QA, &QAOutput) -> bool> {
    BootstrapFewShotWithRandomSearch::new(exact as fn(&QA, &QAOutput) -> bool)
        .max_bootstrapped_demos(1)
        .max_labeled_demos(2)
        .num_candidate_programs(8)
        .seed(11)
        .progress(false)
}

#[tokio::test]
async fn random_search_returns_the_best_candidate() {
    let (trainset, valset, backend) = golden_task();
    let compiled = with_lm(
        LM::new(backend),
        search().compile_with_valset(&Predict::<QA>::new(), &trainset, &valset),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    assert_eq!(report.trials.len(), 3 + 8);
    assert_eq!(report.trials[0].candidate, "zero-shot");
    assert!(report.trials[1].candidate.starts_with("labeled"));
    let scores: Vec<f64> = report.trials.iter().map(|t| t.score.unwrap()).collect();
    assert!(
        scores.contains(&0.0) && scores.contains(&1.0),
        "the choice must matter: {scores:?}"
    );
    // The first candidate with the top score, and its program is the one returned.
    let first_best = scores.iter().position(|s| *s == 1.0).unwrap();
    assert_eq!(report.best, Some(first_best));
    assert_eq!(report.best_score, Some(1.0));
    assert!(
        compiled
            .demos
            .iter()
            .any(|d| d.example().unwrap().question.contains("GOLDEN"))
    );
    let (_, _, backend) = golden_task();
    let rescored = with_lm(
        LM::new(backend),
        Evaluate::new(exact)
            .progress(false)
            .run(&*compiled, &valset),
    )
    .await
    .unwrap();
    assert_eq!(rescored.score, 1.0);
}

#[tokio::test]
async fn random_search_stops_at_score_and_is_the_same_at_any_concurrency() {
    let (trainset, valset, backend) = golden_task();
    let lm = LM::new(backend);
    let program = Predict::<QA>::new();
    let sequential = with_lm(
        lm.clone(),
        search().compile_with_valset(&program, &trainset, &valset),
    )
    .await
    .unwrap();
    let concurrent = with_lm(
        lm.clone(),
        search()
            .candidate_concurrency(4)
            .compile_with_valset(&program, &trainset, &valset),
    )
    .await
    .unwrap();
    assert_eq!(state_json(&*sequential), state_json(&*concurrent));
    let scores = |c: &Compiled<Predict<QA>>| -> Vec<Option<f64>> {
        c.report.trials.iter().map(|t| t.score).collect()
    };
    assert_eq!(scores(&sequential), scores(&concurrent));

    let stopped = with_lm(
        lm,
        search()
            .stop_at_score(1.0)
            .compile_with_valset(&program, &trainset, &valset),
    )
    .await
    .unwrap();
    let best = sequential.report.best.unwrap();
    assert_eq!(stopped.report.trials.len(), best + 1);
    assert_eq!(state_json(&*stopped), state_json(&*sequential));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_program_and_another_seed_another() {
    let trainset: Vec<Capital> = (0..30)
        .map(|i| Capital {
            country: format!("Country{i}"),
            city: format!("City{i}"),
        })
        .collect();
    // Right on even countries, out of order in time.
    let backend = DummyLm::keyed((0..30).rev().map(|i| {
        let city = if i % 2 == 0 {
            format!("City{i}")
        } else {
            "Nowhere".into()
        };
        (format!("Country{i}"), json!({ "city": city }))
    }));
    let lm = LM::new(Jittery(backend));
    let compile = |seed: u64| {
        let lm = lm.clone();
        let trainset = trainset.clone();
        async move {
            let bootstrap = with_lm(
                lm.clone(),
                BootstrapFewShot::new(names_capital)
                    .max_labeled_demos(8)
                    .seed(seed)
                    .concurrency(6)
                    .progress(false)
                    .compile(&Predict::<Capital>::new(), &trainset),
            )
            .await
            .unwrap();
            // A model whose score depends on the demos, so the winner depends on the seed.
            let (golden_train, golden_val, backend) = golden_task();
            let search = with_lm(
                LM::new(backend),
                search()
                    .seed(seed)
                    .candidate_concurrency(3)
                    .compile_with_valset(&Predict::<QA>::new(), &golden_train, &golden_val),
            )
            .await
            .unwrap();
            (state_json(&*bootstrap), state_json(&*search))
        }
    };
    let (a1, b1) = compile(1).await;
    let (a2, b2) = compile(1).await;
    let (a3, b3) = compile(3).await;
    assert_eq!((&a1, &b1), (&a2, &b2));
    assert_ne!(a1, a3);
    assert_ne!(b1, b3);
}

#[tokio::test]
async fn bootstrapping_stops_at_the_budget_with_what_it_found() {
    let trainset: Vec<Capital> = (0..6)
        .map(|i| Capital {
            country: format!("Country{i}"),
            city: format!("City{i}"),
        })
        .collect();
    let backend = DummyLm::keyed(
        trainset
            .iter()
            .map(|c| (c.country.clone(), json!({ "city": c.city }))),
    );
    let lm = LM::builder(backend)
        .budget(Budget::new().max_calls(2))
        .build();
    let compiled = with_lm(
        lm,
        BootstrapFewShot::new(names_capital)
            .max_labeled_demos(3)
            .concurrency(1)
            .progress(false)
            .compile(&Predict::<Capital>::new(), &trainset),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    assert!(report.stopped_by_budget);
    assert_eq!(report.trials.len(), 3);
    assert!(
        report.trials[2]
            .error
            .as_deref()
            .unwrap()
            .contains("budget")
    );
    assert_eq!(report.usage.calls, 2);
    let countries: Vec<String> = demo_pairs(&compiled).into_iter().map(|(c, _)| c).collect();
    assert_eq!(countries.len(), 3);
    assert_eq!(countries[..2], ["Country0", "Country1"]);
}

#[tokio::test]
async fn random_search_stops_at_the_budget_with_the_best_so_far() {
    let (trainset, valset, backend) = golden_task();
    // Zero-shot (4 calls, all wrong) and labeled (4 calls; every example shown, GOLDEN
    // among them) are scored; bootstrapping the next candidate runs out.
    let lm = LM::builder(backend)
        .budget(Budget::new().max_calls(9))
        .build();
    let compiled = with_lm(
        lm,
        search()
            .max_labeled_demos(trainset.len())
            .compile_with_valset(&Predict::<QA>::new(), &trainset, &valset),
    )
    .await
    .unwrap();
    let report = &compiled.report;
    assert!(report.stopped_by_budget);
    assert_eq!(report.trials.len(), 3);
    assert_eq!(report.trials[0].score, Some(0.0));
    assert_eq!(report.trials[1].score, Some(1.0));
    assert!(report.trials[2].error.is_some());
    assert_eq!(report.best, Some(1));
    assert_eq!(compiled.demos.len(), trainset.len());
}

/// What a random search on the golden task gives, on `backend`, with a checkpoint at `path`
/// (when given) and a budget of `calls` (when given).
async fn golden_search(
    backend: &DemoSensitive,
    path: Option<&PathBuf>,
    calls: Option<u64>,
    concurrency: usize,
) -> Compiled<Predict<QA>> {
    let (trainset, valset, _) = golden_task();
    let mut lm = LM::builder(backend.clone());
    if let Some(calls) = calls {
        lm = lm.budget(Budget::new().max_calls(calls));
    }
    let mut search = search().candidate_concurrency(concurrency);
    if let Some(path) = path {
        search = search.checkpoint(path);
    }
    let program = Predict::<QA>::new();
    let compile = search.compile_with_valset(&program, &trainset, &valset);
    with_lm(lm.build(), compile).await.unwrap()
}

fn calls(backend: &DemoSensitive) -> u64 {
    (backend.right.requests().len() + backend.wrong.requests().len()) as u64
}

fn trials(compiled: &Compiled<Predict<QA>>) -> Vec<(String, Option<f64>, u64)> {
    let trials = compiled.report.trials.iter();
    trials
        .map(|t| (t.candidate.clone(), t.score, t.lm_calls))
        .collect()
}

#[tokio::test]
async fn random_search_resumes_from_its_checkpoint_redoing_only_unfinished_candidates() {
    for concurrency in [1, 3] {
        let whole_backend = golden_task().2;
        let whole = golden_search(&whole_backend, None, None, concurrency).await;
        let per_candidate: Vec<u64> = whole.report.trials.iter().map(|t| t.lm_calls).collect();
        assert_eq!(per_candidate.iter().sum::<u64>(), calls(&whole_backend));

        // The budget runs out one call into the fifth candidate: four are done.
        let done: u64 = per_candidate[..4].iter().sum();
        let path = temp_path(&format!("random-search-{concurrency}.json"));
        std::fs::remove_file(&path).ok();
        let stopped_backend = golden_task().2;
        let stopped =
            golden_search(&stopped_backend, Some(&path), Some(done + 1), concurrency).await;
        assert!(stopped.report.stopped_by_budget);
        assert_eq!(stopped.report.trials.len(), 5, "{}", stopped.report);
        assert_eq!(trials(&stopped)[..4], trials(&whole)[..4]);

        // Resumed: the four finished candidates are replayed; only the rest cost calls.
        let resumed_backend = golden_task().2;
        let resumed = golden_search(&resumed_backend, Some(&path), None, concurrency).await;
        assert!(!resumed.report.stopped_by_budget);
        assert_eq!(calls(&resumed_backend), calls(&whole_backend) - done);
        assert_eq!(state_json(&*resumed), state_json(&*whole));
        assert_eq!(trials(&resumed), trials(&whole));
        assert_eq!(resumed.report.best, whole.report.best);

        // Finished: run again, every candidate is replayed, without a call.
        let again_backend = golden_task().2;
        let again = golden_search(&again_backend, Some(&path), None, concurrency).await;
        assert_eq!(calls(&again_backend), 0);
        assert_eq!(state_json(&*again), state_json(&*whole));
        std::fs::remove_file(&path).ok();
    }
}

#[tokio::test]
async fn no_lm_is_an_error_not_a_program_of_failures() {
    let err = BootstrapFewShot::new(names_capital)
        .progress(false)
        .compile(&Predict::<Capital>::new(), &capitals())
        .await
        .unwrap_err();
    assert!(matches!(err, dspy::Error::Config(_)), "{err}");
}

#[tokio::test]
async fn a_compiled_program_reloads_to_identical_prompts() {
    let lm = LM::new(DummyLm::keyed([
        ("T-France", json!({"answer": "Paris"})),
        ("T-Spain", json!({"answer": "Madrid"})),
        ("France", json!({"topic": "T-France"})),
        ("Spain", json!({"topic": "T-Spain"})),
    ]));
    let trainset: Vec<QA> = [("France", "Paris"), ("Spain", "Madrid")]
        .iter()
        .map(|(country, city)| QA {
            question: format!("Capital of {country}?"),
            answer: city.to_string(),
        })
        .collect();
    let metric = |ex: &QA, out: &QAOutput| ex.answer == out.answer;
    let mut compiled = with_lm(
        lm,
        BootstrapFewShot::new(metric)
            .progress(false)
            .compile(&TwoStage::new(), &trainset),
    )
    .await
    .unwrap();
    compiled
        .predictor_mut("answer")
        .unwrap()
        .set_instructions(Some("Answer in one word.".into()));
    let path = temp_path("two-stage.json");
    compiled.save(&path).unwrap();
    let mut loaded = TwoStage::new();
    loaded.load(&path).unwrap();
    std::fs::remove_file(&path).ok();

    let inputs = [
        ("topic", json!({"question": "Capital of Peru?"})),
        (
            "answer",
            json!({"question": "Capital of Peru?", "topic": "T-Peru"}),
        ),
    ];
    for (name, input) in inputs {
        let input = input.as_object().unwrap();
        let before = compiled
            .predictor(name)
            .unwrap()
            .render_json(input)
            .unwrap();
        let after = loaded.predictor(name).unwrap().render_json(input).unwrap();
        assert_eq!(before.prompt, after.prompt, "{name}");
        assert!(before.prompt.to_text().contains("Capital of France?"));
    }
    assert!(
        loaded
            .answer
            .render(&AnswerInput {
                question: "q".into(),
                topic: "t".into()
            })
            .unwrap()
            .prompt
            .to_text()
            .contains("Answer in one word.")
    );
}

fn knn_trainset() -> Vec<QA> {
    [
        ("How tall is the Eiffel tower?", "324 m"),
        ("Who painted the Mona Lisa?", "Leonardo"),
        ("How tall is Mount Everest?", "8849 m"),
        ("Who wrote Hamlet?", "Shakespeare"),
        ("What is the boiling point of water?", "100 C"),
    ]
    .iter()
    .map(|(q, a)| QA {
        question: q.to_string(),
        answer: a.to_string(),
    })
    .collect()
}

/// The demo questions of the last prompt, in order.
fn demo_questions(backend: &DummyLm) -> Vec<String> {
    let request = backend.last_request().unwrap();
    let Prompt::Chat(messages) = &request.prompt else {
        panic!("a chat prompt was expected");
    };
    let (_, demos) = messages.split_last().unwrap();
    knn_trainset()
        .into_iter()
        .map(|ex| ex.question)
        .filter(|q| demos.iter().any(|m| m.content.contains(q.as_str())))
        .map(|q| {
            // Prompt order, not training order.
            let at = demos
                .iter()
                .position(|m| m.content.contains(q.as_str()))
                .unwrap();
            (at, q)
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_values()
        .collect()
}

#[tokio::test]
async fn knn_with_bm25_shows_the_nearest_examples() {
    let backend = DummyLm::keyed([("?", json!({"answer": "tall"}))]);
    let compiled = KNNFewShot::new(2, Bm25::new())
        .compile(&Predict::<QA>::new(), &knn_trainset())
        .await
        .unwrap();
    let input = QAInput {
        question: "How tall is the tallest tower in Paris?".into(),
    };
    assert_eq!(compiled.neighbors(&input).await.unwrap(), [0, 2]);
    let out = with_lm(LM::new(backend.clone()), compiled.call(input))
        .await
        .unwrap();
    assert_eq!(out.answer, "tall");
    assert_eq!(
        demo_questions(&backend),
        [
            "How tall is the Eiffel tower?",
            "How tall is Mount Everest?"
        ]
    );
    // Another input, other demos: each call gets its own.
    with_lm(
        LM::new(backend.clone()),
        compiled.call(QAInput {
            question: "Who wrote Macbeth?".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(demo_questions(&backend)[0], "Who wrote Hamlet?");
    // The compiled program's own predictor keeps no demos.
    assert!(compiled.program().demos.is_empty());
}

#[tokio::test]
async fn knn_can_put_the_nearest_last_and_keep_the_programs_own_demos() {
    let backend = DummyLm::keyed([("?", json!({"answer": "tall"}))]);
    let trainset = knn_trainset();
    let input = || QAInput {
        question: "How tall is the tallest tower in Paris?".into(),
    };
    let compiled = KNNFewShot::new(2, Bm25::new())
        .nearest_last(true)
        .compile(&Predict::<QA>::new(), &trainset)
        .await
        .unwrap();
    with_lm(LM::new(backend.clone()), compiled.call(input()))
        .await
        .unwrap();
    assert_eq!(
        demo_questions(&backend),
        [
            "How tall is Mount Everest?",
            "How tall is the Eiffel tower?"
        ]
    );

    // A program that already has a demo keeps it, first; the neighbours follow.
    let mut program = Predict::<QA>::new();
    program.demos = vec![trainset[3].clone().into()];
    let compiled = KNNFewShot::new(2, Bm25::new())
        .keep_demos(true)
        .compile(&program, &trainset)
        .await
        .unwrap();
    with_lm(LM::new(backend.clone()), compiled.call(input()))
        .await
        .unwrap();
    assert_eq!(
        demo_questions(&backend),
        [
            "Who wrote Hamlet?",
            "How tall is the Eiffel tower?",
            "How tall is Mount Everest?"
        ]
    );
    assert_eq!(
        compiled.program().demos.len(),
        1,
        "the program itself is unchanged"
    );

    // Calls made with the per-call demos are traced as the program's own predictor, so
    // optimizers (GEPA, SIMBA, bootstrapping) can run over a KNN program.
    let (out, trace) = with_lm(
        LM::new(backend.clone()),
        dspy::module::trace(compiled.call(input())),
    )
    .await;
    out.unwrap();
    let trace = trace.with_names(&compiled);
    assert_eq!(trace.entries.len(), 1);
    let own_id = DynPredictor::id(compiled.program());
    assert_eq!(trace.entries[0].predictor, own_id);
    assert!(trace.entries[0].name.is_some());
}

/// A stand-in embedding model: how often each topic word occurs.
struct TopicWords;

impl Embedder for TopicWords {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy::Result<Vec<Vec<f32>>>> {
        let vectors = texts
            .iter()
            .map(|t| {
                let t = t.to_lowercase();
                ["tall", "who", "water"]
                    .iter()
                    .map(|w| t.matches(w).count() as f32)
                    .collect()
            })
            .collect();
        Box::pin(async move { Ok(vectors) })
    }
}

/// An embedding model that answers with the wrong number of vectors.
struct Broken;

impl Embedder for Broken {
    fn embed<'a>(&'a self, _texts: &'a [String]) -> BoxFuture<'a, dspy::Result<Vec<Vec<f32>>>> {
        Box::pin(async { Ok(vec![vec![1.0]]) })
    }
}

#[tokio::test]
async fn knn_with_an_embedder_ranks_by_cosine() {
    let backend = DummyLm::keyed([("?", json!({"answer": "someone"}))]);
    let compiled = KNNFewShot::new(2, Embeddings::new(TopicWords))
        .compile(&Predict::<QA>::new(), &knn_trainset())
        .await
        .unwrap();
    with_lm(
        LM::new(backend.clone()),
        compiled.call(QAInput {
            question: "Who sculpted David?".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        demo_questions(&backend),
        ["Who painted the Mona Lisa?", "Who wrote Hamlet?"]
    );
    let err = KNNFewShot::new(2, Embeddings::new(Broken))
        .compile(&Predict::<QA>::new(), &knn_trainset())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1 vectors for 5 texts"), "{err}");
}

fn voter(city: &str) -> Predict<Capital> {
    Predict::new().with_lm(LM::new(DummyLm::keyed([(
        "Italy",
        json!({ "city": city }),
    )])))
}

fn italy() -> CapitalInput {
    CapitalInput {
        country: "Italy".into(),
    }
}

#[tokio::test]
async fn ensembles_vote_or_reduce() {
    let majority =
        Ensemble::majority().compile(vec![voter("Milan"), voter("rome"), voter("Rome.")]);
    // "rome" and "Rome." agree once normalized; the earlier one is returned.
    assert_eq!(majority.call(italy()).await.unwrap().city, "rome");
    assert_eq!(
        majority.predictor_names(),
        ["programs.0", "programs.1", "programs.2"]
    );

    let failing = Predict::<Capital>::new().with_lm(LM::new(DummyLm::new([])));
    let with_failure = Ensemble::majority().compile(vec![failing.clone(), voter("Turin")]);
    assert_eq!(with_failure.call(italy()).await.unwrap().city, "Turin");
    assert!(
        Ensemble::majority()
            .compile(vec![failing])
            .call(italy())
            .await
            .is_err()
    );

    let longest = |outputs: Vec<CapitalOutput>| {
        outputs
            .into_iter()
            .max_by_key(|o| o.city.len())
            .unwrap_or(CapitalOutput {
                city: String::new(),
            })
    };
    let reduced = Ensemble::reduce(longest).compile(vec![voter("Rome"), voter("Roma Capitale")]);
    assert_eq!(reduced.call(italy()).await.unwrap().city, "Roma Capitale");

    let by_field = Majority::by_field("city");
    let pick = Ensemble::reduce(by_field).compile(vec![voter("A"), voter("B"), voter("B")]);
    assert_eq!(pick.call(italy()).await.unwrap().city, "B");
}

#[tokio::test]
async fn ensemble_subsets_follow_the_seed() {
    let backends: Vec<DummyLm> = (0..5)
        .map(|i| DummyLm::keyed([("Italy", json!({ "city": format!("City{i}") }))]))
        .collect();
    let members = |seed: u64| {
        let backends = backends.clone();
        async move {
            let programs = backends
                .iter()
                .map(|b| Predict::<Capital>::new().with_lm(LM::new(b.clone())))
                .collect();
            let ensemble = Ensemble::majority().size(2).seed(seed).compile(programs);
            let before: Vec<usize> = backends.iter().map(|b| b.requests().len()).collect();
            let mut picked = Vec::new();
            for _ in 0..4 {
                ensemble.call(italy()).await.unwrap();
            }
            for (b, n) in backends.iter().zip(before) {
                picked.push(b.requests().len() - n);
            }
            picked
        }
    };
    let first = members(5).await;
    assert_eq!(first.iter().sum::<usize>(), 8, "two programs per call");
    assert_eq!(first, members(5).await);
}

#[tokio::test]
async fn the_optimizer_trait_is_generic_over_optimizers() {
    async fn run<O: Optimizer<Predict<Capital>, Capital>>(optimizer: O) -> usize
    where
        O::Program: Parameters,
    {
        let compiled = with_lm(
            scripted_lm(),
            optimizer.compile(&Predict::new(), &capitals()),
        )
        .await
        .unwrap();
        compiled
            .predictors()
            .iter()
            .map(|(_, p)| p.demo_count())
            .sum()
    }
    assert_eq!(run(LabeledFewShot::new(3)).await, 3);
    let bootstrap = BootstrapFewShot::new(names_capital)
        .max_labeled_demos(0)
        .max_bootstrapped_demos(8)
        .progress(false);
    assert_eq!(run(bootstrap).await, passing_traces().len());
    assert_eq!(run(KNNFewShot::new(2, Bm25::new())).await, 0);
    // Compiling is `Send`: it can run on a spawned task.
    let handle = tokio::spawn(async {
        with_lm(
            scripted_lm(),
            BootstrapFewShot::new(names_capital)
                .progress(false)
                .compile(&Predict::<Capital>::new(), &capitals()),
        )
        .await
        .map(|c| c.demos.len())
    });
    assert!(handle.await.unwrap().unwrap() > 0);
}

/// A `/v1/embeddings` endpoint on 127.0.0.1 that embeds as [`TopicWords`] (answering in reverse
/// order, with indices) or fails with `status`; it records each request's bearer and body.
#[cfg(feature = "openai")]
async fn embeddings_endpoint(
    status: u16,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let record = seen.clone();
    let handler = move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
        let record = record.clone();
        async move {
            let bearer = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            record.lock().unwrap().push((bearer, body.clone()));
            if status != 200 {
                let code = StatusCode::from_u16(status).unwrap();
                return (code, "{\"error\": {\"message\": \"no\"}}").into_response();
            }
            let texts: Vec<String> = body["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect();
            let vectors = TopicWords.embed(&texts).await.unwrap();
            let data: Vec<Value> = vectors
                .into_iter()
                .enumerate()
                .rev()
                .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
                .collect();
            axum::Json(json!({"object": "list", "data": data, "model": body["model"]}))
                .into_response()
        }
    };
    let app = axum::Router::new().route("/v1/embeddings", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{address}/v1"), seen)
}

#[cfg(feature = "openai")]
#[tokio::test]
async fn knn_over_an_openai_compatible_embeddings_endpoint() {
    use dspy_optimize::OpenAiEmbedder;

    let (base, seen) = embeddings_endpoint(200).await;
    let embedder = OpenAiEmbedder::new("embed-small")
        .base_url(&base)
        .api_key("sk-embed-SECRET");
    assert!(!format!("{embedder:?}").contains("SECRET"));
    let compiled = KNNFewShot::new(2, Embeddings::new(embedder).batch_size(2))
        .compile(&Predict::<QA>::new(), &knn_trainset())
        .await
        .unwrap();
    let nearest = compiled
        .neighbors(&QAInput {
            question: "Who sculpted David?".into(),
        })
        .await
        .unwrap();
    assert_eq!(nearest, [1, 3]);
    let requests = seen.lock().unwrap().clone();
    // Five examples in batches of two, then the query.
    let sizes: Vec<usize> = requests
        .iter()
        .map(|(_, body)| body["input"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [2, 2, 1, 1]);
    assert!(requests.iter().all(|(bearer, body)| {
        bearer == "Bearer sk-embed-SECRET" && body["model"] == "embed-small"
    }));
    assert_eq!(
        requests[0].1["input"][0],
        "question: How tall is the Eiffel tower?"
    );

    let (base, _) = embeddings_endpoint(401).await;
    let err = KNNFewShot::new(
        2,
        Embeddings::new(
            OpenAiEmbedder::new("m")
                .base_url(&base)
                .api_key("sk-embed-SECRET"),
        ),
    )
    .compile(&Predict::<QA>::new(), &knn_trainset())
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            dspy::Error::Lm {
                kind: dspy::LmErrorKind::Auth,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("SECRET"));
}
