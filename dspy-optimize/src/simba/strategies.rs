//! SIMBA's two ways of changing a program from one bucket of runs on the same example:
//! `append_a_demo` (the best run's calls become demos) and `append_a_rule` (the prompt model
//! compares the best and the worst run and writes each predictor advice, appended to its
//! instructions).

use crate::search::models::scoped;
use dspy_core::adapter::FieldValues;
use dspy_core::module::{DemoState, Provenance, Trace};
use dspy_core::{LM, Module, Parameters, Predict, Result};
use dspy_macros::Signature;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One run of a bucket: its score, the metric's feedback, and its trace (names resolved),
/// `None` when the run failed.
#[derive(Clone)]
pub(crate) struct Run<'a> {
    pub score: f64,
    pub feedback: Option<&'a str>,
    pub trace: Option<&'a Trace>,
}

/// You are shown two runs of a program built from LM-driven modules on the same input: a
/// better one and a worse one, with the reward each got. Help every module learn from them, so
/// that on similar inputs in future the program earns a higher reward.
///
/// A module will not see these runs again: your advice is all it keeps, so make it concrete
/// yet general enough to apply to other inputs.
/// - No boilerplate: give advice that would change what the module does, for the better.
/// - Advise each module on its own sub-task, not on the program as a whole.
/// - Ground the advice in how the worse run differs from the better one.
/// - Give every module name exactly once as a key of the advice.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
pub(crate) struct AdviseFromTrajectories {
    #[input(desc = "the program analysed (its type, as Rust keeps no source at run time)")]
    pub program_code: String,
    #[input(desc = "each module of the program: its inputs, outputs and instructions")]
    pub modules_defn: String,
    #[input(desc = "the program's inputs")]
    pub program_inputs: String,
    #[input(
        desc = "what the example holds beyond the inputs (e.g. the gold answer), hidden from the program"
    )]
    pub oracle_metadata: String,
    #[input(desc = "the worse run, step by step: each module's inputs and outputs")]
    pub worse_program_trajectory: String,
    #[input(desc = "the worse run's outputs")]
    pub worse_program_outputs: String,
    #[input(desc = "the reward the worse run got")]
    pub worse_reward_value: String,
    #[input(desc = "what the metric said about the worse run")]
    pub worse_reward_info: String,
    #[input(desc = "the better run, step by step: each module's inputs and outputs")]
    pub better_program_trajectory: String,
    #[input(desc = "the better run's outputs")]
    pub better_program_outputs: String,
    #[input(desc = "the reward the better run got")]
    pub better_reward_value: String,
    #[input(desc = "what the metric said about the better run")]
    pub better_reward_info: String,
    #[input(desc = "the names of the modules to advise")]
    pub module_names: Vec<String>,
    #[output(desc = "where each module went wrong, if it did")]
    pub discussion: String,
    #[output(
        desc = "for each module name, concretely: if the module receives <such inputs or patterns>, \
                then it should <do this, and avoid that>, so that it acts like the better run \
                rather than the worse"
    )]
    pub module_advice: BTreeMap<String, String>,
}

/// The demos `append_a_demo` adds: from the best run of the bucket (unless it scored no more
/// than the batch's 10th percentile), the last call of each predictor, with input text cut at
/// `max_len` characters. `None` when it skips.
pub(crate) fn demos_from_best(
    bucket: &[Run<'_>],
    p10: f64,
    max_len: usize,
) -> Option<BTreeMap<String, FieldValues>> {
    let good = bucket.first()?;
    if good.score <= p10 {
        return None;
    }
    let mut demos = BTreeMap::new();
    for entry in &good.trace?.entries {
        let Some(name) = &entry.name else {
            continue; // a call outside the program (an LM judge)
        };
        let mut inputs = entry.input.clone();
        for value in inputs.values_mut() {
            if let Value::String(text) = value
                && text.chars().count() > max_len
            {
                let cut: String = text.chars().take(max_len).collect();
                *value = Value::String(format!("{cut}\n\t\t... <TRUNCATED FOR BREVITY>"));
            }
        }
        let mut demo = inputs;
        demo.extend(entry.output.clone());
        demos.insert(name.clone(), demo);
    }
    Some(demos)
}

/// Appends `demos` (one per predictor name) to `program`'s predictors, each recorded as
/// bootstrapped from the example with id `example` (a run sampled on it, not a round).
pub(crate) fn append_demos<P: Parameters>(
    program: &mut P,
    demos: BTreeMap<String, FieldValues>,
    example: &str,
) -> Result<usize> {
    let mut provenance = Provenance::bootstrapped(example, 0);
    provenance.round = None;
    let mut added = 0;
    for (name, demo) in demos {
        if let Some(predictor) = program.predictor_mut(&name) {
            let mut all = predictor.demo_states()?;
            all.push(DemoState::new(demo).with_provenance(provenance.clone()));
            predictor.set_demo_states(all)?;
            added += 1;
        }
    }
    Ok(added)
}

/// What `append_a_rule` shows the prompt model about one run.
struct Side {
    trajectory: String,
    outputs: String,
    reward: String,
    info: String,
}

impl Side {
    fn of(run: &Run<'_>) -> Self {
        let entries = run.trace.map(|t| t.entries.as_slice()).unwrap_or(&[]);
        let trajectory: Vec<Value> = entries
            .iter()
            .filter_map(|e| {
                let name = e.name.as_ref()?;
                Some(json!({"module_name": name, "inputs": e.input, "outputs": e.output}))
            })
            .collect();
        // The program's outputs, as far as a trace tells: the last call's.
        let outputs = entries
            .iter()
            .rev()
            .find(|e| e.name.is_some())
            .map_or_else(|| json!({}), |e| Value::Object(e.output.clone()));
        Side {
            trajectory: pretty(&Value::Array(trajectory)),
            outputs: pretty(&outputs),
            reward: format!("{}", run.score),
            info: run.feedback.unwrap_or("").to_string(),
        }
    }

    /// A run left out of the comparison (DSPy's "N/A" side).
    fn absent() -> Self {
        Side {
            trajectory: "[]".into(),
            outputs: pretty(&json!({"N/A": "Prediction not available"})),
            reward: "N/A".into(),
            info: String::new(),
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Each predictor's name, fields and instructions (as DSPy's `inspect_modules` lays them out).
pub(super) fn describe_modules<P: Parameters>(program: &P) -> String {
    let rule = "-".repeat(80);
    let mut parts = vec![rule.clone()];
    let fields = |specs: &[dspy_core::FieldSpec]| -> String {
        specs
            .iter()
            .enumerate()
            .map(|(i, f)| format!("\t\t{}. `{}` ({}): {}", i + 1, f.name, f.type_hint, f.desc))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (name, predictor) in program.predictors() {
        let signature = predictor.signature();
        parts.push(format!("Module {name}"));
        parts.push(format!("\tInput Fields:\n{}", fields(&signature.inputs)));
        parts.push(format!("\tOutput Fields:\n{}", fields(&signature.outputs)));
        let instructions: String = predictor
            .effective_instructions()
            .lines()
            .map(|l| format!("\n\t\t{l}"))
            .collect();
        parts.push(format!("\tOriginal Instructions: {instructions}"));
        parts.push(rule.clone());
    }
    parts.join("\n")
}

/// `append_a_rule`: asks the prompt model (`lm`, else the configured one) to compare the best
/// and worst runs of `bucket` on `example` and appends its advice to each predictor's
/// instructions. `Ok(None)` when it skips (the best run is no better than the batch's 10th
/// percentile, or the worst no worse than its 90th); else the predictors advised.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn append_rule<P: Module + Parameters>(
    program: &mut P,
    bucket: &[Run<'_>],
    example: &FieldValues,
    p10: f64,
    p90: f64,
    lm: Option<&LM>,
) -> Result<Option<Vec<String>>> {
    let (Some(good), Some(bad)) = (bucket.first(), bucket.last()) else {
        return Ok(None);
    };
    if good.score <= p10 || bad.score >= p90 {
        return Ok(None);
    }
    let (mut better, mut worse) = (Side::of(good), Side::of(bad));
    if good.score <= bad.score {
        // Nothing to contrast: show one run only.
        if good.score > p90 {
            worse = Side::absent();
        } else {
            better = Side::absent();
        }
    }
    let names = program.predictor_names();
    // Which fields of the example are the program's inputs: those some predictor takes.
    let input_names: Vec<String> = program
        .predictors()
        .iter()
        .flat_map(|(_, p)| p.signature().inputs.iter().map(|f| f.name.clone()))
        .collect();
    let (inputs, labels): (FieldValues, FieldValues) = example
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| input_names.contains(k));
    let input = AdviseFromTrajectoriesInput {
        program_code: std::any::type_name::<P>().to_string(),
        modules_defn: describe_modules(program),
        program_inputs: pretty(&Value::Object(inputs)),
        oracle_metadata: pretty(&Value::Object(labels)),
        worse_program_trajectory: worse.trajectory,
        worse_program_outputs: worse.outputs,
        worse_reward_value: worse.reward,
        worse_reward_info: worse.info,
        better_program_trajectory: better.trajectory,
        better_program_outputs: better.outputs,
        better_reward_value: better.reward,
        better_reward_info: better.info,
        module_names: names.clone(),
    };
    let predict = Predict::<AdviseFromTrajectories>::new();
    let advice = scoped(lm, predict.call(input)).await?.module_advice;
    let mut advised = Vec::new();
    for (name, predictor) in program.predictors_mut() {
        let Some(rule) = advice.get(&name).map(|a| a.trim()) else {
            continue;
        };
        // DSPy appends "N/A" too; a module not to blame gets nothing here.
        if rule.is_empty() || rule.eq_ignore_ascii_case("n/a") {
            continue;
        }
        let instructions = format!("{}\n\n{rule}", predictor.effective_instructions());
        predictor.set_instructions(Some(instructions));
        advised.push(name);
    }
    Ok(Some(advised))
}
