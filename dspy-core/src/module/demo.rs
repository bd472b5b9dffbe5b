//! [`Demo`]: one few-shot demonstration a predictor shows (a complete example of its signature,
//! or the fields of one that it has) and where it came from, and [`DemoState`], a demo as saved
//! state and optimizers see it.

use super::convert::to_fields;
use super::provenance::Provenance;
use crate::adapter::FieldValues;
use crate::signature::{FieldSpec, Signature, SignatureInfo};
use crate::util::snippet;
use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One few-shot demonstration for signature `S`: a complete example (a value of `S`), or a
/// *partial* one that has only some of the signature's fields.
///
/// A partial demo is what a training example gives a stage of a pipeline whose fields it only
/// partly carries: the example of a whole pipeline has the question and the final label, not the
/// intermediate stage's output. It holds at least one input and one output field of `S` (a demo
/// with neither teaches nothing, and DSPy would not show it), each checked against its field's
/// type. Prompts show it as DSPy shows an incomplete demo: before the complete ones, introduced as
/// an example whose fields are not all supplied, a missing output written "Not supplied for this
/// particular example."
///
/// ```
/// use dspy_core::module::Demo;
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Pick the fine class of the question.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Fine {
///     #[input] question: String,
///     #[input] shortlist: Vec<String>,
///     #[output] fine_label: String,
/// }
///
/// let full = Demo::new(Fine {
///     question: "Where is Boston ?".into(),
///     shortlist: vec!["city".into(), "state".into()],
///     fine_label: "city".into(),
/// });
/// assert!(full.is_complete());
/// assert_eq!(full.example().unwrap().fine_label, "city");
///
/// // A training example of the whole pipeline: no shortlist, and a field `Fine` does not have.
/// let example = json!({"question": "Who wrote Hamlet ?", "label": "human", "fine_label": "ind"});
/// let partial = Demo::<Fine>::from_fields(example.as_object().unwrap().clone()).unwrap();
/// assert!(!partial.is_complete() && partial.example().is_none());
/// assert_eq!(partial.missing_fields(), ["shortlist"]);
/// assert_eq!(partial.fields().unwrap()["fine_label"], "ind");
/// assert!(!partial.fields().unwrap().contains_key("label"));
///
/// // No output field of `Fine`: not a demo.
/// let unlabeled = json!({"question": "Who wrote Hamlet ?"});
/// assert!(Demo::<Fine>::from_fields(unlabeled.as_object().unwrap().clone()).is_err());
/// ```
///
/// A demo an optimizer set also says where it came from ([`provenance`](Self::provenance));
/// one made by hand has no provenance.
#[derive(Clone, Debug, PartialEq)]
pub struct Demo<S> {
    value: DemoValue<S>,
    provenance: Option<Provenance>,
}

#[derive(Clone, Debug, PartialEq)]
enum DemoValue<S> {
    Complete(S),
    /// The fields it has, in the signature's order.
    Partial(FieldValues),
}

impl<S: Signature> Demo<S> {
    /// A complete demo.
    pub fn new(example: S) -> Self {
        Demo {
            value: DemoValue::Complete(example),
            provenance: None,
        }
    }

    /// The same demo, recorded as coming from `provenance`.
    ///
    /// ```
    /// use dspy_core::module::{Demo, Provenance};
    /// # use dspy_macros::Signature;
    /// /// Answer briefly.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct QA { #[input] question: String, #[output] answer: String }
    ///
    /// let demo = Demo::new(QA { question: "2+2?".into(), answer: "4".into() });
    /// assert!(demo.provenance().is_none()); // made by hand
    /// let demo = demo.with_provenance(Provenance::labeled("3f2a9c0d11b2e4f5"));
    /// assert_eq!(demo.provenance().unwrap().example, "3f2a9c0d11b2e4f5");
    /// ```
    #[must_use]
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = Some(provenance);
        self
    }

    /// Where the demo came from, when an optimizer made it.
    pub fn provenance(&self) -> Option<&Provenance> {
        self.provenance.as_ref()
    }

    /// The demo `fields` make for `S`: complete when every field of `S` is there (then it must
    /// deserialize into `S`), else partial. Fields `S` does not have are left out, and so is a
    /// `null` given to a field whose type has no null (DSPy counts `None` as not supplied).
    ///
    /// Fails with [`Error::State`] naming the field when a value is not of its field's type, or
    /// when no input or no output field of `S` is there.
    pub fn from_fields(fields: FieldValues) -> Result<Self> {
        demo_from_fields(fields).map_err(|reason| {
            Error::State(format!(
                "the demo does not fit signature `{}`: {reason}",
                S::info().name
            ))
        })
    }

    /// The example, when the demo is complete.
    pub fn example(&self) -> Option<&S> {
        match &self.value {
            DemoValue::Complete(example) => Some(example),
            DemoValue::Partial(_) => None,
        }
    }

    /// The example, when the demo is complete.
    pub fn into_example(self) -> Option<S> {
        match self.value {
            DemoValue::Complete(example) => Some(example),
            DemoValue::Partial(_) => None,
        }
    }

    /// Whether it holds every field of `S`.
    pub fn is_complete(&self) -> bool {
        matches!(self.value, DemoValue::Complete(_))
    }

    /// The names of the fields of `S` it lacks, inputs first (none for a complete demo).
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let DemoValue::Partial(fields) = &self.value else {
            return Vec::new();
        };
        let info: &'static SignatureInfo = S::info();
        all_fields(info)
            .filter(|f| !fields.contains_key(&f.name))
            .map(|f| f.name.as_str())
            .collect()
    }

    /// Its fields as one JSON object, as prompts show them.
    pub fn fields(&self) -> Result<FieldValues> {
        match &self.value {
            DemoValue::Complete(example) => to_fields(example),
            DemoValue::Partial(fields) => Ok(fields.clone()),
        }
    }

    /// The demo as saved.
    pub(crate) fn to_state(&self) -> Result<DemoState> {
        let fields = self.fields()?;
        Ok(DemoState {
            fields,
            provenance: self.provenance.clone(),
        })
    }

    /// A saved demo, checked as [`from_fields`](Self::from_fields) checks it.
    pub(crate) fn from_state(state: DemoState) -> std::result::Result<Self, String> {
        let demo = demo_from_fields(state.fields)?;
        Ok(Demo {
            provenance: state.provenance,
            ..demo
        })
    }
}

impl<S: Signature> From<S> for Demo<S> {
    fn from(example: S) -> Self {
        Demo::new(example)
    }
}

/// A demo seen without its signature type: as a saved program holds it, and as optimizers read
/// and set it through [`DynPredictor`](super::DynPredictor).
///
/// It is a struct rather than the bare fields so that what else a demo carries can be added to
/// it (and to saved files) without changing its type: its [`Provenance`], when an optimizer set
/// it.
///
/// ```
/// use dspy_core::module::{DemoState, Provenance};
/// use serde_json::json;
/// let fields = json!({"question": "2+2?", "answer": "4"});
/// let demo = DemoState::new(fields.as_object().unwrap().clone());
/// assert_eq!(serde_json::to_value(&demo).unwrap(), json!({"fields": fields}));
///
/// let labeled = demo.with_provenance(Provenance::labeled("3f2a9c0d11b2e4f5"));
/// assert_eq!(
///     serde_json::to_value(&labeled).unwrap(),
///     json!({"fields": fields, "provenance": {"example": "3f2a9c0d11b2e4f5", "source": "labeled"}})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DemoState {
    /// Its fields: all of its signature's (a complete demo) or some (a partial one).
    pub fields: FieldValues,
    /// Where it came from, when an optimizer made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl DemoState {
    /// A demo of these fields, with no provenance.
    pub fn new(fields: FieldValues) -> Self {
        DemoState {
            fields,
            provenance: None,
        }
    }

    /// The same demo, recorded as coming from `provenance`.
    #[must_use]
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = Some(provenance);
        self
    }
}

/// See [`Demo::from_fields`]; the error says why, without naming the signature.
fn demo_from_fields<S: Signature>(mut fields: FieldValues) -> std::result::Result<Demo<S>, String> {
    let info = S::info();
    let mut kept = FieldValues::new();
    for field in all_fields(info) {
        match fields.remove(&field.name) {
            Some(Value::Null) if !accepts(&field.schema, &Value::Null) => {}
            Some(value) => {
                kept.insert(field.name.clone(), value);
            }
            None => {}
        }
    }
    if kept.len() == info.inputs.len() + info.outputs.len() {
        let example = serde_json::from_value::<S>(Value::Object(kept.clone()))
            .map_err(|e| with_misfit(info, &kept, &e))?;
        return Ok(Demo::new(example));
    }
    check_side::<S::Input>("input", &info.inputs, &kept)?;
    check_side::<S::Output>("output", &info.outputs, &kept)?;
    Ok(Demo {
        value: DemoValue::Partial(kept),
        provenance: None,
    })
}

/// Checks one side (inputs or outputs) of a partial demo: at least one of its fields is there,
/// each one there is of its type as far as its JSON schema tells, and when all are there they
/// deserialize into the side's type.
fn check_side<T: DeserializeOwned>(
    role: &str,
    specs: &[FieldSpec],
    fields: &FieldValues,
) -> std::result::Result<(), String> {
    let present: Vec<&FieldSpec> = specs
        .iter()
        .filter(|f| fields.contains_key(&f.name))
        .collect();
    if present.is_empty() {
        return Err(format!(
            "it has none of the {role} fields ({})",
            names(specs)
        ));
    }
    if let Some(field) = present
        .iter()
        .find(|f| !accepts(&f.schema, &fields[&f.name]))
    {
        return Err(wrong_type(field, &fields[&field.name]));
    }
    if present.len() < specs.len() {
        return Ok(());
    }
    let side: FieldValues = specs
        .iter()
        .filter_map(|f| Some((f.name.clone(), fields.get(&f.name)?.clone())))
        .collect();
    serde_json::from_value::<T>(Value::Object(side))
        .map(drop)
        .map_err(|e| format!("its {role} fields do not fit: {e}"))
}

/// `` `a`, `b` ``: the names of `specs`.
pub(crate) fn names(specs: &[FieldSpec]) -> String {
    specs
        .iter()
        .map(|f| format!("`{}`", f.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn all_fields(info: &SignatureInfo) -> impl Iterator<Item = &FieldSpec> {
    info.inputs.iter().chain(&info.outputs)
}

/// A deserialization error, with the field at fault named first when it can be told.
fn with_misfit(info: &SignatureInfo, demo: &FieldValues, error: &serde_json::Error) -> String {
    match misfit_field(info, demo) {
        Some(field) => format!("{field}; {error}"),
        None => error.to_string(),
    }
}

fn wrong_type(field: &FieldSpec, value: &Value) -> String {
    format!(
        "field `{}` should be {} but is {}",
        field.name,
        field.type_hint,
        snippet(&value.to_string(), 61)
    )
}

/// The name of the first field of `demo` whose JSON value cannot be of its type, or that is
/// missing, judged from the signature's schemas: what a demo error should point at.
pub(crate) fn misfit_field(info: &SignatureInfo, demo: &FieldValues) -> Option<String> {
    for field in all_fields(info) {
        match demo.get(&field.name) {
            None if !accepts(&field.schema, &Value::Null) => {
                return Some(format!("field `{}` is missing", field.name));
            }
            Some(value) if !accepts(&field.schema, value) => {
                return Some(wrong_type(field, value));
            }
            _ => {}
        }
    }
    None
}

/// Whether `value` may be of the type `schema` describes, judging by JSON type and enum values
/// only (enough to point at the field; deserialization has the last word).
pub(crate) fn accepts(schema: &Value, value: &Value) -> bool {
    let Some(schema) = schema.as_object() else {
        return true;
    };
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            return options.iter().any(|s| accepts(s, value));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        return choices.contains(value);
    }
    if let Some(constant) = schema.get("const") {
        return constant == value;
    }
    let matches = |t: &str| match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    };
    match schema.get("type") {
        Some(Value::String(t)) => matches(t),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).any(matches),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dspy_macros::Signature;
    use serde_json::json;

    #[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Human,
        Location,
    }

    /// Pick the fine class.
    #[derive(Signature, Clone, Debug, PartialEq)]
    #[dspy(crate = "crate")]
    struct Fine {
        #[input]
        question: String,
        #[input]
        label: Kind,
        #[output]
        reason: String,
        #[output]
        fine_label: String,
    }

    fn object(value: Value) -> FieldValues {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn all_fields_make_a_complete_demo_and_extra_ones_are_dropped() {
        let demo = Demo::<Fine>::from_fields(object(json!({
            "question": "q", "label": "human", "reason": "r", "fine_label": "ind", "other": 1
        })))
        .unwrap();
        assert_eq!(demo.example().unwrap().label, Kind::Human);
        assert!(demo.missing_fields().is_empty());
        assert!(!demo.fields().unwrap().contains_key("other"));
    }

    #[test]
    fn some_fields_make_a_partial_demo_in_the_signatures_order() {
        let demo = Demo::<Fine>::from_fields(object(json!({
            "fine_label": "city", "question": "q", "label": null
        })))
        .unwrap();
        assert!(!demo.is_complete());
        let keys: Vec<String> = demo.fields().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["question", "fine_label"]);
        assert_eq!(demo.missing_fields(), ["label", "reason"]);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let err = Demo::<Fine>::from_fields(object(json!({
            "question": "q", "label": "animal", "fine_label": "dog"
        })))
        .unwrap_err();
        assert!(err.to_string().contains("field `label` should be"), "{err}");
        assert!(err.to_string().contains("signature `Fine`"), "{err}");
        let err = Demo::<Fine>::from_fields(object(json!({
            "question": "q", "label": "human", "fine_label": 7
        })))
        .unwrap_err();
        assert!(
            err.to_string().contains("field `fine_label` should be str"),
            "{err}"
        );
    }

    #[test]
    fn a_demo_needs_an_input_and_an_output() {
        let err = Demo::<Fine>::from_fields(object(json!({"question": "q", "label": "human"})))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("none of the output fields (`reason`, `fine_label`)"),
            "{err}"
        );
        let err = Demo::<Fine>::from_fields(object(json!({"fine_label": "ind"}))).unwrap_err();
        assert!(
            err.to_string().contains("none of the input fields"),
            "{err}"
        );
    }

    #[test]
    fn a_complete_demo_round_trips_through_its_state() {
        let example = Fine {
            question: "q".into(),
            label: Kind::Location,
            reason: "r".into(),
            fine_label: "city".into(),
        };
        let state = Demo::new(example.clone()).to_state().unwrap();
        assert_eq!(state.fields["label"], "location");
        assert_eq!(Demo::<Fine>::from_state(state).unwrap(), Demo::new(example));
    }

    #[test]
    fn provenance_survives_the_state_of_complete_and_partial_demos() {
        let provenance =
            Provenance::bootstrapped("8f43db4bc941733d", 1).chosen_by("X", 3, Some(0.5));
        let complete = Demo::new(Fine {
            question: "q".into(),
            label: Kind::Human,
            reason: "r".into(),
            fine_label: "ind".into(),
        })
        .with_provenance(provenance.clone());
        let partial =
            Demo::<Fine>::from_fields(object(json!({"question": "q", "fine_label": "ind"})))
                .unwrap()
                .with_provenance(Provenance::labeled("0b9d6e2a4c1f3e57"));
        for demo in [complete, partial] {
            let state = demo.to_state().unwrap();
            assert_eq!(state.provenance.as_ref(), demo.provenance());
            let json = serde_json::to_value(&state).unwrap();
            let back: DemoState = serde_json::from_value(json).unwrap();
            assert_eq!(Demo::<Fine>::from_state(back).unwrap(), demo);
        }
        let plain = Demo::<Fine>::from_fields(object(json!({"question": "q", "fine_label": "x"})));
        assert!(plain.unwrap().to_state().unwrap().provenance.is_none());
        assert_eq!(provenance.round, Some(1));
    }

    #[test]
    fn accepts_by_json_type_and_enum() {
        let nullable_int = json!({"anyOf": [{"type": "integer"}, {"type": "null"}]});
        assert!(accepts(&nullable_int, &json!(3)));
        assert!(accepts(&nullable_int, &Value::Null));
        assert!(!accepts(&nullable_int, &json!("3")));
        let choice = json!({"type": "string", "enum": ["a", "b"]});
        assert!(accepts(&choice, &json!("a")));
        assert!(!accepts(&choice, &json!("c")));
        assert!(!accepts(&json!({"type": "integer"}), &json!(1.5)));
    }
}
