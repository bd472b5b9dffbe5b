//! `Comparison`: two evaluations of the same dev set, example by example.

use super::stats::{Interval, McNemar};
use crate::lm::UsageReport;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Two evaluation reports of the same dev set, paired example by example: what
/// [`EvaluationReport::compare`](super::EvaluationReport::compare) and [`Comparer::run`](super::Comparer::run) return.
///
/// "First" is the baseline (`a`), "second" the candidate (`b`); every delta is second minus
/// first. An example is *fixed* when the second report scored it higher, *regressed* when
/// lower, *unchanged* otherwise (for a 0/1 metric: wrong → right, right → wrong, same).
///
/// It prints as a table (`Display`), and exports to JSON ([`write_json`](Comparison::write_json),
/// read back with [`read_json`](Comparison::read_json)), CSV ([`write_csv`](Comparison::write_csv))
/// and a self-contained HTML page ([`write_html`](Comparison::write_html)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The first report (the baseline).
    pub a: ReportSummary,
    /// The second report (the candidate).
    pub b: ReportSummary,
    /// How examples were paired: `content hash`, `field <name>` or `custom id`.
    pub paired_by: String,
    /// Mean score of the second minus mean score of the first.
    pub delta: f64,
    /// The paired bootstrap confidence interval of `delta`.
    pub interval: Interval,
    /// McNemar's test, when every score of both reports is 0 or 1.
    pub mcnemar: Option<McNemar>,
    /// The class field per-class deltas are grouped by, when there is one.
    pub class_field: Option<String>,
    /// Per gold class: both mean scores and the delta (empty without a class field).
    pub classes: Vec<ClassDelta>,
    /// Examples the second report scored higher, largest gain first.
    pub fixed: Vec<PairedExample>,
    /// Examples the second report scored lower, largest loss first.
    pub regressed: Vec<PairedExample>,
    /// Examples scored the same, in the first report's order.
    pub unchanged: Vec<PairedExample>,
}

/// One side of a [`Comparison`]: a report's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    /// The name given to this side (`A`/`B` unless [`Comparer::names`](super::Comparer::names) set one).
    pub name: String,
    /// Mean score over the paired examples.
    pub score: f64,
    /// How many examples.
    pub examples: usize,
    /// Examples whose call or metric failed.
    pub errors: usize,
    /// LM usage of the whole evaluation: calls, cache hits, tokens, cost.
    pub usage: UsageReport,
    /// Wall time of the whole evaluation, in milliseconds.
    pub elapsed_ms: u64,
}

/// One example as both reports saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedExample {
    /// The id the two results were paired by.
    pub id: String,
    /// The example (inputs and gold outputs), as JSON.
    pub example: Value,
    /// The first report's result.
    pub a: Outcome,
    /// The second report's result.
    pub b: Outcome,
}

impl PairedExample {
    /// The second score minus the first.
    pub fn delta(&self) -> f64 {
        self.b.score - self.a.score
    }
}

/// One report's result on one example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The example's position in that report's dev set.
    pub index: usize,
    /// The metric's score.
    pub score: f64,
    /// The output, as JSON, when the call succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// Why the call or the metric failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The scores of one gold class in both reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDelta {
    /// The class label (the example's value of the class field).
    pub class: String,
    /// How many paired examples have this gold class.
    pub examples: usize,
    /// Mean score of the first report on them.
    pub a: f64,
    /// Mean score of the second report on them.
    pub b: f64,
    /// `b − a`.
    pub delta: f64,
}

impl Comparison {
    /// How many examples were paired.
    pub fn examples(&self) -> usize {
        self.fixed.len() + self.regressed.len() + self.unchanged.len()
    }

    /// Every paired example: fixed, then regressed, then unchanged.
    pub fn paired(&self) -> impl Iterator<Item = (Change, &PairedExample)> {
        let tag = |change| move |p| (change, p);
        self.fixed
            .iter()
            .map(tag(Change::Fixed))
            .chain(self.regressed.iter().map(tag(Change::Regressed)))
            .chain(self.unchanged.iter().map(tag(Change::Unchanged)))
    }
}

/// Which list of a [`Comparison`] an example is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Scored higher by the second report.
    Fixed,
    /// Scored lower by the second report.
    Regressed,
    /// Scored the same.
    Unchanged,
}

impl Change {
    /// `fixed`, `regressed` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Fixed => "fixed",
            Change::Regressed => "regressed",
            Change::Unchanged => "unchanged",
        }
    }
}
