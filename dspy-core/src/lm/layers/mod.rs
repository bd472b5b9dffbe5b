//! Layers that make LM calls cheap, safe and visible. Each is optional; [`LmBuilder`](super::LmBuilder)
//! stacks the ones asked for, and [`LM::from_env`](crate::LM::from_env) turns the usual set on.
//!
//! From the caller down, a call passes through:
//!
//! 1. the [`LM`](crate::LM) handle itself: the `dspy.lm` tracing span, the [`Budget`] check,
//!    usage and cost counters (per LM and per [`track_usage`] scope, cache hits apart) and the
//!    history. These live on the handle rather than in a layer so that every call is counted
//!    exactly once, whatever layers sit below, even on a plain `LM::new(backend)`;
//! 2. [`CacheLayer`]: a hit returns here, costing no slot, no rate and no retry;
//! 3. [`LimitLayer`]: at most N calls in flight; a call keeps its slot while it backs off, so a
//!    struggling server is not handed more work;
//! 4. [`RetryLayer`]: backoff with jitter on rate limits, timeouts and server errors;
//! 5. [`RpmLayer`]: requests per minute, under the retries because the provider counts every
//!    attempt;
//! 6. the send counter: each request counts in the usage (and against the budget's call limit)
//!    the moment it goes out, so retries and calls dropped mid-flight count;
//! 7. the backend.
//!
//! Streamed calls ([`LM::stream`](crate::LM::stream)) pass through the same layers: the budget
//! is checked before the request and usage and history are counted when the stream ends; a
//! cache hit streams as one piece and an answer streamed to its end is stored; the limit holds
//! a slot until the stream ends; retries happen only before the first chunk, since after it the
//! reader has seen part of an answer.
//!
//! Each layer is a [`LanguageModel`](super::LanguageModel) wrapping an
//! `Arc<dyn LanguageModel>`, so they also compose by hand in any order.

mod cache;
#[cfg(feature = "disk-cache")]
mod cache_disk;
mod history;
mod key;
mod limit;
mod lru;
mod meter;
mod retry;
mod send;
mod usage;

pub use cache::{CacheConfig, CacheLayer};
pub(crate) use history::History;
pub use history::{HistoryEntry, format_history};
// Where it was first published; it reads the LM in effect, so it lives with the settings.
pub use super::settings::inspect_history;
pub use key::{canonical_json, embed_key, request_key};
pub use limit::{LimitLayer, RpmLayer};
pub(crate) use meter::{Admission, Meter};
pub use retry::{Clock, RetryLayer, RetryPolicy, TokioClock};
pub(crate) use send::SendLayer;
pub use usage::{Budget, Price, PriceTable, UsageReport, current_usage, track_usage};
