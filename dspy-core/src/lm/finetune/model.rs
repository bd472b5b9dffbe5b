//! [`FinetunedModel`]: what a fine-tune produced, as the cache (and saved programs) record it.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a fine-tuning run produced: enough for its backend to serve the model again
/// ([`Finetuner::load`](super::Finetuner::load)) in a later process, without training.
///
/// It holds names, ids and paths, never a credential: it is written to the cache directory as
/// it is.
///
/// ```
/// use dspy_core::lm::FinetunedModel;
/// let model = FinetunedModel::new("5f1e...", "openai", "gpt-4.1-nano", "ft:gpt-4.1-nano:acme::abc123")
///     .detail("job", "ftjob-abc123")
///     .detail("trained_tokens", 42_000);
/// assert_eq!(model.model, "ft:gpt-4.1-nano:acme::abc123");
/// assert_eq!(model.details["job"], "ftjob-abc123");
/// assert!(model.check_files().is_ok()); // no files: a provider keeps the weights
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FinetunedModel {
    /// The content hash of (backend, base model, data, hyperparameters) that trained it
    /// ([`Finetune::key`](super::Finetune::key)).
    pub key: String,
    /// The backend that trained it ([`Finetuner::backend`](super::Finetuner::backend)).
    pub backend: String,
    /// The base model it was trained from.
    pub base_model: String,
    /// The model's name: what the provider serves it as (`ft:...`), or a local model's name.
    pub model: String,
    /// Files the model needs (a LoRA adapter, merged weights), each with its SHA-256.
    pub files: Vec<WeightsFile>,
    /// What the backend wants to remember: the job id, trained tokens, steps, final loss.
    pub details: Map<String, Value>,
}

impl FinetunedModel {
    /// A model named `model`, trained by `backend` from `base_model` for the run `key`, with no
    /// files and no details.
    pub fn new(
        key: impl Into<String>,
        backend: impl Into<String>,
        base_model: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        FinetunedModel {
            key: key.into(),
            backend: backend.into(),
            base_model: base_model.into(),
            model: model.into(),
            files: Vec::new(),
            details: Map::new(),
        }
    }

    /// Adds a file the model needs.
    #[must_use]
    pub fn file(mut self, file: WeightsFile) -> Self {
        self.files.push(file);
        self
    }

    /// Records a detail.
    #[must_use]
    pub fn detail(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(name.into(), value.into());
        self
    }

    /// Checks that every file is there with the content it had when trained; an
    /// [`Error::State`] names the first that is missing or changed and how to rebuild it.
    pub fn check_files(&self) -> Result<()> {
        for file in &self.files {
            file.check(&self.model)?;
        }
        Ok(())
    }
}

/// A file of fine-tuned weights, by path and content hash.
///
/// ```
/// use dspy_core::lm::WeightsFile;
/// let dir = std::env::temp_dir().join(format!("dspy-weights-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("adapter.gguf");
/// std::fs::write(&path, b"weights").unwrap();
/// let file = WeightsFile::hash(&path).unwrap();
/// assert_eq!(file.sha256.len(), 64);
/// assert!(file.check("my-model").is_ok());
/// std::fs::write(&path, b"other weights").unwrap();
/// assert!(file.check("my-model").unwrap_err().to_string().contains("changed"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsFile {
    /// Where the file is.
    pub path: PathBuf,
    /// The SHA-256 of its content, 64 hex digits.
    pub sha256: String,
}

impl WeightsFile {
    /// The file at `path`, with the hash of its content now.
    pub fn hash(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let sha256 = sha256_file(&path)?;
        Ok(WeightsFile { path, sha256 })
    }

    /// Checks the file is there with its recorded content; the [`Error::State`] names `model`,
    /// the path and how to get the weights back.
    pub fn check(&self, model: &str) -> Result<()> {
        let rebuild = "run the fine-tune (or the compile that made it) again to rebuild them";
        match sha256_file(&self.path) {
            Ok(hash) if hash == self.sha256 => Ok(()),
            Ok(_) => Err(Error::State(format!(
                "the weights of `{model}` at {} changed since they were trained (their SHA-256 \
                 differs); restore that file, or {rebuild}",
                self.path.display()
            ))),
            Err(_) => Err(Error::State(format!(
                "the weights of `{model}` are missing: {} cannot be read; {rebuild}",
                self.path.display()
            ))),
        }
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::data_caused_by(path, None, "cannot read the weights file", e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|e| Error::data_caused_by(path, None, "cannot read the weights file", e))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
