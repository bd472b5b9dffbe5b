//! The page of a comparison: both means, the delta with its interval, McNemar's test,
//! per-class deltas, and the fixed and regressed examples.

use super::chart::{BarChart, interval_chart};
use super::markup::Html;
use super::numbers::{duration, p_value, percent, points};
use super::page::{Page, Stat, Table, Tone, details};
use super::parts::{fields, mono, outcome, pill};
use crate::Result;
use crate::evaluate::comparison::{Comparison, Outcome, PairedExample, ReportSummary};
use crate::evaluate::stats::McNemarMethod;
use std::path::Path;

/// Unchanged examples listed on the page at most (all are in the JSON and CSV).
const UNCHANGED_SHOWN: usize = 200;
/// Fixed, and regressed, examples listed at most.
const LIST_SHOWN: usize = 500;

impl Comparison {
    /// The comparison as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        let (a, b) = (&self.a.name, &self.b.name);
        let mut page = Page::new(format!("{a} → {b}"))
            .subtitle(format!(
                "{} examples paired by {} · Δ is {b} minus {a}, in percentage points",
                self.examples(),
                self.paired_by
            ))
            .stats(self.stats())
            .section(
                "Difference in mean score",
                Some(&format!(
                    "The dot is the difference, the bar its {:.0}% paired bootstrap interval ({} resamples, seed {}). An interval clear of 0 is a real difference at that level.",
                    100.0 * self.interval.confidence,
                    self.interval.resamples,
                    self.interval.seed
                )),
                interval_chart(
                    "difference in mean score with its confidence interval",
                    100.0 * self.delta,
                    100.0 * self.interval.low,
                    100.0 * self.interval.high,
                    "pts",
                ),
            );
        if let Some(field) = &self.class_field {
            page = page.section(
                &format!("Per class: {field}"),
                Some("Mean score of each gold class in both reports; bars show the change."),
                self.class_section(),
            );
        }
        self.list_sections(page)
            .section("Usage", None, usage_table(&self.a, &self.b))
            .render()
    }

    /// The fixed, regressed and unchanged examples (the unchanged ones folded).
    fn list_sections(&self, mut page: Page) -> Page {
        let (a, b) = (&self.a.name, &self.b.name);
        let field = self.class_field.as_deref();
        for (title, list, class, verb) in [
            ("Fixed", &self.fixed, "fixed", "higher"),
            ("Regressed", &self.regressed, "regressed", "lower"),
        ] {
            let shown = &list[..list.len().min(LIST_SHOWN)];
            let mut note = format!("Scored {verb} by {b} than by {a}, largest change first.");
            if shown.len() < list.len() {
                note.push_str(&format!(
                    " The first {} are listed; all are in the JSON and CSV.",
                    shown.len()
                ));
            }
            page = page.section(
                &format!("{title} ({})", list.len()),
                Some(&note),
                examples_table(shown, class, &self.a, &self.b, field),
            );
        }
        let shown = &self.unchanged[..self.unchanged.len().min(UNCHANGED_SHOWN)];
        let summary = format!(
            "Show {} of {} unchanged examples",
            shown.len(),
            self.unchanged.len()
        );
        page.section(
            &format!("Unchanged ({})", self.unchanged.len()),
            None,
            details(
                &summary,
                examples_table(shown, "unchanged", &self.a, &self.b, field),
            ),
        )
    }

    /// Writes [`to_html`](Comparison::to_html) to `path`, atomically.
    pub fn write_html(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::evaluate::files::write(path.as_ref(), self.to_html().as_bytes())
    }

    fn stats(&self) -> Vec<Stat> {
        let tone = match (self.interval.excludes_zero(), self.delta > 0.0) {
            (false, _) => Tone::Accent,
            (true, true) => Tone::Good,
            (true, false) => Tone::Bad,
        };
        let mut stats = vec![
            Stat::new(format!("{} mean", self.a.name), percent(self.a.score)),
            Stat::new(format!("{} mean", self.b.name), percent(self.b.score)),
            Stat::new("Δ score", format!("{} pts", points(self.delta)))
                .detail(format!(
                    "{:.0}% CI [{}, {}]",
                    100.0 * self.interval.confidence,
                    points(self.interval.low),
                    points(self.interval.high)
                ))
                .tone(tone),
            Stat::new("fixed", self.fixed.len().to_string()).tone(Tone::Good),
            Stat::new("regressed", self.regressed.len().to_string()).tone(Tone::Bad),
        ];
        if let Some(m) = &self.mcnemar {
            let method = match m.method {
                McNemarMethod::ExactBinomial => "exact binomial".to_string(),
                McNemarMethod::ChiSquare => {
                    format!(
                        "χ² = {:.2}, continuity-corrected",
                        m.statistic.unwrap_or(0.0)
                    )
                }
            };
            stats.push(Stat::new("McNemar p", p_value(m.p_value)).detail(method));
        }
        stats
    }

    fn class_section(&self) -> Html {
        let chart = self.classes.iter().fold(
            BarChart::new("change in mean score per class, in points"),
            |chart, c| {
                chart.bar(
                    &c.class,
                    100.0 * c.delta,
                    format!("{} pts", points(c.delta)),
                )
            },
        );
        let mut table = Table::new(["class", "n", &self.a.name, &self.b.name, "Δ pts"])
            .numeric([1, 2, 3, 4])
            .class("classes");
        for c in &self.classes {
            table.row([
                Html::text(&c.class),
                Html::text(&c.examples.to_string()),
                Html::text(&percent(c.a)),
                Html::text(&percent(c.b)),
                Html::text(&points(c.delta)),
            ]);
        }
        Html::markup(format!(
            "<div class=\"charts\"><div>{}</div><div style=\"flex:1 1 320px\">{}</div></div>",
            chart.render(),
            table.render()
        ))
    }
}

fn examples_table(
    examples: &[PairedExample],
    class: &str,
    a: &ReportSummary,
    b: &ReportSummary,
    field: Option<&str>,
) -> Html {
    if examples.is_empty() {
        return Html::markup("<p class=\"note\">None.</p>");
    }
    let skip: Vec<&str> = field.into_iter().collect();
    let mut headers = vec!["#".to_string(), "example".to_string()];
    let mut widths = vec![5, 41];
    if let Some(field) = field {
        headers.push(format!("gold {field}"));
        widths.push(10);
    }
    headers.extend([a.name.clone(), b.name.clone(), "Δ score".to_string()]);
    let side = if field.is_some() { 19 } else { 24 };
    widths.extend([side, side, 6]);
    let mut table = Table::new(headers)
        .numeric([0, widths.len() - 1])
        .widths(widths)
        .class(class);
    for p in examples {
        let mut cells = vec![
            mono(&p.a.index.to_string()),
            Html::markup(format!(
                "{}<div class=\"mono\" data-id=\"{id}\">id {id}</div>",
                fields(&p.example, &skip),
                id = Html::text(&p.id)
            )),
        ];
        if let Some(field) = field {
            cells.push(pill(&label(p.example.get(field)), Tone::Neutral));
        }
        cells.push(side_cell(&p.a, field));
        cells.push(side_cell(&p.b, field));
        cells.push(Html::text(&format!("{:+.2}", p.delta())));
        table.row_with_class("pair", cells);
    }
    table.render()
}

/// One report's result: the predicted class (or the score) in a pill coloured by the score,
/// then the other output fields, or the error.
fn side_cell(o: &Outcome, field: Option<&str>) -> Html {
    let tone = match o.score {
        s if s >= 1.0 => Tone::Good,
        s if s <= 0.0 => Tone::Bad,
        _ => Tone::Neutral,
    };
    let score = format!("{:.2}", o.score);
    let predicted = field.and_then(|f| o.output.as_ref()?.get(f));
    let head = match (predicted, &o.error) {
        (Some(value), _) => Html::markup(format!(
            "{} <span class=\"mono\">{score}</span>",
            pill(&label(Some(value)), tone)
        )),
        (None, Some(_)) if field.is_some() => Html::markup(format!(
            "{} <span class=\"mono\">{score}</span>",
            pill("failed", tone)
        )),
        _ => pill(&score, tone),
    };
    let skip: Vec<&str> = field.into_iter().collect();
    Html::markup(format!(
        "<div>{head}</div>{}",
        outcome(o.output.as_ref(), o.error.as_deref(), &skip)
    ))
}

fn label(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn usage_table(a: &ReportSummary, b: &ReportSummary) -> Html {
    let mut table = Table::new([
        "",
        "mean",
        "examples",
        "failed",
        "LM calls",
        "cache hits",
        "tokens",
        "cost",
        "wall time",
    ])
    .numeric(1..9)
    .class("usage");
    for side in [a, b] {
        let u = &side.usage;
        table.row([
            Html::markup(format!("<b>{}</b>", Html::text(&side.name))),
            Html::text(&percent(side.score)),
            Html::text(&side.examples.to_string()),
            Html::text(&side.errors.to_string()),
            Html::text(&u.calls.to_string()),
            Html::text(&u.cache_hits.to_string()),
            Html::text(&u.total_tokens().to_string()),
            Html::text(&if u.cost > 0.0 {
                format!("${:.4}", u.cost)
            } else {
                "–".into()
            }),
            Html::text(&duration(side.elapsed_ms)),
        ]);
    }
    table.render()
}
