//! The training path's tensor operations, from candle's basic ops (which all have a backward
//! pass; candle_nn's fused `rope` and `softmax_last_dim` have none), and a linear layer over a
//! frozen weight whose backward pass computes only the input's gradient.

use candle_core::{CpuStorage, CustomOp1, D, Device, Layout, Result, Shape, Tensor};

/// `x · wᵀ` for a frozen `w` (`[out, in]`), `x` of shape `[n, in]`.
///
/// A plain matmul's backward pass also computes the weight's gradient, a tensor the size of
/// the weight, even when nothing needs it (for the tied LM head, 262,144 × 640 floats every
/// step). Here the weight lives inside the op, outside the graph: backward gives `x` its
/// gradient and nothing else.
pub(crate) fn frozen_linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenLinear { w: w.clone() })
}

struct FrozenLinear {
    w: Tensor,
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("frozen-linear: f32 input expected");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("frozen-linear: contiguous input expected");
        };
        let x = Tensor::from_slice(&data[start..end], layout.shape(), &Device::Cpu)?;
        let y = x.matmul(&self.w.t()?)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?), shape))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.w)?))
    }
}

/// Gemma's RMS norm over the last dimension. The GGUF's weights already hold the `1 +` Gemma
/// adds to them, so they multiply as they are.
pub(crate) fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let mean_square = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(mean_square + eps)?.sqrt()?)?
        .broadcast_mul(weight)
}

/// Rotary position embedding, NeoX layout (the first half of each head's dimensions rotates
/// against the second half), as llama.cpp applies it to Gemma. `x`: `[b, heads, len, dim]`;
/// `cos`, `sin`: `[len, dim / 2]`.
pub(crate) fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let half = x.dim(D::Minus1)? / 2;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let first = (x1.broadcast_mul(cos)? - x2.broadcast_mul(sin)?)?;
    let second = (x2.broadcast_mul(cos)? + x1.broadcast_mul(sin)?)?;
    Tensor::cat(&[first, second], D::Minus1)
}

/// The rotation angles' cosines and sines for positions `0..len`: `[len, dim / 2]` each.
pub(crate) fn rope_tables(len: usize, dim: usize, base: f64) -> Result<(Tensor, Tensor)> {
    let half = dim / 2;
    let mut angles = Vec::with_capacity(len * half);
    for pos in 0..len {
        for i in 0..half {
            let inv_freq = base.powf(-2.0 * i as f64 / dim as f64);
            angles.push((pos as f64 * inv_freq) as f32);
        }
    }
    let angles = Tensor::from_vec(angles, (len, half), &Device::Cpu)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// Softmax over the last dimension.
pub(crate) fn softmax(x: &Tensor) -> Result<Tensor> {
    // Subtracting the max changes nothing mathematically: no gradient needs to flow through it.
    let max = x.max_keepdim(D::Minus1)?.detach();
    let exp = x.broadcast_sub(&max)?.exp()?;
    exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)
}

/// The additive attention mask of a causal layer over `len` positions: 0 where query `i` may
/// see key `j` (`j <= i`, and `i - j < window` for a sliding-window layer), a large negative
/// number elsewhere.
pub(crate) fn causal_mask(len: usize, window: Option<usize>) -> Result<Tensor> {
    let mut mask = Vec::with_capacity(len * len);
    for i in 0..len {
        for j in 0..len {
            let visible = j <= i && window.is_none_or(|w| i - j < w);
            mask.push(if visible { 0f32 } else { -1e9 });
        }
    }
    Tensor::from_vec(mask, (len, len), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn the_frozen_linear_matches_a_matmul_and_gives_only_the_input_a_gradient() {
        let dev = Device::Cpu;
        let w = Tensor::from_vec(vec![1f32, 2., 3., 4., 5., 6.], (3, 2), &dev).unwrap();
        let x =
            Var::from_tensor(&Tensor::from_vec(vec![1f32, -1., 0.5, 2.], (2, 2), &dev).unwrap())
                .unwrap();
        let y = frozen_linear(x.as_tensor(), &w).unwrap();
        let wt = w.t().unwrap();
        let plain = x.as_tensor().matmul(&wt).unwrap();
        assert_eq!(y.to_vec2::<f32>().unwrap(), plain.to_vec2::<f32>().unwrap());
        let grads = y.sum_all().unwrap().backward().unwrap();
        let plain_grads = plain.sum_all().unwrap().backward().unwrap();
        assert_eq!(
            grads.get(x.as_tensor()).unwrap().to_vec2::<f32>().unwrap(),
            plain_grads
                .get(x.as_tensor())
                .unwrap()
                .to_vec2::<f32>()
                .unwrap()
        );
        // A plain matmul spends a weight-sized gradient on the frozen weight; ours has only
        // `x` as input, so nothing else can be given one.
        assert!(plain_grads.get(&wt).is_some());
        assert!(grads.get(&wt).is_none() && grads.get(&w).is_none());
    }

    #[test]
    fn softmax_and_rope_agree_with_candles_fused_ops() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1., (1, 2, 5, 8), &dev).unwrap();
        let ours = softmax(&x).unwrap();
        let fused = candle_nn::ops::softmax_last_dim(&x).unwrap();
        let diff = (ours - fused).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
        let (cos, sin) = rope_tables(5, 8, 10_000.0).unwrap();
        let ours = rope(&x, &cos, &sin).unwrap();
        let fused = candle_nn::rotary_emb::rope(&x.contiguous().unwrap(), &cos, &sin).unwrap();
        let diff = (ours - fused).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }

    #[test]
    fn a_sliding_window_hides_keys_too_far_back() {
        let mask = causal_mask(4, Some(2)).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(mask[3][3], 0.0);
        assert_eq!(mask[3][2], 0.0);
        assert!(mask[3][1] < -1e8, "outside the window");
        assert!(mask[1][2] < -1e8, "a later key");
        assert_eq!(
            causal_mask(4, None).unwrap().to_vec2::<f32>().unwrap()[3][0],
            0.0
        );
    }
}
