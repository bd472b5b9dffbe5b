//! A comparison as a text table, JSON and CSV.

use super::comparison::{Comparison, PairedExample, ReportSummary};
use super::files::write;
use super::report::cell;
use super::stats::McNemarMethod;
use crate::util::snippet;
use crate::{Error, Result};
use serde_json::{Map, Value};
use std::fmt::{self, Write as _};
use std::path::Path;

impl Comparison {
    /// The comparison as JSON (every field, every paired example).
    pub fn to_json(&self) -> Result<Value> {
        Ok(serde_json::to_value(self)?)
    }

    /// Writes the comparison to `path` as pretty JSON, atomically.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        write(path.as_ref(), text.as_bytes())
    }

    /// Reads a comparison written by [`write_json`](Comparison::write_json).
    pub fn read_json(path: impl AsRef<Path>) -> Result<Comparison> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::data_caused_by(path, None, format!("cannot read the comparison: {e}"), e)
        })?;
        serde_json::from_str(&text).map_err(|e| {
            let message = format!("not a comparison written by write_json: {e}");
            Error::data_caused_by(path, None, message, e)
        })
    }

    /// One CSV row per paired example: `id, change, a_index, b_index, a_score, b_score,
    /// a_error, b_error`, then one column per example field, then the output fields prefixed
    /// `a_` and `b_`. Text cells are written as is, other values as JSON.
    pub fn to_csv(&self) -> Result<String> {
        let all: Vec<_> = self.paired().collect();
        let example_columns = columns(all.iter().map(|(_, p)| Some(&p.example)));
        let output_columns = columns(
            all.iter()
                .flat_map(|(_, p)| [p.a.output.as_ref(), p.b.output.as_ref()]),
        );
        let mut writer = csv::Writer::from_writer(Vec::new());
        let fixed = ["id", "change", "a_index", "b_index", "a_score", "b_score"];
        let header = fixed
            .into_iter()
            .chain(["a_error", "b_error"])
            .map(String::from)
            .chain(example_columns.iter().cloned())
            .chain(output_columns.iter().map(|c| format!("a_{c}")))
            .chain(output_columns.iter().map(|c| format!("b_{c}")));
        writer.write_record(header).map_err(csv_error)?;
        for (change, p) in all {
            let mut record = vec![
                p.id.clone(),
                change.as_str().to_string(),
                p.a.index.to_string(),
                p.b.index.to_string(),
                p.a.score.to_string(),
                p.b.score.to_string(),
                p.a.error.clone().unwrap_or_default(),
                p.b.error.clone().unwrap_or_default(),
            ];
            record.extend(example_columns.iter().map(|c| cell(p.example.get(c))));
            for output in [&p.a.output, &p.b.output] {
                let of = |c: &String| cell(output.as_ref().and_then(|o| o.get(c)));
                record.extend(output_columns.iter().map(of));
            }
            writer.write_record(&record).map_err(csv_error)?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| Error::config(format!("could not write CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| Error::config(format!("CSV is not UTF-8: {e}")))
    }

    /// Writes [`to_csv`](Comparison::to_csv) to `path`, atomically.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write(path.as_ref(), self.to_csv()?.as_bytes())
    }

    /// A readable summary: both means, the delta and its interval, McNemar's test, per-class
    /// deltas, usage, and up to `n` fixed and `n` regressed examples.
    pub fn table(&self, n: usize) -> String {
        let mut out = String::new();
        let (a, b) = (&self.a, &self.b);
        let _ = writeln!(
            out,
            "{} → {}: {} examples paired by {}",
            a.name,
            b.name,
            self.examples(),
            self.paired_by
        );
        let _ = writeln!(
            out,
            "score {:.1}% → {:.1}%, Δ {:+.1} points, {:.0}% CI [{:+.1}, {:+.1}] (paired bootstrap, {} resamples)",
            100.0 * a.score,
            100.0 * b.score,
            100.0 * self.delta,
            100.0 * self.interval.confidence,
            100.0 * self.interval.low,
            100.0 * self.interval.high,
            self.interval.resamples,
        );
        let _ = writeln!(out, "{}", self.mcnemar_line());
        for side in [a, b] {
            let _ = writeln!(out, "{}", usage_line(side));
        }
        if let Some(field) = &self.class_field {
            let _ = writeln!(
                out,
                "\n{:<20} {:>6} {:>8} {:>8} {:>8}",
                field, "n", a.name, b.name, "Δ"
            );
            for c in &self.classes {
                let _ = writeln!(
                    out,
                    "{:<20} {:>6} {:>7.1}% {:>7.1}% {:>+8.1}",
                    snippet(&c.class, 20),
                    c.examples,
                    100.0 * c.a,
                    100.0 * c.b,
                    100.0 * c.delta
                );
            }
        }
        list(&mut out, "fixed", &self.fixed, n);
        list(&mut out, "regressed", &self.regressed, n);
        out
    }

    fn mcnemar_line(&self) -> String {
        match &self.mcnemar {
            None => format!(
                "{} improved, {} worse, {} unchanged (scores are not all 0/1: no McNemar test)",
                self.fixed.len(),
                self.regressed.len(),
                self.unchanged.len()
            ),
            Some(m) => format!(
                "{} fixed, {} regressed, {} unchanged; McNemar p = {:.4} ({})",
                m.fixed,
                m.regressed,
                self.unchanged.len(),
                m.p_value,
                match m.method {
                    McNemarMethod::ExactBinomial => "exact binomial".to_string(),
                    McNemarMethod::ChiSquare => format!(
                        "chi-square {:.3}, continuity-corrected",
                        m.statistic.unwrap_or(0.0)
                    ),
                }
            ),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table(10))
    }
}

fn usage_line(side: &ReportSummary) -> String {
    let u = &side.usage;
    let cost = if u.cost > 0.0 {
        format!(", ${:.4}", u.cost)
    } else {
        String::new()
    };
    format!(
        "{}: {} failed, {} LM calls, {} cache hits, {} tokens{cost}, {:.1}s",
        side.name,
        side.errors,
        u.calls,
        u.cache_hits,
        u.total_tokens(),
        side.elapsed_ms as f64 / 1000.0
    )
}

fn list(out: &mut String, title: &str, examples: &[PairedExample], n: usize) {
    if examples.is_empty() || n == 0 {
        return;
    }
    let _ = writeln!(out, "\n{title} ({}):", examples.len());
    for p in examples.iter().take(n) {
        let _ = writeln!(
            out,
            "  #{:<4} {:<44}  {} → {}",
            p.a.index,
            snippet(&flat(&p.example), 44),
            snippet(&outcome_text(&p.a.output, &p.a.error), 24),
            snippet(&outcome_text(&p.b.output, &p.b.error), 24),
        );
    }
    if examples.len() > n {
        let _ = writeln!(out, "  … and {} more", examples.len() - n);
    }
}

/// `{"question": "Who …", "label": "human"}` → `question=Who … label=human`.
fn flat(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", cell(Some(v))))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

fn outcome_text(output: &Option<Value>, error: &Option<String>) -> String {
    match (output, error) {
        (Some(output), _) => flat(output),
        (None, Some(error)) => format!("ERROR {error}"),
        (None, None) => String::new(),
    }
}

/// The keys of every object, in first-seen order.
fn columns<'v>(values: impl Iterator<Item = Option<&'v Value>>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for map in values.flatten().filter_map(Value::as_object) {
        for key in Map::keys(map) {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    keys
}

fn csv_error(e: csv::Error) -> Error {
    Error::config(format!("could not write CSV: {e}"))
}
