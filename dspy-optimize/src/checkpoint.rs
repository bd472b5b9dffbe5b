//! Resumable compiles: an optimizer's state, saved after every step under a key made from
//! the compile's arguments, so a compile that was killed restarts where it stopped.

use dspy_core::lm::canonical_json;
use dspy_core::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where a long compile keeps its progress.
///
/// An optimizer given `.checkpoint(path)` saves its search state there after every step
/// (a round, a trial) and, when started again with the same arguments, loads it and carries
/// on from that step. Together with the LM layer's disk cache, which answers again every call
/// already made, a compile killed midway costs only the step it was in.
///
/// The state is stored with the optimizer's name and a [`fingerprint`] of everything the
/// compile depends on (its settings and seed, the models' names, the program's starting state,
/// the training set): a checkpoint left by a different compile is ignored, never half-applied.
/// The file is written atomically ([`write_atomic`](dspy_core::util::write_atomic): a
/// temporary file, flushed to disk, renamed), so a kill mid-write leaves the previous state.
///
/// The program's state is what [`Parameters::state`](dspy_core::Parameters::state) saves: its
/// predictors' instructions and demos, and the state of modules that hold some of their own
/// (the examples a [`KnnProgram`](crate::KnnProgram) draws neighbours from). Anything else a
/// program holds is not in the key: after changing it, delete the checkpoint (or give it
/// another path) to start over.
///
/// ```
/// use dspy_optimize::checkpoint::{Checkpoint, fingerprint};
/// use serde_json::json;
///
/// let dir = std::env::temp_dir().join(format!("dspy-doc-ckpt-{}", std::process::id()));
/// let checkpoint = Checkpoint::new(dir.join("copro.json"));
/// let key = fingerprint(&[&json!({"breadth": 4, "seed": 0}), &json!(["train", "set"])]);
///
/// assert_eq!(checkpoint.load::<Vec<f64>>("COPRO", &key).unwrap(), None);
/// checkpoint.save("COPRO", &key, &vec![0.5, 0.75]).unwrap();
/// assert_eq!(checkpoint.load::<Vec<f64>>("COPRO", &key).unwrap(), Some(vec![0.5, 0.75]));
/// // Other arguments: another compile, which starts over.
/// let other = fingerprint(&[&json!({"breadth": 8, "seed": 0}), &json!(["train", "set"])]);
/// assert_eq!(checkpoint.load::<Vec<f64>>("COPRO", &other).unwrap(), None);
/// checkpoint.clear().unwrap();
/// # std::fs::remove_dir_all(dir).ok();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Stored<T> {
    version: u32,
    optimizer: String,
    key: String,
    state: T,
}

const VERSION: u32 = 1;

impl Checkpoint {
    /// A checkpoint kept in the file at `path` (its directory is created when first saved).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Checkpoint { path: path.into() }
    }

    /// The file the state is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state `optimizer` saved under `key`, or `None` when there is none: no file yet, or
    /// one left by another optimizer or another compile (other arguments).
    ///
    /// A file that cannot be read as a checkpoint is an [`Error::State`] naming it, rather than
    /// being overwritten silently.
    pub fn load<T: DeserializeOwned>(&self, optimizer: &str, key: &str) -> Result<Option<T>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error("cannot read", &e)),
        };
        // The header first: a checkpoint of another compile may hold another state type.
        #[derive(Deserialize)]
        struct Header {
            version: u32,
            optimizer: String,
            key: String,
        }
        let header: Header =
            serde_json::from_str(&text).map_err(|e| self.error("is not a checkpoint", &e))?;
        if header.version != VERSION || header.optimizer != optimizer || header.key != key {
            return Ok(None);
        }
        let stored: Stored<T> = serde_json::from_str(&text)
            .map_err(|e| self.error("holds a state this version cannot read", &e))?;
        Ok(Some(stored.state))
    }

    /// Saves `state` as `optimizer`'s progress under `key`, replacing what was there.
    pub fn save<T: Serialize>(&self, optimizer: &str, key: &str, state: &T) -> Result<()> {
        let stored = Stored {
            version: VERSION,
            optimizer: optimizer.to_string(),
            key: key.to_string(),
            state,
        };
        let json = serde_json::to_string(&stored)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.error("cannot be created", &e))?;
        }
        dspy_core::util::write_atomic(&self.path, json)
            .map_err(|e| self.error("cannot be written", &e))
    }

    /// Removes the checkpoint (a finished compile needs it no more); no file is not an error.
    pub fn clear(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(self.error("cannot be removed", &e))
            }
            _ => Ok(()),
        }
    }

    fn error(&self, what: &str, cause: &dyn std::fmt::Display) -> Error {
        Error::State(format!(
            "the checkpoint {} {what}: {cause}; delete it to start the compile over",
            self.path.display()
        ))
    }
}

/// A stable key for the things a compile depends on: the sha256 (hex) of their JSON, in order.
///
/// Stable across runs and platforms (objects are hashed with their keys sorted), so the same
/// arguments give the same key.
///
/// ```
/// use dspy_optimize::checkpoint::fingerprint;
/// use serde_json::json;
/// assert_eq!(fingerprint(&[&json!({"a": 1, "b": 2})]), fingerprint(&[&json!({"b": 2, "a": 1})]));
/// assert_ne!(fingerprint(&[&json!(1), &json!(2)]), fingerprint(&[&json!(2), &json!(1)]));
/// ```
pub fn fingerprint(parts: &[&serde_json::Value]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(canonical_json(part).as_bytes());
        hasher.update([0u8]); // separates the parts: [ab, c] differs from [a, bc]
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("dspy-ckpt-{}-{name}", std::process::id()))
            .join("state.json")
    }

    #[test]
    fn state_round_trips_only_for_the_same_optimizer_and_key() {
        let checkpoint = Checkpoint::new(temp("roundtrip"));
        checkpoint
            .save("MIPROv2", "k1", &json!({"trial": 3}))
            .unwrap();
        assert_eq!(
            checkpoint
                .load::<serde_json::Value>("MIPROv2", "k1")
                .unwrap(),
            Some(json!({"trial": 3}))
        );
        assert_eq!(
            checkpoint.load::<serde_json::Value>("GEPA", "k1").unwrap(),
            None
        );
        assert_eq!(
            checkpoint
                .load::<serde_json::Value>("MIPROv2", "k2")
                .unwrap(),
            None
        );
        checkpoint.clear().unwrap();
        assert_eq!(
            checkpoint
                .load::<serde_json::Value>("MIPROv2", "k1")
                .unwrap(),
            None
        );
        checkpoint.clear().unwrap(); // twice is fine
    }

    #[test]
    fn a_damaged_file_is_an_error_that_says_what_to_do() {
        let path = temp("damaged");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"version\": 1, \"optim").unwrap();
        let err = Checkpoint::new(&path)
            .load::<u32>("COPRO", "k")
            .unwrap_err();
        assert!(matches!(err, Error::State(_)));
        assert!(
            err.to_string()
                .contains("delete it to start the compile over"),
            "{err}"
        );
    }
}
