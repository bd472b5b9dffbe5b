//! Where a compile's progress is kept: its checkpoint, under the key of this compile.

use super::Frame;
use super::models::models_key;
use crate::checkpoint::{Checkpoint, fingerprint};
use dspy_core::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The checkpoint of one compile, when it has one, under the key of this compile (the
/// optimizer's settings, the models, the program's state and the data): what a search saves
/// after each step and loads when it starts.
#[derive(Debug)]
pub(crate) struct Resume {
    checkpoint: Option<Checkpoint>,
    optimizer: String,
    key: String,
}

impl Resume {
    /// The checkpoint of this compile: `settings` (what changes what it finds), the models of
    /// `frame`'s options, then `rest` (the program's state, the data).
    pub(crate) fn open(frame: &Frame<'_>, settings: &Value, rest: &[&Value]) -> Self {
        let models = models_key(frame.options());
        let mut parts = vec![settings, &models];
        parts.extend_from_slice(rest);
        Resume {
            checkpoint: frame.options().checkpoint.clone(),
            optimizer: frame.report.optimizer.clone(),
            key: fingerprint(&parts),
        }
    }

    /// What was saved for this compile, if anything.
    pub(crate) fn load<S: DeserializeOwned>(&self) -> Result<Option<S>> {
        match &self.checkpoint {
            Some(checkpoint) => checkpoint.load(&self.optimizer, &self.key),
            None => Ok(None),
        }
    }

    /// Saves `state` for this compile (nothing without a checkpoint).
    pub(crate) fn save<S: Serialize>(&self, state: &S) -> Result<()> {
        match &self.checkpoint {
            Some(checkpoint) => checkpoint.save(&self.optimizer, &self.key, state),
            None => Ok(()),
        }
    }
}
