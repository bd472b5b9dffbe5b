//! Every optimizer, compiled with a fixed seed on deterministic scripted LMs, against a golden
//! record of what it returned: each compiled program's state, and its report's trials (what was
//! tried, its score, its error, its LM calls), `best` and `best_score`. Refactoring the
//! optimizers must leave every entry as it is.
//!
//! The task model answers a TREC-like question right or wrong by a hash of the whole prompt
//! (instructions, demos, input) and the sampling, so every change an optimizer makes changes
//! its scores; the prompt model answers every proposer signature the same way. Both are pure
//! functions of the request, so concurrency does not change what they say.
//!
//! Re-record (only when a change of behaviour is intended): `DSPY_RECORD=1 cargo test -p
//! dspy-optimize --test seeded`.

use dspy_core::lm::{BoxFuture, Budget, LmRequest, LmResponse};
use dspy_core::{DummyLm, DynPredictor, LM, LanguageModel, Module, Parameters, Predict, with_lm};
use dspy_macros::Signature;
use dspy_optimize::{
    Bm25, BootstrapFewShot, BootstrapFewShotWithRandomSearch, COPRO, CompileReport, Compiled,
    Ensemble, GEPA, KNNFewShot, LabeledFewShot, MIPROv2, Optimizer, SIMBA,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

const KINDS: [&str; 6] = [
    "abbreviation",
    "description",
    "entity",
    "human",
    "location",
    "number",
];

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct Classify {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: Kind,
}

/// Name the topic of the question in a few words.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct Topic {
    #[input]
    question: String,
    #[output]
    topic: String,
}

/// Classify the question, given its topic, by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct ClassifyTopic {
    #[input]
    question: String,
    #[input]
    topic: String,
    #[output]
    label: Kind,
}

/// A two-stage program: the topic first, then the class.
#[derive(Clone)]
struct TwoStage {
    topic: Predict<Topic>,
    classify: Predict<ClassifyTopic>,
}

impl TwoStage {
    fn new() -> Self {
        TwoStage {
            topic: Predict::new(),
            classify: Predict::new(),
        }
    }
}

impl Module for TwoStage {
    type Input = ClassifyInput;
    type Output = ClassifyOutput;

    async fn call(&self, input: ClassifyInput) -> dspy_core::Result<ClassifyOutput> {
        let topic = self
            .topic
            .call(TopicInput {
                question: input.question.clone(),
            })
            .await?;
        let out = self
            .classify
            .call(ClassifyTopicInput {
                question: input.question,
                topic: topic.topic,
            })
            .await?;
        Ok(ClassifyOutput { label: out.label })
    }
}

impl Parameters for TwoStage {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.topic.visit_predictors(&join(prefix, "topic"), visit);
        self.classify
            .visit_predictors(&join(prefix, "classify"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.topic
            .visit_predictors_mut(&join(prefix, "topic"), visit);
        self.classify
            .visit_predictors_mut(&join(prefix, "classify"), visit);
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Real TREC questions (examples/data/trec/train.jsonl).
const QUESTIONS: [(&str, Kind); 12] = [
    (
        "How did serfdom develop in and then leave Russia ?",
        Kind::Description,
    ),
    (
        "In what religion was Isis the nature goddess ?",
        Kind::Entity,
    ),
    (
        "Who starred in Singing in the Rain and The Singing Nun ?",
        Kind::Human,
    ),
    ("Who produces Spumante ?", Kind::Human),
    ("What is the 401 , K , plan ?", Kind::Description),
    (
        "Name a technique widely used to detect birth defects ?",
        Kind::Entity,
    ),
    ("How many calories are there in a Big Mac ?", Kind::Number),
    ("What is the full form of .com ?", Kind::Abbreviation),
    (
        "What Las Vegas hotel burned in November , 1980 , with the loss of 84 lives ?",
        Kind::Location,
    ),
    ("What does Inuit and Eskimo mean ?", Kind::Description),
    ("What caused the Lynmouth floods ?", Kind::Description),
    (
        "What beer advertised that it had  three rings  ?",
        Kind::Entity,
    ),
];

fn examples() -> Vec<Classify> {
    QUESTIONS
        .iter()
        .map(|(question, label)| Classify {
            question: question.to_string(),
            label: *label,
        })
        .collect()
}

fn trainset() -> Vec<Classify> {
    examples()[..8].to_vec()
}

fn valset() -> Vec<Classify> {
    examples()[8..].to_vec()
}

fn metric(ex: &Classify, out: &ClassifyOutput) -> bool {
    ex.label == out.label
}

fn feedback(ex: &Classify, out: &ClassifyOutput) -> (f64, String) {
    if ex.label == out.label {
        (1.0, "Right.".into())
    } else {
        (
            0.0,
            format!("It asks for a {:?}, not a {:?}.", ex.label, out.label),
        )
    }
}

type Metric = fn(&Classify, &ClassifyOutput) -> bool;
type Feedback = fn(&Classify, &ClassifyOutput) -> (f64, String);

/// FNV-1a over the prompt text and the sampling: the same request, the same number.
fn hash(request: &LmRequest) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let text = request.prompt.to_text();
    let sampling = format!("{:?}|{:?}", request.temperature, request.rollout_id);
    for byte in text.bytes().chain([0]).chain(sampling.bytes()) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Answers as `answer` says, through the real adapters (DummyLm writes the layout asked for).
fn answer(request: LmRequest, answer: Value) -> BoxFuture<'static, dspy_core::Result<LmResponse>> {
    Box::pin(async move { DummyLm::new([answer]).complete(request).await })
}

/// The task model: the question it is asked is the known one that appears last in the prompt
/// (the input comes after the demos); it is right about it unless the hash says otherwise.
#[derive(Debug, Clone)]
struct Task;

impl LanguageModel for Task {
    fn model(&self) -> &str {
        "seeded-task"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
        let text = request.prompt.to_text();
        let h = hash(&request);
        let asked = QUESTIONS
            .iter()
            .filter_map(|(q, kind)| text.rfind(q).map(|at| (at, *kind)))
            .max_by_key(|(at, _)| *at);
        let right = asked.map_or(0, |(_, kind)| kind as usize);
        if h.is_multiple_of(7) {
            return answer(
                request,
                json!("I cannot tell what kind of question this is."),
            );
        }
        let label = if h.is_multiple_of(3) {
            (right + 1 + (h % 5) as usize) % 6
        } else {
            right
        };
        let value = json!({
            "topic": format!("topic {}", h % 4),
            "label": KINDS[label],
        });
        answer(request, value)
    }
}

/// The prompt model: every proposer field, worded by the hash.
#[derive(Debug, Clone)]
struct Proposer;

impl LanguageModel for Proposer {
    fn model(&self) -> &str {
        "seeded-proposer"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
        let h = hash(&request);
        let rule = format!("Rule {}: read the question word first.", h % 5);
        let value = json!({
            "proposed_instruction": format!("Classify the question, variant {}.", h % 7),
            "new_instruction": format!("Label the question by the answer it wants ({}).", h % 6),
            "observations": "Short English questions.",
            "summary": format!("Questions of six kinds ({}).", h % 3),
            "program_description": "It classifies questions.",
            "module_description": "It labels a question.",
            "discussion": "The worse run misread the question.",
            "module_advice": {"self": rule, "topic": "N/A", "classify": rule},
        });
        answer(request, value)
    }
}

fn task() -> LM {
    LM::new(Task)
}

fn prompt() -> LM {
    LM::new(Proposer)
}

/// What a compile gave, as recorded in the golden file.
fn record<P: Parameters>(compiled: &Compiled<P>) -> Value {
    json!({
        "state": state(&compiled.program),
        "report": report(&compiled.report),
    })
}

fn state<P: Parameters>(program: &P) -> Value {
    let mut state = serde_json::to_value(program.state().unwrap()).unwrap();
    // The dspy version is informational, and changes with releases.
    state.as_object_mut().unwrap().remove("dspy_version");
    state
}

fn report(report: &CompileReport) -> Value {
    let trials: Vec<Value> = report
        .trials
        .iter()
        .map(|t| json!([t.candidate, t.score, t.error, t.lm_calls]))
        .collect();
    json!({
        "optimizer": report.optimizer,
        "seed": report.seed,
        "trials": trials,
        "best": report.best,
        "best_score": report.best_score,
        "stopped_by_budget": report.stopped_by_budget,
    })
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dspy-seeded-{}-{name}.json", std::process::id()))
}

/// The records of one group of compiles, checked against (or written to) the golden file.
struct Golden {
    name: &'static str,
    entries: BTreeMap<String, Value>,
}

impl Golden {
    fn new(name: &'static str) -> Self {
        Golden {
            name,
            entries: BTreeMap::new(),
        }
    }

    fn add(&mut self, key: &str, value: Value) {
        self.entries.insert(key.to_string(), value);
    }

    fn check(self) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("{}.json", self.name));
        let got = Value::Object(self.entries.into_iter().collect());
        if std::env::var_os("DSPY_RECORD").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            return;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; record it with DSPY_RECORD=1", path.display()));
        let want: Value = serde_json::from_str(&text).unwrap();
        for (key, value) in want.as_object().unwrap() {
            assert_eq!(
                got.get(key),
                Some(value),
                "`{key}` differs from {}:\n{}",
                path.display(),
                serde_json::to_string_pretty(&got.get(key)).unwrap()
            );
        }
        assert_eq!(
            got.as_object().unwrap().len(),
            want.as_object().unwrap().len(),
            "other entries than {}",
            path.display()
        );
    }
}

#[tokio::test]
async fn demo_optimizers_give_the_recorded_programs() {
    let (train, val) = (trainset(), valset());
    let single = Predict::<Classify>::new();
    let mut golden = Golden::new("demos");

    let labeled = LabeledFewShot::new(3).seed(7);
    let compiled = Optimizer::compile(&labeled, &single, &train).await.unwrap();
    golden.add("labeled", record(&compiled));
    let labeled_program = compiled.into_program();

    let bootstrap = BootstrapFewShot::new(metric as Metric)
        .max_bootstrapped_demos(3)
        .max_labeled_demos(4)
        .max_rounds(2)
        .seed(7)
        .concurrency(3)
        .progress(false);
    let compiled = with_lm(task(), Optimizer::compile(&bootstrap, &single, &train))
        .await
        .unwrap();
    golden.add("bootstrap", record(&compiled));
    let bootstrap_program = compiled.into_program();
    let compiled = with_lm(
        task(),
        Optimizer::compile(&bootstrap, &TwoStage::new(), &train),
    )
    .await
    .unwrap();
    golden.add("bootstrap two-stage", record(&compiled));
    let teacher = labeled_program.clone();
    let compiled = with_lm(
        task(),
        bootstrap.compile_with_teacher(&single, &teacher, &train),
    )
    .await
    .unwrap();
    golden.add("bootstrap with teacher", record(&compiled));

    let search = BootstrapFewShotWithRandomSearch::new(metric as Metric)
        .num_candidate_programs(3)
        .max_bootstrapped_demos(2)
        .max_labeled_demos(2)
        .seed(7)
        .progress(false);
    let compiled = with_lm(task(), Optimizer::compile(&search, &single, &train))
        .await
        .unwrap();
    golden.add("random search", record(&compiled));
    let compiled = with_lm(
        task(),
        search
            .clone()
            .candidate_concurrency(2)
            .compile_with_valset(&TwoStage::new(), &train, &val),
    )
    .await
    .unwrap();
    golden.add("random search two-stage valset", record(&compiled));
    let compiled = with_lm(limited(20), Optimizer::compile(&search, &single, &train))
        .await
        .unwrap();
    assert!(compiled.report.stopped_by_budget);
    golden.add("random search stopped", record(&compiled));
    let compiled = with_lm(limited(2), Optimizer::compile(&bootstrap, &single, &train))
        .await
        .unwrap();
    assert!(compiled.report.stopped_by_budget);
    golden.add("bootstrap stopped", record(&compiled));

    let knn = KNNFewShot::new(2, Bm25::new());
    let compiled = Optimizer::compile(&knn, &single, &train).await.unwrap();
    let mut neighbors = Vec::new();
    for example in &val {
        let input = ClassifyInput {
            question: example.question.clone(),
        };
        neighbors.push(compiled.neighbors(&input).await.unwrap());
    }
    let outputs: Vec<String> = with_lm(task(), async {
        let mut outputs = Vec::new();
        for example in &val {
            let input = ClassifyInput {
                question: example.question.clone(),
            };
            outputs.push(format!("{:?}", compiled.call(input).await.map(|o| o.label)));
        }
        outputs
    })
    .await;
    golden.add(
        "knn",
        json!({"record": record(&compiled), "neighbors": neighbors, "outputs": outputs}),
    );

    let ensemble = Ensemble::majority().size(2).seed(7).compile(vec![
        single.clone(),
        labeled_program,
        bootstrap_program,
    ]);
    let outputs: Vec<String> = with_lm(task(), async {
        let mut outputs = Vec::new();
        for example in val.iter().chain(&train) {
            let input = ClassifyInput {
                question: example.question.clone(),
            };
            outputs.push(format!("{:?}", ensemble.call(input).await.map(|o| o.label)));
        }
        outputs
    })
    .await;
    golden.add(
        "ensemble",
        json!({"state": state(&ensemble), "outputs": outputs}),
    );
    golden.check();
}

fn copro() -> COPRO<Metric> {
    COPRO::new(metric as Metric)
        .breadth(3)
        .depth(2)
        .seed(7)
        .progress(false)
}

fn mipro() -> MIPROv2<Metric> {
    MIPROv2::new(metric as Metric)
        .num_candidates(3)
        .num_trials(5)
        .minibatch_size(2)
        .minibatch_full_eval_steps(2)
        .max_bootstrapped_demos(2)
        .max_labeled_demos(2)
        .seed(7)
        .progress(false)
}

fn gepa() -> GEPA<Feedback> {
    GEPA::new(feedback as Feedback)
        .max_metric_calls(40)
        .reflection_minibatch_size(2)
        .seed(7)
        .concurrency(3)
        .progress(false)
}

fn simba() -> SIMBA<Feedback> {
    SIMBA::new(feedback as Feedback)
        .bsize(3)
        .num_candidates(3)
        .max_steps(3)
        .seed(7)
        .concurrency(3)
        .progress(false)
}

#[tokio::test]
async fn instruction_optimizers_give_the_recorded_programs() {
    let (train, val) = (trainset(), valset());
    let single = Predict::<Classify>::new();
    let two = TwoStage::new();
    let mut golden = Golden::new("instructions");

    let copro = copro().prompt_model(prompt()).task_model(task());
    let compiled = Optimizer::compile(&copro, &single, &train).await.unwrap();
    golden.add("copro", record(&compiled));
    let compiled = Optimizer::compile(&copro, &two, &train).await.unwrap();
    golden.add("copro two-stage", record(&compiled));

    let mipro = mipro().prompt_model(prompt()).task_model(task());
    let compiled = Optimizer::compile(&mipro, &single, &train).await.unwrap();
    golden.add("mipro split", record(&compiled));
    let compiled = mipro.compile_with_valset(&two, &train, &val).await.unwrap();
    golden.add("mipro two-stage valset", record(&compiled));
    let zero_shot = mipro.clone().max_bootstrapped_demos(0).max_labeled_demos(0);
    let compiled = zero_shot
        .compile_with_valset(&single, &train, &val)
        .await
        .unwrap();
    golden.add("mipro zero-shot", record(&compiled));

    let gepa = gepa().reflection_lm(prompt());
    let compiled = with_lm(task(), Optimizer::compile(&gepa, &single, &train))
        .await
        .unwrap();
    golden.add("gepa", record(&compiled));
    let compiled = with_lm(task(), gepa.compile_with_valset(&two, &train, &val))
        .await
        .unwrap();
    golden.add("gepa two-stage valset", record(&compiled));
    let full_evals = gepa.clone().max_full_evals(2);
    let compiled = with_lm(
        task(),
        full_evals.compile_with_valset(&single, &train, &val),
    )
    .await
    .unwrap();
    golden.add("gepa full evals valset", record(&compiled));

    let simba = simba().prompt_model(prompt());
    let compiled = with_lm(task(), Optimizer::compile(&simba, &single, &train))
        .await
        .unwrap();
    golden.add("simba", record(&compiled));
    let compiled = with_lm(task(), Optimizer::compile(&simba, &two, &train))
        .await
        .unwrap();
    golden.add("simba two-stage", record(&compiled));
    golden.check();
}

/// A task model that runs out after `calls` calls.
fn limited(calls: u64) -> LM {
    LM::builder(Task)
        .budget(Budget::new().max_calls(calls))
        .build()
}

/// Compiles with `compile` three times: uninterrupted; stopped by a budget with a checkpoint;
/// resumed from it. The resumed compile must give what the uninterrupted one gave.
async fn stop_and_resume<F, Fut, P>(golden: &mut Golden, name: &str, compile: F)
where
    F: Fn(LM, Option<PathBuf>) -> Fut,
    Fut: std::future::Future<Output = Compiled<P>>,
    P: Parameters,
{
    let whole = compile(task(), None).await;
    let path = temp(name);
    std::fs::remove_file(&path).ok();
    let budget = whole.report.lm_calls() / 3;
    let stopped = compile(limited(budget), Some(path.clone())).await;
    assert!(
        stopped.report.stopped_by_budget,
        "{name}: {}",
        stopped.report
    );
    let resumed = compile(task(), Some(path.clone())).await;
    std::fs::remove_file(&path).ok();
    assert_eq!(record(&resumed), record(&whole), "{name}: resumed");
    assert!(
        resumed.report.lm_calls() < whole.report.lm_calls(),
        "{name}"
    );
    golden.add(name, record(&whole));
    golden.add(&format!("{name} stopped"), record(&stopped));
    golden.add(
        &format!("{name} resumed calls"),
        json!(resumed.report.lm_calls()),
    );
}

#[tokio::test]
async fn stopped_compiles_resume_from_their_checkpoints() {
    let (train, val) = (trainset(), valset());
    let mut golden = Golden::new("resume");
    stop_and_resume(&mut golden, "copro two-stage", |lm, path| {
        let mut copro = copro().prompt_model(prompt()).task_model(lm);
        if let Some(path) = path {
            copro = copro.checkpoint(path);
        }
        let train = train.clone();
        async move {
            Optimizer::compile(&copro, &TwoStage::new(), &train)
                .await
                .unwrap()
        }
    })
    .await;
    stop_and_resume(&mut golden, "mipro", |lm, path| {
        let mut mipro = mipro().prompt_model(prompt()).task_model(lm);
        if let Some(path) = path {
            mipro = mipro.checkpoint(path);
        }
        let (train, val) = (train.clone(), val.clone());
        async move {
            mipro
                .compile_with_valset(&Predict::<Classify>::new(), &train, &val)
                .await
                .unwrap()
        }
    })
    .await;
    stop_and_resume(&mut golden, "gepa two-stage", |lm, path| {
        let mut gepa = gepa().reflection_lm(prompt());
        if let Some(path) = path {
            gepa = gepa.checkpoint(path);
        }
        let (train, val) = (train.clone(), val.clone());
        async move {
            with_lm(lm, gepa.compile_with_valset(&TwoStage::new(), &train, &val))
                .await
                .unwrap()
        }
    })
    .await;
    stop_and_resume(&mut golden, "simba", |lm, path| {
        let mut simba = simba().prompt_model(prompt());
        if let Some(path) = path {
            simba = simba.checkpoint(path);
        }
        let train = train.clone();
        async move {
            with_lm(
                lm,
                Optimizer::compile(&simba, &Predict::<Classify>::new(), &train),
            )
            .await
            .unwrap()
        }
    })
    .await;
    golden.check();
}
