//! `Embedder`: texts in, vectors out (an embedding model).

use super::{BoxFuture, EmbedRequest, LM};
use crate::{Error, LmErrorKind, Result};
use std::sync::Arc;

/// Turns texts into vectors: an embedding model. [`VectorIndex`](crate::retrieve::VectorIndex)
/// and `KNNFewShot` rank by the cosine of its vectors.
///
/// ```
/// use dspy_core::lm::{BoxFuture, Embedder};
///
/// /// Counts of the vowels: a stand-in model for tests.
/// struct Vowels;
/// impl Embedder for Vowels {
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

impl<E: Embedder + ?Sized> Embedder for &E {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
        (**self).embed(texts)
    }
}

/// An `LM` embeds through its layers ([`LM::embed`]): cached, retried, limited and counted
/// like its completions. Its model must be one that embeds (the default
/// [`LanguageModel::embed`](super::LanguageModel::embed) is an error naming it).
impl Embedder for LM {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
        Box::pin(async move {
            let request = EmbedRequest::new(texts.iter().cloned());
            Ok(LM::embed(self, request).await?.vectors)
        })
    }
}

/// Embeds `texts` in batches of `batch_size`, checking that the embedder gave one vector per
/// text and that all have the same length; the vectors come scaled to length 1.
///
/// ```
/// use dspy_core::lm::{BoxFuture, Embedder, embed_normalized};
/// struct Fixed;
/// impl Embedder for Fixed {
///     fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy_core::Result<Vec<Vec<f32>>>> {
///         let vectors = texts.iter().map(|_| vec![3.0, 4.0]).collect();
///         Box::pin(async move { Ok(vectors) })
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let texts = vec!["a".to_string(), "b".to_string(), "c".to_string()];
/// let vectors = embed_normalized(&Fixed, &texts, 2).await.unwrap();
/// assert_eq!(vectors, [vec![0.6, 0.8], vec![0.6, 0.8], vec![0.6, 0.8]]);
/// # });
/// ```
pub async fn embed_normalized<E: Embedder + ?Sized>(
    embedder: &E,
    texts: &[String],
    batch_size: usize,
) -> Result<Vec<Vec<f32>>> {
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(batch_size.max(1)) {
        let embedded = embedder.embed(batch).await?;
        if embedded.len() != batch.len() {
            return Err(Error::lm(
                LmErrorKind::Backend,
                format!(
                    "the embedder returned {} vectors for {} texts; it must return one per text",
                    embedded.len(),
                    batch.len()
                ),
            ));
        }
        vectors.extend(embedded.into_iter().map(normalized));
    }
    if let Some(first) = vectors.first() {
        let dim = first.len();
        if let Some(bad) = vectors.iter().position(|v| v.len() != dim) {
            return Err(Error::lm(
                LmErrorKind::Backend,
                format!(
                    "the embedder gave vectors of different lengths ({dim} for the first text, {} \
                     for text {bad}); use one embedding model for every text",
                    vectors[bad].len()
                ),
            ));
        }
    }
    Ok(vectors)
}

/// `v` scaled to length 1 (a zero vector stays zero). A vector already of length 1 (to within
/// 1e-6) is left as it is, so normalizing twice changes nothing: vectors saved and read back
/// index bit for bit as they were.
pub(crate) fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && (norm - 1.0).abs() > 1e-6 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_twice_changes_no_bit() {
        let once = normalized(vec![3.0, 4.0, 1e-3, 7.25]);
        let norm = once.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6, "{norm}");
        let twice = normalized(once.clone());
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&twice), bits(&once));
        assert_eq!(normalized(vec![0.0, 0.0]), [0.0, 0.0]);
    }

    struct Fixed(Vec<Vec<f32>>);
    impl Embedder for Fixed {
        fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
            let out = self.0.iter().take(texts.len()).cloned().collect();
            Box::pin(async move { Ok(out) })
        }
    }

    #[tokio::test]
    async fn vectors_come_normalized_and_checked() {
        let texts = vec!["a".to_string(), "b".to_string()];
        let ok = Fixed(vec![vec![3.0, 4.0], vec![0.0, 0.0]]);
        let vectors = embed_normalized(&ok, &texts, 8).await.unwrap();
        assert_eq!(vectors, [vec![0.6, 0.8], vec![0.0, 0.0]]);
        let short = Fixed(vec![vec![1.0]]);
        let err = embed_normalized(&short, &texts, 8).await.unwrap_err();
        assert!(err.to_string().contains("1 vectors for 2 texts"), "{err}");
        let ragged = Fixed(vec![vec![1.0], vec![1.0, 2.0]]);
        let err = embed_normalized(&ragged, &texts, 8).await.unwrap_err();
        assert!(err.to_string().contains("different lengths"), "{err}");
    }
}
