//! The fine-tune cache on disk: a directory per run key, holding the finished model's record
//! (`model.json`), the state an unfinished run saved to resume from (`pending.json`), and any
//! weights a local trainer writes.

use super::model::FinetunedModel;
use crate::util::write_atomic;
use crate::{Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

const MODEL_FILE: &str = "model.json";
const PENDING_FILE: &str = "pending.json";

/// Where runs are recorded; `None`: nowhere (nothing is cached, nothing resumes).
#[derive(Debug, Clone)]
pub(super) struct Store {
    dir: Option<PathBuf>,
}

impl Store {
    pub(super) fn new(dir: Option<PathBuf>) -> Self {
        Store { dir }
    }

    /// The directory of run `key`, when there is a cache.
    pub(super) fn run_dir(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(key))
    }

    /// The finished model of run `key`. A record that cannot be read is treated as absent
    /// (the run trains again and rewrites it), with a warning.
    pub(super) fn model(&self, key: &str) -> Option<FinetunedModel> {
        let path = self.run_dir(key)?.join(MODEL_FILE);
        read_json(&path).and_then(|value| match serde_json::from_value(value) {
            Ok(model) => Some(model),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "unreadable fine-tune record; training again");
                None
            }
        })
    }

    pub(super) fn save_model(&self, model: &FinetunedModel) -> Result<()> {
        let Some(dir) = self.run_dir(&model.key) else {
            return Ok(());
        };
        write_json(&dir.join(MODEL_FILE), &serde_json::to_value(model)?)
    }

    /// What an unfinished run of `key` saved to resume from.
    pub(super) fn pending(&self, key: &str) -> Option<Value> {
        read_json(&self.run_dir(key)?.join(PENDING_FILE))
    }

    pub(super) fn save_pending(&self, key: &str, state: &Value) -> Result<()> {
        match self.run_dir(key) {
            Some(dir) => write_json(&dir.join(PENDING_FILE), state),
            None => Ok(()),
        }
    }

    /// Forgets the unfinished run of `key` (it finished, failed or was cancelled).
    pub(super) fn clear_pending(&self, key: &str) {
        if let Some(dir) = self.run_dir(key) {
            // Absent already is fine; any other failure only means a later run resumes a job
            // that is over, which it then reports.
            let _ = std::fs::remove_file(dir.join(PENDING_FILE));
        }
    }
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "unreadable fine-tune file; ignored");
            None
        }
    }
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::data_caused_by(
            path,
            None,
            "cannot write the fine-tune cache (check the directory is writable, or set another \
             with Finetune::cache_dir)",
            e,
        )
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    write_atomic(path, serde_json::to_string_pretty(value)?).map_err(fail)
}
