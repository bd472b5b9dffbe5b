//! Training text as the engine's tokens: a fine-tune must see a prompt in exactly the tokens
//! the engine feeds the model at inference.

use super::backend::backend;
use crate::adapter::Prompt;
use crate::{Error, Result};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use std::path::Path;

/// Each (prompt, completion) pair as (tokens, how many are the prompt's), by the vocabulary of
/// the GGUF at `model` (loaded vocabulary only). The prompt is tokenized as the engine does (a
/// BOS first, text prompts as they are); the completion on its own after it, as the model
/// generates it. Blocks: call it off the async runtime.
pub(crate) fn tokenize_examples(
    model: &Path,
    examples: &[(Prompt, String)],
) -> Result<Vec<(Vec<u32>, usize)>> {
    let backend =
        backend().map_err(|m| Error::config(format!("llama.cpp failed to start: {m}")))?;
    let params = LlamaModelParams::default().with_vocab_only(true);
    let model = LlamaModel::load_from_file(backend, model, &params).map_err(|e| {
        Error::config(format!(
            "cannot read the vocabulary of {}: {e}",
            model.display()
        ))
    })?;
    let vocab = model.vocab();
    let ids = |tokens: Vec<llama_cpp_2::token::LlamaToken>| {
        tokens.into_iter().map(|t| t.0 as u32).collect::<Vec<u32>>()
    };
    Ok(examples
        .iter()
        .map(|(prompt, completion)| {
            let mut tokens =
                ids(vocab.tokenize(super::engine::prompt_text(prompt).as_bytes(), true, false));
            let prompt_len = tokens.len();
            tokens.extend(ids(vocab.tokenize(completion.as_bytes(), false, false)));
            (tokens, prompt_len)
        })
        .collect())
}
