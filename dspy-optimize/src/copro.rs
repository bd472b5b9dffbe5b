//! `COPRO`: instructions proposed by a prompt model, refined over rounds from their scores.

use crate::checkpoint::{Checkpoint, fingerprint};
use crate::demos::{all_fields, derive_seed};
use crate::instruct::{
    StepLog, clean_instruction, describe_predictor, models_key, propose, score_on, snippet, stops,
};
use crate::{CompileReport, Compiled, Optimizer, Trial};
use dspy_core::data::Rng;
use dspy_core::evaluate::{Metric, Progress};
use dspy_core::lm::{UsageReport, track_usage};
use dspy_core::module::DEFAULT_CONCURRENCY;
use dspy_core::{Error, Example, LM, Module, Parameters, Result, Signature};
use dspy_macros::Signature;
use futures_util::{StreamExt, stream};
use serde::Serialize;
use std::future::Future;
use std::time::Instant;

/// You improve the instructions given to a language model. You are shown the task (the fields
/// it reads and writes) and the instructions it has now. Propose new instructions that would
/// lead a capable language model to do this task well. Be inventive.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct ProposeInstruction {
    #[input(desc = "the task: the fields it reads and writes")]
    task: String,
    #[input(desc = "the instructions before optimization")]
    basic_instruction: String,
    #[output(desc = "the improved instructions for the language model")]
    proposed_instruction: String,
}

/// You improve the instructions given to a language model. You are shown the task and
/// instructions already tried on it, each with the validation score it reached, listed from
/// the lowest score to the highest (higher is better). Propose new instructions that would
/// lead a capable language model to do this task even better. Be inventive.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct ProposeFromAttempts {
    #[input(desc = "the task: the fields it reads and writes")]
    task: String,
    #[input(desc = "instructions tried so far and their scores, from lowest to highest score")]
    attempted_instructions: Vec<String>,
    #[output(desc = "the improved instructions for the language model")]
    proposed_instruction: String,
}

/// DSPy's `COPRO`: coordinate ascent over the instructions of every predictor, with
/// instructions proposed by a prompt model.
///
/// 1. For each predictor, the prompt model proposes `breadth - 1` instructions from its
///    current ones (at `init_temperature`, each call with its own rollout id so none is a
///    cache hit of another); the current instructions are a candidate too.
/// 2. For `depth` rounds, predictor by predictor: every candidate of the predictor is scored
///    on the training set with [`Evaluate`](dspy_core::evaluate::Evaluate) (the other
///    predictors keep their best instructions so far), and the predictor takes its best one.
///    With one predictor a round scores only the newest candidates; with several, all of them
///    again, as the others have changed.
/// 3. Between rounds, the prompt model sees each predictor's `breadth` best instructions with
///    their scores, from lowest to highest, and proposes `breadth` new ones.
///
/// The program returned carries the best-scoring candidate found (instructions of every
/// predictor as they were when it scored). The report has a trial per proposal call (the
/// instruction, LM calls, time; a proposal that fails to parse is recorded and skipped), per
/// scored candidate (score on the training set), and per round and predictor summaries of the
/// round's newest scores and of the ten best so far (DSPy's `track_stats`: max, mean, min,
/// standard deviation).
///
/// Proposals run on [`prompt_model`](Self::prompt_model) when given, candidates on
/// [`task_model`](Self::task_model) when given; otherwise both use the configured LM. When an
/// LM budget runs out, the compile stops with the best candidate scored so far and
/// [`CompileReport::stopped_by_budget`] set; with [`checkpoint`](Self::checkpoint) a later run
/// with the same arguments continues from the last finished step.
///
/// ```
/// use dspy_core::{DummyLm, LM, Predict};
/// use dspy_optimize::COPRO;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let task = LM::new(DummyLm::keyed([("France", json!({"city": "Paris"}))]));
/// let prompt = LM::new(DummyLm::keyed([("", json!({"proposed_instruction": "Name the capital."}))]));
/// let trainset = vec![Capital { country: "France".into(), city: "Paris".into() }];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let compiled = COPRO::new(metric).breadth(2).depth(1).prompt_model(prompt).task_model(task)
///     .progress(false)
///     .compile(&Predict::<Capital>::new(), &trainset).await.unwrap();
/// assert_eq!(compiled.report.best_score, Some(1.0));
/// # });
/// ```
#[derive(Debug, Clone)]
#[allow(clippy::upper_case_acronyms)] // DSPy's name
pub struct COPRO<M> {
    metric: M,
    settings: CoproSettings,
    prompt_model: Option<LM>,
    task_model: Option<LM>,
    checkpoint: Option<Checkpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CoproSettings {
    breadth: usize,
    depth: usize,
    init_temperature: f32,
    concurrency: usize,
    seed: u64,
    #[serde(skip)]
    progress: bool,
}

/// A candidate scored for one predictor.
#[derive(Debug, Clone)]
struct Evaluated {
    instruction: String,
    score: f64,
    /// Every predictor's instructions when it scored.
    program: Vec<String>,
    /// Its trial in the report.
    trial: usize,
}

/// What a search has found so far: kept outside the search so a budget stop still has it.
struct Found {
    report: CompileReport,
    /// Per predictor, its scored candidates in the order first scored.
    evaluated: Vec<Vec<Evaluated>>,
}

impl<M> COPRO<M> {
    /// COPRO scored by `metric`, with DSPy's defaults: breadth 10, depth 3, temperature 1.4.
    pub fn new(metric: M) -> Self {
        COPRO {
            metric,
            settings: CoproSettings {
                breadth: 10,
                depth: 3,
                init_temperature: 1.4,
                concurrency: DEFAULT_CONCURRENCY,
                seed: 0,
                progress: true,
            },
            prompt_model: None,
            task_model: None,
            checkpoint: None,
        }
    }

    /// Candidates per predictor and round (default 10; at least 2): the first round proposes
    /// `breadth - 1` beside the current instructions, later rounds `breadth`.
    pub fn breadth(mut self, breadth: usize) -> Self {
        self.settings.breadth = breadth;
        self
    }

    /// Rounds of scoring (default 3; at least 1); between two rounds new instructions are
    /// proposed from the scores.
    pub fn depth(mut self, depth: usize) -> Self {
        self.settings.depth = depth.max(1);
        self
    }

    /// The prompt model's temperature for proposals (default 1.4).
    pub fn init_temperature(mut self, temperature: f32) -> Self {
        self.settings.init_temperature = temperature;
        self
    }

    /// The LM that proposes instructions (default: the configured one).
    pub fn prompt_model(mut self, lm: LM) -> Self {
        self.prompt_model = Some(lm);
        self
    }

    /// The LM the program runs on while candidates are scored (default: the configured one;
    /// predictors with their own LM keep it).
    pub fn task_model(mut self, lm: LM) -> Self {
        self.task_model = Some(lm);
        self
    }

    /// Scores up to `n` examples at a time, and makes up to `n` proposal calls at a time
    /// (default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.settings.concurrency = n.max(1);
        self
    }

    /// The seed of the proposals' rollout ids (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }

    /// Shows progress bars on a terminal (the default) or not.
    pub fn progress(mut self, show: bool) -> Self {
        self.settings.progress = show;
        self
    }

    /// Saves the search's progress to `path` after every step, and resumes from it when a
    /// compile with the same arguments finds it (see [`Checkpoint`]). The file stays after the
    /// compile ends, so running it again returns the same program without LM calls; other
    /// models (by name) make another key, so switching models starts over.
    pub fn checkpoint(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.checkpoint = Some(Checkpoint::new(path));
        self
    }

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// A copy of `program` with the best instructions found, scored on `trainset`.
    pub async fn compile<P, E>(&self, program: &P, trainset: &[E]) -> Result<Compiled<P>>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        if self.settings.breadth < 2 {
            return Err(Error::config(
                "COPRO needs a breadth of at least 2 (the current instructions and one proposal); \
                 set .breadth(n) with n >= 2",
            ));
        }
        let started = Instant::now();
        let mut found = Found {
            report: CompileReport::new("COPRO", self.settings.seed),
            evaluated: vec![Vec::new(); program.predictors().len()],
        };
        let (outcome, usage) = track_usage(self.search(program, trainset, &mut found)).await;
        match outcome {
            Ok(()) => {}
            Err(error) if crate::demos::is_budget(&error) => found.report.stopped_by_budget = true,
            Err(error) => return Err(error),
        }
        let Found {
            mut report,
            evaluated,
        } = found;
        let mut best = program.clone();
        if let Some(winner) = best_of(evaluated.iter().flatten()) {
            report.choose(winner.trial);
            apply(&mut best, &winner.program);
        }
        report.usage = usage;
        report.elapsed = started.elapsed();
        Ok(Compiled::new(best, report))
    }

    async fn search<P, E>(&self, program: &P, trainset: &[E], found: &mut Found) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Serialize + Clone,
        M: Metric<E, P::Output>,
    {
        let settings = &self.settings;
        let key = fingerprint(&[
            &serde_json::to_value(settings)?,
            &models_key(self.prompt_model.as_ref(), self.task_model.as_ref()),
            &serde_json::to_value(program.state()?)?,
            &serde_json::to_value(all_fields(trainset)?)?,
        ]);
        let mut log = StepLog::open(self.checkpoint.as_ref(), "COPRO", key)?;
        let names = program.predictor_names();
        let tasks: Vec<String> = program
            .predictors()
            .iter()
            .map(|(name, p)| describe_predictor(name, *p))
            .collect();
        let originals: Vec<String> = program
            .predictors()
            .iter()
            .map(|(_, p)| p.effective_instructions().to_string())
            .collect();
        let mut rng = Rng::new(settings.seed);
        let breadth = settings.breadth;

        // Round 0: proposals from the current instructions, and those instructions.
        let mut all: Vec<Vec<String>> = Vec::new();
        for (p, name) in names.iter().enumerate() {
            let input = ProposeInstructionInput {
                task: tasks[p].clone(),
                basic_instruction: originals[p].clone(),
            };
            let step = format!("propose/{p}/0");
            let mut candidates = self
                .proposals::<ProposeInstruction>(
                    &mut log,
                    found,
                    &mut rng,
                    &step,
                    &format!("propose `{name}` round 1"),
                    breadth - 1,
                    input,
                    |out| &out.proposed_instruction,
                )
                .await?;
            candidates.push(originals[p].clone());
            all.push(candidates);
        }
        let mut latest = all.clone();

        let mut current = originals.clone();
        let several = names.len() > 1;
        for depth in 0..settings.depth {
            for (p, name) in names.iter().enumerate() {
                let candidates = if several { &all[p] } else { &latest[p] };
                let newest_from = candidates.len().saturating_sub(breadth);
                let progress = Progress::new(
                    candidates.len(),
                    &format!("COPRO round {}/{} `{name}`", depth + 1, settings.depth),
                    settings.progress,
                );
                let mut newest = Vec::new();
                for (c, instruction) in candidates.iter().enumerate() {
                    current[p] = instruction.clone();
                    let step = format!("score/{depth}/{p}/{c}");
                    let description = format!(
                        "round {} `{name}` #{c}: {}",
                        depth + 1,
                        snippet(instruction, 48)
                    );
                    let score = self
                        .score(
                            &mut log,
                            found,
                            program,
                            &current,
                            trainset,
                            &step,
                            description,
                        )
                        .await;
                    let score = match score {
                        Ok(score) => score,
                        Err(error) => {
                            progress.finish();
                            return Err(error);
                        }
                    };
                    let trial = found.report.trials.len() - 1;
                    let evaluated = &mut found.evaluated[p];
                    match evaluated.iter_mut().find(|e| e.instruction == *instruction) {
                        // DSPy keeps the earlier entry unless the new score beats it.
                        Some(entry) if entry.score >= score => {}
                        Some(entry) => {
                            entry.score = score;
                            entry.program = current.clone();
                            entry.trial = trial;
                        }
                        None => evaluated.push(Evaluated {
                            instruction: instruction.clone(),
                            score,
                            program: current.clone(),
                            trial,
                        }),
                    }
                    if c >= newest_from {
                        newest.push(score);
                    }
                    let best = best_of(found.evaluated.iter().flatten()).map(|e| e.score);
                    progress.step(|| format!("best {:.1}%", 100.0 * best.unwrap_or(0.0)));
                }
                progress.finish();
                found.report.trials.push(stats_trial(
                    &format!("round {} `{name}` newest", depth + 1),
                    &newest,
                ));
                if let Some(best) = best_of(found.evaluated[p].iter()) {
                    current[p] = best.instruction.clone();
                }
            }
            if depth + 1 == settings.depth {
                break;
            }
            for (p, name) in names.iter().enumerate() {
                let mut ranked: Vec<&Evaluated> = found.evaluated[p].iter().collect();
                ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
                let top: Vec<f64> = ranked.iter().take(10).map(|e| e.score).collect();
                let label = format!("round {} `{name}` top 10", depth + 1);
                found.report.trials.push(stats_trial(&label, &top));
                ranked.truncate(breadth);
                // Lowest first, as DSPy lists them: the best attempt is read last.
                let attempts: Vec<String> = ranked
                    .iter()
                    .rev()
                    .enumerate()
                    .map(|(i, e)| {
                        format!(
                            "Instruction #{n}: {}\nResulting score #{n}: {:.3}",
                            e.instruction,
                            e.score,
                            n = i + 1
                        )
                    })
                    .collect();
                let input = ProposeFromAttemptsInput {
                    task: tasks[p].clone(),
                    attempted_instructions: attempts,
                };
                let step = format!("propose/{p}/{}", depth + 1);
                let proposed = self
                    .proposals::<ProposeFromAttempts>(
                        &mut log,
                        found,
                        &mut rng,
                        &step,
                        &format!("propose `{name}` round {}", depth + 2),
                        breadth,
                        input,
                        |out| &out.proposed_instruction,
                    )
                    .await?;
                all[p].extend(proposed.iter().cloned());
                latest[p] = proposed;
            }
        }
        for (p, name) in names.iter().enumerate() {
            let mut scores: Vec<f64> = found.evaluated[p].iter().map(|e| e.score).collect();
            scores.sort_by(|a, b| b.total_cmp(a));
            scores.truncate(10);
            found
                .report
                .trials
                .push(stats_trial(&format!("final `{name}` top 10"), &scores));
        }
        Ok(())
    }

    /// `count` proposals from the prompt model, made concurrently, taken in order; those that
    /// fail are recorded and skipped.
    #[allow(clippy::too_many_arguments)]
    async fn proposals<S>(
        &self,
        log: &mut StepLog,
        found: &mut Found,
        rng: &mut Rng,
        step: &str,
        label: &str,
        count: usize,
        input: S::Input,
        text: fn(&S::Output) -> &String,
    ) -> Result<Vec<String>>
    where
        S: Signature,
    {
        // Drawn whether or not the step is replayed, so a resumed run draws the same.
        let rollouts: Vec<u64> = (0..count)
            .map(|i| derive_seed(rng.next_u64(), i as u64))
            .collect();
        if let Some((proposals, trials)) = log.replay::<Vec<String>>(step) {
            found.report.trials.extend(trials);
            return Ok(proposals);
        }
        let temperature = self.settings.init_temperature;
        let lm = self.prompt_model.as_ref();
        let progress = Progress::new(count, label, self.settings.progress);
        let calls: Vec<_> = stream::iter(rollouts)
            .map(|rollout| {
                let input = input.clone();
                async move {
                    let started = Instant::now();
                    let (output, usage) =
                        track_usage(propose::<S>(lm, input, temperature, Some(rollout))).await;
                    (output, usage, started.elapsed())
                }
            })
            .buffered(self.settings.concurrency)
            .inspect(|_| progress.step(String::new))
            .collect()
            .await;
        progress.finish();
        let mut proposals = Vec::new();
        let mut trials = Vec::new();
        for (i, (output, usage, elapsed)) in calls.into_iter().enumerate() {
            let proposal = output.map(|out| clean_instruction(text(&out)));
            let trial = |what: String| Trial::new(what, None, &usage, elapsed);
            match proposal {
                Ok(Some(instruction)) => {
                    trials.push(trial(format!(
                        "{label} #{i}: {}",
                        snippet(&instruction, 40)
                    )));
                    proposals.push(instruction);
                }
                Ok(None) => {
                    let mut t = trial(format!("{label} #{i}: empty"));
                    t.error = Some("the prompt model proposed empty instructions".into());
                    trials.push(t);
                }
                Err(error) if stops(&error) => return Err(error),
                Err(error) => trials.push(trial(format!("{label} #{i}: failed")).failed(&error)),
            }
        }
        log.record(step, &proposals, &trials)?;
        found.report.trials.extend(trials);
        Ok(proposals)
    }

    /// The score on `trainset` of `program` with these instructions, as a trial.
    #[allow(clippy::too_many_arguments)]
    async fn score<P, E>(
        &self,
        log: &mut StepLog,
        found: &mut Found,
        program: &P,
        instructions: &[String],
        trainset: &[E],
        step: &str,
        description: String,
    ) -> Result<f64>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        if let Some((score, trials)) = log.replay::<f64>(step) {
            found.report.trials.extend(trials);
            return Ok(score);
        }
        let mut candidate = program.clone();
        apply(&mut candidate, instructions);
        let started = Instant::now();
        let task = self.task_model.as_ref();
        let concurrency = self.settings.concurrency;
        let (score, usage) = track_usage(score_on(
            &self.metric,
            &candidate,
            trainset,
            concurrency,
            task,
        ))
        .await;
        let trial = Trial::new(
            description,
            score.as_ref().ok().copied(),
            &usage,
            started.elapsed(),
        );
        match score {
            Ok(score) => {
                log.record(step, &score, std::slice::from_ref(&trial))?;
                found.report.trials.push(trial);
                Ok(score)
            }
            Err(error) => {
                found.report.trials.push(trial.failed(&error));
                Err(error)
            }
        }
    }
}

/// The first candidate with the highest score (DSPy's stable sort, best first).
fn best_of<'a>(candidates: impl Iterator<Item = &'a Evaluated>) -> Option<&'a Evaluated> {
    candidates.fold(None, |best: Option<&Evaluated>, e| match best {
        Some(b) if b.score >= e.score => Some(b),
        _ => Some(e),
    })
}

/// Sets every predictor's instructions; ones equal to what it has are left as they are.
fn apply<P: Parameters>(program: &mut P, instructions: &[String]) {
    for ((_, predictor), instruction) in program.predictors_mut().into_iter().zip(instructions) {
        if predictor.effective_instructions() != instruction {
            predictor.set_instructions(Some(instruction.clone()));
        }
    }
}

/// A summary trial of scores: max, mean, min and standard deviation (DSPy's `track_stats`).
fn stats_trial(label: &str, scores: &[f64]) -> Trial {
    let usage = UsageReport::default();
    let elapsed = std::time::Duration::ZERO;
    if scores.is_empty() {
        return Trial::new(format!("{label}: nothing scored"), None, &usage, elapsed);
    }
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
    Trial::new(
        format!("{label}: max {max:.3} mean {mean:.3} min {min:.3} sd {sd:.3}"),
        None,
        &usage,
        elapsed,
    )
}

impl<P, E, M> Optimizer<P, E> for COPRO<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize + Clone,
    M: Metric<E, P::Output>,
{
    type Program = P;

    fn compile(
        &self,
        program: &P,
        trainset: &[E],
    ) -> impl Future<Output = Result<Compiled<P>>> + Send {
        COPRO::compile(self, program, trainset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluated(instruction: &str, score: f64, trial: usize) -> Evaluated {
        Evaluated {
            instruction: instruction.into(),
            score,
            program: vec![instruction.into()],
            trial,
        }
    }

    #[test]
    fn the_first_of_equal_scores_wins() {
        let all = [
            evaluated("a", 0.5, 0),
            evaluated("b", 0.75, 1),
            evaluated("c", 0.75, 2),
        ];
        assert_eq!(best_of(all.iter()).map(|e| e.trial), Some(1));
        assert!(best_of([].iter()).is_none());
    }

    #[test]
    fn stats_summarize_the_newest_scores() {
        let trial = stats_trial("round 1", &[0.0, 1.0]);
        assert_eq!(
            trial.candidate,
            "round 1: max 1.000 mean 0.500 min 0.000 sd 0.500"
        );
        assert_eq!(trial.score, None);
    }
}
