//! The strategy string (`"p -> w -> p"`): its steps, their names in the report, and what the
//! whole chain would cost.

use super::BetterTogether;
use crate::search::estimate::{Count, Demos, Estimator};
use crate::{Estimate, Optimizer};
use dspy_core::{Error, Example, Parameters, Result};
use serde::Serialize;

/// One step of a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// `p`: the prompt optimizer.
    Prompt,
    /// `w`: the weight optimizer.
    Weights,
}

/// The steps of `strategy`: `p` and `w` separated by `->`, spaces around them ignored.
pub(super) fn parse(strategy: &str) -> Result<Vec<Step>> {
    let steps = strategy
        .split("->")
        .map(|step| match step.trim() {
            "p" => Ok(Step::Prompt),
            "w" => Ok(Step::Weights),
            other => Err(Error::config(format!(
                "BetterTogether's strategy `{strategy}` has the step `{other}`: each step is `p` \
                 (the prompt optimizer) or `w` (the weight optimizer), separated by `->`, as in \
                 \"p -> w -> p\""
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(steps)
}

/// The report's name of the program after `steps`: `p -> w`.
pub(super) fn name(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match s {
            Step::Prompt => "p",
            Step::Weights => "w",
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Every step's estimate (each as if it started from `program`: a step's program is not known
/// before the one before it ran), then a validation pass per program scored.
pub(super) fn estimate<M, Pr, W, P, E>(
    together: &BetterTogether<M, Pr, W>,
    steps: &[Step],
    program: &P,
    train: &[E],
    val: &[E],
) -> Result<Estimate>
where
    P: dspy_core::Module + Parameters + Clone,
    E: Example<Input = P::Input> + Serialize,
    Pr: Optimizer<P, E, Program = P>,
    W: Optimizer<P, E, Program = P>,
{
    let mut estimate = Estimator::new("BetterTogether", &together.options);
    for (i, step) in steps.iter().enumerate() {
        let part = match step {
            Step::Prompt => together.prompt.estimate(program, train, None)?,
            Step::Weights => together.weights.estimate(program, train, None)?,
        };
        estimate.include(&name(&steps[..=i]), part);
    }
    if !val.is_empty() {
        let size = estimate.sizes(program, val)?.run(Demos::Given);
        let passes = (steps.len() + 1) as u64;
        let runs = Count::exactly(passes * val.len() as u64);
        let phase = format!("{passes} validation passes over {} examples", val.len());
        estimate.runs(phase, runs, &size);
    }
    Ok(estimate.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_and_name_their_steps() {
        let steps = parse("p -> w->p").unwrap();
        assert_eq!(steps, [Step::Prompt, Step::Weights, Step::Prompt]);
        assert_eq!(name(&steps[..2]), "p -> w");
        let err = parse("p -> x").unwrap_err().to_string();
        assert!(err.contains("the step `x`"), "{err}");
        assert!(parse("").is_err());
    }
}
