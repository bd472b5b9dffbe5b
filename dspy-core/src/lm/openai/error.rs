//! HTTP and API failures to [`Error::Lm`] with a kind a caller can act on. The API key never
//! reaches a message: every message passes through [`redact`].

use crate::util::{excerpt, quoted_excerpt};
use crate::{Error, LmErrorKind, Source};
use async_openai::error::OpenAIError;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a message about a failed call mentions.
#[derive(Debug, Clone)]
pub(super) struct Context<'a> {
    /// The endpoint called (without credentials).
    pub url: &'a str,
    /// The model asked for.
    pub model: &'a str,
    /// The request timeout.
    pub timeout: Duration,
    /// The API key, to scrub from messages.
    pub secret: Option<&'a str>,
}

/// A non-2xx answer, as the transport read it (async-openai's own error drops the headers).
#[derive(Debug)]
pub(super) struct HttpFailure {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, snippet(&self.body, 300))
    }
}

impl std::error::Error for HttpFailure {}

/// Maps any error of an async-openai call.
pub(super) fn from_openai(error: OpenAIError, ctx: &Context<'_>) -> Error {
    let url = ctx.url;
    // The source is kept only for errors whose text cannot hold the key (the message is
    // redacted, a source is not): reqwest's without its URL, serde_json's.
    let (kind, message, source): (_, _, Option<Source>) = match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
            Ok(failure) => return from_failure(&failure, ctx),
            Err(other) => (
                LmErrorKind::Server,
                format!("request to {url} failed: {}", chain(&*other)),
                None,
            ),
        },
        OpenAIError::ApiError(response) => {
            let api = response.api_error;
            let detail = Detail {
                message: redact(&api.message, ctx.secret),
                kind: api.r#type,
                code: api.code,
            };
            let status = response.status_code.as_u16();
            let kind = classify(Some(status), &detail);
            (kind, http_message(status, &detail, ctx), None)
        }
        OpenAIError::Reqwest(error) => {
            let error = error.without_url();
            let detail = chain(&error);
            let (kind, message) = if error.is_timeout() {
                (
                    LmErrorKind::Timeout,
                    format!(
                        "no answer from {url} within {:?} (raise it with OpenAiLmBuilder::timeout, \
                         or DSPY_LM_TIMEOUT in seconds): {detail}",
                        ctx.timeout
                    ),
                )
            } else if error.is_connect() {
                let message = format!(
                    "could not connect to {url} (is the server running, and the base URL right?): {detail}"
                );
                (LmErrorKind::Server, message)
            } else if error.is_builder() {
                (
                    LmErrorKind::BadRequest,
                    format!("could not build the request to {url}: {detail}"),
                )
            } else {
                (
                    LmErrorKind::Server,
                    format!("request to {url} failed: {detail}"),
                )
            };
            (kind, message, Some(Box::new(error)))
        }
        OpenAIError::JSONDeserialize(error, body) => {
            let message = format!(
                "{url} answered with something that is not an OpenAI-format response ({error}); is the base \
                 URL right (it usually ends in /v1)? The answer was: {}",
                snippet(&redact(&body, ctx.secret), 400)
            );
            (LmErrorKind::Server, message, Some(Box::new(error)))
        }
        OpenAIError::InvalidArgument(message) => (LmErrorKind::BadRequest, message, None),
        other => (
            LmErrorKind::Server,
            format!("request to {url} failed: {other}"),
            None,
        ),
    };
    Error::Lm {
        kind,
        message: redact(&message, ctx.secret),
        retry_after: None,
        source,
    }
}

/// An `{"error": ...}` object in an answer that has no choices.
pub(super) fn from_error_body(error: &Value, ctx: &Context<'_>) -> Error {
    // Redacted before anything is cut, so a key across a cut cannot leave half of itself.
    let error = redact_value(error, ctx.secret);
    let detail = Detail::from_value(&serde_json::json!({ "error": error }));
    let status = detail
        .code
        .as_deref()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|s| (400..600).contains(s));
    let kind = classify(status, &detail);
    let message = format!(
        "{} answered with an error (model `{}`): {}",
        ctx.url,
        ctx.model,
        detail.describe()
    );
    Error::Lm {
        kind,
        message: redact(&message, ctx.secret),
        retry_after: None,
        source: None,
    }
}

/// A stream the client's timeout cut off.
pub(super) fn stream_timeout(ctx: &Context<'_>) -> Error {
    Error::Lm {
        kind: LmErrorKind::Timeout,
        message: format!(
            "the stream from {} did not finish within {:?}; raise the timeout \
             (OpenAiLmBuilder::timeout, or DSPY_LM_TIMEOUT in seconds)",
            ctx.url, ctx.timeout
        ),
        retry_after: None,
        source: None,
    }
}

/// A server failure with a plain message.
pub(super) fn server(ctx: &Context<'_>, what: &str) -> Error {
    Error::Lm {
        kind: LmErrorKind::Server,
        message: redact(&format!("{}: {what}", ctx.url), ctx.secret),
        retry_after: None,
        source: None,
    }
}

fn from_failure(failure: &HttpFailure, ctx: &Context<'_>) -> Error {
    // The transport scrubbed the body already; this keeps it so for failures made elsewhere.
    let detail = Detail::from_body(&redact(&failure.body, ctx.secret));
    let kind = classify(Some(failure.status), &detail);
    Error::Lm {
        kind,
        message: redact(&http_message(failure.status, &detail, ctx), ctx.secret),
        retry_after: failure.retry_after,
        // Not the failure itself: its body could quote the key, and a source is not redacted.
        source: None,
    }
}

fn http_message(status: u16, detail: &Detail, ctx: &Context<'_>) -> String {
    let hint = if status == 404 {
        "; the base URL (it usually ends in /v1) or the model name may be wrong"
    } else {
        ""
    };
    format!(
        "HTTP {status} from {} (model `{}`): {}{hint}",
        ctx.url,
        ctx.model,
        detail.describe()
    )
}

/// What an error body says: OpenAI's `{"error": {"message", "type", "code"}}`, or the shapes
/// other servers use (`{"error": "..."}`, `{"message": ...}`, `{"detail": ...}`), or raw text.
#[derive(Debug, Default, PartialEq)]
struct Detail {
    message: String,
    kind: Option<String>,
    code: Option<String>,
}

impl Detail {
    fn from_body(body: &str) -> Detail {
        if body.trim().is_empty() {
            return Detail {
                message: "(empty body)".into(),
                ..Default::default()
            };
        }
        match serde_json::from_str::<Value>(body) {
            Ok(value) if value.is_object() => Detail::from_value(&value),
            _ => Detail {
                message: snippet(body, 400),
                ..Default::default()
            },
        }
    }

    fn from_value(value: &Value) -> Detail {
        let error = value.get("error").filter(|e| !e.is_null()).unwrap_or(value);
        if let Some(text) = error.as_str() {
            return Detail {
                message: text.to_string(),
                ..Default::default()
            };
        }
        let message = ["message", "detail", "msg"]
            .iter()
            .find_map(|key| error.get(key).or_else(|| value.get(key)))
            .map(|m| match m {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| value.to_string());
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Detail {
            message: excerpt(&message, 2000),
            kind: error.get("type").and_then(text),
            code: error.get("code").and_then(text),
        }
    }

    fn describe(&self) -> String {
        let mut out = self.message.clone();
        if let Some(kind) = &self.kind {
            out.push_str(&format!(" (type: {kind})"));
        }
        if let Some(code) = &self.code {
            out.push_str(&format!(" (code: {code})"));
        }
        out
    }
}

/// Phrases servers use when the prompt does not fit (OpenAI, vLLM, llama.cpp, OpenRouter, ...).
const CONTEXT_PHRASES: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "context size",
    "exceed_context_size",
    "prompt is too long",
];

fn classify(status: Option<u16>, detail: &Detail) -> LmErrorKind {
    let is =
        |name: &str| detail.code.as_deref() == Some(name) || detail.kind.as_deref() == Some(name);
    let lower = detail.message.to_lowercase();
    let context = is("context_length_exceeded")
        || is("exceed_context_size_error")
        || CONTEXT_PHRASES.iter().any(|phrase| lower.contains(phrase));
    match status.map(LmErrorKind::from_status) {
        // An exhausted quota does not come back by waiting: treat it as an account problem.
        Some(LmErrorKind::RateLimited) if is("insufficient_quota") => LmErrorKind::Auth,
        Some(LmErrorKind::BadRequest) if context => LmErrorKind::ContextWindowExceeded,
        Some(kind) => kind,
        None if context => LmErrorKind::ContextWindowExceeded,
        None if is("rate_limit_exceeded") || lower.contains("rate limit") => {
            LmErrorKind::RateLimited
        }
        None => LmErrorKind::Server,
    }
}

/// How long the provider asked to wait: `retry-after-ms` (OpenAI), else `Retry-After` in seconds
/// or as an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && let Ok(wait) = Duration::try_from_secs_f64(ms / 1000.0)
    {
        return Some(wait);
    }
    let value = text("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = parse_http_date(value)?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `Retry-After` dates take.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if !zone.eq_ignore_ascii_case("GMT") {
        return None;
    }
    let day: u32 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [hour, minute, second] = hms.as_slice() else {
        return None;
    };
    if !(1970..=9999).contains(&year)
        || !(1..=31).contains(&day)
        || *hour > 23
        || *minute > 59
        || *second > 60
    {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + hour * 3_600 + minute * 60 + second))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The error and its sources, `: `-joined.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = inner.source();
    }
    out
}

/// Replaces the key wherever it appears (servers echo it in 401 messages). Keys shorter than 8
/// characters are placeholders (`EMPTY`, `none`), not secrets, and replacing them would mangle
/// messages.
pub(super) fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if is_secret(secret) => text.replace(secret, "<redacted>"),
        _ => text.to_string(),
    }
}

/// Whether a key is long enough to be a secret rather than a placeholder.
pub(super) fn is_secret(key: &str) -> bool {
    key.len() >= 8
}

/// [`redact`] over every string in a JSON value (before any of it is cut).
fn redact_value(value: &Value, secret: Option<&str>) -> Value {
    match value {
        Value::String(text) => Value::String(redact(text, secret)),
        Value::Array(items) => items.iter().map(|v| redact_value(v, secret)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (redact(k, secret), redact_value(v, secret)))
            .collect(),
        other => other.clone(),
    }
}

/// A quoted, cut excerpt of a body.
fn snippet(text: &str, max: usize) -> String {
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    quoted_excerpt(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn ctx() -> Context<'static> {
        Context {
            url: "http://h/v1/chat/completions",
            model: "m",
            timeout: Duration::from_secs(3),
            secret: Some("sk-test-SECRET"),
        }
    }

    fn failure(status: u16, body: &str) -> Error {
        let boxed = Box::new(HttpFailure {
            status,
            retry_after: None,
            body: body.into(),
        });
        from_openai(OpenAIError::Boxed(boxed), &ctx())
    }

    fn kind(error: &Error) -> LmErrorKind {
        match error {
            Error::Lm { kind, .. } => *kind,
            other => panic!("not an LM error: {other}"),
        }
    }

    #[test]
    fn statuses_map_to_kinds() {
        let openai = |message: &str, code: &str| {
            serde_json::json!({"error": {"message": message, "type": "x", "code": code}})
                .to_string()
        };
        assert_eq!(
            kind(&failure(
                401,
                &openai("Incorrect API key", "invalid_api_key")
            )),
            LmErrorKind::Auth
        );
        assert_eq!(kind(&failure(403, "forbidden")), LmErrorKind::Auth);
        assert_eq!(
            kind(&failure(
                429,
                &openai("Rate limit reached", "rate_limit_exceeded")
            )),
            LmErrorKind::RateLimited
        );
        assert_eq!(
            kind(&failure(
                429,
                &openai("You exceeded your quota", "insufficient_quota")
            )),
            LmErrorKind::Auth
        );
        assert_eq!(kind(&failure(408, "")), LmErrorKind::Timeout);
        let long = openai(
            "This model's maximum context length is 8192 tokens",
            "context_length_exceeded",
        );
        assert_eq!(
            kind(&failure(400, &long)),
            LmErrorKind::ContextWindowExceeded
        );
        let llama_cpp = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#;
        assert_eq!(
            kind(&failure(400, llama_cpp)),
            LmErrorKind::ContextWindowExceeded
        );
        let vllm = r#"{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 3000 tokens.","type":"BadRequestError","param":null,"code":400}"#;
        assert_eq!(
            kind(&failure(400, vllm)),
            LmErrorKind::ContextWindowExceeded
        );
        assert_eq!(
            kind(&failure(
                400,
                &openai("Invalid value for n", "invalid_value")
            )),
            LmErrorKind::BadRequest
        );
        assert_eq!(
            kind(&failure(404, r#"{"detail":"Not Found"}"#)),
            LmErrorKind::BadRequest
        );
        assert_eq!(
            kind(&failure(500, "<html>oops</html>")),
            LmErrorKind::Server
        );
        assert_eq!(kind(&failure(503, "")), LmErrorKind::Server);
    }

    #[test]
    fn messages_describe_the_failure() {
        let err = failure(404, r#"{"detail":"Not Found"}"#);
        let text = err.to_string();
        assert!(
            text.contains("HTTP 404 from http://h/v1/chat/completions"),
            "{text}"
        );
        assert!(text.contains("Not Found"), "{text}");
        assert!(text.contains("/v1"), "{text}");
        let text = failure(
            400,
            r#"{"error":{"message":"bad n","type":"invalid_request_error","code":"x"}}"#,
        )
        .to_string();
        assert!(
            text.contains("bad n (type: invalid_request_error) (code: x)"),
            "{text}"
        );
        let text = failure(502, &"<p>".repeat(1000)).to_string();
        assert!(text.len() < 1200, "long bodies are cut: {text}");
        let text = failure(500, "").to_string();
        assert!(text.contains("(empty body)"), "{text}");
    }

    #[test]
    fn the_key_never_appears() {
        let echoed = r#"{"error":{"message":"Incorrect API key provided: sk-test-SECRET. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let err = failure(401, echoed);
        let text = err.to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(!format!("{err:?}").contains("SECRET"));
        let json_err = serde_json::from_str::<Value>("nope sk-test-SECRET").unwrap_err();
        let err = from_openai(
            OpenAIError::JSONDeserialize(json_err, "nope sk-test-SECRET".into()),
            &ctx(),
        );
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert_eq!(kind(&err), LmErrorKind::Server);
        assert_eq!(redact("key EMPTY", Some("EMPTY")), "key EMPTY");
    }

    /// Bodies are cut (at 400 and 2000 bytes): a key across a cut must not leave its first
    /// characters behind, so the redaction comes first.
    #[test]
    fn a_key_across_a_cut_is_redacted_whole() {
        for cut in [400, 2000] {
            for offset in [2, 6, 10] {
                let filler = "x".repeat(cut - offset);
                let raw = format!("{filler}sk-test-SECRET and more");
                let json = serde_json::json!({"error": {"message": raw}}).to_string();
                for body in [raw.as_str(), json.as_str()] {
                    let text = failure(401, body).to_string();
                    assert!(!text.contains("sk-t"), "cut {cut}, offset {offset}: {text}");
                }
                let error = from_error_body(&serde_json::json!({"message": raw}), &ctx());
                assert!(!error.to_string().contains("sk-t"), "{error}");
                let json_err = serde_json::from_str::<Value>("{").unwrap_err();
                let error =
                    from_openai(OpenAIError::JSONDeserialize(json_err, raw.clone()), &ctx());
                assert!(!error.to_string().contains("sk-t"), "{error}");
            }
        }
    }

    #[test]
    fn retry_after_is_kept() {
        let boxed = Box::new(HttpFailure {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
            body: String::new(),
        });
        let err = from_openai(OpenAIError::Boxed(boxed), &ctx());
        assert!(
            matches!(err, Error::Lm { kind: LmErrorKind::RateLimited, retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
        assert!(err.is_retryable());
    }

    #[test]
    fn retry_after_headers() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, HeaderValue::from_static(v));
            }
            map
        };
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2")])),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", " 1.5 ")])),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Sun, 06 Nov 1994 08:49:37 GMT"
            )])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[])), None);
        let future = retry_after(&headers(&[(
            "retry-after",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        )]))
        .unwrap();
        assert!(future > Duration::from_secs(3600 * 24 * 365));
    }

    #[test]
    fn http_dates() {
        let at = |s| {
            parse_http_date(s)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
        };
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(at("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(at("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600));
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(at("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(at("Sun, 06 Nov 99999999999999 08:49:37 GMT"), None);
        assert_eq!(at("Sun, 06 Nov 1994 08:49 GMT"), None);
    }

    #[test]
    fn error_body_shapes() {
        assert_eq!(Detail::from_body(r#"{"error":"boom"}"#).message, "boom");
        assert_eq!(
            Detail::from_body(r#"{"detail":[{"msg":"field required"}]}"#).message,
            r#"[{"msg":"field required"}]"#
        );
        assert_eq!(Detail::from_body("plain text").message, r#""plain text""#);
        let d = Detail::from_body(r#"{"error":{"message":"m","type":"t","code":429}}"#);
        assert_eq!(
            d,
            Detail {
                message: "m".into(),
                kind: Some("t".into()),
                code: Some("429".into())
            }
        );
    }

    #[tokio::test]
    async fn transport_and_decoding_errors_are_kept_as_sources() {
        use std::error::Error as _;
        // Nothing listens on port 1 of the loopback address: a connect error.
        let refused = reqwest::Client::new()
            .get("http://127.0.0.1:1/v1/chat/completions")
            .send()
            .await
            .unwrap_err();
        let err = from_openai(OpenAIError::Reqwest(refused), &ctx());
        assert_eq!(kind(&err), LmErrorKind::Server);
        let source = err.source().expect("the reqwest error is the source");
        let cause = source.downcast_ref::<reqwest::Error>().unwrap();
        assert!(cause.is_connect());
        assert!(cause.url().is_none(), "kept without its URL");
        assert!(source.source().is_some(), "the chain goes on below reqwest");

        let json_err = serde_json::from_str::<Value>("nope").unwrap_err();
        let err = from_openai(
            OpenAIError::JSONDeserialize(json_err, "nope".into()),
            &ctx(),
        );
        let source = err.source().expect("the decoding error is the source");
        assert!(source.downcast_ref::<serde_json::Error>().is_some());

        // A failure's body can quote the key, and a source is not redacted: none is kept.
        assert!(failure(401, "bad key sk-test-SECRET").source().is_none());
    }
}
