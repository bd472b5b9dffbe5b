//! dspy (facade; being written)
pub use dspy_core::*;
pub use dspy_macros::Signature;
