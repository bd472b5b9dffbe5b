//! MIPROv2's grounded proposer: instructions proposed by the prompt model from what it is told
//! about the data (a summary built from batches of training examples), the program (its
//! predictors' signatures, described by the prompt model), the predictor's bootstrapped demos,
//! and a random prompting tip. As DSPy's `GroundedProposer`, with our own wording.

pub(super) mod estimate;

use crate::Trial;
use crate::search::Frame;
use crate::search::failure::stops;
use crate::search::measure::{Measured, measure};
use crate::search::prompting::{
    clean_instruction, describe_predictor, module_line, propose, propose_all, read_proposal,
};
use crate::search::step_log::{Logged, StepLog};
use dspy_core::adapter::FieldValues;
use dspy_core::data::Rng;
use dspy_core::evaluate::Progress;
use dspy_core::util::snippet;
use dspy_core::{DynPredictor, LM, Result};
use dspy_macros::Signature;
use serde_json::Value;

/// Prompting tips, one drawn at random per proposal (DSPy's tip set, in our words); the first
/// is no tip at all.
pub(super) const TIPS: [&str; 6] = [
    "",
    "Feel free to be inventive in the new instruction.",
    "Keep the instruction short and plain.",
    "Make the instruction thorough and descriptive.",
    "Frame the task as one where a lot is at stake, so the model must get it right.",
    "Give the model a persona that fits the task (\"You are a ...\").",
];

/// Demos shown to the proposer per proposal (DSPy's `BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT`).
const DEMOS_IN_CONTEXT: usize = 3;
/// Most prompt-model calls spent describing the data (DSPy's `max_calls`).
const MAX_DESCRIBE_CALLS: usize = 10;
/// A summary stops after this many batches with nothing new to add.
const MAX_COMPLETE: usize = 5;

/// You are shown several examples from a dataset. Write down observations about patterns
/// that hold for most or all of them: their topics, content, syntax, length and so on. Make an
/// educated guess about the task the dataset is for. Be inventive.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct DescribeDataset {
    #[input(desc = "sample data points from the dataset")]
    examples: String,
    #[output(desc = "what holds for most or all of the examples")]
    observations: String,
}

/// You are shown more examples from a dataset, and observations already made about it. Add
/// observations of your own about patterns that hold for most or all of the examples (topics,
/// content, syntax, length, ...), or answer COMPLETE when the observations already cover them.
/// Make an educated guess about the task the dataset is for.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct DescribeDatasetFurther {
    #[input(desc = "sample data points from the dataset")]
    examples: String,
    #[input(desc = "observations already made about the dataset")]
    prior_observations: String,
    #[output(desc = "new observations that hold for most or all of the examples, or COMPLETE")]
    observations: String,
}

/// Summarize these observations about a dataset in two or three sentences that keep only the
/// points that matter most.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct SummarizeObservations {
    #[input(desc = "observations made about a dataset")]
    observations: String,
    #[output(desc = "two or three sentences with only the most important observations")]
    summary: String,
}

/// Below is the outline of a program that solves a task with calls to a language model: its
/// predictors, each with the fields it reads and writes and its instructions. Describe the task
/// the program is built to solve, and how it goes about solving it.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct DescribeProgram {
    #[input(desc = "the program's predictors, with their fields and instructions")]
    program_code: String,
    #[input(desc = "an example of the program at work")]
    program_example: String,
    #[output(desc = "the task the program solves, and how it solves it")]
    program_description: String,
}

/// Below is the outline of a program that solves a task with calls to a language model, and a
/// description of it. Describe the role of one of its predictors in the program.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct DescribeModule {
    #[input(desc = "the program's predictors, with their fields and instructions")]
    program_code: String,
    #[input(desc = "an example of the program at work")]
    program_example: String,
    #[input(desc = "the task the program solves, and how it solves it")]
    program_description: String,
    #[input(desc = "the predictor to describe")]
    module: String,
    #[output(desc = "the predictor's role in the program")]
    module_description: String,
}

/// Learn from the information below about a task that is solved with calls to a language
/// model, then write new instructions for one of the program's predictors that will lead the
/// language model to do the task better.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct ProposeGroundedInstruction {
    #[input(desc = "a description of the data the task works on")]
    dataset_description: String,
    #[input(desc = "the program's predictors, with their fields and instructions")]
    program_code: String,
    #[input(desc = "the task the program solves, and how it solves it")]
    program_description: String,
    #[input(desc = "the predictor to write instructions for")]
    module: String,
    #[input(desc = "the role of that predictor in the program")]
    module_description: String,
    #[input(desc = "example inputs and outputs of the predictor")]
    task_demos: String,
    #[input(desc = "the predictor's current instructions")]
    basic_instruction: String,
    #[input(desc = "a suggestion for how to write the new instructions")]
    tip: String,
    #[output(desc = "the new instructions for the predictor")]
    proposed_instruction: String,
}

const NOT_PROVIDED: &str = "Not provided.";
const NO_DEMOS: &str = "No task demos provided.";

/// What the proposer is told beyond the predictor itself.
#[derive(Debug, Clone, Default)]
pub(super) struct Grounding {
    /// The summary of the training data (when data-aware and it could be made).
    pub data_summary: Option<String>,
    /// The program's outline (when program-aware).
    pub program_code: Option<String>,
    /// The prompt model's description of the program.
    pub program_description: Option<String>,
    /// Its description of each predictor's role.
    pub module_descriptions: Vec<Option<String>>,
}

/// The prompt model, its temperature, and how many calls go at a time.
pub(super) struct PromptModel<'a> {
    pub lm: Option<&'a LM>,
    pub temperature: f32,
    pub concurrency: usize,
    pub progress: bool,
}

/// Examples as text: one JSON object per line.
fn examples_text(examples: &[FieldValues]) -> String {
    examples
        .iter()
        .map(|e| Value::Object(e.clone()).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// DSPy's dataset summary: observations on the first batch of `batch` examples, more on the
/// next batches (at most 10 calls; after 5 batches with nothing to add it stops), then a short
/// summary of them all. `None` when the first observations or the summary fail.
pub(super) async fn data_summary(
    prompt: &PromptModel<'_>,
    frame: &mut Frame<'_>,
    log: &StepLog,
    trainset: &[FieldValues],
    batch: usize,
) -> Result<Option<String>> {
    log.step(frame, "summary", async {
        let call = measure(summarize(prompt, trainset, batch)).await;
        let (summary, error) = match call.outcome {
            Ok(summary) => (summary, None),
            Err(error) if stops(&error) => return Logged::failed(error),
            Err(error) => (None, Some(error)),
        };
        let what = match &summary {
            Some(summary) => format!("dataset summary: {}", snippet(summary, 48)),
            None => "dataset summary: none".to_string(),
        };
        let mut t = Trial::new(what, None, &call.usage, call.elapsed);
        if let Some(error) = &error {
            t = t.failed(error);
        }
        Logged::ok(summary, vec![t])
    })
    .await
}

async fn summarize(
    prompt: &PromptModel<'_>,
    trainset: &[FieldValues],
    batch: usize,
) -> Result<Option<String>> {
    let batch = batch.max(1);
    let first = &trainset[..trainset.len().min(batch)];
    let input = DescribeDatasetInput {
        examples: examples_text(first),
    };
    let mut observations = propose::<DescribeDataset>(prompt.lm, input, 1.0, None)
        .await?
        .observations;
    let mut calls = 0;
    let mut complete = 0;
    for start in (batch..trainset.len()).step_by(batch) {
        calls += 1;
        if calls >= MAX_DESCRIBE_CALLS {
            break;
        }
        let examples = &trainset[start..trainset.len().min(start + batch)];
        let input = DescribeDatasetFurtherInput {
            examples: examples_text(examples),
            prior_observations: observations.clone(),
        };
        let more = match propose::<DescribeDatasetFurther>(prompt.lm, input, 1.0, None).await {
            Ok(more) => more.observations,
            Err(error) if stops(&error) => return Err(error),
            // As DSPy: keep the observations made so far.
            Err(_) => break,
        };
        if more.trim_start().to_uppercase().starts_with("COMPLETE") {
            complete += 1;
            if complete >= MAX_COMPLETE {
                break;
            }
            continue;
        }
        observations.push('\n');
        observations.push_str(&more);
    }
    let input = SummarizeObservationsInput { observations };
    let summary = propose::<SummarizeObservations>(prompt.lm, input, 1.0, None)
        .await?
        .summary;
    Ok(clean_instruction(&summary))
}

/// The program's outline: every predictor's name, fields and instructions.
pub(super) fn program_code(predictors: &[(String, &dyn DynPredictor)]) -> String {
    predictors
        .iter()
        .map(|(name, p)| describe_predictor(name, *p))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A demo as `field: value` lines, in the signature's field order.
fn demo_text(predictor: &dyn DynPredictor, demo: &FieldValues) -> String {
    let info = predictor.signature();
    info.inputs
        .iter()
        .chain(&info.outputs)
        .filter_map(|f| {
            let value = demo.get(&f.name)?;
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(format!("{}: {value}", f.name))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Up to three demos of `predictor` for proposal `set`: from that demo set first, then the
/// ones after it, then those before (as DSPy). Set 0 (zero-shot) shows none.
pub(super) fn task_demos(
    predictor: &dyn DynPredictor,
    sets: &[Vec<FieldValues>],
    set: usize,
) -> String {
    if set == 0 || set >= sets.len() {
        return NO_DEMOS.to_string();
    }
    let order = (set..sets.len()).chain(0..set);
    let demos: Vec<String> = order
        .flat_map(|i| sets[i].iter())
        .take(DEMOS_IN_CONTEXT)
        .map(|demo| demo_text(predictor, demo))
        .collect();
    if demos.is_empty() {
        NO_DEMOS.to_string()
    } else {
        demos.join("\n\n")
    }
}

/// An example of the program at work: each predictor's first demo from the demo sets.
fn program_example(
    predictors: &[(String, &dyn DynPredictor)],
    demo_sets: &[Vec<Vec<FieldValues>>],
) -> String {
    let parts: Vec<String> = predictors
        .iter()
        .zip(demo_sets)
        .filter_map(|((name, p), sets)| {
            let demo = sets.iter().flatten().next()?;
            Some(format!("`{name}`:\n{}", demo_text(*p, demo)))
        })
        .collect();
    if parts.is_empty() {
        NO_DEMOS.to_string()
    } else {
        parts.join("\n\n")
    }
}

/// The prompt model's description of the program and of each predictor's role (one call for
/// the program, one per predictor). All `None` when the program description fails.
pub(super) async fn describe_program(
    prompt: &PromptModel<'_>,
    frame: &mut Frame<'_>,
    log: &StepLog,
    predictors: &[(String, &dyn DynPredictor)],
    demo_sets: &[Vec<Vec<FieldValues>>],
) -> Result<(Option<String>, Vec<Option<String>>)> {
    log.step(frame, "program", async {
        let code = program_code(predictors);
        let example = program_example(predictors, demo_sets);
        let input = DescribeProgramInput {
            program_code: code.clone(),
            program_example: example.clone(),
        };
        let Measured {
            outcome,
            usage,
            elapsed,
        } = measure(propose::<DescribeProgram>(prompt.lm, input, 1.0, None)).await;
        let trial = |what: String| Trial::new(what, None, &usage, elapsed);
        let mut trials = Vec::new();
        let mut modules = vec![None; predictors.len()];
        let description = match outcome {
            Ok(out) => clean_instruction(&out.program_description),
            Err(error) if stops(&error) => return Logged::failed(error),
            Err(error) => {
                trials.push(trial("program description: failed".into()).failed(&error));
                None
            }
        };
        if let Some(description) = &description {
            let what = format!("program description: {}", snippet(description, 40));
            trials.push(trial(what));
            let program = (code.as_str(), example.as_str(), description.as_str());
            if let Err(error) =
                describe_modules(prompt, program, predictors, &mut modules, &mut trials).await
            {
                return Logged::failed(error);
            }
        }
        Logged::ok((description, modules), trials)
    })
    .await
}

/// Each predictor's role, described by the prompt model given the program's `(code, example,
/// description)`; a description that fails is a failed trial, unless its error ends the
/// compile.
async fn describe_modules(
    prompt: &PromptModel<'_>,
    (code, example, description): (&str, &str, &str),
    predictors: &[(String, &dyn DynPredictor)],
    modules: &mut [Option<String>],
    trials: &mut Vec<Trial>,
) -> Result<()> {
    for (i, (name, predictor)) in predictors.iter().enumerate() {
        let input = DescribeModuleInput {
            program_code: code.to_string(),
            program_example: example.to_string(),
            program_description: description.to_string(),
            module: module_line(name, *predictor),
        };
        let Measured {
            outcome,
            usage,
            elapsed,
        } = measure(propose::<DescribeModule>(prompt.lm, input, 1.0, None)).await;
        let trial = |what: String| Trial::new(what, None, &usage, elapsed);
        match outcome {
            Ok(out) => {
                modules[i] = clean_instruction(&out.module_description);
                let what = format!(
                    "`{name}` description: {}",
                    snippet(modules[i].as_deref().unwrap_or(""), 40)
                );
                trials.push(trial(what));
            }
            Err(error) if stops(&error) => return Err(error),
            Err(error) => {
                trials.push(trial(format!("`{name}` description: failed")).failed(&error))
            }
        }
    }
    Ok(())
}

/// One proposal to make: its demo set, tip and rollout, drawn up front.
#[derive(Debug, Clone)]
pub(super) struct Ask {
    pub set: usize,
    pub tip: usize,
    pub rollout: u64,
}

/// Draws the proposals for one predictor: demo sets `1..count` (set 0 is the zero-shot one,
/// whose place the current instructions take), each with a random tip (when tip-aware) and a
/// rollout id, so each call is a fresh sample.
pub(super) fn draw_asks(count: usize, tip_aware: bool, rng: &mut Rng) -> Vec<Ask> {
    (1..count)
        .map(|set| Ask {
            set,
            tip: if tip_aware { rng.below(TIPS.len()) } else { 0 },
            rollout: rng.next_u64(),
        })
        .collect()
}

/// What the proposer knows about one predictor.
pub(super) struct Target<'a> {
    pub index: usize,
    pub name: &'a str,
    pub predictor: &'a dyn DynPredictor,
    /// Its demo sets (empty when not few-shot aware).
    pub demo_sets: &'a [Vec<FieldValues>],
}

/// The instructions proposed for one predictor (calls made concurrently, taken in order);
/// proposals that fail are recorded and skipped, and duplicates are dropped.
pub(super) async fn propose_instructions(
    prompt: &PromptModel<'_>,
    frame: &mut Frame<'_>,
    log: &StepLog,
    grounding: &Grounding,
    target: &Target<'_>,
    asks: Vec<Ask>,
) -> Result<Vec<String>> {
    let step = format!("instructions/{}", target.index);
    log.step(frame, &step, async {
        let base = grounded_input(grounding, target);
        let title = format!("MIPROv2 propose `{}`", target.name);
        let progress = Progress::new(asks.len(), &title, prompt.progress);
        let inputs = asks
            .iter()
            .map(|ask| {
                let input = ProposeGroundedInstructionInput {
                    task_demos: task_demos(target.predictor, target.demo_sets, ask.set),
                    tip: match TIPS[ask.tip] {
                        "" => "No particular tip.".into(),
                        tip => tip.into(),
                    },
                    ..base.clone()
                };
                (input, ask.rollout)
            })
            .collect();
        let calls = propose_all::<ProposeGroundedInstruction>(
            prompt.lm,
            prompt.temperature,
            inputs,
            prompt.concurrency,
            &progress,
        )
        .await;
        drop(progress);
        let mut proposals: Vec<String> = Vec::new();
        let mut trials = Vec::new();
        let current = target.predictor.effective_instructions();
        for (ask, call) in asks.iter().zip(calls) {
            let label = format!(
                "propose `{}` (demo set {}, tip {})",
                target.name, ask.set, ask.tip
            );
            let call = call.map(|out| out.map(|out| clean_instruction(&out.proposed_instruction)));
            match read_proposal(&label, call) {
                Ok((trial, instruction)) => {
                    trials.push(trial);
                    if let Some(instruction) = instruction
                        && instruction != current
                        && !proposals.contains(&instruction)
                    {
                        proposals.push(instruction);
                    }
                }
                Err(error) => return Logged::failed(error),
            }
        }
        Logged::ok(proposals, trials)
    })
    .await
}

/// The proposer's input for `target`, without the demos and tip of a particular ask.
fn grounded_input(grounding: &Grounding, target: &Target<'_>) -> ProposeGroundedInstructionInput {
    let or_not = |text: &Option<String>| text.clone().unwrap_or_else(|| NOT_PROVIDED.into());
    let program_aware = grounding.program_code.is_some();
    let module_description = grounding
        .module_descriptions
        .get(target.index)
        .cloned()
        .flatten();
    ProposeGroundedInstructionInput {
        dataset_description: grounding
            .data_summary
            .clone()
            .unwrap_or_else(|| "Not available.".into()),
        program_code: or_not(&grounding.program_code),
        program_description: or_not(&grounding.program_description),
        module: if program_aware {
            module_line(target.name, target.predictor)
        } else {
            NOT_PROVIDED.into()
        },
        module_description: or_not(&module_description),
        task_demos: String::new(),
        basic_instruction: target.predictor.effective_instructions().to_string(),
        tip: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demo(q: &str) -> FieldValues {
        json!({"question": q, "answer": "a"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn asks_cover_the_demo_sets_after_the_zero_shot_one() {
        let asks = draw_asks(4, true, &mut Rng::new(1));
        let sets: Vec<usize> = asks.iter().map(|a| a.set).collect();
        assert_eq!(sets, [1, 2, 3]);
        assert!(asks.iter().all(|a| a.tip < TIPS.len()));
        assert!(
            draw_asks(3, false, &mut Rng::new(1))
                .iter()
                .all(|a| a.tip == 0)
        );
        let rollouts: Vec<u64> = asks.iter().map(|a| a.rollout).collect();
        assert_ne!(rollouts[0], rollouts[1]);
    }

    /// Answer the question.
    #[derive(Signature, Clone, Debug)]
    #[dspy(crate = "dspy_core")]
    struct QA {
        #[input]
        question: String,
        #[output]
        answer: String,
    }

    #[test]
    fn task_demos_start_at_their_set_and_wrap_around() {
        let predictor = dspy_core::Predict::<QA>::new();
        let sets = vec![
            vec![],
            vec![demo("s1")],
            vec![demo("s2a"), demo("s2b")],
            vec![demo("s3")],
        ];
        assert_eq!(task_demos(&predictor, &sets, 0), NO_DEMOS);
        let shown = task_demos(&predictor, &sets, 2);
        assert_eq!(
            shown,
            "question: s2a\nanswer: a\n\nquestion: s2b\nanswer: a\n\nquestion: s3\nanswer: a"
        );
        assert!(
            task_demos(&predictor, &sets, 3).starts_with("question: s3\nanswer: a\n\nquestion: s1")
        );
        assert_eq!(task_demos(&predictor, &[vec![], vec![]], 1), NO_DEMOS);
    }

    #[test]
    fn examples_are_one_json_object_a_line() {
        let text = examples_text(&[demo("q1"), demo("q2")]);
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with("{\"question\":\"q1\""));
    }
}
