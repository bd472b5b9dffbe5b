//! An adapter wrapper for the agent step: prompts show the tool names as a closed set, but a
//! name outside it (or arguments that are not an object) still parse, so the loop can answer
//! them with an observation instead of failing the step.

use super::signatures::{TOOL_ARGS, TOOL_NAME};
use crate::adapter::{Adapter, FormatRequest, Formatted, Parsed};
use crate::signature::SignatureInfo;
use crate::{Error, Result};
use std::sync::Arc;

#[derive(Debug)]
pub(super) struct LenientStep {
    inner: Arc<dyn Adapter>,
    /// The step signature with `next_tool_name` as any text and `next_tool_args` as any value.
    relaxed: &'static SignatureInfo,
}

impl LenientStep {
    pub(super) fn wrap(
        inner: Arc<dyn Adapter>,
        relaxed: &'static SignatureInfo,
    ) -> Arc<dyn Adapter> {
        Arc::new(LenientStep { inner, relaxed })
    }
}

impl Adapter for LenientStep {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn format(&self, request: &FormatRequest<'_>) -> Formatted {
        self.inner.format(request)
    }

    fn parse(&self, signature: &SignatureInfo, completion: &str) -> Result<Parsed> {
        match self.inner.parse(signature, completion) {
            // Strict parsing still runs first: it maps `Search` or `'search'` to `search`.
            Err(Error::Parse { field, raw, tried }) if field == TOOL_NAME || field == TOOL_ARGS => {
                self.inner
                    .parse(self.relaxed, completion)
                    .map_err(|_| Error::Parse { field, raw, tried })
            }
            other => other,
        }
    }

    fn fallback(&self) -> Option<Arc<dyn Adapter>> {
        self.inner
            .fallback()
            .map(|inner| LenientStep::wrap(inner, self.relaxed))
    }

    fn reask_on_error(&self) -> bool {
        self.inner.reask_on_error()
    }
}
