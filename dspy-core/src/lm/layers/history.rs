//! The last N calls of an LM, and DSPy's `inspect_history` view of them.

use crate::adapter::{Prompt, Role};
use crate::lm::{LmRequest, LmResponse};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One call, as [`LM::history`](crate::LM::history) keeps it.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// When the call started.
    pub timestamp: SystemTime,
    /// The LM's model name.
    pub model: String,
    /// What was asked.
    pub request: LmRequest,
    /// The answer, or the error's message.
    pub outcome: Result<LmResponse, String>,
    /// How long the call took (cache hits included).
    pub latency: Duration,
}

impl HistoryEntry {
    /// Whether the answer came from the cache.
    pub fn cached(&self) -> bool {
        self.outcome.as_ref().is_ok_and(|r| r.cached)
    }
}

/// A bounded log of calls, shared by the clones of an LM.
#[derive(Debug)]
pub(crate) struct History {
    capacity: usize,
    entries: Mutex<VecDeque<HistoryEntry>>,
}

impl History {
    pub(crate) fn new(capacity: usize) -> Self {
        History {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<HistoryEntry>> {
        // Entries are pushed whole; a poisoned lock still holds a valid log.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn push(&self, entry: HistoryEntry) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub(crate) fn last(&self, n: usize) -> Vec<HistoryEntry> {
        let entries = self.lock();
        let skip = entries.len().saturating_sub(n);
        entries.iter().skip(skip).cloned().collect()
    }
}

/// Renders entries as DSPy's `inspect_history` prints them: a timestamp, each message under
/// `System message:` / `User message:` / `Assistant message:`, then `Response:` (with the
/// number of other completions). `color` adds DSPy's terminal colours.
///
/// ```
/// use dspy_core::adapter::{Message, Prompt};
/// use dspy_core::lm::{format_history, Choice, HistoryEntry, LmRequest, LmResponse};
/// let entry = HistoryEntry {
///     timestamp: std::time::UNIX_EPOCH,
///     model: "m".into(),
///     request: LmRequest::new(Prompt::Chat(vec![Message::user("2 + 2?")])),
///     outcome: Ok(LmResponse { choices: vec![Choice::new("4")], ..Default::default() }),
///     latency: std::time::Duration::from_millis(3),
/// };
/// let text = format_history(&[entry], false);
/// assert!(text.contains("[1970-01-01T00:00:00.000000]"));
/// assert!(text.contains("User message:\n\n2 + 2?"));
/// assert!(text.contains("Response:\n\n4"));
/// ```
pub fn format_history(entries: &[HistoryEntry], color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let (red, green, blue) = ("31", "32", "34");
    let mut out = String::new();
    for entry in entries {
        let _ = write!(out, "\n\n\n\n");
        let mut stamp = format!("[{}]", iso_timestamp(entry.timestamp));
        if entry.cached() {
            stamp.push_str(" (cached)");
        }
        let _ = writeln!(out, "{}\n", paint(blue, &stamp));
        let messages: Vec<(Role, &str)> = match &entry.request.prompt {
            Prompt::Chat(messages) => messages
                .iter()
                .map(|m| (m.role, m.content.as_str()))
                .collect(),
            Prompt::Text(text) => vec![(Role::User, text.as_str())],
        };
        for (role, content) in messages {
            let title = match role {
                Role::System => "System message:",
                Role::User => "User message:",
                Role::Assistant => "Assistant message:",
            };
            let _ = writeln!(out, "{}\n", paint(red, title));
            let _ = writeln!(out, "{}\n\n", content.trim());
        }
        match &entry.outcome {
            Ok(response) => {
                let _ = writeln!(out, "{}\n", paint(red, "Response:"));
                let first = response.choices.first().map_or("", |c| c.text.trim());
                let _ = writeln!(out, "{}\n", paint(green, first));
                if response.choices.len() > 1 {
                    let others =
                        format!(" \t (and {} other completions)", response.choices.len() - 1);
                    out.push_str(&paint(red, &others));
                }
            }
            Err(message) => {
                let _ = writeln!(out, "{}\n", paint(red, "Error:"));
                let _ = writeln!(out, "{}\n", message.trim());
            }
        }
    }
    let _ = write!(out, "\n\n\n\n");
    out
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` in UTC (DSPy prints local `isoformat()`; UTC needs no
/// time-zone database).
fn iso_timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::Choice;

    #[test]
    fn timestamps_are_iso_dates() {
        let t = UNIX_EPOCH + Duration::from_micros(1_709_210_096_123_456);
        assert_eq!(iso_timestamp(t), "2024-02-29T12:34:56.123456");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn keeps_only_the_last_entries() {
        let history = History::new(2);
        for i in 0..3 {
            history.push(HistoryEntry {
                timestamp: UNIX_EPOCH,
                model: "m".into(),
                request: LmRequest::new(Prompt::Text(format!("q{i}"))),
                outcome: Ok(LmResponse {
                    choices: vec![Choice::new(format!("a{i}")), Choice::new("b")],
                    ..Default::default()
                }),
                latency: Duration::ZERO,
            });
        }
        let last = history.last(10);
        assert_eq!(last.len(), 2);
        assert_eq!(last[0].request.prompt, Prompt::Text("q1".into()));
        let text = format_history(&history.last(1), false);
        assert!(text.contains("User message:\n\nq2\n"), "{text}");
        assert!(text.contains("Response:\n\na2\n"), "{text}");
        assert!(text.contains("(and 1 other completions)"), "{text}");
        assert!(!text.contains("q1"));
        let colored = format_history(&history.last(1), true);
        assert!(
            colored.contains("\x1b[31mUser message:\x1b[0m"),
            "{colored}"
        );
    }
}
