//! An [`Estimate`] as a short table: a row per phase, a line per model, the assumptions.

use super::{Estimate, ModelEstimate, Role};
use dspy_core::util::snippet;
use std::fmt;

/// Widest phase name shown (longer ones are cut).
const PHASE_WIDTH: usize = 46;

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls = self.calls();
        writeln!(
            f,
            "{} estimate (no LM called): at most {} LM calls, {} expected",
            self.optimizer, calls.at_most, calls.expected
        )?;
        if !self.phases.is_empty() {
            writeln!(
                f,
                "  {:<PHASE_WIDTH$}  {:<6} {:>9} {:>9} {:>13} {:>11}",
                "phase", "model", "calls ≤", "expected", "prompt tok", "answer tok"
            )?;
        }
        for phase in &self.phases {
            writeln!(
                f,
                "  {:<PHASE_WIDTH$}  {:<6} {:>9} {:>9} {:>13} {:>11}",
                snippet(&phase.name, PHASE_WIDTH),
                phase.role.name(),
                phase.calls.at_most,
                phase.calls.expected,
                phase.prompt_tokens.expected,
                phase.completion_tokens.expected,
            )?;
        }
        for (role, model) in [(Role::Task, &self.task), (Role::Prompt, &self.prompt)] {
            if model.calls.at_most > 0 {
                writeln!(f, "  {}", model_line(role, model))?;
            }
        }
        if let Some(cost) = self.cost().filter(|c| c.at_most > 0.0) {
            writeln!(
                f,
                "  cost: at most {:.4}, {:.4} expected",
                cost.at_most, cost.expected
            )?;
        }
        for note in &self.notes {
            writeln!(f, "  - {note}")?;
        }
        Ok(())
    }
}

/// `task model `gpt-4o-mini`: ≤ 1200 calls (400 expected), ~52000 prompt + 900 answer tokens
/// expected (≤ 156000 + 2700)`, with its cost and budget when it has them.
fn model_line(role: Role, model: &ModelEstimate) -> String {
    let name = model
        .model
        .as_deref()
        .map_or_else(|| "(none configured)".to_string(), |m| format!("`{m}`"));
    let mut line = format!(
        "{} model {name}: ≤ {} calls ({} expected), ~{} prompt + {} answer tokens expected (≤ {} + {})",
        role.name(),
        model.calls.at_most,
        model.calls.expected,
        model.prompt_tokens.expected,
        model.completion_tokens.expected,
        model.prompt_tokens.at_most,
        model.completion_tokens.at_most,
    );
    if let Some(cost) = model.cost {
        line.push_str(&format!(
            ", cost ≤ {:.4} ({:.4} expected)",
            cost.at_most, cost.expected
        ));
    }
    if let Some(budget) = model.budget_calls {
        line.push_str(&format!("; its budget stops it at {budget} calls"));
    }
    line
}
