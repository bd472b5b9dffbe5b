//! Training examples for fine-tuning, rendered by the adapter that serves the model at inference
//! (never by a second renderer: a model trained on another layout would be asked in one it never
//! saw).

use super::{Adapter, FieldValues, FormatRequest, Message, Prompt, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One example to fine-tune on: the prompt a predictor sends for an input, exactly as it is sent
/// at inference, and the answer it should get back, written as the adapter writes a demo's
/// answer.
///
/// Made by [`Adapter::format_training`] (or a predictor's `training_example`, which calls it with
/// the predictor's signature, instructions and demos).
///
/// ```
/// use dspy_core::adapter::{Adapter, ChatAdapter, FormatRequest, Prompt, TrainingExample};
/// use dspy_core::SignatureInfo;
/// let sig = SignatureInfo::new("QA").input::<String>("question", "").output::<String>("answer", "");
/// let input = serde_json::json!({"question": "Capital of France?"}).as_object().unwrap().clone();
/// let output = serde_json::json!({"answer": "Paris"}).as_object().unwrap().clone();
/// let request = FormatRequest { signature: &sig, instructions: &sig.instructions, demos: &[], input: &input };
/// let example: TrainingExample = ChatAdapter::new().format_training(&request, &output);
/// assert_eq!(example.prompt, ChatAdapter::new().format(&request).prompt);
/// assert_eq!(example.completion, "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]\n");
/// // One line of OpenAI's chat fine-tuning format:
/// let line = example.to_openai_json();
/// assert_eq!(line["messages"][2]["role"], "assistant");
/// assert_eq!(line["messages"][2]["content"], example.completion);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrainingExample {
    /// The prompt, as the adapter renders it at inference.
    pub prompt: Prompt,
    /// The answer: the assistant turn (chat), or the text that continues the prompt.
    pub completion: String,
}

impl TrainingExample {
    /// The whole conversation of a chat example: its messages, then the answer as the
    /// assistant's turn; `None` for a text (completion) example.
    ///
    /// ```
    /// use dspy_core::adapter::{Message, Prompt, Role, TrainingExample};
    /// let example = TrainingExample { prompt: Prompt::Chat(vec![Message::user("2+2?")]), completion: "4".into() };
    /// let messages = example.messages().unwrap();
    /// assert_eq!(messages[1], Message::assistant("4"));
    /// assert!(TrainingExample { prompt: Prompt::Text("2+2=".into()), completion: " 4".into() }.messages().is_none());
    /// # let _ = Role::User;
    /// ```
    pub fn messages(&self) -> Option<Vec<Message>> {
        match &self.prompt {
            Prompt::Chat(messages) => {
                let mut all = messages.clone();
                all.push(Message::assistant(self.completion.clone()));
                Some(all)
            }
            Prompt::Text(_) => None,
        }
    }

    /// Whether the prompt is chat messages (else one text, for base models).
    pub fn is_chat(&self) -> bool {
        matches!(self.prompt, Prompt::Chat(_))
    }

    /// The example as one line of OpenAI's fine-tuning JSONL: `{"messages": [...]}` with the
    /// answer as the last, assistant, message; or `{"prompt": ..., "completion": ...}` for a
    /// text example.
    ///
    /// ```
    /// use dspy_core::adapter::{Prompt, TrainingExample};
    /// let example = TrainingExample { prompt: Prompt::Text("Question: 2+2?\nAnswer:".into()), completion: " 4\n\n".into() };
    /// assert_eq!(example.to_openai_json(), serde_json::json!({"prompt": "Question: 2+2?\nAnswer:", "completion": " 4\n\n"}));
    /// ```
    pub fn to_openai_json(&self) -> Value {
        match self.messages() {
            Some(messages) => json!({ "messages": messages }),
            None => json!({ "prompt": self.prompt.to_text(), "completion": self.completion }),
        }
    }
}

/// What [`Adapter::format_training`] does unless an adapter overrides it: the prompt `format`
/// renders for `request`, and the answer `format` writes when the same input and `output` are a
/// demo (its assistant turn), so the two can never disagree. A text prompt has no turns to take
/// the answer from: it is written in the adapter's answer layout instead.
pub(super) fn default_training<A: Adapter + ?Sized>(
    adapter: &A,
    request: &FormatRequest<'_>,
    output: &FieldValues,
) -> TrainingExample {
    let formatted = adapter.format(request);
    let mut demo = request.input.clone();
    demo.extend(output.iter().map(|(k, v)| (k.clone(), v.clone())));
    let demos = [demo];
    let shown = adapter.format(&FormatRequest {
        demos: &demos,
        ..*request
    });
    let from_demo = match &shown.prompt {
        Prompt::Chat(messages) => messages
            .iter()
            .find(|m| m.role == Role::Assistant)
            .map(|m| m.content.clone()),
        Prompt::Text(_) => None,
    };
    let completion = from_demo.unwrap_or_else(|| formatted.answer_format.render(output));
    TrainingExample {
        prompt: formatted.prompt,
        completion,
    }
}
