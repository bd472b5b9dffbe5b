//! The core API as a user sees it: signatures, modules, streaming, traces, wiring, saving,
//! data, evaluation and the prompts the adapters render, all on `DummyLm` or the test server.
//!
//! One test binary of many modules, so the suite links the dependency tree a few times rather
//! than once per file. A test that changes process-wide state (`no_lm` configures the default
//! LM) re-runs itself in a process of its own (`support::alone`).

#[path = "../support/mod.rs"]
mod support;

mod builders;
mod chain_of_thought;
mod combinators;
mod data;
mod evaluate;
mod export_prompts;
mod golden_prompts;
mod module_derive;
mod no_lm;
mod predict;
mod react;
mod readme;
mod retrieve;
mod save_load;
mod saved_text;
mod signature_derive;
mod streaming;
mod streaming_modules;
mod trace;
mod wiring;
