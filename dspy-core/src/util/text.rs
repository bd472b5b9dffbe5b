//! Text cut for display: [`snippet`] for one-line summaries (reports, trial descriptions),
//! [`excerpt`] and [`quoted_excerpt`] for raw data shown in an error message (a completion, an
//! HTTP body), where whitespace matters and the full length is worth telling.

/// `text` on one line (runs of whitespace as one space), cut to at most `max_chars`
/// characters with an ellipsis (`…`, counted in `max_chars`) when it is longer.
///
/// ```
/// use dspy_core::util::snippet;
/// assert_eq!(snippet("Answer\n  briefly.", 20), "Answer briefly.");
/// assert_eq!(snippet("abcdefghij", 5), "abcd…");
/// assert_eq!(snippet("héllo wörld", 6), "héllo…");
/// ```
pub fn snippet(text: &str, max_chars: usize) -> String {
    let mut words = text.split_whitespace();
    let mut flat = String::with_capacity(text.len().min(max_chars * 4));
    if let Some(first) = words.next() {
        flat.push_str(first);
        for word in words {
            flat.push(' ');
            flat.push_str(word);
        }
    }
    match flat.char_indices().nth(max_chars) {
        None => flat,
        Some(_) => {
            // Longer than `max_chars`: keep `max_chars - 1` characters and the ellipsis.
            let end = flat
                .char_indices()
                .nth(max_chars.saturating_sub(1))
                .map_or(flat.len(), |(i, _)| i);
            flat.truncate(end);
            flat.push('…');
            flat
        }
    }
}

/// At most `max_bytes` bytes of `text`, cut at a character boundary, whitespace kept; when cut,
/// an ellipsis and the full length follow (`… (5120 bytes in all)`), so a reader knows how much
/// is missing.
///
/// ```
/// use dspy_core::util::excerpt;
/// assert_eq!(excerpt("a short\nbody", 100), "a short\nbody");
/// assert_eq!(excerpt("abcdefghij", 4), "abcd… (10 bytes in all)");
/// assert_eq!(excerpt("héllo", 2), "h… (6 bytes in all)");
/// ```
pub fn excerpt(text: &str, max_bytes: usize) -> String {
    let (head, cut) = head(text, max_bytes);
    if cut {
        format!("{head}… ({} bytes in all)", text.len())
    } else {
        head.to_string()
    }
}

/// [`excerpt`] with the kept text quoted as a Rust string literal (`"a\nb"`), so whitespace,
/// quotes and control characters show; the length note stays outside the quotes.
///
/// ```
/// use dspy_core::util::quoted_excerpt;
/// assert_eq!(quoted_excerpt("two\nlines", 100), r#""two\nlines""#);
/// assert_eq!(quoted_excerpt("abcdefghij", 4), r#""abcd"… (10 bytes in all)"#);
/// ```
pub fn quoted_excerpt(text: &str, max_bytes: usize) -> String {
    let (head, cut) = head(text, max_bytes);
    if cut {
        format!("{head:?}… ({} bytes in all)", text.len())
    } else {
        format!("{head:?}")
    }
}

/// The longest prefix of at most `max_bytes` bytes that ends on a character boundary, and
/// whether anything was cut.
fn head(text: &str, max_bytes: usize) -> (&str, bool) {
    if text.len() <= max_bytes {
        return (text, false);
    }
    let end = (0..=max_bytes)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_only_flattened() {
        assert_eq!(snippet("a\n b", 10), "a b");
        assert_eq!(snippet("", 10), "");
        assert_eq!(snippet("abcde", 5), "abcde");
    }

    #[test]
    fn long_text_is_cut_to_the_limit_with_the_ellipsis() {
        let cut = snippet(&"x".repeat(70), 61);
        assert_eq!(cut.chars().count(), 61);
        assert!(cut.ends_with('…'));
        assert_eq!(snippet("abc", 0), "…");
    }

    #[test]
    fn excerpts_cut_by_bytes_at_a_char_boundary() {
        assert_eq!(excerpt("", 3), "");
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt("abcd", 3), "abc… (4 bytes in all)");
        // `é` is two bytes: a cut inside it keeps the character out.
        assert_eq!(excerpt("éé", 3), "é… (4 bytes in all)");
        assert_eq!(excerpt("é", 1), "… (2 bytes in all)");
        assert_eq!(quoted_excerpt("", 3), "\"\"");
        assert_eq!(quoted_excerpt("a\"b", 10), r#""a\"b""#);
        assert_eq!(quoted_excerpt("a\tbcd", 2), r#""a\t"… (5 bytes in all)"#);
    }
}
