//! The statistics of a comparison: a paired bootstrap interval for the mean difference, and
//! McNemar's test for 0/1 metrics.

use crate::data::Rng;
use serde::{Deserialize, Serialize};

/// A confidence interval for the mean per-example difference (second report minus first),
/// from a paired percentile bootstrap.
///
/// Each resample draws `n` of the `n` paired differences with replacement and takes their
/// mean; `low` and `high` are the `(1 − confidence)/2` and `(1 + confidence)/2` quantiles of
/// those means (the means sorted, `low` at index `⌊R·(1 − c)/2⌋`, `high` at `⌈R·(1 + c)/2⌉ − 1`).
/// Resampling pairs, not each side alone, keeps the correlation between the two runs on the
/// same example, so the interval is as narrow as the paired design allows. The draws come
/// from [`Rng`] with `seed`: the same reports give the same interval forever.
///
/// ```
/// use dspy_core::evaluate::Interval;
/// let deltas = [1.0, 0.0, 0.0, 1.0, 0.0, -1.0, 1.0, 0.0];
/// let ci = Interval::paired_bootstrap(&deltas, 10_000, 0.95, 7);
/// assert!(ci.low < 0.25 && 0.25 < ci.high);
/// assert_eq!(ci, Interval::paired_bootstrap(&deltas, 10_000, 0.95, 7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The lower bound.
    pub low: f64,
    /// The upper bound.
    pub high: f64,
    /// The confidence level, e.g. `0.95`.
    pub confidence: f64,
    /// How many bootstrap resamples were drawn.
    pub resamples: usize,
    /// The seed of the draws.
    pub seed: u64,
}

impl Interval {
    /// The percentile bootstrap interval of the mean of `deltas` (see [`Interval`]). With no
    /// deltas, or no resamples, the interval is `[0, 0]`.
    pub fn paired_bootstrap(deltas: &[f64], resamples: usize, confidence: f64, seed: u64) -> Self {
        let confidence = confidence.clamp(0.0, 1.0);
        let mut interval = Interval {
            low: 0.0,
            high: 0.0,
            confidence,
            resamples,
            seed,
        };
        let n = deltas.len();
        if n == 0 || resamples == 0 {
            return interval;
        }
        let mut rng = Rng::new(seed);
        let mut means: Vec<f64> = (0..resamples)
            .map(|_| (0..n).map(|_| deltas[rng.below(n)]).sum::<f64>() / n as f64)
            .collect();
        means.sort_by(f64::total_cmp);
        let tail = (1.0 - confidence) / 2.0;
        let r = resamples as f64;
        let low = ((r * tail).floor() as usize).min(resamples - 1);
        let high = ((r * (1.0 - tail)).ceil() as usize)
            .clamp(1, resamples)
            .saturating_sub(1);
        interval.low = means[low];
        interval.high = means[high.max(low)];
        interval
    }

    /// Whether the interval excludes zero: the difference is significant at this level.
    pub fn excludes_zero(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// Below this many discordant pairs McNemar's test uses the exact binomial p-value; from it
/// on, the chi-square approximation with continuity correction.
pub const MCNEMAR_EXACT_BELOW: usize = 25;

/// How a [`McNemar`] p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McNemarMethod {
    /// Two-sided exact binomial test on the discordant pairs:
    /// `p = min(1, 2·P(X ≤ min(fixed, regressed)))` with `X ~ Binomial(fixed + regressed, ½)`.
    ExactBinomial,
    /// Chi-square with one degree of freedom and continuity correction:
    /// `χ² = (|fixed − regressed| − 1)² / (fixed + regressed)`, `p = P(χ²₁ ≥ χ²)`.
    ChiSquare,
}

/// McNemar's test for two 0/1 metrics on the same examples: do the examples the second run
/// fixed outnumber the ones it broke by more than chance?
///
/// Only the discordant pairs count: `fixed` (wrong in the first report, right in the second)
/// and `regressed` (right, then wrong). Under the null hypothesis each discordant pair is
/// equally likely to go either way. Fewer than [`MCNEMAR_EXACT_BELOW`] discordant pairs use
/// the exact binomial p-value, more use the chi-square approximation with continuity
/// correction ([`McNemarMethod`]).
///
/// ```
/// use dspy_core::evaluate::{McNemar, McNemarMethod};
/// let test = McNemar::test(9, 2);
/// assert_eq!(test.method, McNemarMethod::ExactBinomial);
/// assert!((test.p_value - 0.06543).abs() < 1e-5); // 2 · (1 + 11 + 55) / 2^11
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Examples wrong in the first report and right in the second.
    pub fixed: usize,
    /// Examples right in the first report and wrong in the second.
    pub regressed: usize,
    /// How the p-value was computed.
    pub method: McNemarMethod,
    /// The chi-square statistic, when that method was used.
    pub statistic: Option<f64>,
    /// The two-sided p-value.
    pub p_value: f64,
}

impl McNemar {
    /// The test on `fixed` and `regressed` discordant pairs.
    pub fn test(fixed: usize, regressed: usize) -> Self {
        let n = fixed + regressed;
        if n < MCNEMAR_EXACT_BELOW {
            let tail = binomial_half_cdf(n, fixed.min(regressed));
            return McNemar {
                fixed,
                regressed,
                method: McNemarMethod::ExactBinomial,
                statistic: None,
                p_value: (2.0 * tail).min(1.0),
            };
        }
        let gap = (fixed.abs_diff(regressed) as f64 - 1.0).max(0.0);
        let statistic = gap * gap / n as f64;
        McNemar {
            fixed,
            regressed,
            method: McNemarMethod::ChiSquare,
            statistic: Some(statistic),
            // P(χ²₁ ≥ x) = P(|Z| ≥ √x) = erfc(√(x/2)).
            p_value: erfc((statistic / 2.0).sqrt()),
        }
    }
}

/// `P(X ≤ k)` for `X ~ Binomial(n, ½)`, summed in log space so large `n` stays finite.
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    let log_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut log_choose = 0.0; // ln C(n, 0)
    let mut sum = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        sum += (log_choose + log_half_n).exp();
    }
    sum.min(1.0)
}

/// The complementary error function, to about 1e-14 relative error.
///
/// A Taylor series of `erf` below 2 (where `erfc` is not small, so `1 − erf` keeps its
/// digits), and the continued fraction of `erfc` from 2 on, evaluated by Lentz's method.
pub(crate) fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        return 1.0 - erf_series(x);
    }
    // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
    let tiny = 1e-300;
    let mut f = x;
    let (mut c, mut d) = (x, 0.0);
    for k in 1..500 {
        let a = k as f64 / 2.0;
        d = x + a * d;
        d = if d.abs() < tiny { 1.0 / tiny } else { 1.0 / d };
        c = x + a / c;
        if c.abs() < tiny {
            c = tiny;
        }
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// `erf(x) = 2/√π · Σ (−1)^k x^{2k+1} / (k! (2k+1))`.
fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x; // (−1)^k x^{2k+1} / k!
    let mut sum = x;
    for k in 1..200 {
        term *= -x2 / k as f64;
        let next = term / (2 * k + 1) as f64;
        sum += next;
        if next.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(fixed, regressed, p)`: two-sided exact binomial p-values from
    /// `scipy.stats.binomtest(min(f, r), f + r, 0.5).pvalue` (scipy 1.x), and by hand for
    /// the first: 2 · (C(11,0) + C(11,1) + C(11,2)) / 2^11 = 134 / 2048.
    const EXACT: [(usize, usize, f64); 4] = [
        (9, 2, 0.0654296875),
        (3, 12, 0.03515625),
        (5, 5, 1.0),
        (0, 0, 1.0),
    ];

    /// `(fixed, regressed, χ², p)`: χ² = (|f − r| − 1)² / (f + r) by hand, p from
    /// `scipy.stats.chi2.sf(x, 1)`.
    const CHI_SQUARE: [(usize, usize, f64, f64); 2] = [
        (30, 14, 225.0 / 44.0, 0.023738515250054576),
        (25, 40, 196.0 / 65.0, 0.08247788747320971),
    ];

    #[test]
    fn mcnemar_exact_p_values_match_the_binomial_table() {
        for (fixed, regressed, p) in EXACT {
            let test = McNemar::test(fixed, regressed);
            assert_eq!(
                test.method,
                McNemarMethod::ExactBinomial,
                "{fixed}/{regressed}"
            );
            assert_eq!(test.statistic, None);
            assert!(
                (test.p_value - p).abs() < 1e-12,
                "{fixed}/{regressed}: {} vs {p}",
                test.p_value
            );
        }
    }

    #[test]
    fn mcnemar_switches_to_chi_square_at_25_discordant_pairs() {
        assert_eq!(McNemar::test(12, 12).method, McNemarMethod::ExactBinomial);
        assert_eq!(McNemar::test(13, 12).method, McNemarMethod::ChiSquare);
        for (fixed, regressed, statistic, p) in CHI_SQUARE {
            let test = McNemar::test(fixed, regressed);
            assert_eq!(test.method, McNemarMethod::ChiSquare);
            let got = test.statistic.unwrap();
            assert!((got - statistic).abs() < 1e-12, "{got} vs {statistic}");
            assert!((test.p_value - p).abs() < 1e-10, "{} vs {p}", test.p_value);
        }
    }

    #[test]
    fn erfc_matches_reference_values() {
        // scipy.special.erfc at each point.
        let table = [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028516),
            (1.9, 0.007209570764742531),
            (2.0, 0.004677734981047266),
            (3.0, 2.2090496998585445e-05),
            (6.0, 2.1519736712498913e-17),
            (-1.0, 1.8427007929497148),
        ];
        for (x, want) in table {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    /// The exact bootstrap distribution of the mean of 10 draws from 4 × (+1), 1 × (−1),
    /// 5 × 0 is multinomial; enumerating it (Python, fractions) gives P(M ≤ −0.2) = 0.0144,
    /// P(M ≤ −0.1) = 0.0438, P(M ≤ 0.6) = 0.9634, P(M ≤ 0.7) = 0.9909. The 251st of 10,000
    /// sorted means is therefore −0.1 and the 9,750th is 0.7 (each boundary more than five
    /// Monte Carlo standard errors away).
    #[test]
    fn bootstrap_interval_matches_the_exact_bootstrap_quantiles() {
        let mut deltas = vec![1.0; 4];
        deltas.push(-1.0);
        deltas.extend([0.0; 5]);
        let ci = Interval::paired_bootstrap(&deltas, 10_000, 0.95, 0);
        assert!((ci.low - -0.1).abs() < 1e-9, "{ci:?}");
        assert!((ci.high - 0.7).abs() < 1e-9, "{ci:?}");
        assert_eq!((ci.resamples, ci.confidence, ci.seed), (10_000, 0.95, 0));
    }

    /// 7 × (+1), 1 × (−1), 4 × 0 over 12: exactly P(M ≤ 0) = 0.0105, P(M ≤ 1/12) = 0.0277,
    /// P(M ≤ 9/12) = 0.9517, P(M ≤ 10/12) = 0.9878, so with 100,000 resamples the interval is
    /// [1/12, 10/12] (the closest boundary is five standard errors away).
    #[test]
    fn bootstrap_interval_of_a_second_table() {
        let mut deltas = vec![1.0; 7];
        deltas.push(-1.0);
        deltas.extend([0.0; 4]);
        for seed in [1, 2] {
            let ci = Interval::paired_bootstrap(&deltas, 100_000, 0.95, seed);
            assert!((ci.low - 1.0 / 12.0).abs() < 1e-9, "{ci:?}");
            assert!((ci.high - 10.0 / 12.0).abs() < 1e-9, "{ci:?}");
            assert!(ci.excludes_zero());
        }
    }

    #[test]
    fn bootstrap_is_seeded_and_degenerate_inputs_give_zero() {
        let deltas = [0.5, -0.25, 1.0, 0.0, 0.0, 0.75];
        let a = Interval::paired_bootstrap(&deltas, 2_000, 0.9, 42);
        assert_eq!(a, Interval::paired_bootstrap(&deltas, 2_000, 0.9, 42));
        assert_ne!(a, Interval::paired_bootstrap(&deltas, 2_000, 0.9, 43));
        let empty = Interval::paired_bootstrap(&[], 100, 0.95, 0);
        assert_eq!((empty.low, empty.high), (0.0, 0.0));
        let constant = Interval::paired_bootstrap(&[0.25; 5], 100, 0.95, 0);
        assert_eq!((constant.low, constant.high), (0.25, 0.25));
    }
}
