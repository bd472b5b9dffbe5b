//! The LM client: its layers (cache, retries, limits, usage, history), the OpenAI-compatible
//! backend over real HTTP against the test server in tests/support, and fine-tuning (training
//! data rendered by the adapters; jobs on the test server's fine-tuning API).
//!
//! Secrets in logs and spans (`secrets`) are tested in a process of their own
//! (`support::alone`): a tracing subscriber is process-wide state that tests running beside it
//! would race with.

#[path = "../support/mod.rs"]
mod support;

mod embeddings;
mod finetune;
mod layers;
mod openai_http;
mod secrets;
mod training_data;
