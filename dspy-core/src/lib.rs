//! The runtime of [dspy](https://docs.rs/dspy): typed signatures, adapters, LM clients and
//! modules.
//!
//! Most users depend on the `dspy` facade crate and write `use dspy::prelude::*;`. This crate
//! holds the layers, each depending only on the ones before it in this list:
//!
//! 0. [`util`] and the [`Error`] type: small shared pieces, below everything;
//! 1. [`signature`]: the [`Signature`] trait and its runtime description, [`SignatureInfo`];
//! 2. [`adapter`]: prompts from signatures (and the re-ask turn), typed fields from completions;
//! 3. [`lm`]: the [`LanguageModel`] trait, the [`LM`] handle, its layers and its backends;
//! 4. [`module`]: [`Module`], [`Predict`] and friends, traces and saved state;
//! 5. [`evaluate`] and [`data`]: metrics, evaluation and typed datasets.
//!
//! Inside a directory, too, the files use each other one way (`module/predict` uses
//! `module/call`, never the reverse). `tests/layers.rs` checks both and names the `use` that
//! breaks them.
// The lints are the workspace's (Cargo.toml). `unsafe_code` is denied there, not forbidden
// here as in the other crates: registering the sqlite-vec SQLite extension takes one
// `#[allow(unsafe_code)]`.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
pub mod data;
mod error;
pub mod evaluate;
pub mod lm;
pub mod module;
pub mod retrieve;
pub mod signature;
pub mod util;

pub use adapter::{Adapter, ChatAdapter, CompletionAdapter, Fix, JsonAdapter};
pub use error::{Error, FinetuneErrorKind, LmErrorKind, Result, Source};
pub use lm::{DummyLm, LM, LanguageModel, LmRequest, LmResponse, Usage, configure, with_lm};
pub use module::{BestOfN, CallBatch, MultiChainComparison, Parallel, Refine, WithRationale};
pub use module::{
    ChainOfThought, Demo, DynPredictor, Module, Parameters, Predict, PredictConfig, Prediction,
    PredictorId, ProgramState, ReAct, Reasoned, Tool, WithReasoning,
};
pub use module::{ConfigureExt, Map, ModuleExt, Then, WrapsPredict};
pub use module::{ExportPrompts, ProgramPrompts, PromptView};
pub use module::{PredictionStream, StreamEvent};
pub use signature::{
    Example, FieldSpec, Signature, SignatureInfo, SignatureValue, field_schema, type_hint,
};

/// A map that keeps the order its entries were inserted in, for signature fields whose order
/// matters to the LM (a demo's map renders as written; an answer's map keeps the LM's order).
///
/// `HashMap` fields render in a random order and `BTreeMap` fields sorted; an `IndexMap` field
/// serializes, deserializes and has a JSON schema (`dict[str, V]` in prompts, like a `HashMap`),
/// and keeps its order everywhere in between.
///
/// ```
/// use dspy_core::IndexMap;
/// let mut counts: IndexMap<String, u32> = IndexMap::new();
/// counts.insert("zebra".into(), 2);
/// counts.insert("apple".into(), 1);
/// assert_eq!(serde_json::to_string(&counts).unwrap(), r#"{"zebra":2,"apple":1}"#);
/// assert_eq!(dspy_core::FieldSpec::of::<IndexMap<String, u32>>("counts", "").type_hint, "dict[str, int]");
/// ```
pub use indexmap::IndexMap;

/// What generated code needs; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::module::ModuleState;
    pub use crate::module::child_name;
    pub use crate::module::derive_support::{IsModule, ModuleField, NeverApplies};
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
