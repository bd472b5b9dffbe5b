//! The [`LanguageModel`] trait: what every backend (and every layer over one) implements.

use super::stream::{ChunkStream, generate, response_stream};
use super::{Capabilities, EmbedRequest, EmbedResponse, LmRequest, LmResponse};
use crate::{Error, Result};
use futures_util::StreamExt;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future, as object-safe traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A language model backend: one request in, one response out.
///
/// Object-safe, so any backend (an HTTP API, the local model, a test double, a caching layer
/// around another backend) sits behind an [`LM`](super::LM).
///
/// ```
/// use dspy_core::lm::{BoxFuture, Choice, LanguageModel, LmRequest, LmResponse, LM};
///
/// #[derive(Debug)]
/// struct Echo;
/// impl LanguageModel for Echo {
///     fn model(&self) -> &str { "echo" }
///     fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
///         Box::pin(async move {
///             Ok(LmResponse { choices: vec![Choice::new(request.prompt.to_text())], ..Default::default() })
///         })
///     }
/// }
/// let lm = LM::new(Echo);
/// assert_eq!(lm.model(), "echo");
/// ```
pub trait LanguageModel: Send + Sync + fmt::Debug {
    /// The model's name, as shown in traces and saved in histories.
    fn model(&self) -> &str;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Where the model is served, without credentials (e.g.
    /// `https://api.openai.com/v1/chat/completions`); `None` for in-process backends. The cache
    /// keys on it, so the same model name on another server is not answered from the cache.
    /// Layers pass their inner model's on.
    fn endpoint(&self) -> Option<&str> {
        None
    }

    /// Runs one request.
    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>>;

    /// Turns texts into vectors, one per text in order, all of one length.
    ///
    /// Backends that embed override it (the OpenAI-compatible backend calls `/embeddings`
    /// with its model; the embedded model pools its hidden states); the layers pass it on
    /// with their cache, limits and retries. The default refuses, naming the model.
    fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse>> {
        let _ = request;
        let message = format!(
            "`{}` cannot embed texts: give an embedding model (say LM::openai(\"text-embedding-3-small\"), \
             an OpenAI-compatible server's embedding model, or LM::local())",
            self.model()
        );
        Box::pin(async move { Err(Error::config(message)) })
    }

    /// Runs one request, yielding the text as it is generated: [`LmChunk::Delta`](super::LmChunk::Delta)s of the
    /// first choice, then [`LmChunk::Done`](super::LmChunk::Done) with the whole response (or an `Err`, and nothing
    /// after it).
    ///
    /// The default runs [`complete`](Self::complete) and yields its text as one delta, so every
    /// backend streams, if not incrementally; backends that can stream for real override it.
    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            match self.complete(request).await {
                Ok(response) => {
                    let mut whole = response_stream(response);
                    while let Some(item) = whole.next().await {
                        y.send(item).await;
                    }
                }
                Err(error) => y.send(Err(error)).await,
            }
        }))
    }
}
