//! The result of an evaluation: the mean score, every example's outcome, and exports.

use crate::lm::UsageReport;
use crate::util::snippet;
use crate::{Error, Result};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// One example's outcome.
#[derive(Debug)]
pub struct ExampleResult<E, O> {
    /// Its position in the dev set.
    pub index: usize,
    /// The example.
    pub example: E,
    /// What the program returned, or why it failed.
    pub output: std::result::Result<O, Error>,
    /// The metric's score (the failure score when the call or the metric failed).
    pub score: f64,
    /// The metric's feedback, when it gave any.
    pub feedback: Option<String>,
    /// LM usage of this example's run: calls, cache hits, tokens, cost.
    pub usage: UsageReport,
    /// How long the run and the metric took.
    pub elapsed: Duration,
}

/// Why an evaluation ended before its last example: a budget ran out, more examples failed
/// than `max_errors` allows, or the LM kept failing (see
/// [`Evaluate::max_lm_errors`](super::Evaluate::max_lm_errors)).
#[derive(Debug)]
pub struct Stopped {
    /// Examples evaluated before the stop (the report holds exactly these).
    pub evaluated: usize,
    /// Examples in the dev set.
    pub total: usize,
    /// The error that stopped it: [`Error::Budget`] or [`Error::TooManyErrors`].
    pub cause: Error,
}

/// What [`Evaluate`](super::Evaluate) returns: the mean score and every example's result, in
/// dev-set order. An evaluation that stopped early holds what it evaluated, and says why in
/// [`stopped`](Self::stopped); [`into_complete`](Self::into_complete) turns that into the error.
#[derive(Debug)]
pub struct EvaluationReport<E, O> {
    /// Mean score over all examples, failures counted at the failure score, as a fraction.
    pub score: f64,
    /// Every example, in input order.
    pub results: Vec<ExampleResult<E, O>>,
    /// Examples whose call or metric failed.
    pub errors: usize,
    /// LM usage of the whole evaluation.
    pub usage: UsageReport,
    /// Wall time of the whole evaluation.
    pub elapsed: Duration,
    /// Set when the evaluation stopped before its last example; `score` is then the mean over
    /// the examples evaluated.
    pub stopped: Option<Stopped>,
}

impl<E, O> EvaluationReport<E, O> {
    /// Whether every example of the dev set was evaluated.
    pub fn is_complete(&self) -> bool {
        self.stopped.is_none()
    }

    /// The report if the evaluation ran to its end, else the error that stopped it (what
    /// optimizers need: a partial score is no candidate's score).
    pub fn into_complete(self) -> Result<Self> {
        match self.stopped {
            Some(stopped) => Err(stopped.cause),
            None => Ok(self),
        }
    }

    /// The mean score as a percentage, as DSPy prints it.
    pub fn percent(&self) -> f64 {
        self.score * 100.0
    }

    /// The `n` lowest-scoring results, worst first (failures before wrong answers, then by
    /// position).
    pub fn worst(&self, n: usize) -> Vec<&ExampleResult<E, O>> {
        let mut sorted: Vec<&ExampleResult<E, O>> = self.results.iter().collect();
        sorted.sort_by(|a, b| {
            a.score
                .total_cmp(&b.score)
                .then(b.output.is_err().cmp(&a.output.is_err()))
                .then(a.index.cmp(&b.index))
        });
        sorted.truncate(n);
        sorted
    }
}

impl<E: Serialize, O: Serialize> EvaluationReport<E, O> {
    /// The report as JSON: the summary and one object per example.
    pub fn to_json(&self) -> Value {
        let results: Vec<Value> = self.results.iter().map(result_json).collect();
        json!({
            "score": self.score,
            "examples": self.results.len(),
            "errors": self.errors,
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "usage": usage_json(&self.usage),
            "stopped": self.stopped.as_ref().map(|s| json!({
                "evaluated": s.evaluated,
                "total": s.total,
                "cause": s.cause.to_string(),
            })),
            "results": results,
        })
    }

    /// Writes [`to_json`](EvaluationReport::to_json) to `path`, pretty-printed, atomically (a
    /// crash leaves the old file or the new one, never half of it).
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())?;
        super::files::write(path.as_ref(), text.as_bytes())
    }

    /// The per-example results as CSV: `index, score, error, feedback`, then one column per
    /// example field, then one per output field prefixed `pred_`. Text cells are written as is,
    /// other values as JSON.
    pub fn to_csv(&self) -> Result<String> {
        let rows: Vec<(Map<String, Value>, Map<String, Value>)> = self
            .results
            .iter()
            .map(|r| {
                let example = object_of(&r.example);
                let output = r.output.as_ref().map(object_of).unwrap_or_default();
                (example, output)
            })
            .collect();
        let mut example_columns: Vec<String> = Vec::new();
        let mut output_columns: Vec<String> = Vec::new();
        for (example, output) in &rows {
            for key in example.keys() {
                if !example_columns.contains(key) {
                    example_columns.push(key.clone());
                }
            }
            for key in output.keys() {
                if !output_columns.contains(key) {
                    output_columns.push(key.clone());
                }
            }
        }
        let mut writer = csv::Writer::from_writer(Vec::new());
        let header = ["index", "score", "error", "feedback"]
            .into_iter()
            .map(String::from)
            .chain(example_columns.iter().cloned())
            .chain(output_columns.iter().map(|c| format!("pred_{c}")));
        writer.write_record(header).map_err(csv_error)?;
        for (result, (example, output)) in self.results.iter().zip(&rows) {
            let mut record = vec![
                result.index.to_string(),
                result.score.to_string(),
                result
                    .output
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                result.feedback.clone().unwrap_or_default(),
            ];
            record.extend(example_columns.iter().map(|c| cell(example.get(c))));
            record.extend(output_columns.iter().map(|c| cell(output.get(c))));
            writer.write_record(&record).map_err(csv_error)?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| Error::config(format!("could not write CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| Error::config(format!("CSV is not UTF-8: {e}")))
    }

    /// Writes [`to_csv`](EvaluationReport::to_csv) to `path`, atomically.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        super::files::write(path.as_ref(), self.to_csv()?.as_bytes())
    }

    /// A readable summary with a table of the `n` worst examples.
    pub fn table(&self, n: usize) -> String {
        let mut out = String::new();
        if let Some(stopped) = &self.stopped {
            let _ = writeln!(
                out,
                "STOPPED after {} of {} examples: {}",
                stopped.evaluated, stopped.total, stopped.cause
            );
        }
        let _ = writeln!(
            out,
            "score {:.1}% over {} examples ({} failed) in {:.1?}; {} LM calls, {} cache hits, {} tokens{}",
            self.percent(),
            self.results.len(),
            self.errors,
            self.elapsed,
            self.usage.calls,
            self.usage.cache_hits,
            self.usage.total_tokens(),
            if self.usage.cost > 0.0 {
                format!(", ${:.4}", self.usage.cost)
            } else {
                String::new()
            },
        );
        let worst = self.worst(n);
        if worst.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "\n{:>5}  {:>5}  {:<50}  output",
            "#", "score", "example"
        );
        for r in worst {
            let example = short(&Value::Object(object_of(&r.example)), 50);
            let output = match &r.output {
                Ok(o) => short(&Value::Object(object_of(o)), 60),
                Err(e) => format!("ERROR {}", snippet(&e.to_string(), 54)),
            };
            let _ = writeln!(
                out,
                "{:>5}  {:>5.2}  {:<50}  {}",
                r.index, r.score, example, output
            );
        }
        out
    }
}

impl<E: Serialize, O: Serialize> std::fmt::Display for EvaluationReport<E, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.table(10))
    }
}

fn result_json<E: Serialize, O: Serialize>(r: &ExampleResult<E, O>) -> Value {
    let mut object = json!({
        "index": r.index,
        "score": r.score,
        "example": serde_json::to_value(&r.example).unwrap_or(Value::Null),
        "elapsed_ms": r.elapsed.as_secs_f64() * 1000.0,
        "usage": usage_json(&r.usage),
    });
    match &r.output {
        Ok(o) => object["output"] = serde_json::to_value(o).unwrap_or(Value::Null),
        Err(e) => object["error"] = Value::String(e.to_string()),
    }
    if let Some(feedback) = &r.feedback {
        object["feedback"] = Value::String(feedback.clone());
    }
    object
}

fn usage_json(usage: &UsageReport) -> Value {
    serde_json::to_value(usage).unwrap_or(Value::Null)
}

pub(super) fn object_of<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        Ok(other) => Map::from_iter([("value".to_string(), other)]),
        Err(_) => Map::new(),
    }
}

pub(super) fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `{"question": "Who ...", "label": "human"}` → `question=Who ... label=human`, cut to `width`.
fn short(value: &Value, width: usize) -> String {
    let text = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", cell(Some(v))))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    };
    snippet(&text, width)
}

fn csv_error(e: csv::Error) -> Error {
    Error::config(format!("could not write CSV: {e}"))
}
