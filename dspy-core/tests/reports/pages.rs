//! The HTML pages, parsed: the confusion matrix cells are the counts, the charts carry the
//! series, the lists hold the right examples, and text from the data is escaped.

use crate::compare::tempdir;
use crate::trec::{Classify, Kind, LABELS, Report, answers, evaluate, gold, questions};
use dspy_core::data::Rng;
use dspy_core::evaluate::html::EvaluationPage;
use dspy_core::evaluate::{Comparer, Comparison};
use roxmltree::{Document, Node};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const HOSTILE: &str = "<script>alert(\"x\")</script> & <b>bold</b> 'quoted' ]]> --> ?";

/// 200 TREC questions and one with markup in it; two scripted classifiers.
fn reports() -> (Vec<Classify>, Report, Report) {
    let mut devset = questions(200);
    devset.insert(
        0,
        Classify {
            question: HOSTILE.into(),
            label: Kind::Human,
        },
    );
    let mut shuffled = devset.clone();
    Rng::new(5).shuffle(&mut shuffled);
    let mut first = answers(&devset, 0.62, 0.03, 11);
    first[0] = serde_json::json!({"label": "entity"}); // the hostile one is wrong, so listed
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let a = rt.block_on(evaluate(&devset, &first));
    let b = rt.block_on(evaluate(&shuffled, &answers(&shuffled, 0.78, 0.0, 12)));
    (devset, a, b)
}

/// Where pages are written: `DSPY_REPORT_PAGES_DIR` to keep them (to look at), else a
/// temporary folder of the test's own (tests run in parallel and remove theirs).
fn out_dir(test: &str) -> (PathBuf, bool) {
    match std::env::var_os("DSPY_REPORT_PAGES_DIR") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            (PathBuf::from(dir), true)
        }
        None => (tempdir(&format!("pages-{test}")), false),
    }
}

/// The page as XML (the pages are written well-formed so they can be read this way).
fn parse(html: &str) -> Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    Document::parse_with_options(html, options).expect("the page is well-formed")
}

fn by_class<'a, 'i>(doc: &'a Document<'i>, tag: &str, class: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| {
            n.has_tag_name(tag)
                && n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|w| w == class))
        })
        .collect()
}

/// The `<section>` whose heading is `heading`.
fn section<'a, 'i>(doc: &'a Document<'i>, heading: &str) -> Node<'a, 'i> {
    doc.descendants()
        .find(|n| {
            n.has_tag_name("section")
                && n.children()
                    .any(|h| h.has_tag_name("h2") && text(h) == heading)
        })
        .unwrap_or_else(|| panic!("no section {heading:?}"))
}

/// The `<svg>` under `within` whose `<title>` is `title`.
fn chart_titled<'a, 'i>(within: Node<'a, 'i>, title: &str) -> Node<'a, 'i> {
    within
        .descendants()
        .find(|n| {
            n.has_tag_name("svg")
                && n.children()
                    .any(|t| t.has_tag_name("title") && text(t) == title)
        })
        .unwrap_or_else(|| panic!("no chart {title:?}"))
}

fn text(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .map(|n| n.text().unwrap())
        .collect()
}

/// Nothing is fetched or run: no script, no link, no external reference.
fn assert_self_contained(doc: &Document) {
    for node in doc.descendants().filter(Node::is_element) {
        let tag = node.tag_name().name();
        assert!(
            !["script", "link", "iframe", "img", "object"].contains(&tag),
            "<{tag}>"
        );
        for attr in node.attributes() {
            let name = attr.name();
            assert!(!["src", "href"].contains(&name), "{tag} has {name}");
            assert!(!name.starts_with("on"), "{tag} has a handler {name}");
            assert!(!fetches(attr.value()), "{tag} {name}={:?}", attr.value());
        }
    }
    // The stylesheet fetches nothing either (no imported sheet, font or image).
    let styles: Vec<Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("style"))
        .collect();
    assert_eq!(styles.len(), 1);
    assert!(!fetches(&text(styles[0])));
}

fn fetches(css: &str) -> bool {
    let css = css.to_ascii_lowercase();
    ["url(", "@import", "@font-face", "http:", "https:", "//cdn"]
        .iter()
        .any(|w| css.contains(w))
}

#[test]
fn evaluation_page_shows_the_confusion_matrix_distribution_and_worst_examples() {
    let (devset, a, b) = reports();
    let (dir, keep) = out_dir("evaluation");
    let path = dir.join("evaluation.html");
    a.html()
        .title("TREC, scripted classifier")
        .worst(25)
        .write(&path)
        .unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    let doc = parse(&html);
    assert_self_contained(&doc);

    // The confusion matrix: every cell is the count of (gold, predicted), computed here.
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &a.results {
        let predicted = match &r.output {
            Ok(o) => LABELS[o.label as usize].to_string(),
            Err(_) => "failed".to_string(),
        };
        *expected
            .entry((gold(&r.example).to_string(), predicted))
            .or_default() += 1;
    }
    let matrix = &by_class(&doc, "table", "confusion")[0];
    let cells: Vec<Node> = matrix
        .descendants()
        .filter(|n| n.attribute("data-gold").is_some())
        .collect();
    assert_eq!(cells.len(), LABELS.len() * (LABELS.len() + 1));
    for cell in cells {
        let key = (
            cell.attribute("data-gold").unwrap().to_string(),
            cell.attribute("data-predicted").unwrap().to_string(),
        );
        let count: usize = text(cell).parse().unwrap();
        assert_eq!(count, expected.get(&key).copied().unwrap_or(0), "{key:?}");
    }
    let failed: usize = expected
        .iter()
        .filter(|((_, p), _)| p == "failed")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(failed, a.errors);
    assert!(failed > 0);
    // The same counts as the report's own matrix, and the overall accuracy in the corner.
    let m = a.confusion_matrix().unwrap();
    assert_eq!(
        m.count("human", "entity"),
        expected[&("human".into(), "entity".into())]
    );
    let corner = by_class(&doc, "tr", "precision-row")[0]
        .children()
        .next_back()
        .unwrap();
    assert_eq!(text(corner), format!("{:.1}%", 100.0 * m.accuracy()));

    // The score distribution: the 0 and 1 columns.
    let columns: BTreeMap<String, f64> = by_class(&doc, "g", "column")
        .iter()
        .map(|g| {
            (
                g.attribute("data-label").unwrap().into(),
                g.attribute("data-value").unwrap().parse().unwrap(),
            )
        })
        .collect();
    let right = a.results.iter().filter(|r| r.score == 1.0).count() as f64;
    assert_eq!(
        columns,
        BTreeMap::from([
            ("0".into(), devset.len() as f64 - right),
            ("1".into(), right)
        ])
    );

    // The mean score per gold class: its own chart in the Scores section, one bar per class
    // in the enum's order, each bar's value the class's mean and its text that mean and n.
    let scores = section(&doc, "Scores");
    let chart = chart_titled(scores, "mean score per label");
    let bars: Vec<(String, f64, String)> = chart
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("bar"))
        .map(|g| {
            let shown = g
                .children()
                .find(|c| c.attribute("class") == Some("value"))
                .unwrap();
            (
                g.attribute("data-label").unwrap().into(),
                g.attribute("data-value").unwrap().parse().unwrap(),
                text(shown),
            )
        })
        .collect();
    let mut per_class: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for r in &a.results {
        let entry = per_class.entry(gold(&r.example)).or_default();
        entry.0 += 1;
        entry.1 += r.score;
    }
    assert_eq!(bars.len(), LABELS.len());
    for ((label, value, shown), want_label) in bars.iter().zip(LABELS) {
        assert_eq!(label, want_label);
        let (n, sum) = per_class[want_label];
        let want = sum / n as f64;
        assert!((value - want).abs() < 1e-12, "{label}: {value} vs {want}");
        assert_eq!(shown, &format!("{:.1}% (n={n})", 100.0 * want), "{label}");
    }
    let support: usize = per_class.values().map(|(n, _)| n).sum();
    assert_eq!(support, devset.len());
    // Bars are drawn to scale on [0, 1]: a bar's width is proportional to its value.
    let widths: Vec<f64> = chart
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .map(|r| r.attribute("width").unwrap().parse().unwrap())
        .collect();
    assert_eq!(widths.len(), bars.len());
    let scale = widths.iter().sum::<f64>() / bars.iter().map(|b| b.1).sum::<f64>();
    assert!(scale > 100.0, "{scale} px per unit");
    for (width, (label, value, _)) in widths.iter().zip(&bars) {
        // Widths are written to 0.1 px.
        assert!((width - scale * value).abs() <= 0.2, "{label}: {width}");
    }

    // The worst examples, in the report's order; the hostile text shows as text.
    let worst = &by_class(&doc, "table", "worst")[0];
    let rows: Vec<Node> = worst
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.parent().unwrap().has_tag_name("tbody"))
        .collect();
    let indices: Vec<usize> = rows
        .iter()
        .map(|r| text(r.first_element_child().unwrap()).parse().unwrap())
        .collect();
    let expected: Vec<usize> = a.worst(25).iter().map(|r| r.index).collect();
    assert_eq!(indices, expected);
    assert!(
        indices.contains(&0),
        "the hostile example is among the worst"
    );
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(
        doc.descendants()
            .any(|n| n.is_text() && n.text().unwrap().contains(HOSTILE))
    );
    assert!(
        doc.descendants()
            .all(|n| !n.has_tag_name("b") || text(n) != "bold")
    );
    // A saved report makes the same page (its labels are in alphabetical order, as the enum's).
    let saved = EvaluationPage::from_json(&a.to_json()).unwrap();
    let saved = saved
        .title("TREC, scripted classifier")
        .class_field("label")
        .worst(25);
    assert_eq!(saved.render(), html);

    // An output column only where it shows something the class columns do not: the errors of
    // failed calls here; nothing for a classifier whose every call was read.
    assert!(worst_headers(&doc).contains(&"output".to_string()));
    assert!(a.worst(25).iter().any(|r| r.output.is_err()));
    assert!(b.results.iter().all(|r| r.output.is_ok()));
    let clean = b.html().worst(25).render();
    let headers = worst_headers(&parse(&clean));
    assert_eq!(headers, ["#", "score", "example", "gold", "predicted"]);
    if !keep {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// The column headers of the worst-examples table.
fn worst_headers(doc: &Document) -> Vec<String> {
    let worst = &by_class(doc, "table", "worst")[0];
    worst
        .descendants()
        .filter(|n| n.has_tag_name("th"))
        .map(text)
        .collect()
}

#[test]
fn comparison_page_lists_fixed_and_regressed_and_charts_the_classes() {
    let (_, a, b) = reports();
    let cmp: Comparison = Comparer::new()
        .names("gemma-270m", "smollm2-135m")
        .run(&a, &b)
        .unwrap();
    let (dir, keep) = out_dir("comparison");
    let path = dir.join("comparison.html");
    cmp.write_html(&path).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    let doc = parse(&html);
    assert_self_contained(&doc);

    let ids_in = |class: &str| -> Vec<String> {
        let table = by_class(&doc, "table", class);
        table[0]
            .descendants()
            .filter_map(|n| n.attribute("data-id"))
            .map(String::from)
            .collect()
    };
    let ids = |list: &[dspy_core::evaluate::PairedExample]| -> Vec<String> {
        list.iter().map(|p| p.id.clone()).collect()
    };
    assert_eq!(ids_in("fixed"), ids(&cmp.fixed));
    assert_eq!(ids_in("regressed"), ids(&cmp.regressed));
    assert!(cmp.fixed.len() > 10 && !cmp.regressed.is_empty());
    let unchanged: BTreeSet<String> = ids_in("unchanged").into_iter().collect();
    assert_eq!(unchanged, ids(&cmp.unchanged).into_iter().collect());

    // The per-class bar chart: one bar per class, its value the delta in points.
    let bars: Vec<(String, f64)> = by_class(&doc, "g", "bar")
        .iter()
        .map(|g| {
            (
                g.attribute("data-label").unwrap().into(),
                g.attribute("data-value").unwrap().parse().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, f64)> = cmp
        .classes
        .iter()
        .map(|c| (c.class.clone(), 100.0 * c.delta))
        .collect();
    assert_eq!(bars, expected);
    assert_eq!(bars.len(), 6);

    // The interval and the McNemar card.
    let interval = &by_class(&doc, "g", "interval")[0];
    let attr = |name: &str| interval.attribute(name).unwrap().parse::<f64>().unwrap();
    assert_eq!(attr("data-estimate"), 100.0 * cmp.delta);
    assert_eq!(attr("data-low"), 100.0 * cmp.interval.low);
    assert_eq!(attr("data-high"), 100.0 * cmp.interval.high);
    let cards: BTreeMap<String, String> = by_class(&doc, "div", "stat")
        .iter()
        .map(|card| {
            let part = |class: &str| {
                text(
                    card.children()
                        .find(|c| c.attribute("class") == Some(class))
                        .unwrap(),
                )
            };
            (part("label"), part("value"))
        })
        .collect();
    let p = cmp.mcnemar.unwrap().p_value;
    let shown: f64 = cards["McNemar p"].parse().unwrap();
    assert!((shown - p).abs() <= 0.05 * p, "{shown} for {p}");
    assert_ne!(cards["McNemar p"], "0.0000");
    assert_eq!(cards["fixed"], cmp.fixed.len().to_string());
    assert_eq!(
        cards["gemma-270m mean"],
        format!("{:.1}%", 100.0 * cmp.a.score)
    );
    assert!(
        html.contains("&lt;script&gt;alert("),
        "the hostile question is escaped in its list"
    );
    if !keep {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// The public pieces build another report's page (as dspy-optimize's compile report will):
/// trials as dots, the best so far, the returned one ringed, a table of candidates.
#[test]
fn the_public_pieces_build_a_compile_style_page() {
    use dspy_core::evaluate::html::{
        Html, LineChart, Page, Stat, Table, Tone, duration, mono, percent, pill,
    };
    let mut rng = Rng::new(4);
    let scores: Vec<Option<f64>> = (0..40)
        .map(|i| (i % 9 != 4).then(|| 0.45 + 0.3 * rng.next_f64() + 0.004 * i as f64))
        .collect();
    let best = LineChart::best_so_far(scores.clone());
    let returned = 1
        + (0..scores.len())
            .max_by(|a, b| {
                scores[*a]
                    .unwrap_or(0.0)
                    .total_cmp(&scores[*b].unwrap_or(0.0))
            })
            .unwrap();
    let chart = LineChart::new("score per trial")
        .domain(0.0, 1.0)
        .percent()
        .dots("trial score", scores.clone())
        .step("best so far", best.clone())
        .ring(returned, "returned");
    let mut table = Table::new(["#", "candidate", "score"])
        .numeric([0, 2])
        .widths([6, 80, 14])
        .class("trials");
    for (i, score) in scores.iter().enumerate() {
        let cell = match score {
            Some(s) => Html::text(&percent(*s)),
            None => pill("failed", Tone::Bad),
        };
        let candidate = format!("bootstrap seed {i} <{} demos>", i % 5);
        table.row([mono(&(i + 1).to_string()), Html::text(&candidate), cell]);
    }
    let page = Page::new("Compile report")
        .subtitle("BootstrapFewShotWithRandomSearch on TREC, seed 0")
        .stats([
            Stat::new("best score", percent(best.last().unwrap().unwrap())).tone(Tone::Accent),
            Stat::new("trials", scores.len().to_string()),
            Stat::new("wall time", duration(754_000)),
        ])
        .section(
            "Score per trial",
            Some(
                "Dots are trials; the line is the best so far; the ring is the candidate returned.",
            ),
            chart.render(),
        )
        .section("Trials", None, table.render());
    let (dir, keep) = out_dir("compile");
    let path = dir.join("compile.html");
    page.write(&path).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    let doc = parse(&html);
    assert_self_contained(&doc);
    let read = |series: &str| -> Vec<(usize, f64)> {
        let group = doc
            .descendants()
            .find(|n| n.attribute("data-series") == Some(series))
            .unwrap();
        group
            .descendants()
            .filter_map(|n| {
                Some((
                    n.attribute("data-x")?.parse().ok()?,
                    n.attribute("data-value")?.parse().ok()?,
                ))
            })
            .collect()
    };
    let want = |values: &[Option<f64>]| -> Vec<(usize, f64)> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i + 1, v)))
            .collect()
    };
    assert_eq!(read("trial score"), want(&scores));
    assert_eq!(read("best so far"), want(&best));
    let rows = by_class(&doc, "table", "trials")[0]
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.parent().unwrap().has_tag_name("tbody"))
        .count();
    assert_eq!(rows, scores.len());
    assert!(
        doc.descendants()
            .any(|n| n.text() == Some("bootstrap seed 3 <3 demos>"))
    );
    if !keep {
        std::fs::remove_dir_all(dir).ok();
    }
}
