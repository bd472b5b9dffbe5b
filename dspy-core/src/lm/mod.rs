//! Language models: one object-safe trait for every backend, and the [`LM`] handle users hold.

mod dummy;
mod handle;
#[cfg(feature = "local")]
mod local;
#[cfg(feature = "openai")]
mod openai;
mod request;
mod settings;

pub use dummy::DummyLm;
pub use handle::{BoxFuture, LM, LanguageModel};
#[cfg(feature = "local")]
pub use local::{LocalLm, LocalLmBuilder, LocalStats};
#[cfg(feature = "openai")]
pub use openai::{Mode, OpenAiLm, OpenAiLmBuilder};
pub use request::{Capabilities, Choice, FinishReason, LmRequest, LmResponse, Usage};
pub use settings::{configure, current_lm, with_lm};
