//! A report's results as JSON rows: what comparisons, class tables and pages work from, whether
//! the report is typed or read back from its saved JSON.

use super::EvaluationReport;
use super::report::object_of;
use crate::lm::UsageReport;
use crate::{Error, Result};
use serde::Serialize;
use serde_json::Value;

/// One example's result, untyped.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub index: usize,
    /// The example (inputs and gold outputs) as a JSON object.
    pub example: Value,
    /// The output as a JSON object, when the call succeeded.
    pub output: Option<Value>,
    pub error: Option<String>,
    pub score: f64,
    pub feedback: Option<String>,
}

/// A report, untyped: its rows and its totals.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    pub rows: Vec<Row>,
    pub errors: usize,
    pub usage: UsageReport,
    pub elapsed_ms: u64,
}

impl Rows {
    pub(super) fn of<E: Serialize, O: Serialize>(report: &EvaluationReport<E, O>) -> Self {
        let rows = report
            .results
            .iter()
            .map(|r| Row {
                index: r.index,
                example: Value::Object(object_of(&r.example)),
                output: r.output.as_ref().ok().map(|o| Value::Object(object_of(o))),
                error: r.output.as_ref().err().map(ToString::to_string),
                score: r.score,
                feedback: r.feedback.clone(),
            })
            .collect();
        Rows {
            rows,
            errors: report.errors,
            usage: report.usage,
            elapsed_ms: report.elapsed.as_millis() as u64,
        }
    }

    /// A report saved by [`EvaluationReport::write_json`], read back.
    pub(super) fn from_json(report: &Value) -> Result<Self> {
        let results = report
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::config("not an evaluation report: no `results` array"))?;
        let rows = results
            .iter()
            .enumerate()
            .map(|(i, r)| row_from_json(i, r))
            .collect::<Result<Vec<Row>>>()?;
        let usage = match report.get("usage") {
            Some(u) => serde_json::from_value(u.clone())?,
            None => UsageReport::default(),
        };
        Ok(Rows {
            errors: rows.iter().filter(|r| r.error.is_some()).count(),
            rows,
            usage,
            elapsed_ms: report
                .get("elapsed_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    /// The mean score (0 with no rows).
    pub(super) fn mean(&self) -> f64 {
        mean(self.rows.iter().map(|r| r.score))
    }
}

fn row_from_json(position: usize, r: &Value) -> Result<Row> {
    let score = r.get("score").and_then(Value::as_f64).ok_or_else(|| {
        Error::config(format!(
            "not an evaluation report: result {position} has no score"
        ))
    })?;
    let text = |key: &str| r.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(Row {
        index: r
            .get("index")
            .and_then(Value::as_u64)
            .map_or(position, |i| i as usize),
        example: r.get("example").cloned().unwrap_or(Value::Null),
        output: r.get("output").cloned(),
        error: text("error"),
        score,
        feedback: text("feedback"),
    })
}

/// The mean of `values` (0 when there are none).
pub(crate) fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}
