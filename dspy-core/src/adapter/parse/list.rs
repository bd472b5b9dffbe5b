//! Lists and records written as text: bullets, numbered lines, comma-separated values, and
//! `key: value` lines.

/// Items of a bulleted or numbered list (`- a`, `* a`, `• a`, `1. a`, `2) a`). Lines without a
/// marker before, between or after the items are left out, and reported by the `bool`.
/// `None` when no line has a marker.
pub(super) fn bullet_items(text: &str) -> Option<(Vec<&str>, bool)> {
    let mut items = Vec::new();
    let mut skipped = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match strip_marker(line) {
            Some(item) => items.push(item),
            None => skipped = true,
        }
    }
    if items.is_empty() {
        None
    } else {
        Some((items, skipped))
    }
}

/// The line without its list marker, if it has one.
fn strip_marker(line: &str) -> Option<&str> {
    for bullet in [
        '-', '*', '\u{2022}', '+', '\u{2013}', '\u{2014}', '\u{00b7}',
    ] {
        if let Some(rest) = line.strip_prefix(bullet)
            && rest.starts_with(char::is_whitespace)
        {
            return Some(rest.trim());
        }
    }
    let digits = line
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(line.len());
    if digits == 0 || digits > 3 {
        return None;
    }
    let rest = line.get(digits..)?;
    let rest = rest.strip_prefix('.').or_else(|| rest.strip_prefix(')'))?;
    if rest.starts_with(char::is_whitespace) {
        Some(rest.trim())
    } else {
        None
    }
}

/// How a text was split into items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Split {
    /// One item per line.
    Lines,
    /// Comma-separated.
    Commas,
    /// Semicolon-separated.
    Semicolons,
}

impl Split {
    /// The attempt, for failure messages.
    pub(super) fn label(self) -> &'static str {
        match self {
            Split::Lines => "as one item per line",
            Split::Commas => "as a comma-separated list",
            Split::Semicolons => "as a semicolon-separated list",
        }
    }

    pub(super) fn describe(self) -> &'static str {
        match self {
            Split::Lines => "read one list item per line",
            Split::Commas => "read a comma-separated list",
            Split::Semicolons => "read a semicolon-separated list",
        }
    }
}

/// Splits a plain list: lines if there are several, else commas, else semicolons. Pieces are
/// trimmed, lose a leading "and"/"or" and surrounding quotes; a final period is dropped.
/// `None` when there is nothing to split.
pub(super) fn split_items(text: &str) -> Option<(Vec<&str>, Split)> {
    let text = text.trim();
    let text = match text.strip_suffix('.') {
        Some(t) if !t.ends_with('.') => t,
        _ => text,
    };
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    let split = if lines > 1 {
        Split::Lines
    } else if text.contains(',') {
        Split::Commas
    } else if text.contains(';') {
        Split::Semicolons
    } else {
        return None;
    };
    let keep = |p: &&str| !p.is_empty();
    let items: Vec<&str> = match split {
        Split::Lines => text.lines().map(clean_piece).filter(keep).collect(),
        Split::Commas => text.split(',').map(clean_piece).filter(keep).collect(),
        Split::Semicolons => text.split(';').map(clean_piece).filter(keep).collect(),
    };
    if items.len() < 2 {
        None
    } else {
        Some((items, split))
    }
}

fn clean_piece(piece: &str) -> &str {
    let mut p = piece.trim();
    for joiner in ["and ", "or ", "And ", "Or "] {
        if let Some(rest) = p.strip_prefix(joiner) {
            p = rest.trim_start();
        }
    }
    for (open, close) in [("\"", "\""), ("'", "'"), ("\u{201c}", "\u{201d}")] {
        if p.len() >= 2
            && let Some(inner) = p.strip_prefix(open).and_then(|r| r.strip_suffix(close))
        {
            return inner.trim();
        }
    }
    p
}

/// `key: value` lines (bullets allowed), as a record. `None` unless every non-empty line is one,
/// with a short key.
pub(super) fn key_value_lines(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut pairs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let line = strip_marker(line).unwrap_or(line);
        let (key, value) = line.split_once(':')?;
        let key = key.trim().trim_matches(['*', '"', '\'', '`']).trim();
        let short = !key.is_empty() && key.chars().count() <= 40;
        if !short
            || !key
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
        {
            return None;
        }
        pairs.push((key, value.trim()));
    }
    if pairs.is_empty() { None } else { Some(pairs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bullets() {
        assert_eq!(bullet_items("- a\n- b c"), Some((vec!["a", "b c"], false)));
        assert_eq!(bullet_items("* a\n\n* b"), Some((vec!["a", "b"], false)));
        assert_eq!(
            bullet_items("\u{2022} a\n\u{2022} b"),
            Some((vec!["a", "b"], false))
        );
        assert_eq!(
            bullet_items("1. a\n2. b\n10) c"),
            Some((vec!["a", "b", "c"], false))
        );
        assert_eq!(
            bullet_items("Here you go:\n- a\n- b"),
            Some((vec!["a", "b"], true))
        );
        assert_eq!(bullet_items("a, b"), None);
        assert_eq!(bullet_items("-5\n1.5"), None);
    }

    #[test]
    fn splits() {
        assert_eq!(
            split_items("a, b, and c."),
            Some((vec!["a", "b", "c"], Split::Commas))
        );
        assert_eq!(
            split_items("\"x\", 'y'"),
            Some((vec!["x", "y"], Split::Commas))
        );
        assert_eq!(split_items("a\nb\n"), Some((vec!["a", "b"], Split::Lines)));
        assert_eq!(
            split_items("a; b"),
            Some((vec!["a", "b"], Split::Semicolons))
        );
        assert_eq!(split_items("single"), None);
        assert_eq!(split_items("a,"), None);
    }

    #[test]
    fn records() {
        assert_eq!(
            key_value_lines("name: Ada\n- **age**: 36"),
            Some(vec![("name", "Ada"), ("age", "36")])
        );
        assert_eq!(key_value_lines("just some text"), None);
        assert_eq!(key_value_lines("a: 1\nnot a pair"), None);
        assert_eq!(key_value_lines("{\"a\": 1}"), None);
    }
}
