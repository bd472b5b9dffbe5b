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
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use dspy_core::*;
/// Derives [`Parameters`] for a struct of modules, naming every predictor inside by a dotted
/// path (`answer.predict`); mark fields that are not modules `#[dspy(skip)]`.
///
/// ```
/// use dspy::prelude::*;
///
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// #[derive(Module)]
/// struct TwoStep {
///     draft: Predict<QA>,
///     answer: ChainOfThought<QA>,
///     #[dspy(skip)]
///     attempts: usize,
/// }
///
/// impl Module for TwoStep {
///     type Input = QAInput;
///     type Output = QAOutput;
///     async fn call(&self, input: QAInput) -> dspy::Result<QAOutput> {
///         let draft = self.draft.call(input.clone()).await?;
///         let refined = self.answer.call(QAInput { question: format!("{} (draft: {})", input.question, draft.answer) }).await?;
///         Ok(refined.output)
///     }
/// }
///
/// let program = TwoStep { draft: Predict::new(), answer: ChainOfThought::new(), attempts: 1 };
/// assert_eq!(program.predictor_names(), ["draft", "answer.predict"]);
/// ```
pub use dspy_macros::Module;
/// Derives [`Signature`] for a struct whose fields are marked `#[input]` or `#[output]`.
///
/// See the crate docs for an example; the generated `XInput` and `XOutput` types hold the input
/// and output fields, and `X` itself is one complete example (it implements `Serialize` and
/// `Deserialize` as one flat JSON object, so do not derive those on it).
pub use dspy_macros::Signature;
pub use dspy_optimize;

/// Everything a program needs: `use dspy::prelude::*;`.
pub mod prelude {
    pub use crate::{Module, Signature};
    pub use dspy_core::adapter::{ChatAdapter, CompletionAdapter, JsonAdapter};
    pub use dspy_core::lm::{DummyLm, LM, LanguageModel};
    pub use dspy_core::module::react::{ReActEvent, ReActStream};
    pub use dspy_core::{
        BestOfN, CallBatch, MultiChainComparison, Parallel, ReAct, Refine, Tool, WithRationale,
    };
    pub use dspy_core::{
        ChainOfThought, Demo, DynPredictor, Error, Example, Parameters, Predict, PredictConfig,
        Prediction, Reasoned, Result, SignatureInfo, WithReasoning, configure, with_lm,
    };
    pub use dspy_core::{ConfigureExt, ModuleExt, WrapsPredict};
    pub use dspy_core::{PredictionStream, StreamEvent};
    pub use dspy_optimize::{Auto, COPRO, GEPA, MIPROv2, SIMBA};
    pub use dspy_optimize::{
        Bm25, BootstrapFewShot, BootstrapFewShotWithRandomSearch, CompileReport, CompileWarning,
        Compiled, Embeddings, Ensemble, Estimate, KNNFewShot, KnnProgram, LabeledFewShot,
        Optimizer, Trial,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}
