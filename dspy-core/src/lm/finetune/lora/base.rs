//! The base model for training: the GGUF file we ship (or any Gemma 3 GGUF), read with
//! candle's GGUF reader and dequantized to F32.

use super::gemma::{Gemma, Layer};
use super::shape::{Config, Target};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Result, Tensor};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Loads a Gemma 3 GGUF, every weight dequantized to F32 (about 1.1 GB for the 270M model).
pub(crate) fn load_gemma(path: &Path) -> Result<Gemma> {
    let mut reader = BufReader::new(File::open(path)?);
    let content = Content::read(&mut reader)?;
    let config = config(&content)?;
    let mut tensor = |name: &str| -> Result<Tensor> {
        content
            .tensor(&mut reader, name, &Device::Cpu)?
            .dequantize(&Device::Cpu)
    };
    let mut layers = Vec::with_capacity(config.layers);
    for i in 0..config.layers {
        let mut norm = |n: &str| tensor(&format!("blk.{i}.{n}.weight"));
        let attn_norm = norm("attn_norm")?;
        let q_norm = norm("attn_q_norm")?;
        let k_norm = norm("attn_k_norm")?;
        let post_attn_norm = norm("post_attention_norm")?;
        let ffn_norm = norm("ffn_norm")?;
        let post_ffn_norm = norm("post_ffw_norm")?;
        let mut proj = Vec::with_capacity(7);
        for target in Target::ALL {
            proj.push(tensor(&target.tensor_name(i))?);
        }
        let Ok(proj) = <[Tensor; 7]>::try_from(proj) else {
            candle_core::bail!("layer {i}: seven projections expected");
        };
        layers.push(Layer {
            attn_norm,
            proj,
            q_norm,
            k_norm,
            post_attn_norm,
            ffn_norm,
            post_ffn_norm,
        });
    }
    Ok(Gemma {
        embed: tensor("token_embd.weight")?,
        final_norm: tensor("output_norm.weight")?,
        layers,
        config,
    })
}

/// The model's shape from the GGUF metadata (`gemma3.*`).
fn config(content: &Content) -> Result<Config> {
    let arch = match content.metadata.get("general.architecture") {
        Some(Value::String(a)) => a.clone(),
        _ => String::new(),
    };
    if arch != "gemma3" {
        candle_core::bail!("fine-tuning supports Gemma 3 models; this GGUF is `{arch}`");
    }
    let get = |key: &str| -> Result<f64> {
        let full = format!("gemma3.{key}");
        match content.metadata.get(&full) {
            Some(Value::U32(v)) => Ok(f64::from(*v)),
            Some(Value::I32(v)) => Ok(f64::from(*v)),
            Some(Value::U64(v)) => Ok(*v as f64),
            Some(Value::F32(v)) => Ok(f64::from(*v)),
            Some(Value::F64(v)) => Ok(*v),
            _ => candle_core::bail!("the GGUF has no {full}"),
        }
    };
    let vocab = match content.tensor_infos.get("token_embd.weight") {
        Some(info) => info.shape.dims()[0],
        None => candle_core::bail!("the GGUF has no token_embd.weight"),
    };
    Ok(Config {
        vocab,
        hidden: get("embedding_length")? as usize,
        layers: get("block_count")? as usize,
        heads: get("attention.head_count")? as usize,
        kv_heads: get("attention.head_count_kv")? as usize,
        head_dim: get("attention.key_length")? as usize,
        ffn: get("feed_forward_length")? as usize,
        eps: get("attention.layer_norm_rms_epsilon")?,
        rope_base: get("rope.freq_base")?,
        // llama.cpp's default for Gemma 3's sliding layers, unless the file says otherwise.
        rope_base_local: get("rope.freq_base_swa").unwrap_or(10_000.0),
        sliding_window: get("attention.sliding_window")? as usize,
        swa_pattern: 6,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::lm::finetune::lora::shape::tiny;
    use candle_core::quantized::gguf_file;
    use candle_core::quantized::{GgmlDType, QTensor};

    /// Writes a tiny random Gemma 3 as an F32 GGUF at `path` (llama.cpp's names and metadata);
    /// returns the model.
    pub(crate) fn tiny_gguf(path: &Path) -> Gemma {
        let model = Gemma::random(tiny()).unwrap();
        let c = &model.config;
        let mut tensors = vec![
            ("token_embd.weight".to_string(), model.embed.clone()),
            ("output_norm.weight".to_string(), model.final_norm.clone()),
        ];
        for (i, l) in model.layers.iter().enumerate() {
            for (n, t) in [
                ("attn_norm", &l.attn_norm),
                ("attn_q_norm", &l.q_norm),
                ("attn_k_norm", &l.k_norm),
                ("post_attention_norm", &l.post_attn_norm),
                ("ffn_norm", &l.ffn_norm),
                ("post_ffw_norm", &l.post_ffn_norm),
            ] {
                tensors.push((format!("blk.{i}.{n}.weight"), t.clone()));
            }
            for t in Target::ALL {
                tensors.push((t.tensor_name(i), l.proj[t as usize].clone()));
            }
        }
        let q: Vec<(String, QTensor)> = tensors
            .into_iter()
            .map(|(n, t)| (n, QTensor::quantize(&t, GgmlDType::F32).unwrap()))
            .collect();
        let u = |v: usize| Value::U32(v as u32);
        let f = |v: f64| Value::F32(v as f32);
        let metadata = [
            ("general.architecture", Value::String("gemma3".into())),
            ("gemma3.embedding_length", u(c.hidden)),
            ("gemma3.block_count", u(c.layers)),
            ("gemma3.attention.head_count", u(c.heads)),
            ("gemma3.attention.head_count_kv", u(c.kv_heads)),
            ("gemma3.attention.key_length", u(c.head_dim)),
            ("gemma3.feed_forward_length", u(c.ffn)),
            ("gemma3.attention.layer_norm_rms_epsilon", f(c.eps)),
            ("gemma3.rope.freq_base", f(c.rope_base)),
            ("gemma3.attention.sliding_window", u(c.sliding_window)),
        ];
        let meta: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
        let refs: Vec<(&str, &QTensor)> = q.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut file = File::create(path).unwrap();
        gguf_file::write(&mut file, &meta, &refs).unwrap();
        model
    }

    #[test]
    fn a_gemma_gguf_loads_with_its_shape_and_weights() {
        let dir = std::env::temp_dir().join(format!("dspy-lora-base-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tiny.gguf");
        let written = tiny_gguf(&path);
        let read = load_gemma(&path).unwrap();
        // The pattern is llama.cpp's default for Gemma 3 (the file does not say it), and eps
        // went through an f32.
        let expected = Config {
            swa_pattern: 6,
            eps: f64::from(1e-6f32),
            ..written.config.clone()
        };
        assert_eq!(read.config, expected);
        let diff = (&read.layers[1].proj[Target::Gate as usize]
            - &written.layers[1].proj[Target::Gate as usize])
            .unwrap();
        assert_eq!(
            diff.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            0.0
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
