//! Which demos a prompt shows, in what order, and how a demo that lacks fields is filled in:
//! DSPy 3.4's layout for incomplete demos.

use super::FieldValues;
use crate::signature::SignatureInfo;
use serde_json::Value;

/// Opens the user turn of a demo that lacks some fields.
pub(super) const INCOMPLETE_PREFIX: &str =
    "This is an example of the task, though some input or output fields are not supplied.";

/// Stands for an output an incomplete demo lacks (DSPy's words, trailing space included: it
/// survives inside JSON and is trimmed off the end of a chat answer).
pub(super) const NOT_SUPPLIED: &str = "Not supplied for this particular example. ";

/// A demo as the prompt shows it.
pub(super) struct Demo<'a> {
    /// The demo's fields.
    pub values: &'a FieldValues,
    /// Whether it lacks a field (or has one that is `null`).
    pub incomplete: bool,
}

impl Demo<'_> {
    /// The demo's outputs with the missing ones [`NOT_SUPPLIED`], for its assistant turn.
    pub(super) fn answer(&self, sig: &SignatureInfo) -> FieldValues {
        let mut values = self.values.clone();
        for field in &sig.outputs {
            values
                .entry(field.name.clone())
                .or_insert_with(|| Value::String(NOT_SUPPLIED.to_string()));
        }
        values
    }
}

/// The demos a chat prompt shows, as DSPy orders them: incomplete ones first, then complete
/// ones, each group in the order given. A demo with no input field or no output field at all
/// teaches nothing and is left out. A field given as `null` counts as not supplied (DSPy's
/// rule), though it is still shown, as `None`.
pub(super) fn chat_demos<'a>(sig: &'a SignatureInfo, demos: &'a [FieldValues]) -> Vec<Demo<'a>> {
    let (incomplete, complete): (Vec<Demo<'a>>, Vec<Demo<'a>>) = shown(sig, demos)
        .map(|values| Demo {
            values,
            incomplete: !is_complete(sig, values),
        })
        .partition(|demo| demo.incomplete);
    incomplete.into_iter().chain(complete).collect()
}

/// The demos with at least one input and one output field, in the order given.
pub(super) fn shown<'a>(
    sig: &'a SignatureInfo,
    demos: &'a [FieldValues],
) -> impl Iterator<Item = &'a FieldValues> + 'a {
    demos.iter().filter(|demo| {
        sig.inputs.iter().any(|f| demo.contains_key(&f.name))
            && sig.outputs.iter().any(|f| demo.contains_key(&f.name))
    })
}

fn is_complete(sig: &SignatureInfo, demo: &FieldValues) -> bool {
    sig.inputs
        .iter()
        .chain(&sig.outputs)
        .all(|f| demo.get(&f.name).is_some_and(|v| !v.is_null()))
}
