//! The cache key: a stable hash of what decides an answer.

use crate::adapter::{AnswerFormat, Prompt, Role};
use crate::lm::LmRequest;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Bumped when the key's inputs or the stored answer change shape, so old entries are not read.
const KEY_VERSION: u64 = 1;

/// The cache key of `request` sent to `model`: the SHA-256 (64 hex digits) of a canonical JSON
/// of the prompt, the model name, every sampling setting (temperature, max tokens, `n`, stop
/// sequences), the response schema, the rollout id and the expected answer layout.
///
/// Canonical means object keys are sorted at every depth, so the same request hashes the same
/// in every process and on every machine. Credentials and endpoints (API key, base URL) are not
/// part of a request, so they can never reach the key.
///
/// ```
/// use dspy_core::adapter::Prompt;
/// use dspy_core::lm::{LmRequest, request_key};
/// let request = LmRequest::new(Prompt::Text("2 + 2 =".into()));
/// let key = request_key("gpt-4o-mini", &request);
/// assert_eq!(key.len(), 64);
/// assert_eq!(key, request_key("gpt-4o-mini", &request.clone()));
/// assert_ne!(key, request_key("gpt-4o", &request));
/// let mut rollout = request.clone();
/// rollout.rollout_id = Some(1);
/// assert_ne!(key, request_key("gpt-4o-mini", &rollout));
/// ```
pub fn request_key(model: &str, request: &LmRequest) -> String {
    let schema = request.response_schema.as_ref().map(|s| {
        json!({
            "name": s.name,
            "schema": s.schema,
            "strict": s.strict,
        })
    });
    let value = json!({
        "v": KEY_VERSION,
        "model": model,
        "prompt": prompt_value(&request.prompt),
        // f32 → f64 is exact, so the printed number is the same everywhere.
        "temperature": request.temperature.map(f64::from),
        "max_tokens": request.max_tokens,
        "n": request.n,
        "stop": request.stop,
        "response_schema": schema,
        "rollout_id": request.rollout_id,
        "answer_format": request.answer_format.as_ref().map(answer_format_value),
    });
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache key of one text's embedding by `model` (at `dimensions`, when asked for): the
/// SHA-256 of a canonical JSON as [`request_key`]'s, marked as an embedding so it never equals
/// a completion's key.
///
/// ```
/// use dspy_core::lm::embed_key;
/// let key = embed_key("text-embedding-3-small", "a cat", None);
/// assert_eq!(key.len(), 64);
/// assert_ne!(key, embed_key("text-embedding-3-small", "a cat", Some(256)));
/// assert_ne!(key, embed_key("text-embedding-3-large", "a cat", None));
/// ```
pub fn embed_key(model: &str, text: &str, dimensions: Option<u32>) -> String {
    let value = json!({
        "v": KEY_VERSION,
        "embed": text,
        "model": model,
        "dimensions": dimensions,
    });
    let digest = Sha256::digest(canonical_json(&value).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn prompt_value(prompt: &Prompt) -> Value {
    match prompt {
        Prompt::Chat(messages) => {
            let messages: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let role = match m.role {
                        Role::System => "system",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    };
                    json!({"role": role, "content": m.content})
                })
                .collect();
            json!({ "chat": messages })
        }
        Prompt::Text(text) => json!({ "text": text }),
    }
}

fn answer_format_value(format: &AnswerFormat) -> Value {
    match format {
        AnswerFormat::Markers => json!("markers"),
        AnswerFormat::Json => json!("json"),
        AnswerFormat::Completion { fields } => json!({ "completion": fields }),
    }
}

/// `value` as compact JSON with object keys sorted at every depth: the same data gives the same
/// text whatever order its maps were built in (serde_json keeps insertion order here, since the
/// workspace enables `preserve_order`). For hashing: cache keys, checkpoint keys.
///
/// ```
/// use serde_json::json;
/// assert_eq!(dspy_core::lm::canonical_json(&json!({"b": [1, {"d": 0, "c": 0}], "a": null})),
///            r#"{"a":null,"b":[1,{"c":0,"d":0}]}"#);
/// ```
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => write_object(map, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(key.clone()).to_string());
        out.push(':');
        write_canonical(value, out);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{Message, ResponseSchema};

    fn chat() -> LmRequest {
        LmRequest::new(Prompt::Chat(vec![
            Message::system("Be brief."),
            Message::user("Capital of France?"),
        ]))
    }

    #[test]
    fn every_semantic_field_changes_the_key() {
        let base = request_key("m", &chat());
        let mut variants: Vec<LmRequest> = Vec::new();
        variants.push(chat().with_temperature(0.7));
        variants.push(chat().with_max_tokens(10));
        let mut r = chat();
        r.n = 2;
        variants.push(r);
        let mut r = chat();
        r.stop = vec!["\n".into()];
        variants.push(r);
        let mut r = chat();
        r.rollout_id = Some(0);
        variants.push(r);
        let mut r = chat();
        r.answer_format = Some(AnswerFormat::Json);
        variants.push(r);
        let mut r = chat();
        r.response_schema = Some(ResponseSchema {
            name: "A".into(),
            schema: json!({"type": "object"}),
            strict: true,
        });
        variants.push(r);
        variants.push(LmRequest::new(Prompt::Text(
            "System: Be brief.\n\nUser: Capital of France?".into(),
        )));
        let mut keys: Vec<String> = variants.iter().map(|r| request_key("m", r)).collect();
        keys.push(base.clone());
        keys.push(request_key("other-model", &chat()));
        let unique: std::collections::HashSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "{keys:#?}");
    }

    #[test]
    fn object_key_order_does_not_matter() {
        let with = |schema: Value| {
            let mut r = chat();
            r.response_schema = Some(ResponseSchema {
                name: "A".into(),
                schema,
                strict: false,
            });
            request_key("m", &r)
        };
        let a = with(json!({"type": "object", "properties": {"x": {"type": "string"}, "y": {}}}));
        let b = with(json!({"properties": {"y": {}, "x": {"type": "string"}}, "type": "object"}));
        assert_eq!(a, b);
    }

    #[test]
    fn key_is_stable_across_builds() {
        // Pinned (and equal to Python's json.dumps(sort_keys=True) + sha256): a change here
        // orphans every disk cache, so change KEY_VERSION on purpose instead.
        let mut canonical = String::new();
        write_canonical(
            &json!({"b": [1, {"d": null, "c": "x"}], "a": 0.5}),
            &mut canonical,
        );
        assert_eq!(canonical, r#"{"a":0.5,"b":[1,{"c":"x","d":null}]}"#);
        assert_eq!(
            request_key("m", &chat()),
            "eec7f0db4c34d4ede5b1f4c92f01060564f2d51a647988b22d43569d2dddcc43"
        );
    }
}
