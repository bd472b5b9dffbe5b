//! The LM client: its layers (cache, retries, limits, usage, history) and the OpenAI-compatible
//! backend over real HTTP, against the test server in tests/support.
//!
//! Secrets in logs and spans (`secrets`) are tested in a process of their own
//! (`support::alone`): a tracing subscriber is process-wide state that tests running beside it
//! would race with.

#[path = "../support/mod.rs"]
mod support;

mod embeddings;
mod layers;
mod openai_http;
mod secrets;
