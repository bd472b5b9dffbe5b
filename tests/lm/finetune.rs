//! Fine-tuning through an OpenAI-compatible jobs API, against the test server's (tests/support
//! jobs.rs): a job run to a model that then serves completions, the cache, a failed job, a
//! cancelled one, one resumed after a restart, transient failures, and budgets.

use crate::support;

use dspy::FinetuneErrorKind;
use dspy::adapter::{Prompt, TrainingExample};
use dspy::lm::{
    CacheConfig, CancelToken, Finetune, Finetuner, Hyperparameters, Mode, OpenAiFinetuner,
    TrainBudget, TrainProgress, TrainingData,
};
use dspy::prelude::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fixtures::{RecordingClock, TempDir, files_under};
use support::server::TestServer;
use support::server::jobs::{MIN_EXAMPLES, TRAIN_STEPS};

/// Answer questions with short factoid answers.
#[derive(Signature, Clone, Debug)]
struct CapitalQa {
    #[input]
    question: String,
    #[output]
    answer: String,
}

const CHAT_PARIS: &str = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]";

fn predictor() -> Predict<CapitalQa> {
    Predict::<CapitalQa>::new().with_adapter(ChatAdapter::new())
}

fn question(i: usize) -> CapitalQaInput {
    CapitalQaInput {
        question: format!("What is the capital of country {i}?"),
    }
}

/// `n` examples of the predictor, as its adapter renders them.
fn data(n: usize) -> TrainingData {
    let predict = predictor();
    let mut data = TrainingData::new();
    for i in 0..n {
        let output = CapitalQaOutput {
            answer: format!("City {i}"),
        };
        data.push(
            "answer",
            predict.training_example(&question(i), &output).unwrap(),
        );
    }
    data
}

fn finetuner(server: &TestServer, prefix: &str, clock: &Arc<RecordingClock>) -> OpenAiFinetuner {
    OpenAiFinetuner::new(server.builder(prefix))
        .unwrap()
        .poll_interval(Duration::from_secs(1), Duration::from_secs(8))
        .clock(clock.clone())
        .cache(CacheConfig::memory_only())
}

/// A run on `data` cached in `dir`, its reports collected.
fn run<'a>(
    data: &'a TrainingData,
    dir: &TempDir,
    seen: &Arc<Mutex<Vec<TrainProgress>>>,
) -> Finetune<'a> {
    let seen = seen.clone();
    Finetune::new(data)
        .hyperparameters(Hyperparameters::new().epochs(2).batch_size(4).seed(3))
        .cache_dir(dir.path())
        .on_progress(move |p| seen.lock().unwrap().push(p.clone()))
}

fn reports() -> Arc<Mutex<Vec<TrainProgress>>> {
    Arc::new(Mutex::new(Vec::new()))
}

fn hits_to(server: &TestServer, path: &str) -> usize {
    server.hits().iter().filter(|h| h.path == path).count()
}

#[tokio::test]
async fn a_job_runs_to_a_model_that_serves_completions() {
    let server = TestServer::with_replies(&[CHAT_PARIS]).await;
    let clock = RecordingClock::new();
    let ft = finetuner(&server, "/v1", &clock);
    let (dir, seen) = (TempDir::new("ft-success"), reports());
    let data = data(MIN_EXAMPLES + 2);
    let done = run(&data, &dir, &seen).run(&ft).await.unwrap();

    assert!(!done.cached);
    assert_eq!(done.lm.model(), "ft:test-model:dspy-test::ftjob-1");
    assert_eq!(done.model.model, done.lm.model());
    assert_eq!(done.model.backend, "openai");
    assert_eq!(done.model.details["job"], "ftjob-1");
    assert_eq!(done.model.details["trained_tokens"], 1234);
    // What was uploaded is the data's JSONL; the job asked for the hyperparameters given.
    let files = server.jobs.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].purpose, "fine-tune");
    assert!(
        files[0].filename.ends_with(".jsonl"),
        "{}",
        files[0].filename
    );
    assert_eq!(files[0].content, data.to_jsonl().unwrap());
    let jobs = server.jobs.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].request["model"], "test-model");
    assert_eq!(jobs[0].request["training_file"], "file-1");
    assert_eq!(jobs[0].request["seed"], 3);
    assert_eq!(
        jobs[0].request["method"],
        json!({"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}})
    );

    // Progress: the upload, each step with its loss, then success.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first().unwrap().status, "uploading");
    assert_eq!(seen.last().unwrap().status, "succeeded");
    let steps: Vec<(u64, Option<u64>)> = seen
        .iter()
        .filter(|p| p.status == "running")
        .map(|p| (p.step, p.total_steps))
        .collect();
    let expected: Vec<(u64, Option<u64>)> =
        (1..=TRAIN_STEPS).map(|s| (s, Some(TRAIN_STEPS))).collect();
    assert_eq!(steps, expected);
    let losses: Vec<f64> = seen.iter().filter_map(|p| p.loss).collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    // Polls back off: 1 s, then half as long again each time.
    assert_eq!(
        clock.waits(),
        [1.0, 1.5, 2.25, 3.375]
            .map(Duration::from_secs_f64)
            .to_vec()
    );

    // The model serves completions (the server answers only for a model a job produced), and
    // the predictor sends it what it was trained on.
    let answer = predictor()
        .with_lm(done.lm.clone())
        .call(question(0))
        .await
        .unwrap();
    assert_eq!(answer.answer, "Paris");
    let hit = server.hits().into_iter().last().unwrap();
    assert_eq!(hit.path, "/v1/chat/completions");
    assert_eq!(hit.body["model"], "ft:test-model:dspy-test::ftjob-1");
    let trained: Value = serde_json::from_str(files[0].content.lines().next().unwrap()).unwrap();
    let trained = trained["messages"].as_array().unwrap();
    assert_eq!(
        hit.body["messages"].as_array().unwrap()[..],
        trained[..trained.len() - 1]
    );

    // The same run again trains nothing; other hyperparameters are another model.
    let before = server.requests();
    let again = run(&data, &dir, &reports()).run(&ft).await.unwrap();
    assert!(again.cached);
    assert_eq!(again.model, done.model);
    assert_eq!(again.lm.model(), done.lm.model());
    assert_eq!(server.requests(), before, "a cache hit sends nothing");
    let other = run(&data, &dir, &reports())
        .hyperparameters(Hyperparameters::new().epochs(3))
        .run(&ft)
        .await
        .unwrap();
    assert!(!other.cached);
    assert_eq!(other.lm.model(), "ft:test-model:dspy-test::ftjob-2");
    assert_eq!(server.jobs.jobs().len(), 2);
}

#[tokio::test]
async fn a_failed_job_is_an_error_that_says_what_the_provider_said() {
    let server = TestServer::with_replies(&[CHAT_PARIS]).await;
    let clock = RecordingClock::new();
    let ft = finetuner(&server, "/v1", &clock);
    let (dir, seen) = (TempDir::new("ft-failed"), reports());
    let data = data(2);
    let err = run(&data, &dir, &seen).run(&ft).await.unwrap_err();
    let Error::Finetune { kind, job, message } = &err else {
        panic!("expected a fine-tuning error, got {err}");
    };
    assert_eq!(*kind, FinetuneErrorKind::Failed);
    assert_eq!(job.as_deref(), Some("ftjob-1"));
    assert!(
        message.contains("Training file has 2 example(s), but must have at least 10 examples")
            && message.contains("code `invalid_n_examples`"),
        "{message}"
    );
    let text = err.to_string();
    assert!(
        text.contains("fine-tuning job ftjob-1 failed") && text.contains("run again"),
        "{text}"
    );
    // A failed job is over: nothing is left to resume, and the next run starts a new one.
    assert!(
        files_under(dir.path())
            .iter()
            .all(|f| !f.ends_with("pending.json"))
    );
    run(&data, &dir, &reports()).run(&ft).await.unwrap_err();
    assert_eq!(server.jobs.files().len(), 2);
    assert_eq!(server.jobs.jobs().len(), 2);
}

#[tokio::test]
async fn cancelling_the_run_cancels_the_job() {
    let server = TestServer::with_replies(&[CHAT_PARIS]).await;
    let clock = RecordingClock::new();
    let ft = finetuner(&server, "/v1", &clock);
    let dir = TempDir::new("ft-cancel");
    let data = data(MIN_EXAMPLES);
    let token = CancelToken::new();
    let cancel = token.clone();
    let err = Finetune::new(&data)
        .cache_dir(dir.path())
        .cancel_token(token)
        .on_progress(move |p| {
            if p.step == 1 {
                cancel.cancel();
            }
        })
        .run(&ft)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Finetune { kind: FinetuneErrorKind::Cancelled, job: Some(j), .. } if j == "ftjob-1"),
        "{err}"
    );
    assert!(
        err.to_string().contains("run again to start a new job"),
        "{err}"
    );
    assert_eq!(hits_to(&server, "/v1/fine_tuning/jobs/ftjob-1/cancel"), 1);
    let jobs = server.jobs.jobs();
    assert_eq!((jobs[0].status, jobs[0].step), ("cancelled", 1));
    assert!(
        files_under(dir.path())
            .iter()
            .all(|f| !f.ends_with("pending.json"))
    );

    // Cancelled before it starts: nothing is sent.
    let before = server.requests();
    let token = CancelToken::new();
    token.cancel();
    let err = Finetune::new(&data)
        .no_cache()
        .cancel_token(token)
        .run(&ft)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Finetune {
                kind: FinetuneErrorKind::Cancelled,
                job: None,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.requests(), before);
}

/// Runs on `data` in `dir` and "crashes" (the run is dropped where it stands) once it reports
/// `step`; returns the state it left to resume from.
async fn crash_at(
    step: u64,
    server: &TestServer,
    clock: &Arc<RecordingClock>,
    data: &TrainingData,
    dir: &TempDir,
) -> Value {
    let ft = finetuner(server, "/v1", clock);
    let reached = Arc::new(tokio::sync::Notify::new());
    let signal = reached.clone();
    let run = Finetune::new(data)
        .cache_dir(dir.path())
        .on_progress(move |p| {
            if p.step == step {
                signal.notify_one();
            }
        })
        .run(&ft);
    // Biased: once the step is reported, the run is not polled again (it is dropped mid-wait).
    tokio::select! {
        biased;
        () = reached.notified() => {}
        done = run => panic!("the run should not finish: {done:?}"),
    }
    let pending: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.ends_with("pending.json"))
        .collect();
    assert_eq!(pending.len(), 1);
    serde_json::from_str(&std::fs::read_to_string(&pending[0]).unwrap()).unwrap()
}

#[tokio::test]
async fn a_run_after_a_restart_polls_the_same_job() {
    let server = TestServer::with_replies(&[CHAT_PARIS]).await;
    let dir = TempDir::new("ft-resume");
    let data = data(MIN_EXAMPLES);
    // The first process dies at the job's first step: the ids are saved already.
    let state = crash_at(1, &server, &RecordingClock::new(), &data, &dir).await;
    assert_eq!(state, json!({"file": "file-1", "job": "ftjob-1"}));
    assert_eq!(server.jobs.jobs()[0].reads, 1);
    // The second picks the job up, polls it twice (backing off) and dies at step 3.
    let second = RecordingClock::new();
    let state = crash_at(3, &server, &second, &data, &dir).await;
    assert_eq!(
        state,
        json!({"file": "file-1", "job": "ftjob-1", "wait_ms": 1500})
    );
    assert_eq!(
        second.waits(),
        [1.0, 1.5].map(Duration::from_secs_f64).to_vec()
    );
    assert_eq!(server.jobs.jobs()[0].reads, 3);

    // The third runs it to its end, polling as often as the second had come to.
    let third = RecordingClock::new();
    let seen = reports();
    let done = run(&data, &dir, &seen)
        .hyperparameters(Hyperparameters::new())
        .run(&finetuner(&server, "/v1", &third))
        .await
        .unwrap();
    assert_eq!(done.lm.model(), "ft:test-model:dspy-test::ftjob-1");
    assert_eq!(server.jobs.files().len(), 1, "no second upload");
    assert_eq!(server.jobs.jobs().len(), 1, "no second job");
    assert_eq!(server.jobs.jobs()[0].reads, TRAIN_STEPS + 1);
    let statuses: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.status.clone())
        .collect();
    assert_eq!(statuses, ["running", "succeeded"]);
    assert_eq!(third.waits(), [Duration::from_millis(1500)]);
    assert!(
        files_under(dir.path())
            .iter()
            .all(|f| !f.ends_with("pending.json"))
    );
}

#[tokio::test]
async fn polling_rides_out_an_overloaded_server() {
    let server = TestServer::with_replies(&[CHAT_PARIS]).await;
    let clock = RecordingClock::new();
    let ft = finetuner(&server, "/flaky/v1", &clock);
    let data = data(MIN_EXAMPLES);
    let done = Finetune::new(&data).no_cache().run(&ft).await.unwrap();
    assert_eq!(done.lm.model(), "ft:test-model:dspy-test::ftjob-1");
    // Every other read was a 503 asking for 2 s: each wait after one is at least that.
    let reads = server.jobs.jobs()[0].reads;
    assert_eq!(reads, 2 * (TRAIN_STEPS + 1));
    let waits = clock.waits();
    assert_eq!(waits.len() as u64, reads - 1);
    for wait in waits.iter().step_by(2) {
        assert!(*wait >= Duration::from_secs(2), "{waits:?}");
    }
}

#[tokio::test]
async fn budgets_and_mismatches_are_refused_before_anything_is_sent() {
    let server = TestServer::with_replies(&[CHAT_PARIS]).await;
    let clock = RecordingClock::new();
    let ft = finetuner(&server, "/v1", &clock);
    let data = data(MIN_EXAMPLES);
    let steps = Finetune::new(&data)
        .no_cache()
        .hyperparameters(Hyperparameters::new().epochs(3).batch_size(2))
        .budget(TrainBudget::steps(10))
        .run(&ft)
        .await
        .unwrap_err();
    assert!(
        matches!(&steps, Error::Budget(m) if m.contains("15 steps")),
        "{steps}"
    );
    let cost = Finetune::new(&data)
        .no_cache()
        .hyperparameters(Hyperparameters::new().epochs(3))
        .budget(TrainBudget::cost(0.01))
        .run(&finetuner(&server, "/v1", &clock).training_price(1000.0))
        .await
        .unwrap_err();
    assert!(
        matches!(&cost, Error::Budget(m) if m.contains("over the budget of $0.01")),
        "{cost}"
    );
    let text = TrainingData::new().with(
        "answer",
        TrainingExample {
            prompt: Prompt::Text("Question: 2+2?\nAnswer:".into()),
            completion: " 4\n\n".into(),
        },
    );
    let err = Finetune::new(&text).no_cache().run(&ft).await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("Mode::Completion")),
        "{err}"
    );
    let typo = Finetune::new(&data)
        .no_cache()
        .hyperparameters(Hyperparameters::new().set("lora_rank", 8))
        .run(&ft)
        .await
        .unwrap_err();
    assert!(
        matches!(&typo, Error::Config(m) if m.contains("`lora_rank`")),
        "{typo}"
    );
    assert_eq!(server.requests(), 0);

    // A base model takes text data.
    let base = OpenAiFinetuner::new(server.builder("/v1").mode(Mode::Completion)).unwrap();
    assert!(
        base.base_model()
            .starts_with("test-model @ http://127.0.0.1:")
    );
}
