//! The page of one evaluation: the mean, the confusion matrix of a class output, the score
//! distribution and the worst examples.

use super::chart::{BarChart, ColumnChart};
use super::markup::{Html, escape};
use super::numbers::{duration, percent, usage_line};
use super::page::{Page, Stat, Table, Tone};
use super::parts::{fields, mono, outcome, pill};
use crate::Result;
use crate::evaluate::EvaluationReport;
use crate::evaluate::classes::{ClassField, ConfusionMatrix};
use crate::evaluate::rows::{Row, Rows, mean};
use crate::signature::field_schema;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// The HTML page of one evaluation, made by [`EvaluationReport::html`]; set its title, class
/// field and length, then [`write`](EvaluationPage::write) it.
///
/// The page shows the mean score and usage, the confusion matrix of the class field (gold
/// from the example's field, predicted from the output's field of the same name; found as for
/// [`EvaluationReport::confusion_matrix`]), the distribution of scores, and the worst examples.
#[derive(Debug, Clone)]
pub struct EvaluationPage {
    rows: Rows,
    schema: Option<Value>,
    title: String,
    class_field: Option<String>,
    worst: usize,
}

impl<E: Serialize, O: Serialize + JsonSchema> EvaluationReport<E, O> {
    /// The report's HTML page, to adjust before writing; see [`EvaluationPage`].
    pub fn html(&self) -> EvaluationPage {
        EvaluationPage::new(Rows::of(self), Some(field_schema::<O>()))
    }

    /// Writes the report's HTML page (one self-contained file) to `path`.
    ///
    /// ```no_run
    /// # fn f(report: dspy_core::evaluate::EvaluationReport<serde_json::Value, String>) -> dspy_core::Result<()> {
    /// report.write_html("report.html")?;
    /// report.html().title("TREC, Gemma 3 270M").worst(50).write("gemma.html")?;
    /// # Ok(()) }
    /// ```
    pub fn write_html(&self, path: impl AsRef<Path>) -> Result<()> {
        self.html().write(path)
    }
}

impl EvaluationPage {
    fn new(rows: Rows, schema: Option<Value>) -> Self {
        EvaluationPage {
            rows,
            schema,
            title: "Evaluation".into(),
            class_field: None,
            worst: 20,
        }
    }

    /// The page of a report saved by
    /// [`EvaluationReport::write_json`](crate::evaluate::EvaluationReport::write_json). Without
    /// the output type there is no schema: name the class field with
    /// [`class_field`](EvaluationPage::class_field) to get a confusion matrix.
    pub fn from_json(report: &Value) -> Result<Self> {
        Ok(EvaluationPage::new(Rows::from_json(report)?, None))
    }

    /// The page's title ("Evaluation" by default).
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The field of the confusion matrix, instead of the first string enum of the output.
    #[must_use]
    pub fn class_field(mut self, name: impl Into<String>) -> Self {
        self.class_field = Some(name.into());
        self
    }

    /// How many of the worst examples to list (20 by default).
    #[must_use]
    pub fn worst(mut self, n: usize) -> Self {
        self.worst = n;
        self
    }

    /// The document.
    pub fn render(&self) -> String {
        let class = self.class();
        let mut page = Page::new(&self.title)
            .subtitle(format!(
                "{} examples · {}",
                self.rows.rows.len(),
                usage_line(&self.rows.usage)
            ))
            .stats(self.stats());
        if let Some(matrix) = class
            .as_ref()
            .and_then(|c| ConfusionMatrix::of(c, &self.rows.rows))
        {
            page = page.section(
                &format!("Confusion matrix: {}", matrix.field),
                Some("Rows are the gold class (the example's field), columns the predicted class. Green: correct; red: confused, shaded by the share of the row."),
                confusion_table(&matrix),
            );
        }
        let mut charts = vec![score_chart(&self.rows.rows)];
        charts.extend(class.as_ref().and_then(|c| class_chart(c, &self.rows.rows)));
        let charts: Html = charts
            .into_iter()
            .map(|c| Html::tag("div", "", c))
            .collect();
        page = page.section(
            "Scores",
            Some("How many examples got each score, and the mean score of each gold class."),
            Html::tag("div", "charts", charts),
        );
        let skip: Vec<&str> = class
            .as_ref()
            .map(|c| c.name.as_str())
            .into_iter()
            .collect();
        let worst = worst(&self.rows.rows, self.worst);
        page.section(
            &format!("Worst {} examples", worst.len()),
            Some("Lowest score first; failed calls before wrong answers."),
            worst_table(&worst, class.as_ref(), &skip),
        )
        .render()
    }

    /// Writes [`render`](EvaluationPage::render) to `path`, atomically.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::evaluate::files::write(path.as_ref(), self.render().as_bytes())
    }

    fn class(&self) -> Option<ClassField> {
        match (&self.class_field, &self.schema) {
            (Some(name), schema) => Some(ClassField::named(name, schema.as_ref())),
            (None, Some(schema)) => ClassField::detect(schema, &self.rows.rows),
            (None, None) => None,
        }
    }

    fn stats(&self) -> Vec<Stat> {
        let usage = &self.rows.usage;
        let mut stats = vec![
            Stat::new("mean score", percent(self.rows.mean())).tone(Tone::Accent),
            Stat::new("examples", self.rows.rows.len().to_string()),
            Stat::new("failed", self.rows.errors.to_string()).tone(if self.rows.errors > 0 {
                Tone::Bad
            } else {
                Tone::Neutral
            }),
            Stat::new("LM calls", usage.calls.to_string())
                .detail(format!("{} cache hits", usage.cache_hits)),
            Stat::new("tokens", usage.total_tokens().to_string()),
        ];
        if usage.cost > 0.0 {
            stats.push(Stat::new("cost", format!("${:.4}", usage.cost)));
        }
        stats.push(Stat::new("wall time", duration(self.rows.elapsed_ms)));
        stats
    }
}

/// Gold × predicted counts, with the failed calls, each row's support and recall, and each
/// column's precision.
fn confusion_table(m: &ConfusionMatrix) -> Html {
    let mut headers = vec![format!("gold \\ predicted")];
    headers.extend(m.labels.iter().cloned());
    headers.extend(["failed".into(), "n".into(), "recall".into()]);
    let columns = m.labels.len();
    let mut table = Table::new(headers)
        .numeric(columns + 1..columns + 4)
        .class("confusion");
    for (g, gold) in m.labels.iter().enumerate() {
        let support = m.support(gold);
        let mut cells = vec![Html::markup(format!("<b>{}</b>", escape(gold)))];
        cells.extend(
            m.labels
                .iter()
                .enumerate()
                .map(|(p, predicted)| cell(gold, predicted, m.counts[g][p], support, g == p)),
        );
        let recall = if support == 0 {
            0.0
        } else {
            m.counts[g][g] as f64 / support as f64
        };
        cells.push(cell(gold, "failed", m.failed[g], support, false));
        cells.push(Html::text(&support.to_string()));
        cells.push(Html::text(&percent(recall)));
        table.row_with_class("gold-row", cells);
    }
    let mut precision = vec![Html::markup("<b>precision</b>")];
    precision.extend((0..columns).map(|p| {
        let predicted: usize = (0..columns).map(|g| m.counts[g][p]).sum();
        let share = if predicted == 0 {
            0.0
        } else {
            m.counts[p][p] as f64 / predicted as f64
        };
        Html::text(&percent(share))
    }));
    precision.push(Html::empty());
    precision.push(Html::text(
        &m.labels
            .iter()
            .map(|l| m.support(l))
            .sum::<usize>()
            .to_string(),
    ));
    precision.push(Html::markup(format!("<b>{}</b>", percent(m.accuracy()))));
    table.row_with_class("precision-row", precision);
    table.render()
}

/// One count, shaded by its share of the row: green on the diagonal, red off it.
fn cell(gold: &str, predicted: &str, count: usize, support: usize, diagonal: bool) -> Html {
    let share = if support == 0 {
        0.0
    } else {
        count as f64 / support as f64
    };
    let (rgb, class) = match (count, diagonal) {
        (0, _) => ("0,0,0", "count zero"),
        (_, true) => ("45,164,78", "count diag"),
        (_, false) => ("229,83,75", "count off"),
    };
    let alpha = if count == 0 { 0.0 } else { 0.12 + 0.6 * share };
    Html::markup(format!(
        "<span class=\"{class}\" data-gold=\"{}\" data-predicted=\"{}\" \
         style=\"display:block;margin:-6px -10px;padding:6px 10px;background:rgba({rgb},{alpha:.2})\">{count}</span>",
        escape(gold),
        escape(predicted),
    ))
}

/// The mean score of each gold class, as bars on [0, 1].
fn class_chart(class: &ClassField, rows: &[Row]) -> Option<Html> {
    let mut chart = BarChart::new(format!("mean score per {}", class.name))
        .plain()
        .domain(0.0, 1.0)
        .width(480.0);
    let mut any = false;
    for label in class.labels_in(rows.iter()) {
        let of_class: Vec<f64> = rows
            .iter()
            .filter(|r| class.gold(r).as_deref() == Some(label.as_str()))
            .map(|r| r.score)
            .collect();
        if of_class.is_empty() {
            continue;
        }
        any = true;
        let score = mean(of_class.iter().copied());
        chart = chart.bar(
            &label,
            score,
            format!("{} (n={})", percent(score), of_class.len()),
        );
    }
    any.then(|| chart.render())
}

/// Columns for 0 and 1 when every score is one of them, else ten bins over the score range.
fn score_chart(rows: &[Row]) -> Html {
    let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    let binary = scores.iter().all(|s| *s == 0.0 || *s == 1.0);
    let title = "number of examples per score";
    if binary {
        let ones = scores.iter().filter(|s| **s == 1.0).count();
        let chart = ColumnChart::new(title)
            .size(320.0, 220.0)
            .column("0", (scores.len() - ones) as f64)
            .column("1", ones as f64);
        return chart.render();
    }
    let low = scores.iter().copied().fold(0.0, f64::min);
    let high = scores.iter().copied().fold(1.0, f64::max);
    let width = (high - low) / 10.0;
    let mut counts = [0usize; 10];
    for s in &scores {
        counts[(((s - low) / width) as usize).min(9)] += 1;
    }
    let chart = counts
        .iter()
        .enumerate()
        .fold(ColumnChart::new(title), |chart, (i, n)| {
            let from = low + width * i as f64;
            chart.column(format!("{from:.1}–{:.1}", from + width), *n as f64)
        });
    chart.size(500.0, 220.0).render()
}

/// The `n` lowest scores, failures first among equals, then by position (as
/// [`EvaluationReport::worst`]).
fn worst(rows: &[Row], n: usize) -> Vec<&Row> {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        a.score
            .total_cmp(&b.score)
            .then(b.error.is_some().cmp(&a.error.is_some()))
            .then(a.index.cmp(&b.index))
    });
    sorted.truncate(n);
    sorted
}

/// Whether the worst examples need an output column: not when the class columns already show
/// every output field of every row (and no row failed).
fn shows_output(rows: &[&Row], has_class: bool, skip: &[&str]) -> bool {
    let more = |row: &&Row| match (&row.output, &row.error) {
        (Some(serde_json::Value::Object(fields)), _) => {
            fields.keys().any(|k| !skip.contains(&k.as_str()))
        }
        (Some(_), _) | (None, Some(_)) => true,
        (None, None) => false,
    };
    !has_class || rows.iter().any(more)
}

fn worst_table(rows: &[&Row], class: Option<&ClassField>, skip: &[&str]) -> Html {
    let feedback = rows.iter().any(|r| r.feedback.is_some());
    let mut headers = vec!["#", "score", "example"];
    let mut widths = vec![5, 6, 37];
    if class.is_some() {
        headers.extend(["gold", "predicted"]);
        widths.extend([11, 11]);
    }
    let output = shows_output(rows, class.is_some(), skip);
    if output {
        headers.push("output");
        widths.push(if class.is_some() { 30 } else { 52 });
    }
    if feedback {
        headers.push("feedback");
        widths = widths.iter().map(|w| w * 4 / 5).collect();
        widths.push(20);
    }
    let mut table = Table::new(headers)
        .numeric([0, 1])
        .widths(widths)
        .class("worst");
    for row in rows {
        let mut cells = vec![
            mono(&row.index.to_string()),
            Html::text(&format!("{:.2}", row.score)),
            fields(&row.example, skip),
        ];
        if let Some(class) = class {
            let gold = class.gold(row).unwrap_or_default();
            cells.push(pill(&gold, Tone::Neutral));
            cells.push(match class.predicted(row) {
                Some(p) if p == gold => pill(&p, Tone::Good),
                Some(p) => pill(&p, Tone::Bad),
                None if row.error.is_some() => pill("failed", Tone::Bad),
                None => Html::empty(),
            });
        }
        if output {
            cells.push(outcome(row.output.as_ref(), row.error.as_deref(), skip));
        }
        if feedback {
            cells.push(Html::text(row.feedback.as_deref().unwrap_or("")));
        }
        table.row(cells);
    }
    table.render()
}
