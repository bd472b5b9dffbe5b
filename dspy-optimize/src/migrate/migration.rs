//! [`Migration`]: what [`Migrate::run`](super::Migrate::run) returns, and its table.

use crate::Compiled;
use dspy_core::evaluate::html::{duration, percent, points};
use dspy_core::evaluate::{Comparer, Comparison, EvaluationReport};
use dspy_core::{ProgramPrompts, ProgramState, Result};
use schemars::JsonSchema;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// One program evaluated on one model, with what it ran: its state and its prompts as that
/// model's adapter renders them.
#[derive(Debug)]
#[non_exhaustive]
pub struct ModelRun<E, O> {
    /// The model's name (the LM's [`model`](dspy_core::LM::model), unless
    /// [`names`](super::Migrate::names) gave one).
    pub model: String,
    /// The evaluation on the devset.
    pub report: EvaluationReport<E, O>,
    /// The learned state of the program evaluated (as [`Parameters::save`](dspy_core::Parameters::save) writes it).
    pub state: ProgramState,
    /// Its prompts, rendered for this model.
    pub prompts: ProgramPrompts,
}

/// The result of a migration: the old program on the old model, the same program on the new
/// model, and the program re-compiled for the new model, each evaluated on the same devset and
/// compared with the first example by example.
///
/// It prints (`Display`) as a table of the three; [`write`](Migration::write) saves a folder
/// per model. `E` is the example type, `O` the program's output, `R` the re-compiled program.
#[derive(Debug)]
#[non_exhaustive]
pub struct Migration<E, O, R> {
    /// The old program on the old model: the baseline.
    pub old: ModelRun<E, O>,
    /// The old program, unchanged, on the new model: the naive swap.
    pub swap: ModelRun<E, O>,
    /// The re-compiled program on the new model.
    pub recompiled: ModelRun<E, O>,
    /// The naive swap against the baseline: what changing the model alone does.
    pub swap_vs_old: Comparison,
    /// The re-compiled program against the baseline: what the migration does.
    pub recompiled_vs_old: Comparison,
    /// The re-compiled program, with its [`CompileReport`](crate::CompileReport).
    pub compiled: Compiled<R>,
    /// Wall time of the whole migration.
    pub elapsed: Duration,
    pub(super) comparer: Comparer,
}

impl<E: Serialize, O: Serialize + JsonSchema, R> Migration<E, O, R> {
    /// The re-compiled program against the naive swap: what re-compiling gains over changing
    /// the model alone.
    pub fn recompiled_vs_swap(&self) -> Result<Comparison> {
        self.comparer
            .clone()
            .names(
                self.swap_vs_old.b.name.clone(),
                self.recompiled_vs_old.b.name.clone(),
            )
            .run(&self.swap.report, &self.recompiled.report)
    }
}

impl<E, O, R> Migration<E, O, R> {
    /// The three runs, in order, with the comparison of each with the baseline (none for the
    /// baseline itself).
    pub fn runs(&self) -> [(&ModelRun<E, O>, Option<&Comparison>); 3] {
        [
            (&self.old, None),
            (&self.swap, Some(&self.swap_vs_old)),
            (&self.recompiled, Some(&self.recompiled_vs_old)),
        ]
    }
}

/// The table: one row per run (score, delta with its interval, fixed and regressed, LM calls,
/// time), then the compile.
impl<E, O, R> fmt::Display for Migration<E, O, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let examples = self.old.report.results.len();
        writeln!(
            f,
            "migration {} -> {}: {examples} dev examples, {}",
            self.old.model,
            self.recompiled.model,
            duration(self.elapsed.as_millis() as u64)
        )?;
        writeln!(
            f,
            "{:<44} {:>7}  {:<27} {:>5} {:>9} {:>8} {:>10}",
            "run", "score", "vs baseline (95% CI)", "fixed", "regressed", "LM calls", "time"
        )?;
        let labels = [
            format!("{} (baseline)", self.old.model),
            format!("{} running the old program", self.swap.model),
            format!("{} re-compiled", self.recompiled.model),
        ];
        for ((run, comparison), label) in self.runs().into_iter().zip(labels) {
            let (delta, fixed, regressed) = match comparison {
                Some(c) => (
                    format!(
                        "{} [{}, {}]",
                        points(c.delta),
                        points(c.interval.low),
                        points(c.interval.high)
                    ),
                    c.fixed.len().to_string(),
                    c.regressed.len().to_string(),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            let usage = &run.report.usage;
            writeln!(
                f,
                "{label:<44} {:>7}  {delta:<27} {fixed:>5} {regressed:>9} {:>8} {:>10}",
                percent(run.report.score),
                usage.calls + usage.failed_calls,
                duration(run.report.elapsed.as_millis() as u64)
            )?;
        }
        let report = &self.compiled.report;
        writeln!(
            f,
            "re-compile: {} (seed {}), {} LM calls, {}",
            report.optimizer,
            report.seed,
            report.lm_calls(),
            duration(report.elapsed.as_millis() as u64)
        )
    }
}
