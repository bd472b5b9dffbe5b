use super::{Adapter, FormatRequest, Formatted, Parsed};
use crate::Result;
use crate::signature::SignatureInfo;

/// DSPy's chat layout (stub).
#[derive(Debug, Clone, Default)]
pub struct CompletionAdapter {}
impl CompletionAdapter {
    /// A chat adapter.
    pub fn new() -> Self { CompletionAdapter {} }
}
impl Adapter for CompletionAdapter {
    fn name(&self) -> &'static str { "CompletionAdapter" }
    fn format(&self, _request: &FormatRequest<'_>) -> Formatted { unimplemented!() }
    fn parse(&self, _signature: &SignatureInfo, _completion: &str) -> Result<Parsed> { unimplemented!() }
}
