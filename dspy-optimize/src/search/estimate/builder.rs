//! [`Estimator`]: what an optimizer's `estimate` fills, phase by phase, and turns into an
//! [`Estimate`] with each model's totals and cost.

use super::sizes::{ProgramSizes, RunSize, proposer_call};
use super::{Cost, Count, Estimate, ModelEstimate, Phase, Role};
use crate::search::SearchOptions;
use dspy_core::lm::{Usage, current_lm};
use dspy_core::{LM, Parameters, Result, Signature};
use serde::Serialize;

/// An estimate being made: the models a compile would use, and its phases so far.
pub(crate) struct Estimator {
    optimizer: String,
    task: Option<LM>,
    prompt: Option<LM>,
    phases: Vec<Phase>,
    notes: Vec<String>,
}

impl Estimator {
    /// An estimate for `optimizer` run with `options`: its task and prompt models, else the
    /// configured LM.
    pub(crate) fn new(optimizer: &str, options: &SearchOptions) -> Self {
        let configured = current_lm();
        Estimator {
            optimizer: optimizer.to_string(),
            task: options.task_model.clone().or_else(|| configured.clone()),
            prompt: options.prompt_model.clone().or(configured),
            phases: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// `program`'s prompts measured on `trainset` as the task model would be sent them, with
    /// the assumption every estimate of program runs makes.
    pub(crate) fn sizes<P, E>(&mut self, program: &P, trainset: &[E]) -> Result<ProgramSizes>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let sizes = ProgramSizes::of(program, trainset, self.task.as_ref())?;
        let predictors = match sizes.predictors() {
            1 => "its predictor".to_string(),
            n => format!("each of its {n} predictors"),
        };
        self.note(format!(
            "a program run calls {predictors} once (modules that loop, as ReAct, BestOfN or \
             Refine do, call theirs more often), and the metric calls no LM"
        ));
        self.notes.extend(sizes.notes.iter().cloned());
        Ok(sizes)
    }

    /// A phase of `runs` program runs, each of `size`.
    pub(crate) fn runs(&mut self, name: impl Into<String>, runs: Count, size: &RunSize) {
        self.phase(name.into(), Role::Task, runs, size);
    }

    /// A phase of `calls` calls of the prompt model's signature `S`, each like one with
    /// `input` answered by `output`.
    pub(crate) fn proposals<S: Signature>(
        &mut self,
        name: impl Into<String>,
        calls: Count,
        input: &S::Input,
        output: &S::Output,
    ) -> Result<()> {
        let size = proposer_call::<S>(self.prompt.as_ref(), input, output)?;
        self.phase(name.into(), Role::Prompt, calls, &size);
        Ok(())
    }

    /// Adds what the estimate assumes (once).
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        if !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }

    fn phase(&mut self, name: String, role: Role, times: Count, size: &RunSize) {
        let tokens = |(at_most, expected): (f64, f64)| {
            Count::new(
                (times.at_most as f64 * at_most).round() as u64,
                (times.expected as f64 * expected).round() as u64,
            )
        };
        self.phases.push(Phase {
            name,
            role,
            calls: times.each(size.calls.0, size.calls.1),
            prompt_tokens: tokens(size.prompt_tokens),
            completion_tokens: tokens(size.completion_tokens),
        });
    }

    /// The phases and notes of `part`, another optimizer's estimate run as step `step` of
    /// this one, each named for the step.
    pub(crate) fn include(&mut self, step: &str, part: Estimate) {
        for mut phase in part.phases {
            phase.name = format!("{step}: {}", phase.name);
            self.phases.push(phase);
        }
        for note in part.notes {
            self.note(format!("{step} ({}): {note}", part.optimizer));
        }
    }

    /// The estimate: the phases, each model's totals and cost.
    pub(crate) fn finish(mut self) -> Estimate {
        let task = self.model(Role::Task);
        let prompt = self.model(Role::Prompt);
        for model in [&task, &prompt] {
            if let (None, Some(name), true) = (model.cost, &model.model, model.calls.at_most > 0) {
                self.note(format!(
                    "`{name}` has no price in its LM's price table, so its cost is not known"
                ));
            }
        }
        Estimate {
            optimizer: self.optimizer,
            phases: self.phases,
            task,
            prompt,
            notes: self.notes,
        }
    }

    /// The totals of `role`'s phases, priced by its LM.
    fn model(&self, role: Role) -> ModelEstimate {
        let lm = match role {
            Role::Task => self.task.as_ref(),
            Role::Prompt => self.prompt.as_ref(),
        };
        let phases = self.phases.iter().filter(|p| p.role == role);
        let (mut calls, mut prompt_tokens, mut completion_tokens) =
            (Count::default(), Count::default(), Count::default());
        for phase in phases {
            calls += phase.calls;
            prompt_tokens += phase.prompt_tokens;
            completion_tokens += phase.completion_tokens;
        }
        let cost = lm
            .and_then(|lm| lm.prices().price_for(lm.model()))
            .map(|price| {
                let of = |prompt: u64, completion: u64| {
                    price.cost(Usage {
                        prompt_tokens: prompt,
                        completion_tokens: completion,
                    })
                };
                Cost {
                    at_most: of(prompt_tokens.at_most, completion_tokens.at_most),
                    expected: of(prompt_tokens.expected, completion_tokens.expected),
                }
            });
        ModelEstimate {
            model: lm.map(|lm| lm.model().to_string()),
            calls,
            prompt_tokens,
            completion_tokens,
            cost,
            budget_calls: lm.and_then(|lm| lm.budget()?.max_calls),
        }
    }
}
