//! Loading a [`ProgramState`] into a program: every check first (shapes, demos, module states),
//! then the state put in, the saved text winning over the code's, and a [`LoadReport`] of the
//! predictors whose text differed.

use super::fingerprint::{SignatureFingerprint, compare};
use super::{PredictorState, ProgramState, SavedModule, check_version};
use crate::module::dyn_predictor::DynPredictor;
use crate::module::field_text::FieldText;
use crate::module::module_state::ModuleState;
use crate::signature::{FieldSpec, SignatureInfo};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;

/// What a load found beyond the fit it checks: the predictors whose saved text differed from
/// the code's.
///
/// A saved predictor records the text it was evaluated with: its signature's instructions and
/// each field's description and prefix. When the code's signature says something else (its doc
/// comment or a `desc` was edited since), the loaded predictor keeps the saved text, as in
/// DSPy, so it runs the prompts that were evaluated; the report names each such predictor and
/// what differs, and [`ProgramState::apply`] (so every load) logs each as a `tracing` warning.
///
/// ```
/// use dspy_core::{DynPredictor, Parameters, Predict};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Before { #[input(desc = "a question")] question: String, #[output] answer: String }
/// /// Answer in full sentences.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct After { #[input(desc = "a question")] question: String, #[output] answer: String }
///
/// let state = Predict::<Before>::new().state().unwrap();
/// let mut program = Predict::<After>::new();
/// let report = state.apply(&mut program).unwrap();
/// assert_eq!(report.changed_predictors(), ["self"]);
/// assert_eq!(report.changed_text[0].parts, ["instructions"]);
/// assert_eq!(program.effective_instructions(), "Answer briefly."); // the saved text wins
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadReport {
    /// Every predictor whose saved text differs from its signature's in the code, in the
    /// program's order.
    pub changed_text: Vec<TextChange>,
}

/// One predictor whose saved text differs from the code's, and what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextChange {
    /// The predictor's name in the program.
    pub predictor: String,
    /// What differs, in words: `instructions`, ``description of `question` ``,
    /// ``prefix of `question` ``.
    pub parts: Vec<String>,
}

impl LoadReport {
    /// The names of the predictors whose text differed.
    pub fn changed_predictors(&self) -> Vec<&str> {
        self.changed_text
            .iter()
            .map(|c| c.predictor.as_str())
            .collect()
    }

    /// Whether every predictor's saved text is the code's (or the file recorded none).
    pub fn is_clean(&self) -> bool {
        self.changed_text.is_empty()
    }
}

impl fmt::Display for TextChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "predictor `{}`: the saved {} differ from the code's signature; the loaded program \
             uses the saved text (compile again to use the code's)",
            self.predictor,
            self.parts.join(", ")
        )
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return f.write_str("every predictor's saved text is the code's");
        }
        for change in &self.changed_text {
            writeln!(f, "{change}")?;
        }
        Ok(())
    }
}

/// What loading one predictor's saved text sets: its instructions, the fields whose text it
/// replaces (`None`: back to the signature's), and what differs from the code, in words.
struct TextPlan {
    instructions: Option<String>,
    fields: Vec<(String, Option<FieldText>)>,
    parts: Vec<String>,
}

impl ProgramState {
    /// Puts this state into `targets`, a program's predictors by name, after checking that it
    /// fits; `module_problems` are what [`module_problems`] found ([`ProgramState::apply`]
    /// lists both).
    pub(crate) fn put_into(
        self,
        mut targets: Vec<(String, &mut dyn DynPredictor)>,
        module_problems: Vec<String>,
    ) -> Result<LoadReport> {
        check_version(self.format_version, &self.dspy_version)?;
        let mut saved = self.predictors;
        let mut problems = module_problems;
        // Only demos that do not fit: the shapes match, the file's data is at fault.
        let mut only_demos = problems.is_empty();
        for (name, predictor) in &targets {
            let Some(state) = saved.get(name) else {
                only_demos = false;
                problems.push(format!(
                    "predictor `{name}` is in the program but not in the saved state"
                ));
                continue;
            };
            let now = SignatureFingerprint::of(predictor.signature());
            let differences = compare(&state.signature, &now);
            if differences.is_empty() {
                if let Err(e) = predictor.check_demo_states(&state.demos) {
                    problems.push(format!("predictor `{name}`: {}", state_message(e)));
                }
            } else {
                only_demos = false;
                problems.extend(
                    differences
                        .into_iter()
                        .map(|d| format!("predictor `{name}`: {d}")),
                );
            }
        }
        let known: Vec<String> = targets.iter().map(|(n, _)| n.clone()).collect();
        for name in saved.keys().filter(|name| !known.contains(name)) {
            only_demos = false;
            problems.push(not_in_program(name, &known));
        }
        if !problems.is_empty() {
            return Err(misfit(&problems, only_demos));
        }
        check_weights(&saved)?;

        let mut report = LoadReport::default();
        for (name, predictor) in targets.iter_mut() {
            if let Some(state) = saved.remove(name) {
                let plan = text_plan(&state, predictor.signature());
                put_one(&mut **predictor, state, &plan)?;
                if !plan.parts.is_empty() {
                    report.changed_text.push(TextChange {
                        predictor: name.clone(),
                        parts: plan.parts,
                    });
                }
            }
        }
        Ok(report)
    }
}

/// Refuses state whose fine-tuned weights are missing or changed (a program that would run on
/// other weights than it was evaluated with), naming the predictor and how to rebuild them.
fn check_weights(saved: &BTreeMap<String, PredictorState>) -> Result<()> {
    for (name, state) in saved {
        if let Some(weights) = &state.weights {
            weights.check_files().map_err(|e| {
                Error::State(format!(
                    "predictor `{name}`: {}; the compile is cached by its data, so running the \
                     same BootstrapFinetune compile again retrains only what is missing",
                    state_message(e)
                ))
            })?;
        }
    }
    Ok(())
}

/// Sets one predictor's demos, instructions, field texts and weights.
fn put_one(predictor: &mut dyn DynPredictor, state: PredictorState, plan: &TextPlan) -> Result<()> {
    let same_weights =
        predictor.weights().map(|w| &w.key) == state.weights.as_ref().map(|w| &w.key);
    if !same_weights {
        // Its LM served other weights (or none): another LM must serve these.
        predictor.set_lm(None);
    }
    predictor.set_weights(state.weights);
    predictor.set_demo_states(state.demos)?;
    predictor.set_instructions(plan.instructions.clone());
    for (field, text) in &plan.fields {
        // Asked only of a predictor with text to replace or to reset: one that keeps its
        // signature's text (the trait's default) loads files whose text is the code's.
        if text.is_some() || predictor.has_own_field_text() {
            predictor.set_field_text(field, text.clone())?;
        }
    }
    Ok(())
}

/// What loading `state` into a predictor of signature `code` sets, and what differs.
fn text_plan(state: &PredictorState, code: &SignatureInfo) -> TextPlan {
    let mut parts = Vec::new();
    let saved = &state.signature;
    // Own instructions replace the signature's either way; without them, the saved
    // signature's instructions are the ones the prompts showed.
    let instructions = match (&state.instructions, &saved.instructions) {
        (Some(own), _) => Some(own.clone()),
        (None, Some(doc)) if *doc != code.instructions => {
            parts.push("instructions".to_string());
            Some(doc.clone())
        }
        (None, _) => None,
    };
    let mut fields = Vec::new();
    let code_fields = code.inputs.iter().chain(&code.outputs);
    for field in code_fields {
        let Some(was) = saved
            .inputs
            .iter()
            .chain(&saved.outputs)
            .find(|f| f.name == field.name)
        else {
            continue;
        };
        let text = FieldText {
            desc: was.desc.clone().unwrap_or_else(|| field.desc.clone()),
            prefix: was.prefix.clone().unwrap_or_else(|| field.prefix.clone()),
        };
        parts.extend(field_parts(field, &text));
        let own = (text != FieldText::of(field)).then_some(text);
        fields.push((field.name.clone(), own));
    }
    TextPlan {
        instructions,
        fields,
        parts,
    }
}

/// What of `field`'s text `saved` changes, in words.
fn field_parts(field: &FieldSpec, saved: &FieldText) -> Vec<String> {
    let mut parts = Vec::new();
    if saved.desc != field.desc {
        parts.push(format!("description of `{}`", field.name));
    }
    if saved.prefix != field.prefix {
        parts.push(format!("prefix of `{}`", field.name));
    }
    parts
}

/// What does not fit between the saved module states and the program's modules (`modules`),
/// one message each.
pub(crate) fn module_problems(
    saved: &BTreeMap<String, SavedModule>,
    modules: &[(String, &dyn ModuleState)],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, module) in modules {
        let kind = module.kind();
        match saved.get(name) {
            None => problems.push(format!(
                "module `{name}` (a `{kind}`) holds state of its own that the saved state \
                 lacks (it was saved from another program, or by a dspy before format 3): \
                 compile the program again and save it"
            )),
            Some(state) if state.kind != kind => problems.push(format!(
                "module `{name}` is a `{kind}` in the program but a `{}` in the saved state",
                state.kind
            )),
            Some(state) => {
                if let Err(e) = module.check_state(&state.state) {
                    problems.push(format!("module `{name}`: {}", state_message(e)));
                }
            }
        }
    }
    for (name, state) in saved {
        if !modules.iter().any(|(n, _)| n == name) {
            let kind = &state.kind;
            problems.push(format!(
                "the saved state holds the state of a `{kind}` at `{name}`, which this program \
                 does not have: load the file as a `{kind}` (with `{kind}::load`), or into the \
                 program it was saved from"
            ));
        }
    }
    problems
}

/// A saved predictor the program lacks, with the names it has.
fn not_in_program(name: &str, known: &[String]) -> String {
    let known: Vec<String> = known.iter().map(|n| format!("`{n}`")).collect();
    format!(
        "predictor `{name}` is in the saved state but not in the program (its predictors: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

/// The error of a state that does not fit, with what to do about it.
fn misfit(problems: &[String], only_demos: bool) -> Error {
    let advice = if only_demos {
        "The file's demos were edited or written by other code: fix or remove them"
    } else {
        "The state was saved from a different program (or an older version of it): load it \
         into the program it was saved from, or compile this program again and save its state"
    };
    Error::State(format!("{}. {advice}", problems.join("; ")))
}

/// The message of an [`Error::State`], without the variant's prefix.
fn state_message(error: Error) -> String {
    match error {
        Error::State(message) => message,
        other => other.to_string(),
    }
}
