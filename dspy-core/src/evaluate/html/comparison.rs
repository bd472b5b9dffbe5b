//! The page of a comparison: both means, the delta with its interval, McNemar's test,
//! per-class deltas, and the fixed and regressed examples.

use super::chart::{BarChart, interval_chart};
use super::markup::Html;
use super::page::{Page, Stat, Table, Tone, details};
use super::parts::{duration, fields_except, mono, outcome, percent, pill, points};
use crate::Result;
use crate::evaluate::comparison::{Comparison, PairedExample, ReportSummary};
use crate::evaluate::stats::McNemarMethod;
use std::path::Path;

/// Unchanged examples listed on the page at most (all are in the JSON and CSV).
const UNCHANGED_SHOWN: usize = 200;

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
        let skip = self.skip();
        page = page
            .section(
                &format!("Fixed ({})", self.fixed.len()),
                Some(&format!("Scored higher by {b} than by {a}.")),
                examples_table(&self.fixed, "fixed", &self.a, &self.b, &skip),
            )
            .section(
                &format!("Regressed ({})", self.regressed.len()),
                Some(&format!("Scored lower by {b} than by {a}.")),
                examples_table(&self.regressed, "regressed", &self.a, &self.b, &skip),
            );
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
                examples_table(shown, "unchanged", &self.a, &self.b, &skip),
            ),
        )
        .section("Usage", None, usage_table(&self.a, &self.b))
        .render()
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
            stats.push(Stat::new("McNemar p", format!("{:.4}", m.p_value)).detail(method));
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

    /// The class field has its own column; it is not repeated in the field lists.
    fn skip(&self) -> Vec<&str> {
        self.class_field.as_deref().into_iter().collect()
    }
}

fn examples_table(
    examples: &[PairedExample],
    class: &str,
    a: &ReportSummary,
    b: &ReportSummary,
    skip: &[&str],
) -> Html {
    if examples.is_empty() {
        return Html::markup("<p class=\"note\">None.</p>");
    }
    let headers = [
        "#".to_string(),
        "id".to_string(),
        "example".to_string(),
        a.name.clone(),
        b.name.clone(),
        "Δ".to_string(),
    ];
    let mut table = Table::new(headers).numeric([0, 5]).class(class);
    for p in examples {
        let gold: Html = skip
            .iter()
            .filter_map(|k| p.example.get(*k).map(|v| (k, v)))
            .map(|(k, v)| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                Html::markup(format!(
                    "<div>{}: {}</div>",
                    Html::text(k),
                    pill(&text, "neutral")
                ))
            })
            .collect();
        let side = |o: &crate::evaluate::Outcome| {
            let tone = if o.score >= 1.0 {
                "good"
            } else if o.score <= 0.0 {
                "bad"
            } else {
                "neutral"
            };
            Html::markup(format!(
                "{}{}",
                pill(&format!("{:.2}", o.score), tone),
                outcome(o.output.as_ref(), o.error.as_deref(), &[])
            ))
        };
        table.row_with_class(
            "pair",
            [
                mono(&p.a.index.to_string()),
                Html::markup(format!(
                    "<span class=\"mono\" data-id=\"{}\">{}</span>",
                    Html::text(&p.id),
                    Html::text(&p.id)
                )),
                Html::markup(format!("{}{gold}", fields_except(&p.example, skip))),
                side(&p.a),
                side(&p.b),
                Html::text(&points(p.delta())),
            ],
        );
    }
    table.render()
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
            Html::text(&format!("${:.4}", u.cost)),
            Html::text(&duration(side.elapsed_ms)),
        ]);
    }
    table.render()
}
