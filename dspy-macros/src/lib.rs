//! Derive macros for dspy (stub).
use proc_macro::TokenStream;

/// Derives `Signature`.
#[proc_macro_derive(Signature, attributes(input, output, dspy, serde))]
pub fn derive_signature(_input: TokenStream) -> TokenStream { TokenStream::new() }
