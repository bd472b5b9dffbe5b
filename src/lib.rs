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
//! ## Retrieval
//!
//! A [`Retrieve`](dspy_core::module::Retrieve) step over any
//! [`Retriever`](dspy_core::retrieve::Retriever), then a predictor reading what it found (the
//! README's example, kept identical by a test):
//!
//! ```
//! use dspy::prelude::*;
//! use dspy::module::RetrieveInput;
//!
//! /// Name the Debian package the question asks for, from the descriptions given.
//! #[derive(Signature, Clone, Debug)]
//! struct Answer {
//!     #[input]
//!     context: Vec<String>,
//!     #[input]
//!     question: String,
//!     #[output]
//!     package: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> dspy::Result<()> {
//!     // A scripted LM, so this runs as it is; LM::from_env()? for a real one.
//!     dspy::configure(LM::new(DummyLm::new([serde_json::json!({"package": "rsync"})])));
//!     let index = Bm25Index::from_passages([
//!         Passage::new("curl", "curl: a command line tool for transferring data with URL syntax"),
//!         Passage::new("rsync", "rsync: fast, versatile, remote (and local) file-copying tool"),
//!     ]);
//!     // By meaning instead: VectorIndex::build(LM::openai("text-embedding-3-small")?, passages).await?
//!     let retrieve = Retrieve::new(index).k(1);
//!     let question = "Which package is a remote file copying tool?";
//!     let found = retrieve.call(RetrieveInput::from(question)).await?;
//!     assert_eq!(found.passages[0].id, "rsync");
//!     let answer = Predict::<Answer>::new();
//!     let out = answer
//!         .call(AnswerInput { context: found.context, question: question.into() })
//!         .await?;
//!     assert_eq!(out.package, "rsync");
//!     Ok(())
//! }
//! ```
//!
//! ## Fine-tuning
//!
//! A [`Finetuner`](dspy_core::lm::Finetuner) turns [`TrainingData`](dspy_core::lm::TrainingData),
//! rendered by each predictor's adapter exactly as it prompts at inference, into a new LM;
//! [`Finetune`](dspy_core::lm::Finetune) runs one, cached by a content hash (the README's
//! example, kept identical by a test):
//!
//! ```
//! use dspy::lm::{DummyFinetuner, Hyperparameters};
//! use dspy::prelude::*;
//!
//! /// Classify the question by the kind of answer it expects.
//! #[derive(Signature, Clone, Debug)]
//! struct Classify {
//!     #[input]
//!     question: String,
//!     #[output]
//!     label: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> dspy::Result<()> {
//!     let classify = Predict::<Classify>::new().with_adapter(ChatAdapter::new());
//!     // Runs that passed the metric, rendered as the predictor prompts at inference.
//!     let mut data = TrainingData::new();
//!     for (question, label) in [("Who was Galileo?", "HUM"), ("How far is the Moon?", "NUM")] {
//!         let input = ClassifyInput { question: question.into() };
//!         let output = ClassifyOutput { label: label.into() };
//!         data.push("classify", classify.training_example(&input, &output)?);
//!     }
//!     // Trains nothing and serves a scripted LM, so this runs as it is;
//!     // OpenAiFinetuner::from_env("gpt-4.1-nano-2025-04-14")? runs a real job.
//!     let answers = DummyLm::new([serde_json::json!({"label": "HUM"})]);
//!     let finetuner = DummyFinetuner::new(LM::new(answers));
//!     let tuned = Finetune::new(&data)
//!         .hyperparameters(Hyperparameters::new().epochs(3))
//!         .no_cache() // by default, runs are cached under dspy's cache directory
//!         .on_progress(|p| eprintln!("{p}"))
//!         .run(&finetuner)
//!         .await?;
//!     let classify = classify.with_lm(tuned.lm);
//!     let out = classify.call(ClassifyInput { question: "Who wrote Hamlet?".into() }).await?;
//!     assert_eq!(out.label, "HUM");
//!     Ok(())
//! }
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
    pub use dspy_core::lm::Embedder;
    pub use dspy_core::lm::{DummyLm, LM, LanguageModel};
    pub use dspy_core::lm::{Finetune, Finetuner, TrainingData};
    pub use dspy_core::module::Retrieve;
    pub use dspy_core::module::react::{ReActEvent, ReActStream};
    #[cfg(feature = "sqlite")]
    pub use dspy_core::retrieve::SqliteStore;
    pub use dspy_core::retrieve::{Bm25Index, Passage, Retriever, VectorIndex};
    pub use dspy_core::{
        BestOfN, CallBatch, MultiChainComparison, Parallel, ReAct, Refine, Tool, WithRationale,
    };
    pub use dspy_core::{
        ChainOfThought, Demo, DynPredictor, Error, Example, Parameters, Predict, PredictConfig,
        Prediction, Reasoned, Result, SignatureInfo, WithReasoning, configure, with_lm,
    };
    pub use dspy_core::{ConfigureExt, ExportPrompts, ModuleExt, WrapsPredict};
    pub use dspy_core::{PredictionStream, StreamEvent};
    pub use dspy_optimize::{Auto, BetterTogether, BootstrapFinetune, COPRO, GEPA, MIPROv2, SIMBA};
    pub use dspy_optimize::{
        Bm25, BootstrapFewShot, BootstrapFewShotWithRandomSearch, CompileReport, CompileWarning,
        Compiled, Embeddings, Ensemble, Estimate, KNNFewShot, KnnProgram, LabeledFewShot,
        Optimizer, Trial,
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}
