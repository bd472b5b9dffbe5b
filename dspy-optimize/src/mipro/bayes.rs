//! MIPROv2's search over the combinations of instructions and demo sets: a TPE sampler picks a
//! combination per trial, scored on a minibatch of the validation set; every few trials the
//! best combination by minibatch mean is scored on the whole validation set.

use super::tpe::{Tpe, TpeSettings};
use super::{Found, Plan, SearchSettings};
use crate::search::scoring::score_on;
use crate::search::step_log::{StepLog, scored};
use crate::search::{Frame, SearchOptions};
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::module::DemoState;
use dspy_core::util::snippet;
use dspy_core::{Example, Module, Parameters, Result};

/// What the search chooses from: per predictor, instructions and (unless zero-shot) demo sets.
/// A point holds, per predictor, the instruction index then (with demos) the demo-set index.
pub(super) struct Space {
    pub instructions: Vec<Vec<String>>,
    pub demo_sets: Option<Vec<Vec<Vec<DemoState>>>>,
}

/// One Bayesian search: what it scores, on what, with which settings.
pub(super) struct Run<'a, M, P, E> {
    pub metric: &'a M,
    pub options: &'a SearchOptions,
    pub search: &'a SearchSettings,
    pub program: &'a P,
    pub valset: &'a [E],
    pub space: &'a Space,
    pub plan: &'a Plan,
}

/// What the sampler has learnt: the TPE model, the mean minibatch score per combination (in
/// the order first tried), the combinations scored whole, and the evaluation count.
struct Learnt {
    tpe: Tpe,
    tried: Vec<(Vec<usize>, Vec<f64>)>,
    fully_scored: Vec<Vec<usize>>,
    slot: usize,
}

impl<M, P, E> Run<'_, M, P, E>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Clone,
    M: Metric<E, P::Output>,
{
    /// Scores the program as given, then `num_trials` TPE-chosen combinations.
    pub(super) async fn search(
        &self,
        frame: &mut Frame<'_>,
        log: &StepLog,
        found: &mut Found<P>,
        rng: &mut Rng,
    ) -> Result<()> {
        let steps = self.search.minibatch_full_eval_steps;
        let trials = self.plan.num_trials;
        let total = evaluations(trials, steps, self.plan.minibatch);
        let progress = frame.progress(total, "MIPROv2 search");
        let mut learnt = Learnt {
            tpe: Tpe::new(self.space.cardinalities(), TpeSettings::default()),
            tried: Vec::new(),
            fully_scored: Vec::new(),
            slot: 1,
        };
        let description = "default program (full)".to_string();
        let score = self
            .evaluate(
                frame,
                log,
                self.program,
                self.valset,
                "default",
                description,
            )
            .await?;
        improve(frame, found, self.program.clone(), score);
        let origin = vec![0; self.space.cardinalities().len()];
        learnt.tpe.tell(origin, score);
        progress.step(|| best_message(found));
        for trial in 0..trials {
            learnt.slot += 1;
            self.trial(frame, log, found, &mut learnt, trial, rng)
                .await?;
            progress.step(|| best_message(found));
            if self.plan.minibatch
                && full_due(learnt.slot, steps, total)
                && self.full_evaluation(frame, log, found, &mut learnt).await?
            {
                progress.step(|| best_message(found));
            }
        }
        Ok(())
    }

    /// Trial number `trial`: a combination drawn by the sampler, scored on a minibatch (or the
    /// whole validation set without minibatches).
    async fn trial(
        &self,
        frame: &mut Frame<'_>,
        log: &StepLog,
        found: &mut Found<P>,
        learnt: &mut Learnt,
        trial: usize,
        rng: &mut Rng,
    ) -> Result<()> {
        let point = learnt.tpe.ask(rng);
        let batch: Vec<E> = if self.plan.minibatch {
            rng.sample_indices(self.valset.len(), self.search.minibatch_size)
                .into_iter()
                .map(|i| self.valset[i].clone())
                .collect()
        } else {
            self.valset.to_vec()
        };
        let candidate = self.space.program(self.program, &point)?;
        let scope = if self.plan.minibatch {
            format!("minibatch of {}", batch.len())
        } else {
            "full".into()
        };
        let description = format!(
            "trial {} ({scope}): {}",
            trial + 1,
            self.space.describe(self.program, &point)
        );
        let step = format!("trial/{trial}");
        let score = self
            .evaluate(frame, log, &candidate, &batch, &step, description)
            .await?;
        learnt.tpe.tell(point.clone(), score);
        if !self.plan.minibatch {
            improve(frame, found, candidate, score);
        }
        match learnt.tried.iter_mut().find(|(p, _)| *p == point) {
            Some((_, scores)) => scores.push(score),
            None => learnt.tried.push((point, vec![score])),
        }
        Ok(())
    }

    /// Scores on the whole validation set the combination with the best mean minibatch score
    /// not yet scored whole; `false` when every one was.
    async fn full_evaluation(
        &self,
        frame: &mut Frame<'_>,
        log: &StepLog,
        found: &mut Found<P>,
        learnt: &mut Learnt,
    ) -> Result<bool> {
        let mut ranked: Vec<&(Vec<usize>, Vec<f64>)> = learnt
            .tried
            .iter()
            .filter(|(p, _)| !learnt.fully_scored.contains(p))
            .collect();
        ranked.sort_by(|a, b| mean(&b.1).total_cmp(&mean(&a.1)));
        let Some((point, scores)) = ranked.first().map(|(p, s)| (p.clone(), s)) else {
            return Ok(false);
        };
        learnt.slot += 1;
        let description = format!(
            "full evaluation (minibatch mean {:.3}): {}",
            mean(scores),
            self.space.describe(self.program, &point)
        );
        let candidate = self.space.program(self.program, &point)?;
        let step = format!("full/{}", learnt.slot);
        let score = self
            .evaluate(frame, log, &candidate, self.valset, &step, description)
            .await?;
        learnt.tpe.tell(point.clone(), score);
        learnt.fully_scored.push(point);
        improve(frame, found, candidate, score);
        Ok(true)
    }

    /// The score of `candidate` on `set`, as a logged step and a trial.
    async fn evaluate(
        &self,
        frame: &mut Frame<'_>,
        log: &StepLog,
        candidate: &P,
        set: &[E],
        step: &str,
        description: String,
    ) -> Result<f64> {
        let task = self.options.task_model.as_ref();
        let score = score_on(self.metric, candidate, set, self.options.concurrency, task);
        log.step(frame, step, scored(description, score)).await
    }
}

/// DSPy's count of a search's evaluations: the default program's, the trials', and (with
/// minibatches) the full evaluations'.
pub(super) fn evaluations(trials: usize, steps: usize, minibatch: bool) -> usize {
    if minibatch {
        trials + trials / steps + 1 + usize::from(!trials.is_multiple_of(steps))
    } else {
        trials + 1
    }
}

/// Whether a full evaluation is due after the trial that took evaluation slot `slot`: every
/// `steps` trials, and after the last.
pub(super) fn full_due(slot: usize, steps: usize, total: usize) -> bool {
    slot.is_multiple_of(steps + 1) || slot + 1 == total
}

/// The full evaluations of a search with minibatches, when each one due finds a combination
/// not yet scored whole (one that does not delays the next).
pub(super) fn full_evaluations(trials: usize, steps: usize) -> usize {
    let total = evaluations(trials, steps, true);
    let mut slot = 1;
    let mut full = 0;
    for _ in 0..trials {
        slot += 1;
        if full_due(slot, steps, total) {
            slot += 1;
            full += 1;
        }
    }
    full
}

/// Keeps `candidate` as the best when it beats the best so far (its trial is the last).
fn improve<P>(frame: &Frame<'_>, found: &mut Found<P>, candidate: P, score: f64) {
    let trial = frame.report.trials.len() - 1;
    if found.best.as_ref().is_none_or(|(_, best, _)| score > *best) {
        found.best = Some((candidate, score, trial));
    }
}

fn mean(scores: &[f64]) -> f64 {
    scores.iter().sum::<f64>() / scores.len().max(1) as f64
}

fn best_message<P>(found: &Found<P>) -> String {
    match &found.best {
        Some((_, score, _)) => format!("best {:.1}%", 100.0 * score),
        None => String::new(),
    }
}

impl Space {
    fn per_predictor(&self) -> usize {
        if self.demo_sets.is_some() { 2 } else { 1 }
    }

    fn cardinalities(&self) -> Vec<usize> {
        let mut all = Vec::new();
        for (p, instructions) in self.instructions.iter().enumerate() {
            all.push(instructions.len());
            if let Some(sets) = &self.demo_sets {
                all.push(sets[p].len());
            }
        }
        all
    }

    /// `program` with the instructions and demos of `point`.
    fn program<P: Parameters + Clone>(&self, program: &P, point: &[usize]) -> Result<P> {
        let mut candidate = program.clone();
        let width = self.per_predictor();
        for (p, (_, predictor)) in candidate.predictors_mut().into_iter().enumerate() {
            let instruction = &self.instructions[p][point[p * width]];
            if predictor.effective_instructions() != instruction {
                predictor.set_instructions(Some(instruction.clone()));
            }
            if let Some(sets) = &self.demo_sets {
                predictor.set_demo_states(sets[p][point[p * width + 1]].clone())?;
            }
        }
        Ok(candidate)
    }

    /// The choice of `point` in words, with a snippet of each instruction.
    fn describe<P: Parameters>(&self, program: &P, point: &[usize]) -> String {
        let width = self.per_predictor();
        program
            .predictor_names()
            .iter()
            .enumerate()
            .map(|(p, name)| {
                let i = point[p * width];
                let mut text = format!(
                    "`{name}` instruction {i} \"{}\"",
                    snippet(&self.instructions[p][i], 32)
                );
                if self.demo_sets.is_some() {
                    text.push_str(&format!(" demos {}", point[p * width + 1]));
                }
                text
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full evaluations when those due at `fails` find nothing to score.
    fn with_failures(trials: usize, steps: usize, fails: &[bool]) -> usize {
        let total = evaluations(trials, steps, true);
        let (mut slot, mut full, mut due) = (1, 0, 0);
        for _ in 0..trials {
            slot += 1;
            if full_due(slot, steps, total) {
                let failed = fails.get(due).copied().unwrap_or(false);
                due += 1;
                if !failed {
                    slot += 1;
                    full += 1;
                }
            }
        }
        full
    }

    #[test]
    fn full_evaluations_follow_dspys_schedule_and_bound_any_run() {
        // 10 trials, every 5: after trial 5 and after the last.
        assert_eq!(full_evaluations(10, 5), 2);
        assert_eq!(full_evaluations(12, 5), 3);
        assert_eq!(full_evaluations(3, 5), 1);
        assert_eq!(evaluations(10, 5, true), 13);
        // One that finds nothing to score only delays the next: never more evaluations.
        for trials in 0..40 {
            for steps in 1..8 {
                let all = full_evaluations(trials, steps);
                for mask in 0u32..64 {
                    let fails: Vec<bool> = (0..6).map(|b| mask & (1 << b) != 0).collect();
                    assert!(
                        with_failures(trials, steps, &fails) <= all,
                        "{trials} {steps} {mask}"
                    );
                }
            }
        }
    }
}
