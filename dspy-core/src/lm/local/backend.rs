//! llama.cpp's process-wide backend, and its failures as errors: what the engine and the
//! embedding context both need.

use crate::{Error, LmErrorKind};
use llama_cpp_2::llama_backend::LlamaBackend;
use std::sync::OnceLock;

/// llama.cpp's backend may be initialized once per process.
pub(super) fn backend() -> std::result::Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A llama.cpp failure as an [`Error::Lm`] of kind [`LmErrorKind::Backend`].
pub(super) fn backend_error(e: impl std::fmt::Display) -> Error {
    Error::lm(LmErrorKind::Backend, format!("local model: {e}"))
}
