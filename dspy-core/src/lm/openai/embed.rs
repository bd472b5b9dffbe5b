//! `/embeddings`: the request body and the answer, read as leniently as completions are.

use super::error::{self, Context};
use crate::Result;
use crate::lm::{EmbedRequest, EmbedResponse, Usage};
use serde::Deserialize;
use serde_json::{Value, json};

/// The body of an `/embeddings` request: the texts as `input`, floats asked for (a server may
/// default to base64), and `dimensions` only when set (servers that do not know it refuse it).
pub(super) fn body(model: &str, request: &EmbedRequest) -> Value {
    let mut body = json!({
        "model": model,
        "input": request.texts,
        "encoding_format": "float",
    });
    if let Some(n) = request.dimensions {
        body["dimensions"] = n.into();
    }
    body
}

/// An `/embeddings` answer.
#[derive(Debug, Deserialize)]
pub(super) struct EmbeddingsBody {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    data: Option<Vec<EmbeddingItem>>,
    #[serde(default)]
    usage: Option<EmbeddingUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// The vectors in the order of the texts (by `index`, which servers may send out of order).
pub(super) fn response(body: EmbeddingsBody, ctx: &Context<'_>) -> Result<EmbedResponse> {
    let Some(mut data) = body.data else {
        return Err(match body.error {
            Some(error) => error::from_error_body(&error, ctx),
            None => error::server(
                ctx,
                "the embeddings response has no `data`; is this an OpenAI-compatible API?",
            ),
        });
    };
    data.sort_by_key(|item| item.index.unwrap_or(usize::MAX));
    let tokens = body
        .usage
        .and_then(|u| u.prompt_tokens.or(u.total_tokens))
        .unwrap_or(0);
    Ok(EmbedResponse {
        vectors: data.into_iter().map(|item| item.embedding).collect(),
        usage: Usage {
            prompt_tokens: tokens,
            completion_tokens: 0,
        },
        model: body
            .model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| ctx.model.to_string()),
        cached: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ctx() -> Context<'static> {
        Context {
            url: "http://localhost:1/v1",
            model: "embedder",
            timeout: Duration::from_secs(1),
            secret: None,
        }
    }

    #[test]
    fn vectors_come_in_the_texts_order_with_their_tokens() {
        let body: EmbeddingsBody = serde_json::from_value(json!({
            "data": [
                {"index": 1, "embedding": [0.0, 1.0]},
                {"index": 0, "embedding": [1.0, 0.0]},
            ],
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        }))
        .unwrap();
        let answer = response(body, &ctx()).unwrap();
        assert_eq!(answer.vectors, [vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(answer.usage.prompt_tokens, 7);
        assert_eq!(answer.model, "embedder");
        let request = EmbedRequest::new(["a"]).with_dimensions(64);
        assert_eq!(body_of(&request)["dimensions"], 64);
        assert!(
            body_of(&EmbedRequest::new(["a"]))
                .get("dimensions")
                .is_none()
        );
    }

    fn body_of(request: &EmbedRequest) -> Value {
        body("embedder", request)
    }

    #[test]
    fn an_error_in_a_200_answer_is_an_error() {
        let body: EmbeddingsBody = serde_json::from_value(json!({
            "error": {"message": "model not found", "code": 404}
        }))
        .unwrap();
        let err = response(body, &ctx()).unwrap_err();
        assert!(err.to_string().contains("model not found"), "{err}");
    }
}
