//! What the model is: its shape ([`Config`]) and the projections LoRA adapts ([`Target`]), by
//! the names llama.cpp's GGUF gives them.

/// The shape of a Gemma 3 model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    pub vocab: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub eps: f64,
    /// RoPE base of the global layers.
    pub rope_base: f64,
    /// RoPE base of the sliding-window layers.
    pub rope_base_local: f64,
    pub sliding_window: usize,
    /// Every `n`th layer is global, the others slide (Gemma 3: 6).
    pub swa_pattern: usize,
}

impl Config {
    /// Whether layer `i` attends through a sliding window (llama.cpp's standard pattern:
    /// all but every `swa_pattern`th layer).
    pub(crate) fn is_local(&self, i: usize) -> bool {
        self.swa_pattern > 1 && i % self.swa_pattern < self.swa_pattern - 1
    }

    /// The (input, output) width of `target`'s weight.
    pub(crate) fn dims(&self, target: Target) -> (usize, usize) {
        let q = self.heads * self.head_dim;
        let kv = self.kv_heads * self.head_dim;
        match target {
            Target::Q => (self.hidden, q),
            Target::K | Target::V => (self.hidden, kv),
            Target::O => (q, self.hidden),
            Target::Gate | Target::Up => (self.hidden, self.ffn),
            Target::Down => (self.ffn, self.hidden),
        }
    }
}

/// The projections LoRA adapts, in the order of [`Layer::proj`](super::gemma::Layer::proj).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl Target {
    pub(crate) const ALL: [Target; 7] = [
        Target::Q,
        Target::K,
        Target::V,
        Target::O,
        Target::Gate,
        Target::Up,
        Target::Down,
    ];

    /// The GGUF name of layer `layer`'s weight.
    pub(crate) fn tensor_name(self, layer: usize) -> String {
        let name = match self {
            Target::Q => "attn_q",
            Target::K => "attn_k",
            Target::V => "attn_v",
            Target::O => "attn_output",
            Target::Gate => "ffn_gate",
            Target::Up => "ffn_up",
            Target::Down => "ffn_down",
        };
        format!("blk.{layer}.{name}.weight")
    }
}

/// A tiny Gemma 3 shape for tests (two layers, one of them sliding).
#[cfg(test)]
pub(crate) fn tiny() -> Config {
    Config {
        vocab: 40,
        hidden: 16,
        layers: 2,
        heads: 2,
        kv_heads: 1,
        head_dim: 8,
        ffn: 24,
        eps: 1e-6,
        rope_base: 1_000_000.0,
        rope_base_local: 10_000.0,
        sliding_window: 4,
        swa_pattern: 2,
    }
}
