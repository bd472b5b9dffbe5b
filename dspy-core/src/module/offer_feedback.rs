//! The signature [`Refine`](super::Refine) asks for advice with, and the text it shows it.

use super::DynPredictor;
use crate::signature::{Signature, SignatureInfo};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// After an attempt scored below the threshold, the LM blames the modules at fault and writes
/// each one advice for the next attempt (DSPy's `OfferFeedback`, with the same fields).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfferFeedback {
    /// What the LM is shown.
    #[serde(flatten)]
    pub input: OfferFeedbackInput,
    /// What it answers.
    #[serde(flatten)]
    pub output: OfferFeedbackOutput,
}

/// The inputs of [`OfferFeedback`]: the program, one run of it, and its reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfferFeedbackInput {
    /// What the program is (Rust has no source at run time: its type, or text the user gave).
    pub program_code: String,
    /// Each predictor's name, fields and instructions.
    pub modules_defn: String,
    /// The program's input, as JSON.
    pub program_inputs: String,
    /// Each predictor call of the run, as JSON.
    pub program_trajectory: String,
    /// The program's output, as JSON.
    pub program_outputs: String,
    /// What the reward function checks.
    pub reward_code: String,
    /// The reward an attempt must reach (`None` shows as DSPy shows no threshold).
    pub target_threshold: Option<f64>,
    /// The reward this run got.
    pub reward_value: f64,
    /// The predictor names advice is asked for.
    pub module_names: Vec<String>,
}

/// The outputs of [`OfferFeedback`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfferFeedbackOutput {
    /// Which module went wrong, and how.
    pub discussion: String,
    /// Advice per predictor name; `N/A` for those not to blame.
    pub advice: BTreeMap<String, String>,
}

impl Signature for OfferFeedback {
    type Input = OfferFeedbackInput;
    type Output = OfferFeedbackOutput;

    fn info() -> &'static SignatureInfo {
        static INFO: OnceLock<SignatureInfo> = OnceLock::new();
        INFO.get_or_init(|| {
            SignatureInfo::new("OfferFeedback")
                .with_instructions(
                    "A program ran on the inputs below and its reward fell short of the target.\n\
                     In the discussion, work out which modules caused the shortfall, if any. Then \
                     give each module concrete advice on how to act differently when it sees the \
                     same or similar inputs on the next try; a module that is not to blame gets N/A.\n\
                     The modules will not see this run, so the advice must stand on its own: \
                     specific, actionable, and enough to avoid the same mistake.",
                )
                .input::<String>("program_code", "The code of the program being analyzed")
                .input::<String>(
                    "modules_defn",
                    "Each module of the program: its inputs, outputs and instructions",
                )
                .input::<String>("program_inputs", "The inputs the program ran on")
                .input::<String>(
                    "program_trajectory",
                    "The program's run, step by step: each module's inputs and outputs",
                )
                .input::<String>("program_outputs", "The outputs the program produced")
                .input::<String>("reward_code", "The code of the reward function")
                .input::<f64>("target_threshold", "The reward the program must reach")
                .input::<f64>("reward_value", "The reward the program's outputs got")
                .input::<Vec<String>>(
                    "module_names",
                    "The names of the modules that need advice",
                )
                .output::<String>(
                    "discussion",
                    "Which modules went wrong, if any, and where",
                )
                .output::<BTreeMap<String, String>>(
                    "advice",
                    "For each module name: the situations where it went wrong and what each \
                     mistake was, then what it should do instead in such situations. N/A if it \
                     is not to blame.",
                )
        })
    }

    fn from_parts(input: OfferFeedbackInput, output: OfferFeedbackOutput) -> Self {
        OfferFeedback { input, output }
    }

    fn into_parts(self) -> (OfferFeedbackInput, OfferFeedbackOutput) {
        (self.input, self.output)
    }
}

/// Each predictor's name, fields and instructions, laid out as DSPy's `inspect_modules`.
pub(super) fn describe_modules(predictors: &[(String, &dyn DynPredictor)]) -> String {
    let rule = "-".repeat(80);
    let mut parts = vec![rule.clone()];
    for (name, predictor) in predictors {
        let signature = predictor.signature();
        parts.push(format!("Module {name}"));
        parts.push("\tInput Fields:".into());
        parts.push(indented(&field_list(&signature.inputs)));
        parts.push("\tOutput Fields:".into());
        parts.push(indented(&field_list(&signature.outputs)));
        parts.push(format!(
            "\tOriginal Instructions: {}",
            indented_after_break(predictor.effective_instructions())
        ));
        parts.push(rule.clone());
    }
    parts.join("\n")
}

fn field_list(fields: &[crate::FieldSpec]) -> String {
    let lines: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{}. `{}` ({}): {}", i + 1, f.name, f.type_hint, f.desc))
        .collect();
    lines.join("\n").trim().to_string()
}

/// Every line indented by two tabs.
fn indented(text: &str) -> String {
    indented_after_break(text).trim_start_matches('\n').into()
}

/// Every line on a new line, indented by two tabs.
fn indented_after_break(text: &str) -> String {
    text.lines().map(|l| format!("\n\t\t{l}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Predict;

    #[test]
    fn describes_modules_like_dspy() {
        let predict = Predict::<OfferFeedback>::new();
        let text = describe_modules(&[("predict".to_string(), &predict)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-".repeat(80));
        assert_eq!(lines[1], "Module predict");
        assert_eq!(lines[2], "\tInput Fields:");
        assert!(lines[3].starts_with("\t\t1. `program_code` (str): The code"));
        assert!(text.contains("\tOutput Fields:\n\t\t1. `discussion` (str): "));
        assert!(text.contains("2. `advice` (dict[str, str]): For each module name"));
        assert!(text.contains("\tOriginal Instructions: \n\t\tA program ran"));
        assert_eq!(*lines.last().unwrap(), "-".repeat(80));
    }
}
