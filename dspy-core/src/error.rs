//! The one error type of dspy, with variants a caller can act on.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in dspy.
///
/// Each variant carries what a caller needs to act on it, and its message says what to do next.
///
/// ```
/// use dspy_core::{Error, LmErrorKind};
/// let err = Error::lm(LmErrorKind::RateLimited, "slow down");
/// assert!(err.is_retryable());
/// assert!(err.to_string().contains("rate limited"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The language model call failed.
    #[error("LM call failed ({kind}): {message}{}", kind.advice())]
    Lm {
        /// What kind of failure, so callers can decide to retry.
        kind: LmErrorKind,
        /// The provider's message (never contains the API key).
        message: String,
        /// How long the provider asked us to wait, when it said (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The LM answered, but its answer could not be turned into the signature's output.
    #[error(
        "could not parse output field `{field}` from the LM's answer ({}); raw completion: {}",
        tried.join("; "),
        snippet(raw)
    )]
    Parse {
        /// The output field that failed (or `*` when the answer as a whole was unusable).
        field: String,
        /// The raw completion, as the LM returned it.
        raw: String,
        /// What was attempted, in order, so the failure can be understood.
        tried: Vec<String>,
    },
    /// Something is missing or inconsistent in the configuration.
    #[error("configuration error: {0}")]
    Config(String),
    /// A data file could not be read into typed examples.
    #[error("{}: {message}", location(file, *line))]
    Data {
        /// The file being read.
        file: PathBuf,
        /// 1-based line (JSONL, CSV) where the problem is, when known.
        line: Option<usize>,
        /// What is wrong, naming the field when there is one.
        message: String,
    },
    /// Saved program state does not fit the program it is loaded into.
    #[error("saved state does not match the program: {0}")]
    State(String),
    /// A budget (calls, tokens or cost) ran out; work done so far is kept.
    #[error("budget exhausted: {0}; raise the budget or resume to continue")]
    Budget(String),
    /// An evaluation stopped because more examples failed than its `max_errors` allows.
    #[error(
        "stopped after {errors} failed examples (more than max_errors allows); the last failure: {last}. \
         Fix its cause, or raise max_errors"
    )]
    TooManyErrors {
        /// How many examples had failed.
        errors: usize,
        /// The failure that crossed the limit.
        last: Box<Error>,
    },
    /// Two evaluation reports cannot be compared example by example: their dev sets differ
    /// (a reordered dev set pairs fine).
    #[error(
        "cannot compare the reports: their dev sets differ ({} examples only in the first, {} only in \
         the second; {sample}). Compare reports of the same dev set, or pair examples by an id field \
         both have (Comparer::id_field)",
        only_in_first.len(),
        only_in_second.len()
    )]
    DevSetMismatch {
        /// Ids of the first report's examples the second report lacks.
        only_in_first: Vec<String>,
        /// Ids of the second report's examples the first report lacks.
        only_in_second: Vec<String>,
        /// A few of the unpaired examples, cut to one line each.
        sample: String,
    },
    /// A serialization problem inside dspy (a bug or an unsupported type).
    #[error("serialization error: {0}")]
    Serde(#[from] serde_json::Error),
}

/// The kind of an [`Error::Lm`], so callers (and the retry layer) can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LmErrorKind {
    /// HTTP 429 or a provider's rate-limit error: retry later.
    RateLimited,
    /// The prompt plus completion do not fit the model's context window.
    ContextWindowExceeded,
    /// Missing or wrong API key, or no permission for the model.
    Auth,
    /// The request timed out.
    Timeout,
    /// The provider failed (HTTP 5xx, dropped connection).
    Server,
    /// The provider rejected the request (other HTTP 4xx).
    BadRequest,
    /// The backend itself failed (e.g. the local model could not run).
    Backend,
}

impl LmErrorKind {
    fn advice(self) -> &'static str {
        match self {
            LmErrorKind::RateLimited => "; wait and retry, or lower the concurrency",
            LmErrorKind::ContextWindowExceeded => {
                "; use fewer or shorter demos, or a model with a longer context"
            }
            LmErrorKind::Auth => "; check the API key (OPENAI_API_KEY) and the model name",
            LmErrorKind::Timeout => "; retry, or raise the request timeout",
            LmErrorKind::Server => "; the provider failed, retry later",
            LmErrorKind::BadRequest => "; check the model name and request parameters",
            LmErrorKind::Backend => "",
        }
    }
}

impl fmt::Display for LmErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LmErrorKind::RateLimited => "rate limited",
            LmErrorKind::ContextWindowExceeded => "context window exceeded",
            LmErrorKind::Auth => "authentication",
            LmErrorKind::Timeout => "timeout",
            LmErrorKind::Server => "server error",
            LmErrorKind::BadRequest => "bad request",
            LmErrorKind::Backend => "backend error",
        })
    }
}

impl Error {
    /// An [`Error::Lm`] of the given kind.
    pub fn lm(kind: LmErrorKind, message: impl Into<String>) -> Self {
        Error::Lm {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// An [`Error::Config`].
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    /// Whether retrying the same request may succeed (rate limits, timeouts, server errors).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Lm {
                kind: LmErrorKind::RateLimited | LmErrorKind::Timeout | LmErrorKind::Server,
                ..
            }
        )
    }
}

fn location(file: &std::path::Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", file.display()),
        None => file.display().to_string(),
    }
}

/// Long completions are cut in messages; the full text stays in the `raw` field.
fn snippet(raw: &str) -> String {
    const MAX: usize = 400;
    if raw.is_empty() {
        return "<empty>".to_string();
    }
    if raw.len() <= MAX {
        return format!("{raw:?}");
    }
    let mut end = MAX;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes in all)", &raw[..end], raw.len())
}
