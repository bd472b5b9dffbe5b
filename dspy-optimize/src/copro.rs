//! `COPRO`: instructions proposed by a prompt model, refined over rounds from their scores.

mod estimate;

use crate::search::fields::all_fields;
use crate::search::prompting::{clean_instruction, describe_predictor, propose_all, read_proposal};
use crate::search::resume::Resume;
use crate::search::scoring::score_on;
use crate::search::seed::derive_seed;
use crate::search::step_log::{Logged, StepLog, scored};
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{Estimate, Trial};
use dspy_core::data::Rng;
use dspy_core::evaluate::{Metric, Progress};
use dspy_core::lm::UsageReport;
use dspy_core::util::snippet;
use dspy_core::{Error, Example, Module, Parameters, Result, Signature};
use dspy_macros::Signature;
use serde::Serialize;
use serde_json::json;

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
/// [`CompileReport::stopped_by_budget`](crate::CompileReport::stopped_by_budget) set; with [`checkpoint`](Self::checkpoint) a later run
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
    options: SearchOptions,
}

/// The knobs of COPRO's own (the checkpoint key has them, with the seed and concurrency).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct CoproSettings {
    breadth: usize,
    depth: usize,
    init_temperature: f32,
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

/// What a search works on, and what it has found so far (kept outside the search, so a
/// budget stop still has it).
struct Run<'a, P, E> {
    program: &'a P,
    trainset: &'a [E],
    names: Vec<String>,
    /// Each predictor described for the prompt model.
    tasks: Vec<String>,
    /// Each predictor's instructions as given.
    originals: Vec<String>,
    log: StepLog,
    rng: Rng,
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
            },
            options: SearchOptions::default(),
        }
    }

    /// Candidates per predictor and round (default 10; at least 2): the first round proposes
    /// `breadth - 1` beside the current instructions, later rounds `breadth`.
    #[must_use]
    pub fn breadth(mut self, breadth: usize) -> Self {
        self.settings.breadth = breadth;
        self
    }

    /// Rounds of scoring (default 3; at least 1); between two rounds new instructions are
    /// proposed from the scores.
    #[must_use]
    pub fn depth(mut self, depth: usize) -> Self {
        self.settings.depth = depth.max(1);
        self
    }

    /// The prompt model's temperature for proposals (default 1.4).
    #[must_use]
    pub fn init_temperature(mut self, temperature: f32) -> Self {
        self.settings.init_temperature = temperature;
        self
    }

    search_setters!([options] seed, concurrency, progress, prompt_model, task_model, checkpoint, metric);
    compile_methods!(compile, estimate);
}

/// COPRO scores on the training set; it takes no validation set.
impl<P, E, M> Search<P, E> for COPRO<M>
where
    P: Module + Parameters + Clone,
    P::Output: Sync,
    E: Example<Input = P::Input> + Serialize + Clone,
    M: Metric<E, P::Output>,
{
    type Program = P;
    const NAME: &'static str = "COPRO";

    fn options(&self) -> &SearchOptions {
        &self.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        program: &P,
        trainset: &[E],
        _: Option<&[E]>,
    ) -> Result<P> {
        if self.settings.breadth < 2 {
            return Err(Error::config(
                "COPRO needs a breadth of at least 2 (the current instructions and one proposal); \
                 set .breadth(n) with n >= 2",
            ));
        }
        let mut run = self.start(frame, program, trainset)?;
        let outcome = self.rounds(frame, &mut run).await;
        frame.stop_on_budget(outcome)?;
        let mut best = program.clone();
        if let Some(winner) = best_of(run.evaluated.iter().flatten()) {
            frame.report.choose(winner.trial);
            apply(&mut best, &winner.program);
        }
        Ok(best)
    }

    fn estimate(&self, program: &P, trainset: &[E], _: Option<&[E]>) -> Result<Estimate> {
        self.estimate_on(program, trainset)
    }
}

impl<M> COPRO<M> {
    /// The search's starting point, with its step log opened.
    fn start<'a, P, E>(
        &self,
        frame: &Frame<'_>,
        program: &'a P,
        trainset: &'a [E],
    ) -> Result<Run<'a, P, E>>
    where
        P: Parameters,
        E: Serialize,
    {
        let mut settings = serde_json::to_value(&self.settings)?;
        settings["concurrency"] = json!(self.options.concurrency);
        settings["seed"] = json!(self.options.seed);
        let state = serde_json::to_value(program.state()?)?;
        let fields = serde_json::to_value(all_fields(trainset)?)?;
        let log = StepLog::open(Resume::open(frame, &settings, &[&state, &fields]))?;
        let predictors = program.predictors();
        Ok(Run {
            program,
            trainset,
            names: program.predictor_names(),
            tasks: predictors
                .iter()
                .map(|(name, p)| describe_predictor(name, *p))
                .collect(),
            originals: predictors
                .iter()
                .map(|(_, p)| p.effective_instructions().to_string())
                .collect(),
            log,
            rng: Rng::new(self.options.seed),
            evaluated: vec![Vec::new(); predictors.len()],
        })
    }

    /// Proposals from the current instructions, then `depth` rounds of scoring, with new
    /// proposals from the scores between two rounds.
    async fn rounds<P, E>(&self, frame: &mut Frame<'_>, run: &mut Run<'_, P, E>) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let predictors = run.names.len();
        // Round 0: proposals from the current instructions, and those instructions.
        let mut all: Vec<Vec<String>> = Vec::new();
        for p in 0..predictors {
            let input = ProposeInstructionInput {
                task: run.tasks[p].clone(),
                basic_instruction: run.originals[p].clone(),
            };
            let label = format!("propose `{}` round 1", run.names[p]);
            let step = format!("propose/{p}/0");
            let count = self.settings.breadth - 1;
            let mut candidates = self
                .proposals::<ProposeInstruction, P, E>(
                    frame,
                    run,
                    &step,
                    &label,
                    count,
                    input,
                    |out| &out.proposed_instruction,
                )
                .await?;
            candidates.push(run.originals[p].clone());
            all.push(candidates);
        }
        let mut latest = all.clone();
        let mut current = run.originals.clone();
        // With one predictor a round scores only the newest candidates; with several, all of
        // them again, as the others have changed.
        let several = predictors > 1;
        for depth in 0..self.settings.depth {
            for p in 0..predictors {
                let candidates = if several { &all[p] } else { &latest[p] };
                self.score_round(frame, run, &mut current, p, depth, candidates)
                    .await?;
            }
            if depth + 1 == self.settings.depth {
                break;
            }
            for p in 0..predictors {
                let proposed = self.refine(frame, run, p, depth).await?;
                all[p].extend(proposed.iter().cloned());
                latest[p] = proposed;
            }
        }
        for p in 0..predictors {
            let mut scores: Vec<f64> = run.evaluated[p].iter().map(|e| e.score).collect();
            scores.sort_by(|a, b| b.total_cmp(a));
            scores.truncate(10);
            let label = format!("final `{}` top 10", run.names[p]);
            frame.report.trials.push(stats_trial(&label, &scores));
        }
        Ok(())
    }

    /// Scores every candidate of predictor `p` (the others keep `current`), then gives it the
    /// best one so far.
    async fn score_round<P, E>(
        &self,
        frame: &mut Frame<'_>,
        run: &mut Run<'_, P, E>,
        current: &mut [String],
        p: usize,
        depth: usize,
        candidates: &[String],
    ) -> Result<()>
    where
        P: Module + Parameters + Clone,
        P::Output: Sync,
        E: Example<Input = P::Input> + Clone,
        M: Metric<E, P::Output>,
    {
        let name = run.names[p].clone();
        let round = depth + 1;
        let newest_from = candidates.len().saturating_sub(self.settings.breadth);
        let title = format!("COPRO round {round}/{} `{name}`", self.settings.depth);
        let progress = frame.progress(candidates.len(), &title);
        let mut newest = Vec::new();
        for (c, instruction) in candidates.iter().enumerate() {
            current[p] = instruction.clone();
            let description = format!("round {round} `{name}` #{c}: {}", snippet(instruction, 48));
            let (program, trainset) = (run.program, run.trainset);
            let instructions = &*current;
            let step = format!("score/{depth}/{p}/{c}");
            // Boxed: an evaluation's future is large, and a round holds several.
            let score = Box::pin(async {
                let mut candidate = program.clone();
                apply(&mut candidate, instructions);
                let task = self.options.task_model.as_ref();
                let concurrency = self.options.concurrency;
                let score = score_on(&self.metric, &candidate, trainset, concurrency, task);
                scored(description, score).await
            });
            let score = run.log.step(frame, &step, score).await?;
            let trial = frame.report.trials.len() - 1;
            let evaluated = &mut run.evaluated[p];
            match evaluated.iter_mut().find(|e| e.instruction == *instruction) {
                // DSPy keeps the earlier entry unless the new score beats it.
                Some(entry) if entry.score >= score => {}
                Some(entry) => {
                    entry.score = score;
                    entry.program = current.to_vec();
                    entry.trial = trial;
                }
                None => evaluated.push(Evaluated {
                    instruction: instruction.clone(),
                    score,
                    program: current.to_vec(),
                    trial,
                }),
            }
            if c >= newest_from {
                newest.push(score);
            }
            let best = best_of(run.evaluated.iter().flatten()).map(|e| e.score);
            progress.step(|| format!("best {:.1}%", 100.0 * best.unwrap_or(0.0)));
        }
        let label = format!("round {round} `{name}` newest");
        frame.report.trials.push(stats_trial(&label, &newest));
        if let Some(best) = best_of(run.evaluated[p].iter()) {
            current[p] = best.instruction.clone();
        }
        Ok(())
    }

    /// New instructions for predictor `p` from its `breadth` best so far, shown to the prompt
    /// model with their scores, lowest first (as DSPy lists them: the best is read last).
    async fn refine<P, E>(
        &self,
        frame: &mut Frame<'_>,
        run: &mut Run<'_, P, E>,
        p: usize,
        depth: usize,
    ) -> Result<Vec<String>> {
        let name = run.names[p].clone();
        let mut ranked: Vec<&Evaluated> = run.evaluated[p].iter().collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
        let top: Vec<f64> = ranked.iter().take(10).map(|e| e.score).collect();
        let label = format!("round {} `{name}` top 10", depth + 1);
        frame.report.trials.push(stats_trial(&label, &top));
        ranked.truncate(self.settings.breadth);
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
            task: run.tasks[p].clone(),
            attempted_instructions: attempts,
        };
        let step = format!("propose/{p}/{}", depth + 1);
        let label = format!("propose `{name}` round {}", depth + 2);
        let count = self.settings.breadth;
        self.proposals::<ProposeFromAttempts, P, E>(
            frame,
            run,
            &step,
            &label,
            count,
            input,
            |out| &out.proposed_instruction,
        )
        .await
    }

    /// `count` proposals from the prompt model, made concurrently, taken in order; those that
    /// fail are recorded and skipped.
    #[allow(clippy::too_many_arguments)]
    async fn proposals<S, P, E>(
        &self,
        frame: &mut Frame<'_>,
        run: &mut Run<'_, P, E>,
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
            .map(|i| derive_seed(run.rng.next_u64(), i as u64))
            .collect();
        let options = &self.options;
        run.log
            .step(frame, step, async {
                let progress = Progress::new(count, label, options.progress);
                let inputs = rollouts.into_iter().map(|r| (input.clone(), r)).collect();
                let lm = options.prompt_model.as_ref();
                let temperature = self.settings.init_temperature;
                let calls =
                    propose_all::<S>(lm, temperature, inputs, options.concurrency, &progress).await;
                drop(progress);
                let mut proposals = Vec::new();
                let mut trials = Vec::new();
                for (i, call) in calls.into_iter().enumerate() {
                    let call = call.map(|out| out.map(|out| clean_instruction(text(&out))));
                    match read_proposal(&format!("{label} #{i}"), call) {
                        Ok((trial, instruction)) => {
                            trials.push(trial);
                            proposals.extend(instruction);
                        }
                        Err(error) => return Logged::failed(error),
                    }
                }
                Logged::ok(proposals, trials)
            })
            .await
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
