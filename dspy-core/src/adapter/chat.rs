use super::{Adapter, FormatRequest, Formatted, Parsed};
use crate::Result;
use crate::signature::SignatureInfo;

/// DSPy's chat layout (stub).
#[derive(Debug, Clone, Default)]
pub struct ChatAdapter {}
impl ChatAdapter {
    /// A chat adapter.
    pub fn new() -> Self { ChatAdapter {} }
}
impl Adapter for ChatAdapter {
    fn name(&self) -> &'static str { "ChatAdapter" }
    fn format(&self, _request: &FormatRequest<'_>) -> Formatted { unimplemented!() }
    fn parse(&self, _signature: &SignatureInfo, _completion: &str) -> Result<Parsed> { unimplemented!() }
}
