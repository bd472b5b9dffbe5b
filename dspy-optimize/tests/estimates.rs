//! Every optimizer's estimate against a real compile on scripted LMs: the LM calls a compile
//! sends never exceed the estimate's bound (on each model, under a budget too), and where the
//! optimizer's assumption holds (every answer right, or every proposal rejected) the expected
//! count is the measured one.
//!
//! `cargo test -p dspy-optimize --test estimates -- --nocapture` prints each case's figures.

use dspy_core::lm::{BoxFuture, Budget, DummyFinetuner, LmRequest, LmResponse, UsageReport};
use dspy_core::{DummyLm, DynPredictor, LM, LanguageModel, Module, Parameters, Predict, with_lm};
use dspy_macros::Signature;
use dspy_optimize::search::estimate::Count;
use dspy_optimize::{
    BetterTogether, Bm25, BootstrapFewShot, BootstrapFewShotWithRandomSearch, BootstrapFinetune,
    COPRO, Ensemble, Estimate, GEPA, KNNFewShot, LabeledFewShot, MIPROv2, Optimizer, SIMBA,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Description,
    Entity,
    Human,
    Number,
    Location,
}

const KINDS: [&str; 5] = ["description", "entity", "human", "number", "location"];

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

/// Two predictors a run: the topic, then the class.
#[derive(Clone)]
struct TwoStage {
    topic: Predict<Topic>,
    classify: Predict<ClassifyTopic>,
}

impl Module for TwoStage {
    type Input = ClassifyInput;
    type Output = ClassifyOutput;

    async fn call(&self, input: ClassifyInput) -> dspy_core::Result<ClassifyOutput> {
        let question = input.question;
        let topic = self
            .topic
            .call(TopicInput {
                question: question.clone(),
            })
            .await?
            .topic;
        let out = self
            .classify
            .call(ClassifyTopicInput { question, topic })
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
        self.topic.visit_predictors(&child(prefix, "topic"), visit);
        self.classify
            .visit_predictors(&child(prefix, "classify"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.topic
            .visit_predictors_mut(&child(prefix, "topic"), visit);
        self.classify
            .visit_predictors_mut(&child(prefix, "classify"), visit);
    }
}

fn child(prefix: &str, name: &str) -> String {
    dspy_core::module::child_name(prefix, name)
}

fn two_stage() -> TwoStage {
    TwoStage {
        topic: Predict::new(),
        classify: Predict::new(),
    }
}

const QUESTIONS: [(&str, Kind); 12] = [
    (
        "How did serfdom develop in and then leave Russia ?",
        Kind::Description,
    ),
    (
        "In what religion was Isis the nature goddess ?",
        Kind::Entity,
    ),
    ("Who starred in Singing in the Rain ?", Kind::Human),
    ("Who produces Spumante ?", Kind::Human),
    ("What is the 401 , K , plan ?", Kind::Description),
    ("How many calories are there in a Big Mac ?", Kind::Number),
    ("Where is the Lynmouth harbour ?", Kind::Location),
    ("What does Inuit and Eskimo mean ?", Kind::Description),
    ("What caused the Lynmouth floods ?", Kind::Description),
    ("How many people live in Peru ?", Kind::Number),
    ("Who wrote Hamlet ?", Kind::Human),
    ("Where is Aspen ?", Kind::Location),
];

fn examples(range: std::ops::Range<usize>) -> Vec<Classify> {
    QUESTIONS[range]
        .iter()
        .map(|(q, label)| Classify {
            question: q.to_string(),
            label: *label,
        })
        .collect()
}

fn metric(ex: &Classify, out: &ClassifyOutput) -> bool {
    ex.label == out.label
}

fn feedback(ex: &Classify, out: &ClassifyOutput) -> (f64, String) {
    let score = f64::from(u8::from(ex.label == out.label));
    (score, format!("It asks for a {:?}.", ex.label))
}

type Metric = fn(&Classify, &ClassifyOutput) -> bool;
type Feedback = fn(&Classify, &ClassifyOutput) -> (f64, String);

/// How the task model answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answers {
    /// Always right: the optimizers' assumption for bootstrapping.
    Right,
    /// Always wrong, but readable: nothing ever improves.
    Wrong,
    /// By a hash of the request: right, wrong, or unreadable (so fallbacks and re-asks happen).
    Mixed,
}

/// The task model: answers about the last known question in the prompt (the input comes after
/// the demos).
#[derive(Debug, Clone)]
struct Task(Answers);

fn hash(request: &LmRequest) -> u64 {
    let text = format!(
        "{}|{:?}|{:?}",
        request.prompt.to_text(),
        request.temperature,
        request.rollout_id
    );
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn reply(request: LmRequest, value: Value) -> BoxFuture<'static, dspy_core::Result<LmResponse>> {
    Box::pin(async move { DummyLm::new([value]).complete(request).await })
}

impl LanguageModel for Task {
    fn model(&self) -> &str {
        "task"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
        let text = request.prompt.to_text();
        let right = QUESTIONS
            .iter()
            .filter_map(|(q, kind)| text.rfind(q).map(|at| (at, *kind as usize)))
            .max_by_key(|(at, _)| *at)
            .map_or(0, |(_, kind)| kind);
        let h = hash(&request);
        let label = match self.0 {
            Answers::Right => right,
            Answers::Wrong => (right + 1) % KINDS.len(),
            Answers::Mixed if h.is_multiple_of(5) => {
                return reply(request, json!("I cannot tell."));
            }
            Answers::Mixed if h.is_multiple_of(3) => (right + 2) % KINDS.len(),
            Answers::Mixed => right,
        };
        let value = json!({"topic": format!("topic {}", h % 3), "label": KINDS[label]});
        reply(request, value)
    }
}

/// The prompt model: every proposer field, worded by the hash (so proposals differ).
#[derive(Debug, Clone)]
struct Proposer;

impl LanguageModel for Proposer {
    fn model(&self) -> &str {
        "proposer"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
        let h = hash(&request);
        let rule = format!("Rule {}: read the question word first.", h % 5);
        let value = json!({
            "proposed_instruction": format!("Classify the question, variant {}.", h % 97),
            "new_instruction": format!("Label the question by the answer it wants ({}).", h % 89),
            "observations": "Short English questions.",
            "summary": "Questions of five kinds.",
            "program_description": "It classifies questions.",
            "module_description": "It labels a question.",
            "discussion": "The worse run misread the question.",
            "module_advice": {"self": rule, "topic": "N/A", "classify": rule},
        });
        reply(request, value)
    }
}

fn task(answers: Answers) -> LM {
    LM::new(Task(answers))
}

fn budgeted(answers: Answers, calls: u64) -> LM {
    LM::builder(Task(answers))
        .budget(Budget::new().max_calls(calls))
        .build()
}

/// The calls a model was asked for: answered, from the cache, or failed (not those a budget
/// refused, which never reach it).
fn asked(usage: UsageReport) -> u64 {
    usage.calls + usage.cache_hits + usage.failed_calls
}

/// One case: checks the bound on each model, and prints the figures.
fn check(case: &str, estimate: &Estimate, task: &LM, prompt: Option<&LM>) -> (u64, u64) {
    let task_asked = asked(task.usage());
    let prompt_asked = prompt.map_or(0, |lm| asked(lm.usage()));
    let (task_est, prompt_est) = match prompt {
        Some(_) => (estimate.task.calls, estimate.prompt.calls),
        None => (estimate.calls(), Count::default()),
    };
    println!(
        "{case:<42} task {task_asked:>4} (≤ {:>5}, ~{:>4})  prompt {prompt_asked:>3} (≤ {:>4}, ~{:>3})  \
         task prompt tokens {:>6} (~{:>6})",
        task_est.at_most,
        task_est.expected,
        prompt_est.at_most,
        prompt_est.expected,
        task.usage().usage.prompt_tokens,
        estimate.task.prompt_tokens.expected,
    );
    assert!(
        task_asked <= task_est.at_most,
        "{case}: {task_asked} task calls, estimated at most {}\n{estimate}",
        task_est.at_most
    );
    assert!(
        prompt_asked <= prompt_est.at_most,
        "{case}: {prompt_asked} prompt calls, estimated at most {}\n{estimate}",
        prompt_est.at_most
    );
    if let Some(budget) = estimate.task.budget_calls {
        assert!(
            task.usage().calls + task.usage().failed_calls <= budget,
            "{case}"
        );
    }
    (task_asked, prompt_asked)
}

/// Runs `compile` with `task` configured (the optimizers without models of their own use it).
async fn under<F: std::future::Future>(task: &LM, compile: F) -> F::Output {
    with_lm(task.clone(), compile).await
}

#[tokio::test]
async fn optimizers_without_lm_calls_estimate_none() {
    let train = examples(0..8);
    let lm = task(Answers::Right);
    let labeled = LabeledFewShot::new(3);
    let estimate = labeled.estimate(&two_stage(), &train, None).unwrap();
    labeled.compile(&two_stage(), &train).await.unwrap();
    assert_eq!(estimate.calls(), Count::exactly(0));
    let knn = KNNFewShot::new(2, Bm25::new());
    let program = Predict::<Classify>::new();
    let estimate = knn.estimate(&program, &train, None).unwrap();
    under(&lm, knn.compile(&program, &train)).await.unwrap();
    assert_eq!(estimate.calls(), Count::exactly(0));
    let ensemble = Ensemble::majority();
    let programs = vec![program.clone(), program];
    let estimate = Optimizer::<_, Classify>::estimate(&ensemble, &programs, &train, None).unwrap();
    assert_eq!(estimate.calls(), Count::exactly(0));
    check("labeled, knn, ensemble", &estimate, &lm, None);
    assert!(estimate.notes.iter().any(|n| n.contains("no LM call")));
}

#[tokio::test]
async fn bootstrap_estimates_bound_and_predict() {
    let train = examples(0..8);
    let single = Predict::<Classify>::new();
    let bootstrap = BootstrapFewShot::new(metric as Metric)
        .max_bootstrapped_demos(3)
        .max_labeled_demos(4)
        .concurrency(3)
        .progress(false);
    let lm = task(Answers::Right);
    let estimate = under(&lm, async { bootstrap.estimate(&single, &train, None) })
        .await
        .unwrap();
    under(&lm, bootstrap.compile(&single, &train))
        .await
        .unwrap();
    let (asked, _) = check("bootstrap, right answers", &estimate, &lm, None);
    assert_eq!(asked, estimate.calls().expected);
    // Tokens: DummyLm counts a quarter of the prompt's characters, as the estimate does.
    let measured = lm.usage().usage.prompt_tokens as f64;
    let expected = estimate.prompt_tokens().expected as f64;
    assert!(
        (measured - expected).abs() <= 0.25 * measured,
        "{measured} vs {expected}"
    );

    let rounds = bootstrap.clone().max_rounds(3);
    for (case, lm) in [
        ("bootstrap two-stage, mixed, 3 rounds", task(Answers::Mixed)),
        ("bootstrap two-stage, wrong, 3 rounds", task(Answers::Wrong)),
        (
            "bootstrap two-stage, budget of 7 calls",
            budgeted(Answers::Mixed, 7),
        ),
    ] {
        let estimate = under(&lm, async { rounds.estimate(&two_stage(), &train, None) })
            .await
            .unwrap();
        under(&lm, rounds.compile(&two_stage(), &train))
            .await
            .unwrap();
        check(case, &estimate, &lm, None);
    }
}

#[tokio::test]
async fn random_search_estimates_bound_and_predict() {
    let (train, val) = (examples(0..8), examples(8..12));
    let search = BootstrapFewShotWithRandomSearch::new(metric as Metric)
        .max_bootstrapped_demos(2)
        .max_labeled_demos(3)
        .num_candidate_programs(3)
        .concurrency(2)
        .progress(false);
    let single = Predict::<Classify>::new();
    let lm = task(Answers::Right);
    let estimate = under(&lm, async { search.estimate(&single, &train, Some(&val)) })
        .await
        .unwrap();
    under(&lm, search.compile_with_valset(&single, &train, &val))
        .await
        .unwrap();
    let (asked, _) = check("random search, right answers", &estimate, &lm, None);
    assert_eq!(asked, estimate.calls().expected);
    for (case, lm) in [
        ("random search two-stage, mixed", task(Answers::Mixed)),
        (
            "random search two-stage, budget of 20",
            budgeted(Answers::Mixed, 20),
        ),
    ] {
        let search = search.clone().max_rounds(2);
        let estimate = under(&lm, async { search.estimate(&two_stage(), &train, None) })
            .await
            .unwrap();
        under(&lm, search.compile(&two_stage(), &train))
            .await
            .unwrap();
        check(case, &estimate, &lm, None);
    }
}

#[tokio::test]
async fn copro_estimates_bound_and_predict() {
    let train = examples(0..6);
    let copro = |lm: &LM, prompt: &LM| {
        COPRO::new(metric as Metric)
            .breadth(3)
            .depth(2)
            .task_model(lm.clone())
            .prompt_model(prompt.clone())
            .progress(false)
    };
    let (lm, prompt) = (task(Answers::Right), LM::new(Proposer));
    let single = Predict::<Classify>::new();
    let estimate = copro(&lm, &prompt).estimate(&single, &train, None).unwrap();
    copro(&lm, &prompt).compile(&single, &train).await.unwrap();
    let asked = check("copro, right answers", &estimate, &lm, Some(&prompt));
    assert_eq!(
        asked,
        (estimate.task.calls.expected, estimate.prompt.calls.expected)
    );
    let (lm, prompt) = (task(Answers::Mixed), LM::new(Proposer));
    let estimate = copro(&lm, &prompt)
        .estimate(&two_stage(), &train, None)
        .unwrap();
    copro(&lm, &prompt)
        .compile(&two_stage(), &train)
        .await
        .unwrap();
    check("copro two-stage, mixed", &estimate, &lm, Some(&prompt));
    let (lm, prompt) = (budgeted(Answers::Mixed, 25), LM::new(Proposer));
    let estimate = copro(&lm, &prompt)
        .estimate(&two_stage(), &train, None)
        .unwrap();
    copro(&lm, &prompt)
        .compile(&two_stage(), &train)
        .await
        .unwrap();
    check(
        "copro two-stage, budget of 25",
        &estimate,
        &lm,
        Some(&prompt),
    );
}

#[tokio::test]
async fn mipro_estimates_bound_and_predict() {
    let (train, val) = (examples(0..8), examples(8..12));
    let mipro = |lm: &LM, prompt: &LM| {
        MIPROv2::new(metric as Metric)
            .num_candidates(4)
            .num_trials(7)
            .minibatch_size(2)
            .minibatch_full_eval_steps(3)
            .max_bootstrapped_demos(2)
            .max_labeled_demos(2)
            .view_data_batch_size(3)
            .concurrency(2)
            .task_model(lm.clone())
            .prompt_model(prompt.clone())
            .progress(false)
    };
    let (lm, prompt) = (task(Answers::Right), LM::new(Proposer));
    let single = Predict::<Classify>::new();
    let estimate = mipro(&lm, &prompt)
        .estimate(&single, &train, Some(&val))
        .unwrap();
    mipro(&lm, &prompt)
        .compile_with_valset(&single, &train, &val)
        .await
        .unwrap();
    let asked = check("mipro, right answers", &estimate, &lm, Some(&prompt));
    assert_eq!(
        asked,
        (estimate.task.calls.expected, estimate.prompt.calls.expected)
    );
    let all = examples(0..12);
    for (case, lm) in [
        ("mipro two-stage auto light, mixed", task(Answers::Mixed)),
        (
            "mipro two-stage auto light, budget of 40",
            budgeted(Answers::Mixed, 40),
        ),
    ] {
        let prompt = LM::new(Proposer);
        let mipro = mipro(&lm, &prompt).auto(dspy_optimize::Auto::Light);
        let estimate = mipro.estimate(&two_stage(), &all, None).unwrap();
        mipro.compile(&two_stage(), &all).await.unwrap();
        check(case, &estimate, &lm, Some(&prompt));
    }
}

#[tokio::test]
async fn gepa_estimates_bound_and_predict() {
    let (train, val) = (examples(0..8), examples(8..12));
    let gepa = |lm: &LM, prompt: &LM, calls: usize| {
        GEPA::new(feedback as Feedback)
            .max_metric_calls(calls)
            .reflection_minibatch_size(2)
            .task_model(lm.clone())
            .reflection_lm(prompt.clone())
            .progress(false)
    };
    // Every answer wrong: every proposal is tried and rejected, the estimate's assumption.
    let (lm, prompt) = (task(Answers::Wrong), LM::new(Proposer));
    let single = Predict::<Classify>::new();
    let estimate = gepa(&lm, &prompt, 30)
        .estimate(&single, &train, Some(&val))
        .unwrap();
    gepa(&lm, &prompt, 30)
        .compile_with_valset(&single, &train, &val)
        .await
        .unwrap();
    let asked = check("gepa, wrong answers", &estimate, &lm, Some(&prompt));
    assert_eq!(
        asked,
        (estimate.task.calls.expected, estimate.prompt.calls.expected)
    );
    for (case, lm, calls) in [
        (
            "gepa two-stage, mixed, 60 metric calls",
            task(Answers::Mixed),
            60,
        ),
        (
            "gepa two-stage, right, 40 metric calls",
            task(Answers::Right),
            40,
        ),
        (
            "gepa two-stage, budget of 50",
            budgeted(Answers::Mixed, 50),
            200,
        ),
    ] {
        let prompt = LM::new(Proposer);
        let gepa = gepa(&lm, &prompt, calls);
        let estimate = gepa.estimate(&two_stage(), &train, Some(&val)).unwrap();
        gepa.compile_with_valset(&two_stage(), &train, &val)
            .await
            .unwrap();
        check(case, &estimate, &lm, Some(&prompt));
    }
}

async fn simba_case<P>(case: &str, program: P, lm: LM, max_demos: usize)
where
    P: Module<Input = ClassifyInput, Output = ClassifyOutput> + Parameters + Clone,
{
    let train = examples(0..8);
    let prompt = LM::new(Proposer);
    let simba = SIMBA::new(metric as Metric)
        .bsize(4)
        .num_candidates(2)
        .max_steps(3)
        .max_demos(max_demos)
        .task_model(lm.clone())
        .prompt_model(prompt.clone())
        .progress(false);
    let estimate = simba.estimate(&program, &train, None).unwrap();
    simba.compile(&program, &train).await.unwrap();
    check(case, &estimate, &lm, Some(&prompt));
}

#[tokio::test]
async fn simba_estimates_bound() {
    let single = Predict::<Classify>::new();
    simba_case("simba, mixed", single, task(Answers::Mixed), 4).await;
    let (mixed, budgeted) = (task(Answers::Mixed), budgeted(Answers::Mixed, 30));
    simba_case("simba two-stage, mixed, rules only", two_stage(), mixed, 0).await;
    simba_case("simba two-stage, budget of 30", two_stage(), budgeted, 4).await;
}

/// A fine-tune that serves every model it trains with `lm` (so its runs count on `lm` too).
fn finetune(lm: &LM) -> BootstrapFinetune<Metric> {
    let finetuner = std::sync::Arc::new(DummyFinetuner::new(lm.clone()));
    BootstrapFinetune::new(metric as Metric, finetuner)
        .no_cache()
        .concurrency(3)
        .progress(false)
}

#[tokio::test]
async fn finetune_and_better_together_estimates_bound_and_predict() {
    let train = examples(0..8);
    for (case, answers) in [
        ("finetune two-stage, right answers", Answers::Right),
        ("finetune two-stage, mixed", Answers::Mixed),
    ] {
        let lm = task(answers);
        let finetune = finetune(&lm);
        let estimate = under(&lm, async { finetune.estimate(&two_stage(), &train, None) })
            .await
            .unwrap();
        under(&lm, finetune.compile(&two_stage(), &train))
            .await
            .unwrap();
        let (asked, _) = check(case, &estimate, &lm, None);
        if answers == Answers::Right {
            assert_eq!(asked, estimate.calls().expected, "{case}");
        }
    }
    let (train, val) = (examples(0..8), examples(8..12));
    for (case, lm) in [
        ("better-together p -> w -> p, mixed", task(Answers::Mixed)),
        (
            "better-together, budget of 25 calls",
            budgeted(Answers::Mixed, 25),
        ),
    ] {
        let prompt = BootstrapFewShot::new(metric as Metric)
            .max_bootstrapped_demos(2)
            .max_labeled_demos(2)
            .progress(false);
        let together = BetterTogether::new(metric as Metric, prompt, finetune(&lm)).progress(false);
        let estimate = under(&lm, async {
            together.estimate(&two_stage(), &train, Some(&val))
        })
        .await
        .unwrap();
        let compiled = under(
            &lm,
            together.compile_with_valset(&two_stage(), &train, &val),
        )
        .await
        .unwrap();
        check(case, &estimate, &lm, None);
        let stopped = case.contains("budget");
        assert_eq!(compiled.report.stopped_by_budget, stopped, "{case}");
        assert_eq!(compiled.report.trials[0].candidate, "baseline", "{case}");
    }
}

#[test]
fn estimates_print_and_serialize() {
    let train = examples(0..8);
    let prompt = LM::builder(Proposer)
        .price(dspy_core::lm::Price::per_million(1.0, 2.0))
        .build();
    let copro = COPRO::new(metric as Metric)
        .breadth(4)
        .depth(2)
        .task_model(task(Answers::Right))
        .prompt_model(prompt);
    let estimate = copro.estimate(&two_stage(), &train, None).unwrap();
    let text = estimate.to_string();
    println!("{text}");
    assert!(text.starts_with("COPRO estimate"), "{text}");
    assert!(text.contains("propose, round 1"), "{text}");
    assert!(text.contains("prompt model `proposer`"), "{text}");
    assert!(text.contains("no price"), "the task model has none: {text}");
    let cost = estimate.prompt.cost.unwrap();
    assert!(cost.at_most >= cost.expected && cost.expected > 0.0);
    let back: Estimate = serde_json::from_str(&estimate.to_json().unwrap()).unwrap();
    assert_eq!(back, estimate);
    // Two predictors, four candidates per round, two rounds: proposals of round 1 are 2 × 3.
    assert_eq!(estimate.phases[0].calls.expected, 6);
}
