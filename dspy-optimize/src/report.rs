//! What a compile did: every trial with its score, LM calls and time, as JSON (and as an HTML
//! page, `page`).

mod page;

use dspy_core::lm::UsageReport;
use dspy_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// One thing an optimizer tried: a candidate program scored on a validation set, or one
/// bootstrapping attempt on a training example.
///
/// `score` is `None` when nothing was scored (labeled demos only, an index built), and `error`
/// holds why a run failed (an answer that did not parse is a failed trial, not a failed
/// compile). A trial that scored a whole candidate program lists its demos' training examples
/// (`demos`), and each demo of the program returned names the trial that chose it (its
/// [`Provenance`](dspy_core::module::Provenance)), so the report and the saved program link
/// both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// What was tried, in words (`zero-shot`, `bootstrap seed 3 (2 traces)`, `train[7] round 0`).
    pub candidate: String,
    /// Its score, when it was scored.
    pub score: Option<f64>,
    /// LM calls it sent to a backend (answered or failed; cache hits apart).
    pub lm_calls: u64,
    /// LM calls answered from the cache.
    pub cache_hits: u64,
    /// Wall time it took.
    #[serde(with = "seconds")]
    pub elapsed: Duration,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The candidate's demos, per predictor name: the ids of their training examples (see
    /// [`example_id`](dspy_core::module::example_id)), in prompt order. Empty for a trial that
    /// did not try a whole program, or one whose demos have no provenance.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub demos: BTreeMap<String, Vec<String>>,
}

impl Trial {
    /// A trial of `candidate` that used `usage` over `elapsed`.
    pub fn new(
        candidate: impl Into<String>,
        score: Option<f64>,
        usage: &UsageReport,
        elapsed: Duration,
    ) -> Self {
        Trial {
            candidate: candidate.into(),
            score,
            lm_calls: usage.calls + usage.failed_calls,
            cache_hits: usage.cache_hits,
            elapsed,
            error: None,
            demos: BTreeMap::new(),
        }
    }

    /// The same trial, failed with `error`.
    #[must_use]
    pub fn failed(mut self, error: &Error) -> Self {
        self.error = Some(error.to_string());
        self
    }
}

/// Something about a compiled program its user should know: a predictor the compile left
/// without demos, and why.
///
/// ```
/// use dspy_optimize::CompileWarning;
/// let warning = CompileWarning::predictor("shortlist", "no training example has any of its output fields (`shortlist`)");
/// assert_eq!(
///     warning.to_string(),
///     "predictor `shortlist`: no training example has any of its output fields (`shortlist`)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileWarning {
    /// The predictor it is about, by its name in the program, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predictor: Option<String>,
    /// What happened, and why.
    pub message: String,
}

impl CompileWarning {
    /// A warning about predictor `name`.
    pub fn predictor(name: impl Into<String>, message: impl Into<String>) -> Self {
        CompileWarning {
            predictor: Some(name.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for CompileWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.predictor {
            Some(name) => write!(f, "predictor `{name}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The report every compile returns with its program (see [`Compiled`](crate::Compiled)):
/// which optimizer ran with which seed, every trial, the one chosen, what it all cost, and
/// warnings about the program it returned.
///
/// It serializes to JSON (durations as seconds), for logs and comparisons between runs:
///
/// ```
/// use dspy_optimize::{CompileReport, Trial};
/// use dspy_core::lm::UsageReport;
/// use std::time::Duration;
///
/// let mut report = CompileReport::new("BootstrapFewShotWithRandomSearch", 7);
/// report.trials.push(Trial::new("zero-shot", Some(0.5), &UsageReport::default(), Duration::from_millis(1500)));
/// report.trials.push(Trial::new("labeled (16 demos)", Some(0.75), &UsageReport::default(), Duration::from_secs(2)));
/// report.choose(1);
/// let json = report.to_json().unwrap();
/// assert!(json.contains("\"elapsed\": 1.5"));
/// let back: CompileReport = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.best_trial().unwrap().candidate, "labeled (16 demos)");
/// println!("{report}"); // a table of the trials
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompileReport {
    /// The optimizer's name (`BootstrapFewShot`, ...).
    pub optimizer: String,
    /// The seed it ran with.
    pub seed: u64,
    /// Every trial, in the order they were made.
    pub trials: Vec<Trial>,
    /// The index in `trials` of the candidate returned, when the optimizer chose between
    /// scored candidates.
    pub best: Option<usize>,
    /// That candidate's score.
    pub best_score: Option<f64>,
    /// Whether an LM budget ran out, so the compile stopped early and returned the best
    /// program found by then.
    pub stopped_by_budget: bool,
    /// LM usage of the whole compile (calls, cache hits, tokens, cost).
    pub usage: UsageReport,
    /// Wall time of the whole compile.
    #[serde(with = "seconds")]
    pub elapsed: Duration,
    /// What the caller should know about the program returned: every predictor it left
    /// without demos, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<CompileWarning>,
}

impl CompileReport {
    /// An empty report for `optimizer` run with `seed`.
    pub fn new(optimizer: impl Into<String>, seed: u64) -> Self {
        CompileReport {
            optimizer: optimizer.into(),
            seed,
            trials: Vec::new(),
            best: None,
            best_score: None,
            stopped_by_budget: false,
            usage: UsageReport::default(),
            elapsed: Duration::ZERO,
            warnings: Vec::new(),
        }
    }

    /// Adds `warning` (once: the same warning twice is kept once), and logs it.
    pub fn warn(&mut self, warning: CompileWarning) {
        if !self.warnings.contains(&warning) {
            tracing::warn!(optimizer = %self.optimizer, "{warning}");
            self.warnings.push(warning);
        }
    }

    /// Marks trial `index` as the one returned (and its score as the best).
    pub fn choose(&mut self, index: usize) {
        self.best = Some(index);
        self.best_score = self.trials.get(index).and_then(|t| t.score);
    }

    /// The trial of the candidate returned, if the optimizer chose one.
    pub fn best_trial(&self) -> Option<&Trial> {
        self.trials.get(self.best?)
    }

    /// LM calls of every trial together, as sent to backends (cache hits apart).
    pub fn lm_calls(&self) -> u64 {
        self.usage.calls + self.usage.failed_calls
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Writes the report to `path` as JSON, atomically: a crash mid-write leaves the file as
    /// it was.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        dspy_core::util::write_atomic(path, self.to_json()?).map_err(|e| {
            Error::data_caused_by(
                path,
                None,
                format!("could not write the compile report: {e}"),
                e,
            )
        })
    }
    /// [`save`](Self::save) by the name [`EvaluationReport::write_json`](dspy_core::evaluate::EvaluationReport::write_json)
    /// has: writes the report to `path` as JSON, atomically.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save(path)
    }
}

impl fmt::Display for CompileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (seed {}): {} trials, {} LM calls, {:.1}s",
            self.optimizer,
            self.seed,
            self.trials.len(),
            self.lm_calls(),
            self.elapsed.as_secs_f64()
        )?;
        if let (Some(best), Some(score)) = (self.best, self.best_score) {
            write!(f, ", best #{best} scoring {score:.3}")?;
        }
        if self.stopped_by_budget {
            f.write_str(", stopped by the LM budget")?;
        }
        writeln!(f)?;
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        writeln!(
            f,
            "{:>4}  {:<40} {:>7} {:>7} {:>8}",
            "#", "candidate", "score", "calls", "time"
        )?;
        for (i, trial) in self.trials.iter().enumerate() {
            let score = trial
                .score
                .map_or_else(|| "-".to_string(), |s| format!("{s:.3}"));
            let marker = if Some(i) == self.best { "*" } else { " " };
            write!(
                f,
                "{marker}{i:>3}  {:<40} {score:>7} {:>7} {:>7.1}s",
                trial.candidate,
                trial.lm_calls,
                trial.elapsed.as_secs_f64()
            )?;
            if let Some(error) = &trial.error {
                write!(f, "  ({})", dspy_core::util::snippet(error, 81))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Durations as (fractional) seconds in JSON.
mod seconds {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(duration.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs)
            .map_err(|e| D::Error::custom(format!("bad duration {secs}: {e}")))
    }
}
