//! Embeddings from the local model: the mean of its last hidden states over a text, computed in
//! a context of their own so the generation context keeps its cached prefixes.

use super::backend::{backend, backend_error};
use crate::Result;
use crate::lm::EmbedResponse;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use std::num::NonZeroU32;

/// Tokens of a text that count; the rest is cut (a passage's start says what it is about).
const MAX_TOKENS: usize = 512;

/// The embedding context, made on the first request (a model that is never asked to embed pays
/// nothing for it).
pub(super) struct EmbedContext<'m> {
    ctx: Option<LlamaContext<'m>>,
    batch: LlamaBatch<'static>,
    threads: i32,
}

impl<'m> EmbedContext<'m> {
    pub(super) fn new(threads: i32) -> Self {
        EmbedContext {
            ctx: None,
            batch: LlamaBatch::new(MAX_TOKENS, 1),
            threads,
        }
    }

    /// One mean-pooled vector per text, in order, and the tokens read.
    pub(super) fn embed(
        &mut self,
        model: &'m LlamaModel,
        texts: &[String],
    ) -> Result<EmbedResponse> {
        let mut response = EmbedResponse::default();
        for text in texts {
            let (vector, tokens) = self.embed_one(model, text)?;
            response.vectors.push(vector);
            response.usage.prompt_tokens += tokens as u64;
        }
        Ok(response)
    }

    /// A text's vector and how many tokens it was.
    fn embed_one(&mut self, model: &'m LlamaModel, text: &str) -> Result<(Vec<f32>, usize)> {
        let threads = self.threads;
        let ctx = match &mut self.ctx {
            Some(ctx) => ctx,
            slot => slot.insert(context(model, threads)?),
        };
        let mut tokens = model.vocab().tokenize(text.as_bytes(), true, false);
        tokens.truncate(MAX_TOKENS);
        ctx.clear_kv_cache();
        self.batch.clear();
        for (pos, token) in tokens.iter().enumerate() {
            // Every position is an output: pooling averages over all of them.
            self.batch
                .add(*token, pos as i32, &[0], true)
                .map_err(backend_error)?;
        }
        if tokens.is_empty() {
            return Ok((vec![0.0; usize::try_from(model.n_embd()).unwrap_or(0)], 0));
        }
        ctx.decode(&mut self.batch).map_err(backend_error)?;
        let vector = ctx.embeddings_seq_ith(0).map_err(backend_error)?.to_vec();
        Ok((vector, tokens.len()))
    }
}

fn context<'m>(model: &'m LlamaModel, threads: i32) -> Result<LlamaContext<'m>> {
    let backend = backend().map_err(backend_error)?;
    let size = MAX_TOKENS as u32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(size))
        .with_n_batch(size)
        .with_n_ubatch(size)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        .with_embeddings(true)
        .with_pooling_type(LlamaPoolingType::Mean);
    model.new_context(backend, params).map_err(backend_error)
}
