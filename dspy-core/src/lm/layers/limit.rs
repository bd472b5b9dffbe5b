//! Limits on how hard one LM is pushed: calls in flight, and requests per minute.

use super::retry::{Clock, TokioClock};
use crate::lm::{
    BoxFuture, Capabilities, ChunkStream, EmbedRequest, EmbedResponse, LanguageModel, LmRequest,
    LmResponse, generate,
};
use crate::{Error, LmErrorKind, Result};
use futures_util::StreamExt;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A [`LanguageModel`] that lets at most `max_in_flight` calls into its inner model at once;
/// the others wait their turn (first come, first served).
///
/// Shared by every clone of an [`LM`](crate::LM), so one limit holds for the whole program
/// however many tasks call it.
///
/// ```
/// use dspy_core::lm::{DummyLm, LimitLayer};
/// use std::sync::Arc;
/// let layer = LimitLayer::new(Arc::new(DummyLm::new([])), 8);
/// assert_eq!(layer.max_in_flight(), 8);
/// ```
pub struct LimitLayer {
    inner: Arc<dyn LanguageModel>,
    permits: Semaphore,
    max: usize,
}

impl LimitLayer {
    /// At most `max_in_flight` calls at once (at least 1).
    pub fn new(inner: Arc<dyn LanguageModel>, max_in_flight: usize) -> Self {
        let max = max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        LimitLayer {
            inner,
            permits: Semaphore::new(max),
            max,
        }
    }

    /// The limit.
    pub fn max_in_flight(&self) -> usize {
        self.max
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so this only fails if that changes.
        self.permits.acquire().await.map_err(|_| {
            Error::lm(
                LmErrorKind::Backend,
                "the LM's concurrency limiter was closed",
            )
        })
    }

    async fn run(&self, request: LmRequest) -> Result<LmResponse> {
        let _permit = self.permit().await?;
        self.inner.complete(request).await
    }

    /// A stream holds its slot until it ends (or is dropped).
    fn run_stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            let _permit = match self.permit().await {
                Ok(permit) => permit,
                Err(error) => return y.send(Err(error)).await,
            };
            let mut inner = self.inner.stream(request);
            while let Some(item) = inner.next().await {
                y.send(item).await;
            }
        }))
    }
}

impl LanguageModel for LimitLayer {
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
        Box::pin(async move {
            let _permit = self.permit().await?;
            self.inner.embed(request).await
        })
    }
}

impl fmt::Debug for LimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitLayer")
            .field("max_in_flight", &self.max)
            .field("inner", &self.inner)
            .finish()
    }
}

/// A [`LanguageModel`] that sends at most `rpm` requests per minute to its inner model, spaced
/// evenly (one every `60 s / rpm`): a call that comes early waits for its slot.
///
/// Placed under the retry layer, so retries count against the rate as the provider counts them.
///
/// ```
/// use dspy_core::lm::{DummyLm, RpmLayer};
/// use std::sync::Arc;
/// let layer = RpmLayer::new(Arc::new(DummyLm::new([])), 120);
/// assert_eq!(layer.interval(), std::time::Duration::from_millis(500));
/// ```
pub struct RpmLayer {
    inner: Arc<dyn LanguageModel>,
    interval: Duration,
    /// When the next request may go.
    next: Mutex<Option<Instant>>,
    clock: Arc<dyn Clock>,
}

impl RpmLayer {
    /// At most `rpm` requests per minute (at least 1).
    pub fn new(inner: Arc<dyn LanguageModel>, rpm: u32) -> Self {
        RpmLayer {
            inner,
            interval: Duration::from_secs(60) / rpm.max(1),
            next: Mutex::new(None),
            clock: Arc::new(TokioClock),
        }
    }

    /// Reads time and waits on `clock` instead of the real one.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The spacing between requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Takes the next free slot and returns how long to wait for it.
    fn reserve(&self) -> Duration {
        let now = self.clock.now();
        // A poisoned lock holds a plain instant; keep using it.
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + self.interval);
        slot.saturating_duration_since(now)
    }

    async fn run(&self, request: LmRequest) -> Result<LmResponse> {
        self.wait_for_slot().await;
        self.inner.complete(request).await
    }

    async fn wait_for_slot(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            self.clock.sleep(wait).await;
        }
    }

    /// A stream waits for its slot once, before its request is sent.
    fn run_stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            self.wait_for_slot().await;
            let mut inner = self.inner.stream(request);
            while let Some(item) = inner.next().await {
                y.send(item).await;
            }
        }))
    }
}

impl LanguageModel for RpmLayer {
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
        Box::pin(async move {
            self.wait_for_slot().await;
            self.inner.embed(request).await
        })
    }
}

impl fmt::Debug for RpmLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpmLayer")
            .field("interval", &self.interval)
            .field("inner", &self.inner)
            .finish()
    }
}
