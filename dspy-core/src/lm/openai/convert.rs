//! dspy requests to OpenAI request bodies, and OpenAI response bodies back.
//!
//! Requests use async-openai's types. Responses are read into lenient local types instead of
//! async-openai's strict ones, because compatible servers differ in the details (a missing `id` or
//! `created`, finish reasons such as `"eos"` or `"abort"`, content given as parts): none of that
//! should fail a call whose text arrived.

use super::error::{self, Context};
use crate::adapter::{Message, Prompt, ResponseSchema, Role};
use crate::lm::{Choice, FinishReason, LmRequest, LmResponse, Usage};
use crate::{Error, LmErrorKind, Result};
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, Prompt as TextPrompt, ResponseFormat, ResponseFormatJsonSchema,
    StopConfiguration,
};
use async_openai::types::completions::CreateCompletionRequest;
use serde::Deserialize;
use serde_json::Value;

/// OpenAI accepts at most this many stop sequences.
const MAX_STOP: usize = 4;

/// The `/chat/completions` body. `max_completion_tokens` is OpenAI's current name for the limit;
/// most compatible servers only know the older `max_tokens`.
#[allow(deprecated)] // `max_tokens` is deprecated by OpenAI, and still what compatible servers read.
pub(super) fn chat_request(
    model: &str,
    request: &LmRequest,
    max_completion_tokens: bool,
    json: JsonFormat,
) -> Result<CreateChatCompletionRequest> {
    let messages: Vec<ChatCompletionRequestMessage> = match &request.prompt {
        Prompt::Chat(messages) => messages.iter().map(chat_message).collect(),
        Prompt::Text(text) => vec![ChatCompletionRequestUserMessage::from(text.as_str()).into()],
    };
    if messages.is_empty() {
        return Err(Error::lm(
            LmErrorKind::BadRequest,
            "the prompt has no messages; a chat request needs at least one",
        ));
    }
    let mut body = CreateChatCompletionRequest {
        model: model.to_string(),
        messages,
        temperature: request.temperature,
        n: choices(request.n)?,
        stop: stop(&request.stop),
        response_format: request
            .response_schema
            .as_ref()
            .map(|schema| response_format(schema, json)),
        ..Default::default()
    };
    if max_completion_tokens {
        body.max_completion_tokens = request.max_tokens;
    } else {
        body.max_tokens = request.max_tokens;
    }
    Ok(body)
}

/// The `/completions` body: the prompt as one text (chat messages flattened).
pub(super) fn completion_request(
    model: &str,
    request: &LmRequest,
) -> Result<CreateCompletionRequest> {
    Ok(CreateCompletionRequest {
        model: model.to_string(),
        prompt: TextPrompt::String(request.prompt.to_text()),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        n: choices(request.n)?,
        stop: stop(&request.stop),
        ..Default::default()
    })
}

fn chat_message(message: &Message) -> ChatCompletionRequestMessage {
    let content = message.content.as_str();
    match message.role {
        Role::System => ChatCompletionRequestSystemMessage::from(content).into(),
        Role::User => ChatCompletionRequestUserMessage::from(content).into(),
        Role::Assistant => ChatCompletionRequestAssistantMessage::from(content).into(),
    }
}

/// `n` is sent only above 1 (the default everywhere, and some servers reject the field).
fn choices(n: u32) -> Result<Option<u8>> {
    if n <= 1 {
        return Ok(None);
    }
    match u8::try_from(n) {
        Ok(n) if n <= 128 => Ok(Some(n)),
        _ => Err(Error::lm(
            LmErrorKind::BadRequest,
            format!(
                "n = {n} completions asked for; OpenAI-compatible APIs allow at most 128 per request"
            ),
        )),
    }
}

fn stop(stop: &[String]) -> Option<StopConfiguration> {
    (!stop.is_empty())
        .then(|| StopConfiguration::StringArray(stop.iter().take(MAX_STOP).cloned().collect()))
}

/// How a request with a response schema asks for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonFormat {
    /// `{type: "json_schema", json_schema: {...}}`: the schema itself (OpenAI, most servers).
    Schema,
    /// `{type: "json_object"}`: any JSON object, for servers that refuse a schema.
    Object,
}

fn response_format(schema: &ResponseSchema, json: JsonFormat) -> ResponseFormat {
    if json == JsonFormat::Object {
        return ResponseFormat::JsonObject;
    }
    ResponseFormat::JsonSchema {
        json_schema: ResponseFormatJsonSchema {
            description: None,
            name: schema_name(&schema.name),
            schema: schema.schema.clone(),
            strict: Some(schema.strict),
        },
    }
}

/// OpenAI wants `[a-zA-Z0-9_-]{1,64}`.
fn schema_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if clean.is_empty() {
        "output".to_string()
    } else {
        clean
    }
}

/// A `/chat/completions` answer, as leniently as it can be read.
#[derive(Debug, Deserialize)]
pub(super) struct ChatResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<ChatChoice>>,
    #[serde(default)]
    usage: Option<UsageBody>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChatChoice {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    message: Option<ChatMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    /// A string, `null`, or (some servers) a list of `{type: "text", text}` parts.
    #[serde(default)]
    content: Option<Value>,
}

/// A `/completions` answer.
#[derive(Debug, Deserialize)]
pub(super) struct CompletionResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<CompletionChoice>>,
    #[serde(default)]
    usage: Option<UsageBody>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct CompletionChoice {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct UsageBody {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

pub(super) fn from_chat_response(
    response: ChatResponse,
    model: &str,
    ctx: &Context<'_>,
) -> Result<LmResponse> {
    let Some(choices) = response.choices.filter(|c| !c.is_empty()) else {
        return Err(missing_choices(response.error, ctx));
    };
    let choices = in_order(choices, |c| c.index)
        .into_iter()
        .map(|c| Choice {
            text: c
                .message
                .and_then(|m| m.content)
                .map(content_text)
                .unwrap_or_default(),
            finish_reason: finish_reason(c.finish_reason.as_deref()),
        })
        .collect();
    Ok(LmResponse {
        choices,
        usage: usage(response.usage),
        model: model_name(response.model, model),
        cached: false,
    })
}

pub(super) fn from_completion_response(
    response: CompletionResponse,
    model: &str,
    ctx: &Context<'_>,
) -> Result<LmResponse> {
    let Some(choices) = response.choices.filter(|c| !c.is_empty()) else {
        return Err(missing_choices(response.error, ctx));
    };
    let choices = in_order(choices, |c| c.index)
        .into_iter()
        .map(|c| Choice {
            text: c.text.unwrap_or_default(),
            finish_reason: finish_reason(c.finish_reason.as_deref()),
        })
        .collect();
    Ok(LmResponse {
        choices,
        usage: usage(response.usage),
        model: model_name(response.model, model),
        cached: false,
    })
}

/// Choices sorted by their `index` (stable, so servers that omit it keep their order).
fn in_order<T>(mut choices: Vec<T>, index: impl Fn(&T) -> Option<u32>) -> Vec<T> {
    choices.sort_by_key(|c| index(c).unwrap_or(u32::MAX));
    choices
}

fn content_text(content: Value) -> String {
    match content {
        Value::String(text) => text,
        Value::Array(parts) => parts
            .iter()
            .filter(|part| {
                part.get("type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "text")
            })
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        None | Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(_) => FinishReason::Other,
    }
}

fn usage(body: Option<UsageBody>) -> Usage {
    body.map(|u| Usage {
        prompt_tokens: u.prompt_tokens.unwrap_or(0),
        completion_tokens: u.completion_tokens.unwrap_or(0),
    })
    .unwrap_or_default()
}

fn model_name(answered: Option<String>, asked: &str) -> String {
    answered
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| asked.to_string())
}

/// A 200 answer without `choices` (or with none in it): some proxies report failures this
/// way. An LM error, not a parse failure: there is no answer to re-ask about.
fn missing_choices(error: Option<Value>, ctx: &Context<'_>) -> Error {
    match error {
        Some(error) => error::from_error_body(&error, ctx),
        None => error::server(
            ctx,
            "the response has no `choices` (or an empty list); is this an OpenAI-compatible API?",
        ),
    }
}

/// A request body with streaming turned on: `stream: true`, and, when `usage` is set,
/// `stream_options.include_usage` so the last chunk carries the token counts.
pub(super) fn streaming<T: serde::Serialize>(body: T, usage: bool) -> Result<Value> {
    let mut value = serde_json::to_value(body)?;
    if let Value::Object(map) = &mut value {
        map.insert("stream".into(), Value::Bool(true));
        if usage {
            map.insert(
                "stream_options".into(),
                serde_json::json!({"include_usage": true}),
            );
        }
    }
    Ok(value)
}

/// One server-sent chunk of a streamed `/chat/completions` answer.
#[derive(Debug, Deserialize)]
pub(super) struct ChatChunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<ChatChunkChoice>>,
    #[serde(default)]
    usage: Option<UsageBody>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChatChunkChoice {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    delta: Option<ChatMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

/// One server-sent chunk of a streamed `/completions` answer.
#[derive(Debug, Deserialize)]
pub(super) struct CompletionChunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<CompletionChoice>>,
    #[serde(default)]
    usage: Option<UsageBody>,
    #[serde(default)]
    error: Option<Value>,
}

/// Builds the whole response from streamed chunks, as they arrive.
#[derive(Debug)]
pub(super) struct Assembler {
    texts: Vec<String>,
    finish_reasons: Vec<Option<String>>,
    usage: Option<UsageBody>,
    model: Option<String>,
    /// Whether any chunk carried a choice: a stream with none is no answer at all.
    answered: bool,
}

impl Assembler {
    /// For a request of `n` choices.
    pub(super) fn new(n: u32) -> Self {
        let n = n.max(1) as usize;
        Assembler {
            texts: vec![String::new(); n],
            finish_reasons: vec![None; n],
            usage: None,
            model: None,
            answered: false,
        }
    }

    /// Adds a chat chunk; returns the text it adds to the first choice.
    pub(super) fn add_chat(&mut self, chunk: ChatChunk, ctx: &Context<'_>) -> Result<String> {
        self.add_common(
            chunk.model,
            chunk.usage,
            chunk.error,
            chunk.choices.is_some(),
            ctx,
        )?;
        let mut first = String::new();
        for choice in chunk.choices.unwrap_or_default() {
            let text = choice
                .delta
                .and_then(|d| d.content)
                .map(content_text)
                .unwrap_or_default();
            self.add_piece(choice.index, text, choice.finish_reason, &mut first);
        }
        Ok(first)
    }

    /// Adds a completion chunk; returns the text it adds to the first choice.
    pub(super) fn add_completion(
        &mut self,
        chunk: CompletionChunk,
        ctx: &Context<'_>,
    ) -> Result<String> {
        self.add_common(
            chunk.model,
            chunk.usage,
            chunk.error,
            chunk.choices.is_some(),
            ctx,
        )?;
        let mut first = String::new();
        for choice in chunk.choices.unwrap_or_default() {
            let text = choice.text.unwrap_or_default();
            self.add_piece(choice.index, text, choice.finish_reason, &mut first);
        }
        Ok(first)
    }

    /// Model, usage and errors, which both kinds of chunk carry alike. Some servers report a
    /// failure midway as a chunk holding only `error`.
    fn add_common(
        &mut self,
        model: Option<String>,
        usage: Option<UsageBody>,
        error: Option<Value>,
        has_choices: bool,
        ctx: &Context<'_>,
    ) -> Result<()> {
        if let Some(error) = error.filter(|e| !e.is_null())
            && !has_choices
        {
            return Err(error::from_error_body(&error, ctx));
        }
        if model.as_deref().is_some_and(|m| !m.is_empty()) {
            self.model = model;
        }
        if usage.is_some() {
            self.usage = usage;
        }
        Ok(())
    }

    fn add_piece(
        &mut self,
        index: Option<u32>,
        text: String,
        finish_reason: Option<String>,
        first: &mut String,
    ) {
        self.answered = true;
        // A choice the request did not ask for (a server bug) is ignored, not allocated for.
        let i = index.unwrap_or(0) as usize;
        let Some(slot) = self.texts.get_mut(i) else {
            return;
        };
        if i == 0 {
            first.push_str(&text);
        }
        slot.push_str(&text);
        if finish_reason.is_some() {
            self.finish_reasons[i] = finish_reason;
        }
    }

    /// The whole response, once the stream has ended.
    pub(super) fn finish(self, model: &str, ctx: &Context<'_>) -> Result<LmResponse> {
        if !self.answered {
            return Err(error::server(
                ctx,
                "the stream ended without any answer; does the server support streaming \
                 (`stream: true`)?",
            ));
        }
        let choices = self
            .texts
            .into_iter()
            .zip(self.finish_reasons)
            .map(|(text, reason)| Choice {
                text,
                finish_reason: finish_reason(reason.as_deref()),
            })
            .collect();
        Ok(LmResponse {
            choices,
            usage: usage(self.usage),
            model: model_name(self.model, model),
            cached: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn ctx() -> Context<'static> {
        Context {
            url: "http://h/v1/chat/completions",
            model: "m",
            timeout: Duration::from_secs(1),
            secret: None,
        }
    }

    fn chat(messages: Vec<Message>) -> LmRequest {
        LmRequest::new(Prompt::Chat(messages))
    }

    #[test]
    fn chat_body_maps_roles_and_settings() {
        let mut req = chat(vec![
            Message::system("sys"),
            Message::user("q"),
            Message::assistant("a"),
        ])
        .with_temperature(0.5)
        .with_max_tokens(64);
        req.n = 3;
        req.stop = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        req.rollout_id = Some(7);
        let body =
            serde_json::to_value(chat_request("m", &req, false, JsonFormat::Schema).unwrap())
                .unwrap();
        assert_eq!(
            body,
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ],
                "max_tokens": 64,
                "n": 3,
                "stop": ["a", "b", "c", "d"],
                "temperature": 0.5,
            })
        );
    }

    #[test]
    fn openai_gets_max_completion_tokens() {
        let req = chat(vec![Message::user("q")]).with_max_tokens(10);
        let body = serde_json::to_value(chat_request("m", &req, true, JsonFormat::Schema).unwrap())
            .unwrap();
        assert_eq!(body["max_completion_tokens"], 10);
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn minimal_chat_body_sends_only_what_is_set() {
        let body = serde_json::to_value(
            chat_request(
                "m",
                &LmRequest::new(Prompt::Text("hi".into())),
                true,
                JsonFormat::Schema,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            body,
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn response_schema_becomes_json_schema_format() {
        let mut req = chat(vec![Message::user("q")]);
        req.response_schema = Some(ResponseSchema {
            name: "QA output!".into(),
            schema: json!({"type": "object", "properties": {"answer": {"type": "string"}}}),
            strict: true,
        });
        let body =
            serde_json::to_value(chat_request("m", &req, false, JsonFormat::Schema).unwrap())
                .unwrap();
        assert_eq!(
            body["response_format"],
            json!({
                "type": "json_schema",
                "json_schema": {
                    "name": "QA_output_",
                    "schema": {"type": "object", "properties": {"answer": {"type": "string"}}},
                    "strict": true,
                }
            })
        );
        assert_eq!(schema_name(""), "output");
        assert_eq!(schema_name(&"x".repeat(100)).len(), 64);
        let body = chat_request("m", &req, false, JsonFormat::Object).unwrap();
        let body = serde_json::to_value(body).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
    }

    #[test]
    fn n_limits() {
        assert_eq!(choices(0).unwrap(), None);
        assert_eq!(choices(1).unwrap(), None);
        assert_eq!(choices(128).unwrap(), Some(128));
        assert!(matches!(
            choices(129),
            Err(Error::Lm {
                kind: LmErrorKind::BadRequest,
                ..
            })
        ));
        assert!(matches!(
            choices(1000),
            Err(Error::Lm {
                kind: LmErrorKind::BadRequest,
                ..
            })
        ));
        assert!(chat_request("m", &chat(vec![]), false, JsonFormat::Schema).is_err());
    }

    #[test]
    fn completion_body_flattens_chat() {
        let mut req = chat(vec![Message::system("S"), Message::user("U")]).with_max_tokens(5);
        req.stop = vec!["\n\n".into()];
        req.response_schema = Some(ResponseSchema {
            name: "o".into(),
            schema: json!({}),
            strict: false,
        });
        let body = serde_json::to_value(completion_request("base", &req).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"model": "base", "prompt": "System: S\n\nUser: U", "max_tokens": 5, "stop": ["\n\n"]})
        );
        let body = serde_json::to_value(
            completion_request("base", &LmRequest::new(Prompt::Text("2+2=".into()))).unwrap(),
        )
        .unwrap();
        assert_eq!(body["prompt"], "2+2=");
    }

    #[test]
    fn chat_response_is_read_leniently() {
        let response: ChatResponse = serde_json::from_value(json!({
            "model": "gpt-x-2025",
            "choices": [
                {"index": 1, "message": {"role": "assistant", "content": "second"}, "finish_reason": "length"},
                {"index": 0, "message": {"role": "assistant", "content": "first"}, "finish_reason": "stop"},
                {"index": 2, "message": {"role": "assistant", "content": null}, "finish_reason": "content_filter"},
                {"index": 3, "message": {"content": [{"type": "text", "text": "pa"}, {"type": "text", "text": "rts"}]}, "finish_reason": "eos"},
                {"index": 4, "message": {"content": "x"}},
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        }))
        .unwrap();
        let out = from_chat_response(response, "asked", &ctx()).unwrap();
        let texts: Vec<_> = out.choices.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["first", "second", "", "parts", "x"]);
        let reasons: Vec<_> = out.choices.iter().map(|c| c.finish_reason).collect();
        use FinishReason::*;
        assert_eq!(reasons, [Stop, Length, Other, Other, Stop]);
        assert_eq!(
            out.usage,
            Usage {
                prompt_tokens: 11,
                completion_tokens: 7
            }
        );
        assert_eq!(out.model, "gpt-x-2025");
        assert!(!out.cached);
    }

    #[test]
    fn completion_response_and_missing_fields() {
        let response: CompletionResponse =
            serde_json::from_value(json!({"choices": [{"text": " 4", "finish_reason": null}]}))
                .unwrap();
        let out = from_completion_response(response, "asked", &ctx()).unwrap();
        assert_eq!(out.choices, vec![Choice::new(" 4")]);
        assert_eq!(out.model, "asked");
        assert_eq!(out.usage, Usage::default());
    }

    #[test]
    fn no_choices_is_an_error() {
        let response: ChatResponse = serde_json::from_value(json!({"object": "list"})).unwrap();
        let err = from_chat_response(response, "m", &ctx()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Lm {
                    kind: LmErrorKind::Server,
                    ..
                }
            ),
            "{err}"
        );
        let response: ChatResponse = serde_json::from_value(
            json!({"error": {"message": "Rate limit exceeded", "code": 429}}),
        )
        .unwrap();
        let err = from_chat_response(response, "m", &ctx()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Lm {
                    kind: LmErrorKind::RateLimited,
                    ..
                }
            ),
            "{err}"
        );
    }

    fn chat_chunk(value: Value) -> ChatChunk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn streamed_chunks_assemble_into_the_response() {
        let mut assembler = Assembler::new(2);
        let mut first = String::new();
        for chunk in [
            json!({"model": "m-2025", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"choices": [{"index": 1, "delta": {"content": "B"}}, {"index": 0, "delta": {"content": "A1"}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": [{"type": "text", "text": "A2"}]}}]}),
            json!({"choices": [{"index": 7, "delta": {"content": "ignored"}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}, {"index": 1, "delta": {}, "finish_reason": "stop"}], "usage": null}),
            json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}, "error": null}),
        ] {
            first.push_str(&assembler.add_chat(chat_chunk(chunk), &ctx()).unwrap());
        }
        assert_eq!(first, "A1A2");
        let response = assembler.finish("asked", &ctx()).unwrap();
        assert_eq!(
            response.choices,
            [
                Choice {
                    text: "A1A2".into(),
                    finish_reason: FinishReason::Length
                },
                Choice::new("B"),
            ]
        );
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 3,
                completion_tokens: 4
            }
        );
        assert_eq!(response.model, "m-2025");
    }

    #[test]
    fn streamed_errors_and_empty_streams_fail() {
        let mut assembler = Assembler::new(1);
        let chunk = chat_chunk(json!({"error": {"message": "overloaded", "code": 503}}));
        let err = assembler.add_chat(chunk, &ctx()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Lm {
                    kind: LmErrorKind::Server,
                    ..
                }
            ),
            "{err}"
        );

        let err = Assembler::new(1).finish("m", &ctx()).unwrap_err();
        assert!(err.to_string().contains("support streaming"), "{err}");

        let mut assembler = Assembler::new(1);
        let chunk: CompletionChunk =
            serde_json::from_value(json!({"choices": [{"text": " 4", "finish_reason": null}]}))
                .unwrap();
        assert_eq!(assembler.add_completion(chunk, &ctx()).unwrap(), " 4");
        let response = assembler.finish("base", &ctx()).unwrap();
        assert_eq!(response.choices, [Choice::new(" 4")]);
        assert_eq!(response.model, "base");
    }

    #[test]
    fn streaming_bodies_ask_for_usage_only_when_told() {
        let body = streaming(json!({"model": "m"}), true).unwrap();
        assert_eq!(
            body,
            json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}})
        );
        let body = streaming(json!({"model": "m"}), false).unwrap();
        assert_eq!(body, json!({"model": "m", "stream": true}));
    }
}
