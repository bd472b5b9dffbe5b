//! The LoRA adapter: a pair of low-rank matrices beside each of the seven projections of every
//! layer, and its file in llama.cpp's LoRA GGUF format (what `LocalLm` applies at load).

use super::shape::{Config, Target};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result, Tensor, Var};
use std::io::Cursor;

/// LoRA matrices for every layer and target: `A` is `[rank, in]` (small random), `B` is
/// `[out, rank]` (zero at the start, so training starts from the base model). The delta of a
/// weight is `alpha / rank · B · A`, as llama.cpp scales it.
#[derive(Debug)]
pub(crate) struct Lora {
    pub rank: usize,
    pub alpha: f64,
    /// Per layer, per [`Target`]: (A, B).
    pairs: Vec<Vec<(Var, Var)>>,
}

impl Lora {
    /// A fresh adapter for `config`, `A` drawn from `seed` (uniform in ±1/√in, as PEFT's
    /// default init), `B` zero.
    pub(crate) fn new(config: &Config, rank: usize, alpha: f64, seed: u64) -> Result<Self> {
        let mut rng = SplitMix(seed);
        let mut pairs = Vec::with_capacity(config.layers);
        for _ in 0..config.layers {
            let mut layer = Vec::with_capacity(7);
            for target in Target::ALL {
                let (input, output) = config.dims(target);
                let bound = 1.0 / (input as f64).sqrt();
                let a: Vec<f32> = (0..rank * input)
                    .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
                    .collect();
                let a = Tensor::from_vec(a, (rank, input), &Device::Cpu)?;
                let b = Tensor::zeros((output, rank), candle_core::DType::F32, &Device::Cpu)?;
                layer.push((Var::from_tensor(&a)?, Var::from_tensor(&b)?));
            }
            pairs.push(layer);
        }
        Ok(Lora { rank, alpha, pairs })
    }

    /// Layer `layer`'s (A, B) for `target`.
    pub(crate) fn pair(&self, layer: usize, target: Target) -> (&Tensor, &Tensor) {
        let (a, b) = &self.pairs[layer][target as usize];
        (a.as_tensor(), b.as_tensor())
    }

    /// What scales the delta: `alpha / rank`.
    pub(crate) fn scale(&self) -> f64 {
        self.alpha / self.rank.max(1) as f64
    }

    /// Every trainable matrix.
    pub(crate) fn vars(&self) -> Vec<Var> {
        self.pairs
            .iter()
            .flatten()
            .flat_map(|(a, b)| [a.clone(), b.clone()])
            .collect()
    }

    /// How many numbers train.
    pub(crate) fn parameters(&self) -> usize {
        self.vars().iter().map(|v| v.elem_count()).sum()
    }

    /// Sets every matrix from `tensors` (name → tensor, as [`read_adapter`] gives them).
    pub(crate) fn load(&self, tensors: &[(String, Tensor)]) -> Result<()> {
        for (layer, pairs) in self.pairs.iter().enumerate() {
            for (target, (a, b)) in Target::ALL.iter().zip(pairs) {
                let name = target.tensor_name(layer);
                for (suffix, var) in [("lora_a", a), ("lora_b", b)] {
                    let full = format!("{name}.{suffix}");
                    let Some((_, t)) = tensors.iter().find(|(n, _)| *n == full) else {
                        candle_core::bail!("the adapter has no tensor {full}");
                    };
                    var.set(t)?;
                }
            }
        }
        Ok(())
    }

    /// The adapter as llama.cpp's LoRA GGUF: `general.type = adapter`, `adapter.type = lora`,
    /// `adapter.lora.alpha`, and F32 tensors `<weight>.lora_a` (ggml `[in, rank]`) and
    /// `<weight>.lora_b` (ggml `[rank, out]`), the orientation llama-adapter.cpp checks.
    pub(crate) fn to_gguf(&self, architecture: &str) -> Result<Vec<u8>> {
        let mut tensors = Vec::new();
        for (layer, pairs) in self.pairs.iter().enumerate() {
            for (target, (a, b)) in Target::ALL.iter().zip(pairs) {
                let name = target.tensor_name(layer);
                for (suffix, var) in [("lora_a", a), ("lora_b", b)] {
                    let q = QTensor::quantize(var.as_tensor(), GgmlDType::F32)?;
                    tensors.push((format!("{name}.{suffix}"), q));
                }
            }
        }
        let arch = Value::String(architecture.to_string());
        let general = Value::String("adapter".into());
        let kind = Value::String("lora".into());
        let alpha = Value::F32(self.alpha as f32);
        let metadata = [
            ("general.architecture", &arch),
            ("general.type", &general),
            ("adapter.type", &kind),
            ("adapter.lora.alpha", &alpha),
        ];
        let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut out = Cursor::new(Vec::new());
        gguf_file::write(&mut out, &metadata, &refs)?;
        Ok(out.into_inner())
    }
}

/// An adapter GGUF's alpha and tensors (name, F32 tensor), in file order of names.
pub(crate) fn read_adapter(bytes: &[u8]) -> Result<(f64, Vec<(String, Tensor)>)> {
    let mut reader = Cursor::new(bytes);
    let content = gguf_file::Content::read(&mut reader)?;
    let alpha = match content.metadata.get("adapter.lora.alpha") {
        Some(Value::F32(a)) => f64::from(*a),
        _ => candle_core::bail!("not a LoRA adapter: no adapter.lora.alpha"),
    };
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let t = content.tensor(&mut reader, name, &Device::Cpu)?;
        tensors.push((name.clone(), t.dequantize(&Device::Cpu)?));
    }
    Ok((alpha, tensors))
}

/// SplitMix64: a small seeded generator for the init and the data order (no dependency).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::finetune::lora::shape::tiny;

    #[test]
    fn the_adapter_round_trips_through_its_gguf_in_llama_cpps_orientation() {
        let config = tiny();
        let lora = Lora::new(&config, 4, 8.0, 11).unwrap();
        // B is zero at first: give it values so the round trip checks real numbers.
        for (i, var) in lora.vars().iter().enumerate() {
            let t = Tensor::rand(-1f32, 1., var.shape(), &Device::Cpu).unwrap();
            var.set(&(t + i as f64).unwrap()).unwrap();
        }
        let bytes = lora.to_gguf("gemma3").unwrap();
        let content = gguf_file::Content::read(&mut Cursor::new(&bytes)).unwrap();
        let text = |k: &str| match content.metadata.get(k) {
            Some(Value::String(s)) => s.clone(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(text("general.type"), "adapter");
        assert_eq!(text("adapter.type"), "lora");
        assert_eq!(text("general.architecture"), "gemma3");
        assert_eq!(content.tensor_infos.len(), config.layers * 7 * 2);
        // candle lists dims outermost first (ggml's ne reversed): A is [rank, in] (ggml
        // ne [in, rank]: ne[0] = the weight's ne[0]) and B is [out, rank].
        let (input, output) = config.dims(Target::Q);
        let a = &content.tensor_infos["blk.1.attn_q.weight.lora_a"];
        let b = &content.tensor_infos["blk.1.attn_q.weight.lora_b"];
        assert_eq!(a.shape.dims(), [4, input]);
        assert_eq!(b.shape.dims(), [output, 4]);

        let (alpha, tensors) = read_adapter(&bytes).unwrap();
        assert_eq!(alpha, 8.0);
        let fresh = Lora::new(&config, 4, 8.0, 99).unwrap();
        fresh.load(&tensors).unwrap();
        for (x, y) in lora.vars().iter().zip(fresh.vars()) {
            let diff = (x.as_tensor() - y.as_tensor()).unwrap().abs().unwrap();
            assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        }
        let missing: Vec<_> = tensors.into_iter().skip(1).collect();
        assert!(
            fresh
                .load(&missing)
                .unwrap_err()
                .to_string()
                .contains("has no tensor")
        );
    }

    #[test]
    fn the_adapter_trains_seven_projections_a_layer_at_rank_r() {
        // Gemma 3 270M's shape: about 1.9M numbers at rank 8.
        let config = Config {
            vocab: 8,
            hidden: 640,
            layers: 18,
            heads: 4,
            kv_heads: 1,
            head_dim: 256,
            ffn: 2048,
            ..tiny()
        };
        let lora = Lora::new(&config, 8, 16.0, 0).unwrap();
        assert_eq!(lora.parameters(), 1_898_496);
        assert_eq!(lora.scale(), 2.0);
    }
}
