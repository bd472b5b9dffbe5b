//! The compile report's HTML page, parsed: the chart has one dot per scored trial at its index
//! with its score, the best-so-far line rises through every trial, the returned one is ringed
//! and its row marked, every trial's candidate is a table row, and a budget stop shows.
//!
//! `DSPY_REPORT_PAGES_DIR=dir` keeps the pages written (to look at them).

use dspy_core::lm::{BoxFuture, LmRequest, LmResponse, UsageReport};
use dspy_core::{DummyLm, LM, LanguageModel, Predict, with_lm};
use dspy_macros::Signature;
use dspy_optimize::{BootstrapFewShotWithRandomSearch, CompileReport, MIPROv2, Trial};
use roxmltree::{Document, Node};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// Answer with the capital city.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct Capital {
    #[input]
    country: String,
    #[output]
    city: String,
}

const CAPITALS: [(&str, &str); 8] = [
    ("France", "Paris"),
    ("Peru", "Lima"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Chile", "Santiago"),
    ("Laos", "Vientiane"),
    ("Spain", "Madrid"),
    ("Italy", "Rome"),
];

/// The task model: right about the capital asked (the last country in the prompt) unless a
/// hash of the whole prompt says otherwise, so every candidate's demos and instructions change
/// its score.
#[derive(Debug, Clone)]
struct Task;

fn hash(text: &str) -> u64 {
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
        let city = CAPITALS
            .iter()
            .filter_map(|(country, city)| text.rfind(country).map(|at| (at, *city)))
            .max_by_key(|(at, _)| *at)
            .map_or("Springfield", |(_, city)| city);
        let city = if hash(&text) % 5 < 2 {
            "Springfield"
        } else {
            city
        };
        reply(request, json!({ "city": city }))
    }
}

/// The prompt model: every proposer field, worded by the hash.
#[derive(Debug, Clone)]
struct Proposer;

impl LanguageModel for Proposer {
    fn model(&self) -> &str {
        "proposer"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
        let h = hash(&request.prompt.to_text()) ^ request.rollout_id.unwrap_or(0);
        let value = json!({
            "proposed_instruction": format!("Name the capital city of the country (variant {}).", h % 97),
            "observations": "Country names.",
            "summary": "Countries and their capitals.",
            "program_description": "It names capitals.",
            "module_description": "It names the capital.",
        });
        reply(request, value)
    }
}

fn examples() -> Vec<Capital> {
    CAPITALS
        .iter()
        .map(|(country, city)| Capital {
            country: country.to_string(),
            city: city.to_string(),
        })
        .collect()
}

fn metric(ex: &Capital, out: &CapitalOutput) -> bool {
    ex.city == out.city
}

type Metric = fn(&Capital, &CapitalOutput) -> bool;

/// A real compile: a random search.
async fn random_search_report() -> CompileReport {
    let examples = examples();
    let search = BootstrapFewShotWithRandomSearch::new(metric as Metric)
        .max_bootstrapped_demos(2)
        .max_labeled_demos(3)
        .num_candidate_programs(8)
        .progress(false);
    let program = Predict::<Capital>::new();
    let compile = search.compile_with_valset(&program, &examples[..6], &examples[2..]);
    with_lm(LM::new(Task), compile).await.unwrap().report
}

/// A real compile whose scored trials come after unscored ones (demo sets, proposals).
async fn mipro_report() -> CompileReport {
    let examples = examples();
    let mipro = MIPROv2::new(metric as Metric)
        .num_candidates(4)
        .num_trials(9)
        .minibatch_size(3)
        .minibatch_full_eval_steps(3)
        .max_bootstrapped_demos(2)
        .max_labeled_demos(2)
        .task_model(LM::new(Task))
        .prompt_model(LM::new(Proposer))
        .progress(false);
    let program = Predict::<Capital>::new();
    let compiled = mipro.compile_with_valset(&program, &examples[..4], &examples[2..]);
    compiled.await.unwrap().report
}

fn parse(html: &str) -> Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    Document::parse_with_options(html, options).expect("the page is well-formed")
}

fn text(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn has_class(node: Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split(' ').any(|w| w == class))
}

/// `(data-x, data-value)` of the marks of the chart series `name`.
fn series(doc: &Document, name: &str) -> Vec<(usize, f64)> {
    let group = doc
        .descendants()
        .find(|n| n.attribute("data-series") == Some(name))
        .unwrap_or_else(|| panic!("no series {name:?}"));
    group
        .descendants()
        .filter_map(|n| {
            let x = n.attribute("data-x")?.parse().ok()?;
            Some((x, n.attribute("data-value")?.parse().ok()?))
        })
        .collect()
}

/// The rows of the table of class `class`.
fn rows<'a, 'i>(doc: &'a Document<'i>, class: &str) -> Vec<Node<'a, 'i>> {
    let table = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && has_class(*n, class))
        .unwrap_or_else(|| panic!("no table {class:?}"));
    table
        .descendants()
        .filter(|n| n.has_tag_name("tbody"))
        .flat_map(|b| b.children().filter(|r| r.has_tag_name("tr")))
        .collect()
}

/// The value and the class of the stat card labelled `label`.
fn stat(doc: &Document, label: &str) -> (String, String) {
    let card = doc
        .descendants()
        .find(|n| {
            has_class(*n, "stat")
                && n.children()
                    .any(|c| has_class(c, "label") && text(c) == label)
        })
        .unwrap_or_else(|| panic!("no stat {label:?}"));
    let value = card.children().find(|c| has_class(*c, "value")).unwrap();
    (
        text(value),
        card.attribute("class").unwrap_or("").to_string(),
    )
}

fn keep(name: &str, html: &str) {
    if let Some(dir) = std::env::var_os("DSPY_REPORT_PAGES_DIR") {
        let path = PathBuf::from(dir).join(name);
        std::fs::write(path, html).unwrap();
    }
}

#[tokio::test]
async fn the_page_of_a_compile_carries_its_trials() {
    check_page("compile-random-search.html", &random_search_report().await);
    check_page("compile-mipro.html", &mipro_report().await);
}

/// Checks the page of `report`, kept as `name`.
fn check_page(name: &str, report: &CompileReport) {
    let html = report.html();
    keep(name, &html);
    let doc = parse(&html);
    let scored: Vec<(usize, f64)> = report
        .trials
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t.score?)))
        .collect();
    assert!(scored.len() >= 3, "{report}");
    let distinct: std::collections::BTreeSet<u64> = scored.iter().map(|s| s.1.to_bits()).collect();
    assert!(distinct.len() > 1, "the scores should differ: {report}");
    // One dot per scored trial, at its index, with its score.
    assert_eq!(series(&doc, "trial score"), scored);
    // The best so far: at every index from the first score on, the running maximum.
    let best = series(&doc, "best so far");
    let first = scored[0].0;
    assert_eq!(
        best.iter().map(|p| p.0).collect::<Vec<_>>(),
        (first..report.trials.len()).collect::<Vec<_>>()
    );
    assert!(best.windows(2).all(|w| w[1].1 >= w[0].1), "{best:?}");
    let max = scored.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    assert_eq!(best.last().map(|p| p.1), Some(max));
    for (i, value) in &best {
        let so_far = scored
            .iter()
            .filter(|s| s.0 <= *i)
            .map(|s| s.1)
            .fold(f64::MIN, f64::max);
        assert_eq!(*value, so_far, "at {i}");
    }
    // The returned one is ringed, and its row marked.
    let chosen = report.best.unwrap();
    let ring = doc.descendants().find(|n| has_class(*n, "ring")).unwrap();
    assert_eq!(ring.attribute("data-x"), Some(chosen.to_string().as_str()));
    let trials = rows(&doc, "trials");
    assert_eq!(trials.len(), report.trials.len());
    for (i, (row, trial)) in trials.iter().zip(&report.trials).enumerate() {
        let cells: Vec<Node> = row.children().filter(|c| c.has_tag_name("td")).collect();
        assert_eq!(text(cells[0]), i.to_string());
        assert!(
            text(cells[1]).starts_with(&trial.candidate),
            "{}",
            text(cells[1])
        );
        assert_eq!(has_class(*row, "best"), i == chosen, "row {i}");
        // A candidate's demos are listed under it by their examples' ids.
        let demos = row.descendants().find(|n| has_class(*n, "demos"));
        assert_eq!(demos.is_some(), !trial.demos.is_empty(), "row {i}");
        if let Some(demos) = demos {
            let line = text(demos);
            for (name, ids) in &trial.demos {
                let first = &ids[0][..8];
                assert!(
                    line.contains(&format!("{name} {} ({first}", ids.len())),
                    "{line}"
                );
            }
        }
    }
    // Both compiles tried demo sets: some rows list them.
    assert!(
        trials
            .iter()
            .any(|r| r.descendants().any(|n| has_class(n, "demos"))),
        "{name}"
    );
    assert!(text(trials[chosen]).contains("returned"));
    let below = report.best_score.unwrap() < max;
    assert_eq!(
        text(doc.root()).contains("not the highest dot"),
        below,
        "{name}"
    );
    // The headline numbers.
    assert_eq!(
        stat(&doc, "best score").0,
        format!("{:.1}%", 100.0 * report.best_score.unwrap())
    );
    assert_eq!(stat(&doc, "LM calls").0, report.lm_calls().to_string());
    let (budget, class) = stat(&doc, "LM budget");
    assert_eq!(
        (budget.as_str(), class.contains("good")),
        ("not reached", true)
    );
    // The axis counts trials from 0, as the report does.
    let axis: Vec<String> = doc
        .descendants()
        .filter(|n| n.attribute("text-anchor") == Some("middle") && has_class(*n, "muted"))
        .map(text)
        .collect();
    assert_eq!(axis.first().map(String::as_str), Some("0"));

    let dir = std::env::temp_dir().join(format!("dspy-compile-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    report.write_html(dir.join("compile.html")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("compile.html")).unwrap(),
        html
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_budget_stop_and_hostile_text_show_as_they_are() {
    const HOSTILE: &str = "<script>alert(\"x\")</script> & 'quoted' ]]> -->";
    let usage = UsageReport {
        calls: 9,
        failed_calls: 1,
        refused_calls: 1,
        ..Default::default()
    };
    let mut report = CompileReport::new("COPRO", 3);
    let second = Duration::from_secs(1);
    report
        .trials
        .push(Trial::new("propose: Be brief.", None, &usage, second));
    report
        .trials
        .push(Trial::new(HOSTILE, Some(2.5), &usage, second));
    let error = dspy_core::Error::Budget("the limit of 10 LM calls is reached".into());
    report
        .trials
        .push(Trial::new("round 1 #1", Some(1.0), &usage, second).failed(&error));
    report.choose(1);
    report.stopped_by_budget = true;
    report.usage = usage;
    let html = report.html();
    keep("compile-budget.html", &html);
    let doc = parse(&html);
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
    let trials = rows(&doc, "trials");
    assert!(text(trials[1]).contains(HOSTILE));
    assert!(text(trials[2]).contains("limit of 10 LM calls"));
    // Scores outside [0, 1] are written as numbers, not percentages.
    assert_eq!(stat(&doc, "best score").0, "2.500");
    assert_eq!(series(&doc, "trial score"), [(1, 2.5), (2, 1.0)]);
    assert_eq!(series(&doc, "best so far"), [(1, 2.5), (2, 2.5)]);
    let (budget, class) = stat(&doc, "LM budget");
    assert_eq!((budget.as_str(), class.contains("bad")), ("ran out", true));
    let page = text(doc.root());
    assert!(page.contains("stopped by the LM budget"));
    assert!(page.contains("budget ran out by trial #2"), "{page}");
}
