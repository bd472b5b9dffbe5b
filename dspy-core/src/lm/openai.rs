//! OpenAI-compatible backend (stub; being written).
use super::{BoxFuture, LanguageModel, LmRequest, LmResponse};
use crate::Result;

/// Which endpoint to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `/chat/completions`.
    #[default]
    Chat,
    /// `/completions` (base models).
    Completion,
}

/// An OpenAI-compatible LM.
#[derive(Debug)]
pub struct OpenAiLm { model: String }

/// Builds an [`OpenAiLm`].
#[derive(Debug)]
pub struct OpenAiLmBuilder { model: String }

impl OpenAiLm {
    /// A builder for `model`.
    pub fn builder(model: &str) -> OpenAiLmBuilder { OpenAiLmBuilder { model: model.into() } }
    /// From the environment; `None` when nothing is configured.
    pub fn from_env() -> Result<Option<OpenAiLm>> { Ok(None) }
}
impl OpenAiLmBuilder {
    /// Reads `OPENAI_API_KEY` and `OPENAI_BASE_URL`.
    pub fn from_env_vars(self) -> Self { self }
    /// Builds the client.
    pub fn build(self) -> Result<OpenAiLm> { Ok(OpenAiLm { model: self.model }) }
}
impl LanguageModel for OpenAiLm {
    fn model(&self) -> &str { &self.model }
    fn complete(&self, _request: LmRequest) -> BoxFuture<'_, Result<LmResponse>> { unimplemented!() }
}
