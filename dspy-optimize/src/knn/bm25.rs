//! BM25: lexical similarity, no model needed.

use super::{NeighborIndex, Similarity};
use dspy_core::Result;
use dspy_core::lm::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;

/// Okapi BM25 ranking: documents that share the query's words score higher, rare words
/// counting more than common ones, long documents damped.
///
/// Words are lowercase runs of letters and digits. A term's weight is
/// `idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))` with Lucene's always-positive
/// `idf = ln(1 + (N − df + 0.5)/(df + 0.5))`, summed over the query's words. It always returns
/// `k` documents (or all of them), ties in document order.
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    /// Term-frequency saturation (default 1.5).
    pub k1: f64,
    /// Length normalization, 0 to 1 (default 0.75).
    pub b: f64,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 { k1: 1.5, b: 0.75 }
    }
}

impl Bm25 {
    /// BM25 with the usual parameters (`k1 = 1.5`, `b = 0.75`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The index, built at once.
    fn build(&self, documents: &[String]) -> Bm25Index {
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(documents.len());
        for (doc, text) in documents.iter().enumerate() {
            let words = tokenize(text);
            lengths.push(words.len() as f64);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for word in words {
                *counts.entry(word).or_default() += 1;
            }
            for (word, count) in counts {
                postings.entry(word).or_default().push((doc, count));
            }
        }
        let n = documents.len() as f64;
        let avg_len = if documents.is_empty() {
            1.0
        } else {
            (lengths.iter().sum::<f64>() / n).max(1.0)
        };
        let terms = postings
            .into_iter()
            .map(|(word, docs)| {
                let df = docs.len() as f64;
                let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                (word, Term { idf, docs })
            })
            .collect();
        Bm25Index {
            params: *self,
            terms,
            lengths,
            avg_len,
        }
    }
}

impl Similarity for Bm25 {
    fn name(&self) -> String {
        "BM25".into()
    }

    fn index<'a>(
        &'a self,
        documents: Vec<String>,
    ) -> BoxFuture<'a, Result<Arc<dyn NeighborIndex>>> {
        let index: Arc<dyn NeighborIndex> = Arc::new(self.build(&documents));
        Box::pin(std::future::ready(Ok(index)))
    }
}

struct Term {
    idf: f64,
    /// (document, occurrences) for every document with the word.
    docs: Vec<(usize, u32)>,
}

struct Bm25Index {
    params: Bm25,
    terms: HashMap<String, Term>,
    lengths: Vec<f64>,
    avg_len: f64,
}

impl Bm25Index {
    fn scores(&self, query: &str) -> Vec<f64> {
        let Bm25 { k1, b } = self.params;
        let mut scores = vec![0.0; self.lengths.len()];
        for word in tokenize(query) {
            let Some(term) = self.terms.get(&word) else {
                continue;
            };
            for &(doc, tf) in &term.docs {
                let tf = tf as f64;
                let norm = k1 * (1.0 - b + b * self.lengths[doc] / self.avg_len);
                scores[doc] += term.idf * tf * (k1 + 1.0) / (tf + norm);
            }
        }
        scores
    }
}

impl NeighborIndex for Bm25Index {
    fn nearest<'a>(&'a self, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<usize>>> {
        let scores = self.scores(query);
        Box::pin(std::future::ready(Ok(top_k(&scores, k))))
    }
}

/// The positions of the `k` highest scores, highest first, ties by position.
pub(crate) fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// Lowercase runs of letters and digits.
fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_words_weigh_more() {
        let docs: Vec<String> = ["a common word", "a common thing", "a rare word"]
            .map(String::from)
            .to_vec();
        let index = Bm25::new().build(&docs);
        let scores = index.scores("rare common");
        assert!(scores[2] > scores[0], "{scores:?}");
        assert_eq!(top_k(&scores, 3)[0], 2);
    }

    #[test]
    fn ties_keep_document_order_and_empty_is_fine() {
        assert_eq!(top_k(&[0.0, 1.0, 1.0, 0.0], 3), [1, 2, 0]);
        let empty = Bm25::new().build(&[]);
        assert!(empty.scores("anything").is_empty());
    }
}
