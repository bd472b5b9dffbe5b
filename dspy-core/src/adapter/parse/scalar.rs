//! Reading one scalar (a number, a yes/no, a null) out of a short answer.

use super::context::snip;
use super::json_find::fence;
use serde_json::Number;

/// Peels what LMs wrap around a short value: a code fence, quotes or backticks, `**bold**`, a
/// trailing period. Returns the inner text (a subslice, never a copy).
pub(super) fn unwrap_text(text: &str) -> &str {
    let mut t = text.trim();
    if t.starts_with("```")
        && let Some(f) = fence(t)
        && !f.outside
    {
        t = f.body;
    }
    // Each round removes at least one character, so this ends.
    loop {
        let before = t.len();
        t = t.trim();
        for (open, close) in [
            ("**", "**"),
            ("__", "__"),
            ("\"", "\""),
            ("'", "'"),
            ("`", "`"),
            ("\u{201c}", "\u{201d}"),
            ("\u{2018}", "\u{2019}"),
            ("*", "*"),
        ] {
            if t.len() >= open.len() + close.len()
                && let Some(inner) = t.strip_prefix(open).and_then(|r| r.strip_suffix(close))
            {
                t = inner;
                break;
            }
        }
        if let Some(inner) = t.strip_suffix(['.', '!'])
            && !inner.ends_with('.')
        {
            t = inner;
        }
        if t.len() == before {
            return t.trim();
        }
    }
}

/// Whether the answer means "no value": `None`, `null`, `N/A`, `nil`, empty (any case, quotes and
/// a trailing period allowed).
pub(super) fn is_null_word(text: &str) -> bool {
    let t = unwrap_text(text);
    t.is_empty()
        || ["none", "null", "n/a", "na", "nil", "undefined"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
}

/// Reads a yes/no answer: `true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0` in any case, quoted or
/// not, or a leading yes/no followed by punctuation ("Yes, because ...").
///
/// A yes/no alone on the first line, followed by an explanation or a stray marker fragment on
/// later lines, is read too, unless the text after it starts with a yes/no of its own.
pub(super) fn read_bool(text: &str) -> Option<bool> {
    let t = unwrap_text(text);
    if let Some(b) = leading_bool(t) {
        return Some(b);
    }
    let (head, rest) = first_line(text)?;
    let rest_word = rest
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("");
    if bool_word(rest_word).is_some() {
        return None;
    }
    leading_bool(unwrap_text(head))
}

/// The first line of a text and the rest, both trimmed and non-empty.
pub(super) fn first_line(text: &str) -> Option<(&str, &str)> {
    let (head, rest) = text.trim().split_once('\n')?;
    let (head, rest) = (head.trim(), rest.trim());
    (!head.is_empty() && !rest.is_empty()).then_some((head, rest))
}

/// A yes/no word, alone or followed by punctuation ("Yes, because ...").
fn leading_bool(t: &str) -> Option<bool> {
    if let Some(b) = bool_word(t) {
        return Some(b);
    }
    let end = t.find(|c: char| !c.is_alphanumeric())?;
    let (word, rest) = (t.get(..end)?, t.get(end..)?);
    if rest
        .trim_start()
        .starts_with([',', '.', ';', ':', '!', '\u{2014}', '-', '('])
    {
        return match word.to_ascii_lowercase().as_str() {
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            _ => None,
        };
    }
    None
}

fn bool_word(t: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "yes", "y", "1"];
    const FALSE: [&str; 4] = ["false", "no", "n", "0"];
    if TRUE.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        Some(true)
    } else if FALSE.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        Some(false)
    } else {
        None
    }
}

/// Reads the one number in `text`. Returns it, and whether the text was exactly that number (so
/// nothing needed fixing). Fails when there is no number or more than one.
pub(super) fn read_number(text: &str) -> Result<(Number, bool), String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<Number>() {
        return Ok((n, true));
    }
    let mut tokens = NumberTokens { text: t, pos: 0 };
    let Some(first) = tokens.next() else {
        return Err(format!("no number found in {}", snip(t, 60)));
    };
    if let Some(second) = tokens.next() {
        let more = if tokens.next().is_some() { ", ..." } else { "" };
        return Err(format!(
            "found more than one number in {} ({first}, {second}{more})",
            snip(t, 60)
        ));
    }
    let n = number_of(first).ok_or_else(|| format!("could not read {first:?} as a number"))?;
    Ok((n, false))
}

/// The number a token stands for: `1,000` → 1000, `+3` → 3, `.5` → 0.5.
fn number_of(token: &str) -> Option<Number> {
    let mut clean = String::with_capacity(token.len() + 1);
    for c in token.chars() {
        match c {
            ',' | '+' => {}
            '.' if clean.is_empty() || clean == "-" => clean.push_str("0."),
            c => clean.push(c),
        }
    }
    if let Ok(n) = clean.parse::<Number>() {
        return Some(n);
    }
    if !clean.contains(['.', 'e', 'E']) {
        if let Ok(i) = clean.parse::<i64>() {
            return Some(Number::from(i));
        }
        if let Ok(u) = clean.parse::<u64>() {
            return Some(Number::from(u));
        }
    }
    Number::from_f64(clean.parse::<f64>().ok()?)
}

/// The numbers written in a text, as tokens: an optional sign, digits (with `,` thousands
/// groups), a fraction, an exponent. Digits glued to letters before them (`gpt4`, `H2O`) or
/// to letters and digits after them (`0x1F`) are not numbers.
struct NumberTokens<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for NumberTokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            let mut start = self.pos;
            let previous = |at: usize| self.text.get(..at).and_then(|s| s.chars().next_back());
            // A `-` glued to a word is a hyphen, not a sign: `3-5` is 3 and 5.
            if matches!(b, b'-' | b'+') && previous(start).is_some_and(char::is_alphanumeric) {
                start += 1;
            }
            let Some(end) = token_at(self.text, start) else {
                self.pos += 1;
                continue;
            };
            let glued_before =
                previous(start).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
            let word_after = self.text.get(end..).unwrap_or("");
            let unit_len = word_after
                .find(|c: char| !c.is_alphanumeric())
                .unwrap_or(word_after.len());
            let glued_after = word_after
                .get(..unit_len)
                .is_some_and(|u| u.contains(|c: char| c.is_ascii_digit()));
            self.pos = end + unit_len;
            if glued_before || glued_after {
                continue;
            }
            return self.text.get(start..end);
        }
        None
    }
}

/// The end of a number token starting at byte `start`, if one starts there.
fn token_at(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let mut i = start;
    if matches!(at(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |mut i: usize| {
        while at(i).is_some_and(|b| b.is_ascii_digit()) {
            i += 1;
        }
        i
    };
    let int_end = digits(i);
    let mut end = int_end;
    if int_end > i {
        // Thousands groups: 1,000,000 (exactly three digits after each comma).
        while at(end) == Some(b',') && digits(end + 1) == end + 4 {
            end += 4;
        }
    }
    if at(end) == Some(b'.') && at(end + 1).is_some_and(|b| b.is_ascii_digit()) {
        end = digits(end + 1);
    } else if int_end == i {
        return None;
    }
    if matches!(at(end), Some(b'e' | b'E')) {
        let mut j = end + 1;
        if matches!(at(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            end = exp_end;
        }
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Result<(String, bool), String> {
        read_number(text).map(|(n, exact)| (n.to_string(), exact))
    }

    #[test]
    fn exact_numbers() {
        assert_eq!(num("42"), Ok(("42".into(), true)));
        assert_eq!(num(" -3.5 "), Ok(("-3.5".into(), true)));
        assert_eq!(num("1e3"), Ok(("1000.0".into(), true)));
    }

    #[test]
    fn numbers_in_text() {
        assert_eq!(num("42."), Ok(("42".into(), false)));
        assert_eq!(num("approximately 3.5"), Ok(("3.5".into(), false)));
        assert_eq!(num("The answer is -7!"), Ok(("-7".into(), false)));
        assert_eq!(num("$1,234,567"), Ok(("1234567".into(), false)));
        assert_eq!(num("about .5 of it"), Ok(("0.5".into(), false)));
        assert_eq!(num("45%"), Ok(("45".into(), false)));
        assert_eq!(num("5km"), Ok(("5".into(), false)));
        assert_eq!(num("+3"), Ok(("3".into(), false)));
        assert_eq!(num("\"42\""), Ok(("42".into(), false)));
        assert_eq!(
            num("18446744073709551615 items"),
            Ok(("18446744073709551615".into(), false))
        );
    }

    #[test]
    fn no_or_several_numbers() {
        assert_eq!(num("abc"), Err("no number found in \"abc\"".into()));
        assert_eq!(
            num("gpt4 and H2O"),
            Err("no number found in \"gpt4 and H2O\"".into())
        );
        assert_eq!(num("0x1F"), Err("no number found in \"0x1F\"".into()));
        assert_eq!(
            num("between 3 and 5"),
            Err("found more than one number in \"between 3 and 5\" (3, 5)".into())
        );
        assert_eq!(
            num("1, 2, 3"),
            Err("found more than one number in \"1, 2, 3\" (1, 2, ...)".into())
        );
        assert_eq!(
            num("3-5"),
            Err("found more than one number in \"3-5\" (3, 5)".into())
        );
    }

    #[test]
    fn bools() {
        for t in [
            "true",
            "True",
            "TRUE",
            "yes",
            "Yes.",
            "y",
            "1",
            "\"true\"",
            "**Yes**",
            "Yes, it is.",
        ] {
            assert_eq!(read_bool(t), Some(true), "{t}");
        }
        for t in [
            "false",
            "False",
            "no",
            "No!",
            "n",
            "0",
            "'no'",
            "`false`",
            "No - never",
        ] {
            assert_eq!(read_bool(t), Some(false), "{t}");
        }
        for t in ["maybe", "", "yes and no", "nobody"] {
            assert_eq!(read_bool(t), None, "{t}");
        }
        assert_eq!(read_bool("```\ntrue\n```"), Some(true));
    }

    #[test]
    fn bools_followed_by_prose_or_a_marker_fragment() {
        for (t, want) in [
            ("True\n\nThe claim is supported by the passage.", Some(true)),
            (
                "False\n\nExplanation: the passage says otherwise.",
                Some(false),
            ),
            ("**Yes**\nBecause it rains.", Some(true)),
            ("True\n\n[[ ## completed", Some(true)),
            ("False\n\n## completed ##", Some(false)),
            ("True\n\nFalse", None),
            ("Yes\n\nno, wait", None),
            ("Maybe\n\nTrue", None),
        ] {
            assert_eq!(read_bool(t), want, "{t:?}");
        }
    }

    #[test]
    fn null_words() {
        for t in [
            "None", "null", "N/A", "n/a", "nil", "", "  ", "\"None\"", "None.",
        ] {
            assert!(is_null_word(t), "{t}");
        }
        for t in ["nothing at all", "0", "no"] {
            assert!(!is_null_word(t), "{t}");
        }
    }

    #[test]
    fn unwrapping() {
        assert_eq!(unwrap_text("  \"**human**.\" "), "human");
        assert_eq!(unwrap_text("`x`"), "x");
        assert_eq!(unwrap_text("wait..."), "wait...");
        assert_eq!(unwrap_text("\""), "\"");
        assert_eq!(unwrap_text("```\nyes\n```"), "yes");
    }
}
