//! The training loop: batches of token sequences, the loss on each sequence's answer tokens
//! only, AdamW on the LoRA matrices.

use super::adapter::{Lora, SplitMix};
use super::gemma::Gemma;
use candle_core::{Device, Result, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use std::ops::ControlFlow;
use std::time::Instant;

/// One training example as tokens: the prompt's, then the answer's. Only the answer's tokens
/// carry loss (the model is taught to answer, not to write prompts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequence {
    pub tokens: Vec<u32>,
    /// How many of `tokens` are the prompt (at least 1: an answer token is predicted from the
    /// one before it).
    pub prompt_len: usize,
}

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Schedule {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub max_steps: Option<u64>,
    /// Optimizer steps already done (a resumed run skips their batches).
    pub start_step: u64,
}

/// Where training is after a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    pub step: u64,
    pub total: u64,
    pub loss: f64,
    pub examples_per_sec: f64,
}

/// The mean cross-entropy of `batch`'s answer tokens, and how many tokens it was taken over.
///
/// Sequences are padded on the right to the longest: under the causal mask no real position
/// sees a pad, and no pad is a target. The LM head runs only on the positions that predict an
/// answer token (a few per sequence, not the whole 262k-wide vocabulary at every position).
pub(crate) fn loss(
    model: &Gemma,
    lora: Option<&Lora>,
    batch: &[Sequence],
) -> Result<(Tensor, usize)> {
    let len = batch.iter().map(|s| s.tokens.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(batch.len() * len);
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for (b, seq) in batch.iter().enumerate() {
        ids.extend_from_slice(&seq.tokens);
        ids.resize((b + 1) * len, 0);
        for t in seq.prompt_len.max(1)..seq.tokens.len() {
            rows.push((b * len + t - 1) as u32);
            targets.push(seq.tokens[t]);
        }
    }
    if targets.is_empty() {
        candle_core::bail!("no answer tokens to train on");
    }
    let dev = Device::Cpu;
    let tokens = Tensor::from_vec(ids, (batch.len(), len), &dev)?;
    let hidden = model.hidden(&tokens, lora)?;
    let picked = hidden.index_select(&Tensor::new(rows.as_slice(), &dev)?, 0)?;
    let logits = model.logits(&picked)?;
    let n = targets.len();
    let loss = candle_nn::loss::cross_entropy(&logits, &Tensor::new(targets.as_slice(), &dev)?)?;
    Ok((loss, n))
}

/// Trains `lora` on `data` by `schedule`; `on_step` hears of every step and may stop the run
/// (`ControlFlow::Break`, e.g. when cancelled). Returns the last step.
pub(crate) fn train(
    model: &Gemma,
    lora: &Lora,
    data: &[Sequence],
    schedule: &Schedule,
    mut on_step: impl FnMut(&Step) -> ControlFlow<()>,
) -> Result<Option<Step>> {
    let batches = batches(data.len(), schedule);
    let total = schedule
        .max_steps
        .map_or(batches.len() as u64, |m| m.min(batches.len() as u64));
    let params = ParamsAdamW {
        lr: schedule.learning_rate,
        weight_decay: schedule.weight_decay,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(lora.vars(), params)?;
    let mut last = None;
    for (i, batch) in batches.iter().enumerate().take(total as usize) {
        let step = i as u64 + 1;
        if step <= schedule.start_step {
            continue;
        }
        let started = Instant::now();
        let seqs: Vec<Sequence> = batch.iter().map(|&j| data[j].clone()).collect();
        let (loss, _) = loss(model, Some(lora), &seqs)?;
        optimizer.backward_step(&loss)?;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let report = Step {
            step,
            total,
            loss: f64::from(loss.to_scalar::<f32>()?),
            examples_per_sec: seqs.len() as f64 / secs,
        };
        last = Some(report);
        if on_step(&report).is_break() {
            break;
        }
    }
    Ok(last)
}

/// The example indices of every step: each epoch a fresh seeded order, cut into batches.
fn batches(n: usize, schedule: &Schedule) -> Vec<Vec<usize>> {
    let mut rng = SplitMix(schedule.seed ^ 0x5EED);
    let mut out = Vec::new();
    for _ in 0..schedule.epochs.max(1) {
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        out.extend(
            order
                .chunks(schedule.batch_size.max(1))
                .map(<[usize]>::to_vec),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::finetune::lora::shape::tiny;

    fn seqs() -> Vec<Sequence> {
        // "Prompts" of a few tokens; the answer is a function of the prompt's first token.
        (0..16u32)
            .map(|i| {
                let first = 2 + i % 4;
                Sequence {
                    tokens: vec![1, first, 10 + i % 7, 20 + i % 5, 30 + first],
                    prompt_len: 4,
                }
            })
            .collect()
    }

    fn schedule(steps: u64) -> Schedule {
        Schedule {
            epochs: 20,
            batch_size: 8,
            learning_rate: 1e-2,
            weight_decay: 0.0,
            seed: 1,
            max_steps: Some(steps),
            start_step: 0,
        }
    }

    #[test]
    fn a_few_lora_steps_lower_the_loss_on_the_answers() {
        let model = Gemma::random(tiny()).unwrap();
        let lora = Lora::new(&model.config, 4, 8.0, 3).unwrap();
        let data = seqs();
        let before = loss(&model, Some(&lora), &data)
            .unwrap()
            .0
            .to_scalar::<f32>()
            .unwrap();
        // B starts at zero: the adapter changes nothing before training.
        let base = loss(&model, None, &data)
            .unwrap()
            .0
            .to_scalar::<f32>()
            .unwrap();
        assert!((before - base).abs() < 1e-5, "{before} vs {base}");
        let mut losses = Vec::new();
        let last = train(&model, &lora, &data, &schedule(30), |s| {
            losses.push(s.loss);
            ControlFlow::Continue(())
        })
        .unwrap()
        .unwrap();
        assert_eq!((last.step, last.total), (30, 30));
        let after = loss(&model, Some(&lora), &data)
            .unwrap()
            .0
            .to_scalar::<f32>()
            .unwrap();
        assert!(after < before * 0.5, "loss {before} -> {after}: {losses:?}");
        assert!(lora.parameters() > 0);
    }

    #[test]
    fn only_the_answer_tokens_carry_loss() {
        let model = Gemma::random(tiny()).unwrap();
        let seq = Sequence {
            tokens: vec![1, 5, 6, 7, 30, 31],
            prompt_len: 4,
        };
        let (l, n) = loss(&model, None, std::slice::from_ref(&seq)).unwrap();
        assert_eq!(n, 2, "two answer tokens");
        // The loss is the mean cross-entropy of exactly those two predictions (positions 3
        // and 4 predicting tokens 30 and 31), none of the prompt's.
        let tokens =
            Tensor::from_vec(seq.tokens.clone(), (1, seq.tokens.len()), &Device::Cpu).unwrap();
        let logits = model.logits(&model.hidden(&tokens, None).unwrap()).unwrap();
        let logp = candle_nn::ops::log_softmax(&logits, 1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let by_hand = -(logp[3][30] + logp[4][31]) / 2.0;
        let l = l.to_scalar::<f32>().unwrap();
        assert!((l - by_hand).abs() < 1e-5, "{l} vs {by_hand}");
        // Padding beside a shorter sequence changes nothing: the mean over the three targets.
        let short = Sequence {
            tokens: vec![1, 2],
            prompt_len: 1,
        };
        let (padded, m) = loss(&model, None, &[seq.clone(), short.clone()]).unwrap();
        let (alone, _) = loss(&model, None, &[short]).unwrap();
        assert_eq!(m, 3);
        let combined = (l * 2.0 + alone.to_scalar::<f32>().unwrap()) / 3.0;
        assert!((padded.to_scalar::<f32>().unwrap() - combined).abs() < 1e-4);
        // Moving the prompt/answer boundary moves which tokens count.
        let all = Sequence {
            prompt_len: 1,
            ..seq
        };
        assert_eq!(loss(&model, None, &[all]).unwrap().1, 5);
    }

    #[test]
    fn a_break_stops_training_and_the_budget_caps_the_steps() {
        let model = Gemma::random(tiny()).unwrap();
        let lora = Lora::new(&model.config, 2, 4.0, 0).unwrap();
        let mut seen = 0;
        let last = train(&model, &lora, &seqs(), &schedule(5), |s| {
            seen += 1;
            if s.step == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap()
        .unwrap();
        assert_eq!((seen, last.step, last.total), (2, 2, 5));
    }
}
