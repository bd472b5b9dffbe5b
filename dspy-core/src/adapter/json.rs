use super::{Adapter, FormatRequest, Formatted, Parsed};
use crate::Result;
use crate::signature::SignatureInfo;

/// DSPy's chat layout (stub).
#[derive(Debug, Clone, Default)]
pub struct JsonAdapter {}
impl JsonAdapter {
    /// A chat adapter.
    pub fn new() -> Self { JsonAdapter {} }
}
impl Adapter for JsonAdapter {
    fn name(&self) -> &'static str { "JsonAdapter" }
    fn format(&self, _request: &FormatRequest<'_>) -> Formatted { unimplemented!() }
    fn parse(&self, _signature: &SignatureInfo, _completion: &str) -> Result<Parsed> { unimplemented!() }
}
