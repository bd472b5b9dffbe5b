//! Similarity by embeddings: the `Embedder` trait, cosine ranking, and an OpenAI-compatible
//! embedder.

use super::bm25::top_k;
use super::{NeighborIndex, Similarity};
use dspy_core::lm::BoxFuture;
use dspy_core::{Error, LmErrorKind, Result};
use std::sync::Arc;

/// Turns texts into vectors (an embedding model).
///
/// ```
/// use dspy_core::lm::BoxFuture;
/// use dspy_optimize::Embedder;
///
/// /// Counts of a few letters: a stand-in model for tests.
/// struct Letters;
/// impl Embedder for Letters {
///     fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy_core::Result<Vec<Vec<f32>>>> {
///         let vectors = texts.iter()
///             .map(|t| "aeiou".chars().map(|c| t.matches(c).count() as f32).collect())
///             .collect();
///         Box::pin(async move { Ok(vectors) })
///     }
/// }
/// ```
pub trait Embedder: Send + Sync {
    /// One vector per text, in order, all of the same length.
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>>;
}

impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
        (**self).embed(texts)
    }
}

/// Similarity as the cosine of embedding vectors from an [`Embedder`]: the training examples
/// are embedded once when compiling (in batches), each query when it comes.
///
/// ```
/// # use dspy_core::lm::BoxFuture;
/// use dspy_optimize::{Embedder, Embeddings, Similarity};
/// # struct Letters;
/// # impl Embedder for Letters {
/// #     fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy_core::Result<Vec<Vec<f32>>>> {
/// #         let v = texts.iter().map(|t| "aeiou".chars().map(|c| t.matches(c).count() as f32).collect()).collect();
/// #         Box::pin(async move { Ok(v) })
/// #     }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let index = Embeddings::new(Letters).index(vec!["aaa".into(), "ooo".into()]).await.unwrap();
/// assert_eq!(index.nearest("oh no", 1).await.unwrap(), [1]);
/// # });
/// ```
#[derive(Debug)]
pub struct Embeddings<E> {
    embedder: Arc<E>,
    batch_size: usize,
}

impl<E> Clone for Embeddings<E> {
    fn clone(&self) -> Self {
        Embeddings {
            embedder: self.embedder.clone(),
            batch_size: self.batch_size,
        }
    }
}

impl<E: Embedder + 'static> Embeddings<E> {
    /// Cosine similarity of `embedder`'s vectors, embedding 256 texts per request.
    pub fn new(embedder: E) -> Self {
        Embeddings {
            embedder: Arc::new(embedder),
            batch_size: 256,
        }
    }

    /// Texts per embedding request when indexing.
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }
}

impl<E: Embedder + 'static> Similarity for Embeddings<E> {
    fn name(&self) -> String {
        "embeddings".into()
    }

    fn index<'a>(
        &'a self,
        documents: Vec<String>,
    ) -> BoxFuture<'a, Result<Arc<dyn NeighborIndex>>> {
        Box::pin(async move {
            let mut vectors = Vec::with_capacity(documents.len());
            for batch in documents.chunks(self.batch_size) {
                let embedded = self.embedder.embed(batch).await?;
                check_count(embedded.len(), batch.len())?;
                vectors.extend(embedded.into_iter().map(normalized));
            }
            if let Some(first) = vectors.first() {
                let dim = first.len();
                if let Some(bad) = vectors.iter().position(|v| v.len() != dim) {
                    return Err(Error::lm(
                        LmErrorKind::Backend,
                        format!(
                            "the embedder gave vectors of different lengths ({dim} for the first text, {} for text {bad}); \
                             use one embedding model for every text",
                            vectors[bad].len()
                        ),
                    ));
                }
            }
            let index: Arc<dyn NeighborIndex> = Arc::new(EmbeddingIndex {
                embedder: self.embedder.clone(),
                vectors,
            });
            Ok(index)
        })
    }
}

fn check_count(got: usize, asked: usize) -> Result<()> {
    if got == asked {
        return Ok(());
    }
    Err(Error::lm(
        LmErrorKind::Backend,
        format!(
            "the embedder returned {got} vectors for {asked} texts; it must return one per text"
        ),
    ))
}

/// `v` scaled to length 1 (a zero vector stays zero).
fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

struct EmbeddingIndex<E> {
    embedder: Arc<E>,
    /// Unit vectors, one per document.
    vectors: Vec<Vec<f32>>,
}

impl<E: Embedder> NeighborIndex for EmbeddingIndex<E> {
    fn nearest<'a>(&'a self, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<usize>>> {
        Box::pin(async move {
            let texts = [query.to_string()];
            let mut embedded = self.embedder.embed(&texts).await?;
            check_count(embedded.len(), 1)?;
            let query = normalized(embedded.swap_remove(0));
            if let Some(doc) = self.vectors.first().filter(|d| d.len() != query.len()) {
                return Err(Error::lm(
                    LmErrorKind::Backend,
                    format!(
                        "the query's embedding has {} dimensions, the training examples' {}; use one embedding model for both",
                        query.len(),
                        doc.len()
                    ),
                ));
            }
            let scores: Vec<f64> = self
                .vectors
                .iter()
                .map(|doc| doc.iter().zip(&query).map(|(a, b)| (a * b) as f64).sum())
                .collect();
            Ok(top_k(&scores, k))
        })
    }
}

#[cfg(feature = "openai")]
pub use openai::OpenAiEmbedder;

#[cfg(feature = "openai")]
mod openai {
    use super::Embedder;
    use dspy_core::lm::BoxFuture;
    use dspy_core::{Error, LmErrorKind, Result};
    use serde::Deserialize;
    use std::fmt;
    use std::time::Duration;

    /// Embeddings from an OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM, Ollama,
    /// llama.cpp server, ...).
    ///
    /// ```no_run
    /// use dspy_optimize::{Embeddings, KNNFewShot, OpenAiEmbedder};
    /// // OPENAI_API_KEY (and OPENAI_BASE_URL for another server) from the environment:
    /// let knn = KNNFewShot::new(8, Embeddings::new(OpenAiEmbedder::from_env("text-embedding-3-small")));
    /// // or explicitly, e.g. a local server:
    /// let local = OpenAiEmbedder::new("nomic-embed-text").base_url("http://localhost:11434/v1");
    /// # let _ = (knn, local);
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
    pub struct OpenAiEmbedder {
        client: std::result::Result<reqwest::Client, String>,
        base_url: String,
        api_key: Option<String>,
        model: String,
        dimensions: Option<u32>,
    }

    /// OpenAI's API root.
    const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

    impl OpenAiEmbedder {
        /// Embeddings by `model` from OpenAI's API, with no key (set one with
        /// [`api_key`](Self::api_key)).
        pub fn new(model: impl Into<String>) -> Self {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| e.to_string());
            OpenAiEmbedder {
                client,
                base_url: OPENAI_BASE_URL.into(),
                api_key: None,
                model: model.into(),
                dimensions: None,
            }
        }

        /// As [`new`](Self::new), with `OPENAI_BASE_URL` and `OPENAI_API_KEY` from the
        /// environment when set (the variables [`LM::from_env`](dspy_core::LM::from_env) reads).
        pub fn from_env(model: impl Into<String>) -> Self {
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
            let mut embedder = Self::new(model);
            if let Some(base) = var("OPENAI_BASE_URL") {
                embedder = embedder.base_url(base);
            }
            if let Some(key) = var("OPENAI_API_KEY") {
                embedder = embedder.api_key(key);
            }
            embedder
        }

        /// The API root, e.g. `http://localhost:8000/v1`.
        #[must_use]
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.base_url = url.into().trim_end_matches('/').to_string();
            self
        }

        /// The API key, sent as a bearer token.
        #[must_use]
        pub fn api_key(mut self, key: impl Into<String>) -> Self {
            self.api_key = Some(key.into());
            self
        }

        /// Asks for vectors of `n` dimensions (models that support it).
        #[must_use]
        pub fn dimensions(mut self, n: u32) -> Self {
            self.dimensions = Some(n);
            self
        }

        async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
            let client = self.client.as_ref().map_err(|e| {
                Error::config(format!(
                    "could not build the HTTP client for embeddings: {e}"
                ))
            })?;
            let mut body = serde_json::json!({ "model": self.model, "input": texts });
            if let Some(n) = self.dimensions {
                body["dimensions"] = n.into();
            }
            let mut request = client
                .post(format!("{}/embeddings", self.base_url))
                .json(&body);
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key);
            }
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            let bytes = response.bytes().await.map_err(transport_error)?;
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes);
                // The body's first 300 characters, on one line.
                let snippet = dspy_core::util::snippet(&text, 301);
                return Err(Error::lm(
                    status_kind(status.as_u16()),
                    format!(
                        "embeddings request to {} failed with HTTP {status}: {snippet}",
                        self.base_url
                    ),
                ));
            }
            let parsed: EmbeddingResponse = serde_json::from_slice(&bytes).map_err(|e| {
                Error::lm(
                    LmErrorKind::BadRequest,
                    format!("the embeddings endpoint answered something that is not an embeddings list ({e}); check OPENAI_BASE_URL"),
                )
            })?;
            let mut data = parsed.data;
            data.sort_by_key(|d| d.index);
            Ok(data.into_iter().map(|d| d.embedding).collect())
        }
    }

    impl Embedder for OpenAiEmbedder {
        fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
            Box::pin(self.request(texts))
        }
    }

    impl fmt::Debug for OpenAiEmbedder {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // Never the key.
            f.debug_struct("OpenAiEmbedder")
                .field("model", &self.model)
                .field("base_url", &self.base_url)
                .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
                .field("dimensions", &self.dimensions)
                .finish()
        }
    }

    #[derive(Deserialize)]
    struct EmbeddingResponse {
        data: Vec<EmbeddingData>,
    }

    #[derive(Deserialize)]
    struct EmbeddingData {
        #[serde(default)]
        index: usize,
        embedding: Vec<f32>,
    }

    fn status_kind(status: u16) -> LmErrorKind {
        match status {
            401 | 403 => LmErrorKind::Auth,
            408 => LmErrorKind::Timeout,
            429 => LmErrorKind::RateLimited,
            500.. => LmErrorKind::Server,
            _ => LmErrorKind::BadRequest,
        }
    }

    fn transport_error(error: reqwest::Error) -> Error {
        let kind = if error.is_timeout() {
            LmErrorKind::Timeout
        } else {
            LmErrorKind::Server
        };
        // reqwest's message names the URL, never the headers (so never the key).
        Error::lm(kind, format!("embeddings request failed: {error}"))
    }
}
