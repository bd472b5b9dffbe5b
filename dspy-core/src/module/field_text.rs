//! [`FieldText`]: the words a prompt shows for one field, which a predictor can hold in place
//! of its signature's (as a loaded program holds the text it was saved with).

use crate::signature::{FieldSpec, SignatureInfo};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The words a prompt shows for one field: its description (`desc` in the signature) and the
/// prefix that introduces it in completion prompts (`Question:`).
///
/// ```
/// use dspy_core::module::FieldText;
/// use dspy_core::{FieldSpec, SignatureInfo};
/// let info = SignatureInfo::new("QA").input::<String>("question", "a question");
/// assert_eq!(FieldText::of(&info.inputs[0]), FieldText::new("a question", "Question:"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldText {
    /// The field's description.
    pub desc: String,
    /// Its prefix in completion prompts.
    pub prefix: String,
}

impl FieldText {
    /// A description and a prefix.
    pub fn new(desc: impl Into<String>, prefix: impl Into<String>) -> Self {
        FieldText {
            desc: desc.into(),
            prefix: prefix.into(),
        }
    }

    /// The text `field` has.
    pub fn of(field: &FieldSpec) -> Self {
        FieldText::new(field.desc.clone(), field.prefix.clone())
    }
}

/// A predictor's own field texts: the replaced ones by field name, and its signature with them
/// in place (built once, as prompts need it on every call).
#[derive(Debug)]
pub(crate) struct OwnFieldText {
    texts: BTreeMap<String, FieldText>,
    info: SignatureInfo,
}

impl OwnFieldText {
    /// The signature prompts show.
    pub(crate) fn info(&self) -> &SignatureInfo {
        &self.info
    }

    /// `info` (the code's signature, or a variant of it with more fields) with these texts.
    pub(crate) fn apply_to(&self, info: &SignatureInfo) -> SignatureInfo {
        with_texts(info, &self.texts)
    }
}

/// `own` with field `name`'s text replaced by `text` (`None`: the one `base` has), or `None`
/// when no field's text differs from `base`'s any more. A field `base` lacks is an
/// [`Error::Config`] naming its fields.
pub(crate) fn set_field_text(
    base: &SignatureInfo,
    own: Option<&OwnFieldText>,
    name: &str,
    text: Option<FieldText>,
) -> Result<Option<Arc<OwnFieldText>>> {
    let Some(field) = base
        .inputs
        .iter()
        .chain(&base.outputs)
        .find(|f| f.name == name)
    else {
        let names: Vec<String> = base
            .inputs
            .iter()
            .chain(&base.outputs)
            .map(|f| format!("`{}`", f.name))
            .collect();
        return Err(Error::config(format!(
            "signature `{}` has no field `{name}` to give a text to (its fields: {})",
            base.name,
            names.join(", ")
        )));
    };
    let mut texts = own.map(|o| o.texts.clone()).unwrap_or_default();
    match text.filter(|t| *t != FieldText::of(field)) {
        Some(text) => texts.insert(name.to_string(), text),
        None => texts.remove(name),
    };
    if texts.is_empty() {
        return Ok(None);
    }
    let info = with_texts(base, &texts);
    Ok(Some(Arc::new(OwnFieldText { texts, info })))
}

/// `info` with the texts of the fields `texts` names (fields it does not name keep theirs).
fn with_texts(info: &SignatureInfo, texts: &BTreeMap<String, FieldText>) -> SignatureInfo {
    let mut info = info.clone();
    for field in info.inputs.iter_mut().chain(info.outputs.iter_mut()) {
        if let Some(text) = texts.get(&field.name) {
            field.desc.clone_from(&text.desc);
            field.prefix.clone_from(&text.prefix);
        }
    }
    info
}
