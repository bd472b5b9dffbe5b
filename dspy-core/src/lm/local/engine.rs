//! The thread that owns the model and its context. Requests arrive through a channel and are
//! served one at a time in arrival order (fair, and the KV cache stays one coherent sequence);
//! each answer goes back through a oneshot channel, so no caller ever blocks the async runtime.

use super::backend::{backend, backend_error};
use super::grammar::answer_grammar;
use super::prefix::Slots;
use super::sample::{Allowed, CheckStats, Pick, Sampler, TokenId};
use super::{LocalStats, ModelSource};
use crate::adapter::{Message, Prompt, Role};
use crate::lm::{Choice, EmbedResponse, FinishReason, LmRequest, LmResponse, Usage};
use crate::{Error, LmErrorKind, Result};
use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;
use tokio::sync::oneshot;

/// Tokens generated when a request sets no limit.
const DEFAULT_MAX_TOKENS: usize = 512;
/// Compiled grammars kept for reuse (optimizers send the same signature again and again).
const GRAMMAR_CACHE: usize = 32;

/// How to run the model.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    pub source: ModelSource,
    pub threads: i32,
    pub context_size: u32,
    pub batch_size: u32,
    pub seed: u64,
    /// An instruction-tuned model: chat messages go through its own chat template.
    pub chat: bool,
    /// Prompt prefixes kept at once, one KV-cache sequence each.
    pub prefix_slots: u32,
    /// A LoRA adapter file applied at load, with its scale.
    pub lora: Option<(PathBuf, f32)>,
}

/// Work for the engine thread.
pub(crate) enum Job {
    Complete {
        request: Box<LmRequest>,
        reply: oneshot::Sender<Result<LmResponse>>,
    },
    /// Answered once the model is loaded (or failed to load), with its path.
    Ready {
        reply: oneshot::Sender<Result<PathBuf>>,
    },
    /// One mean-pooled embedding per text.
    Embed {
        texts: Vec<String>,
        reply: oneshot::Sender<Result<EmbedResponse>>,
    },
}

impl Job {
    /// Answers the job with the load failure.
    fn fail(self, failure: &LoadFailure) {
        match self {
            Job::Complete { reply, .. } => drop(reply.send(Err(failure.error()))),
            Job::Ready { reply } => drop(reply.send(Err(failure.error()))),
            Job::Embed { reply, .. } => drop(reply.send(Err(failure.error()))),
        }
    }
}

/// Starts the engine thread. It loads (and first fetches, if needed) the model, then serves jobs
/// until every sender is dropped.
pub(crate) fn spawn(
    config: EngineConfig,
    stats: Arc<Mutex<LocalStats>>,
) -> Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("dspy-local-lm".into())
        .spawn(move || run(config, rx, stats))
        .map_err(|e| {
            Error::lm(
                LmErrorKind::Backend,
                format!("cannot start the local model thread: {e}"),
            )
        })?;
    Ok(tx)
}

/// A load failure, kept so every later request can be told (an [`Error`] is not `Clone`).
#[derive(Debug, Clone)]
struct LoadFailure {
    config: bool,
    message: String,
}

impl LoadFailure {
    fn error(&self) -> Error {
        if self.config {
            Error::Config(self.message.clone())
        } else {
            Error::lm(LmErrorKind::Backend, self.message.clone())
        }
    }
}

fn run(config: EngineConfig, rx: mpsc::Receiver<Job>, stats: Arc<Mutex<LocalStats>>) {
    let loaded = load(&config);
    let (path, mut model) = match loaded {
        Ok(loaded) => loaded,
        Err(failure) => {
            rx.into_iter().for_each(|job| job.fail(&failure));
            return;
        }
    };
    // Freed with the model (llama.cpp keeps a model's adapters), so it lives as long.
    let mut adapter = match config.lora.as_ref().map(|(p, _)| init_lora(&mut model, p)) {
        Some(Err(failure)) => {
            rx.into_iter().for_each(|job| job.fail(&failure));
            return;
        }
        Some(Ok(adapter)) => Some(adapter),
        None => None,
    };
    let lora = adapter.as_mut().zip(config.lora.as_ref().map(|(_, s)| *s));
    let mut engine = match Engine::new(&model, &config, stats, lora) {
        Ok(engine) => engine,
        Err(failure) => {
            rx.into_iter().for_each(|job| job.fail(&failure));
            return;
        }
    };
    let mut embedder = super::embed::EmbedContext::new(config.threads);
    for job in rx {
        match job {
            Job::Embed { texts, reply } => {
                if !reply.is_closed() {
                    let _ = reply.send(embedder.embed(&model, &texts));
                }
            }
            Job::Complete { request, reply } => {
                // The caller gave up (a timeout, a cancelled task): skip the work.
                if reply.is_closed() {
                    continue;
                }
                let result = engine.complete(&request);
                let _ = reply.send(result);
            }
            Job::Ready { reply } => drop(reply.send(Ok(path.clone()))),
        }
    }
}

fn fetch_failure(e: Error) -> LoadFailure {
    LoadFailure {
        config: true,
        message: match e {
            Error::Config(m) => m,
            other => other.to_string(),
        },
    }
}

fn load(config: &EngineConfig) -> std::result::Result<(PathBuf, LlamaModel), LoadFailure> {
    let path = match &config.source {
        ModelSource::Path(path) => path.clone(),
        ModelSource::Default => super::fetch::resolve_default_model().map_err(fetch_failure)?,
        ModelSource::Instruct => super::fetch::resolve_instruct_model().map_err(fetch_failure)?,
    };
    if !path.is_file() {
        return Err(LoadFailure {
            config: true,
            message: format!("the local model file {} does not exist", path.display()),
        });
    }
    let backend = backend().map_err(|message| LoadFailure {
        config: false,
        message: format!("llama.cpp failed to start: {message}"),
    })?;
    let model = LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default())
        .map_err(|e| LoadFailure {
            config: true,
            message: format!(
                "cannot load {} as a GGUF model ({e}); check the file, or unset DSPY_LOCAL_MODEL to \
                 use the default model",
                path.display()
            ),
        })?;
    Ok((path, model))
}

/// Reads a LoRA adapter file for `model`.
fn init_lora(
    model: &mut LlamaModel,
    path: &std::path::Path,
) -> std::result::Result<LlamaLoraAdapter, LoadFailure> {
    let failure = |why: String| LoadFailure {
        config: true,
        message: format!(
            "cannot apply the LoRA adapter {} ({why}); check it was trained for this model",
            path.display()
        ),
    };
    if !path.is_file() {
        return Err(failure("no such file".into()));
    }
    model
        .lora_adapter_init(path)
        .map_err(|e| failure(e.to_string()))
}

struct Engine<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    /// What each KV-cache sequence holds.
    slots: Slots<LlamaToken>,
    /// The sequence the current request runs in.
    seq: usize,
    grammars: HashMap<String, Option<LlamaSampler>>,
    /// The model's chat template, in chat mode.
    template: Option<LlamaChatTemplate>,
    seed: u64,
    stats: Arc<Mutex<LocalStats>>,
}

impl<'m> Engine<'m> {
    fn new(
        model: &'m LlamaModel,
        config: &EngineConfig,
        stats: Arc<Mutex<LocalStats>>,
        lora: Option<(&mut LlamaLoraAdapter, f32)>,
    ) -> std::result::Result<Self, LoadFailure> {
        let backend = backend().map_err(|message| LoadFailure {
            config: false,
            message,
        })?;
        let context_size = config.context_size.min(model.n_ctx_train().max(1));
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(context_size))
            .with_n_batch(config.batch_size)
            .with_n_ubatch(config.batch_size)
            .with_n_threads(config.threads)
            .with_n_threads_batch(config.threads)
            .with_n_seq_max(config.prefix_slots.max(1))
            // One pool of cells for every sequence, so one long prompt can use all of it.
            .with_kv_unified(true)
            // Keep every position of sliding-window layers, so a cached prefix can be cut
            // anywhere and reused.
            .with_swa_full(true);
        let mut ctx = model.new_context(backend, params).map_err(|e| LoadFailure {
            config: false,
            message: format!("cannot create a context of {context_size} tokens: {e}; try a smaller context_size"),
        })?;
        if let Some((adapter, scale)) = lora {
            ctx.lora_adapter_set(adapter, scale)
                .map_err(|e| LoadFailure {
                    config: true,
                    message: format!("llama.cpp refused the LoRA adapter: {e}"),
                })?;
        }
        let template = match config.chat {
            false => None,
            true => Some(model.chat_template(None).map_err(|e| LoadFailure {
                config: true,
                message: format!(
                    "the model has no usable chat template ({e}); it may be a base model: build \
                     the LocalLm without .chat(true)"
                ),
            })?),
        };
        Ok(Engine {
            model,
            template,
            ctx,
            batch: LlamaBatch::new(config.batch_size as usize, 1),
            batch_size: config.batch_size as usize,
            slots: Slots::new(config.prefix_slots as usize),
            seq: 0,
            grammars: HashMap::new(),
            seed: config.seed,
            stats,
        })
    }

    fn complete(&mut self, request: &LmRequest) -> Result<LmResponse> {
        let result = self.try_complete(request);
        if result.is_err() {
            // A failed decode may leave the cache half-written: start clean next time.
            self.ctx.clear_kv_cache();
            self.slots.clear();
        }
        result
    }

    fn try_complete(&mut self, request: &LmRequest) -> Result<LmResponse> {
        let (text, special) = match (&self.template, &request.prompt) {
            (Some(template), Prompt::Chat(messages)) => (self.chat_text(template, messages)?, true),
            _ => (prompt_text(&request.prompt), false),
        };
        let vocab = self.model.vocab();
        // A chat template writes its turn markers as text: they must become special tokens.
        let tokens = vocab.tokenize(text.as_bytes(), true, special);
        let n_ctx = self.ctx.n_ctx() as usize;
        if tokens.is_empty() {
            return Err(Error::lm(LmErrorKind::BadRequest, "the prompt is empty"));
        }
        if tokens.len() >= n_ctx {
            return Err(Error::lm(
                LmErrorKind::ContextWindowExceeded,
                format!(
                    "the prompt has {} tokens and the local model's context holds {n_ctx}; raise \
                     LocalLm::builder().context_size(..)",
                    tokens.len()
                ),
            ));
        }
        let room = n_ctx - tokens.len();
        let max_tokens = request
            .max_tokens
            .map_or(DEFAULT_MAX_TOKENS, |m| m as usize)
            .min(room);

        let mut grammar_error = false;
        let grammar_key = self.grammar_for(request, &mut grammar_error);

        let started = Instant::now();
        let reused = self.evaluate_prompt(&tokens)?;
        let prompt_time = started.elapsed();
        let prompt_logits = self.ctx.get_logits_ith(self.batch.n_tokens() - 1).to_vec();

        let n = request.n.max(1) as usize;
        let temperature = match request.temperature {
            Some(t) => t,
            // One completion: the most likely one. Several: distinct samples.
            None if n == 1 => 0.0,
            None => 1.0,
        };
        let mut choices = Vec::with_capacity(n);
        let mut generated = 0u64;
        let mut checks = CheckStats::default();
        let started = Instant::now();
        for i in 0..n {
            if temperature <= 0.0 && i > 0 {
                // Greedy decoding gives the same answer every time.
                let first: &Choice = &choices[0];
                choices.push(first.clone());
                continue;
            }
            if i > 0 {
                self.rewind(tokens.len())?;
            }
            let seed = choice_seed(self.seed, request.rollout_id, &text, i as u64);
            let mut sampler = Sampler::new(temperature, seed);
            let (choice, count) = self.generate(
                &prompt_logits,
                tokens.len(),
                max_tokens,
                &request.stop,
                grammar_key.as_deref(),
                &mut sampler,
                &mut checks,
            )?;
            generated += count;
            choices.push(choice);
        }
        let generation_time = started.elapsed();

        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.requests += 1;
        stats.prompt_tokens += tokens.len() as u64;
        stats.prompt_tokens_reused += reused as u64;
        stats.prompt_tokens_evaluated += (tokens.len() - reused) as u64;
        stats.prompt_time += prompt_time;
        stats.generated_tokens += generated;
        stats.generation_time += generation_time;
        stats.grammar_fast_accepts += checks.fast_accepts;
        stats.grammar_masked += checks.masked;
        stats.grammar_mask_time += checks.mask_time;
        stats.grammar_errors += u64::from(grammar_error);
        drop(stats);

        Ok(LmResponse {
            choices,
            usage: Usage {
                prompt_tokens: tokens.len() as u64,
                completion_tokens: generated,
            },
            model: String::new(),
            cached: false,
        })
    }

    /// The messages laid out by the model's chat template, ending on the model's turn.
    fn chat_text(&self, template: &LlamaChatTemplate, messages: &[Message]) -> Result<String> {
        let bad = |e: String| {
            Error::lm(
                LmErrorKind::BadRequest,
                format!("cannot apply the model's chat template: {e}"),
            )
        };
        let chat = messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                LlamaChatMessage::new(role.into(), m.content.clone())
                    .map_err(|e| bad(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        self.model
            .apply_chat_template(template, &chat, true)
            .map_err(|e| bad(e.to_string()))
    }

    /// Compiles (or finds) the grammar for the request's answer; returns its cache key. A schema
    /// the grammar cannot express leaves the answer unconstrained (the parser still checks it).
    fn grammar_for(&mut self, request: &LmRequest, error: &mut bool) -> Option<String> {
        let (format, schema) = (
            request.answer_format.as_ref()?,
            request.response_schema.as_ref()?,
        );
        let to_gbnf = |schema: &serde_json::Value| {
            llama_cpp_2::json_schema_to_grammar(&schema.to_string()).map_err(|e| e.to_string())
        };
        let gbnf = match answer_grammar(format, schema, &to_gbnf) {
            Ok(Some(gbnf)) => gbnf,
            Ok(None) => return None,
            Err(_) => {
                *error = true;
                return None;
            }
        };
        if !self.grammars.contains_key(&gbnf) {
            if self.grammars.len() >= GRAMMAR_CACHE {
                self.grammars.clear();
            }
            let sampler = LlamaSampler::grammar(self.model, &gbnf, "root").ok();
            self.grammars.insert(gbnf.clone(), sampler);
        }
        match self.grammars.get(&gbnf) {
            Some(Some(_)) => Some(gbnf),
            _ => {
                *error = true;
                None
            }
        }
    }

    /// Brings a KV-cache sequence to `tokens`, evaluating only what follows the prefix already
    /// there; the sequence is chosen by [`Slots::choose`]. Returns how many tokens were reused.
    /// The batch holds the last token, with its logits.
    fn evaluate_prompt(&mut self, tokens: &[LlamaToken]) -> Result<usize> {
        self.seq = self.slots.choose(tokens);
        let seq = self.seq;
        let id = seq as i32;
        let mut keep = self.slots.get(seq).reusable(tokens);
        if keep < self.slots.get(seq).len()
            && self
                .ctx
                .kv_cache_seq_rm(id, Some(keep as u32), None)
                .is_err()
        {
            self.ctx.clear_kv_cache();
            self.slots.clear();
            keep = 0;
        }
        self.slots.get(seq).truncate(keep);
        let rest = &tokens[keep..];
        for (c, chunk) in rest.chunks(self.batch_size).enumerate() {
            self.batch.clear();
            let start = keep + c * self.batch_size;
            for (j, token) in chunk.iter().enumerate() {
                let pos = start + j;
                let last = pos + 1 == tokens.len();
                self.batch
                    .add(*token, pos as i32, &[id], last)
                    .map_err(backend_error)?;
            }
            decode_in(&mut self.ctx, &mut self.batch, &mut self.slots, seq)?;
            self.slots.get(seq).extend(chunk);
        }
        Ok(keep)
    }

    /// Drops generated tokens from the cache, back to the prompt's `len` tokens.
    fn rewind(&mut self, len: usize) -> Result<()> {
        let seq = self.seq;
        if self.slots.get(seq).len() > len {
            self.ctx
                .kv_cache_seq_rm(seq as i32, Some(len as u32), None)
                .map_err(|e| {
                    Error::lm(
                        LmErrorKind::Backend,
                        format!("cannot rewind the KV cache: {e}"),
                    )
                })?;
            self.slots.get(seq).truncate(len);
        }
        Ok(())
    }

    /// Generates one completion after the prompt (already in the cache, its last logits given).
    #[allow(clippy::too_many_arguments)]
    fn generate(
        &mut self,
        prompt_logits: &[f32],
        prompt_len: usize,
        max_tokens: usize,
        stop: &[String],
        grammar_key: Option<&str>,
        sampler: &mut Sampler,
        checks: &mut CheckStats,
    ) -> Result<(Choice, u64)> {
        let model = self.model;
        let vocab = model.vocab();
        let eos = vocab.eos().0;
        let mut grammar = grammar_key
            .and_then(|key| self.grammars.get_mut(key))
            .and_then(Option::as_mut);
        if let Some(g) = grammar.as_deref_mut() {
            g.reset();
        }
        let mut logits = prompt_logits.to_vec();
        let mut out: Vec<u8> = Vec::new();
        let mut count = 0u64;
        let mut finish = FinishReason::Stop;
        let mut pos = prompt_len;
        loop {
            if count as usize >= max_tokens {
                finish = FinishReason::Length;
                break;
            }
            let pick = match grammar.as_deref_mut() {
                Some(g) => sampler.pick(&logits, Some(&mut GrammarCheck(g)), eos, checks),
                None => sampler.pick(&logits, None, eos, checks),
            };
            let token = match pick {
                Pick::End => break,
                Pick::Token(t) => LlamaToken(t),
            };
            if vocab.is_eog(token) {
                break;
            }
            if let Some(g) = grammar.as_deref_mut()
                && g.try_accept(token).is_err()
            {
                break;
            }
            count += 1;
            let before = out.len();
            out.extend(vocab.token_to_piece(token, false, None));
            if let Some(at) = find_stop(&out, stop, before) {
                out.truncate(at);
                break;
            }
            if count as usize >= max_tokens {
                finish = FinishReason::Length;
                break;
            }
            self.batch.clear();
            self.batch
                .add(token, pos as i32, &[self.seq as i32], true)
                .map_err(backend_error)?;
            // Fields, not `self`: the grammar borrows `self.grammars` meanwhile.
            decode_in(&mut self.ctx, &mut self.batch, &mut self.slots, self.seq)?;
            self.slots.get(self.seq).push(token);
            pos += 1;
            logits.copy_from_slice(self.ctx.get_logits_ith(0));
        }
        let choice = Choice {
            text: String::from_utf8_lossy(&out).into_owned(),
            finish_reason: finish,
        };
        Ok((choice, count))
    }
}

/// The grammar sampler as an [`Allowed`] check: llama.cpp sets refused candidates to -inf.
struct GrammarCheck<'a>(&'a mut LlamaSampler);

impl Allowed for GrammarCheck<'_> {
    fn retain_allowed(&mut self, candidates: &mut Vec<(TokenId, f32)>) {
        let data = candidates
            .iter()
            .map(|&(t, l)| LlamaTokenData::new(LlamaToken(t), l, 0.0))
            .collect();
        let mut array = LlamaTokenDataArray::new(data, false);
        array.apply_sampler(self.0);
        candidates.clear();
        candidates.extend(
            array
                .data
                .iter()
                .filter(|d| d.logit().is_finite())
                .map(|d| (d.id().0, d.logit())),
        );
    }
}

/// Base models complete text; chat messages become a transcript ending on the model's turn.
pub(super) fn prompt_text(prompt: &Prompt) -> String {
    match prompt {
        Prompt::Text(text) => text.clone(),
        Prompt::Chat(_) => format!("{}\n\nAssistant:", prompt.to_text()),
    }
}

/// Where the first stop sequence starts in `out`, looking only at text that could include the
/// newest bytes (from `from`).
fn find_stop(out: &[u8], stop: &[String], from: usize) -> Option<usize> {
    stop.iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let s = s.as_bytes();
            let start = from.saturating_sub(s.len() - 1);
            out.get(start..)?
                .windows(s.len())
                .position(|w| w == s)
                .map(|p| start + p)
        })
        .min()
}

/// A seed that depends on the request, not on the order requests arrive in, so sampling is
/// reproducible under concurrency.
fn choice_seed(seed: u64, rollout: Option<u64>, prompt: &str, choice: u64) -> u64 {
    // FNV-1a over the prompt, mixed with the rest.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in prompt.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut s = super::sample::SplitMix64(seed ^ h);
    let a = s.next_u64() ^ rollout.unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    a ^ choice.wrapping_mul(0xD1B5_4A32_D192_ED03)
}

/// Evaluates `batch` in sequence `seq`. Every sequence shares the context's cells: when they
/// run out, the other sequences' prefixes go, the one used longest ago first.
fn decode_in(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'static>,
    slots: &mut Slots<LlamaToken>,
    seq: usize,
) -> Result<()> {
    loop {
        match ctx.decode(batch) {
            Ok(()) => return Ok(()),
            Err(DecodeError::NoKvCacheSlot) => {
                let Some(other) = slots.oldest_other(seq) else {
                    return Err(decode_error(DecodeError::NoKvCacheSlot));
                };
                ctx.clear_kv_cache_seq(Some(other as u32), None, None)
                    .map_err(decode_error)?;
                slots.get(other).clear();
            }
            Err(e) => return Err(decode_error(e)),
        }
    }
}

fn decode_error(e: impl std::fmt::Display) -> Error {
    Error::lm(
        LmErrorKind::Backend,
        format!(
            "local model could not evaluate tokens ({e}); the context may be full: raise context_size"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_are_found_across_token_boundaries() {
        let stops = vec!["\n\n".to_string(), "END".to_string()];
        assert_eq!(find_stop(b"abc\n", &stops, 3), None);
        assert_eq!(find_stop(b"abc\n\nx", &stops, 4), Some(3));
        assert_eq!(find_stop(b"xxEN", &stops, 3), None);
        assert_eq!(find_stop(b"xxEND", &stops, 4), Some(2));
        assert_eq!(find_stop(b"END", &[String::new()], 0), None);
    }

    #[test]
    fn seeds_depend_on_the_request_only() {
        let a = choice_seed(1, Some(3), "p", 0);
        assert_eq!(a, choice_seed(1, Some(3), "p", 0));
        assert_ne!(a, choice_seed(1, Some(4), "p", 0));
        assert_ne!(a, choice_seed(1, Some(3), "q", 0));
        assert_ne!(a, choice_seed(1, Some(3), "p", 1));
        assert_ne!(a, choice_seed(2, Some(3), "p", 0));
    }

    #[test]
    fn chat_prompts_end_on_the_model_turn() {
        let prompt = Prompt::Chat(vec![crate::adapter::Message::user("hi")]);
        assert_eq!(prompt_text(&prompt), "User: hi\n\nAssistant:");
        assert_eq!(prompt_text(&Prompt::Text("x".into())), "x");
    }
}
