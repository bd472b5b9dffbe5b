use super::{
    BoxFuture, Capabilities, Choice, ChunkStream, LanguageModel, LmChunk, LmRequest, LmResponse,
    Usage, generate,
};
use crate::adapter::{AnswerFormat, Prompt, REASK_PREFIX, Role};
use crate::{Error, LmErrorKind, Result};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// A scripted language model for tests, with DSPy's three modes.
///
/// - [`DummyLm::new`]: answers in order, one per completion;
/// - [`DummyLm::keyed`]: the answer whose key is a substring of the current input;
/// - [`DummyLm::follow_examples`]: answers as the demo with the same input did.
///
/// An answer is a JSON object of output fields, written in whatever layout the adapter asked for
/// (`[[ ## field ## ]]` sections, a JSON object, or completion text), so answers go through the
/// real parsers; a JSON string is sent verbatim, to test bad answers. Every request is recorded.
/// Clones share the script and the record.
///
/// ```
/// use dspy_core::lm::{DummyLm, LM};
/// use serde_json::json;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dummy = DummyLm::new([json!({"answer": "Paris"}), json!("not the format at all")]);
/// let lm = LM::new(dummy.clone());
/// let request = dspy_core::lm::LmRequest::new(dspy_core::adapter::Prompt::Text("Q".into()));
/// let first = lm.complete(request.clone()).await.unwrap();
/// assert_eq!(first.choices[0].text, "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]\n");
/// let second = lm.complete(request.clone()).await.unwrap();
/// assert_eq!(second.choices[0].text, "not the format at all");
/// assert!(lm.complete(request).await.is_err()); // the script ran out
/// assert_eq!(dummy.requests().len(), 3);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct DummyLm {
    name: String,
    capabilities: Capabilities,
    chunk_chars: usize,
    mode: Arc<DummyMode>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
enum DummyMode {
    Sequence,
    Keyed(Vec<(String, Value)>),
    FollowExamples,
}

#[derive(Debug, Default)]
struct State {
    answers: VecDeque<Value>,
    requests: Vec<LmRequest>,
    forget_requests: bool,
}

impl DummyLm {
    /// Answers in order; once they run out, calls fail.
    pub fn new(answers: impl IntoIterator<Item = Value>) -> Self {
        Self::with_mode(DummyMode::Sequence, answers.into_iter().collect())
    }

    /// Answers with the first entry whose key appears in the current input (the last user
    /// message, or the last block of a completion prompt).
    ///
    /// ```
    /// use dspy_core::lm::DummyLm;
    /// let lm = DummyLm::keyed([("Galileo", serde_json::json!({"label": "human"}))]);
    /// # let _ = lm;
    /// ```
    pub fn keyed<K: Into<String>>(answers: impl IntoIterator<Item = (K, Value)>) -> Self {
        let answers = answers.into_iter().map(|(k, v)| (k.into(), v)).collect();
        Self::with_mode(DummyMode::Keyed(answers), VecDeque::new())
    }

    /// Answers as the prompt's demo with the same input was answered (fails when none matches).
    pub fn follow_examples() -> Self {
        Self::with_mode(DummyMode::FollowExamples, VecDeque::new())
    }

    fn with_mode(mode: DummyMode, answers: VecDeque<Value>) -> Self {
        DummyLm {
            name: "dummy".into(),
            capabilities: Capabilities {
                chat: true,
                structured_output: false,
                json_object: false,
                schema_enforced: false,
            },
            chunk_chars: DEFAULT_CHUNK_CHARS,
            mode: Arc::new(mode),
            state: Arc::new(Mutex::new(State {
                answers,
                requests: Vec::new(),
                forget_requests: false,
            })),
        }
    }

    /// Renames the model.
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Pretends to be a base model that only completes text (so predictors use
    /// [`CompletionAdapter`](crate::CompletionAdapter)).
    #[must_use]
    pub fn completion_model(mut self) -> Self {
        self.capabilities.chat = false;
        self
    }

    /// Pretends to support structured output (so `response_schema` is sent).
    #[must_use]
    pub fn structured_output(mut self, on: bool) -> Self {
        self.capabilities.structured_output = on;
        self
    }

    /// Pretends to honour JSON mode (`json_object`), so `response_schema` is sent and a backend
    /// would ask for any JSON object.
    #[must_use]
    pub fn json_object(mut self, on: bool) -> Self {
        self.capabilities.json_object = on;
        self
    }

    /// Pretends to decode under a grammar, as the local model does (so a chat model's
    /// predictors default to [`JsonAdapter`](crate::JsonAdapter)).
    ///
    /// ```
    /// use dspy_core::lm::{DummyLm, LanguageModel};
    /// assert!(DummyLm::new([]).schema_enforced(true).capabilities().schema_enforced);
    /// ```
    #[must_use]
    pub fn schema_enforced(mut self, on: bool) -> Self {
        self.capabilities.schema_enforced = on;
        self
    }

    /// Streams answers in pieces of at most `chars` characters (default 3, so that streaming
    /// tests see fields and markers split across chunks); see [`LanguageModel::stream`].
    ///
    /// ```
    /// use dspy_core::lm::{DummyLm, LM, LmChunk, LmRequest};
    /// use futures_util::StreamExt;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(DummyLm::new([serde_json::json!("abcdefg")]).chunk_chars(3));
    /// let request = LmRequest::new(dspy_core::adapter::Prompt::Text("Q".into()));
    /// let chunks: Vec<LmChunk> = lm.stream(request).map(Result::unwrap).collect().await;
    /// let deltas: Vec<&LmChunk> = chunks.iter().take(3).collect();
    /// assert_eq!(deltas, [&LmChunk::Delta("abc".into()), &LmChunk::Delta("def".into()), &LmChunk::Delta("g".into())]);
    /// assert!(matches!(&chunks[3], LmChunk::Done(r) if r.choices[0].text == "abcdefg"));
    /// # });
    /// ```
    #[must_use]
    pub fn chunk_chars(mut self, chars: usize) -> Self {
        self.chunk_chars = chars.max(1);
        self
    }

    /// Stops recording requests (for benchmarks and long runs, where the record would grow).
    #[must_use]
    pub fn without_recording(self) -> Self {
        self.lock().forget_requests = true;
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<LmRequest> {
        self.lock().requests.clone()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<LmRequest> {
        self.lock().requests.last().cloned()
    }

    /// Answers still queued.
    pub fn remaining(&self) -> usize {
        self.lock().answers.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn answer(&self, request: &LmRequest) -> Result<Vec<String>> {
        let n = request.n.max(1) as usize;
        match &*self.mode {
            DummyMode::Sequence => {
                let mut state = self.lock();
                if state.answers.len() < n {
                    return Err(out_of_answers(state.requests.len()));
                }
                let answers: Vec<Value> = state.answers.drain(..n).collect();
                Ok(answers.iter().map(|a| render(a, request)).collect())
            }
            DummyMode::Keyed(answers) => {
                let input = current_input(&request.prompt);
                let answer = answers
                    .iter()
                    .find(|(key, _)| input.contains(key.as_str()))
                    .map(|(_, answer)| render(answer, request))
                    .ok_or_else(|| {
                        Error::lm(
                            LmErrorKind::Backend,
                            format!("DummyLm has no answer keyed for input {input:?}"),
                        )
                    })?;
                Ok(vec![answer; n])
            }
            DummyMode::FollowExamples => {
                let answer = demo_answer(&request.prompt).ok_or_else(|| {
                    Error::lm(
                        LmErrorKind::Backend,
                        "DummyLm found no demo whose input matches the current input",
                    )
                })?;
                Ok(vec![answer; n])
            }
        }
    }
}

/// Characters per streamed chunk unless [`DummyLm::chunk_chars`] says otherwise.
const DEFAULT_CHUNK_CHARS: usize = 3;

/// `text` in pieces of at most `chars` characters.
fn pieces(text: &str, chars: usize) -> Vec<String> {
    let all: Vec<char> = text.chars().collect();
    all.chunks(chars).map(|c| c.iter().collect()).collect()
}

fn out_of_answers(served: usize) -> Error {
    Error::lm(
        LmErrorKind::Backend,
        format!("DummyLm ran out of answers after {served} requests; give it more answers"),
    )
}

fn render(answer: &Value, request: &LmRequest) -> String {
    match answer {
        Value::String(raw) => raw.clone(),
        Value::Object(values) => request
            .answer_format
            .as_ref()
            .unwrap_or(&AnswerFormat::Markers)
            .render(values),
        other => other.to_string(),
    }
}

/// The current input: the last user message, or the last block of a completion prompt.
fn current_input(prompt: &Prompt) -> &str {
    match prompt {
        // A re-ask turn (see adapter/reask.rs) is about the input before it: answer that again.
        Prompt::Chat(messages) => messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User && !m.content.starts_with(REASK_PREFIX))
            .map(|m| m.content.as_str())
            .unwrap_or(""),
        Prompt::Text(text) => text.rsplit("\n\n").next().unwrap_or(text),
    }
}

/// The answer a demo gave to the same input.
fn demo_answer(prompt: &Prompt) -> Option<String> {
    match prompt {
        Prompt::Chat(messages) => {
            let (last, earlier) = messages.split_last()?;
            earlier.windows(2).find_map(|pair| {
                let (user, assistant) = (&pair[0], &pair[1]);
                let same_input = user.role == Role::User
                    && assistant.role == Role::Assistant
                    && (last.content == user.content
                        || last
                            .content
                            .strip_prefix(user.content.as_str())
                            .is_some_and(|rest| rest.starts_with("\n\n")));
                same_input.then(|| assistant.content.clone())
            })
        }
        Prompt::Text(text) => {
            let mut blocks: Vec<&str> = text.split("\n\n").collect();
            let last = blocks.pop()?;
            blocks
                .iter()
                .find_map(|block| block.strip_prefix(last).map(str::to_string))
        }
    }
}

impl LanguageModel for DummyLm {
    fn model(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>> {
        let result = self.answer(&request);
        let prompt_tokens = (request.prompt.to_text().len() / 4) as u64;
        let mut state = self.lock();
        if !state.forget_requests {
            state.requests.push(request);
        }
        drop(state);
        let model = self.name.clone();
        Box::pin(async move {
            let texts = result?;
            let completion_tokens = texts.iter().map(|t| t.len() as u64 / 4).sum();
            Ok(LmResponse {
                choices: texts.into_iter().map(Choice::new).collect(),
                usage: Usage {
                    prompt_tokens,
                    completion_tokens,
                },
                model,
                cached: false,
            })
        })
    }

    /// The same answer as [`complete`](LanguageModel::complete) (it is recorded and consumed
    /// the same way), with the first choice's text yielded in small pieces.
    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            match self.complete(request).await {
                Ok(response) => {
                    let text = response.choices.first().map_or("", |c| c.text.as_str());
                    for piece in pieces(text, self.chunk_chars) {
                        y.send(Ok(LmChunk::Delta(piece))).await;
                    }
                    y.send(Ok(LmChunk::Done(response))).await;
                }
                Err(error) => y.send(Err(error)).await,
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Message;

    #[test]
    fn follows_chat_demos_by_exact_input() {
        let prompt = Prompt::Chat(vec![
            Message::system("sys"),
            Message::user("[[ ## q ## ]]\nWho was X ?"),
            Message::assistant("A1"),
            Message::user("[[ ## q ## ]]\nWho was X"),
            Message::assistant("A2"),
            Message::user("[[ ## q ## ]]\nWho was X\n\nRespond with ..."),
        ]);
        assert_eq!(demo_answer(&prompt).as_deref(), Some("A2"));
    }

    #[test]
    fn follows_completion_demos() {
        let prompt = Prompt::Text("Do it.\n\nQ: a\nA: one\n\nQ: b\nA: two\n\nQ: b\nA:".into());
        assert_eq!(demo_answer(&prompt).as_deref(), Some(" two"));
        assert_eq!(current_input(&prompt), "Q: b\nA:");
    }
}
