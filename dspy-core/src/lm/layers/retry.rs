//! Retries with exponential backoff and full jitter, honouring `Retry-After`.

use crate::lm::{
    BoxFuture, Capabilities, ChunkStream, EmbedRequest, EmbedResponse, LanguageModel, LmRequest,
    LmResponse, generate,
};
use crate::{Error, Result};
use futures_util::StreamExt;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Time as the layers see it: now, and waiting. The default is tokio's clock; tests plug in a
/// clock that records the waits asked for and returns at once, so nothing sleeps for real.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The real clock: `Instant::now` and `tokio::time::sleep`.
///
/// ```
/// use dspy_core::lm::{Clock, TokioClock};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// TokioClock.sleep(std::time::Duration::from_millis(1)).await;
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// When and how often to retry a failed call.
///
/// Retried: [`LmErrorKind::RateLimited`](crate::LmErrorKind::RateLimited), `Timeout` and
/// `Server` (HTTP 429, 5xx, timeouts, refused or dropped connections), as
/// [`Error::is_retryable`] says. Never retried: other 4xx (bad request, auth, context window),
/// budget and parse errors.
///
/// The wait before retry `k` (from 0) is a uniform random time in
/// `[0, min(max_delay, base_delay * 2^k)]` ("full jitter", which spreads clients that failed
/// together), unless the provider sent `Retry-After`: then exactly that long. A `Retry-After`
/// longer than `max_retry_after` is not waited out: the error is returned at once, so a quota
/// reset hours away does not hang a run.
///
/// ```
/// use dspy_core::lm::RetryPolicy;
/// use std::time::Duration;
/// let policy = RetryPolicy::new(5).base_delay(Duration::from_millis(100));
/// assert_eq!(policy.max_retries, 5);
/// // the ceiling of the wait doubles per attempt, up to max_delay
/// assert_eq!(policy.ceiling(0), Duration::from_millis(100));
/// assert_eq!(policy.ceiling(3), Duration::from_millis(800));
/// assert_eq!(policy.ceiling(30), policy.max_delay);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// The ceiling of the first wait (default 0.5 s).
    pub base_delay: Duration,
    /// The largest ceiling (default 30 s).
    pub max_delay: Duration,
    /// The longest `Retry-After` waited out (default 60 s).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `max_retries` retries.
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            ..Default::default()
        }
    }

    /// Sets the ceiling of the first wait.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the largest ceiling.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets the longest `Retry-After` waited out.
    #[must_use]
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// The most the wait before retry `attempt` (from 0) can be, without `Retry-After`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry `attempt` after `error`, or `None` when it must not be retried.
    fn wait(&self, attempt: u32, error: &Error) -> Option<Duration> {
        if attempt >= self.max_retries || !error.is_retryable() {
            return None;
        }
        match error {
            Error::Lm {
                retry_after: Some(wait),
                ..
            } => (*wait <= self.max_retry_after).then_some(*wait),
            _ => Some(self.ceiling(attempt).mul_f64(jitter())),
        }
    }
}

/// A uniform number in `[0, 1)`. Not cryptographic, only spread: std's randomly keyed hasher
/// over a counter, so no RNG crate is needed.
fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static STATE: RandomState = RandomState::new();
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let bits = STATE.with(|s| s.hash_one(n));
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A [`LanguageModel`] that retries its inner model's retryable failures per a
/// [`RetryPolicy`].
///
/// Each attempt is one call to the inner model (the OpenAI backend sends one HTTP request per
/// call and keeps `Retry-After`). When retries run out, the last error is returned, its message
/// saying how many attempts were made. Every retry is a `tracing` event (`dspy.lm.retry`) in the
/// current span.
///
/// ```
/// use dspy_core::lm::{DummyLm, LanguageModel, RetryLayer, RetryPolicy};
/// use std::sync::Arc;
/// let layer = RetryLayer::new(Arc::new(DummyLm::new([])), RetryPolicy::new(2));
/// assert_eq!(layer.model(), "dummy");
/// ```
pub struct RetryLayer {
    inner: Arc<dyn LanguageModel>,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl RetryLayer {
    /// Retries `inner` per `policy`, waiting on the real clock.
    pub fn new(inner: Arc<dyn LanguageModel>, policy: RetryPolicy) -> Self {
        RetryLayer {
            inner,
            policy,
            clock: Arc::new(TokioClock),
        }
    }

    /// Waits on `clock` instead (tests record the waits instead of sleeping).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    async fn run(&self, request: LmRequest) -> Result<LmResponse> {
        self.retrying(|| self.inner.complete(request.clone())).await
    }

    /// Runs `attempt` until it succeeds, fails for good or the retries run out.
    async fn retrying<T, Fut>(&self, attempt: impl Fn() -> Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut retries = 0u32;
        loop {
            let error = match attempt().await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            let Some(wait) = self.policy.wait(retries, &error) else {
                return Err(gave_up(error, retries));
            };
            tracing::debug!(
                name: "dspy.lm.retry",
                model = self.inner.model(),
                attempt = retries + 1,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "retrying a failed LM call"
            );
            self.clock.sleep(wait).await;
            retries += 1;
        }
    }

    /// Retries a stream only while it has yielded nothing: a failure as its first item is
    /// retried as a failed call is; once a chunk is out, the rest (a failure included) is
    /// passed on as it comes, since the reader has already seen part of the answer.
    fn run_stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            let mut attempt = 0u32;
            loop {
                let mut inner = self.inner.stream(request.clone());
                let error = match inner.next().await {
                    None => return,
                    Some(Err(error)) => error,
                    Some(first) => {
                        y.send(first).await;
                        while let Some(item) = inner.next().await {
                            y.send(item).await;
                        }
                        return;
                    }
                };
                drop(inner);
                let Some(wait) = self.policy.wait(attempt, &error) else {
                    return y.send(Err(gave_up(error, attempt))).await;
                };
                tracing::debug!(
                    name: "dspy.lm.retry",
                    model = self.inner.model(),
                    attempt = attempt + 1,
                    wait_ms = wait.as_millis() as u64,
                    error = %error,
                    "retrying a failed LM stream before its first chunk"
                );
                self.clock.sleep(wait).await;
                attempt += 1;
            }
        }))
    }
}

/// Says in the message how many attempts were made, when there was more than one.
fn gave_up(error: Error, retries: u32) -> Error {
    match error {
        Error::Lm {
            kind,
            message,
            retry_after,
            source,
        } if retries > 0 => Error::Lm {
            kind,
            message: format!("{message} (gave up after {} attempts)", retries + 1),
            retry_after,
            source,
        },
        other => other,
    }
}

impl LanguageModel for RetryLayer {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn endpoint(&self) -> Option<&str> {
        self.inner.endpoint()
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>> {
        Box::pin(self.run(request))
    }

    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        self.run_stream(request)
    }

    fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse>> {
        Box::pin(async move { self.retrying(|| self.inner.embed(request.clone())).await })
    }
}

impl fmt::Debug for RetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("policy", &self.policy)
            .field("inner", &self.inner)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LmErrorKind;

    #[test]
    fn waits_follow_the_policy() {
        let policy = RetryPolicy::new(3)
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(250));
        let server = Error::lm(LmErrorKind::Server, "boom");
        for attempt in 0..3 {
            let wait = policy.wait(attempt, &server).unwrap();
            assert!(wait <= policy.ceiling(attempt), "{attempt}: {wait:?}");
        }
        assert_eq!(policy.ceiling(2), Duration::from_millis(250));
        assert_eq!(policy.wait(3, &server), None, "retries ran out");
        assert_eq!(
            policy.wait(0, &Error::lm(LmErrorKind::BadRequest, "no")),
            None
        );
        assert_eq!(policy.wait(0, &Error::Budget("spent".into())), None);

        let limited = |secs| Error::Lm {
            kind: LmErrorKind::RateLimited,
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(secs)),
            source: None,
        };
        assert_eq!(policy.wait(0, &limited(7)), Some(Duration::from_secs(7)));
        assert_eq!(policy.wait(0, &limited(3600)), None, "too long to wait");
    }

    #[test]
    fn jitter_spreads_over_the_unit_interval() {
        let samples: Vec<f64> = (0..1000).map(|_| jitter()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        let low = samples.iter().filter(|x| **x < 0.5).count();
        assert!((350..650).contains(&low), "{low} of 1000 below 0.5");
    }

    #[test]
    fn ceiling_never_overflows() {
        let policy = RetryPolicy::new(100).max_delay(Duration::MAX);
        assert!(policy.ceiling(99) > Duration::from_secs(1));
    }
}
