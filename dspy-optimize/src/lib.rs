//! Optimizers ("teleprompters") for dspy: they compile a program into one that scores higher on
//! a metric, by choosing few-shot demonstrations, rewriting instructions and fine-tuning weights.
//!
//! Every optimizer takes a program `P: Module + Parameters + Clone`, a training set of examples
//! `E: Example<Input = P::Input>` (a signature struct is one) and, where it scores runs, a metric
//! over `(example, output)`; it returns a [`Compiled<P>`]: a new program, with a
//! [`CompileReport`] of its trials. The program given is never changed.
//!
//! | optimizer | what it does | LM calls |
//! |---|---|---|
//! | [`LabeledFewShot`] | `k` training examples as demos | none |
//! | [`BootstrapFewShot`] | demos from the traces of runs the metric accepts, then labeled ones | one run per example until enough pass |
//! | [`BootstrapFewShotWithRandomSearch`] | zero-shot, labeled, and bootstrapped candidates from shuffled sets, best on a validation set | bootstrapping plus one evaluation per candidate |
//! | [`COPRO`] | instructions proposed by a prompt model, refined over rounds from their scores, per predictor | proposals, plus one evaluation per candidate and round |
//! | [`MIPROv2`] | grounded instruction proposals and demo sets, combined by Bayesian (TPE) search on minibatches | bootstrapping, proposals, one minibatch per trial, periodic full evaluations |
//! | [`KNNFewShot`] | per input, the `k` most similar training examples as demos (BM25 or embeddings) | none at compile time |
//! | [`GEPA`] | instructions evolved by an LM reflecting on runs and metric feedback, over a Pareto frontier of candidates | a metric-call budget: minibatches, validation passes, one reflection per iteration |
//! | [`SIMBA`] | demos and LM-written rules added where the program's own runs disagree, step by step on minibatches | per step: `num_candidates` runs per example, one rule per bucket, the new programs on the minibatch |
//! | [`Ensemble`] | several programs, one answer (majority or your reduce) | one per program per call |
//! | [`BootstrapFinetune`] | the LM fine-tuned on the calls of the runs the metric accepts, per predictor | one teacher run per example, then training through a [`Finetuner`](dspy_core::lm::Finetuner) |
//! | [`BetterTogether`] | a prompt optimizer and BootstrapFinetune chained (`"p -> w -> p"`), the best step kept | each step's, plus one validation pass per program |
//!
//! Shared behaviour:
//!
//! - **Deterministic**: every optimizer takes a seed (default 0) and all randomness comes from
//!   [`dspy_core::data::Rng`]; runs go concurrently but their outcomes are taken in a fixed
//!   order, so with a deterministic LM the same seed gives the same program.
//! - **Failures are data**: a run whose answer does not parse, or whose LM call fails, is a
//!   failed example (score 0, recorded in the report), never a failed compile. Only errors that
//!   no further call could fix (no LM configured, a rejected API key) end a compile with `Err`.
//! - **Budgets**: when the LM's [`Budget`](dspy_core::lm::Budget) runs out, the compile stops and
//!   returns the best program found so far, with
//!   [`CompileReport::stopped_by_budget`] set — not an error.
//! - **Progress**: a bar per phase with the best score so far, drawn only on a terminal;
//!   `.progress(false)` hides it.
//! - **Instruction optimizers** ([`COPRO`], [`MIPROv2`], [`SIMBA`], [`GEPA`]) make their own
//!   LM calls (proposals, summaries, reflections) through signatures of their own, on a
//!   separate prompt model when given one (`.prompt_model(lm)`; GEPA's `.reflection_lm(lm)`),
//!   and resume a killed compile from `.checkpoint(path)` (see [`checkpoint`]), as
//!   [`BootstrapFewShotWithRandomSearch`] does, candidate by candidate.
//! - **One chassis**: every optimizer is a [`Search`](search::Search) (its algorithm) with the
//!   shared [`SearchOptions`](search::SearchOptions) (its setters say the same everywhere), and
//!   gets [`Optimizer`] from it: `compile`, `compile_with_valset`, the report's usage and time
//!   (the optimizers also have them as methods of their own, so the trait need not be in scope).
//!
//! ```
//! use dspy_core::{DummyLm, LM, Parameters, Predict};
//! use dspy_optimize::{BootstrapFewShot, Optimizer};
//! use serde_json::json;
//! # use dspy_macros::Signature;
//! # #[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
//! # #[serde(rename_all = "lowercase")]
//! # enum Kind { Human, Location }
//! /// Classify the question by the kind of answer it expects.
//! #[derive(Signature, Clone, Debug)]
//! # #[dspy(crate = "dspy_core")]
//! struct Classify { #[input] question: String, #[output] label: Kind }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let lm = LM::new(DummyLm::keyed([("Who", json!({"label": "human"})), ("Where", json!({"label": "location"}))]));
//! dspy_core::configure(lm);
//! let trainset = vec![
//!     Classify { question: "Who was Galileo ?".into(), label: Kind::Human },
//!     Classify { question: "Where is Aspen ?".into(), label: Kind::Location },
//! ];
//! let metric = |ex: &Classify, out: &ClassifyOutput| ex.label == out.label;
//! let compiled = BootstrapFewShot::new(metric).progress(false)
//!     .compile(&Predict::<Classify>::new(), &trainset).await.unwrap();
//! assert_eq!(compiled.demos.len(), 2);
//! println!("{}", compiled.report);
//! # });
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::too_many_lines)]

mod auto;
mod better_together;
mod bootstrap;
pub mod checkpoint;
mod compiled;
mod copro;
mod ensemble;
mod finetune;
mod gepa;
pub mod knn;
mod labeled;
pub mod migrate;
mod mipro;
mod optimizer;
mod random_search;
mod report;
pub mod search;
mod simba;

pub use auto::Auto;
pub use better_together::BetterTogether;
pub use bootstrap::BootstrapFewShot;
pub use compiled::Compiled;
pub use copro::COPRO;
pub use dspy_core;
pub use ensemble::{Ensemble, EnsembleProgram, Majority, Reduce};
pub use finetune::BootstrapFinetune;
pub use gepa::{CandidateSelection, GEPA};
#[cfg(feature = "openai")]
pub use knn::OpenAiEmbedder;
pub use knn::{Bm25, Embedder, Embeddings, KNNFewShot, KnnProgram, NeighborIndex, Similarity};
pub use labeled::LabeledFewShot;
pub use migrate::{Migrate, Migration, ModelRun, migrate};
pub use mipro::MIPROv2;
pub use optimizer::Optimizer;
pub use random_search::BootstrapFewShotWithRandomSearch;
pub use report::{CompileReport, CompileWarning, Trial};
pub use search::estimate::Estimate;
pub use simba::SIMBA;
