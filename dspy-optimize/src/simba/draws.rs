//! SIMBA's random draws and orderings: which programs run and are built on (softmax over the
//! best), how runs are bucketed by example, percentiles, demo drops, and the final spread of
//! winners.

use dspy_core::data::Rng;
use dspy_core::{Parameters, Result};

/// The `k` programs with the best average score (ties in pool order), the baseline (0) always
/// among them in place of the last.
pub(super) fn top_k_plus_baseline(averages: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..averages.len()).collect();
    order.sort_by(|a, b| averages[*b].total_cmp(&averages[*a]));
    let mut top: Vec<usize> = order.into_iter().take(k).collect();
    if !top.contains(&0)
        && let Some(last) = top.last_mut()
    {
        *last = 0;
    }
    let mut seen = std::collections::BTreeSet::new();
    top.retain(|i| seen.insert(*i));
    top
}

/// One of `candidates`, drawn with weight `exp(average / temperature)`.
pub(super) fn softmax_sample(
    rng: &mut Rng,
    candidates: &[usize],
    averages: &[f64],
    temperature: f64,
) -> usize {
    let temperature = if temperature > 0.0 { temperature } else { 1e-6 };
    // Shifted by the maximum, so large scores over small temperatures do not overflow.
    let top = candidates
        .iter()
        .map(|&c| averages[c])
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = candidates
        .iter()
        .map(|&c| ((averages[c] - top) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return candidates[rng.below(candidates.len())];
    }
    let mut draw = rng.next_f64() * total;
    for (&c, w) in candidates.iter().zip(&weights) {
        if draw < *w {
            return c;
        }
        draw -= w;
    }
    candidates[candidates.len() - 1]
}

/// One example's runs (positions in the sampled runs), best first.
pub(super) type Bucket = (usize, Vec<usize>);

/// The sampled runs (`bsize` examples per sampler, sampler after sampler) grouped by example,
/// each group best run first; groups sorted by the gap between their best and worst run, then
/// their best score, then the gap between their best and average (largest first, ties in
/// example order).
pub(super) fn buckets(scores: &[f64], bsize: usize) -> Vec<Bucket> {
    let key = |runs: &[usize]| {
        let max = scores[runs[0]];
        let min = scores[runs[runs.len() - 1]];
        let avg = runs.iter().map(|&r| scores[r]).sum::<f64>() / runs.len() as f64;
        (max - min, max, max - avg)
    };
    let mut buckets: Vec<Bucket> = (0..bsize.min(scores.len()))
        .map(|j| {
            let mut runs: Vec<usize> = (j..scores.len()).step_by(bsize).collect();
            runs.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
            (j, runs)
        })
        .collect();
    buckets.sort_by(|a, b| {
        key(&b.1)
            .partial_cmp(&key(&a.1))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    buckets
}

/// The `p`th percentile of `scores`, interpolated linearly (numpy's default).
pub(super) fn percentile(scores: &[f64], p: f64) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (sorted.len() - 1) as f64 * p / 100.0;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

/// Drops a few random demos from every predictor (the same positions from each): a Poisson
/// number with mean `demos / max_demos`, at least one once a predictor is full. Returns how
/// many positions were drawn.
pub(super) fn drop_demos<P: Parameters>(
    program: &mut P,
    max_demos: usize,
    rng: &mut Rng,
) -> Result<usize> {
    let most = program
        .predictors()
        .iter()
        .map(|(_, p)| p.demo_count())
        .max()
        .unwrap_or(0);
    let limit = if max_demos > 0 { max_demos } else { 3 };
    let drop = poisson(rng, most as f64 / limit as f64)
        .max(usize::from(most >= limit))
        .min(most);
    if drop == 0 {
        return Ok(0);
    }
    let positions: Vec<usize> = (0..drop).map(|_| rng.below(most)).collect();
    for (_, predictor) in program.predictors_mut() {
        let kept: Vec<_> = predictor
            .demo_states()?
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !positions.contains(i))
            .map(|(_, d)| d)
            .collect();
        predictor.set_demo_states(kept)?;
    }
    Ok(drop)
}

/// A Poisson draw with mean `lambda` (Knuth's method; the means here are small).
fn poisson(rng: &mut Rng, lambda: f64) -> usize {
    if lambda <= 0.0 {
        return 0;
    }
    let limit = (-lambda).exp();
    let mut product = 1.0;
    let mut count = 0;
    loop {
        product *= rng.next_f64();
        if product <= limit {
            return count;
        }
        count += 1;
    }
}

/// `n` positions spread evenly over `0..len` (DSPy's final choice of winners: the first and
/// the last always), without repeats.
pub(super) fn spread(len: usize, n: usize) -> Vec<usize> {
    let last = len.saturating_sub(1);
    let mut picked: Vec<usize> = if last == 0 || n < 2 {
        vec![0]
    } else {
        (0..n)
            .map(|i| round_half_even((i * last) as f64 / (n - 1) as f64))
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    picked.retain(|i| seen.insert(*i));
    picked
}

/// Rounds to the nearest integer, halves to even (Python's `round`).
fn round_half_even(x: f64) -> usize {
    let floor = x.floor();
    let diff = x - floor;
    let rounded = if diff > 0.5 || (diff == 0.5 && floor % 2.0 != 0.0) {
        floor + 1.0
    } else {
        floor
    };
    rounded as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_is_always_among_the_top() {
        assert_eq!(top_k_plus_baseline(&[0.1, 0.9, 0.5, 0.7], 2), [1, 0]);
        assert_eq!(top_k_plus_baseline(&[0.9, 0.5, 0.7], 2), [0, 2]);
        assert_eq!(top_k_plus_baseline(&[0.0], 6), [0]);
        // Ties keep pool order.
        assert_eq!(top_k_plus_baseline(&[0.5, 0.5, 0.5], 3), [0, 1, 2]);
    }

    #[test]
    fn softmax_favours_high_scores_at_low_temperature() {
        let averages = [0.0, 1.0];
        let mut rng = Rng::new(0);
        let high = (0..1000)
            .filter(|_| softmax_sample(&mut rng, &[0, 1], &averages, 0.2) == 1)
            .count();
        // exp(5) : 1, about 99.3%.
        assert!(high > 980, "{high}");
        let even = (0..1000)
            .filter(|_| softmax_sample(&mut rng, &[0, 1], &[0.5, 0.5], 0.2) == 1)
            .count();
        assert!((400..600).contains(&even), "{even}");
    }

    #[test]
    fn inconsistent_examples_come_first() {
        // Two samplers over three examples: runs [s0e0, s0e1, s0e2, s1e0, s1e1, s1e2].
        let scores = [1.0, 0.0, 0.5, 1.0, 1.0, 0.0];
        let sorted = buckets(&scores, 3);
        // Example 1 (gap 1, best 1) before 2 (gap 0.5) before 0 (no gap).
        assert_eq!(sorted, [(1, vec![4, 1]), (2, vec![2, 5]), (0, vec![0, 3])]);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([0, 0, 1, 1, 1], 10) == 0.0; 90 -> 1.0; [0, 1] 10 -> 0.1
        assert_eq!(percentile(&[0.0, 0.0, 1.0, 1.0, 1.0], 10.0), 0.0);
        assert_eq!(percentile(&[0.0, 0.0, 1.0, 1.0, 1.0], 90.0), 1.0);
        assert!((percentile(&[1.0, 0.0], 10.0) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn winners_are_spread_like_dspy() {
        // DSPy: [round(i * M / (N - 1)) for i in range(N)], deduplicated.
        assert_eq!(spread(1, 7), [0]);
        assert_eq!(spread(9, 7), [0, 1, 3, 4, 5, 7, 8]);
        assert_eq!(spread(3, 7), [0, 1, 2]);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(1.2), 1);
    }

    #[test]
    fn poisson_draws_have_the_mean_asked() {
        let mut rng = Rng::new(5);
        let total: usize = (0..4000).map(|_| poisson(&mut rng, 1.5)).sum();
        let mean = total as f64 / 4000.0;
        assert!((1.4..1.6).contains(&mean), "{mean}");
        assert_eq!(poisson(&mut rng, 0.0), 0);
    }
}
