//! A Tree-structured Parzen Estimator (TPE) over categorical parameters: the Bayesian search
//! MIPROv2 runs over (instruction, demo set) choices, as optuna's `TPESampler(multivariate=True)`
//! does for DSPy.
//!
//! How it picks the next point, once `n_startup_trials` points were drawn at random:
//!
//! 1. The points tried so far are split by score: the best `gamma(n) = min(ceil(n / 10), 25)`
//!    are "good", the rest "bad".
//! 2. Each group becomes a Parzen estimator: a mixture with one component per point (a
//!    categorical kernel per parameter that puts extra mass on the point's value, over a floor
//!    of `prior_weight / components`) plus one uniform prior component. Points are weighted
//!    equally, except that with 25 or more points the older ones fade (optuna's ramp).
//! 3. `n_ei_candidates` points are drawn from the good mixture; the one with the highest
//!    `log good(x) - log bad(x)` (the expected-improvement proxy) is returned.
//!
//! Parameters are sampled jointly (one mixture component for all of them), so combinations
//! that worked together are proposed together. Every draw comes from the caller's seeded
//! [`Rng`], so the same history and seed give the same point.
//! (No crate fitted: the `tpe` crate is univariate over `f64` and brings in `rand`.)

use dspy_core::data::Rng;

/// How the sampler behaves; optuna's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TpeSettings {
    /// Points drawn uniformly at random before the estimators take over.
    pub n_startup_trials: usize,
    /// Points drawn from the good estimator to choose the next one from.
    pub n_ei_candidates: usize,
    /// Weight of the uniform prior component (and of each kernel's floor).
    pub prior_weight: f64,
}

impl Default for TpeSettings {
    fn default() -> Self {
        TpeSettings {
            n_startup_trials: 10,
            n_ei_candidates: 24,
            prior_weight: 1.0,
        }
    }
}

/// A TPE sampler over parameters with `cardinalities[i]` categories each (maximizing).
#[derive(Debug, Clone)]
pub(crate) struct Tpe {
    cardinalities: Vec<usize>,
    settings: TpeSettings,
    observations: Vec<(Vec<usize>, f64)>,
}

impl Tpe {
    /// A sampler over these parameters (a parameter with no category is treated as one).
    pub(crate) fn new(cardinalities: Vec<usize>, settings: TpeSettings) -> Self {
        Tpe {
            cardinalities: cardinalities.into_iter().map(|c| c.max(1)).collect(),
            settings,
            observations: Vec::new(),
        }
    }

    /// Records that `point` scored `value` (higher is better).
    pub(crate) fn tell(&mut self, point: Vec<usize>, value: f64) {
        // A NaN score would poison the sort: it counts as the worst.
        let value = if value.is_nan() {
            f64::NEG_INFINITY
        } else {
            value
        };
        self.observations.push((point, value));
    }

    /// The next point to try.
    pub(crate) fn ask(&self, rng: &mut Rng) -> Vec<usize> {
        if self.observations.len() < self.settings.n_startup_trials {
            return self.cardinalities.iter().map(|&c| rng.below(c)).collect();
        }
        let (good, bad) = self.split();
        let good = Parzen::new(&good, &self.cardinalities, self.settings.prior_weight);
        let bad = Parzen::new(&bad, &self.cardinalities, self.settings.prior_weight);
        let mut best: Option<(Vec<usize>, f64)> = None;
        for _ in 0..self.settings.n_ei_candidates.max(1) {
            let point = good.sample(rng);
            let gain = good.log_pdf(&point) - bad.log_pdf(&point);
            if best.as_ref().is_none_or(|(_, b)| gain > *b) {
                best = Some((point, gain));
            }
        }
        // `n_ei_candidates` is at least one, so there is a best.
        best.map(|(point, _)| point).unwrap_or_default()
    }

    /// The points split into the best `gamma(n)` and the rest, each in the order told.
    fn split(&self) -> (Vec<&[usize]>, Vec<&[usize]>) {
        let n = self.observations.len();
        let mut order: Vec<usize> = (0..n).collect();
        // Stable: among equal scores, the earlier point ranks first.
        order.sort_by(|&a, &b| self.observations[b].1.total_cmp(&self.observations[a].1));
        let mut good: Vec<usize> = order[..gamma(n)].to_vec();
        let mut bad: Vec<usize> = order[gamma(n)..].to_vec();
        good.sort_unstable();
        bad.sort_unstable();
        let points = |indices: Vec<usize>| {
            indices
                .into_iter()
                .map(|i| self.observations[i].0.as_slice())
                .collect()
        };
        (points(good), points(bad))
    }
}

/// How many of `n` points count as good (optuna's default gamma).
fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// The weights of `n` points in the order told: equal below 25, else the older ones ramped
/// down (optuna's `default_weights`).
fn point_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut weights: Vec<f64> = (0..ramp)
        .map(|i| {
            let start = 1.0 / n as f64;
            if ramp == 1 {
                start
            } else {
                start + (1.0 - start) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    weights.extend(std::iter::repeat_n(1.0, 25));
    weights
}

/// A mixture of categorical kernels, one per point plus a uniform prior.
#[derive(Debug)]
struct Parzen {
    /// Mixture weights, summing to 1.
    weights: Vec<f64>,
    /// `kernels[component][parameter][category]`: probabilities, each row summing to 1.
    kernels: Vec<Vec<Vec<f64>>>,
}

impl Parzen {
    fn new(points: &[&[usize]], cardinalities: &[usize], prior_weight: f64) -> Self {
        let components = points.len() + 1;
        let floor = prior_weight / components as f64;
        let mut weights = point_weights(points.len());
        weights.push(prior_weight);
        let total: f64 = weights.iter().sum();
        let weights = weights.into_iter().map(|w| w / total).collect();
        let mut kernels: Vec<Vec<Vec<f64>>> = points
            .iter()
            .map(|point| {
                cardinalities
                    .iter()
                    .enumerate()
                    .map(|(param, &cardinality)| {
                        let mut row = vec![floor; cardinality];
                        if let Some(chosen) = point.get(param).and_then(|&c| row.get_mut(c)) {
                            *chosen += 1.0;
                        }
                        normalized(row)
                    })
                    .collect()
            })
            .collect();
        kernels.push(
            cardinalities
                .iter()
                .map(|&c| vec![1.0 / c as f64; c])
                .collect(),
        );
        Parzen { weights, kernels }
    }

    fn sample(&self, rng: &mut Rng) -> Vec<usize> {
        let component = &self.kernels[pick(&self.weights, rng)];
        component.iter().map(|row| pick(row, rng)).collect()
    }

    fn log_pdf(&self, point: &[usize]) -> f64 {
        let density: f64 = self
            .weights
            .iter()
            .zip(&self.kernels)
            .map(|(weight, kernel)| {
                weight
                    * kernel
                        .iter()
                        .zip(point)
                        .map(|(row, &c)| row.get(c).copied().unwrap_or(0.0))
                        .product::<f64>()
            })
            .sum();
        density.ln()
    }
}

fn normalized(row: Vec<f64>) -> Vec<f64> {
    let total: f64 = row.iter().sum();
    row.into_iter().map(|p| p / total).collect()
}

/// An index drawn with probability proportional to `weights`.
fn pick(weights: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = rng.next_f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One point in 8 × 8 is best; each right coordinate is worth half of it.
    fn objective(point: &[usize]) -> f64 {
        0.5 * (point[0] == 3) as u8 as f64 + 0.5 * (point[1] == 5) as u8 as f64
    }

    fn run(seed: u64, trials: usize) -> Vec<Vec<usize>> {
        let mut tpe = Tpe::new(vec![8, 8], TpeSettings::default());
        let mut rng = Rng::new(seed);
        (0..trials)
            .map(|_| {
                let point = tpe.ask(&mut rng);
                tpe.tell(point.clone(), objective(&point));
                point
            })
            .collect()
    }

    #[test]
    fn sampling_concentrates_on_the_good_categories() {
        for seed in 0..8 {
            let points = run(seed, 60);
            let late = &points[20..];
            let first_right = late.iter().filter(|p| p[0] == 3).count();
            let second_right = late.iter().filter(|p| p[1] == 5).count();
            let both = late.iter().filter(|p| objective(p) == 1.0).count();
            // At random each coordinate would be right 1 time in 8 (5 of 40), both 1 in 64.
            assert!(first_right >= 12, "seed {seed}: {first_right}/40 at 3");
            assert!(second_right >= 12, "seed {seed}: {second_right}/40 at 5");
            assert!(both >= 8, "seed {seed}: the best point {both}/40 times");
        }
    }

    #[test]
    fn startup_points_are_uniform_and_everything_follows_the_seed() {
        assert_eq!(run(7, 30), run(7, 30));
        assert_ne!(run(7, 30), run(8, 30));
        let mut tpe = Tpe::new(vec![4], TpeSettings::default());
        let mut rng = Rng::new(1);
        // Before any observation, every category comes up.
        let mut seen = [0; 4];
        for _ in 0..200 {
            seen[tpe.ask(&mut rng)[0]] += 1;
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
        tpe.tell(vec![0], 1.0);
        assert_eq!(tpe.observations.len(), 1);
    }

    #[test]
    fn the_estimators_favour_seen_values_but_rule_out_none() {
        let points: Vec<&[usize]> = vec![&[2], &[2], &[1]];
        let parzen = Parzen::new(&points, &[4], 1.0);
        let density: Vec<f64> = (0..4).map(|c| parzen.log_pdf(&[c]).exp()).collect();
        assert!(
            (density.iter().sum::<f64>() - 1.0).abs() < 1e-9,
            "{density:?}"
        );
        assert!(density[2] > density[1] && density[1] > density[0]);
        assert!(density[3] > 0.0 && (density[3] - density[0]).abs() < 1e-12);
    }

    #[test]
    fn gamma_and_weights_follow_optuna() {
        assert_eq!([gamma(1), gamma(10), gamma(11), gamma(400)], [1, 1, 2, 25]);
        assert_eq!(point_weights(3), [1.0; 3]);
        let weights = point_weights(30);
        assert_eq!(weights.len(), 30);
        assert!((weights[0] - 1.0 / 30.0).abs() < 1e-12);
        assert!(weights[0] < weights[3] && (weights[4] - 1.0).abs() < 1e-12 && weights[29] == 1.0);
    }

    #[test]
    fn a_failed_score_counts_as_the_worst() {
        let mut tpe = Tpe::new(vec![3], TpeSettings::default());
        tpe.tell(vec![0], f64::NAN);
        tpe.tell(vec![1], 0.0);
        let (good, bad) = tpe.split();
        assert_eq!(good, [&[1usize][..]]);
        assert_eq!(bad, [&[0usize][..]]);
    }
}
