//! What an embedding call sends and what it gets back.

use super::Usage;

/// Texts to turn into vectors, one each: what [`LM::embed`](super::LM::embed) sends down the
/// layers to a backend's [`LanguageModel::embed`](super::LanguageModel::embed).
///
/// ```
/// use dspy_core::lm::EmbedRequest;
/// let request = EmbedRequest::new(["a cat", "a dog"]).with_dimensions(256);
/// assert_eq!(request.texts, ["a cat", "a dog"]);
/// assert_eq!(request.dimensions, Some(256));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmbedRequest {
    /// The texts, in order.
    pub texts: Vec<String>,
    /// The vector length to ask for, from models that can shorten theirs (OpenAI's
    /// `text-embedding-3-*`); `None` leaves the model's own. Part of cache keys.
    pub dimensions: Option<u32>,
}

impl EmbedRequest {
    /// A request for `texts` at the model's own vector length.
    pub fn new(texts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EmbedRequest {
            texts: texts.into_iter().map(Into::into).collect(),
            dimensions: None,
        }
    }

    /// Asks for vectors of `n` dimensions.
    #[must_use]
    pub fn with_dimensions(mut self, n: u32) -> Self {
        self.dimensions = Some(n);
        self
    }
}

/// A backend's answer to an [`EmbedRequest`].
///
/// ```
/// use dspy_core::lm::{EmbedResponse, Usage};
/// let answer = EmbedResponse {
///     vectors: vec![vec![0.6, 0.8]],
///     usage: Usage { prompt_tokens: 2, completion_tokens: 0 },
///     model: "text-embedding-3-small".into(),
///     cached: false,
/// };
/// assert_eq!(answer.vectors[0].len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmbedResponse {
    /// One vector per text, in the request's order (as the model gave them: not normalized).
    pub vectors: Vec<Vec<f32>>,
    /// Tokens read (as prompt tokens), for usage and budgets. Texts answered from the cache
    /// count none.
    pub usage: Usage,
    /// The model that answered.
    pub model: String,
    /// Whether every vector came from the cache.
    pub cached: bool,
}
