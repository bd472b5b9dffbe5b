//! [`KnnProgram`]: the program [`KNNFewShot`](super::KNNFewShot) compiles, and the neighbour
//! pool it draws each call's demos from.

use super::{DemoLayout, NeighborIndex, input_text};
use crate::search::fields::fits;
use dspy_core::adapter::FieldValues;
use dspy_core::module::{DemoState, ModuleState, Provenance, own_name};
use dspy_core::{DynPredictor, Module, Parameters, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

/// The program [`KNNFewShot`](super::KNNFewShot) compiles: `P`, run on each input with the
/// nearest training examples as demos.
///
/// Its predictors are `P`'s, with the same names. Saving it
/// ([`Parameters::save`](dspy_core::Parameters::save)) saves `P`'s learned state and the
/// neighbour pool (the training examples, their texts, `k`, the layout, which similarity; an
/// embeddings index's vectors) as the module state `self`, with a hash;
/// [`load`](KnnProgram::load) gives the same program back in a fresh process without
/// compiling, so it renders exactly the prompts that were evaluated.
///
/// ```
/// use dspy_core::{DynPredictor, Parameters, Predict};
/// use dspy_optimize::{Bm25, KNNFewShot, KnnProgram};
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let trainset = vec![
///     Capital { country: "French Republic".into(), city: "Paris".into() },
///     Capital { country: "Kingdom of Spain".into(), city: "Madrid".into() },
/// ];
/// let compiled = KNNFewShot::new(1, Bm25::new()).compile(&Predict::<Capital>::new(), &trainset).await.unwrap();
/// let path = std::env::temp_dir().join(format!("knn-doc-{}.json", std::process::id()));
/// compiled.save(&path).unwrap();
///
/// // Elsewhere: no training set, no compile.
/// let loaded = KnnProgram::load(&path, Predict::<Capital>::new(), &Bm25::new()).await.unwrap();
/// let input = CapitalInput { country: "Kingdom of Norway".into() };
/// let demos = loaded.program_for(&input).await.unwrap().demos;
/// assert_eq!(demos[0].example().unwrap().city, "Madrid");
/// assert!(demos[0].provenance().is_some()); // labeled, from its training example
/// # std::fs::remove_file(&path).ok();
/// # });
/// ```
#[derive(Clone)]
pub struct KnnProgram<P> {
    program: P,
    neighbours: Neighbours,
}

/// The pool and its index: the KNN program's module state.
#[derive(Clone)]
pub(super) struct Neighbours {
    pub pool: Arc<Pool>,
    pub index: Arc<dyn NeighborIndex>,
}

/// What a KNN program's prompts depend on besides `P`'s state: the examples it draws from and
/// how it draws them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Pool {
    pub entries: Vec<PoolEntry>,
    pub k: usize,
    pub layout: DemoLayout,
    /// The similarity's name and settings, checked when loading.
    pub similarity: String,
    #[serde(default)]
    pub settings: Value,
}

/// One training example of the pool: its id, its text as the index has it, and its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct PoolEntry {
    pub id: String,
    pub text: String,
    pub fields: FieldValues,
}

impl<P> KnnProgram<P> {
    /// `program` drawing from `pool` through `index`.
    pub(super) fn new(program: P, pool: Pool, index: Arc<dyn NeighborIndex>) -> Self {
        KnnProgram {
            program,
            neighbours: Neighbours {
                pool: Arc::new(pool),
                index,
            },
        }
    }

    /// The program the demos are given to.
    pub fn program(&self) -> &P {
        &self.program
    }

    /// How many neighbours each input gets.
    pub fn k(&self) -> usize {
        self.neighbours.pool.k
    }

    /// How many training examples it draws from.
    pub fn pool_len(&self) -> usize {
        self.neighbours.pool.entries.len()
    }

    /// The positions in the training set of the examples nearest `input`, nearest first.
    pub fn neighbors<I: Serialize>(
        &self,
        input: &I,
    ) -> impl Future<Output = Result<Vec<usize>>> + Send + '_ {
        // The text is made now, so the future does not hold `input`.
        let query = input_text(input);
        let (index, k) = (self.neighbours.index.clone(), self.neighbours.pool.k);
        async move { index.nearest(&query?, k).await }
    }
}

impl<P: Parameters + Clone> KnnProgram<P> {
    /// The program as it runs on `input`: a copy of `P` whose predictors carry the neighbours
    /// of `input` as demos (after their own, with `keep_demos`), each recorded as labeled from
    /// its training example. What a call runs, and what to render to see its prompts.
    ///
    /// The copy's predictors keep the original ids, so traces of its calls name the program's
    /// predictors.
    pub fn program_for<I: Serialize>(
        &self,
        input: &I,
    ) -> impl Future<Output = Result<P>> + Send + '_
    where
        P: Send + Sync,
    {
        // The neighbours' future does not hold `input`, so neither does this one.
        let nearest = self.neighbors(input);
        async move { self.with_neighbours(&nearest.await?) }
    }

    /// A copy of `P` with the pool's examples at positions `nearest` as demos.
    fn with_neighbours(&self, nearest: &[usize]) -> Result<P> {
        let pool = &self.neighbours.pool;
        let mut demos: Vec<DemoState> = nearest
            .iter()
            .filter_map(|&i| pool.entries.get(i))
            .map(|e| DemoState::new(e.fields.clone()).with_provenance(Provenance::labeled(&e.id)))
            .collect();
        if pool.layout.nearest_last {
            demos.reverse();
        }
        let ids: Vec<_> = self
            .program
            .predictors()
            .iter()
            .map(|(_, p)| p.id())
            .collect();
        let mut program = self.program.clone();
        for ((_, predictor), id) in program.predictors_mut().into_iter().zip(ids) {
            predictor.set_id(id);
            let fitting: Vec<DemoState> = demos
                .iter()
                .filter(|d| fits(&*predictor, &d.fields))
                .cloned()
                .collect();
            if !fitting.is_empty() {
                let fitting = if pool.layout.keep_demos {
                    let mut kept = predictor.demo_states()?;
                    kept.extend(fitting);
                    kept
                } else {
                    fitting
                };
                predictor.set_demo_states(fitting)?;
            }
        }
        Ok(program)
    }
}

impl<P> std::fmt::Debug for KnnProgram<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnnProgram")
            .field("examples", &self.neighbours.pool.entries.len())
            .field("k", &self.neighbours.pool.k)
            .field("similarity", &self.neighbours.pool.similarity)
            .finish_non_exhaustive()
    }
}

impl<P> Module for KnnProgram<P>
where
    P: Module + Parameters + Clone,
    P::Input: Serialize,
{
    type Input = P::Input;
    type Output = P::Output;

    async fn call(&self, input: P::Input) -> Result<P::Output> {
        // A copy per call: concurrent calls each see their own demos.
        let program = self.program_for(&input).await?;
        program.call(input).await
    }
}

/// `P`'s predictors, under the same names; the pool is its module state, named as `P`'s root
/// would be (`self` at the root).
impl<P: Parameters> Parameters for KnnProgram<P> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.program.visit_predictors(prefix, visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.program.visit_predictors_mut(prefix, visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        visit(own_name(prefix), &self.neighbours);
        self.program.visit_module_states(prefix, visit);
    }
}

/// The pool, as saved: see [`super::saved`].
impl ModuleState for Neighbours {
    fn kind(&self) -> &str {
        super::saved::KIND
    }

    fn save_state(&self) -> Result<Value> {
        super::saved::save(self)
    }

    fn check_state(&self, saved: &Value) -> Result<()> {
        super::saved::check(self, saved)
    }
}
