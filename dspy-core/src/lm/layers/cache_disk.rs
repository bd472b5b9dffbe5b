//! The cache's store on disk ([cacache](https://docs.rs/cacache)): answers, and embedding
//! vectors one text per entry. Every entry names its own key and format version.

use crate::lm::{Choice, FinishReason, LmResponse, Usage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format version of stored answers and vectors; an entry of another version is a miss.
const STORED_VERSION: u32 = 1;

/// An answer as stored on disk. It names its own key, so no two keys share content (cacache
/// stores content by hash) and an entry can be checked against the key that found it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Stored {
    v: u32,
    key: String,
    model: String,
    choices: Vec<StoredChoice>,
    usage: Usage,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredChoice {
    text: String,
    finish_reason: String,
}

impl Stored {
    pub(super) fn new(key: &str, response: &LmResponse) -> Self {
        Stored {
            v: STORED_VERSION,
            key: key.to_string(),
            model: response.model.clone(),
            choices: response
                .choices
                .iter()
                .map(|c| StoredChoice {
                    text: c.text.clone(),
                    finish_reason: match c.finish_reason {
                        FinishReason::Stop => "stop",
                        FinishReason::Length => "length",
                        FinishReason::Other => "other",
                    }
                    .to_string(),
                })
                .collect(),
            usage: response.usage,
        }
    }

    /// The response, if this entry is whole and belongs to `key`.
    fn into_response(self, key: &str) -> Option<LmResponse> {
        if self.v != STORED_VERSION || self.key != key || self.choices.is_empty() {
            return None;
        }
        let choices = self
            .choices
            .into_iter()
            .map(|c| Choice {
                text: c.text,
                finish_reason: match c.finish_reason.as_str() {
                    "stop" => FinishReason::Stop,
                    "length" => FinishReason::Length,
                    _ => FinishReason::Other,
                },
            })
            .collect();
        Some(LmResponse {
            choices,
            usage: self.usage,
            model: self.model,
            cached: true,
        })
    }
}

/// An embedding as stored on disk: one text's vector, naming its key as [`Stored`] does.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredVector {
    v: u32,
    key: String,
    vector: Vec<f32>,
}

impl StoredVector {
    pub(super) fn new(key: &str, vector: &[f32]) -> Self {
        StoredVector {
            v: STORED_VERSION,
            key: key.to_string(),
            vector: vector.to_vec(),
        }
    }

    fn into_vector(self, key: &str) -> Option<Vec<f32>> {
        (self.v == STORED_VERSION && self.key == key).then_some(self.vector)
    }
}

/// The answer stored for `key`, or `None` on a miss.
pub(super) fn read(dir: &Path, key: &str) -> Option<LmResponse> {
    read_entry(dir, key, |stored: Stored| stored.into_response(key))
}

/// The vector stored for `key`, or `None` on a miss.
pub(super) fn read_vector(dir: &Path, key: &str) -> Option<Vec<f32>> {
    read_entry(dir, key, |stored: StoredVector| stored.into_vector(key))
}

/// The entry for `key` decoded and checked by `check`, or `None` on a miss. A damaged entry
/// is removed, so the fresh answer replaces it.
fn read_entry<S: DeserializeOwned, T>(
    dir: &Path,
    key: &str,
    check: impl FnOnce(S) -> Option<T>,
) -> Option<T> {
    let bytes = match cacache::read_sync(dir, key) {
        Ok(bytes) => bytes,
        Err(cacache::Error::EntryNotFound(..)) => return None,
        Err(error) => {
            tracing::warn!(cache_dir = %dir.display(), %error, "damaged LM cache entry; it will be replaced");
            remove(dir, key);
            return None;
        }
    };
    let entry = serde_json::from_slice::<S>(&bytes).ok().and_then(check);
    if entry.is_none() {
        tracing::warn!(cache_dir = %dir.display(), "unreadable LM cache entry; it will be replaced");
        remove(dir, key);
    }
    entry
}

/// Stores `entry` (a [`Stored`] answer or a [`StoredVector`]) under `key`.
pub(super) fn write(dir: &Path, key: &str, entry: &impl Serialize) {
    let bytes = match serde_json::to_vec(entry) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "could not encode an LM answer for the disk cache");
            return;
        }
    };
    // Drop whatever index bucket is there first: one damaged beyond reading (say, bytes
    // that are not UTF-8) would hide the line appended after it.
    remove(dir, key);
    if let Err(error) = cacache::write_sync(dir, key, bytes) {
        tracing::warn!(cache_dir = %dir.display(), %error, "could not write the LM disk cache");
    }
}

/// Removes the entry and its content; a missing entry is fine.
fn remove(dir: &Path, key: &str) {
    let _ = cacache::RemoveOpts::new()
        .remove_fully(true)
        .remove_sync(dir, key);
}
