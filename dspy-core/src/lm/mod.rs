//! Language models: one object-safe trait for every backend, and the [`LM`] handle users hold.

mod builder;
mod dummy;
mod embed_request;
mod embedder;
mod finetune;
mod handle;
mod language_model;
pub mod layers;
#[cfg(feature = "local")]
mod local;
#[cfg(feature = "openai")]
mod openai;
mod presets;
mod request;
mod settings;
mod stream;

pub use builder::{DEFAULT_HISTORY, DEFAULT_MAX_IN_FLIGHT, LmBuilder};
pub use dummy::DummyLm;
pub use embed_request::{EmbedRequest, EmbedResponse};
pub(crate) use embedder::normalized;
pub use embedder::{Embedder, embed_normalized};
#[cfg(feature = "finetune")]
pub use finetune::LocalFinetuner;
pub use finetune::{
    CancelToken, DummyFinetuner, Finetune, Finetuned, FinetunedModel, Finetuner, Hyperparameters,
    ProgressFn, TrainBudget, TrainJob, TrainProgress, TrainingData, WeightsFile,
};
pub use handle::LM;
pub use language_model::{BoxFuture, LanguageModel};
pub use layers::{
    Budget, CacheConfig, CacheLayer, Clock, HistoryEntry, LimitLayer, Price, PriceTable,
    RetryLayer, RetryPolicy, RpmLayer, TokioClock, UsageReport, canonical_json, current_usage,
    embed_key, format_history, request_key, track_usage,
};
#[cfg(feature = "local")]
pub use local::{LocalLm, LocalLmBuilder, LocalStats, THREADS_VAR as LOCAL_THREADS_VAR};
#[cfg(feature = "openai")]
pub use openai::{Mode, OpenAiEmbedder, OpenAiFinetuner, OpenAiLm, OpenAiLmBuilder, TIMEOUT_VAR};
pub use request::{Capabilities, Choice, FinishReason, LmRequest, LmResponse, Usage};
pub use settings::{configure, current_lm, inspect_history, with_lm, with_lm_sync};
pub use stream::{ChunkStream, LmChunk, response_stream};
pub(crate) use stream::{Yielder, generate};
