//! `SIMBA`: stochastic introspective mini-batch ascent, as DSPy's `dspy.SIMBA` does it.

mod strategies;

use crate::checkpoint::{Checkpoint, fingerprint};
use crate::demos::{all_fields, derive_seed, is_budget, is_fatal};
use crate::rollout::{Job, RunSettings, Runs, run_jobs};
use crate::{CompileReport, Compiled, Optimizer, Trial};
use dspy_core::data::Rng;
use dspy_core::evaluate::{Metric, Progress};
use dspy_core::lm::{UsageReport, track_usage};
use dspy_core::module::{CallOverrides, DEFAULT_CONCURRENCY, ProgramState};
use dspy_core::{Error, Example, LM, Module, Parameters, Result};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use strategies::{Run, append_demos, append_rule, demos_from_best};

/// The knobs that change what a compile finds (the checkpoint key includes them).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Settings {
    bsize: usize,
    num_candidates: usize,
    max_steps: usize,
    max_demos: usize,
    demo_input_field_maxlen: usize,
    temperature_for_sampling: f64,
    temperature_for_candidates: f64,
    seed: u64,
}

/// DSPy's `SIMBA` (Stochastic Introspective Mini-Batch Ascent): it improves a program step by
/// step on minibatches of the training set, learning from the examples where its own runs
/// disagree.
///
/// Each of `max_steps` steps (default 8):
///
/// 1. takes the next minibatch of `bsize` training examples (default 32; the training set is
///    shuffled, and reshuffled when it runs out; a smaller training set is used whole);
/// 2. runs every example `num_candidates` times (default 6), each time with a program drawn
///    from the best ones so far (the baseline always among them) by a softmax over their
///    average scores (`temperature_for_sampling`, 0.2), each of the `num_candidates` runs per
///    example at temperature 1.0 with its own rollout id, so the samples vary;
/// 3. groups the runs by example into *buckets* and sorts them by the gap between the best and
///    the worst run (then the best score, then the gap between the best and the average):
///    examples where the program is inconsistent come first;
/// 4. for each bucket, in that order, until `num_candidates + 1` new programs are made: draws a
///    source program by softmax (`temperature_for_candidates`, 0.2), drops a random few of its
///    demos (more the more it has against `max_demos`), and applies a strategy drawn at random:
///    - **append a demo**: the best run's call of each predictor becomes a new demo of it
///      (inputs longer than `demo_input_field_maxlen` characters are cut), unless that run
///      scored no more than the batch's 10th percentile;
///    - **append a rule**: the prompt model ([`prompt_model`](Self::prompt_model)) compares the
///      best and the worst run of the bucket (their trajectories, outputs, rewards and the
///      metric's feedback) and writes advice for each predictor, which is appended to its
///      instructions (a real LM call through this crate's `AdviseFromTrajectories` signature);
///      skipped unless the best run beats the batch's 10th percentile and the worst falls
///      below its 90th. A predictor advised `N/A` is left as it was.
///
///    With `max_demos(0)` only rules are appended.
/// 5. scores the new programs on the same minibatch; all join the pool with their scores, and
///    the best is this step's winner.
///
/// At the end, up to `num_candidates + 1` winners, evenly spread over the steps (the baseline
/// first), are scored on the whole training set, and the best is returned. Every new program,
/// every step's sampling and every final score is a trial of the report.
///
/// All randomness comes from the seed (each step draws from a seed derived from it and the
/// step number); runs go concurrently through [`Evaluate`](dspy_core::evaluate::Evaluate) and
/// are taken in a fixed order, so a deterministic LM gives the same program for the same
/// seed. A run that fails scores 0. When an LM budget runs out the compile returns the program
/// with the best minibatch average so far, with [`CompileReport::stopped_by_budget`]; with
/// [`checkpoint`](Self::checkpoint) the state is saved after every step and a compile with the
/// same arguments resumes from it (`max_steps` apart: one given more steps carries on where the
/// checkpoint stopped). The file is kept once the compile finishes, so running it again returns
/// the same program at once; delete it to start over.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::SIMBA;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::keyed([
///     ("France", json!({"city": "Paris"})),
///     ("Peru", json!({"city": "Lima"})),
/// ]));
/// let trainset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Peru".into(), city: "Lima".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let simba = SIMBA::new(metric).bsize(2).num_candidates(2).max_steps(1).progress(false);
/// let compiled = dspy_core::with_lm(lm, simba.compile(&Predict::<Capital>::new(), &trainset))
///     .await
///     .unwrap();
/// assert_eq!(compiled.report.best_score, Some(1.0));
/// println!("{}", compiled.report);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SIMBA<M> {
    metric: M,
    settings: Settings,
    concurrency: usize,
    progress: bool,
    prompt_lm: Option<LM>,
    task_lm: Option<LM>,
    checkpoint: Option<Checkpoint>,
}

/// A program of the pool: its state and its scores on the minibatch it was made on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    state: ProgramState,
    scores: Vec<f64>,
    /// The trial that made it (none for the baseline).
    trial: Option<usize>,
}

impl Entry {
    fn average(&self) -> f64 {
        if self.scores.is_empty() {
            0.0
        } else {
            self.scores.iter().sum::<f64>() / self.scores.len() as f64
        }
    }
}

/// Everything the search needs to carry on from where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SimbaState {
    programs: Vec<Entry>,
    /// Each step's best new program (the baseline first).
    winners: Vec<usize>,
    /// The shuffled training indices minibatches are cut from, and where the next one starts.
    order: Vec<usize>,
    next: usize,
    steps: usize,
    trials: Vec<Trial>,
    /// The final scores on the training set: (program, score, trial).
    finals: Option<Vec<(usize, f64, usize)>>,
}

/// What a search shares with its steps.
struct Context<'a, P, E> {
    program: &'a P,
    trainset: &'a [E],
    fields: Vec<dspy_core::adapter::FieldValues>,
    bsize: usize,
}

impl<M> SIMBA<M> {
    /// A SIMBA search scored by `metric` (any `Fn(&E, &Output) -> f64 | bool | (f64, String)`,
    /// or a [`Metric`]), with DSPy's defaults: minibatches of 32, 6 candidates, 8 steps, at most
    /// 4 demos.
    pub fn new(metric: M) -> Self {
        SIMBA {
            metric,
            settings: Settings {
                bsize: 32,
                num_candidates: 6,
                max_steps: 8,
                max_demos: 4,
                demo_input_field_maxlen: 100_000,
                temperature_for_sampling: 0.2,
                temperature_for_candidates: 0.2,
                seed: 0,
            },
            concurrency: DEFAULT_CONCURRENCY,
            progress: true,
            prompt_lm: None,
            task_lm: None,
            checkpoint: None,
        }
    }

    /// Training examples per minibatch (default 32).
    pub fn bsize(mut self, n: usize) -> Self {
        self.settings.bsize = n.max(1);
        self
    }

    /// Runs per example, and new programs per step (one more), default 6.
    pub fn num_candidates(mut self, n: usize) -> Self {
        self.settings.num_candidates = n.max(1);
        self
    }

    /// Steps (minibatches), default 8.
    pub fn max_steps(mut self, n: usize) -> Self {
        self.settings.max_steps = n;
        self
    }

    /// Demos a predictor holds before some are dropped (default 4); 0 appends rules only.
    pub fn max_demos(mut self, n: usize) -> Self {
        self.settings.max_demos = n;
        self
    }

    /// Characters of an input field kept in a new demo (default 100 000).
    pub fn demo_input_field_maxlen(mut self, n: usize) -> Self {
        self.settings.demo_input_field_maxlen = n;
        self
    }

    /// Softmax temperature for drawing the programs that run (default 0.2).
    pub fn temperature_for_sampling(mut self, t: f64) -> Self {
        self.settings.temperature_for_sampling = t;
        self
    }

    /// Softmax temperature for drawing the programs new ones are made from (default 0.2).
    pub fn temperature_for_candidates(mut self, t: f64) -> Self {
        self.settings.temperature_for_candidates = t;
        self
    }

    /// The LM that writes rules (default: the configured one).
    pub fn prompt_model(mut self, lm: LM) -> Self {
        self.prompt_lm = Some(lm);
        self
    }

    /// Runs the program on `lm` (default: whatever the program and the caller configured).
    pub fn task_model(mut self, lm: LM) -> Self {
        self.task_lm = Some(lm);
        self
    }

    /// Runs up to `n` examples at a time (default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The seed of every random draw (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }

    /// Shows a progress bar over the steps on a terminal (the default) or not.
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Saves the search state to `path` after every step, and resumes from it when a compile
    /// with the same arguments starts (see [`Checkpoint`]).
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(Checkpoint::new(path));
        self
    }

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// The best program found on `trainset`; see the type's docs.
    pub async fn compile<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        crate::compiled::run_search(self.search(program, trainset)).await
    }

    async fn search<P, E>(&self, program: &P, trainset: &[E]) -> Result<(P, CompileReport)>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize,
        M: Metric<E, P::Output>,
    {
        if program.predictor_names().is_empty() {
            return Err(Error::config(
                "SIMBA found no predictor in the program: it changes predictors' demos and instructions",
            ));
        }
        if trainset.is_empty() {
            return Err(Error::config("SIMBA needs a non-empty training set"));
        }
        let fields = all_fields(trainset)?;
        // Not the number of steps: a compile given more carries on from a checkpoint of fewer.
        let unbounded = Settings {
            max_steps: 0,
            ..self.settings.clone()
        };
        let key = fingerprint(&[
            &serde_json::to_value(&unbounded)?,
            &crate::instruct::models_key(self.prompt_lm.as_ref(), self.task_lm.as_ref()),
            &serde_json::to_value(program.state()?)?,
            &serde_json::Value::Array(
                fields
                    .iter()
                    .cloned()
                    .map(serde_json::Value::Object)
                    .collect(),
            ),
        ]);
        let mut state: SimbaState = match &self.checkpoint {
            Some(checkpoint) => checkpoint.load(NAME, &key)?,
            None => None,
        }
        .unwrap_or_default();
        if state.programs.is_empty() {
            let mut order: Vec<usize> = (0..trainset.len()).collect();
            Rng::new(self.settings.seed).shuffle(&mut order);
            state = SimbaState {
                programs: vec![Entry {
                    state: program.state()?,
                    scores: Vec::new(),
                    trial: None,
                }],
                winners: vec![0],
                order,
                ..SimbaState::default()
            };
        }
        let context = Context {
            program,
            trainset,
            fields,
            bsize: self.settings.bsize.min(trainset.len()),
        };
        let mut report = CompileReport::new(NAME, self.settings.seed);
        let progress = Progress::new(self.settings.max_steps + 1, "SIMBA", self.progress);
        let best_message = |state: &SimbaState| {
            let best = state
                .programs
                .iter()
                .map(Entry::average)
                .fold(0.0, f64::max);
            format!("best minibatch {:.1}%", 100.0 * best)
        };
        for _ in 0..state.steps.min(self.settings.max_steps) {
            progress.step(|| best_message(&state));
        }

        let mut stopped = Vec::new();
        while state.steps < self.settings.max_steps {
            let mut next = state.clone();
            let started = Instant::now();
            let (outcome, usage) = track_usage(Box::pin(self.step(&mut next, &context))).await;
            match outcome {
                Ok(()) => {
                    state = next;
                    self.save(&key, &state)?;
                    progress.step(|| best_message(&state));
                }
                Err(error) if is_budget(&error) => {
                    // The step is dropped whole, so a resumed compile redoes it.
                    report.stopped_by_budget = true;
                    let trial = Trial::new(
                        format!("[step {}] stopped", state.steps + 1),
                        None,
                        &usage,
                        started.elapsed(),
                    );
                    stopped.push(trial.failed(&error));
                    break;
                }
                Err(error) => {
                    progress.finish();
                    return Err(error);
                }
            }
        }
        if !report.stopped_by_budget && state.finals.is_none() {
            let mut next = state.clone();
            let started = Instant::now();
            let (outcome, usage) =
                track_usage(Box::pin(self.final_scores(&mut next, &context))).await;
            match outcome {
                Ok(()) => {
                    state = next;
                    self.save(&key, &state)?;
                }
                Err(error) if is_budget(&error) => {
                    report.stopped_by_budget = true;
                    let trial = Trial::new("final: stopped", None, &usage, started.elapsed());
                    stopped.push(trial.failed(&error));
                }
                Err(error) => {
                    progress.finish();
                    return Err(error);
                }
            }
        }
        progress.step(|| best_message(&state));
        progress.finish();

        report.trials = std::mem::take(&mut state.trials);
        report.trials.extend(stopped);
        let chosen = match &state.finals {
            Some(finals) => {
                let mut best = 0;
                for (i, (_, score, _)) in finals.iter().enumerate() {
                    if *score > finals[best].1 {
                        best = i;
                    }
                }
                finals
                    .get(best)
                    .map(|&(program, _, trial)| (program, Some(trial)))
            }
            // Stopped early: the best minibatch average so far.
            None => {
                let averages: Vec<f64> = state.programs.iter().map(Entry::average).collect();
                let mut best = 0;
                for (i, average) in averages.iter().enumerate() {
                    if *average > averages[best] {
                        best = i;
                    }
                }
                Some((best, state.programs[best].trial))
            }
        };
        let (best, trial) = chosen.unwrap_or((0, None));
        if let Some(trial) = trial {
            report.choose(trial);
        }
        let program = build(program, &state.programs[best].state)?;
        Ok((program, report))
    }

    fn save(&self, key: &str, state: &SimbaState) -> Result<()> {
        match &self.checkpoint {
            Some(checkpoint) => checkpoint.save(NAME, key, state),
            None => Ok(()),
        }
    }

    /// Makes `jobs` over `programs` (under the task model, if one was given).
    async fn run<P, E>(&self, programs: &[P], jobs: &[Job<'_, E>], traced: bool) -> Result<Runs>
    where
        P: Module + Parameters,
        P::Output: Sync,
        E: Example<Input = P::Input>,
        M: Metric<E, P::Output>,
    {
        let settings = RunSettings {
            concurrency: self.concurrency,
            failure_score: 0.0,
            traced,
        };
        // Boxed: an evaluation's future is large, and a step holds several.
        let run = Box::pin(run_jobs(&self.metric, programs, jobs, settings));
        match &self.task_lm {
            Some(lm) => dspy_core::with_lm(lm.clone(), run).await,
            None => run.await,
        }
    }

    /// One step: sample trajectories on a minibatch, make new programs from its buckets, score
    /// them on it.
    async fn step<P, E>(&self, state: &mut SimbaState, context: &Context<'_, P, E>) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input>,
        M: Metric<E, P::Output>,
    {
        let settings = &self.settings;
        let step = state.steps + 1;
        let mut rng = Rng::new(derive_seed(settings.seed, state.steps as u64));
        let bsize = context.bsize;
        let k = settings.num_candidates;
        if state.next + bsize > state.order.len() {
            rng.shuffle(&mut state.order);
            state.next = 0;
        }
        let batch: Vec<usize> = state.order[state.next..state.next + bsize].to_vec();
        state.next += bsize;

        // Trajectories: each of k samplers runs every example with a program drawn by softmax.
        let started = Instant::now();
        let averages: Vec<f64> = state.programs.iter().map(Entry::average).collect();
        let top = top_k_plus_baseline(&averages, k);
        let programs: Vec<P> = top
            .iter()
            .map(|&i| build(context.program, &state.programs[i].state))
            .collect::<Result<_>>()?;
        let mut jobs = Vec::with_capacity(k * bsize);
        for model in 0..k {
            for &i in &batch {
                let chosen =
                    softmax_sample(&mut rng, &top, &averages, settings.temperature_for_sampling);
                let position = top.iter().position(|&t| t == chosen).unwrap_or(0);
                jobs.push(Job {
                    example: &context.trainset[i],
                    program: position,
                    overrides: Some(
                        CallOverrides::new()
                            .rollout_id(model as u64)
                            .temperature(1.0),
                    ),
                });
            }
        }
        let (sampled, usage) = track_usage(self.run(&programs, &jobs, true)).await;
        let sampled = sampled?;
        let mean = sampled.scores.iter().sum::<f64>() / sampled.scores.len().max(1) as f64;
        state.trials.push(Trial::new(
            format!("[step {step}] sampled {k}×{bsize} runs, mean {mean:.3}"),
            None,
            &usage,
            started.elapsed(),
        ));

        // Buckets: one per example, its runs best first; inconsistent examples first.
        let p10 = percentile(&sampled.scores, 10.0);
        let p90 = percentile(&sampled.scores, 90.0);
        let buckets = buckets(&sampled.scores, bsize);

        // New programs, one per bucket, until k + 1.
        let mut candidates: Vec<(P, String, UsageReport, Duration)> = Vec::new();
        for (j, runs) in &buckets {
            let started = Instant::now();
            let source = softmax_sample(
                &mut rng,
                &top_k_plus_baseline(&averages, k),
                &averages,
                settings.temperature_for_candidates,
            );
            let mut candidate = build(context.program, &state.programs[source].state)?;
            let dropped = drop_demos(&mut candidate, settings.max_demos, &mut rng)?;
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
            let mut usage = UsageReport::default();
            if use_demo {
                match demos_from_best(&bucket, p10, settings.demo_input_field_maxlen) {
                    Some(demos) => match append_demos(&mut candidate, demos) {
                        Ok(added) => {
                            description.push_str(&format!(" append_a_demo: {added} demos"))
                        }
                        Err(error) => {
                            // A demo that does not fit: no candidate, as in DSPy.
                            let what = format!("[step {step}] {description} append_a_demo");
                            let trial = Trial::new(what, None, &usage, started.elapsed());
                            state.trials.push(trial.failed(&error));
                            continue;
                        }
                    },
                    None => description.push_str(" append_a_demo: skipped"),
                }
            } else {
                let example = &context.fields[batch[*j]];
                let (advised, used) = track_usage(Box::pin(append_rule(
                    &mut candidate,
                    &bucket,
                    example,
                    p10,
                    p90,
                    self.prompt_lm.as_ref(),
                )))
                .await;
                usage = used;
                match advised {
                    Ok(Some(names)) => {
                        let rule = names
                            .first()
                            .and_then(|n| candidate.predictor(n))
                            .map(|p| snippet(last_paragraph(p.effective_instructions())))
                            .unwrap_or_default();
                        description.push_str(&format!(" append_a_rule {names:?}: \"{rule}\""));
                    }
                    Ok(None) => description.push_str(" append_a_rule: skipped"),
                    Err(error) if is_budget(&error) || is_fatal(&error) => return Err(error),
                    Err(error) => {
                        // The rule did not parse: no candidate, as in DSPy.
                        let what = format!("[step {step}] {description} append_a_rule");
                        let trial = Trial::new(what, None, &usage, started.elapsed());
                        state.trials.push(trial.failed(&error));
                        continue;
                    }
                }
            }
            candidates.push((candidate, description, usage, started.elapsed()));
            if candidates.len() > k {
                break;
            }
        }

        // Score the new programs on the same minibatch.
        let started = Instant::now();
        let programs: Vec<P> = candidates.iter().map(|(p, ..)| p.clone()).collect();
        let jobs: Vec<Job<'_, E>> = (0..programs.len())
            .flat_map(|c| {
                batch.iter().map(move |&i| Job {
                    example: &context.trainset[i],
                    program: c,
                    overrides: None,
                })
            })
            .collect();
        let scored = self.run(&programs, &jobs, false).await?;
        let share = started.elapsed() / programs.len().max(1) as u32;
        let mut winner: Option<(usize, f64)> = None;
        for (c, (candidate, description, mut usage, elapsed)) in candidates.into_iter().enumerate()
        {
            let range = c * bsize..(c + 1) * bsize;
            let scores = scored.scores[range.clone()].to_vec();
            for run in &scored.usage[range] {
                usage += *run;
            }
            let average = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
            let index = state.programs.len();
            state.trials.push(Trial::new(
                format!("[step {step}] #{index} ← {description}"),
                Some(average),
                &usage,
                elapsed + share,
            ));
            state.programs.push(Entry {
                state: candidate.state()?,
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
        state.steps += 1;
        // Final scores of fewer steps (a checkpoint of a shorter compile) no longer hold.
        state.finals = None;
        Ok(())
    }

    /// Scores up to `num_candidates + 1` winners, spread evenly over the steps, on the whole
    /// training set.
    async fn final_scores<P, E>(
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
        let chosen = spread(state.winners.len(), self.settings.num_candidates + 1);
        let indices: Vec<usize> = chosen.into_iter().map(|i| state.winners[i]).collect();
        let programs: Vec<P> = indices
            .iter()
            .map(|&i| build(context.program, &state.programs[i].state))
            .collect::<Result<_>>()?;
        let n = context.trainset.len();
        let jobs: Vec<Job<'_, E>> = (0..programs.len())
            .flat_map(|c| {
                context.trainset.iter().map(move |example| Job {
                    example,
                    program: c,
                    overrides: None,
                })
            })
            .collect();
        let started = Instant::now();
        let scored = self.run(&programs, &jobs, false).await?;
        let share = started.elapsed() / programs.len().max(1) as u32;
        let mut finals = Vec::new();
        for (c, &index) in indices.iter().enumerate() {
            let range = c * n..(c + 1) * n;
            let score = scored.scores[range.clone()].iter().sum::<f64>() / n as f64;
            let usage = scored.usage[range]
                .iter()
                .fold(UsageReport::default(), |mut sum, u| {
                    sum += *u;
                    sum
                });
            state.trials.push(Trial::new(
                format!("final: #{index} on the training set"),
                Some(score),
                &usage,
                share,
            ));
            finals.push((index, score, state.trials.len() - 1));
        }
        state.finals = Some(finals);
        Ok(())
    }
}

const NAME: &str = "SIMBA";

/// A copy of `program` with `state` loaded.
fn build<P: Parameters + Clone>(program: &P, state: &ProgramState) -> Result<P> {
    let mut built = program.clone();
    built.load_state(state.clone())?;
    Ok(built)
}

/// The `k` programs with the best average score (ties in pool order), the baseline (0) always
/// among them in place of the last.
fn top_k_plus_baseline(averages: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..averages.len()).collect();
    order.sort_by(|a, b| averages[*b].total_cmp(&averages[*a]));
    let mut top: Vec<usize> = order.into_iter().take(k).collect();
    if !top.contains(&0)
        && let Some(last) = top.last_mut()
    {
        *last = 0;
    }
    let mut seen = std::collections::BTreeSet::new();
    top.retain(|i| seen.insert(*i));
    top
}

/// One of `candidates`, drawn with weight `exp(average / temperature)`.
fn softmax_sample(
    rng: &mut Rng,
    candidates: &[usize],
    averages: &[f64],
    temperature: f64,
) -> usize {
    let temperature = if temperature > 0.0 { temperature } else { 1e-6 };
    // Shifted by the maximum, so large scores over small temperatures do not overflow.
    let top = candidates
        .iter()
        .map(|&c| averages[c])
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = candidates
        .iter()
        .map(|&c| ((averages[c] - top) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return candidates[rng.below(candidates.len())];
    }
    let mut draw = rng.next_f64() * total;
    for (&c, w) in candidates.iter().zip(&weights) {
        if draw < *w {
            return c;
        }
        draw -= w;
    }
    candidates[candidates.len() - 1]
}

/// One example's runs (positions in the sampled runs), best first.
type Bucket = (usize, Vec<usize>);

/// The sampled runs (`bsize` examples per sampler, sampler after sampler) grouped by example,
/// each group best run first; groups sorted by the gap between their best and worst run, then
/// their best score, then the gap between their best and average (largest first, ties in
/// example order).
fn buckets(scores: &[f64], bsize: usize) -> Vec<Bucket> {
    let key = |runs: &[usize]| {
        let max = scores[runs[0]];
        let min = scores[runs[runs.len() - 1]];
        let avg = runs.iter().map(|&r| scores[r]).sum::<f64>() / runs.len() as f64;
        (max - min, max, max - avg)
    };
    let mut buckets: Vec<Bucket> = (0..bsize.min(scores.len()))
        .map(|j| {
            let mut runs: Vec<usize> = (j..scores.len()).step_by(bsize).collect();
            runs.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
            (j, runs)
        })
        .collect();
    buckets.sort_by(|a, b| {
        key(&b.1)
            .partial_cmp(&key(&a.1))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    buckets
}

/// The `p`th percentile of `scores`, interpolated linearly (numpy's default).
fn percentile(scores: &[f64], p: f64) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (sorted.len() - 1) as f64 * p / 100.0;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

/// Drops a few random demos from every predictor (the same positions from each): a Poisson
/// number with mean `demos / max_demos`, at least one once a predictor is full. Returns how
/// many positions were drawn.
fn drop_demos<P: Parameters>(program: &mut P, max_demos: usize, rng: &mut Rng) -> Result<usize> {
    let most = program
        .predictors()
        .iter()
        .map(|(_, p)| p.demo_count())
        .max()
        .unwrap_or(0);
    let limit = if max_demos > 0 { max_demos } else { 3 };
    let drop = poisson(rng, most as f64 / limit as f64)
        .max(usize::from(most >= limit))
        .min(most);
    if drop == 0 {
        return Ok(0);
    }
    let positions: Vec<usize> = (0..drop).map(|_| rng.below(most)).collect();
    for (_, predictor) in program.predictors_mut() {
        let kept: Vec<_> = predictor
            .demos_json()?
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !positions.contains(i))
            .map(|(_, d)| d)
            .collect();
        predictor.set_demos_json(kept)?;
    }
    Ok(drop)
}

/// A Poisson draw with mean `lambda` (Knuth's method; the means here are small).
fn poisson(rng: &mut Rng, lambda: f64) -> usize {
    if lambda <= 0.0 {
        return 0;
    }
    let limit = (-lambda).exp();
    let mut product = 1.0;
    let mut count = 0;
    loop {
        product *= rng.next_f64();
        if product <= limit {
            return count;
        }
        count += 1;
    }
}

/// `n` positions spread evenly over `0..len` (DSPy's final choice of winners: the first and
/// the last always), without repeats.
fn spread(len: usize, n: usize) -> Vec<usize> {
    let last = len.saturating_sub(1);
    let mut picked: Vec<usize> = if last == 0 || n < 2 {
        vec![0]
    } else {
        (0..n)
            .map(|i| round_half_even((i * last) as f64 / (n - 1) as f64))
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    picked.retain(|i| seen.insert(*i));
    picked
}

/// Rounds to the nearest integer, halves to even (Python's `round`).
fn round_half_even(x: f64) -> usize {
    let floor = x.floor();
    let diff = x - floor;
    let rounded = if diff > 0.5 || (diff == 0.5 && floor % 2.0 != 0.0) {
        floor + 1.0
    } else {
        floor
    };
    rounded as usize
}

/// The last paragraph of an instruction (the rule just appended).
fn last_paragraph(text: &str) -> &str {
    text.rsplit("\n\n").next().unwrap_or(text)
}

/// The start of a text, on one line, for a trial's description.
fn snippet(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = line.chars().take(50).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

impl<P, E, M> Optimizer<P, E> for SIMBA<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize,
    M: Metric<E, P::Output>,
{
    type Program = P;

    fn compile(
        &self,
        program: &P,
        trainset: &[E],
    ) -> impl Future<Output = Result<Compiled<P>>> + Send {
        SIMBA::compile(self, program, trainset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_is_always_among_the_top() {
        assert_eq!(top_k_plus_baseline(&[0.1, 0.9, 0.5, 0.7], 2), [1, 0]);
        assert_eq!(top_k_plus_baseline(&[0.9, 0.5, 0.7], 2), [0, 2]);
        assert_eq!(top_k_plus_baseline(&[0.0], 6), [0]);
        // Ties keep pool order.
        assert_eq!(top_k_plus_baseline(&[0.5, 0.5, 0.5], 3), [0, 1, 2]);
    }

    #[test]
    fn softmax_favours_high_scores_at_low_temperature() {
        let averages = [0.0, 1.0];
        let mut rng = Rng::new(0);
        let high = (0..1000)
            .filter(|_| softmax_sample(&mut rng, &[0, 1], &averages, 0.2) == 1)
            .count();
        // exp(5) : 1, about 99.3%.
        assert!(high > 980, "{high}");
        let even = (0..1000)
            .filter(|_| softmax_sample(&mut rng, &[0, 1], &[0.5, 0.5], 0.2) == 1)
            .count();
        assert!((400..600).contains(&even), "{even}");
    }

    #[test]
    fn inconsistent_examples_come_first() {
        // Two samplers over three examples: runs [s0e0, s0e1, s0e2, s1e0, s1e1, s1e2].
        let scores = [1.0, 0.0, 0.5, 1.0, 1.0, 0.0];
        let sorted = buckets(&scores, 3);
        // Example 1 (gap 1, best 1) before 2 (gap 0.5) before 0 (no gap).
        assert_eq!(sorted, [(1, vec![4, 1]), (2, vec![2, 5]), (0, vec![0, 3])]);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([0, 0, 1, 1, 1], 10) == 0.0; 90 -> 1.0; [0, 1] 10 -> 0.1
        assert_eq!(percentile(&[0.0, 0.0, 1.0, 1.0, 1.0], 10.0), 0.0);
        assert_eq!(percentile(&[0.0, 0.0, 1.0, 1.0, 1.0], 90.0), 1.0);
        assert!((percentile(&[1.0, 0.0], 10.0) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn winners_are_spread_like_dspy() {
        // DSPy: [round(i * M / (N - 1)) for i in range(N)], deduplicated.
        assert_eq!(spread(1, 7), [0]);
        assert_eq!(spread(9, 7), [0, 1, 3, 4, 5, 7, 8]);
        assert_eq!(spread(3, 7), [0, 1, 2]);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(1.2), 1);
    }

    #[test]
    fn poisson_draws_have_the_mean_asked() {
        let mut rng = Rng::new(5);
        let total: usize = (0..4000).map(|_| poisson(&mut rng, 1.5)).sum();
        let mean = total as f64 / 4000.0;
        assert!((1.4..1.6).contains(&mean), "{mean}");
        assert_eq!(poisson(&mut rng, 0.0), 0);
    }
}
