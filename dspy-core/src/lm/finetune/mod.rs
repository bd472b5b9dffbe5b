//! Fine-tuning: the weights knob. A [`Finetuner`] turns [`TrainingData`] (examples per
//! predictor, rendered by the adapter exactly as the predictor is prompted at inference) into a
//! new [`LM`](super::LM); [`Finetune`] runs one, cached by a content hash of (backend, base model,
//! data, hyperparameters), so the same data never trains twice, and resumable after a crash.
//!
//! Backends: [`OpenAiFinetuner`](super::OpenAiFinetuner) (an OpenAI-compatible fine-tuning jobs
//! API, feature `openai`), `LocalFinetuner` (LoRA on the embedded model in process, feature
//! `finetune`) and [`DummyFinetuner`] (tests).

mod data;
mod dummy;
mod finetuner;
#[cfg(feature = "finetune")]
mod lora;
mod model;
mod progress;
mod run;
mod settings;
mod store;

pub use data::TrainingData;
pub use dummy::DummyFinetuner;
pub use finetuner::{Finetuner, ProgressFn, TrainJob};
#[cfg(feature = "finetune")]
pub use lora::LocalFinetuner;
pub use model::{FinetunedModel, WeightsFile};
pub use progress::{CancelToken, TrainProgress};
pub use run::{Finetune, Finetuned};
pub use settings::{Hyperparameters, TrainBudget};
