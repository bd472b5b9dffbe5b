//! A compile report as one self-contained HTML page: the score of every trial with the best
//! so far, every trial's candidate (and its demos' examples), whether the budget stopped it,
//! and what it used. Built
//! from dspy-core's page kit, so it looks like the evaluation and comparison pages.

use super::{CompileReport, Trial};
use dspy_core::Result;
use dspy_core::evaluate::html::{
    Html, LineChart, Page, Stat, Table, Tone, duration, mono, percent, pill,
};
use dspy_core::util::snippet;
use std::path::Path;

/// Longest error shown under a trial's candidate (the JSON report has all of it).
const ERROR_CHARS: usize = 200;

impl CompileReport {
    /// The report as one self-contained HTML document (inline CSS and SVG, no script, nothing
    /// fetched): the score per trial with the best-so-far line and the returned candidate
    /// ringed, a table of every trial (its candidate, score, LM calls, time, error), whether
    /// the LM budget stopped the compile, and the usage and cost.
    ///
    /// ```
    /// use dspy_optimize::{CompileReport, Trial};
    /// use dspy_core::lm::UsageReport;
    /// let mut report = CompileReport::new("BootstrapFewShotWithRandomSearch", 0);
    /// let usage = UsageReport::default();
    /// report.trials.push(Trial::new("zero-shot", Some(0.5), &usage, Default::default()));
    /// report.trials.push(Trial::new("labeled (4 demos)", Some(0.75), &usage, Default::default()));
    /// report.choose(1);
    /// let html = report.html();
    /// assert!(html.starts_with("<!DOCTYPE html>"));
    /// assert!(html.contains("data-series=\"best so far\""));
    /// ```
    pub fn html(&self) -> String {
        self.page().render()
    }

    /// Writes [`html`](Self::html) to `path`, atomically.
    ///
    /// ```no_run
    /// # fn f(report: dspy_optimize::CompileReport) -> dspy_core::Result<()> {
    /// report.save("compile.json")?;
    /// report.write_html("compile.html")?;
    /// # Ok(()) }
    /// ```
    pub fn write_html(&self, path: impl AsRef<Path>) -> Result<()> {
        self.page().write(path)
    }

    fn page(&self) -> Page {
        let mut subtitle = format!("{}, seed {}", self.optimizer, self.seed);
        if self.stopped_by_budget {
            subtitle.push_str(" · stopped by the LM budget");
        }
        let scored = self.trials.iter().filter(|t| t.score.is_some()).count();
        let chart_note = self.chart_note(scored);
        Page::new("Compile report")
            .subtitle(subtitle)
            .stats(self.stats(scored))
            .section("Score per trial", Some(&chart_note), self.chart())
            .section(
                "Trials",
                Some("Every candidate the optimizer tried, in order, as its report describes it."),
                self.table(),
            )
            .section("Usage", None, self.usage_table())
    }

    /// What the chart shows, and where it may surprise: a returned candidate below the best
    /// dot, a budget stop.
    fn chart_note(&self, scored: usize) -> String {
        let mut note = format!(
            "{scored} of {} trials were scored (the others bootstrap, propose or summarize). \
             Dots are trials' scores; the line is the best so far",
            self.trials.len()
        );
        if self.best.is_some() && self.best_score.is_some() {
            note.push_str("; the ringed one was returned");
        }
        note.push('.');
        let top = self
            .trials
            .iter()
            .filter_map(|t| t.score)
            .fold(f64::MIN, f64::max);
        if self.best_score.is_some_and(|best| best < top) {
            note.push_str(
                " The returned candidate is not the highest dot: the optimizer chose by its own \
                 rule (a score on the whole validation set, where others were scored on a \
                 minibatch or a single example).",
            );
        }
        if self.stopped_by_budget && !self.trials.is_empty() {
            note.push_str(&format!(
                " The LM budget ran out by trial #{}, so the search stopped there.",
                self.trials.len() - 1
            ));
        }
        note
    }

    fn stats(&self, scored: usize) -> Vec<Stat> {
        let scale = Scale::of(&self.trials);
        let best = match (self.best, self.best_score) {
            (Some(best), Some(score)) => Stat::new("best score", scale.show(score))
                .detail(format!("trial #{best}, returned")),
            _ => Stat::new("best score", "–").detail("no scored candidate was chosen"),
        };
        let failed = self.trials.iter().filter(|t| t.error.is_some()).count();
        let budget = if self.stopped_by_budget {
            Stat::new("LM budget", "ran out")
                .detail("the compile stopped early and returned the best found by then")
                .tone(Tone::Bad)
        } else {
            Stat::new("LM budget", "not reached")
                .detail("the search ran to its end")
                .tone(Tone::Good)
        };
        let mut stats = vec![
            best.tone(Tone::Accent),
            Stat::new("trials", self.trials.len().to_string())
                .detail(format!("{scored} scored, {failed} failed")),
            Stat::new("LM calls", self.lm_calls().to_string())
                .detail(format!("{} cache hits", self.usage.cache_hits)),
            Stat::new("tokens", self.usage.total_tokens().to_string()).detail(format!(
                "{} prompt, {} completion",
                self.usage.usage.prompt_tokens, self.usage.usage.completion_tokens
            )),
        ];
        if self.usage.cost > 0.0 {
            stats.push(Stat::new("cost", format!("{:.4}", self.usage.cost)));
        }
        stats.push(Stat::new(
            "wall time",
            duration(self.elapsed.as_millis() as u64),
        ));
        stats.push(budget);
        stats
    }

    /// Every trial's score at its index (0-based, as `best` counts), the best so far, the
    /// returned one ringed.
    fn chart(&self) -> Html {
        let scores: Vec<Option<f64>> = self.trials.iter().map(|t| t.score).collect();
        let mut chart = LineChart::new("score per trial")
            .numbered_from(0)
            .dots("trial score", scores.clone())
            .step("best so far", LineChart::best_so_far(scores));
        if Scale::of(&self.trials) == Scale::Fraction {
            chart = chart.domain(0.0, 1.0).percent();
        }
        if let Some(best) = self.best.filter(|_| self.best_score.is_some()) {
            chart = chart.ring(best, "returned");
        }
        chart.render()
    }

    fn table(&self) -> Html {
        let scale = Scale::of(&self.trials);
        let mut table = Table::new(["#", "candidate", "score", "LM calls", "cache hits", "time"])
            .numeric([0, 2, 3, 4, 5])
            .widths([5, 61, 9, 8, 8, 9])
            .class("trials");
        for (i, trial) in self.trials.iter().enumerate() {
            let best = self.best == Some(i);
            let cells = [
                mono(&i.to_string()),
                candidate(trial, best),
                trial
                    .score
                    .map_or_else(|| Html::text("–"), |s| Html::text(&scale.show(s))),
                Html::text(&trial.lm_calls.to_string()),
                Html::text(&trial.cache_hits.to_string()),
                Html::text(&duration(trial.elapsed.as_millis() as u64)),
            ];
            table.row_with_class(if best { "best" } else { "" }, cells);
        }
        table.render()
    }

    fn usage_table(&self) -> Html {
        let u = &self.usage;
        let mut table = Table::new(["", "count"]).numeric([1]).class("usage");
        let rows = [
            ("LM calls answered", u.calls.to_string()),
            ("answered from the cache", u.cache_hits.to_string()),
            ("failed (after retries)", u.failed_calls.to_string()),
            ("refused by the budget", u.refused_calls.to_string()),
            ("prompt tokens", u.usage.prompt_tokens.to_string()),
            ("completion tokens", u.usage.completion_tokens.to_string()),
            ("cost (by the LM's prices)", format!("{:.4}", u.cost)),
            ("wall time", duration(self.elapsed.as_millis() as u64)),
        ];
        for (what, value) in rows {
            table.row([Html::text(what), Html::text(&value)]);
        }
        table.render()
    }
}

/// A trial's candidate, with the pill of the returned one and its error, if it failed.
fn candidate(trial: &Trial, best: bool) -> Html {
    let mut cell = vec![Html::text(&trial.candidate)];
    if best {
        cell.push(Html::text(" "));
        cell.push(pill("returned", Tone::Accent));
    }
    if !trial.demos.is_empty() {
        cell.push(Html::tag("div", "demos", Html::text(&demo_line(trial))));
    }
    if let Some(error) = &trial.error {
        cell.push(Html::tag(
            "div",
            "error",
            Html::text(&snippet(error, ERROR_CHARS)),
        ));
    }
    cell.into_iter().collect()
}

/// Most example ids shown per predictor under a trial (the JSON report has all of them).
const IDS_SHOWN: usize = 4;

/// A trial's demos in one line: per predictor, how many and the first examples' ids (8 digits
/// each), e.g. `demos: self 6 (8f43db4b, 19a7fcb9, …)`.
fn demo_line(trial: &Trial) -> String {
    let parts: Vec<String> = trial
        .demos
        .iter()
        .map(|(name, ids)| {
            let mut shown: Vec<&str> = ids
                .iter()
                .take(IDS_SHOWN)
                .map(|id| id.get(..8).unwrap_or(id))
                .collect();
            if ids.len() > IDS_SHOWN {
                shown.push("…");
            }
            format!("{name} {} ({})", ids.len(), shown.join(", "))
        })
        .collect();
    format!("demos: {}", parts.join("; "))
}

/// How scores are written: as percentages when every one is a fraction, else as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    Fraction,
    Number,
}

impl Scale {
    fn of(trials: &[Trial]) -> Scale {
        let fractions = trials
            .iter()
            .filter_map(|t| t.score)
            .all(|s| (0.0..=1.0).contains(&s));
        if fractions {
            Scale::Fraction
        } else {
            Scale::Number
        }
    }

    fn show(self, score: f64) -> String {
        match self {
            Scale::Fraction => percent(score),
            Scale::Number => format!("{score:.3}"),
        }
    }
}
