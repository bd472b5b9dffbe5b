//! Numbers as every report page writes them, so pages agree on `72.5%`, `+4.0` and `12.4 s`.

use crate::lm::UsageReport;

/// A fraction as a percentage with one decimal.
///
/// ```
/// assert_eq!(dspy_core::evaluate::html::percent(0.725), "72.5%");
/// ```
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", 100.0 * fraction)
}

/// A difference of fractions in signed percentage points, one decimal.
///
/// ```
/// assert_eq!(dspy_core::evaluate::html::points(0.04), "+4.0");
/// assert_eq!(dspy_core::evaluate::html::points(-0.125), "-12.5");
/// ```
pub fn points(delta: f64) -> String {
    format!("{:+.1}", 100.0 * delta)
}

/// A p-value with four decimals, or in scientific notation below 0.0001 (never `0.0000`).
///
/// ```
/// use dspy_core::evaluate::html::p_value;
/// assert_eq!(p_value(0.0703125), "0.0703");
/// assert_eq!(p_value(3.5e-5), "3.5e-5");
/// ```
pub fn p_value(p: f64) -> String {
    if p >= 1e-4 || p == 0.0 {
        format!("{p:.4}")
    } else {
        format!("{p:.1e}")
    }
}

/// Milliseconds as `850 ms`, `12.4 s` or `3 min 5 s`.
///
/// ```
/// use dspy_core::evaluate::html::duration;
/// assert_eq!(duration(850), "850 ms");
/// assert_eq!(duration(12_400), "12.4 s");
/// assert_eq!(duration(185_000), "3 min 5 s");
/// ```
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// LM usage in one line: calls, cache hits, tokens, and the cost when there is one.
///
/// ```
/// let usage = dspy_core::lm::UsageReport { calls: 12, ..Default::default() };
/// assert_eq!(dspy_core::evaluate::html::usage_line(&usage), "12 LM calls, 0 cache hits, 0 tokens");
/// ```
pub fn usage_line(usage: &UsageReport) -> String {
    let mut line = format!(
        "{} LM calls, {} cache hits, {} tokens",
        usage.calls,
        usage.cache_hits,
        usage.total_tokens()
    );
    if usage.cost > 0.0 {
        line.push_str(&format!(", ${:.4}", usage.cost));
    }
    line
}
