//! The one error type of dspy, with variants a caller can act on.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The underlying error an [`Error`] keeps, for [`source()`](std::error::Error::source) chains.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

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
///
/// Errors that come from another error keep it as their
/// [`source`](std::error::Error::source), so error reporters can show the whole chain:
///
/// ```
/// use dspy_core::{Error, LmErrorKind};
/// use std::error::Error as _;
/// let decode = serde_json::from_str::<u32>("nope").unwrap_err();
/// let err = Error::lm_caused_by(LmErrorKind::Server, "the answer is not JSON", decode);
/// assert!(err.source().unwrap().is::<serde_json::Error>());
/// ```
// Display and Error by hand rather than derived: `source()` of `TooManyErrors` must be the last
// failure itself (so it downcasts to `Error`), not the `Box` that holds it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The language model call failed.
    Lm {
        /// What kind of failure, so callers can decide to retry.
        kind: LmErrorKind,
        /// The provider's message (never contains the API key).
        message: String,
        /// How long the provider asked us to wait, when it said (`Retry-After`).
        retry_after: Option<Duration>,
        /// The error underneath, when there is one (the HTTP client's, a JSON decoder's).
        source: Option<Source>,
    },
    /// The LM answered, but its answer could not be turned into the signature's output.
    Parse {
        /// The output field that failed (or `*` when the answer as a whole was unusable).
        field: String,
        /// The raw completion, as the LM returned it.
        raw: String,
        /// What was attempted, in order, so the failure can be understood.
        tried: Vec<String>,
    },
    /// Something is missing or inconsistent in the configuration.
    Config(String),
    /// A data file could not be read into typed examples.
    Data {
        /// The file being read.
        file: PathBuf,
        /// 1-based line (JSONL, CSV) where the problem is, when known.
        line: Option<usize>,
        /// What is wrong, naming the field when there is one.
        message: String,
        /// The error underneath, when there is one (the IO error, the JSON or CSV parser's).
        source: Option<Source>,
    },
    /// Saved program state does not fit the program it is loaded into.
    State(String),
    /// A budget (calls, tokens or cost) ran out; work done so far is kept.
    Budget(String),
    /// An evaluation stopped because more examples failed than its `max_errors` allows.
    TooManyErrors {
        /// How many examples had failed.
        errors: usize,
        /// The failure that crossed the limit (also the error's
        /// [`source`](std::error::Error::source)).
        last: Box<Error>,
    },
    /// Two evaluation reports cannot be compared example by example: their dev sets differ
    /// (a reordered dev set pairs fine).
    DevSetMismatch {
        /// Ids of the first report's examples the second report lacks.
        only_in_first: Vec<String>,
        /// Ids of the second report's examples the first report lacks.
        only_in_second: Vec<String>,
        /// A few of the unpaired examples, cut to one line each.
        sample: String,
    },
    /// A fine-tuning run ended without a model: its job failed, or it was cancelled.
    Finetune {
        /// Whether it failed or was cancelled.
        kind: FinetuneErrorKind,
        /// The provider's job id, when there was a job.
        job: Option<String>,
        /// What the provider (or the trainer) said (never contains the API key).
        message: String,
    },
    /// A serialization problem inside dspy (a bug or an unsupported type).
    Serde(serde_json::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Lm { kind, message, .. } => {
                write!(f, "LM call failed ({kind}): {message}{}", kind.advice())
            }
            Error::Parse { field, raw, tried } => write!(
                f,
                "could not parse output field `{field}` from the LM's answer ({}); raw \
                 completion: {}",
                tried.join("; "),
                snippet(raw)
            ),
            Error::Config(message) => write!(f, "configuration error: {message}"),
            Error::Data {
                file,
                line,
                message,
                ..
            } => write!(f, "{}: {message}", location(file, *line)),
            Error::State(message) => write!(f, "saved state does not match the program: {message}"),
            Error::Budget(message) => write!(
                f,
                "budget exhausted: {message}; raise the budget or resume to continue"
            ),
            Error::TooManyErrors { errors, last } if matches!(**last, Error::Lm { .. }) => write!(
                f,
                "stopped after {errors} examples failed on LM errors (more than max_lm_errors, \
                 default 10, or max_errors allows); the last failure: {last}. Check that the LM \
                 answers, or raise Evaluate::max_lm_errors / max_errors"
            ),
            Error::TooManyErrors { errors, last } => write!(
                f,
                "stopped after {errors} failed examples (more than max_errors allows); the last \
                 failure: {last}. Fix its cause, or raise max_errors"
            ),
            Error::DevSetMismatch {
                only_in_first,
                only_in_second,
                sample,
            } => write!(
                f,
                "cannot compare the reports: their dev sets differ ({} examples only in the first, \
                 {} only in the second; {sample}). Compare reports of the same dev set, or pair \
                 examples by an id field both have (Comparer::id_field)",
                only_in_first.len(),
                only_in_second.len()
            ),
            Error::Finetune { kind, job, message } => {
                let job = job.as_deref().map(|j| format!(" {j}")).unwrap_or_default();
                write!(
                    f,
                    "fine-tuning job{job} {kind}: {message}; {}",
                    kind.advice()
                )
            }
            Error::Serde(e) => write!(f, "serialization error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Lm { source, .. } | Error::Data { source, .. } => {
                source.as_deref().map(|s| s as _)
            }
            Error::TooManyErrors { last, .. } => Some(&**last),
            Error::Serde(e) => Some(e),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Serde(e)
    }
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
    /// The kind an HTTP error status means, before anything the body says: 401 and 403 are
    /// [`Auth`](Self::Auth), 408 [`Timeout`](Self::Timeout), 429
    /// [`RateLimited`](Self::RateLimited), other 4xx [`BadRequest`](Self::BadRequest), and
    /// anything else (5xx, or a status no API answers with) [`Server`](Self::Server).
    ///
    /// Backends refine it from the body (the OpenAI backend reads a 4xx that says the context
    /// is too long as [`ContextWindowExceeded`](Self::ContextWindowExceeded)).
    ///
    /// ```
    /// use dspy_core::LmErrorKind;
    /// assert_eq!(LmErrorKind::from_status(401), LmErrorKind::Auth);
    /// assert_eq!(LmErrorKind::from_status(429), LmErrorKind::RateLimited);
    /// assert_eq!(LmErrorKind::from_status(404), LmErrorKind::BadRequest);
    /// assert_eq!(LmErrorKind::from_status(503), LmErrorKind::Server);
    /// ```
    pub fn from_status(status: u16) -> Self {
        match status {
            401 | 403 => LmErrorKind::Auth,
            408 => LmErrorKind::Timeout,
            429 => LmErrorKind::RateLimited,
            400..=499 => LmErrorKind::BadRequest,
            _ => LmErrorKind::Server,
        }
    }

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

/// Why a fine-tuning run ended without a model ([`Error::Finetune`]).
///
/// ```
/// use dspy_core::{Error, FinetuneErrorKind};
/// let err = Error::Finetune {
///     kind: FinetuneErrorKind::Failed,
///     job: Some("ftjob-1".into()),
///     message: "the provider said: the training file has 2 examples, at least 10 are needed".into(),
/// };
/// let text = err.to_string();
/// assert!(text.starts_with("fine-tuning job ftjob-1 failed: the provider said"), "{text}");
/// assert!(text.contains("run again"), "{text}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FinetuneErrorKind {
    /// The job failed (the provider rejected the data, the base model, the quota...).
    Failed,
    /// The job was cancelled: by this run's cancel token, or by someone else.
    Cancelled,
}

impl FinetuneErrorKind {
    fn advice(self) -> &'static str {
        match self {
            FinetuneErrorKind::Failed => {
                "fix what it names (the training data, the base model, the hyperparameters or \
                 the account's quota) and run again: a failed job is not resumed, the next run \
                 starts a new one"
            }
            FinetuneErrorKind::Cancelled => "nothing was trained; run again to start a new job",
        }
    }
}

impl fmt::Display for FinetuneErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FinetuneErrorKind::Failed => "failed",
            FinetuneErrorKind::Cancelled => "was cancelled",
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
            source: None,
        }
    }

    /// An [`Error::Lm`] of the given kind that `source` caused. Its message should still say
    /// what went wrong: many reports show only the top error.
    pub fn lm_caused_by(
        kind: LmErrorKind,
        message: impl Into<String>,
        source: impl Into<Source>,
    ) -> Self {
        Error::Lm {
            kind,
            message: message.into(),
            retry_after: None,
            source: Some(source.into()),
        }
    }

    /// An [`Error::Data`] about `file` (at `line`, when known).
    pub fn data(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Error::Data {
            file: file.into(),
            line,
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::Data`] that `source` caused (an IO error, a parser's error); the message
    /// should still say what went wrong.
    ///
    /// ```
    /// use dspy_core::Error;
    /// use std::error::Error as _;
    /// let missing = std::fs::read("no/such/file.jsonl").unwrap_err();
    /// let err = Error::data_caused_by("no/such/file.jsonl", None, "cannot read the file", missing);
    /// let io = err.source().unwrap().downcast_ref::<std::io::Error>().unwrap();
    /// assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    /// assert_eq!(err.to_string(), "no/such/file.jsonl: cannot read the file");
    /// ```
    pub fn data_caused_by(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
        source: impl Into<Source>,
    ) -> Self {
        Error::Data {
            file: file.into(),
            line,
            message: message.into(),
            source: Some(source.into()),
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
    if raw.is_empty() {
        return "<empty>".to_string();
    }
    crate::util::quoted_excerpt(raw, 400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn too_many_errors_has_the_last_failure_as_its_source() {
        let err = Error::TooManyErrors {
            errors: 4,
            last: Box::new(Error::Budget("max_calls 10 reached".into())),
        };
        let last = err.source().expect("the last failure is the source");
        let last = last.downcast_ref::<Error>().unwrap();
        assert!(matches!(last, Error::Budget(m) if m == "max_calls 10 reached"));
        assert!(
            last.source().is_none(),
            "the chain ends at the budget error"
        );
    }

    #[test]
    fn lm_errors_have_a_source_only_when_given_one() {
        assert!(Error::lm(LmErrorKind::Server, "down").source().is_none());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let err = Error::lm_caused_by(LmErrorKind::Server, "the connection dropped", io);
        let source = err
            .source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .unwrap();
        assert_eq!(source.kind(), std::io::ErrorKind::ConnectionReset);
        assert!(err.to_string().contains("the connection dropped"), "{err}");
    }
}
