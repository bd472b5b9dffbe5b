//! Small pieces both report pages show: a JSON object as a field list, an outcome, numbers.

use super::markup::{Html, escape};
use crate::lm::UsageReport;
use crate::util::snippet;
use serde_json::Value;

/// Longest text shown for one field; the rest is in the JSON and CSV exports.
const FIELD_CHARS: usize = 600;
/// Longest error shown in a table cell (parse errors repeat every adapter's attempt).
const ERROR_CHARS: usize = 240;

/// An object as a two-column field list, without the keys in `skip` (shown in their own
/// columns); any other value as text.
pub(crate) fn fields_except(value: &Value, skip: &[&str]) -> Html {
    let Value::Object(map) = value else {
        return Html::text(&text(value));
    };
    let items: Html = map
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            Html::markup(format!(
                "<dt>{}</dt><dd>{}</dd>",
                escape(k),
                escape(&cut(&text(v)))
            ))
        })
        .collect();
    Html::tag("dl", "kv", items)
}

/// The output as a field list, or the error in red.
pub(crate) fn outcome(output: Option<&Value>, error: Option<&str>, skip: &[&str]) -> Html {
    match (output, error) {
        (Some(output), _) => fields_except(output, skip),
        (None, Some(error)) => Html::tag("div", "error", Html::text(&snippet(error, ERROR_CHARS))),
        (None, None) => Html::empty(),
    }
}

/// A label in a coloured pill (`good`, `bad` or `neutral`).
pub(crate) fn pill(text: &str, tone: &str) -> Html {
    Html::markup(format!(
        "<span class=\"pill {tone}\">{}</span>",
        escape(text)
    ))
}

/// Text in the muted monospace style (ids, indices).
pub(crate) fn mono(text: &str) -> Html {
    Html::tag("span", "mono", Html::text(text))
}

/// `0.725` → `72.5%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.1}%", 100.0 * fraction)
}

/// `0.04` → `+4.0`: a difference of fractions in percentage points.
pub(crate) fn points(delta: f64) -> String {
    format!("{:+.1}", 100.0 * delta)
}

/// A p-value with four decimals, or in scientific notation below 0.0001 (never `0.0000`).
pub(crate) fn p_value(p: f64) -> String {
    if p >= 1e-4 || p == 0.0 {
        format!("{p:.4}")
    } else {
        format!("{p:.1e}")
    }
}

/// `calls · tokens · cost` in one line.
pub(crate) fn usage_line(usage: &UsageReport) -> String {
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

/// Milliseconds as `850 ms`, `12.4 s` or `3 min 5 s`.
pub(crate) fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= FIELD_CHARS {
        text.to_string()
    } else {
        snippet(text, FIELD_CHARS)
    }
}
