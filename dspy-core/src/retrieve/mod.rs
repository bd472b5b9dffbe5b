//! Retrieval: passages ranked for a query, from an index you build once.
//!
//! A [`Retriever`] answers `search(query, k)` with the `k` best [`Passage`]s, best first. Three
//! come built in:
//!
//! - [`Bm25Index`]: lexical ranking in memory (Okapi BM25), no model needed;
//! - [`VectorIndex`]: exact cosine ranking of embeddings from any
//!   [`Embedder`](crate::lm::Embedder) (an OpenAI-compatible endpoint, the embedded model, or
//!   your own);
//! - `SqliteStore` (feature `sqlite`): a database file on disk, searched with SQLite's FTS5
//!   and the sqlite-vec extension, built once and reopened.
//!
//! The [`Retrieve`](crate::module::Retrieve) module puts any of them in a program, where its
//! calls are traced like predictor calls.
//!
//! ```
//! use dspy_core::retrieve::{Bm25Index, Retriever};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let index = Bm25Index::from_texts([
//!     "curl: a command line tool for transferring data with URL syntax",
//!     "wget: retrieves files from the web",
//!     "rsync: fast, versatile, remote (and local) file-copying tool",
//! ]);
//! let hits = index.search("a remote file copying tool", 2).await.unwrap();
//! assert_eq!(hits[0].id, "2");
//! assert!(hits[0].score > hits[1].score);
//! # });
//! ```

mod bm25;
mod passage;
mod rank;
#[cfg(feature = "sqlite")]
mod sqlite;
mod vector;

pub use bm25::{Bm25, Bm25Index};
pub use passage::Passage;
#[cfg(feature = "sqlite")]
pub use sqlite::{SearchMode, SqliteStore};
pub use vector::VectorIndex;

use crate::Result;
use std::future::Future;
use std::sync::Arc;

/// Finds the passages that best answer a query.
///
/// Implement it to put any search backend (a vector database, a web search API, Postgres) in a
/// program: one method, `k` passages best first, each with its own score (higher is better;
/// scores of different retrievers need not compare).
///
/// ```
/// use dspy_core::retrieve::{Passage, Retriever};
///
/// /// Passages that contain the query, in corpus order.
/// struct Grep(Vec<String>);
///
/// impl Retriever for Grep {
///     async fn search(&self, query: &str, k: usize) -> dspy_core::Result<Vec<Passage>> {
///         Ok(self.0.iter().enumerate()
///             .filter(|(_, text)| text.contains(query))
///             .take(k)
///             .map(|(i, text)| Passage::new(i.to_string(), text.clone()).with_score(1.0))
///             .collect())
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let grep = Grep(vec!["a cat".into(), "a dog".into()]);
/// assert_eq!(grep.search("dog", 3).await.unwrap()[0].id, "1");
/// # });
/// ```
pub trait Retriever: Send + Sync {
    /// The (at most) `k` passages most relevant to `query`, most relevant first.
    fn search(&self, query: &str, k: usize) -> impl Future<Output = Result<Vec<Passage>>> + Send;
}

impl<R: Retriever + ?Sized> Retriever for Arc<R> {
    fn search(&self, query: &str, k: usize) -> impl Future<Output = Result<Vec<Passage>>> + Send {
        (**self).search(query, k)
    }
}

impl<R: Retriever + ?Sized> Retriever for &R {
    fn search(&self, query: &str, k: usize) -> impl Future<Output = Result<Vec<Passage>>> + Send {
        (**self).search(query, k)
    }
}
