//! `Retrieve`: a retriever as a module of a program, its calls traced.

use super::{DynPredictor, Module, Parameters};
use crate::Result;
use crate::retrieve::{Passage, Retriever};
use crate::signature::fields::{Ch, HasField, Here};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What [`Retrieve`] takes: the query.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct RetrieveInput {
    /// What to search for.
    pub query: String,
}

impl From<&str> for RetrieveInput {
    fn from(query: &str) -> Self {
        RetrieveInput {
            query: query.to_string(),
        }
    }
}

impl From<String> for RetrieveInput {
    fn from(query: String) -> Self {
        RetrieveInput { query }
    }
}

/// What [`Retrieve`] returns: the passages found, best first, and their texts as `context`
/// (the name DSPy programs give the field an answering step reads them from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RetrieveOutput {
    /// The passages, best first, with ids and scores.
    pub passages: Vec<Passage>,
    /// The passages' texts, in the same order.
    pub context: Vec<String>,
}

impl RetrieveOutput {
    /// The output for `passages`.
    pub fn new(passages: Vec<Passage>) -> Self {
        let context = passages.iter().map(|p| p.text.clone()).collect();
        RetrieveOutput { passages, context }
    }
}

type Query = (Ch<'q'>, Ch<'u'>, Ch<'e'>, Ch<'r'>, Ch<'y'>);
type Passages = (
    Ch<'p'>,
    Ch<'a'>,
    Ch<'s'>,
    Ch<'s'>,
    Ch<'a'>,
    Ch<'g'>,
    Ch<'e'>,
    Ch<'s'>,
);
type Context = (
    Ch<'c'>,
    Ch<'o'>,
    Ch<'n'>,
    Ch<'t'>,
    Ch<'e'>,
    Ch<'x'>,
    Ch<'t'>,
);

// Wiring by name (`retrieve.then(answer)`): `query` in, `passages` and `context` out.
impl HasField<Query, String, Here> for RetrieveInput {
    fn field(&self) -> &String {
        &self.query
    }
}

impl HasField<Passages, Vec<Passage>, Here> for RetrieveOutput {
    fn field(&self) -> &Vec<Passage> {
        &self.passages
    }
}

impl HasField<Context, Vec<String>, Here> for RetrieveOutput {
    fn field(&self) -> &Vec<String> {
        &self.context
    }
}

/// A [`Retriever`] in a program: query in, the `k` best passages out (default 3, as DSPy's
/// `dspy.Retrieve`).
///
/// Every call inside a [`trace`](super::trace()) scope is recorded in the trace's
/// [`retrievals`](super::Trace::retrievals), so optimizers and you can see what each run
/// retrieved. It holds no predictor: in a `#[derive(Module)]` program it needs no
/// `#[dspy(skip)]`, and compiling leaves it as it is.
///
/// ```
/// use dspy_core::{Module, module::Retrieve, module::trace};
/// use dspy_core::retrieve::Bm25Index;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let corpus = ["curl: transfers data with URL syntax", "rsync: copies files to remote hosts"];
/// let retrieve = Retrieve::new(Bm25Index::from_texts(corpus)).k(1).named("packages");
/// let (out, trace) = trace(retrieve.call("copy files remote".into())).await;
/// let out = out.unwrap();
/// assert_eq!(out.context, ["rsync: copies files to remote hosts"]);
/// assert_eq!(trace.retrievals[0].retriever, "packages");
/// assert_eq!(trace.retrievals[0].passages[0].id, "1");
/// # });
/// ```
pub struct Retrieve<R> {
    retriever: Arc<R>,
    k: usize,
    name: Arc<str>,
}

impl<R> Clone for Retrieve<R> {
    fn clone(&self) -> Self {
        Retrieve {
            retriever: self.retriever.clone(),
            k: self.k,
            name: self.name.clone(),
        }
    }
}

impl<R: Retriever> Retrieve<R> {
    /// Searches `retriever`, 3 passages per query.
    pub fn new(retriever: R) -> Self {
        Self::shared(Arc::new(retriever))
    }

    /// Searches a retriever shared with other modules (one index, several steps).
    pub fn shared(retriever: Arc<R>) -> Self {
        let name = std::any::type_name::<R>()
            .rsplit("::")
            .next()
            .unwrap_or("retriever");
        Retrieve {
            retriever,
            k: 3,
            name: name.into(),
        }
    }

    /// The same, returning `k` passages per query.
    #[must_use]
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// The same, named `name` in traces (default: the retriever's type name).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into().into();
        self
    }

    /// Passages per query.
    pub fn top_k(&self) -> usize {
        self.k
    }

    /// The retriever searched.
    pub fn retriever(&self) -> &Arc<R> {
        &self.retriever
    }

    /// The `k` best passages for `query`, recorded in the active trace.
    pub async fn search(&self, query: &str) -> Result<Vec<Passage>> {
        self.search_k(query, self.k).await
    }

    /// The `k` best passages for `query` (this call's own `k`), recorded in the active trace.
    pub async fn search_k(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        let span = tracing::debug_span!("dspy.retrieve", retriever = &*self.name, k);
        let _entered = span.enter();
        let passages = self.retriever.search(query, k).await?;
        super::trace::record_retrieval(&self.name, query, k, &passages);
        Ok(passages)
    }
}

impl<R: Retriever> Module for Retrieve<R> {
    type Input = RetrieveInput;
    type Output = RetrieveOutput;

    async fn call(&self, input: RetrieveInput) -> Result<RetrieveOutput> {
        Ok(RetrieveOutput::new(self.search(&input.query).await?))
    }
}

/// No predictors: nothing in a retriever is compiled.
impl<R> Parameters for Retrieve<R> {
    fn visit_predictors<'a>(&'a self, _: &str, _: &mut dyn FnMut(String, &'a dyn DynPredictor)) {}

    fn visit_predictors_mut<'a>(
        &'a mut self,
        _: &str,
        _: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
    }
}

impl<R> std::fmt::Debug for Retrieve<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrieve")
            .field("name", &&*self.name)
            .field("k", &self.k)
            .finish()
    }
}
