//! Evaluate: concurrent runs in dev-set order, failures scored, early stops, exports that parse back.

use dspy::evaluate::{Evaluate, SemanticF1};
use dspy::lm::{BoxFuture, LmRequest, LmResponse, OpenAiLm};
use dspy::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Answer with the capital city.
#[derive(Signature, Clone, Debug, PartialEq)]
struct Capital {
    #[input]
    country: String,
    #[output]
    city: String,
}

/// Answers after a delay that depends on the prompt, so concurrent calls finish out of order.
#[derive(Debug)]
struct Jittery(DummyLm);

impl LanguageModel for Jittery {
    fn model(&self) -> &str {
        "jittery"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        Box::pin(async move {
            let text = request.prompt.to_text();
            let spin = text
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64));
            tokio::time::sleep(Duration::from_millis(spin % 9)).await;
            self.0.complete(request).await
        })
    }
}

fn country(i: usize) -> String {
    format!("Country<{i}>")
}

/// Country i has capital `City{i}`; the LM is right on even i, wrong on multiples of 3 that are
/// odd, and unreadable on the rest.
fn setup(n: usize) -> (Vec<Capital>, LM) {
    let devset = (0..n)
        .map(|i| Capital {
            country: country(i),
            city: format!("City{i}"),
        })
        .collect();
    let answers = (0..n).map(|i| {
        let answer = if i % 2 == 0 {
            json!({"city": format!("City{i}")})
        } else if i % 3 == 0 {
            json!({"city": "Nowhere"})
        } else {
            json!("I refuse to answer in any format.")
        };
        (format!("<{i}>"), answer)
    });
    let lm = LM::new(Jittery(DummyLm::keyed(answers).without_recording()));
    (devset, lm)
}

fn exact(ex: &Capital, out: &CapitalOutput) -> bool {
    ex.city == out.city
}

#[tokio::test]
async fn results_come_back_in_dev_set_order_with_failures_scored() {
    let (devset, lm) = setup(60);
    let program = Predict::<Capital>::new().with_lm(lm);
    let report = Evaluate::new(exact)
        .concurrency(16)
        .failure_score(-1.0)
        .progress(false)
        .run(&program, &devset)
        .await
        .unwrap();
    assert_eq!(report.results.len(), 60);
    let (mut right, mut wrong, mut failed) = (0, 0, 0);
    for (i, r) in report.results.iter().enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.example, devset[i]);
        match (i % 2 == 0, i % 3 == 0) {
            (true, _) => {
                right += 1;
                assert_eq!(r.score, 1.0);
                assert_eq!(r.output.as_ref().unwrap().city, format!("City{i}"));
            }
            (false, true) => {
                wrong += 1;
                assert_eq!(r.score, 0.0);
                assert_eq!(r.output.as_ref().unwrap().city, "Nowhere");
            }
            (false, false) => {
                failed += 1;
                assert_eq!(r.score, -1.0);
                assert!(
                    matches!(r.output, Err(Error::Parse { .. })),
                    "{:?}",
                    r.output
                );
            }
        }
    }
    assert_eq!(report.errors, failed);
    // Usage per example: one call when the answer parses; the JSON fallback and the re-ask
    // when it does not. The totals add up.
    assert_eq!(report.results[0].usage.calls, 1);
    assert_eq!(report.results[1].usage.calls, 3);
    assert_eq!(report.usage.calls, 40 + 20 * 3);
    let expected = (right as f64 - failed as f64) / 60.0;
    assert!(
        (report.score - expected).abs() < 1e-12,
        "{} vs {expected}",
        report.score
    );
    assert_eq!((right, wrong, failed), (30, 10, 20));
}

#[tokio::test]
async fn max_errors_stops_the_run_with_the_last_failure() {
    let (devset, lm) = setup(60);
    let program = Predict::<Capital>::new().with_lm(lm);
    let report = Evaluate::new(exact)
        .concurrency(4)
        .max_errors(3)
        .progress(false)
        .run(&program, &devset)
        .await
        .unwrap();
    // What was evaluated comes back, with why it stopped.
    let stopped = report.stopped.as_ref().unwrap();
    assert_eq!(stopped.total, 60);
    assert_eq!(stopped.evaluated, report.results.len());
    assert!(report.results.len() < 60 && report.errors == 3, "{report}");
    assert!(report.table(3).starts_with("STOPPED after"), "{report}");
    assert!(
        report.to_json()["stopped"]["cause"]
            .as_str()
            .unwrap()
            .contains("max_errors")
    );
    let err = report.into_complete().unwrap_err();
    match &err {
        Error::TooManyErrors { errors, last } => {
            assert_eq!(*errors, 4);
            assert!(matches!(**last, Error::Parse { .. }));
        }
        other => panic!("expected TooManyErrors, got {other:?}"),
    }
    assert!(err.to_string().contains("raise max_errors"), "{err}");

    // Under the limit, the same run completes.
    let (devset, lm) = setup(60);
    let program = Predict::<Capital>::new().with_lm(lm);
    let report = Evaluate::new(exact)
        .max_errors(20)
        .progress(false)
        .run(&program, &devset)
        .await
        .unwrap();
    assert_eq!(report.errors, 20);
}

/// Against a dead endpoint, an evaluation stops after 10 LM errors by default (it sent 4,000
/// requests over 114 s before) and returns what it evaluated; unreadable answers never stop it.
#[tokio::test]
async fn a_dead_endpoint_stops_the_evaluation_by_default() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let lm = LM::new(
        OpenAiLm::builder("m")
            .base_url(root)
            .api_key("EMPTY")
            .build()
            .unwrap(),
    );
    let (devset, _) = setup(500);
    let program = Predict::<Capital>::new().with_lm(lm.clone());
    let report = Evaluate::new(exact)
        .concurrency(4)
        .progress(false)
        .run(&program, &devset)
        .await
        .unwrap();
    let stopped = report.stopped.as_ref().expect("stopped");
    assert!(
        matches!(&stopped.cause, Error::TooManyErrors { errors: 11, last } if matches!(**last, Error::Lm { .. })),
        "{:?}",
        stopped.cause
    );
    assert!(
        stopped.cause.to_string().contains("max_lm_errors"),
        "{}",
        stopped.cause
    );
    assert_eq!(report.errors, 10);
    assert_eq!(report.results.len(), 10);
    assert!(lm.usage().requests <= 11 + 4, "{:?}", lm.usage());

    // Parse failures are examples, not LM errors: 20 of them never stop a run.
    let (devset, lm) = setup(60);
    let report = Evaluate::new(exact)
        .progress(false)
        .run(&Predict::<Capital>::new().with_lm(lm), &devset)
        .await
        .unwrap();
    assert!(report.is_complete());
    assert_eq!(report.errors, 20);
}

/// A budget that runs out mid-evaluation returns the examples evaluated before it.
#[tokio::test]
async fn a_budget_stop_keeps_what_was_evaluated() {
    let (devset, _) = setup(30);
    let answers = (0..30).map(|i| (country(i), json!({"city": format!("City{i}")})));
    let lm = LM::builder(DummyLm::keyed(answers))
        .budget(dspy::lm::Budget::new().max_calls(12))
        .build();
    let report = Evaluate::new(exact)
        .concurrency(1)
        .progress(false)
        .run(&Predict::<Capital>::new().with_lm(lm), &devset)
        .await
        .unwrap();
    assert_eq!(report.results.len(), 12);
    assert_eq!(report.score, 1.0, "the mean over the 12 evaluated");
    let stopped = report.stopped.as_ref().unwrap();
    assert_eq!((stopped.evaluated, stopped.total), (12, 30));
    assert!(matches!(report.into_complete(), Err(Error::Budget(_))));
}

#[tokio::test]
async fn metrics_may_return_numbers_bools_or_feedback() {
    let (devset, lm) = setup(6);
    let program = Predict::<Capital>::new().with_lm(lm);
    let graded = |ex: &Capital, out: &CapitalOutput| {
        if ex.city == out.city {
            (1.0, String::from("right"))
        } else {
            (0.25, format!("expected {}, got {}", ex.city, out.city))
        }
    };
    let report = Evaluate::new(graded)
        .progress(false)
        .run(&program, &devset)
        .await
        .unwrap();
    assert_eq!(report.results[0].feedback.as_deref(), Some("right"));
    assert_eq!(report.results[3].score, 0.25);
    assert_eq!(
        report.results[3].feedback.as_deref(),
        Some("expected City3, got Nowhere")
    );
    assert_eq!(report.results[1].feedback, None); // the call failed; no metric ran
}

#[tokio::test]
async fn exports_parse_back_and_the_table_shows_the_worst() {
    let (devset, lm) = setup(12);
    let program = Predict::<Capital>::new().with_lm(lm);
    let report = Evaluate::new(exact)
        .progress(false)
        .run(&program, &devset)
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("dspy-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    report.write_json(dir.join("report.json")).unwrap();
    report.write_csv(dir.join("report.csv")).unwrap();

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["score"], json!(report.score));
    assert_eq!(json["errors"], json!(report.errors));
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 12);
    assert_eq!(
        results[2]["example"],
        json!({"country": country(2), "city": "City2"})
    );
    assert_eq!(results[2]["output"], json!({"city": "City2"}));
    assert!(
        results[1]["error"]
            .as_str()
            .unwrap()
            .contains("could not parse")
    );

    let rows: Vec<BTreeMap<String, Value>> = dspy::data::load_csv(dir.join("report.csv")).unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[3]["country"], json!(country(3)));
    assert_eq!(rows[3]["pred_city"], json!("Nowhere"));
    assert_eq!(rows[3]["score"], json!(0));
    assert_eq!(rows[4]["score"], json!(1));
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap()
            .contains("could not parse")
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let table = report.table(3);
    assert!(
        table.starts_with(&format!("score {:.1}%", report.percent())),
        "{table}"
    );
    let rows: Vec<&str> = table.lines().skip(3).collect();
    assert_eq!(rows.len(), 3, "{table}");
    // Worst first: the failures (score 0, error) before wrong answers.
    assert!(rows.iter().all(|r| r.contains("ERROR")), "{table}");
}

/// Answer the question in a sentence.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    response: String,
}

#[tokio::test]
async fn semantic_f1_judges_with_its_own_module() {
    let devset = vec![
        QA {
            question: "Capital of France?".into(),
            response: "Paris.".into(),
        },
        QA {
            question: "Capital of Italy?".into(),
            response: "Rome.".into(),
        },
    ];
    let program_lm = LM::new(DummyLm::keyed([
        ("France", json!({"response": "Paris, on the Seine."})),
        ("Italy", json!({"response": "Milan."})),
    ]));
    let judge_lm = DummyLm::keyed([
        (
            "Paris, on the Seine.",
            json!({"reasoning": "Paris matches; the Seine is extra.", "recall": 1.0, "precision": 0.5}),
        ),
        (
            "Milan.",
            json!({"reasoning": "Milan is not Rome.", "recall": 0.0, "precision": 0.0}),
        ),
    ]);
    let metric = SemanticF1::new(
        |ex: &QA| ex.question.clone(),
        |ex: &QA| ex.response.clone(),
        |out: &QAOutput| out.response.clone(),
    )
    .with_lm(LM::new(judge_lm.clone()));
    assert_eq!(metric.predictor_names(), ["judge.predict"]);

    let report = Evaluate::new(metric)
        .progress(false)
        .run(&Predict::<QA>::new().with_lm(program_lm), &devset)
        .await
        .unwrap();
    assert!((report.results[0].score - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(report.results[1].score, 0.0);
    assert_eq!(
        report.results[1].feedback.as_deref(),
        Some("Milan is not Rome.")
    );
    // The judge saw the question, the ground truth and the response.
    let prompt = judge_lm.requests()[0].prompt.to_text();
    assert!(prompt.contains("ground_truth") && prompt.contains("system_response"));
}

/// Set in the child process of the test below.
const PROGRESS_CHILD: &str = "DSPY_TEST_PROGRESS_OFF_TERMINAL";

/// Where stderr is not a terminal (here a pipe, as in CI), progress left on by default is a
/// plain line, not a bar drawn nowhere: the child evaluates with the default progress and the
/// parent reads the line from the pipe.
#[tokio::test]
async fn off_a_terminal_progress_is_written_as_plain_lines() {
    if std::env::var_os(PROGRESS_CHILD).is_some() {
        let (devset, lm) = setup(12);
        let program = Predict::<Capital>::new().with_lm(lm);
        Evaluate::new(exact).run(&program, &devset).await.unwrap();
        return;
    }
    let name = crate::support::alone::test_name(
        module_path!(),
        "off_a_terminal_progress_is_written_as_plain_lines",
    );
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--test-threads=1"])
        .env(PROGRESS_CHILD, "1")
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Evaluate: 12/12 (100%) in "))
        .unwrap_or_else(|| panic!("no progress line in:\n{stderr}"));
    assert!(line.contains(" done"), "{line}");
    // The final line carries the final score: 6 of the 12 answers are right.
    assert!(line.contains("; score 50.0% ("), "{line}");
    // No bar's control sequences reach the pipe.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}
