//! Similarity by embeddings: dspy-core's [`VectorIndex`] over any [`Embedder`].

use super::{NeighborIndex, Similarity};
use dspy_core::Result;
use dspy_core::lm::{BoxFuture, Embedder};
use dspy_core::retrieve::{Passage, VectorIndex};
use std::sync::Arc;

/// Similarity as the cosine of embedding vectors from an [`Embedder`] (an [`LM`](dspy_core::LM)
/// on an embedding model, [`OpenAiEmbedder`](dspy_core::lm::OpenAiEmbedder), the embedded
/// model, or your own): the training examples are embedded once when compiling (in batches),
/// each query when it comes.
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
            let passages = documents
                .into_iter()
                .enumerate()
                .map(|(i, text)| Passage::new(i.to_string(), text));
            let index =
                VectorIndex::build_in_batches(self.embedder.clone(), passages, self.batch_size)
                    .await?;
            let index: Arc<dyn NeighborIndex> = Arc::new(index);
            Ok(index)
        })
    }
}

/// The positions of the nearest documents by cosine, ties in document order.
impl<E: Embedder> NeighborIndex for VectorIndex<E> {
    fn nearest<'a>(&'a self, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<usize>>> {
        Box::pin(async move {
            let ranked = self.rank(query, k).await?;
            Ok(ranked.into_iter().map(|(i, _)| i).collect())
        })
    }
}
