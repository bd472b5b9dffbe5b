//! One SIMBA step: sample trajectories on a minibatch, make new programs from its buckets,
//! score them on it.

use super::draws::{Bucket, buckets, drop_demos, percentile, softmax_sample, top_k_plus_baseline};
use super::strategies::{Run, append_demos, append_rule, demos_from_best};
use super::{Context, Entry, SIMBA, SimbaState, build};
use crate::Trial;
use crate::search::failure::stops;
use crate::search::measure::measure;
use crate::search::rollout::{Job, Runs};
use crate::search::seed::derive_seed;
use dspy_core::data::Rng;
use dspy_core::evaluate::Metric;
use dspy_core::lm::UsageReport;
use dspy_core::module::CallOverrides;
use dspy_core::util::snippet;
use dspy_core::{Example, Module, Parameters, ProgramState, Result};
use std::time::{Duration, Instant};

/// Characters of a new rule shown in its trial (50 and the ellipsis).
const RULE_SNIPPET: usize = 51;

/// What a step's new programs are made from: its minibatch, the pool's averages and best
/// programs, and the runs sampled on it.
struct Round {
    step: usize,
    batch: Vec<usize>,
    averages: Vec<f64>,
    top: Vec<usize>,
    sampled: Runs,
    p10: f64,
    p90: f64,
}

/// A new program, with how it was made, what making it used and how long it took.
struct NewProgram<P> {
    program: P,
    description: String,
    usage: UsageReport,
    elapsed: Duration,
}

impl<M> SIMBA<M> {
    /// One step on `state` (see the type's docs).
    pub(super) async fn step<P, E>(
        &self,
        state: &mut SimbaState,
        context: &Context<'_, P, E>,
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input>,
        M: Metric<E, P::Output>,
    {
        let mut rng = Rng::new(derive_seed(self.options.seed, state.steps as u64));
        let bsize = context.bsize;
        if state.next + bsize > state.order.len() {
            rng.shuffle(&mut state.order);
            state.next = 0;
        }
        let batch: Vec<usize> = state.order[state.next..state.next + bsize].to_vec();
        state.next += bsize;
        let round = self.sample(state, context, batch, &mut rng).await?;
        // Buckets: one per example, its runs best first; inconsistent examples first.
        let mut made = Vec::new();
        for bucket in buckets(&round.sampled.scores, bsize) {
            let Some(program) = self
                .new_program(state, context, &round, &bucket, &mut rng)
                .await?
            else {
                continue;
            };
            made.push(program);
            if made.len() > self.settings.num_candidates {
                break;
            }
        }
        self.score_new(state, context, &round, made).await?;
        state.steps += 1;
        // Final scores of fewer steps (a checkpoint of a shorter compile) no longer hold.
        state.finals = None;
        Ok(())
    }

    /// Trajectories: each of `num_candidates` samplers runs every example of `batch` with a
    /// program drawn by softmax from the best so far, at temperature 1.0 with its own rollout.
    async fn sample<P, E>(
        &self,
        state: &mut SimbaState,
        context: &Context<'_, P, E>,
        batch: Vec<usize>,
        rng: &mut Rng,
    ) -> Result<Round>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input>,
        M: Metric<E, P::Output>,
    {
        let (step, k, bsize) = (state.steps + 1, self.settings.num_candidates, context.bsize);
        let averages: Vec<f64> = state.programs.iter().map(Entry::average).collect();
        let top = top_k_plus_baseline(&averages, k);
        let programs: Vec<P> = top
            .iter()
            .map(|&i| build(context.program, &state.programs[i].state))
            .collect::<Result<_>>()?;
        let temperature = self.settings.temperature_for_sampling;
        let mut jobs = Vec::with_capacity(k * bsize);
        for model in 0..k {
            for &i in &batch {
                let chosen = softmax_sample(rng, &top, &averages, temperature);
                let position = top.iter().position(|&t| t == chosen).unwrap_or(0);
                let sampling = CallOverrides::new()
                    .rollout_id(model as u64)
                    .temperature(1.0);
                jobs.push(Job {
                    example: &context.trainset[i],
                    program: position,
                    overrides: Some(sampling),
                });
            }
        }
        let sampled = measure(self.run(&programs, &jobs, true)).await;
        let runs = sampled.outcome?;
        let mean = runs.scores.iter().sum::<f64>() / runs.scores.len().max(1) as f64;
        let what = format!("[step {step}] sampled {k}×{bsize} runs, mean {mean:.3}");
        state
            .trials
            .push(Trial::new(what, None, &sampled.usage, sampled.elapsed));
        Ok(Round {
            step,
            batch,
            p10: percentile(&runs.scores, 10.0),
            p90: percentile(&runs.scores, 90.0),
            averages,
            top,
            sampled: runs,
        })
    }

    /// A new program from one bucket: a source drawn by softmax, a few of its demos dropped,
    /// then a demo or a rule appended. `None` when the strategy failed (recorded as a trial).
    async fn new_program<P, E>(
        &self,
        state: &mut SimbaState,
        context: &Context<'_, P, E>,
        round: &Round,
        (example, runs): &Bucket,
        rng: &mut Rng,
    ) -> Result<Option<NewProgram<P>>>
    where
        P: Module + Parameters + Clone,
        E: Example<Input = P::Input>,
    {
        let settings = &self.settings;
        let started = Instant::now();
        let temperature = settings.temperature_for_candidates;
        let source = softmax_sample(rng, &round.top, &round.averages, temperature);
        let mut program = build(context.program, &state.programs[source].state)?;
        let dropped = drop_demos(&mut program, settings.max_demos, rng)?;
        let sampled = &round.sampled;
        let bucket: Vec<Run<'_>> = runs
            .iter()
            .map(|&r| Run {
                score: sampled.scores[r],
                feedback: sampled.feedback[r].as_deref(),
                trace: sampled.traces[r].as_ref(),
            })
            .collect();
        let rules_only = settings.max_demos == 0;
        let use_demo = !rules_only && rng.below(2) == 0;
        let mut description = format!("#{source}");
        if dropped > 0 {
            description.push_str(&format!(" (dropped {dropped} demos)"));
        }
        let (applied, usage, strategy) = if use_demo {
            let maxlen = settings.demo_input_field_maxlen;
            let id = &context.ids[round.batch[*example]];
            let made = Made {
                id,
                p10: round.p10,
                maxlen,
            };
            let applied = with_demo(&mut program, &bucket, &made, &mut description);
            (applied, UsageReport::default(), "append_a_demo")
        } else {
            let fields = &context.fields[round.batch[*example]];
            let lm = self.options.prompt_model.as_ref();
            let rule = append_rule(&mut program, &bucket, fields, round.p10, round.p90, lm);
            let advised = measure(Box::pin(rule)).await;
            let applied = with_rule(advised.outcome, &program, &mut description)?;
            (applied, advised.usage, "append_a_rule")
        };
        if let Err(error) = applied {
            // A demo that does not fit, a rule that did not parse: no program, as in DSPy.
            let what = format!("[step {}] {description} {strategy}", round.step);
            let trial = Trial::new(what, None, &usage, started.elapsed());
            state.trials.push(trial.failed(&error));
            return Ok(None);
        }
        Ok(Some(NewProgram {
            program,
            description,
            usage,
            elapsed: started.elapsed(),
        }))
    }

    /// Scores the new programs on the step's minibatch: all join the pool, the best is the
    /// step's winner.
    async fn score_new<P, E>(
        &self,
        state: &mut SimbaState,
        context: &Context<'_, P, E>,
        round: &Round,
        made: Vec<NewProgram<P>>,
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input>,
        M: Metric<E, P::Output>,
    {
        let bsize = context.bsize;
        let started = Instant::now();
        let programs: Vec<P> = made.iter().map(|m| m.program.clone()).collect();
        let jobs: Vec<Job<'_, E>> = (0..programs.len())
            .flat_map(|c| {
                round.batch.iter().map(move |&i| Job {
                    example: &context.trainset[i],
                    program: c,
                    overrides: None,
                })
            })
            .collect();
        let scored = self.run(&programs, &jobs, false).await?;
        let share = started.elapsed() / programs.len().max(1) as u32;
        let mut winner: Option<(usize, f64)> = None;
        for (c, mut new) in made.into_iter().enumerate() {
            let range = c * bsize..(c + 1) * bsize;
            let scores = scored.scores[range.clone()].to_vec();
            for run in &scored.usage[range] {
                new.usage += *run;
            }
            let average = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
            let index = state.programs.len();
            state.trials.push(Trial::new(
                format!("[step {}] #{index} ← {}", round.step, new.description),
                Some(average),
                &new.usage,
                new.elapsed + share,
            ));
            state.programs.push(Entry {
                state: ProgramState::of_predictors(&new.program)?,
                scores,
                trial: Some(state.trials.len() - 1),
            });
            if winner.is_none_or(|(_, best)| average > best) {
                winner = Some((index, average));
            }
        }
        if let Some((index, _)) = winner {
            state.winners.push(index);
        }
        Ok(())
    }
}

/// What `append_a_demo` makes demos with: the bucket's example id, the batch's 10th
/// percentile, and how long an input field may be.
struct Made<'a> {
    id: &'a str,
    p10: f64,
    maxlen: usize,
}

/// `append_a_demo`: the best run's calls become demos (unless it skips), bootstrapped from the
/// bucket's example. The error of a demo that does not fit is the strategy's failure.
fn with_demo<P: Parameters>(
    program: &mut P,
    bucket: &[Run<'_>],
    made: &Made<'_>,
    description: &mut String,
) -> Result<()> {
    match demos_from_best(bucket, made.p10, made.maxlen) {
        Some(demos) => {
            let added = append_demos(program, demos, made.id)?;
            description.push_str(&format!(" append_a_demo: {added} demos"));
        }
        None => description.push_str(" append_a_demo: skipped"),
    }
    Ok(())
}

/// `append_a_rule`'s outcome in the description: the first advised predictor's new rule, or
/// that it skipped. A rule that did not parse is the strategy's failure (the inner error); an
/// error that ends the compile is returned.
fn with_rule<P: Parameters>(
    advised: Result<Option<Vec<String>>>,
    program: &P,
    description: &mut String,
) -> Result<Result<()>> {
    match advised {
        Ok(Some(names)) => {
            let rule = names
                .first()
                .and_then(|n| program.predictor(n))
                .map(|p| snippet(last_paragraph(p.effective_instructions()), RULE_SNIPPET))
                .unwrap_or_default();
            description.push_str(&format!(" append_a_rule {names:?}: \"{rule}\""));
            Ok(Ok(()))
        }
        Ok(None) => {
            description.push_str(" append_a_rule: skipped");
            Ok(Ok(()))
        }
        Err(error) if stops(&error) => Err(error),
        Err(error) => Ok(Err(error)),
    }
}

/// The last paragraph of an instruction (the rule just appended).
fn last_paragraph(text: &str) -> &str {
    text.rsplit("\n\n").next().unwrap_or(text)
}
