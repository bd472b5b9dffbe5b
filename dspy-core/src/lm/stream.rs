//! Streamed completions: the chunk type every backend yields, and the small async-generator
//! helper the backends and layers are written with.

use super::LmResponse;
use crate::Result;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// One item of a streamed completion.
///
/// A stream yields [`Delta`](LmChunk::Delta)s, then exactly one [`Done`](LmChunk::Done) and
/// nothing after it; or, when the call fails, an `Err` and nothing after it.
#[derive(Debug, Clone, PartialEq)]
pub enum LmChunk {
    /// Text appended to the first choice, as it arrives.
    Delta(String),
    /// The whole response, as [`LanguageModel::complete`](super::LanguageModel::complete) would
    /// have returned it (every choice, usage, model): the last item of a stream. Its first
    /// choice's text is the concatenation of the deltas.
    Done(LmResponse),
}

/// A boxed, sendable stream of [`LmChunk`]s, as [`LanguageModel::stream`](super::LanguageModel::stream)
/// returns. Read it with `futures_util::StreamExt::next` (or `tokio_stream`'s).
pub type ChunkStream<'a> = Pin<Box<dyn Stream<Item = Result<LmChunk>> + Send + 'a>>;

/// A finished response as a stream: its first choice's text as one delta (none when empty),
/// then the response. What backends without real streaming yield, and how a cache hit streams.
///
/// ```
/// use dspy_core::lm::{Choice, LmChunk, LmResponse, response_stream};
/// use futures_util::StreamExt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let response = LmResponse { choices: vec![Choice::new("Paris")], ..Default::default() };
/// let chunks: Vec<_> = response_stream(response.clone()).map(Result::unwrap).collect().await;
/// assert_eq!(chunks, [LmChunk::Delta("Paris".into()), LmChunk::Done(response)]);
/// # });
/// ```
pub fn response_stream(response: LmResponse) -> ChunkStream<'static> {
    let delta = response
        .choices
        .first()
        .map(|c| c.text.clone())
        .filter(|t| !t.is_empty())
        .map(|t| Ok(LmChunk::Delta(t)));
    let done = Ok(LmChunk::Done(response));
    Box::pin(futures_util::stream::iter(delta.into_iter().chain([done])))
}

/// Hands values from a generator's body to its stream; see [`generate`].
pub(crate) struct Yielder<T> {
    slot: Arc<Mutex<Option<T>>>,
}

impl<T> Yielder<T> {
    /// Yields `value` to the stream's reader; the body resumes when the reader asks for more.
    /// `&mut self` keeps a body from yielding twice without waiting in between.
    pub(crate) fn send(&mut self, value: T) -> impl Future<Output = ()> + Send + '_ {
        *lock(&self.slot) = Some(value);
        Suspend { yielded: false }
    }
}

/// Pending once, then ready: hands control back to [`Generator::poll_next`], which finds the
/// value in the slot and returns it. No waker is needed: the reader polls again for the next
/// item.
struct Suspend {
    yielded: bool,
}

impl Future for Suspend {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            Poll::Pending
        }
    }
}

/// A stream driven by an async body that yields values through a [`Yielder`]. The body runs
/// only while the stream is polled, in the reader's task, so task-locals (the LM in
/// [`with_lm`](super::with_lm), usage scopes, traces) and tracing spans hold inside it.
pub(crate) struct Generator<'a, T> {
    slot: Arc<Mutex<Option<T>>>,
    body: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
}

/// Turns an async body into a stream: each `yielder.send(value).await` in `body` is one item;
/// the stream ends when the body returns. Written this way, backends and layers read as plain
/// async code (`while let Some(chunk) = inner.next().await { ... }`) with no channel or task.
pub(crate) fn generate<'a, T, F, Fut>(body: F) -> Generator<'a, T>
where
    T: Send + 'a,
    F: FnOnce(Yielder<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'a,
{
    let slot = Arc::new(Mutex::new(None));
    let yielder = Yielder { slot: slot.clone() };
    Generator {
        slot,
        body: Some(Box::pin(body(yielder))),
    }
}

impl<T> Stream for Generator<'_, T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let finished = body.as_mut().poll(cx).is_ready();
        if finished {
            self.body = None;
        }
        match lock(&self.slot).take() {
            Some(value) => Poll::Ready(Some(value)),
            None if finished => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

fn lock<T>(slot: &Mutex<Option<T>>) -> std::sync::MutexGuard<'_, Option<T>> {
    // The slot holds a plain value between two polls; a panic elsewhere leaves it whole.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn generator_yields_in_order_and_ends() {
        let items: Vec<u32> = generate(|mut y| async move {
            for i in 0..3 {
                y.send(i).await;
                tokio::task::yield_now().await;
            }
        })
        .collect()
        .await;
        assert_eq!(items, [0, 1, 2]);
    }

    #[tokio::test]
    async fn generator_body_runs_only_when_polled() {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let log = ran.clone();
        let mut stream = generate(|mut y| async move {
            log.lock().unwrap().push("start");
            y.send(1).await;
            log.lock().unwrap().push("after first");
            y.send(2).await;
            log.lock().unwrap().push("end");
        });
        assert!(ran.lock().unwrap().is_empty());
        assert_eq!(stream.next().await, Some(1));
        assert_eq!(*ran.lock().unwrap(), ["start"]);
        assert_eq!(stream.next().await, Some(2));
        assert_eq!(stream.next().await, None);
        assert_eq!(*ran.lock().unwrap(), ["start", "after first", "end"]);
        assert_eq!(stream.next().await, None, "stays ended");
    }

    #[tokio::test]
    async fn empty_response_streams_only_done() {
        let chunks: Vec<_> = response_stream(LmResponse::default()).collect().await;
        assert_eq!(chunks.len(), 1);
        assert!(matches!(chunks[0], Ok(LmChunk::Done(_))));
    }
}
