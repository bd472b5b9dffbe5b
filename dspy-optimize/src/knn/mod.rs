//! `KNNFewShot`: per input, the most similar training examples as demos.
//!
//! Similarity is pluggable ([`Similarity`]): [`Bm25`] ranks by shared words and needs no model;
//! [`Embeddings`] ranks by cosine similarity of vectors from any [`Embedder`], such as an
//! [`LM`](dspy_core::LM) on an embedding model or [`OpenAiEmbedder`] for an OpenAI-compatible
//! `/embeddings` endpoint (feature `openai`). The indexes are dspy-core's retrieval indexes
//! ([`dspy_core::retrieve`]); `Bm25`, `Embedder` and `OpenAiEmbedder` are dspy-core's, named
//! here too.
//!
//! A compiled [`KnnProgram`] saves its neighbour pool with its predictors' state, and
//! [`KnnProgram::load`] gives it back in a fresh process without compiling.

mod bm25;
mod embed;
mod program;
mod saved;

pub use dspy_core::lm::Embedder;
#[cfg(feature = "openai")]
pub use dspy_core::lm::OpenAiEmbedder;
pub use dspy_core::retrieve::Bm25;
pub use embed::Embeddings;
pub use program::KnnProgram;

use crate::search::estimate::Estimator;
use crate::search::provenance::Examples;
use crate::search::warnings::why_none_fit;
use crate::search::{Frame, Search, SearchOptions, compile_methods, search_setters};
use crate::{CompileWarning, Estimate, Trial};
use dspy_core::lm::BoxFuture;
use dspy_core::{Error, Example, Module, Parameters, Result};
use program::{Pool, PoolEntry};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// How examples are compared: builds a [`NeighborIndex`] over the training examples' texts.
///
/// A text is an example's input fields as `name: value` pairs joined by ` | ` (DSPy's layout).
///
/// A saved [`KnnProgram`] records the similarity's [`name`](Self::name) and
/// [`settings`](Self::settings), and what its index keeps ([`NeighborIndex::saved`]); loading
/// it checks the first two against the similarity given and gets the index back from
/// [`restore`](Self::restore).
pub trait Similarity: Send + Sync {
    /// A short name for reports (`BM25`, `embeddings`).
    fn name(&self) -> String;

    /// An index over `documents`; [`NeighborIndex::nearest`] answers with positions in it.
    fn index<'a>(&'a self, documents: Vec<String>)
    -> BoxFuture<'a, Result<Arc<dyn NeighborIndex>>>;

    /// What the ranking depends on besides the documents (BM25's `k1` and `b`), as JSON; a
    /// saved program loads only with a similarity of the same name and settings. Default:
    /// nothing.
    fn settings(&self) -> Value {
        Value::Null
    }

    /// The index a saved program had over `documents`, from what its index kept (`saved`,
    /// [`NeighborIndex::saved`]). Default: built again with [`index`](Self::index), which gives
    /// the same index when it depends on the documents and settings alone (as BM25's does).
    fn restore<'a>(
        &'a self,
        documents: Vec<String>,
        saved: &'a Value,
    ) -> BoxFuture<'a, Result<Arc<dyn NeighborIndex>>> {
        let _ = saved;
        self.index(documents)
    }
}

/// Finds the documents nearest a query.
pub trait NeighborIndex: Send + Sync {
    /// The positions of the (at most) `k` documents most similar to `query`, most similar
    /// first; equally similar documents in their original order.
    fn nearest<'a>(&'a self, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<usize>>>;

    /// What a saved program keeps of this index beyond its documents, for
    /// [`Similarity::restore`] (an embeddings index: its vectors, so loading embeds nothing but
    /// queries). Default: nothing, the index is built again from the documents.
    fn saved(&self) -> Result<Value> {
        Ok(Value::Null)
    }
}

/// DSPy's `KNNFewShot`: the compiled program looks up, for each input, the `k` training
/// examples most similar to it and runs with those as demos.
///
/// Demos go to every predictor whose signature the examples fit (an example serializes to one
/// JSON object and becomes a demo only if the predictor accepts it); the other predictors keep
/// the demos they had. The neighbours are the labeled examples themselves: unlike DSPy, which
/// re-bootstraps the neighbours through the LM on every call, compiling and running cost no
/// extra LM calls. A training example is its own nearest neighbour, so score a KNN program on
/// examples outside its training set.
///
/// Each call's neighbours are labeled demos that name their training example
/// ([`Provenance`](dspy_core::module::Provenance)). The compiled [`KnnProgram`] saves its pool
/// with the program, so [`KnnProgram::load`] gives it back elsewhere without compiling.
///
/// ```
/// use dspy_core::{DummyLm, LM, Module, Predict};
/// use dspy_optimize::{Bm25, KNNFewShot};
/// use serde_json::json;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let trainset = vec![
///     Capital { country: "French Republic".into(), city: "Paris".into() },
///     Capital { country: "Italian Republic".into(), city: "Rome".into() },
///     Capital { country: "Kingdom of Spain".into(), city: "Madrid".into() },
/// ];
/// let compiled = KNNFewShot::new(1, Bm25::new()).compile(&Predict::<Capital>::new(), &trainset).await.unwrap();
/// let dummy = DummyLm::new([json!({"city": "Oslo"})]);
/// let out = dspy_core::with_lm(LM::new(dummy.clone()), compiled.call(CapitalInput { country: "Kingdom of Norway".into() })).await.unwrap();
/// assert_eq!(out.city, "Oslo");
/// let prompt = dummy.last_request().unwrap().prompt.to_text();
/// assert!(prompt.contains("Madrid") && !prompt.contains("Paris")); // the nearest example only
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct KNNFewShot<S> {
    k: usize,
    similarity: S,
    layout: DemoLayout,
    /// Defaults: KNN has no seed, concurrency or models.
    options: SearchOptions,
}

/// Where a [`KnnProgram`] puts the neighbours among the demos.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct DemoLayout {
    nearest_last: bool,
    keep_demos: bool,
}

impl<S: Similarity> KNNFewShot<S> {
    /// `k` neighbours per input, ranked by `similarity`.
    pub fn new(k: usize, similarity: S) -> Self {
        KNNFewShot {
            k,
            similarity,
            layout: DemoLayout::default(),
            options: SearchOptions::default(),
        }
    }

    /// Orders the neighbours so the most similar comes last, right before the input (default:
    /// first, as DSPy does). Small base models copy the nearest pattern, so the nearest one
    /// last often helps them.
    ///
    /// ```
    /// use dspy_optimize::{Bm25, KNNFewShot};
    /// let knn = KNNFewShot::new(8, Bm25::new()).nearest_last(true);
    /// ```
    #[must_use]
    pub fn nearest_last(mut self, yes: bool) -> Self {
        self.layout.nearest_last = yes;
        self
    }

    /// Keeps the demos the program's predictors already have (from another optimizer, say
    /// [`LabeledFewShot`](crate::LabeledFewShot)) and puts the neighbours after them, instead of
    /// replacing them (the default, as DSPy does). The kept demos are the same on every call,
    /// so a backend that reuses a prompt's prefix (the embedded model) computes them once.
    ///
    /// ```
    /// use dspy_optimize::{Bm25, KNNFewShot};
    /// let knn = KNNFewShot::new(8, Bm25::new()).keep_demos(true);
    /// ```
    #[must_use]
    pub fn keep_demos(mut self, yes: bool) -> Self {
        self.layout.keep_demos = yes;
        self
    }

    search_setters!([options] id_field);
    compile_methods!(compile, estimate);
}

/// No LM calls, and no validation set: the index is built over the training set.
impl<P, E, S> Search<P, E> for KNNFewShot<S>
where
    P: Module + Parameters + Clone,
    P::Input: Serialize,
    E: Example<Input = P::Input> + Serialize,
    S: Similarity,
{
    type Program = KnnProgram<P>;
    const NAME: &'static str = "KNNFewShot";

    fn options(&self) -> &SearchOptions {
        &self.options
    }

    async fn search(
        &self,
        frame: &mut Frame<'_>,
        program: &P,
        trainset: &[E],
        _: Option<&[E]>,
    ) -> Result<KnnProgram<P>> {
        let started = Instant::now();
        let examples = Examples::of(trainset, &self.options)?;
        let texts = trainset
            .iter()
            .map(|e| input_text(&e.input()))
            .collect::<Result<Vec<String>>>()?;
        let count = examples.fields.len();
        let index = self.similarity.index(texts.clone()).await?;
        frame.report.trials.push(Trial::new(
            format!(
                "{} index of {count} examples, k = {}",
                self.similarity.name(),
                self.k
            ),
            None,
            &Default::default(),
            started.elapsed(),
        ));
        for (name, predictor) in program.predictors() {
            let kept = self.layout.keep_demos && predictor.demo_count() > 0;
            if let Some(why) = why_none_fit(predictor, &examples.fields).filter(|_| !kept) {
                let why = format!("no demos: no neighbour can be one, as {why}");
                frame.report.warn(CompileWarning::predictor(name, why));
            }
        }
        let Examples { fields, ids } = examples;
        let entries = ids
            .into_iter()
            .zip(texts)
            .zip(fields)
            .map(|((id, text), fields)| PoolEntry { id, text, fields })
            .collect();
        let pool = Pool {
            entries,
            k: self.k,
            layout: self.layout,
            similarity: self.similarity.name(),
            settings: self.similarity.settings(),
        };
        Ok(KnnProgram::new(program.clone(), pool, index))
    }

    /// No LM call: the index is built by the similarity (an [`Embeddings`] index embeds the
    /// training inputs with its embedder, which is not an LM of the compile).
    fn estimate(&self, _: &P, trainset: &[E], _: Option<&[E]>) -> Result<Estimate> {
        let mut estimate = Estimator::new("KNNFewShot", &self.options);
        estimate.note(format!(
            "{} index over {} training inputs: no LM call",
            self.similarity.name(),
            trainset.len()
        ));
        Ok(estimate.finish())
    }
}

/// An input as text for similarity: `name: value` pairs joined by ` | ` (strings as they are).
pub(crate) fn input_text<I: Serialize>(input: &I) -> Result<String> {
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match serde_json::to_value(input).map_err(Error::from)? {
        Value::Object(fields) => Ok(fields
            .iter()
            .map(|(name, value)| format!("{name}: {}", text(value)))
            .collect::<Vec<_>>()
            .join(" | ")),
        other => Ok(text(&other)),
    }
}
