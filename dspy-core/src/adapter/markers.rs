//! `[[ ## field ## ]]` markers in an answer: found leniently (as models really write them),
//! matched to output fields, and a marker cut off at the end of the answer told apart from text.

use super::parse::same_loosely;
use crate::signature::SignatureInfo;

/// The marker that ends an answer: `[[ ## completed ## ]]`.
pub(super) const COMPLETED: &str = "completed";

/// One section of an answer: a marker and the text after it, up to the next marker.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Section<'a> {
    /// The name as written in the marker; "" for the text before the first marker.
    pub name: &'a str,
    /// The marker line, trimmed (empty for the text before the first marker).
    pub line: &'a str,
    /// Whether the marker was written otherwise than DSPy's exact `[[ ## name ## ]]`.
    pub loose: bool,
    /// The text of the section, trimmed.
    pub text: String,
}

/// Splits an answer into sections at each marker line; the first section holds the text
/// before any marker.
pub(super) fn sections(completion: &str) -> Vec<Section<'_>> {
    let mut sections: Vec<(Section<'_>, Vec<&str>)> = vec![(
        Section {
            name: "",
            line: "",
            loose: false,
            text: String::new(),
        },
        Vec::new(),
    )];
    for line in completion.lines() {
        let trimmed = line.trim();
        match marker(trimmed) {
            Some((name, rest)) => {
                let rest = rest.trim();
                let section = Section {
                    name,
                    line: trimmed,
                    loose: header(trimmed).is_none(),
                    text: String::new(),
                };
                sections.push((section, if rest.is_empty() { vec![] } else { vec![rest] }));
            }
            None => {
                if let Some(last) = sections.last_mut() {
                    last.1.push(line);
                }
            }
        }
    }
    sections
        .into_iter()
        .map(|(section, lines)| Section {
            text: lines.join("\n").trim().to_string(),
            ..section
        })
        .collect()
}

/// Splits an answer into `(name as written, text)` sections; text before any marker has name "".
pub(super) fn split_sections(completion: &str) -> Vec<(&str, String)> {
    sections(completion)
        .into_iter()
        .map(|s| (s.name, s.text))
        .collect()
}

/// `[[ ## name ## ]]rest` exactly as DSPy writes it → `(name, rest)`.
pub(super) fn header(line: &str) -> Option<(&str, &str)> {
    let inner = line.strip_prefix("[[ ## ")?;
    let end = inner.find(" ## ]]")?;
    let name = &inner[..end];
    let is_word = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    is_word.then(|| (name, &inner[end + " ## ]]".len()..]))
}

/// A marker line as models write it → `(name, rest of the line)`: any spacing inside the
/// brackets (`[[## answer ##]]`, `[[ ## label ##]]`), one to three `#`s, a `**bold**` wrapper,
/// and a name in any case, with spaces or hyphens (matched to a field by [`output_index`]).
pub(super) fn marker(line: &str) -> Option<(&str, &str)> {
    let (line, bold) = match line.strip_prefix("**") {
        Some(inner) => (inner, true),
        None => (line, false),
    };
    let inner = hashes(line.strip_prefix("[[")?.trim_start())?;
    let close = inner.find("]]")?;
    let body = inner[..close].trim_end();
    let name = body.trim_end_matches('#');
    if name.len() == body.len() || body.len() - name.len() > 3 {
        return None;
    }
    let name = name.trim();
    let is_name = name.starts_with(char::is_alphanumeric)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '));
    if !is_name {
        return None;
    }
    let rest = &inner[close + 2..];
    let rest = if bold {
        rest.strip_prefix("**").unwrap_or(rest)
    } else {
        rest
    };
    Some((name, rest))
}

/// `text` after one to three leading `#`s (and the spaces after them).
fn hashes(text: &str) -> Option<&str> {
    let rest = text.trim_start_matches('#');
    (1..=3)
        .contains(&(text.len() - rest.len()))
        .then(|| rest.trim_start())
}

/// The output field a marker's name stands for: the field of that exact name, else the one
/// output whose name matches it once case, spaces, underscores and hyphens are set aside. Never
/// a field when the name is an input's, or could be several outputs'.
pub(super) fn output_index(sig: &SignatureInfo, name: &str) -> Option<usize> {
    if let Some(i) = sig.outputs.iter().position(|f| f.name == name) {
        return Some(i);
    }
    if sig.inputs.iter().any(|f| f.name == name) {
        return None;
    }
    let mut loose = sig
        .outputs
        .iter()
        .enumerate()
        .filter(|(_, f)| same_loosely(&f.name, name));
    match (loose.next(), loose.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Whether a marker's name is `completed`, loosely.
pub(super) fn is_completed(name: &str) -> bool {
    same_loosely(name, COMPLETED)
}

/// Splits off a marker cut off at the end of the answer (`[[ ## comp`, `[[ ## completed ##`,
/// `[[`): the answer before it, and the fragment. A cut-off marker is not part of the last
/// field's text.
pub(super) fn strip_cut_marker(text: &str) -> (&str, Option<&str>) {
    let trimmed = text.trim_end();
    let start = trimmed.rfind('\n').map_or(0, |i| i + 1);
    let last = trimmed[start..].trim();
    if marker(last).is_none() && cut_marker_name(last).is_some() {
        (&trimmed[..start], Some(last))
    } else {
        (text, None)
    }
}

/// The name (or the start of it) in a marker cut off before its `]]`: `"comp"` for
/// `[[ ## comp`, `""` for `[[`. `None` when the line is not the start of a marker.
fn cut_marker_name(line: &str) -> Option<&str> {
    let line = line.strip_prefix("**").unwrap_or(line);
    let inner = line.strip_prefix("[[")?.trim_start();
    if inner.is_empty() {
        return Some("");
    }
    let inner = hashes(inner)?;
    let end = inner.find(['#', ']']).unwrap_or(inner.len());
    let (name, tail) = inner.split_at(end);
    let name_chars = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '));
    // After the name: up to three `#`s, spaces, and at most one `]` (two would close it).
    let tail_ok = tail.trim_start_matches(['#', ' ']).len() <= 1
        && tail
            .trim_start_matches(['#', ' '])
            .chars()
            .all(|c| c == ']')
        && tail.chars().filter(|&c| c == '#').count() <= 3;
    (name_chars && tail_ok).then(|| name.trim())
}

/// Whether a marker cut off at the end could only have been `[[ ## completed ## ]]` (its name,
/// so far, starts `completed`): every field before it is whole.
pub(super) fn cut_marker_is_completed(fragment: &str) -> bool {
    cut_marker_name(fragment).is_some_and(|name| {
        let name = name.to_lowercase();
        COMPLETED.starts_with(name.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_word_names() {
        assert_eq!(header("[[ ## answer ## ]]"), Some(("answer", "")));
        assert_eq!(
            header("[[ ## answer ## ]] Paris"),
            Some(("answer", " Paris"))
        );
        assert_eq!(header("[[ ## two words ## ]]"), None);
        assert_eq!(header("[[ ## ## ]]"), None);
    }

    #[test]
    fn sections_keep_first_text_and_lines() {
        let s =
            split_sections("intro\n[[ ## a ## ]]\nx\ny\n\n[[ ## b ## ]] z\n[[ ## completed ## ]]");
        assert_eq!(s[0], ("", "intro".to_string()));
        assert_eq!(s[1], ("a", "x\ny".to_string()));
        assert_eq!(s[2], ("b", "z".to_string()));
        assert_eq!(s[3], ("completed", String::new()));
    }

    #[test]
    fn markers_as_models_write_them() {
        for (line, name, rest) in [
            ("[[ ## answer ## ]]", "answer", ""),
            ("[[## answer ##]]", "answer", ""),
            ("[[ ## Answer ## ]]", "Answer", ""),
            ("[[  ##  answer  ##  ]]", "answer", ""),
            ("[[ ## label ##]]", "label", ""),
            ("[[ ##count## ]]", "count", ""),
            ("**[[ ## answer ## ]]**", "answer", ""),
            ("**[[ ## answer ## ]]** Paris", "answer", " Paris"),
            ("[[ ## final answer ## ]]", "final answer", ""),
            ("[[ # answer # ]] x", "answer", " x"),
        ] {
            assert_eq!(marker(line), Some((name, rest)), "{line:?}");
        }
        for line in [
            "[[ ## ## ]]",
            "[[ answer ]]",
            "[[ #### answer #### ]]",
            "[[ ## a.b ## ]]",
            "[[ ## answer ## ]",
            "answer",
            "[[ ## answer",
        ] {
            assert_eq!(marker(line), None, "{line:?}");
        }
    }

    #[test]
    fn names_match_exactly_one_output() {
        let sig = SignatureInfo::new("S")
            .input::<String>("question", "")
            .output::<String>("final_answer", "")
            .output::<bool>("sure", "");
        for (name, want) in [
            ("final_answer", Some(0)),
            ("Final Answer", Some(0)),
            ("FINAL_ANSWER", Some(0)),
            ("final-answer", Some(0)),
            ("Sure", Some(1)),
            ("answer", None),
            ("question", None),
            ("Question", None),
            ("completed", None),
        ] {
            assert_eq!(output_index(&sig, name), want, "{name}");
        }
        let twins = SignatureInfo::new("S")
            .input::<String>("q", "")
            .output::<String>("a_b", "")
            .output::<String>("ab", "");
        assert_eq!(output_index(&twins, "AB"), None, "could be either");
        assert_eq!(output_index(&twins, "ab"), Some(1), "exact wins");
    }

    #[test]
    fn cut_off_markers_are_split_off() {
        for (text, before, fragment) in [
            ("x\n\n[[ ## comp", "x\n\n", "[[ ## comp"),
            ("x\n\n[[ ## completed ##", "x\n\n", "[[ ## completed ##"),
            ("x\n\n[[ ## completed ## ]", "x\n\n", "[[ ## completed ## ]"),
            ("x\n[[", "x\n", "[["),
            ("x\n[[ #", "x\n", "[[ #"),
            ("x\n**[[ ## comp", "x\n", "**[[ ## comp"),
        ] {
            assert_eq!(strip_cut_marker(text), (before, Some(fragment)), "{text:?}");
        }
        for text in [
            "x\n[[ ## completed ## ]]",
            "x\n[[ foo",
            "x [[ ## comp",
            "x\n[1, 2",
            "x\n[[ ## a ## b",
        ] {
            assert_eq!(strip_cut_marker(text), (text, None), "{text:?}");
        }
        assert!(cut_marker_is_completed("[[ ## comp"));
        assert!(cut_marker_is_completed("[[ ## Completed ##"));
        assert!(cut_marker_is_completed("[["));
        assert!(!cut_marker_is_completed("[[ ## no"));
    }
}
