//! An adapter wrapper for the agent step: prompts show the tool names as a closed set, but a
//! name outside it (or arguments that are not an object) still parse, so the loop can answer
//! them with an observation instead of failing the step. The answer is decoded under the step's
//! own schema, whose arguments are one of the tools'.

use super::signatures::{TOOL_ARGS, TOOL_NAME};
use crate::adapter::{Adapter, FormatRequest, Formatted, Parsed, ResponseSchema};
use crate::signature::SignatureInfo;
use crate::{Error, Result};
use std::sync::Arc;

#[derive(Debug)]
pub(super) struct LenientStep {
    inner: Arc<dyn Adapter>,
    /// The step signature with `next_tool_name` as any text and `next_tool_args` as any value.
    relaxed: &'static SignatureInfo,
    /// The schema answers are decoded under, where the adapter sends one: the arguments one of
    /// the tools' (see `signatures::answer_schema`).
    schema: Arc<ResponseSchema>,
}

impl LenientStep {
    pub(super) fn wrap(
        inner: Arc<dyn Adapter>,
        relaxed: &'static SignatureInfo,
        schema: Arc<ResponseSchema>,
    ) -> Arc<dyn Adapter> {
        Arc::new(LenientStep {
            inner,
            relaxed,
            schema,
        })
    }
}

impl Adapter for LenientStep {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn format(&self, request: &FormatRequest<'_>) -> Formatted {
        let mut formatted = self.inner.format(request);
        if formatted.response_schema.is_some() {
            formatted.response_schema = Some((*self.schema).clone());
        }
        formatted
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
            .map(|inner| LenientStep::wrap(inner, self.relaxed, self.schema.clone()))
    }

    fn reask_on_error(&self) -> bool {
        self.inner.reask_on_error()
    }
}
