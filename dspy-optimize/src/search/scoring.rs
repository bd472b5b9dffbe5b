//! Scoring a candidate: a metric shared by reference, what counts as a pass, and a program's
//! score on a set under the task model.

use super::failure::is_fatal;
use super::models::scoped;
use dspy_core::evaluate::{Evaluate, EvaluationReport, Metric, Score};
use dspy_core::{Example, LM, Module, Result};
use std::future::Future;

/// A metric used by reference, so one metric serves many evaluations.
pub(crate) struct ByRef<'a, M>(pub &'a M);

impl<E, O, M: Metric<E, O>> Metric<E, O> for ByRef<'_, M> {
    fn score(&self, example: &E, output: &O) -> impl Future<Output = Result<Score>> + Send {
        self.0.score(example, output)
    }
}

/// Whether a score counts as a success: at least `threshold` when one is set, else above zero
/// (DSPy's truthiness: `true`, a pass, any positive score).
pub(crate) fn passes(score: f64, threshold: Option<f64>) -> bool {
    match threshold {
        Some(threshold) => score >= threshold,
        None => score > 0.0,
    }
}

/// The score of `program` on `set` under the task model, through [`Evaluate`] (its examples
/// run `concurrency` at a time). A failed example scores 0; a budget that runs out, or an error
/// no call can fix, is returned.
pub(crate) async fn score_on<P, E, M>(
    metric: &M,
    program: &P,
    set: &[E],
    concurrency: usize,
    task_lm: Option<&LM>,
) -> Result<f64>
where
    P: Module,
    E: Example<Input = P::Input> + Clone,
    M: Metric<E, P::Output>,
{
    let evaluate = Evaluate::new(ByRef(metric))
        .concurrency(concurrency)
        .progress(false)
        // Fatal LM errors are caught by score_of; the rest are a candidate's failed examples.
        .max_lm_errors(usize::MAX);
    score_of(
        scoped(task_lm, evaluate.run(program, set))
            .await?
            .into_complete()?,
    )
}

/// An evaluation's score; an error among its runs that no call could fix (no LM, a rejected
/// key) is returned instead, since every other candidate would score 0 the same way.
pub(crate) fn score_of<E, O>(evaluation: EvaluationReport<E, O>) -> Result<f64> {
    let score = evaluation.score;
    match evaluation
        .results
        .into_iter()
        .find_map(|r| r.output.err().filter(is_fatal))
    {
        Some(fatal) => Err(fatal),
        None => Ok(score),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert!(passes(1.0, None));
        assert!(!passes(0.0, None));
        assert!(passes(0.5, Some(0.5)));
        assert!(!passes(0.4, Some(0.5)));
    }
}
