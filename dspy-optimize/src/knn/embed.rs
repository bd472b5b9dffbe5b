//! Similarity by embeddings: dspy-core's [`VectorIndex`] over any [`Embedder`].

use super::{NeighborIndex, Similarity};
use dspy_core::lm::{BoxFuture, Embedder};
use dspy_core::retrieve::{Passage, VectorIndex};
use dspy_core::{Error, Result};
use serde_json::{Value, json};
use std::sync::Arc;

/// How close (cosine) the embedder's vector of a saved document must be to the saved one for
/// a saved KNN program to load: the same model gives the same vector, another model a far one.
const SAME_MODEL: f64 = 0.999;

/// Similarity as the cosine of embedding vectors from an [`Embedder`] (an [`LM`](dspy_core::LM)
/// on an embedding model, [`OpenAiEmbedder`](dspy_core::lm::OpenAiEmbedder), the embedded
/// model, or your own): the training examples are embedded once when compiling (in batches),
/// each query when it comes.
///
/// A saved KNN program keeps the training examples' vectors, so loading it embeds nothing but
/// one saved text, to check that the embedder is the one it was compiled with (its vector must
/// be the saved one, to a cosine of 0.999), and then the queries.
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

    /// The saved vectors (no document embedded again), once the embedder is checked on the
    /// first document.
    fn restore<'a>(
        &'a self,
        documents: Vec<String>,
        saved: &'a Value,
    ) -> BoxFuture<'a, Result<Arc<dyn NeighborIndex>>> {
        Box::pin(async move {
            let vectors = decode_vectors(saved)?;
            if let (Some(first), Some(vector)) = (documents.first(), vectors.first()) {
                self.check_model(first, vector).await?;
            }
            let passages = documents
                .into_iter()
                .enumerate()
                .map(|(i, text)| Passage::new(i.to_string(), text))
                .collect();
            let index = VectorIndex::from_vectors(self.embedder.clone(), passages, vectors)?;
            let index: Arc<dyn NeighborIndex> = Arc::new(index);
            Ok(index)
        })
    }
}

impl<E: Embedder + 'static> Embeddings<E> {
    /// Whether the embedder gives `text` the `saved` vector: else the program was compiled with
    /// another embedding model, and its neighbours would be ranked against the wrong vectors.
    async fn check_model(&self, text: &str, saved: &[f32]) -> Result<()> {
        let texts = [text.to_string()];
        let now = self.embedder.embed(&texts).await?;
        let now = now.first().map(Vec::as_slice).unwrap_or_default();
        let cosine = cosine(now, saved);
        if now.len() == saved.len() && cosine >= SAME_MODEL {
            return Ok(());
        }
        Err(Error::State(format!(
            "the embedder does not give the saved vectors (a saved text's vector has {}              dimensions and cosine {cosine:.3} to the saved one of {}): load the KNN program              with the embedding model it was compiled with, or compile it again",
            now.len(),
            saved.len()
        )))
    }
}

/// The cosine of two vectors (0 when their lengths differ or one is zero).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let norms = norm(a) * norm(b);
    if norms > 0.0 { dot / norms } else { 0.0 }
}

/// Vectors as saved: each one a string of its floats' little-endian bytes in hex (8 digits a
/// float), exact and a line each in the saved JSON.
fn encode_vectors(vectors: &[Vec<f32>]) -> Value {
    let encoded: Vec<String> = vectors
        .iter()
        .map(|v| {
            v.iter()
                .flat_map(|x| x.to_le_bytes())
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    json!({ "vectors": encoded })
}

/// The vectors [`encode_vectors`] wrote.
fn decode_vectors(saved: &Value) -> Result<Vec<Vec<f32>>> {
    let bad = |why: &str| {
        Error::State(format!(
            "the saved embeddings index is not readable ({why}); compile the program again and \
             save it"
        ))
    };
    let vectors = saved
        .get("vectors")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `vectors`: was it saved with another similarity?"))?;
    vectors
        .iter()
        .map(|v| {
            let hex = v.as_str().ok_or_else(|| bad("a vector is not a string"))?;
            if hex.len() % 8 != 0 || !hex.is_ascii() {
                return Err(bad("a vector is not a whole number of floats"));
            }
            (0..hex.len())
                .step_by(8)
                .map(|at| {
                    let mut bytes = [0u8; 4];
                    for (i, byte) in bytes.iter_mut().enumerate() {
                        let digits = &hex[at + 2 * i..at + 2 * i + 2];
                        *byte = u8::from_str_radix(digits, 16).map_err(|_| bad("not hex"))?;
                    }
                    Ok(f32::from_le_bytes(bytes))
                })
                .collect()
        })
        .collect()
}

/// The positions of the nearest documents by cosine, ties in document order; saved with its
/// vectors.
impl<E: Embedder> NeighborIndex for VectorIndex<E> {
    fn nearest<'a>(&'a self, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<usize>>> {
        Box::pin(async move {
            let ranked = self.rank(query, k).await?;
            Ok(ranked.into_iter().map(|(i, _)| i).collect())
        })
    }

    fn saved(&self) -> Result<Value> {
        Ok(encode_vectors(self.vectors()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_bit_for_bit() {
        let vectors = vec![vec![0.1f32, -2.5, f32::MIN_POSITIVE], vec![]];
        let saved = encode_vectors(&vectors);
        let bits = |v: &[Vec<f32>]| -> Vec<Vec<u32>> {
            v.iter()
                .map(|v| v.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(&decode_vectors(&saved).unwrap()), bits(&vectors));
        assert!(decode_vectors(&json!({"vectors": ["abc"]})).is_err());
        assert!(decode_vectors(&json!({"vectors": ["zzzzzzzz"]})).is_err());
        assert!(decode_vectors(&Value::Null).is_err());
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }
}
