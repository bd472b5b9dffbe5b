use super::{BoxFuture, LanguageModel, LmRequest, LmResponse};
use crate::Result;
use serde_json::Value;

/// A scripted LM for tests (stub).
#[derive(Debug)]
pub struct DummyLm { name: String }
impl DummyLm {
    /// Answers in order.
    pub fn new(_answers: impl IntoIterator<Item = Value>) -> Self { DummyLm { name: "dummy".into() } }
    /// Renames the model.
    pub fn named(mut self, name: &str) -> Self { self.name = name.into(); self }
}
impl LanguageModel for DummyLm {
    fn model(&self) -> &str { &self.name }
    fn complete(&self, _request: LmRequest) -> BoxFuture<'_, Result<LmResponse>> { unimplemented!() }
}
