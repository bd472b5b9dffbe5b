//! `VectorIndex`: exact cosine search over embeddings, in memory.

use super::rank::top_k;
use super::{Passage, Retriever};
use crate::lm::{Embedder, embed_normalized};
use crate::{Error, LmErrorKind, Result};

/// Passages ranked by the cosine similarity of their embeddings to the query's: every passage
/// is embedded once when the index is built (in batches), each query when it comes. The search
/// is exact (every vector is compared), which takes well under a millisecond per thousand
/// passages of a few hundred dimensions; for millions, put a vector database behind
/// [`Retriever`].
///
/// ```
/// use dspy_core::lm::{BoxFuture, Embedder};
/// use dspy_core::retrieve::{Passage, Retriever, VectorIndex};
/// # struct Vowels;
/// # impl Embedder for Vowels {
/// #     fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy_core::Result<Vec<Vec<f32>>>> {
/// #         let v = texts.iter().map(|t| "aeiou".chars().map(|c| t.matches(c).count() as f32).collect()).collect();
/// #         Box::pin(async move { Ok(v) })
/// #     }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let passages = vec![Passage::new("a", "aaa"), Passage::new("o", "ooo")];
/// let index = VectorIndex::build(Vowels, passages).await.unwrap();
/// assert_eq!(index.search("oh no", 1).await.unwrap()[0].id, "o");
/// # });
/// ```
pub struct VectorIndex<E> {
    embedder: E,
    passages: Vec<Passage>,
    /// Unit vectors, one per passage.
    vectors: Vec<Vec<f32>>,
}

/// Texts per embedding request while building.
const BATCH_SIZE: usize = 256;

impl<E: Embedder> VectorIndex<E> {
    /// Embeds every passage with `embedder` (256 per request) and indexes them.
    pub async fn build(embedder: E, passages: impl IntoIterator<Item = Passage>) -> Result<Self> {
        Self::build_in_batches(embedder, passages, BATCH_SIZE).await
    }

    /// [`build`](Self::build), sending `batch_size` texts per request (for servers that take
    /// fewer, or to see progress sooner).
    ///
    /// ```
    /// # use dspy_core::lm::{BoxFuture, Embedder};
    /// use dspy_core::retrieve::{Passage, VectorIndex};
    /// # struct Length;
    /// # impl Embedder for Length {
    /// #     fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy_core::Result<Vec<Vec<f32>>>> {
    /// #         let v = texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect();
    /// #         Box::pin(async move { Ok(v) })
    /// #     }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let passages = (0..5).map(|i| Passage::new(i.to_string(), "x".repeat(i + 1)));
    /// let index = VectorIndex::build_in_batches(Length, passages, 2).await.unwrap();
    /// assert_eq!(index.passages().len(), 5);
    /// # });
    /// ```
    pub async fn build_in_batches(
        embedder: E,
        passages: impl IntoIterator<Item = Passage>,
        batch_size: usize,
    ) -> Result<Self> {
        let passages: Vec<Passage> = passages.into_iter().collect();
        let texts: Vec<String> = passages.iter().map(|p| p.text.clone()).collect();
        let vectors = embed_normalized(&embedder, &texts, batch_size).await?;
        Ok(VectorIndex {
            embedder,
            passages,
            vectors,
        })
    }

    /// An index of passages embedded already (say, loaded from a file), `vectors[i]` being
    /// `passages[i]`'s; queries are embedded with `embedder`, which must be the same model.
    ///
    /// ```
    /// # use dspy_core::lm::{BoxFuture, Embedder};
    /// use dspy_core::retrieve::{Passage, Retriever, VectorIndex};
    /// # struct Vowels;
    /// # impl Embedder for Vowels {
    /// #     fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy_core::Result<Vec<Vec<f32>>>> {
    /// #         let v = texts.iter().map(|t| "aeiou".chars().map(|c| t.matches(c).count() as f32).collect()).collect();
    /// #         Box::pin(async move { Ok(v) })
    /// #     }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let built = VectorIndex::build(Vowels, [Passage::new("a", "aaa"), Passage::new("o", "ooo")]).await.unwrap();
    /// let (passages, vectors) = (built.passages().to_vec(), built.vectors().to_vec());
    /// // ... saved, and later read back: nothing is embedded again but the queries.
    /// let reopened = VectorIndex::from_vectors(Vowels, passages, vectors).unwrap();
    /// assert_eq!(reopened.search("oh no", 1).await.unwrap()[0].id, "o");
    /// assert!(VectorIndex::from_vectors(Vowels, vec![Passage::new("x", "x")], vec![]).is_err());
    /// # });
    /// ```
    pub fn from_vectors(
        embedder: E,
        passages: Vec<Passage>,
        vectors: Vec<Vec<f32>>,
    ) -> Result<Self> {
        if passages.len() != vectors.len() {
            return Err(Error::config(format!(
                "{} passages but {} vectors: give one vector per passage",
                passages.len(),
                vectors.len()
            )));
        }
        let vectors = vectors.into_iter().map(crate::lm::normalized).collect();
        Ok(VectorIndex {
            embedder,
            passages,
            vectors,
        })
    }

    /// The passages indexed, in the order given.
    pub fn passages(&self) -> &[Passage] {
        &self.passages
    }

    /// The unit vectors of the passages, in the same order.
    pub fn vectors(&self) -> &[Vec<f32>] {
        &self.vectors
    }

    /// The positions and cosine similarities of the `k` passages nearest `query`, best first.
    pub async fn rank(&self, query: &str, k: usize) -> Result<Vec<(usize, f64)>> {
        let texts = [query.to_string()];
        let mut embedded = embed_normalized(&self.embedder, &texts, 1).await?;
        let query = embedded.pop().unwrap_or_default();
        if let Some(doc) = self.vectors.first().filter(|d| d.len() != query.len()) {
            return Err(Error::lm(
                LmErrorKind::Backend,
                format!(
                    "the query's embedding has {} dimensions, the passages' {}; use one embedding \
                     model for both",
                    query.len(),
                    doc.len()
                ),
            ));
        }
        let scores: Vec<f64> = self.vectors.iter().map(|doc| dot(doc, &query)).collect();
        Ok(top_k(&scores, k)
            .into_iter()
            .map(|i| (i, scores[i]))
            .collect())
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x * y) as f64).sum()
}

impl<E: Embedder> Retriever for VectorIndex<E> {
    async fn search(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        Ok(self
            .rank(query, k)
            .await?
            .into_iter()
            .map(|(i, score)| self.passages[i].clone().with_score(score as f32))
            .collect())
    }
}

impl<E> std::fmt::Debug for VectorIndex<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("passages", &self.passages.len())
            .field("dimensions", &self.vectors.first().map_or(0, Vec::len))
            .finish()
    }
}
