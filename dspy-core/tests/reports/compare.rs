//! Comparing two evaluations: pairing by id, refusals, the statistics it reports, per-class
//! deltas, and the JSON and CSV exports.

use crate::trec::{self, Classify, Report, answers, evaluate, gold, predicted, questions};
use dspy_core::Error;
use dspy_core::data::Rng;
use dspy_core::evaluate::{Change, Comparer, Comparison, Interval, McNemar, McNemarMethod};
use std::collections::{BTreeMap, BTreeSet};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn score(report: &Report, question: &str) -> f64 {
    let result = report
        .results
        .iter()
        .find(|r| r.example.question == question);
    result.unwrap().score
}

/// A: 60 questions, B: the same questions shuffled, with a better classifier.
fn two_reports() -> (Vec<Classify>, Report, Report) {
    let devset = questions(60);
    let mut shuffled = devset.clone();
    Rng::new(3).shuffle(&mut shuffled);
    assert_ne!(shuffled[0].question, devset[0].question);
    let rt = runtime();
    let a = rt.block_on(evaluate(&devset, &answers(&devset, 0.6, 0.05, 1)));
    let b = rt.block_on(evaluate(&shuffled, &answers(&shuffled, 0.8, 0.0, 2)));
    (devset, a, b)
}

#[test]
fn pairs_examples_by_content_across_a_reordered_dev_set() {
    let (devset, a, b) = two_reports();
    let cmp = Comparer::new().names("small", "large").run(&a, &b).unwrap();
    assert_eq!(cmp.examples(), 60);
    assert_eq!(cmp.paired_by, "content hash");
    // Fixed and regressed as computed question by question, not position by position.
    let by_question = |change: fn(f64, f64) -> bool| -> BTreeSet<String> {
        devset
            .iter()
            .filter(|ex| change(score(&a, &ex.question), score(&b, &ex.question)))
            .map(|ex| ex.question.clone())
            .collect()
    };
    let questions_of = |list: &[dspy_core::evaluate::PairedExample]| -> BTreeSet<String> {
        list.iter()
            .map(|p| p.example["question"].as_str().unwrap().to_string())
            .collect()
    };
    let fixed = by_question(|x, y| y > x);
    let regressed = by_question(|x, y| y < x);
    assert!(
        fixed.len() >= 5 && !regressed.is_empty(),
        "{} / {}",
        fixed.len(),
        regressed.len()
    );
    assert_eq!(questions_of(&cmp.fixed), fixed);
    assert_eq!(questions_of(&cmp.regressed), regressed);
    assert_eq!(cmp.unchanged.len(), 60 - fixed.len() - regressed.len());
    // Each pair holds both reports' own results for that question.
    for (_, p) in cmp.paired() {
        let question = p.example["question"].as_str().unwrap();
        assert_eq!(a.results[p.a.index].example.question, question);
        assert_eq!(b.results[p.b.index].example.question, question);
        let label = |o: &Option<serde_json::Value>| {
            o.as_ref().map(|o| o["label"].as_str().unwrap().to_string())
        };
        assert_eq!(label(&p.a.output).as_deref(), predicted(&a, question));
        assert_eq!(label(&p.b.output).as_deref(), predicted(&b, question));
        assert_eq!(p.a.error.is_some(), p.a.output.is_none());
    }
    assert!((cmp.a.score - a.score).abs() < 1e-12 && (cmp.b.score - b.score).abs() < 1e-12);
    assert!((cmp.delta - (b.score - a.score)).abs() < 1e-12);
    assert_eq!(
        (cmp.a.name.as_str(), cmp.b.name.as_str()),
        ("small", "large")
    );
    assert_eq!(cmp.a.errors, a.errors);
    assert_eq!(cmp.b.usage, b.usage);
}

#[test]
fn the_statistics_are_those_of_the_paired_scores() {
    let (devset, a, b) = two_reports();
    let cmp = a.compare(&b).unwrap();
    // The interval is the bootstrap of the deltas in the first report's order.
    let deltas: Vec<f64> = devset
        .iter()
        .map(|ex| score(&b, &ex.question) - score(&a, &ex.question))
        .collect();
    assert_eq!(
        cmp.interval,
        Interval::paired_bootstrap(&deltas, 10_000, 0.95, 0)
    );
    assert!(cmp.interval.low < cmp.delta && cmp.delta < cmp.interval.high);
    let mcnemar = cmp.mcnemar.unwrap();
    assert_eq!(mcnemar, McNemar::test(cmp.fixed.len(), cmp.regressed.len()));
    // Other settings are used.
    let other = Comparer::new()
        .resamples(500)
        .confidence(0.8)
        .seed(9)
        .run(&a, &b)
        .unwrap();
    assert_eq!(
        other.interval,
        Interval::paired_bootstrap(&deltas, 500, 0.8, 9)
    );
}

/// Answers for `devset`: the gold label where `right(i)`, another label elsewhere.
fn scripted(devset: &[Classify], right: impl Fn(usize) -> bool) -> Vec<serde_json::Value> {
    devset
        .iter()
        .enumerate()
        .map(|(i, ex)| {
            let wrong = trec::LABELS.iter().find(|l| **l != gold(ex)).unwrap();
            serde_json::json!({ "label": if right(i) { gold(ex) } else { wrong } })
        })
        .collect()
}

/// Two reports whose 2×2 table is given: `both` right in both, `neither` wrong in both,
/// `fixed` wrong then right, `regressed` right then wrong. The second runs the dev set
/// reversed.
fn table(both: usize, neither: usize, fixed: usize, regressed: usize) -> (Report, Report) {
    let devset = questions(both + neither + fixed + regressed);
    let first = |i: usize| i < both || i >= both + neither + fixed;
    let second = |i: usize| i < both || (both + neither..both + neither + fixed).contains(&i);
    let n = devset.len();
    let reversed: Vec<Classify> = devset.iter().rev().cloned().collect();
    let rt = runtime();
    let a = rt.block_on(evaluate(&devset, &scripted(&devset, first)));
    let b = rt.block_on(evaluate(
        &reversed,
        &scripted(&reversed, |i| second(n - 1 - i)),
    ));
    (a, b)
}

/// Hand-computed: 3 right in both, 1 wrong in both, 7 fixed, 1 regressed (12 examples).
/// Means 4/12 and 10/12, Δ = 6/12. McNemar, exact: 2 · (C(8,0) + C(8,1)) / 2^8 = 18/256.
/// The bootstrap mean of 12 draws from 7 × (+1), 1 × (−1), 4 × 0 has (exactly, by
/// enumerating the multinomial) P(M ≤ 0) = 0.0105, P(M ≤ 1/12) = 0.0277, P(M ≤ 9/12) =
/// 0.9517, P(M ≤ 10/12) = 0.9878, so the 95% interval from 100,000 resamples is
/// [1/12, 10/12].
#[test]
fn the_interval_and_mcnemar_match_a_hand_computed_table() {
    let (a, b) = table(3, 1, 7, 1);
    let cmp = Comparer::new().resamples(100_000).run(&a, &b).unwrap();
    assert_eq!(
        (cmp.fixed.len(), cmp.regressed.len(), cmp.unchanged.len()),
        (7, 1, 4)
    );
    assert!((cmp.a.score - 4.0 / 12.0).abs() < 1e-12);
    assert!((cmp.b.score - 10.0 / 12.0).abs() < 1e-12);
    assert!((cmp.delta - 0.5).abs() < 1e-12);
    let m = cmp.mcnemar.unwrap();
    assert_eq!((m.fixed, m.regressed), (7, 1));
    assert_eq!(m.method, McNemarMethod::ExactBinomial);
    assert!((m.p_value - 18.0 / 256.0).abs() < 1e-12, "{m:?}");
    assert!(
        (cmp.interval.low - 1.0 / 12.0).abs() < 1e-9,
        "{:?}",
        cmp.interval
    );
    assert!(
        (cmp.interval.high - 10.0 / 12.0).abs() < 1e-9,
        "{:?}",
        cmp.interval
    );
    assert!(cmp.interval.excludes_zero());

    // 30 fixed and 14 regressed of 50: χ² = (|30 − 14| − 1)² / 44 = 225/44, and
    // p = P(χ²₁ ≥ 225/44) = 0.023738515250054576 (scipy.stats.chi2.sf).
    let (a, b) = table(4, 2, 30, 14);
    let cmp = a.compare(&b).unwrap();
    let m = cmp.mcnemar.unwrap();
    assert_eq!(m.method, McNemarMethod::ChiSquare);
    assert!((m.statistic.unwrap() - 225.0 / 44.0).abs() < 1e-12);
    assert!((m.p_value - 0.023738515250054576).abs() < 1e-10, "{m:?}");
    assert!((cmp.delta - 16.0 / 50.0).abs() < 1e-12);
}

/// A score other than 0 or 1 anywhere: no McNemar test, and the table says so.
#[test]
fn a_graded_metric_gets_no_mcnemar_test() {
    let (mut a, b) = table(3, 1, 7, 1);
    // Example 4 is the first fixed one (wrong, then right); half right is still a gain.
    let partial = a.results.iter().position(|r| r.index == 4).unwrap();
    assert_eq!(a.results[partial].score, 0.0);
    a.results[partial].score = 0.5;
    let cmp = a.compare(&b).unwrap();
    assert_eq!(cmp.mcnemar, None);
    assert_eq!((cmp.fixed.len(), cmp.regressed.len()), (7, 1));
    assert!(cmp.fixed.iter().any(|p| p.a.score == 0.5));
    let text = cmp.to_string();
    assert!(text.contains("no McNemar test"), "{text}");
    let doc_has_card = cmp.to_html().contains("McNemar p");
    assert!(!doc_has_card);
}

#[test]
fn refuses_reports_of_different_dev_sets() {
    let devset = questions(30);
    let mut other = devset[..29].to_vec();
    other.push(questions(31)[30].clone());
    let rt = runtime();
    let a = rt.block_on(evaluate(&devset, &answers(&devset, 0.7, 0.0, 1)));
    let b = rt.block_on(evaluate(&other, &answers(&other, 0.7, 0.0, 1)));
    let err = a.compare(&b).unwrap_err();
    let Error::DevSetMismatch {
        only_in_first,
        only_in_second,
        sample,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((only_in_first.len(), only_in_second.len()), (1, 1));
    assert!(sample.contains(&devset[29].question[..20]), "{sample}");
    assert!(sample.contains(&other[29].question[..20]), "{sample}");
    let message = err.to_string();
    assert!(
        message.contains("1 examples only in the first, 1 only in the second"),
        "{message}"
    );
    assert!(message.contains("id_field"), "{message}");
    // A changed gold label is a different example too.
    let mut relabeled = devset.clone();
    relabeled[4].label = if relabeled[4].label == trec::Kind::Human {
        trec::Kind::Entity
    } else {
        trec::Kind::Human
    };
    let c = rt.block_on(evaluate(&relabeled, &answers(&relabeled, 0.7, 0.0, 1)));
    assert!(matches!(a.compare(&c), Err(Error::DevSetMismatch { .. })));
    // ... unless the user pairs by the question.
    let by_question = Comparer::new().id_by(|ex| ex["question"].as_str().map(str::to_string));
    let cmp = by_question.run(&a, &c).unwrap();
    assert_eq!(cmp.examples(), 30);
    assert_eq!(cmp.paired_by, "custom id");
    let id_field = Comparer::new().id_field("question").run(&a, &c).unwrap();
    assert_eq!(id_field.paired_by, "field question");
    assert_eq!(id_field.fixed, cmp.fixed);
}

#[test]
fn identical_examples_pair_by_order_but_user_ids_must_be_unique() {
    let mut devset = questions(10);
    devset.push(devset[2].clone());
    let rt = runtime();
    let a = rt.block_on(evaluate(&devset, &answers(&devset, 0.5, 0.0, 1)));
    let reversed: Vec<Classify> = devset.iter().rev().cloned().collect();
    let b = rt.block_on(evaluate(&reversed, &answers(&reversed, 0.5, 0.0, 2)));
    let cmp = a.compare(&b).unwrap();
    assert_eq!(cmp.examples(), 11);
    let ids: BTreeSet<&str> = cmp.paired().map(|(_, p)| p.id.as_str()).collect();
    assert_eq!(ids.len(), 11);
    assert_eq!(ids.iter().filter(|id| id.ends_with("#2")).count(), 1);
    let err = Comparer::new()
        .id_field("question")
        .run(&a, &b)
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("ids must be unique"), "{err}");
}

#[test]
fn per_class_deltas_group_by_the_gold_label() {
    let (devset, a, b) = two_reports();
    let cmp = a.compare(&b).unwrap();
    assert_eq!(cmp.class_field.as_deref(), Some("label"));
    // By hand: per gold class, the mean score of each report.
    let mut by_class: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
    for ex in &devset {
        let entry = by_class.entry(gold(ex)).or_default();
        entry.0 += 1;
        entry.1 += score(&a, &ex.question);
        entry.2 += score(&b, &ex.question);
    }
    assert_eq!(cmp.classes.len(), by_class.len());
    for class in &cmp.classes {
        let (n, sa, sb) = by_class[class.class.as_str()];
        assert_eq!(class.examples, n, "{}", class.class);
        assert!((class.a - sa / n as f64).abs() < 1e-12);
        assert!((class.b - sb / n as f64).abs() < 1e-12);
        assert!((class.delta - (sb - sa) / n as f64).abs() < 1e-12);
    }
    // In the schema's order.
    let order: Vec<&str> = cmp.classes.iter().map(|c| c.class.as_str()).collect();
    let expected: Vec<&str> = trec::LABELS
        .iter()
        .copied()
        .filter(|l| by_class.contains_key(l))
        .collect();
    assert_eq!(order, expected);
}

#[test]
fn json_round_trips_and_saved_reports_compare_the_same() {
    let (_, a, b) = two_reports();
    let cmp = Comparer::new()
        .names("A model", "B model")
        .run(&a, &b)
        .unwrap();
    let dir = tempdir("json");
    let path = dir.join("comparison.json");
    cmp.write_json(&path).unwrap();
    let back = Comparison::read_json(&path).unwrap();
    assert_eq!(back, cmp);
    // Reports saved as JSON compare to the same result (the class field named).
    let saved = Comparer::new()
        .names("A model", "B model")
        .class_field("label")
        .run_json(&a.to_json(), &b.to_json())
        .unwrap();
    assert_eq!(saved.fixed, cmp.fixed);
    assert_eq!(saved.regressed, cmp.regressed);
    assert_eq!(saved.interval, cmp.interval);
    assert_eq!(saved.classes, cmp.classes);
    assert_eq!(saved.mcnemar, cmp.mcnemar);
    let err = Comparison::read_json(dir.join("missing.json")).unwrap_err();
    assert!(matches!(err, Error::Data { .. }), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn csv_has_one_row_per_pair_with_both_outputs() {
    let (_, a, b) = two_reports();
    let cmp = a.compare(&b).unwrap();
    let dir = tempdir("csv");
    let path = dir.join("comparison.csv");
    cmp.write_csv(&path).unwrap();
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let at = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {header:?}"))
    };
    let (id, change, a_score, b_score) = (at("id"), at("change"), at("a_score"), at("b_score"));
    let (question, label, a_label, b_label, a_error) = (
        at("question"),
        at("label"),
        at("a_label"),
        at("b_label"),
        at("a_error"),
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), cmp.examples());
    let by_id: BTreeMap<&str, (Change, &dspy_core::evaluate::PairedExample)> =
        cmp.paired().map(|(c, p)| (p.id.as_str(), (c, p))).collect();
    for row in &rows {
        let (c, p) = by_id[&row[id]];
        assert_eq!(&row[change], c.as_str());
        assert_eq!(row[a_score].parse::<f64>().unwrap(), p.a.score);
        assert_eq!(row[b_score].parse::<f64>().unwrap(), p.b.score);
        assert_eq!(&row[question], p.example["question"].as_str().unwrap());
        assert_eq!(&row[label], p.example["label"].as_str().unwrap());
        let out = |o: &Option<serde_json::Value>| {
            o.as_ref()
                .map_or(String::new(), |o| o["label"].as_str().unwrap().to_string())
        };
        assert_eq!(row[a_label], out(&p.a.output));
        assert_eq!(row[b_label], out(&p.b.output));
        assert_eq!(row[a_error], p.a.error.clone().unwrap_or_default());
    }
    assert!(
        rows.iter().any(|r| !r[a_error].is_empty()),
        "a failed call has its error"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn prints_a_table_with_the_figures() {
    let (_, a, b) = two_reports();
    let cmp = Comparer::new().names("small", "large").run(&a, &b).unwrap();
    let text = cmp.to_string();
    let m = cmp.mcnemar.unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(first, "small → large: 60 examples paired by content hash");
    let expected = format!(
        "score {:.1}% → {:.1}%, Δ {:+.1} points, 95% CI [{:+.1}, {:+.1}]",
        100.0 * cmp.a.score,
        100.0 * cmp.b.score,
        100.0 * cmp.delta,
        100.0 * cmp.interval.low,
        100.0 * cmp.interval.high
    );
    assert!(
        text.lines().nth(1).unwrap().starts_with(&expected),
        "{text}"
    );
    let line = format!(
        "{} fixed, {} regressed, {} unchanged; McNemar p = {:.4}",
        m.fixed,
        m.regressed,
        cmp.unchanged.len(),
        m.p_value
    );
    assert!(text.lines().nth(2).unwrap().starts_with(&line), "{text}");
    assert!(
        text.contains(&format!("\nfixed ({}):", cmp.fixed.len())),
        "{text}"
    );
}

pub(crate) fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dspy-reports-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
