use crate::adapter::{AnswerFormat, Prompt, ResponseSchema};
use std::ops::AddAssign;

/// One request to a language model.
///
/// ```
/// use dspy_core::lm::LmRequest;
/// use dspy_core::adapter::Prompt;
/// let req = LmRequest::new(Prompt::Text("2 + 2 =".into())).with_max_tokens(4);
/// assert_eq!(req.n, 1);
/// assert_eq!(req.max_tokens, Some(4));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LmRequest {
    /// Chat messages or a completion prompt.
    pub prompt: Prompt,
    /// Sampling temperature; `None` leaves the backend's default.
    pub temperature: Option<f32>,
    /// Most tokens to generate per choice.
    pub max_tokens: Option<u32>,
    /// How many completions to return.
    pub n: u32,
    /// Sequences that end a completion.
    pub stop: Vec<String>,
    /// A JSON schema to constrain the answer to (structured output, or a grammar locally).
    pub response_schema: Option<ResponseSchema>,
    /// Distinguishes otherwise identical requests (fresh samples for optimizers); never sent to
    /// providers, but part of cache keys.
    pub rollout_id: Option<u64>,
    /// How the adapter expects the answer laid out; lets test doubles answer in kind. Not sent.
    pub answer_format: Option<AnswerFormat>,
}

impl LmRequest {
    /// A request with the backend's defaults and one choice.
    pub fn new(prompt: Prompt) -> Self {
        LmRequest {
            prompt,
            temperature: None,
            max_tokens: None,
            n: 1,
            stop: Vec::new(),
            response_schema: None,
            rollout_id: None,
            answer_format: None,
        }
    }

    /// Sets the temperature.
    #[must_use]
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the token limit.
    #[must_use]
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }
}

/// Why a completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FinishReason {
    /// The model finished, or hit a stop sequence.
    #[default]
    Stop,
    /// The token limit cut the completion short.
    Length,
    /// Anything else the provider reported (content filter, tool call...).
    Other,
}

/// One completion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Choice {
    /// The generated text.
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
}

impl Choice {
    /// A finished completion.
    pub fn new(text: impl Into<String>) -> Self {
        Choice {
            text: text.into(),
            finish_reason: FinishReason::Stop,
        }
    }
}

/// Tokens used.
///
/// ```
/// use dspy_core::lm::Usage;
/// let mut total = Usage::default();
/// total += Usage { prompt_tokens: 10, completion_tokens: 2 };
/// assert_eq!(total.total(), 12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

impl Usage {
    /// Prompt plus completion tokens.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Usage) {
        self.prompt_tokens += rhs.prompt_tokens;
        self.completion_tokens += rhs.completion_tokens;
    }
}

/// A language model's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LmResponse {
    /// The completions, `n` of them.
    pub choices: Vec<Choice>,
    /// Tokens used by this request.
    pub usage: Usage,
    /// The model that answered.
    pub model: String,
    /// Whether the answer came from a cache.
    pub cached: bool,
}

/// What a backend can do, so adapters and callers pick the right prompt shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The model takes chat messages (false: a base model completing plain text).
    pub chat: bool,
    /// The provider honours a JSON schema `response_format`.
    pub structured_output: bool,
    /// The provider honours `response_format: {"type": "json_object"}` (JSON mode). DSPy asks
    /// for it where a schema cannot be sent: for an answer with an open map (which a strict
    /// schema cannot express) and for models that take no schema. With neither this nor
    /// `structured_output`, no `response_format` is sent and the prompt alone asks for JSON.
    pub json_object: bool,
    /// Answers are decoded under the response schema's grammar, so a JSON answer always parses.
    /// Predictors on a chat model with it default to [`JsonAdapter`](crate::JsonAdapter).
    pub schema_enforced: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            chat: true,
            structured_output: false,
            json_object: false,
            schema_enforced: false,
        }
    }
}
