//! Warnings about predictors a compile leaves without demos: no optimizer that sets demos
//! leaves one empty without saying why.

use super::fields::fits;
use crate::{CompileReport, CompileWarning};
use dspy_core::adapter::FieldValues;
use dspy_core::{DynPredictor, FieldSpec, Parameters};

/// Why none of `examples` makes a demo for `predictor`: the fields it lacks, or the first type
/// that does not fit. `None` when one does.
pub(crate) fn why_none_fit(
    predictor: &dyn DynPredictor,
    examples: &[FieldValues],
) -> Option<String> {
    if examples.iter().any(|e| fits(predictor, e)) {
        return None;
    }
    if examples.is_empty() {
        return Some("there are no training examples to take them from".into());
    }
    let sig = predictor.signature();
    let has_any = |specs: &[FieldSpec]| {
        examples.iter().any(|e| {
            specs
                .iter()
                .any(|f| e.get(&f.name).is_some_and(|v| !v.is_null()))
        })
    };
    for (role, specs) in [("output", &sig.outputs), ("input", &sig.inputs)] {
        if !has_any(specs) {
            return Some(format!(
                "no training example has any of its {role} fields ({})",
                names(specs)
            ));
        }
    }
    let error = examples
        .iter()
        .find_map(|e| predictor.check_demos_json(std::slice::from_ref(e)).err());
    Some(match error {
        Some(error) => format!("no training example fits its signature ({error})"),
        None => "no training example fits its signature".into(),
    })
}

/// Warns, in `report`, of every predictor of `program` that has no demos: why no example of
/// `examples` fits it, else `otherwise` (what the optimizer chose instead).
pub(crate) fn warn_demoless<P: Parameters>(
    report: &mut CompileReport,
    program: &P,
    examples: &[FieldValues],
    otherwise: &str,
) {
    for (name, predictor) in program.predictors() {
        if predictor.demo_count() > 0 {
            continue;
        }
        let why = why_none_fit(predictor, examples).unwrap_or_else(|| otherwise.to_string());
        report.warn(CompileWarning::predictor(name, format!("no demos: {why}")));
    }
}

/// What a search that picked a candidate says of a predictor the candidate has no demos for,
/// though some examples fit it.
pub(crate) fn chosen_has_none(report: &CompileReport) -> String {
    match report.best_trial() {
        Some(trial) if trial.candidate == "zero-shot" => {
            "the zero-shot candidate scored best".to_string()
        }
        Some(trial) => format!("the chosen candidate (`{}`) has none", trial.candidate),
        None => "no candidate was chosen, and the program had none".to_string(),
    }
}

/// `` `a`, `b` ``: the names of `specs`.
fn names(specs: &[FieldSpec]) -> String {
    specs
        .iter()
        .map(|f| format!("`{}`", f.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspy_core::Predict;
    use dspy_macros::Signature;
    use serde_json::json;

    /// Pick the fine class.
    #[derive(Signature, Clone, Debug)]
    #[dspy(crate = "dspy_core")]
    struct Fine {
        #[input]
        question: String,
        #[output]
        fine_label: u32,
    }

    fn example(value: serde_json::Value) -> FieldValues {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_reason_names_what_the_examples_lack() {
        let predict = Predict::<Fine>::new();
        let why = |examples: &[FieldValues]| why_none_fit(&predict, examples);
        assert_eq!(
            why(&[example(json!({"question": "q", "label": "human"}))]).as_deref(),
            Some("no training example has any of its output fields (`fine_label`)")
        );
        assert_eq!(
            why(&[example(json!({"text": "q", "fine_label": 3}))]).as_deref(),
            Some("no training example has any of its input fields (`question`)")
        );
        let wrong = why(&[example(json!({"question": "q", "fine_label": "ind"}))]).unwrap();
        assert!(
            wrong.starts_with("no training example fits its signature ("),
            "{wrong}"
        );
        assert!(wrong.contains("`fine_label`"), "{wrong}");
        assert!(why(&[]).unwrap().contains("no training examples"));
        assert_eq!(
            why(&[example(json!({"question": "q", "fine_label": 3}))]),
            None
        );
    }
}
