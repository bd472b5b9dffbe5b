//! Text cut for display: reports, trial descriptions, error messages.

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
}
