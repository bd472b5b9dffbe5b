//! Modules: the building blocks of programs. Every module is an async function from a typed
//! input to a typed output.

mod best_of_n;
mod builders;
mod call;
mod chain_of_thought;
mod config;
mod convert;
mod demo;
pub(crate) mod derive_support;
mod dyn_predictor;
mod export;
mod field_text;
mod id;
mod module_state;
mod multi_chain;
mod offer_feedback;
mod overrides;
mod parallel;
mod params;
mod predict;
mod prediction;
mod prompt_markdown;
mod prompt_view;
mod provenance;
pub mod react;
mod refine;
mod retrieve;
mod state;
mod stream;
mod then;
pub mod trace;
mod wrapper_fields;

pub use best_of_n::{BestOfN, Reward};
pub use builders::{ConfigureExt, WrapsPredict};
pub use call::run_adapter;
pub use chain_of_thought::{ChainOfThought, Reasoned, WithReasoning};
pub use config::PredictConfig;
pub use demo::{Demo, DemoState};
pub use dyn_predictor::DynPredictor;
pub use export::{ExportPrompts, ProgramPrompts};
pub use field_text::FieldText;
pub use id::PredictorId;
pub use module_state::ModuleState;
pub use multi_chain::{Compare, CompareInput, MultiChainComparison, WithRationale};
pub use offer_feedback::{OfferFeedback, OfferFeedbackInput, OfferFeedbackOutput};
pub use overrides::{CallOverrides, HINT_FIELD, with_overrides};
pub use parallel::{CallBatch, DEFAULT_CONCURRENCY, Parallel, call_batch};
pub use params::{Parameters, child_name, own_name};
pub use predict::Predict;
pub use prediction::Prediction;
pub use prompt_view::{DemoView, PromptPart, PromptView};
pub use provenance::{ChosenBy, DemoSource, Provenance, example_id, number_repeats};
pub use react::{ReAct, Tool};
pub use refine::Refine;
pub use retrieve::{Retrieve, RetrieveInput, RetrieveOutput};
pub use state::{
    FieldFingerprint, LoadReport, PredictorState, ProgramState, STATE_FORMAT_VERSION, SavedModule,
    SignatureFingerprint, TextChange, WEIGHTS_FORMAT_VERSION,
};
pub use stream::{PredictionStream, StreamEvent};
pub use then::{Map, ModuleExt, Then};
pub use trace::{FailedCall, Retrieval, Trace, TraceEntry, trace};

use crate::Result;
use std::future::Future;

/// An LM-backed step of a program, from `Input` to `Output`.
///
/// ```
/// use dspy_core::{Module, Result};
/// struct Shout;
/// impl Module for Shout {
///     type Input = String;
///     type Output = String;
///     async fn call(&self, input: String) -> Result<String> { Ok(input.to_uppercase()) }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(Shout.call("hi".into()).await.unwrap(), "HI");
/// # });
/// ```
pub trait Module: Send + Sync {
    /// What the module takes.
    type Input: Send;
    /// What the module returns.
    type Output: Send;
    /// Runs the module once.
    fn call(&self, input: Self::Input) -> impl Future<Output = Result<Self::Output>> + Send;
}
