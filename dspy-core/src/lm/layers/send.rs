//! The bottom of the stack: counts every request as it goes to the backend, and holds the
//! budget's call limit there, under the retries.

use super::meter::Meter;
use crate::Result;
use crate::lm::{
    BoxFuture, Capabilities, ChunkStream, EmbedRequest, EmbedResponse, LanguageModel, LmRequest,
    LmResponse, generate,
};
use futures_util::StreamExt;
use std::fmt;
use std::sync::Arc;

/// Counts each request sent to the backend in its LM's usage (and every open
/// [`track_usage`](super::track_usage) scope) the moment it is sent, and refuses one that
/// would pass the [`Budget`](super::Budget)'s call limit. [`LmBuilder`](crate::lm::LmBuilder)
/// puts it right above the backend, so retries and calls dropped mid-flight count.
pub(crate) struct SendLayer {
    inner: Arc<dyn LanguageModel>,
    meter: Arc<Meter>,
}

impl SendLayer {
    pub(crate) fn new(inner: Arc<dyn LanguageModel>, meter: Arc<Meter>) -> Self {
        SendLayer { inner, meter }
    }
}

impl LanguageModel for SendLayer {
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
        Box::pin(async move {
            self.meter.send(self.inner.model())?;
            self.inner.complete(request).await
        })
    }

    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            if let Err(error) = self.meter.send(self.inner.model()) {
                return y.send(Err(error)).await;
            }
            let mut inner = self.inner.stream(request);
            while let Some(item) = inner.next().await {
                y.send(item).await;
            }
        }))
    }

    fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse>> {
        Box::pin(async move {
            self.meter.send(self.inner.model())?;
            self.inner.embed(request).await
        })
    }
}

impl fmt::Debug for SendLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Transparent: it is bookkeeping, not behaviour.
        fmt::Debug::fmt(&self.inner, f)
    }
}
