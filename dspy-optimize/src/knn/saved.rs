//! A [`KnnProgram`]'s neighbour pool as saved with the program (its module state `self`), with
//! a hash checked on load, and [`KnnProgram::load`], which gives the program back without
//! compiling.
//!
//! The state is the pool (each training example's id, text and fields; `k`; the layout; the
//! similarity's name and settings), what the index keeps beyond the texts (an embeddings
//! index's vectors), and the SHA-256 of both.

use super::Similarity;
use super::program::{KnnProgram, Neighbours, Pool};
use crate::checkpoint::fingerprint;
use dspy_core::module::SavedModule;
use dspy_core::{Error, Parameters, ProgramState, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// The kind of module state a KNN program saves.
pub(super) const KIND: &str = "KnnProgram";

/// The module state as saved.
#[derive(Serialize, Deserialize)]
struct Saved {
    pool: Pool,
    #[serde(default)]
    index: Value,
    hash: String,
}

/// The hash of a pool and what its index keeps.
fn hash(pool: &Value, index: &Value) -> String {
    fingerprint(&[pool, index])
}

/// `knn`'s pool as saved.
pub(super) fn save(knn: &Neighbours) -> Result<Value> {
    let pool = serde_json::to_value(&*knn.pool)?;
    let index = knn.index.saved()?;
    let hash = hash(&pool, &index);
    Ok(serde_json::json!({"pool": pool, "index": index, "hash": hash}))
}

/// Whether `saved` is `knn`'s pool: a KNN program built in this process cannot take another
/// pool as it is loaded (its index would have to be built again), so a different one is an
/// error that says how to load the file.
pub(super) fn check(knn: &Neighbours, saved: &Value) -> Result<()> {
    let ours = save(knn)?;
    let theirs = saved.get("hash").and_then(Value::as_str).unwrap_or("none");
    if ours["hash"] == theirs {
        return Ok(());
    }
    Err(Error::State(format!(
        "the saved neighbour pool (hash {}) is not this KNN program's ({}): load the file with \
         `KnnProgram::load(path, program, similarity)` to get the program it was saved from, \
         or compile this one again",
        short(theirs),
        short(ours["hash"].as_str().unwrap_or_default())
    )))
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl<P: Parameters> KnnProgram<P> {
    /// The KNN program saved at `path` (by [`Parameters::save`] on a compiled
    /// [`KNNFewShot`](super::KNNFewShot) program), over `program` (a fresh `P`: its
    /// predictors get the saved state), ranking with `similarity`, which must be the one it
    /// was compiled with (same name and settings; for embeddings, the same model). No training
    /// set and no compile: the pool comes from the file, so the program shows exactly the
    /// prompts it was evaluated with.
    ///
    /// The pool's hash is checked: a file whose pool was changed since it was saved is an
    /// [`Error::State`] that says to compile again. So is a file without a pool (saved from a
    /// program that was not a KNN program, or by a dspy before format 3), a similarity that
    /// differs, and a state that does not fit `program` (as
    /// [`Parameters::load`] checks it). Like [`Parameters::load`], the saved text of the
    /// predictors wins over the code's, with a `tracing` warning naming those that differ.
    pub async fn load<S: Similarity>(
        path: impl AsRef<Path>,
        program: P,
        similarity: &S,
    ) -> Result<Self> {
        let path = path.as_ref();
        let state = ProgramState::read(path)?;
        Self::from_state(state, program, similarity)
            .await
            .map_err(|error| match error {
                Error::State(message) => Error::State(format!("`{}`: {message}", path.display())),
                other => other,
            })
    }

    /// [`load`](Self::load), from state already read. For a KNN program saved as a stage of a
    /// bigger program, pass that stage's part of the state:
    /// [`state.scoped("1")`](dspy_core::module::ProgramState::scoped).
    pub async fn from_state<S: Similarity>(
        mut state: ProgramState,
        mut program: P,
        similarity: &S,
    ) -> Result<Self> {
        let saved = state.modules.remove("self").ok_or_else(|| {
            Error::State(
                "the saved state holds no KNN neighbour pool (module state `self`): it was \
                 saved from a program that is not a KNN program, or by a dspy before format \
                 3; compile with KNNFewShot and save the compiled program"
                    .to_string(),
            )
        })?;
        let saved = read(saved)?;
        check_similarity(&saved.pool, similarity)?;
        state.apply(&mut program)?;
        let documents = saved.pool.entries.iter().map(|e| e.text.clone()).collect();
        let index = similarity.restore(documents, &saved.index).await?;
        Ok(KnnProgram::new(program, saved.pool, index))
    }
}

/// The pool of a saved module state, its kind and hash checked.
fn read(module: SavedModule) -> Result<Saved> {
    if module.kind != KIND {
        return Err(Error::State(format!(
            "module state `self` is a `{}`'s, not a KNN program's",
            module.kind
        )));
    }
    let saved: Saved = serde_json::from_value(module.state).map_err(|e| {
        Error::State(format!(
            "the saved neighbour pool is not one this dspy reads ({e}); compile the program \
             again and save it"
        ))
    })?;
    let pool = serde_json::to_value(&saved.pool)?;
    let actual = hash(&pool, &saved.index);
    if actual != saved.hash {
        return Err(Error::State(format!(
            "the saved neighbour pool does not match its hash (saved {}, now {}): the file was \
             changed since it was saved; compile the program again and save it (or restore the \
             file as it was written)",
            short(&saved.hash),
            short(&actual)
        )));
    }
    Ok(saved)
}

/// The similarity a pool was built with must be the one given.
fn check_similarity<S: Similarity>(pool: &Pool, similarity: &S) -> Result<()> {
    let (name, settings) = (similarity.name(), similarity.settings());
    if pool.similarity == name && pool.settings == settings {
        return Ok(());
    }
    Err(Error::State(format!(
        "the KNN program was compiled with similarity {} {} but is loaded with {name} {settings}: \
         load it with the similarity it was compiled with, or compile it again",
        pool.similarity, pool.settings
    )))
}
