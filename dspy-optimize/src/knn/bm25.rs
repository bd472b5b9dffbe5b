//! BM25 as a [`Similarity`]: dspy-core's index, over the training examples' texts.

use super::{NeighborIndex, Similarity};
use dspy_core::Result;
use dspy_core::lm::BoxFuture;
use dspy_core::retrieve::{Bm25, Bm25Index, Passage};
use serde_json::{Value, json};
use std::sync::Arc;

/// Shared words, rare ones counting more: [`Bm25`]'s ranking (`Bm25::new()` for the usual
/// parameters), no model needed.
///
/// ```
/// use dspy_optimize::{Bm25, Similarity};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let docs = ["the capital of France", "the tallest mountain", "capital cities of Europe"];
/// let index = Bm25::new().index(docs.iter().map(|d| d.to_string()).collect()).await.unwrap();
/// assert_eq!(index.nearest("which mountain is tallest", 1).await.unwrap(), [1]);
/// assert_eq!(index.nearest("capital of France", 2).await.unwrap(), [0, 2]);
/// # });
/// ```
impl Similarity for Bm25 {
    fn name(&self) -> String {
        "BM25".into()
    }

    fn index<'a>(
        &'a self,
        documents: Vec<String>,
    ) -> BoxFuture<'a, Result<Arc<dyn NeighborIndex>>> {
        let passages = documents
            .into_iter()
            .enumerate()
            .map(|(i, text)| Passage::new(i.to_string(), text));
        let index: Arc<dyn NeighborIndex> = Arc::new(self.build(passages));
        Box::pin(std::future::ready(Ok(index)))
    }

    /// `k1` and `b`: a saved KNN program loads only with the same.
    fn settings(&self) -> Value {
        json!({"k1": self.k1, "b": self.b})
    }
}

/// Always `k` documents (or all of them), ties in document order.
impl NeighborIndex for Bm25Index {
    fn nearest<'a>(&'a self, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<usize>>> {
        let nearest = self.rank(query, k).into_iter().map(|(i, _)| i).collect();
        Box::pin(std::future::ready(Ok(nearest)))
    }
}
