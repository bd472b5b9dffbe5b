//! BM25: lexical ranking in memory, no model needed.

use super::rank::top_k;
use super::{Passage, Retriever};
use crate::Result;
use std::collections::HashMap;

/// Okapi BM25's two parameters; [`build`](Bm25::build) makes a [`Bm25Index`] with them.
///
/// A term's weight is `idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`, with Lucene's
/// always-positive `idf = ln(1 + (N − df + 0.5)/(df + 0.5))`, summed over the query's words.
/// Words are lowercase runs of letters and digits.
///
/// ```
/// use dspy_core::retrieve::{Bm25, Passage};
/// let index = Bm25::new().k1(1.2).b(0.5).build([Passage::new("a", "alpha beta"), Passage::new("b", "gamma")]);
/// let best = index.rank("beta", 1);
/// assert_eq!(best[0].0, 0);
/// assert!(best[0].1 > 0.0);
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

    /// The same with term-frequency saturation `k1`.
    #[must_use]
    pub fn k1(mut self, k1: f64) -> Self {
        self.k1 = k1;
        self
    }

    /// The same with length normalization `b` (0 to 1).
    #[must_use]
    pub fn b(mut self, b: f64) -> Self {
        self.b = b;
        self
    }

    /// An index over `passages`, built at once. (Not `index`: that is KNNFewShot's
    /// `Similarity::index`, which BM25 implements too.)
    pub fn build(&self, passages: impl IntoIterator<Item = Passage>) -> Bm25Index {
        let passages: Vec<Passage> = passages.into_iter().collect();
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(passages.len());
        for (doc, passage) in passages.iter().enumerate() {
            let mut counts: HashMap<String, u32> = HashMap::new();
            let mut length = 0usize;
            for word in tokenize(&passage.text) {
                length += 1;
                *counts.entry(word).or_default() += 1;
            }
            lengths.push(length as f64);
            for (word, count) in counts {
                postings.entry(word).or_default().push((doc, count));
            }
        }
        let n = passages.len() as f64;
        let avg_len = if passages.is_empty() {
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
            passages,
            terms,
            lengths,
            avg_len,
        }
    }
}

struct Term {
    idf: f64,
    /// (document, occurrences) for every document with the word.
    docs: Vec<(usize, u32)>,
}

/// An in-memory BM25 index over passages (see [`Bm25`] for the ranking), a [`Retriever`].
///
/// ```
/// use dspy_core::retrieve::{Bm25Index, Retriever};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let index = Bm25Index::from_texts(["the capital of France", "the tallest mountain", "capital cities of Europe"]);
/// let hits = index.search("capital of France", 2).await.unwrap();
/// let ids: Vec<&str> = hits.iter().map(|p| p.id.as_str()).collect();
/// assert_eq!(ids, ["0", "2"]);
/// # });
/// ```
pub struct Bm25Index {
    params: Bm25,
    passages: Vec<Passage>,
    terms: HashMap<String, Term>,
    lengths: Vec<f64>,
    avg_len: f64,
}

impl Bm25Index {
    /// An index over `texts` with the usual parameters; each passage's id is its position
    /// (`"0"`, `"1"`, ...).
    pub fn from_texts<T: Into<String>>(texts: impl IntoIterator<Item = T>) -> Self {
        let passages = texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| Passage::new(i.to_string(), text));
        Bm25::new().build(passages)
    }

    /// An index over `passages` with the usual parameters.
    pub fn from_passages(passages: impl IntoIterator<Item = Passage>) -> Self {
        Bm25::new().build(passages)
    }

    /// The passages indexed, in the order given.
    pub fn passages(&self) -> &[Passage] {
        &self.passages
    }

    /// How many passages it holds.
    pub fn len(&self) -> usize {
        self.passages.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// The positions (in [`passages`](Self::passages)) and scores of the `k` passages that rank
    /// highest for `query`, best first, ties in corpus order. It always gives `k` (or all) of
    /// them, even ones sharing no word with the query (score 0).
    pub fn rank(&self, query: &str, k: usize) -> Vec<(usize, f64)> {
        let scores = self.scores(query);
        top_k(&scores, k)
            .into_iter()
            .map(|i| (i, scores[i]))
            .collect()
    }

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

impl Retriever for Bm25Index {
    async fn search(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        Ok(self
            .rank(query, k)
            .into_iter()
            .map(|(i, score)| self.passages[i].clone().with_score(score as f32))
            .collect())
    }
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("params", &self.params)
            .field("passages", &self.passages.len())
            .field("terms", &self.terms.len())
            .finish()
    }
}

/// Lowercase runs of letters and digits.
fn tokenize(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_words_weigh_more() {
        let index = Bm25Index::from_texts(["a common word", "a common thing", "a rare word"]);
        let scores = index.scores("rare common");
        assert!(scores[2] > scores[0], "{scores:?}");
        assert_eq!(index.rank("rare common", 3)[0].0, 2);
    }

    #[test]
    fn long_documents_are_damped() {
        let long = format!("needle {}", "hay ".repeat(50));
        let index = Bm25Index::from_texts([long.as_str(), "needle hay"]);
        assert_eq!(index.rank("needle", 1)[0].0, 1);
    }

    #[test]
    fn an_empty_index_ranks_nothing() {
        let empty = Bm25Index::from_texts(Vec::<String>::new());
        assert!(empty.rank("anything", 3).is_empty());
        assert!(empty.scores("anything").is_empty());
        assert!(empty.is_empty());
    }
}
