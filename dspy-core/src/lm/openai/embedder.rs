//! `OpenAiEmbedder`: an OpenAI-compatible embedding model as an [`Embedder`], built on first
//! use into an [`LM`] with the production layers.

use super::{OpenAiLm, OpenAiLmBuilder};
use crate::lm::{BoxFuture, CacheConfig, EmbedRequest, Embedder, LM};
use crate::{Error, Result};
use std::fmt;
use std::sync::OnceLock;

/// Embeddings from an OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama,
/// llama.cpp server, ...), for [`VectorIndex`](crate::retrieve::VectorIndex) and `KNNFewShot`.
///
/// It is an [`LM`] on an embedding model ([`LM::openai`] with the model's name is one too),
/// made when it first embeds: retries, the concurrency limit and usage counting apply as to
/// completions, and the key is never shown. Its cache (one entry per text) is in memory unless
/// [`cache`](Self::cache) puts it on disk too, as [`LM::openai`]'s is. What the builder methods
/// lack (no key for OpenAI, a bad URL) is an [`Error::Config`] from that first call.
///
/// ```no_run
/// use dspy_core::lm::OpenAiEmbedder;
/// use dspy_core::retrieve::{Passage, VectorIndex};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // OPENAI_API_KEY (and OPENAI_BASE_URL for another server) from the environment:
/// let embedder = OpenAiEmbedder::from_env("text-embedding-3-small").dimensions(256);
/// let index = VectorIndex::build(embedder, [Passage::new("curl", "transfers data with URLs")]).await?;
/// // or explicitly, e.g. a local server:
/// let local = OpenAiEmbedder::new("nomic-embed-text").base_url("http://localhost:11434/v1");
/// # Ok::<(), dspy_core::Error>(())
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub struct OpenAiEmbedder {
    builder: OpenAiLmBuilder,
    dimensions: Option<u32>,
    cache: CacheConfig,
    /// The LM, or why it could not be made (an [`Error`] is not `Clone`).
    lm: OnceLock<std::result::Result<LM, String>>,
}

impl OpenAiEmbedder {
    /// Embeddings by `model` from OpenAI's API, with no key (set one with
    /// [`api_key`](Self::api_key)).
    pub fn new(model: impl Into<String>) -> Self {
        OpenAiEmbedder {
            builder: OpenAiLm::builder(&model.into()),
            dimensions: None,
            cache: CacheConfig::memory_only(),
            lm: OnceLock::new(),
        }
    }

    /// As [`new`](Self::new), with `OPENAI_BASE_URL` and `OPENAI_API_KEY` (and the organization
    /// and project) from the environment when set, as [`LM::from_env`] reads them.
    pub fn from_env(model: impl Into<String>) -> Self {
        let mut embedder = Self::new(model);
        embedder.builder = embedder.builder.from_env_vars();
        embedder
    }

    /// The API root, e.g. `http://localhost:8000/v1`.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.builder = self.builder.base_url(url);
        self.lm = OnceLock::new();
        self
    }

    /// The API key, sent as a bearer token.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.builder = self.builder.api_key(key);
        self.lm = OnceLock::new();
        self
    }

    /// Caches the vectors as `config` says (default [`CacheConfig::memory_only`]):
    /// `CacheConfig::new()` keeps them on disk, so a corpus is embedded once across runs.
    ///
    /// ```
    /// use dspy_core::lm::{CacheConfig, OpenAiEmbedder};
    /// let embedder = OpenAiEmbedder::new("nomic-embed-text")
    ///     .base_url("http://localhost:11434/v1")
    ///     .cache(CacheConfig::new().with_disk_dir("/tmp/embeddings"));
    /// let lm = embedder.lm().unwrap();
    /// assert_eq!(lm.model(), "nomic-embed-text");
    /// assert!(lm.cache_config().unwrap().disk_dir.is_some());
    /// ```
    #[must_use]
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache = config;
        self.lm = OnceLock::new();
        self
    }

    /// Asks for vectors of `n` dimensions (models that support it).
    #[must_use]
    pub fn dimensions(mut self, n: u32) -> Self {
        self.dimensions = Some(n);
        self
    }

    /// The LM it embeds through (made now if it was not yet): its usage, cache and history.
    pub fn lm(&self) -> Result<&LM> {
        self.lm
            .get_or_init(|| {
                let backend = self.builder.clone().build().map_err(|e| e.to_string())?;
                let layers = LM::builder(backend).with_defaults();
                Ok(layers.cache(self.cache.clone()).build())
            })
            .as_ref()
            .map_err(|message| Error::config(message.clone()))
    }
}

impl Embedder for OpenAiEmbedder {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
        Box::pin(async move {
            let request = EmbedRequest {
                texts: texts.to_vec(),
                dimensions: self.dimensions,
            };
            Ok(self.lm()?.embed(request).await?.vectors)
        })
    }
}

impl fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The builder's Debug redacts the key.
        f.debug_struct("OpenAiEmbedder")
            .field("backend", &self.builder)
            .field("dimensions", &self.dimensions)
            .field("cache", &self.cache)
            .finish()
    }
}
