//! Examples as demos: an example is one JSON object of fields, and it is a predictor's demo
//! only when the predictor's signature accepts it.

use dspy_core::adapter::FieldValues;
use dspy_core::{DynPredictor, Error, Parameters, Result};
use serde::Serialize;
use serde_json::Value;

/// An example as one JSON object of fields: the form demos take.
pub(crate) fn example_fields<E: Serialize>(example: &E) -> Result<FieldValues> {
    match serde_json::to_value(example)? {
        Value::Object(fields) => Ok(fields),
        other => Err(Error::config(format!(
            "a training example must serialize to a JSON object of fields to become a demo, got {other}; \
             derive Serialize on a struct whose fields are named like the signature's"
        ))),
    }
}

/// Every example as JSON.
pub(crate) fn all_fields<E: Serialize>(examples: &[E]) -> Result<Vec<FieldValues>> {
    examples.iter().map(example_fields).collect()
}

/// Whether `demo` fits `predictor`'s signature (every field it needs is there, of its type).
pub(crate) fn fits(predictor: &dyn DynPredictor, demo: &FieldValues) -> bool {
    predictor
        .check_demos_json(std::slice::from_ref(demo))
        .is_ok()
}

/// Whether `demo` is `example`: every field of the demo has the example's value.
pub(crate) fn is_example(demo: &FieldValues, example: &FieldValues) -> bool {
    demo.iter().all(|(k, v)| example.get(k) == Some(v))
}

/// Removes every demo from every predictor (DSPy's `reset_copy`), keeping instructions.
pub(crate) fn clear_demos<P: Parameters>(program: &mut P) -> Result<()> {
    for (_, predictor) in program.predictors_mut() {
        predictor.set_demos_json(Vec::new())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ex(q: &str, label: &str) -> FieldValues {
        json!({"question": q, "label": label})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_demo_is_the_example_when_its_fields_agree() {
        let mut full = ex("q", "a");
        full.insert("fine_label".into(), json!("ind"));
        assert!(is_example(&ex("q", "a"), &full));
        assert!(!is_example(&ex("q", "b"), &full));
    }
}
