//! Adapters: a signature plus demos plus an input become a prompt; a completion becomes typed
//! output fields.
//!
//! Adapters work on the JSON view of values ([`FieldValues`]) and on [`SignatureInfo`], so one
//! adapter serves every signature without generics. Three ship with dspy:
//!
//! - [`ChatAdapter`]: DSPy's `[[ ## field ## ]]` chat layout (the default for chat models);
//! - [`JsonAdapter`]: asks for one JSON object and uses the provider's structured-output mode;
//! - [`CompletionAdapter`]: a plain few-shot transcript for base (non-chat) models.

mod chat;
mod completion;
mod demos;
mod json;
mod markers;
mod message;
pub mod parse;
mod read;
mod reask;
mod render;
mod stream;
mod training;

pub use chat::ChatAdapter;
pub use completion::CompletionAdapter;
pub use json::JsonAdapter;
pub use message::{Message, Prompt, Role};
pub use parse::Fix;
pub use render::{display_value, field_value, python_json};
pub use stream::FieldScanner;
pub use training::TrainingExample;

pub(crate) use json::response_schema;
pub(crate) use parse::is_cut_off;
pub(crate) use read::unfinished_field;
pub(crate) use reask::{REASK_PREFIX, reask};

use crate::Result;
use crate::signature::SignatureInfo;
use serde_json::{Map, Value};
use std::fmt::Debug;
use std::sync::Arc;

/// Field name → value: the JSON view of a signature's inputs or outputs.
pub type FieldValues = Map<String, Value>;

/// What an adapter is asked to format.
#[derive(Debug, Clone, Copy)]
pub struct FormatRequest<'a> {
    /// The signature being called.
    pub signature: &'a SignatureInfo,
    /// Instructions to show (the signature's, or a predictor's override).
    pub instructions: &'a str,
    /// Few-shot demos, each holding input and output fields. A demo may lack some fields: the
    /// chat adapters show it as DSPy shows an incomplete demo (first, introduced as such, a
    /// missing output written "Not supplied for this particular example."); one without any
    /// input or any output field is left out.
    pub demos: &'a [FieldValues],
    /// The input fields of this call.
    pub input: &'a FieldValues,
}

/// A JSON schema the provider should constrain the answer to (OpenAI `response_format`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSchema {
    /// A name for the schema, as providers require one.
    pub name: String,
    /// The schema of the whole answer object.
    pub schema: Value,
    /// Whether the schema meets OpenAI's strict-mode rules.
    pub strict: bool,
}

/// How an answer is laid out, so a test double can write answers an adapter will parse.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerFormat {
    /// `[[ ## field ## ]]` sections ending with `[[ ## completed ## ]]`.
    Markers,
    /// One JSON object.
    Json,
    /// Completion text after a primed first prefix: `" value\nNext prefix: value"`.
    Completion {
        /// `(name, prefix)` of each output field, in order.
        fields: Vec<(String, String)>,
    },
}

impl AnswerFormat {
    /// Writes output values the way a well-behaved model would answer in this format.
    ///
    /// ```
    /// use dspy_core::adapter::AnswerFormat;
    /// let values = serde_json::json!({"answer": "Paris"}).as_object().unwrap().clone();
    /// assert_eq!(AnswerFormat::Markers.render(&values), "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]\n");
    /// assert_eq!(AnswerFormat::Json.render(&values), "{\n  \"answer\": \"Paris\"\n}");
    /// ```
    pub fn render(&self, values: &FieldValues) -> String {
        match self {
            AnswerFormat::Markers => chat::render_markers(values),
            AnswerFormat::Json => json::pretty(&Value::Object(values.clone())),
            AnswerFormat::Completion { fields } => completion::render_completion(fields, values),
        }
    }
}

/// A formatted prompt, ready to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Formatted {
    /// The messages (chat) or text (completion).
    pub prompt: Prompt,
    /// A schema for structured output, used when the LM supports it.
    pub response_schema: Option<ResponseSchema>,
    /// Stop sequences the adapter needs (completion mode ends answers this way).
    pub stop: Vec<String>,
    /// The layout the answer is expected in.
    pub answer_format: AnswerFormat,
}

/// Output fields recovered from a completion, with the repairs that were needed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Output field values, ready to deserialize into the signature's output type.
    pub values: FieldValues,
    /// What lenient parsing fixed on the way.
    pub fixes: Vec<Fix>,
}

impl Parsed {
    /// Records one field's parse result: its value and fixes, or an [`Error::Parse`] naming the
    /// field and carrying the whole completion.
    pub(crate) fn push_field(
        &mut self,
        field: &crate::FieldSpec,
        completion: &str,
        result: std::result::Result<(Value, Vec<Fix>), Vec<String>>,
    ) -> Result<()> {
        let (value, fixes) = result.map_err(|tried| crate::Error::Parse {
            field: field.name.clone(),
            raw: completion.to_string(),
            tried,
        })?;
        self.values.insert(field.name.clone(), value);
        self.fixes.extend(fixes);
        Ok(())
    }
}

/// Turns signature calls into prompts and completions back into fields.
///
/// Implement it to change how prompts look; `Predict::with_adapter` installs one per predictor.
///
/// ```
/// use dspy_core::adapter::{Adapter, ChatAdapter, FormatRequest, Prompt};
/// use dspy_core::SignatureInfo;
/// let sig = SignatureInfo::new("QA").input::<String>("question", "").output::<String>("answer", "");
/// let input = serde_json::json!({"question": "Why?"}).as_object().unwrap().clone();
/// let formatted = ChatAdapter::new().format(&FormatRequest {
///     signature: &sig, instructions: &sig.instructions, demos: &[], input: &input,
/// });
/// let Prompt::Chat(messages) = formatted.prompt else { unreachable!() };
/// assert!(messages[1].content.starts_with("[[ ## question ## ]]\nWhy?"));
/// let parsed = ChatAdapter::new().parse(&sig, "[[ ## answer ## ]]\nBecause.\n\n[[ ## completed ## ]]").unwrap();
/// assert_eq!(parsed.values["answer"], "Because.");
/// ```
pub trait Adapter: Send + Sync + Debug {
    /// A short name for errors and traces (`"ChatAdapter"`).
    fn name(&self) -> &'static str;

    /// Renders the prompt for one call.
    fn format(&self, request: &FormatRequest<'_>) -> Formatted;

    /// Recovers the output fields from a completion, leniently; fails with [`crate::Error::Parse`].
    fn parse(&self, signature: &SignatureInfo, completion: &str) -> Result<Parsed>;

    /// One fine-tuning example: the prompt [`format`](Self::format) renders for `request`, and
    /// `output` (every output field) written as this adapter writes a demo's answer for the same
    /// input, so a fine-tuned model is trained on exactly what it is shown at inference.
    ///
    /// The default takes the answer from `format` itself: the assistant turn of a prompt whose
    /// only demo is the input and `output`. An adapter whose prompts are one text (no turns)
    /// should override it; [`CompletionAdapter`] does.
    ///
    /// ```
    /// use dspy_core::adapter::{Adapter, FormatRequest, JsonAdapter};
    /// use dspy_core::SignatureInfo;
    /// let sig = SignatureInfo::new("QA").input::<String>("question", "").output::<u32>("year", "");
    /// let input = serde_json::json!({"question": "When did Apollo 11 land?"}).as_object().unwrap().clone();
    /// let output = serde_json::json!({"year": 1969}).as_object().unwrap().clone();
    /// let request = FormatRequest { signature: &sig, instructions: "", demos: &[], input: &input };
    /// let example = JsonAdapter::new().format_training(&request, &output);
    /// assert_eq!(example.completion, "{\n  \"year\": 1969\n}");
    /// ```
    fn format_training(
        &self,
        request: &FormatRequest<'_>,
        output: &FieldValues,
    ) -> TrainingExample {
        training::default_training(self, request, output)
    }

    /// The adapter to try once when parsing this one's answer fails (DSPy falls back from chat
    /// markers to JSON).
    fn fallback(&self) -> Option<Arc<dyn Adapter>> {
        None
    }

    /// Whether to re-ask once, showing the model its parse error, when parsing fails.
    fn reask_on_error(&self) -> bool {
        false
    }
}
