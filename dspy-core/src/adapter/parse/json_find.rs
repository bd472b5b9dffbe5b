//! Finding the JSON inside an answer: code fences, prose around it, the first balanced object
//! or array, and repairs when it is not strict JSON.

use super::repair::{UNCLOSED_BRACKET, UNCLOSED_STRING, parse_lenient};
use serde_json::Value;

/// How many candidate openings (`{` or `[`) to try before giving up.
const MAX_STARTS: usize = 16;

/// Recorded when the JSON was inside a Markdown code fence.
pub(super) const FENCE: &str = "removed a code fence";
/// Recorded when there was text before or after the JSON.
pub(super) const AROUND: &str = "ignored text around the JSON";

/// What to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// A JSON object.
    Object,
    /// A JSON object or array.
    Container,
}

impl Want {
    fn opens(self, c: char) -> bool {
        c == '{' || (self == Want::Container && c == '[')
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Want::Object => value.is_object(),
            Want::Container => value.is_object() || value.is_array(),
        }
    }
}

/// A Markdown code fence found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fence<'a> {
    /// What is inside the fence (without the language tag).
    pub body: &'a str,
    /// Whether there is text outside the fence.
    pub outside: bool,
    /// Whether the fence was closed (else it runs to the end of the text).
    pub closed: bool,
}

/// The first fenced block (```` ```json ... ``` ```` or ```` ``` ... ``` ````) in `text`. An
/// unclosed fence runs to the end.
pub(super) fn fence(text: &str) -> Option<Fence<'_>> {
    // Fences open at the start of a line, or end their line (after a language tag); backticks
    // elsewhere may be inside the JSON.
    let start = text.match_indices("```").map(|(at, _)| at).find(|&at| {
        at_line_start(text, at) || ends_line_with_tag(text.get(at + 3..).unwrap_or(""))
    })?;
    let after = text.get(start + 3..)?;
    let body = match after.find('\n') {
        Some(newline) => {
            let tag = after.get(..newline).unwrap_or("").trim();
            let is_tag = tag.is_empty()
                || (tag.starts_with(|c: char| c.is_ascii_alphabetic())
                    && tag
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c)));
            if is_tag {
                after.get(newline + 1..).unwrap_or("")
            } else {
                after
            }
        }
        None => {
            // One line: ```json {"a": 1}```
            let tag_len = after
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(after.len());
            match after.get(tag_len..) {
                Some(rest) if tag_len > 0 && rest.starts_with([' ', '\t', '{', '[']) => rest,
                _ => after,
            }
        }
    };
    let (inner, closed_at) = match closing_fence(body) {
        Some(end) => (body.get(..end).unwrap_or(body), Some(end)),
        None => (body, None),
    };
    let before = text.get(..start).unwrap_or("");
    let after_fence = match closed_at {
        Some(end) => body.get(end + 3..).unwrap_or(""),
        None => "",
    };
    let outside = !before.trim().is_empty() || !after_fence.trim().is_empty();
    Some(Fence {
        body: inner.trim(),
        outside,
        closed: closed_at.is_some(),
    })
}

/// Where the fence that opened `body` closes: the first ```` ``` ```` at the start of a line, else
/// the last one (```` {"a": 1}``` ````), so backticks inside the JSON do not end it.
fn closing_fence(body: &str) -> Option<usize> {
    let mut last = None;
    for (at, _) in body.match_indices("```") {
        if at_line_start(body, at) {
            return Some(at);
        }
        last = Some(at);
    }
    last
}

/// Whether `rest` (after an opening fence) is a language tag, or nothing, up to a line break.
fn ends_line_with_tag(rest: &str) -> bool {
    let tag_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    rest.get(tag_len..)
        .is_some_and(|r| r.trim_start_matches([' ', '\t', '\r']).starts_with('\n'))
}

/// Whether only spaces come before byte `at` on its line.
fn at_line_start(text: &str, at: usize) -> bool {
    let before = text.get(..at).unwrap_or("");
    let line = before
        .rfind('\n')
        .map_or(before, |n| before.get(n + 1..).unwrap_or(""));
    line.trim().is_empty()
}

/// The byte length of the balanced `{...}` or `[...]` that `text` starts with, respecting strings
/// and escapes; `None` when it never closes.
pub(super) fn balanced_len(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    let mut previous = b' ';
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' => quote = Some(b'"'),
            // A single quote opens a string only where a JSON value or key could start.
            b'\'' if matches!(previous, b'{' | b'[' | b',' | b':') => quote = Some(b'\''),
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            previous = b;
        }
    }
    None
}

/// A JSON value found in a text.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Found {
    /// The value.
    pub value: Value,
    /// The repairs it needed, in words.
    pub repairs: Vec<String>,
    /// Whether a string or bracket had to be closed at the very end of the text: the text was
    /// cut off inside the value. (One closed at the end of a closed code fence was only
    /// forgotten.)
    pub cut_off: bool,
}

/// Finds the first JSON value of the wanted shape in `text`, with the repairs it needed.
///
/// Strict readings win over repaired ones: the whole text, then a fenced block, then the first
/// balanced span that is strict JSON; only then lenient readings of the fence and of the text.
pub(super) fn find_json(text: &str, want: Want) -> Option<(Value, Vec<String>)> {
    find_json_where(text, want, &|_| true).map(|found| (found.value, found.repairs))
}

/// [`find_json`], taking only values `accept` approves of (the answer object rather than an
/// echo of the input before it), and saying whether the value was cut off.
pub(super) fn find_json_where(
    text: &str,
    want: Want,
    accept: &dyn Fn(&Value) -> bool,
) -> Option<Found> {
    let text = text.trim();
    let fits = |value: &Value| want.accepts(value) && accept(value);
    // Fast path: the whole answer is strict JSON.
    if text.starts_with(|c| want.opens(c))
        && let Ok(value) = serde_json::from_str::<Value>(text)
        && fits(&value)
    {
        return Some(Found {
            value,
            repairs: Vec::new(),
            cut_off: false,
        });
    }
    let fence = fence(text);
    let in_fence = |lenient| {
        let fence = fence?;
        let mut found = scan(fence.body, want, &fits, lenient)?;
        if fence.outside && !found.repairs.iter().any(|r| r == AROUND) {
            found.repairs.insert(0, AROUND.to_string());
        }
        found.repairs.insert(0, FENCE.to_string());
        found.cut_off &= !fence.closed;
        Some(found)
    };
    in_fence(false)
        .or_else(|| scan(text, want, &fits, false))
        .or_else(|| in_fence(true))
        .or_else(|| scan(text, want, &fits, true))
}

/// Tries each opening in turn: strict JSON on the balanced span, or (when `lenient`) a lenient
/// reading from there. A lenient reading runs to the end of `text` when it had to close
/// something, so that is when `cut_off` is set.
fn scan(text: &str, want: Want, fits: &dyn Fn(&Value) -> bool, lenient: bool) -> Option<Found> {
    let mut from = 0;
    for _ in 0..MAX_STARTS {
        let start = from + text.get(from..)?.find(|c| want.opens(c))?;
        let candidate = text.get(start..)?;
        let found = if lenient {
            from = start + 1;
            parse_lenient(candidate)
                .ok()
                .filter(|(value, _, _)| fits(value))
        } else {
            // An opening that never closes holds everything after it, and a balanced span
            // that is not JSON holds the openings inside it: values found there would be
            // pieces of a broken whole, which the lenient pass reads better.
            let len = balanced_len(candidate)?;
            from = start + len;
            candidate
                .get(..len)
                .and_then(|span| serde_json::from_str::<Value>(span).ok())
                .filter(|value| fits(value))
                .map(|value| (value, Vec::new(), len))
        };
        if let Some((value, mut repairs, len)) = found {
            let after = candidate.get(len..).unwrap_or("");
            if start > 0 || !after.trim().is_empty() {
                repairs.insert(0, AROUND.to_string());
            }
            let cut_off = repairs
                .iter()
                .any(|r| r == UNCLOSED_STRING || r == UNCLOSED_BRACKET);
            return Some(Found {
                value,
                repairs,
                cut_off,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::parse::repair::{
        BARE_WORD, SINGLE_QUOTES, TRAILING_COMMA, UNCLOSED_BRACKET,
    };
    use serde_json::json;

    fn find(text: &str) -> Option<(Value, Vec<String>)> {
        find_json(text, Want::Object)
    }

    fn strs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clean_json() {
        assert_eq!(find(r#"{"a": 1}"#), Some((json!({"a": 1}), vec![])));
        assert_eq!(find("  {\"a\": 1}\n"), Some((json!({"a": 1}), vec![])));
    }

    #[test]
    fn code_fences() {
        assert_eq!(
            find("```json\n{\"a\": 1}\n```"),
            Some((json!({"a": 1}), strs(&[FENCE])))
        );
        assert_eq!(
            find("```\n{\"a\": 1}\n```"),
            Some((json!({"a": 1}), strs(&[FENCE])))
        );
        assert_eq!(
            find("```JSON {\"a\": 1}```"),
            Some((json!({"a": 1}), strs(&[FENCE])))
        );
        assert_eq!(
            find("```json\n{\"a\": 1}"),
            Some((json!({"a": 1}), strs(&[FENCE])))
        );
        assert_eq!(
            find("Here it is:\n```json\n{\"a\": 1}\n```\nDone."),
            Some((json!({"a": 1}), strs(&[FENCE, AROUND])))
        );
    }

    #[test]
    fn prose_around() {
        assert_eq!(
            find("Sure! Here is the answer: {\"a\": {\"b\": \"}\"}} Hope it helps"),
            Some((json!({"a": {"b": "}"}}), strs(&[AROUND])))
        );
    }

    #[test]
    fn braces_in_prose_before_the_json() {
        assert_eq!(
            find("Use {curly braces} like this: {\"a\": 1}"),
            Some((json!({"a": 1}), strs(&[AROUND])))
        );
    }

    #[test]
    fn repairs_are_reported() {
        assert_eq!(
            find("```json\n{'a': 1,}\n```"),
            Some((
                json!({"a": 1}),
                strs(&[FENCE, SINGLE_QUOTES, TRAILING_COMMA])
            ))
        );
        assert_eq!(
            find("answer: {\"a\": [1, 2"),
            Some((json!({"a": [1, 2]}), strs(&[AROUND, UNCLOSED_BRACKET])))
        );
    }

    #[test]
    fn arrays_when_wanted() {
        assert_eq!(
            find_json("tags: [\"a\", \"b\"].", Want::Container),
            Some((json!(["a", "b"]), strs(&[AROUND])))
        );
        assert_eq!(find("tags: [\"a\", \"b\"]."), None);
    }

    #[test]
    fn strict_pieces_of_a_broken_whole_are_not_taken() {
        assert_eq!(
            find("{\"a\": {\"b\": 1}, \"c\": tru}"),
            Some((json!({"a": {"b": 1}, "c": "tru"}), strs(&[BARE_WORD])))
        );
        assert_eq!(
            find("{\"a\": {\"b\": 1}, \"c\": [1"),
            Some((json!({"a": {"b": 1}, "c": [1]}), strs(&[UNCLOSED_BRACKET])))
        );
    }

    #[test]
    fn backticks_inside_fenced_json() {
        assert_eq!(
            find("```json\n{\"a\": \"```\", \"b\": {}}\n```"),
            Some((json!({"a": "```", "b": {}}), strs(&[FENCE])))
        );
        assert_eq!(
            find("```json\n{\"a\": 1}```"),
            Some((json!({"a": 1}), strs(&[FENCE])))
        );
    }

    #[test]
    fn values_left_open_at_the_end_are_cut_off() {
        let cut = |text: &str| find_json_where(text, Want::Container, &|_| true).map(|f| f.cut_off);
        assert_eq!(cut("[\"photosynthesis\", \"chloro"), Some(true));
        assert_eq!(cut("{\"the\": 2, \"cat\": 1, \"sa"), Some(true));
        assert_eq!(cut("```json\n{\"a\": [1, 2"), Some(true), "an open fence");
        assert_eq!(
            cut("```json\n{\"a\": [1, 2]\n```"),
            Some(false),
            "a closed fence"
        );
        assert_eq!(cut("{\"a\": [1, 2,]}"), Some(false));
        assert_eq!(cut("[1, 2] and more"), Some(false));
    }

    #[test]
    fn the_accepted_value_is_found_past_others() {
        let has_b = |v: &Value| v.get("b").is_some();
        let found = find_json_where("{\"a\": 1}\n{\"b\": 2}", Want::Object, &has_b);
        assert_eq!(found.map(|f| f.value), Some(json!({"b": 2})));
        let found = find_json_where("```json\n{\"a\": 1}\n```\n{'b': 2", Want::Object, &has_b);
        assert_eq!(
            found.map(|f| (f.value, f.cut_off)),
            Some((json!({"b": 2}), true))
        );
        assert_eq!(find_json_where("{\"a\": 1}", Want::Object, &has_b), None);
    }

    #[test]
    fn nothing_found() {
        assert_eq!(find("no json here"), None);
        assert_eq!(find(""), None);
        assert_eq!(find("{not json}"), None);
    }

    #[test]
    fn balanced_spans() {
        assert_eq!(balanced_len(r#"{"a": "}\"}"} tail"#), Some(13));
        assert_eq!(balanced_len("[1, [2]] x"), Some(8));
        assert_eq!(balanced_len("{'a': '}'}"), Some(10));
        assert_eq!(balanced_len("{\"a\": 1"), None);
        assert_eq!(balanced_len("}"), None);
    }

    #[test]
    fn fences() {
        assert_eq!(
            fence("```json\n{}\n```"),
            Some(Fence {
                body: "{}",
                outside: false,
                closed: true
            })
        );
        assert_eq!(
            fence("x\n```\n42\n``` y"),
            Some(Fence {
                body: "42",
                outside: true,
                closed: true
            })
        );
        assert_eq!(
            fence("x ```\n42\n```"),
            Some(Fence {
                body: "42",
                outside: true,
                closed: true
            })
        );
        assert_eq!(fence("{\"a\": \"```\"}"), None);
        assert_eq!(
            fence("```true```"),
            Some(Fence {
                body: "true",
                outside: false,
                closed: true
            })
        );
        assert_eq!(fence("no fence"), None);
    }
}
