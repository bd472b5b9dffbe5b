//! # dspy — DSPy for Rust, built around types
//!
//! Declare *what* each LM call must do as a Rust struct, compose calls into ordinary async Rust
//! programs, and let an optimizer *compile* the prompts. Prompts are an artifact of compilation,
//! never hand-written.
//!
//! ```
//! use dspy::prelude::*;
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
//! #[serde(rename_all = "lowercase")]
//! enum Sentiment { Positive, Negative, Neutral }
//!
//! /// Classify the sentiment of a product review.
//! #[derive(Signature, Clone, Debug)]
//! struct Review {
//!     #[input(desc = "the review text")]
//!     text: String,
//!     #[output]
//!     sentiment: Sentiment,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // A scripted LM; use `LM::from_env()?` for a real one.
//! let lm = LM::new(DummyLm::new([serde_json::json!({"sentiment": "positive"})]));
//! dspy::with_lm(lm, async {
//!     let classify = Predict::<Review>::new();
//!     let out = classify.call(ReviewInput { text: "Works great!".into() }).await?;
//!     assert_eq!(out.sentiment, Sentiment::Positive);
//!     Ok::<_, dspy::Error>(())
//! }).await.unwrap();
//! # });
//! ```
//!
//! The crates behind the facade: [`dspy_core`] (signatures, adapters, LMs, modules),
//! `dspy-macros` (the derives) and [`dspy_optimize`] (optimizers).
#![warn(missing_docs)]

pub use dspy_core::*;
/// Derives [`Signature`] for a struct whose fields are marked `#[input]` or `#[output]`.
///
/// See the crate docs for an example; the generated `XInput` and `XOutput` types hold the input
/// and output fields, and `X` itself is one complete example (it implements `Serialize` and
/// `Deserialize` as one flat JSON object, so do not derive those on it).
pub use dspy_macros::Signature;
pub use dspy_optimize;

/// Everything a program needs: `use dspy::prelude::*;`.
pub mod prelude {
    pub use crate::Signature;
    pub use dspy_core::adapter::{ChatAdapter, CompletionAdapter, JsonAdapter};
    pub use dspy_core::lm::{DummyLm, LM, LanguageModel};
    pub use dspy_core::{
        ChainOfThought, DynPredictor, Error, Example, Module, ModuleExt, Parameters, Predict,
        PredictConfig, Prediction, Reasoned, Result, SignatureInfo, WithReasoning, configure,
        with_lm,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}
