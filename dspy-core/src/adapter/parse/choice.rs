//! Matching an answer to one of an enum's choices.

use super::context::snip;
use super::scalar::unwrap_text;
use serde_json::Value;

/// Answers longer than this are not searched for a choice named inside them.
const MAX_SEARCH_CHARS: usize = 300;

/// How a choice was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    /// The answer is the choice, exactly.
    Exact,
    /// The answer is the choice once quotes, case, separators or a label are set aside.
    Loose,
    /// The choice is the only one named in a short sentence.
    Found,
}

/// Picks the choice (a string among `choices`) that `text` names.
///
/// Tries, in order: exact; without quotes, a trailing period, `Literal['x']` or `**x**`; case-
/// then space/underscore/hyphen-insensitively; after a `label:` prefix; and finally, in short
/// answers, the one choice that appears as a whole word. Fails when none or several match.
pub(super) fn match_choice<'c>(choices: &'c [Value], text: &str) -> Result<(&'c str, How), String> {
    if let Some(c) = choices
        .iter()
        .filter_map(Value::as_str)
        .find(|c| *c == text)
    {
        return Ok((c, How::Exact));
    }
    let inner = strip_wrappers(text);
    if let Some(c) = loose(choices, inner)? {
        return Ok((c, How::Loose));
    }
    // `label: human`, `Answer: HUMAN`, `QuestionKind.HUMAN`.
    let mut tails = Vec::new();
    if let Some((_, after)) = inner.split_once(':') {
        tails.push(after);
    }
    if let Some((_, after)) = inner.rsplit_once(':') {
        tails.push(after);
    }
    if !inner.contains(char::is_whitespace)
        && let Some((_, after)) = inner.rsplit_once('.')
    {
        tails.push(after);
    }
    for tail in tails {
        if let Some(c) = loose(choices, strip_wrappers(tail))? {
            return Ok((c, How::Loose));
        }
    }
    if text.chars().count() <= MAX_SEARCH_CHARS
        && let Some(c) = search(choices, text)?
    {
        return Ok((c, How::Found));
    }
    Err(format!(
        "{} is not one of the choices ({})",
        snip(text, 80),
        list(choices)
    ))
}

/// The answer without the wrappers LMs put around a choice.
fn strip_wrappers(text: &str) -> &str {
    let t = unwrap_text(text);
    let t = match t.strip_prefix("Literal[").and_then(|r| r.strip_suffix(']')) {
        Some(inner) => unwrap_text(inner),
        None => t,
    };
    match t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => unwrap_text(inner),
        None => t,
    }
}

/// The one choice equal to `t`: exactly, then ignoring case, then also ignoring spaces,
/// underscores and hyphens.
fn loose<'c>(choices: &'c [Value], t: &str) -> Result<Option<&'c str>, String> {
    if t.is_empty() {
        return Ok(None);
    }
    let tiers: [fn(&str, &str) -> bool; 3] = [|a, b| a == b, same_ignoring_case, same_loosely];
    for same in tiers {
        let mut matches = choices
            .iter()
            .filter_map(Value::as_str)
            .filter(|c| same(c, t));
        if let Some(first) = matches.next() {
            if let Some(second) = matches.next() {
                return Err(format!(
                    "{} could be several choices ({first:?}, {second:?})",
                    snip(t, 80)
                ));
            }
            return Ok(Some(first));
        }
    }
    Ok(None)
}

fn same_ignoring_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Whether two names are the same ignoring case, spaces, underscores and hyphens.
pub(crate) fn same_loosely(a: &str, b: &str) -> bool {
    fn key(s: &str) -> impl Iterator<Item = char> + '_ {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
    }
    key(a).next().is_some() && key(a).eq(key(b))
}

/// The one choice named as a whole word (or words) in `text`. A choice named only inside a
/// longer choice's match ("York" inside "New York") does not count.
fn search<'c>(choices: &'c [Value], text: &str) -> Result<Option<&'c str>, String> {
    let haystack = text.to_lowercase();
    let mut found: Vec<(usize, usize, usize)> = Vec::new(); // (choice, start, end)
    for (index, choice) in choices.iter().enumerate() {
        let Some(choice) = choice.as_str() else {
            continue;
        };
        let needle = choice.to_lowercase();
        let spaced = needle.replace(['_', '-'], " ");
        for needle in [needle.as_str(), spaced.as_str()] {
            if needle.trim().is_empty() {
                continue;
            }
            for (start, _) in haystack.match_indices(needle) {
                let end = start + needle.len();
                let before = haystack.get(..start).and_then(|s| s.chars().next_back());
                let after = haystack.get(end..).and_then(|s| s.chars().next());
                let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
                if boundary(before) && boundary(after) {
                    found.push((index, start, end));
                }
            }
        }
    }
    let inside_another = |&(i, s, e): &(usize, usize, usize)| {
        found
            .iter()
            .any(|&(j, s2, e2)| j != i && s2 <= s && e <= e2 && (e2 - s2) > (e - s))
    };
    let mut named: Vec<usize> = found
        .iter()
        .filter(|m| !inside_another(m))
        .map(|&(i, _, _)| i)
        .collect();
    named.sort_unstable();
    named.dedup();
    let name = |i: usize| choices.get(i).and_then(Value::as_str);
    match named.as_slice() {
        [] => Ok(None),
        [one] => Ok(name(*one)),
        several => {
            let names: Vec<String> = several
                .iter()
                .filter_map(|&i| name(i))
                .map(|c| format!("{c:?}"))
                .collect();
            Err(format!(
                "{} names several choices ({}); expected exactly one",
                snip(text, 80),
                names.join(", ")
            ))
        }
    }
}

/// The choices, quoted, for messages.
pub(super) fn list(choices: &[Value]) -> String {
    let mut shown: Vec<String> = choices.iter().take(20).map(|c| c.to_string()).collect();
    if choices.len() > 20 {
        shown.push("...".to_string());
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds() -> Value {
        json!([
            "human",
            "location",
            "numeric_value",
            "New York",
            "York",
            "ABBR"
        ])
    }

    fn pick(text: &str) -> Result<(String, How), String> {
        let choices = kinds();
        let Value::Array(choices) = &choices else {
            unreachable!()
        };
        match_choice(choices, text).map(|(c, how)| (c.to_string(), how))
    }

    fn ok(c: &str, how: How) -> Result<(String, How), String> {
        Ok((c.to_string(), how))
    }

    #[test]
    fn exact() {
        assert_eq!(pick("human"), ok("human", How::Exact));
        assert_eq!(pick("New York"), ok("New York", How::Exact));
    }

    #[test]
    fn wrappers() {
        assert_eq!(pick("\"human\""), ok("human", How::Loose));
        assert_eq!(pick("'human'."), ok("human", How::Loose));
        assert_eq!(pick("Literal['human']"), ok("human", How::Loose));
        assert_eq!(pick("**human**"), ok("human", How::Loose));
        assert_eq!(pick("[human]"), ok("human", How::Loose));
        assert_eq!(pick("`location`"), ok("location", How::Loose));
    }

    #[test]
    fn case_and_separators() {
        assert_eq!(pick("HUMAN"), ok("human", How::Loose));
        assert_eq!(pick("Human."), ok("human", How::Loose));
        assert_eq!(pick("Numeric Value"), ok("numeric_value", How::Loose));
        assert_eq!(pick("numeric-value"), ok("numeric_value", How::Loose));
        assert_eq!(pick("NUMERICVALUE"), ok("numeric_value", How::Loose));
        assert_eq!(pick("abbr"), ok("ABBR", How::Loose));
    }

    #[test]
    fn label_prefix() {
        assert_eq!(pick("label: human"), ok("human", How::Loose));
        assert_eq!(pick("Answer: HUMAN"), ok("human", How::Loose));
        assert_eq!(pick("QuestionKind.HUMAN"), ok("human", How::Loose));
    }

    #[test]
    fn found_in_a_short_answer() {
        assert_eq!(pick("The answer is: human."), ok("human", How::Loose));
        assert_eq!(pick("I'd say human, really."), ok("human", How::Found));
        assert_eq!(
            pick("I think it is a location, definitely."),
            ok("location", How::Found)
        );
        assert_eq!(
            pick("It's a numeric value."),
            ok("numeric_value", How::Found)
        );
        assert_eq!(pick("The city of New York."), ok("New York", How::Found));
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(
            pick("humanity"),
            Err("\"humanity\" is not one of the choices (\"human\", \"location\", \"numeric_value\", \"New York\", \"York\", \"ABBR\")".into())
        );
    }

    #[test]
    fn ambiguous() {
        assert_eq!(
            pick("either human or location"),
            Err("\"either human or location\" names several choices (\"human\", \"location\"); expected exactly one".into())
        );
    }

    #[test]
    fn loose_ambiguity() {
        let choices = json!(["a_b", "a-b"]);
        let Value::Array(choices) = &choices else {
            unreachable!()
        };
        assert_eq!(
            match_choice(choices, "A B"),
            Err("\"A B\" could be several choices (\"a_b\", \"a-b\")".into())
        );
        assert_eq!(match_choice(choices, "a-b"), Ok(("a-b", How::Exact)));
    }

    #[test]
    fn long_answers_are_not_searched() {
        let long = format!("human {}", "x ".repeat(200));
        assert!(pick(&long).is_err());
    }
}
