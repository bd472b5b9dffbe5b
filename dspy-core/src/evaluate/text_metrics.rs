//! Text metrics, as DSPy computes them: normalized exact match, token F1, and whether a passage
//! contains an answer.
//!
//! Normalization (DSPy's `normalize_text`): lowercase, drop ASCII punctuation, drop the articles
//! "a", "an" and "the", collapse whitespace. DSPy also applies Unicode NFD first; that only
//! matters when one side is composed and the other decomposed, and is left out here.

use std::collections::HashMap;

/// Text normalized for comparison.
///
/// ```
/// use dspy_core::evaluate::normalize_text;
/// assert_eq!(normalize_text("The,  Eiffel  Tower!"), "eiffel tower");
/// assert_eq!(normalize_text("An apple a day"), "apple day");
/// ```
pub fn normalize_text(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    let without_articles = remove_articles(&lowered);
    without_articles
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces each whole word "a", "an" or "the" with a space (word characters are alphanumerics
/// and `_`, as in a regex `\b`).
fn remove_articles(text: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if is_word(c) {
            word.push(c);
            continue;
        }
        if !matches!(word.as_str(), "a" | "an" | "the") {
            out.push_str(&word);
        } else {
            out.push(' ');
        }
        word.clear();
        out.push(c);
    }
    out.pop(); // the sentinel space
    out
}

fn tokens(text: &str) -> Vec<String> {
    normalize_text(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `prediction` equals `answer` after normalization.
///
/// ```
/// use dspy_core::evaluate::exact_match;
/// assert!(exact_match("The Eiffel Tower", "eiffel tower"));
/// assert!(!exact_match("Paris", "Paris, France"));
/// ```
pub fn exact_match(prediction: &str, answer: &str) -> bool {
    normalize_text(prediction) == normalize_text(answer)
}

/// Whether `prediction` matches any of `answers` after normalization (DSPy's `EM`).
///
/// ```
/// assert!(dspy_core::evaluate::exact_match_any("the louvre", &["Eiffel Tower", "Louvre"]));
/// ```
pub fn exact_match_any<S: AsRef<str>>(prediction: &str, answers: &[S]) -> bool {
    answers.iter().any(|a| exact_match(prediction, a.as_ref()))
}

/// Token-level F1 between `prediction` and `answer` after normalization (0 when no token is
/// shared, including when both are empty, as DSPy does).
///
/// ```
/// use dspy_core::evaluate::f1_score;
/// assert!((f1_score("Eiffel Tower is in Paris", "Paris") - 1.0 / 3.0).abs() < 1e-9);
/// assert_eq!(f1_score("the Eiffel Tower", "Eiffel Tower"), 1.0);
/// assert_eq!(f1_score("London", "Paris"), 0.0);
/// ```
pub fn f1_score(prediction: &str, answer: &str) -> f64 {
    let predicted = tokens(prediction);
    let expected = tokens(answer);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &expected {
        *counts.entry(t).or_default() += 1;
    }
    let mut shared = 0usize;
    for t in &predicted {
        if let Some(n) = counts.get_mut(t.as_str()).filter(|n| **n > 0) {
            *n -= 1;
            shared += 1;
        }
    }
    if shared == 0 {
        return 0.0;
    }
    let precision = shared as f64 / predicted.len() as f64;
    let recall = shared as f64 / expected.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// The best [`f1_score`] against any of `answers` (DSPy's `F1`); 0 when there are none.
///
/// ```
/// assert_eq!(dspy_core::evaluate::f1_score_max("Paris", &["London", "paris"]), 1.0);
/// ```
pub fn f1_score_max<S: AsRef<str>>(prediction: &str, answers: &[S]) -> f64 {
    answers
        .iter()
        .map(|a| f1_score(prediction, a.as_ref()))
        .fold(0.0, f64::max)
}

/// Whether `passage` contains `answer` as a run of whole normalized tokens.
///
/// ```
/// use dspy_core::evaluate::passage_contains;
/// assert!(passage_contains("The tower was built in Paris, France.", "paris france"));
/// assert!(!passage_contains("Parisian cafés", "Paris"));
/// ```
pub fn passage_contains(passage: &str, answer: &str) -> bool {
    let needle = tokens(answer);
    if needle.is_empty() {
        return false;
    }
    tokens(passage).windows(needle.len()).any(|w| w == needle)
}

/// Whether any of `passages` contains any of `answers` (DSPy's `answer_passage_match`).
///
/// ```
/// let passages = ["Galileo was born in Pisa.", "He died in Arcetri."];
/// assert!(dspy_core::evaluate::passages_contain_any(&passages, &["Arcetri"]));
/// ```
pub fn passages_contain_any<P: AsRef<str>, A: AsRef<str>>(passages: &[P], answers: &[A]) -> bool {
    passages.iter().any(|p| {
        answers
            .iter()
            .any(|a| passage_contains(p.as_ref(), a.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_matches_dspy_on_edge_cases() {
        // Values computed with DSPy 3.4.1's normalize_text.
        assert_eq!(normalize_text("  The  end. "), "end");
        assert_eq!(normalize_text("theatre"), "theatre");
        assert_eq!(normalize_text("A-team"), "ateam");
        assert_eq!(normalize_text("the_a"), "thea"); // `_` is punctuation
        assert_eq!(normalize_text("the€ thing"), "€ thing");
        assert_eq!(normalize_text("ÉCOLE"), "école");
        assert_eq!(normalize_text(""), "");
    }

    #[test]
    fn f1_counts_repeated_tokens_once_each() {
        // "x" is shared once, "y" once: precision 2/3, recall 1 (DSPy: 0.8).
        assert!((f1_score("x x y", "x y") - 0.8).abs() < 1e-12);
        assert_eq!(f1_score("", ""), 0.0);
    }
}
