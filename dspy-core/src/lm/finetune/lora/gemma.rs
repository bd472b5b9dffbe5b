//! A Gemma 3 forward pass for training: the base model's weights frozen in F32 (dequantized
//! from the GGUF we ship), LoRA deltas on the seven projections of every layer, built from ops
//! that all have a backward pass. It mirrors llama.cpp's Gemma 3 graph, so an adapter trained
//! here means the same when llama.cpp applies it.

use super::adapter::Lora;
use super::ops::{causal_mask, frozen_linear, rms_norm, rope, rope_tables, softmax};
use super::shape::{Config, Target};
use candle_core::{Result, Tensor};

/// One layer's frozen weights (projections `[out, in]`, as candle reads GGUF).
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub attn_norm: Tensor,
    /// Indexed by [`Target`]: q, k, v, o, gate, up, down.
    pub proj: [Tensor; 7],
    pub q_norm: Tensor,
    pub k_norm: Tensor,
    pub post_attn_norm: Tensor,
    pub ffn_norm: Tensor,
    pub post_ffn_norm: Tensor,
}

/// A Gemma 3 model: frozen weights, the embedding tied to the LM head.
#[derive(Debug, Clone)]
pub(crate) struct Gemma {
    pub config: Config,
    /// `[vocab, hidden]`.
    pub embed: Tensor,
    pub layers: Vec<Layer>,
    pub final_norm: Tensor,
}

impl Gemma {
    /// A model of `config` with random weights (tests): norms near 1, projections small.
    #[cfg(test)]
    pub(crate) fn random(config: Config) -> Result<Self> {
        let dev = candle_core::Device::Cpu;
        let norm = |n: usize| Tensor::rand(0.9f32, 1.1, n, &dev);
        let matrix = |rows: usize, cols: usize| {
            Tensor::randn(0f32, 1.0 / (cols as f32).sqrt(), (rows, cols), &dev)
        };
        let mut layers = Vec::new();
        for _ in 0..config.layers {
            let proj = Target::ALL.map(|t| {
                let (i, o) = config.dims(t);
                matrix(o, i)
            });
            let [q, k, v, o, gate, up, down] = proj;
            layers.push(Layer {
                attn_norm: norm(config.hidden)?,
                proj: [q?, k?, v?, o?, gate?, up?, down?],
                q_norm: norm(config.head_dim)?,
                k_norm: norm(config.head_dim)?,
                post_attn_norm: norm(config.hidden)?,
                ffn_norm: norm(config.hidden)?,
                post_ffn_norm: norm(config.hidden)?,
            });
        }
        Ok(Gemma {
            embed: matrix(config.vocab, config.hidden)?,
            final_norm: norm(config.hidden)?,
            layers,
            config,
        })
    }

    /// The last hidden states (after the final norm) of `tokens` (`[batch, len]`, u32), as
    /// `[batch * len, hidden]`, with `lora`'s deltas added when given.
    pub(crate) fn hidden(&self, tokens: &Tensor, lora: Option<&Lora>) -> Result<Tensor> {
        let c = &self.config;
        let (batch, len) = tokens.dims2()?;
        let mut x = self
            .embed
            .index_select(&tokens.flatten_all()?, 0)?
            .affine((c.hidden as f64).sqrt(), 0.0)?;
        let global = Attention::new(c, len, c.rope_base, None)?;
        let local = Attention::new(c, len, c.rope_base_local, Some(c.sliding_window))?;
        for (i, layer) in self.layers.iter().enumerate() {
            let lin = |x: &Tensor, t: Target| linear(x, &layer.proj[t as usize], lora, i, t);
            let at = if c.is_local(i) { &local } else { &global };
            let h = rms_norm(&x, &layer.attn_norm, c.eps)?;
            let attn = at.forward(c, layer, &h, batch, len, &lin)?;
            let attn = rms_norm(&lin(&attn, Target::O)?, &layer.post_attn_norm, c.eps)?;
            x = (x + attn)?;
            let h = rms_norm(&x, &layer.ffn_norm, c.eps)?;
            let gated = (lin(&h, Target::Gate)?.gelu()? * lin(&h, Target::Up)?)?;
            let ffn = rms_norm(&lin(&gated, Target::Down)?, &layer.post_ffn_norm, c.eps)?;
            x = (x + ffn)?;
        }
        rms_norm(&x, &self.final_norm, c.eps)
    }

    /// The logits of the rows of `hidden` (`[n, hidden]`), through the tied LM head.
    pub(crate) fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        frozen_linear(hidden, &self.embed)
    }
}

/// `x · wᵀ`, plus the LoRA delta `scale · (x · Aᵀ) · Bᵀ` of layer `layer`'s `target`.
fn linear(
    x: &Tensor,
    w: &Tensor,
    lora: Option<&Lora>,
    layer: usize,
    target: Target,
) -> Result<Tensor> {
    let base = frozen_linear(x, w)?;
    match lora {
        None => Ok(base),
        Some(lora) => {
            let (a, b) = lora.pair(layer, target);
            let delta = x.matmul(&a.t()?)?.matmul(&b.t()?)?;
            base + delta.affine(lora.scale(), 0.0)?
        }
    }
}

/// What one kind of layer (global or sliding) needs for attention over `len` positions.
struct Attention {
    cos: Tensor,
    sin: Tensor,
    /// `[groups * len, len]`: the causal mask, once per query head sharing a key head.
    mask: Tensor,
}

impl Attention {
    fn new(c: &Config, len: usize, base: f64, window: Option<usize>) -> Result<Self> {
        let (cos, sin) = rope_tables(len, c.head_dim, base)?;
        let groups = c.heads / c.kv_heads.max(1);
        let mask = causal_mask(len, window)?;
        let mask = Tensor::cat(&vec![mask; groups], 0)?;
        Ok(Attention { cos, sin, mask })
    }

    /// Grouped-query attention of `h` (`[batch * len, hidden]`), before the output projection.
    fn forward(
        &self,
        c: &Config,
        layer: &Layer,
        h: &Tensor,
        batch: usize,
        len: usize,
        lin: &dyn Fn(&Tensor, Target) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let heads = |t: Tensor, n: usize| t.reshape((batch, len, n, c.head_dim))?.transpose(1, 2);
        let q = heads(lin(h, Target::Q)?, c.heads)?;
        let k = heads(lin(h, Target::K)?, c.kv_heads)?;
        let v = heads(lin(h, Target::V)?, c.kv_heads)?.contiguous()?;
        let q = rope(&rms_norm(&q, &layer.q_norm, c.eps)?, &self.cos, &self.sin)?;
        let k = rope(&rms_norm(&k, &layer.k_norm, c.eps)?, &self.cos, &self.sin)?;
        let q = (q * (1.0 / (c.head_dim as f64).sqrt()))?;
        // The query heads that share a key head, stacked along the positions: one matmul each.
        let groups = c.heads / c.kv_heads;
        let q = q.reshape((batch, c.kv_heads, groups * len, c.head_dim))?;
        let scores = q.matmul(&k.t()?.contiguous()?)?.broadcast_add(&self.mask)?;
        let out = softmax(&scores)?.matmul(&v)?;
        out.reshape((batch, c.heads, len, c.head_dim))?
            .transpose(1, 2)?
            .reshape((batch * len, c.heads * c.head_dim))
    }
}
