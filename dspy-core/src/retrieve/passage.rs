//! `Passage`: one retrieved text with its id, score and metadata.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A text a [`Retriever`](super::Retriever) found: its id in the corpus, the text, how well it
/// matched (higher is better, on the retriever's own scale) and whatever metadata the corpus
/// keeps with it (`null` when none).
///
/// It displays as its text, so `format!("{passage}")` is what an LM should read.
///
/// ```
/// use dspy_core::retrieve::Passage;
/// use serde_json::json;
/// let passage = Passage::new("curl", "curl: transfers data with URL syntax")
///     .with_score(2.5)
///     .with_metadata(json!({"section": "web"}));
/// assert_eq!(passage.to_string(), "curl: transfers data with URL syntax");
/// assert_eq!(passage.metadata["section"], "web");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Passage {
    /// Its id in the corpus (a document id, a row id, a URL).
    pub id: String,
    /// The text.
    pub text: String,
    /// How well it matched the query (higher is better; 0 until a retriever scores it).
    #[serde(default)]
    pub score: f32,
    /// What the corpus keeps with it; `null` when nothing.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
}

impl Passage {
    /// A passage with no score and no metadata.
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Passage {
            id: id.into(),
            text: text.into(),
            score: 0.0,
            metadata: Value::Null,
        }
    }

    /// The same passage with `score`.
    #[must_use]
    pub fn with_score(mut self, score: f32) -> Self {
        self.score = score;
        self
    }

    /// The same passage with `metadata`.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }
}

impl fmt::Display for Passage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<I: Into<String>, T: Into<String>> From<(I, T)> for Passage {
    fn from((id, text): (I, T)) -> Self {
        Passage::new(id, text)
    }
}
