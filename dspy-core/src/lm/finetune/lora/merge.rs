//! The adapter merged into the base model, as one standalone GGUF: for comparing (size,
//! accuracy, speed) with the base model plus the adapter applied at load.

use super::adapter::read_adapter;
use candle_core::quantized::gguf_file::{self, Content};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result, Tensor};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::Path;

/// The GGUF at `base` with the adapter's deltas (`alpha / rank · B · A`) added to the weights it
/// adapts. Adapted weights are written F32 (`requantize: false`) or quantized back to the
/// base's type of each (candle's quantizer); every other tensor and all metadata are kept as
/// they are. Returns the file's bytes.
pub(crate) fn merged_gguf(base: &Path, adapter: &[u8], requantize: bool) -> Result<Vec<u8>> {
    let (alpha, pairs) = read_adapter(adapter)?;
    let pairs: HashMap<String, Tensor> = pairs.into_iter().collect();
    let mut reader = BufReader::new(File::open(base)?);
    let content = Content::read(&mut reader)?;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let q = content.tensor(&mut reader, name, &Device::Cpu)?;
        let (Some(a), Some(b)) = (
            pairs.get(&format!("{name}.lora_a")),
            pairs.get(&format!("{name}.lora_b")),
        ) else {
            tensors.push((name.clone(), q));
            continue;
        };
        let rank = a.dim(0)?;
        let delta = b.matmul(a)?.affine(alpha / rank.max(1) as f64, 0.0)?;
        let merged = (q.dequantize(&Device::Cpu)? + delta)?;
        let dtype = if requantize {
            q.dtype()
        } else {
            GgmlDType::F32
        };
        tensors.push((name.clone(), QTensor::quantize(&merged, dtype)?));
    }
    let mut metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    metadata.sort_by_key(|(k, _)| *k);
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &refs)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::finetune::lora::adapter::Lora;
    use crate::lm::finetune::lora::base::{load_gemma, tests::tiny_gguf};
    use crate::lm::finetune::lora::shape::Target;
    use crate::lm::finetune::lora::shape::tiny;

    #[test]
    fn a_merged_model_holds_the_base_weights_plus_the_scaled_delta() {
        let dir = std::env::temp_dir().join(format!("dspy-lora-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base_path = dir.join("base.gguf");
        let base = tiny_gguf(&base_path);
        let lora = Lora::new(&tiny(), 2, 4.0, 5).unwrap();
        for var in lora.vars() {
            var.set(&Tensor::rand(-1f32, 1., var.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
        let merged_path = dir.join("merged.gguf");
        let bytes = merged_gguf(&base_path, &lora.to_gguf("gemma3").unwrap(), false).unwrap();
        std::fs::write(&merged_path, bytes).unwrap();
        let merged = load_gemma(&merged_path).unwrap();
        let (a, b) = lora.pair(1, Target::Down);
        let expected = (&base.layers[1].proj[Target::Down as usize]
            + b.matmul(a).unwrap().affine(2.0, 0.0).unwrap())
        .unwrap();
        let diff = (&merged.layers[1].proj[Target::Down as usize] - expected).unwrap();
        assert!(
            diff.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                < 1e-5
        );
        // What LoRA does not adapt is copied as it was.
        let same = (&merged.layers[1].attn_norm - &base.layers[1].attn_norm).unwrap();
        assert_eq!(
            same.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            0.0
        );
        assert_eq!(merged.config, load_gemma(&base_path).unwrap().config);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
