//! Finding output fields in an answer while it streams in.
//!
//! A field is reported once no more text can change it, and its value is read with the same
//! lenient parser the adapter's `parse` uses, so what is reported early agrees with the parse
//! of the whole answer:
//!
//! - `[[ ## field ## ]]` markers ([`ChatAdapter`](super::ChatAdapter)): a field is complete
//!   when the next marker line (another field's, or `[[ ## completed ## ]]`) has arrived;
//! - one JSON object ([`JsonAdapter`](super::JsonAdapter)): when the next top-level key starts
//!   or the object closes;
//! - completion text ([`CompletionAdapter`](super::CompletionAdapter)): when a line starts with
//!   a later field's prefix, or the answer ends with a blank line.
//!
//! Whatever is still open when the stream ends is left to the full parse.

use super::AnswerFormat;
use super::completion::split_fields_so_far;
use super::markers::{marker, output_index, split_sections};
use super::parse::{coerce_field, parse_section};
use crate::signature::SignatureInfo;
use serde_json::Value;

/// Reports the output fields of a streamed answer as each becomes complete.
///
/// Feed it the text as it arrives with [`push`](Self::push); each call returns the fields it
/// completed, in the order they appear, each reported at most once. A field whose text does not
/// parse is not reported (the full parse at the end says why).
///
/// ```
/// use dspy_core::adapter::{AnswerFormat, FieldScanner};
/// use dspy_core::SignatureInfo;
/// use serde_json::json;
/// let sig = SignatureInfo::new("QA")
///     .input::<String>("question", "")
///     .output::<String>("answer", "")
///     .output::<u32>("year", "");
/// let mut scanner = FieldScanner::new(&sig, &AnswerFormat::Markers);
/// assert!(scanner.push("[[ ## answer ## ]]\nApollo").is_empty());
/// assert!(scanner.push(" 11\n\n[[ ## ye").is_empty()); // the next marker is not whole yet
/// assert_eq!(scanner.push("ar ## ]]\n1969\n"), [("answer".to_string(), json!("Apollo 11"))]);
/// assert_eq!(scanner.push("\n[[ ## completed ## ]]\n"), [("year".to_string(), json!(1969))]);
/// ```
#[derive(Debug)]
pub struct FieldScanner<'s> {
    signature: &'s SignatureInfo,
    layout: Layout,
    text: String,
    /// Bytes of `text` already looked at: up to the start of the unfinished line (line
    /// layouts), or all of it (JSON).
    scanned: usize,
    /// Whether the unfinished line was looked at too, as it already starts a field.
    partial_scanned: bool,
    /// Per output field: whether its final text has been seen (reported, or found unreadable).
    decided: Vec<bool>,
    json: JsonScan,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    Markers,
    Json,
    Completion,
}

impl<'s> FieldScanner<'s> {
    /// A scanner for answers to `signature` laid out as `format` says (the
    /// [`Formatted::answer_format`](super::Formatted::answer_format) of the prompt).
    pub fn new(signature: &'s SignatureInfo, format: &AnswerFormat) -> Self {
        FieldScanner {
            signature,
            layout: match format {
                AnswerFormat::Markers => Layout::Markers,
                AnswerFormat::Json => Layout::Json,
                AnswerFormat::Completion { .. } => Layout::Completion,
            },
            text: String::new(),
            scanned: 0,
            partial_scanned: false,
            decided: vec![false; signature.outputs.len()],
            json: JsonScan::default(),
        }
    }

    /// The answer so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Adds `delta` to the answer; returns the fields it completed, as `(name, value)`.
    pub fn push(&mut self, delta: &str) -> Vec<(String, Value)> {
        self.text.push_str(delta);
        match self.layout {
            Layout::Json => self.scan_json(),
            Layout::Markers | Layout::Completion => self.scan_lines(),
        }
    }

    /// Line layouts: a line can only be judged once it is whole, or once its start decides
    /// what it is. Each time a line break (or such a start) arrives, the answer so far is split
    /// as the adapter splits a whole answer, and the sections that cannot grow any more are
    /// read. (Answers are short; splitting again is simpler than keeping a second, incremental
    /// copy of the adapters' rules in step.)
    fn scan_lines(&mut self) -> Vec<(String, Value)> {
        let line_start = self.text.rfind('\n').map_or(0, |i| i + 1);
        let decisive = self.starts_a_field(&self.text[line_start..]);
        let new_lines = line_start > self.scanned;
        let worth_a_look = new_lines || (decisive && !self.partial_scanned);
        if !worth_a_look {
            return Vec::new();
        }
        self.scanned = line_start;
        self.partial_scanned = decisive;
        let upto = if decisive {
            self.text.len()
        } else {
            line_start
        };
        let whole_lines = &self.text[..upto];
        let closed: Vec<(usize, String)> = match self.layout {
            Layout::Markers => {
                let sections = split_sections(whole_lines);
                // The last section may still grow; each one before it ended at a marker.
                let closed = sections.len().saturating_sub(1);
                sections
                    .into_iter()
                    .take(closed)
                    .filter_map(|(name, text)| Some((self.output_index(name)?, text)))
                    .collect()
            }
            _ => {
                let split = split_fields_so_far(self.signature, whole_lines);
                let closed = if split.ended {
                    split.texts.len()
                } else {
                    split.current
                };
                split
                    .texts
                    .into_iter()
                    .take(closed)
                    .enumerate()
                    // A field skipped over can never start later; read as empty, it is null
                    // for an optional field (as the full parse fills it) and unreported else.
                    .map(|(i, text)| (i, text.unwrap_or_default()))
                    .collect()
            }
        };
        let mut found = Vec::new();
        for (i, text) in closed {
            // Only the first section of a field counts, as in the adapters' parse.
            if std::mem::replace(&mut self.decided[i], true) {
                continue;
            }
            let field = &self.signature.outputs[i];
            // More text follows a closed field, so a bracket left open was only forgotten.
            if let Ok((value, _)) = parse_section(field, &text, false) {
                found.push((field.name.clone(), value));
            }
        }
        found
    }

    fn scan_json(&mut self) -> Vec<(String, Value)> {
        let mut pairs = Vec::new();
        self.json.scan(&self.text, self.scanned, &mut pairs);
        self.scanned = self.text.len();
        let mut found = Vec::new();
        for (key, raw) in pairs {
            let Some(i) = self.output_index(&key) else {
                continue;
            };
            if std::mem::replace(&mut self.decided[i], true) {
                continue;
            }
            let field = &self.signature.outputs[i];
            // Strict JSON only: a value that needs repairs is left to the full parse, which
            // repairs the answer as a whole.
            let Ok(value) = serde_json::from_str::<Value>(&raw) else {
                continue;
            };
            if let Ok((value, _)) = coerce_field(field, value) {
                found.push((field.name.clone(), value));
            }
        }
        found
    }

    /// Whether the unfinished last `line` already starts a field whatever follows: a whole
    /// `[[ ## name ## ]]` marker (more text cannot make it another), or a line that starts with
    /// a field's prefix when no longer prefix could still match it (so which prefixes match can
    /// no longer change).
    fn starts_a_field(&self, line: &str) -> bool {
        match self.layout {
            Layout::Markers => marker(line.trim()).is_some(),
            Layout::Completion => {
                let line = line.trim_start();
                let prefixes = self.signature.outputs.iter().map(|f| f.prefix.as_str());
                let mut matches = false;
                for prefix in prefixes {
                    if line.starts_with(prefix) {
                        matches = true;
                    } else if prefix.len() > line.len() && prefix.starts_with(line) {
                        return false;
                    }
                }
                matches
            }
            Layout::Json => false,
        }
    }

    fn output_index(&self, name: &str) -> Option<usize> {
        output_index(self.signature, name)
    }
}

/// Where the JSON scanner is in the answer.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Phase {
    /// Before the opening `{`.
    #[default]
    Before,
    /// Inside the object, where a key (or the closing `}`) comes next.
    Key,
    /// Inside a key's string.
    InKey,
    /// After a key, before its `:`.
    Colon,
    /// After the `:`, before the value.
    ValueStart,
    /// Inside a value.
    Value,
    /// The object closed, or the text is not JSON this scanner follows: nothing more to find.
    Done,
}

/// A byte-level scanner of the first JSON object's top-level pairs. It tracks strings (and
/// their escapes) and nesting, which is all it takes to tell where a top-level value ends.
/// Structural characters are ASCII, which never occurs inside a multi-byte UTF-8 character,
/// so byte positions are always character boundaries.
#[derive(Debug, Default)]
struct JsonScan {
    phase: Phase,
    in_string: bool,
    escaped: bool,
    /// Open `{`/`[` inside the current value.
    nest: u32,
    /// Where the current key (its opening quote) or value starts.
    start: usize,
    key: Option<String>,
}

impl JsonScan {
    /// Scans `text[from..]`, adding each completed `(key, raw value)` to `pairs`.
    fn scan(&mut self, text: &str, from: usize, pairs: &mut Vec<(String, String)>) {
        for (offset, &b) in text.as_bytes()[from..].iter().enumerate() {
            let i = from + offset;
            match self.phase {
                Phase::Before => {
                    if b == b'{' {
                        self.phase = Phase::Key;
                    }
                }
                Phase::Key => match b {
                    b'"' => {
                        self.start = i;
                        self.phase = Phase::InKey;
                    }
                    b'}' => self.phase = Phase::Done,
                    b',' => {}
                    _ if b.is_ascii_whitespace() => {}
                    // An unquoted or single-quoted key: leave it to the full parse.
                    _ => self.phase = Phase::Done,
                },
                Phase::InKey => {
                    if self.string_ends(b) {
                        self.key = serde_json::from_str::<String>(&text[self.start..=i]).ok();
                        self.phase = Phase::Colon;
                    }
                }
                Phase::Colon => match b {
                    b':' => self.phase = Phase::ValueStart,
                    _ if b.is_ascii_whitespace() => {}
                    _ => self.phase = Phase::Done,
                },
                Phase::ValueStart => {
                    if !b.is_ascii_whitespace() {
                        self.start = i;
                        self.nest = 0;
                        self.in_string = false;
                        self.phase = Phase::Value;
                        self.value_byte(text, i, b, pairs);
                    }
                }
                Phase::Value => self.value_byte(text, i, b, pairs),
                Phase::Done => return,
            }
        }
    }

    /// Whether `b` closes the string being read (tracking backslash escapes).
    fn string_ends(&mut self, b: u8) -> bool {
        if self.escaped {
            self.escaped = false;
            false
        } else if b == b'\\' {
            self.escaped = true;
            false
        } else {
            b == b'"'
        }
    }

    fn value_byte(&mut self, text: &str, i: usize, b: u8, pairs: &mut Vec<(String, String)>) {
        if self.in_string {
            if self.string_ends(b) {
                self.in_string = false;
            }
            return;
        }
        let ends = match b {
            b'"' => {
                self.in_string = true;
                None
            }
            b'{' | b'[' => {
                self.nest += 1;
                None
            }
            b'}' | b']' if self.nest > 0 => {
                self.nest -= 1;
                None
            }
            b'}' => Some(Phase::Done),
            b',' if self.nest == 0 => Some(Phase::Key),
            _ => None,
        };
        if let Some(next) = ends {
            if let Some(key) = self.key.take() {
                pairs.push((key, text[self.start..i].trim().to_string()));
            }
            self.phase = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{Adapter, ChatAdapter, CompletionAdapter, FieldValues, JsonAdapter};
    use serde_json::json;

    fn sig() -> SignatureInfo {
        SignatureInfo::new("S")
            .input::<String>("question", "")
            .output::<String>("reasoning", "")
            .output::<Vec<String>>("tags", "")
            .output::<i64>("score", "")
    }

    fn values() -> FieldValues {
        json!({"reasoning": "It says \"hi\", {curly} [square]\nand more.", "tags": ["a", "b,c"], "score": 7})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// Streams `text` in pieces of `size` bytes (on char boundaries) and collects the reports.
    fn stream(
        sig: &SignatureInfo,
        format: &AnswerFormat,
        text: &str,
        size: usize,
    ) -> Vec<(String, Value)> {
        let mut scanner = FieldScanner::new(sig, format);
        let mut found = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(size) {
            found.extend(scanner.push(&piece.iter().collect::<String>()));
        }
        assert_eq!(scanner.text(), text);
        found
    }

    fn check(adapter: &dyn Adapter, format: AnswerFormat, expect_open_last: bool) {
        let sig = sig();
        let text = format.render(&values());
        let whole = adapter.parse(&sig, &text).unwrap().values;
        for size in [1, 2, 3, 7, 1000] {
            let found = stream(&sig, &format, &text, size);
            let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
            let expected: &[&str] = if expect_open_last {
                &["reasoning", "tags"]
            } else {
                &["reasoning", "tags", "score"]
            };
            assert_eq!(names, expected, "chunks of {size}");
            for (name, value) in &found {
                assert_eq!(&whole[name], value, "{name} agrees with the full parse");
            }
        }
    }

    #[test]
    fn markers_report_each_field_at_the_next_marker() {
        check(&ChatAdapter::new(), AnswerFormat::Markers, false);
    }

    #[test]
    fn json_reports_each_pair_when_the_next_starts() {
        check(&JsonAdapter::new(), AnswerFormat::Json, false);
    }

    #[test]
    fn completion_leaves_the_last_field_to_the_end() {
        let sig = sig();
        let format = AnswerFormat::Completion {
            fields: sig
                .outputs
                .iter()
                .map(|f| (f.name.clone(), f.prefix.clone()))
                .collect(),
        };
        check(&CompletionAdapter::new(), format.clone(), true);
        // A blank line ends the answer, so the last field is complete too.
        let text = format!("{}\n\nQuestion: next", format.render(&values()));
        let found = stream(&sig, &format, &text, 4);
        assert_eq!(
            found.last().map(|(n, v)| (n.as_str(), v)),
            Some(("score", &json!(7)))
        );
    }

    #[test]
    fn only_the_first_section_of_a_field_counts() {
        let sig = sig();
        let text = "[[ ## score ## ]]\n1\n[[ ## score ## ]]\n2\n[[ ## reasoning ## ]]\nr\n[[ ## completed ## ]]\n";
        let found = stream(&sig, &AnswerFormat::Markers, text, 5);
        assert_eq!(
            found,
            [
                ("score".to_string(), json!(1)),
                ("reasoning".to_string(), json!("r"))
            ]
        );
    }

    #[test]
    fn loose_markers_are_found_as_the_full_parse_finds_them() {
        let sig = sig();
        let text = "[[## Reasoning ##]]\nr\n\n**[[ ## TAGS ## ]]**\n[\"a\", \"b\"\n\n[[ ## score ##]]\n7\n\n[[## completed ##]]\n";
        let whole = ChatAdapter::new().parse(&sig, text).unwrap().values;
        for size in [1, 4, 1000] {
            let found = stream(&sig, &AnswerFormat::Markers, text, size);
            let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["reasoning", "tags", "score"], "chunks of {size}");
            for (name, value) in &found {
                assert_eq!(&whole[name], value, "{name} agrees with the full parse");
            }
        }
    }

    #[test]
    fn unreadable_fields_are_not_reported() {
        let sig = sig();
        let text = "[[ ## score ## ]]\nmany\n[[ ## reasoning ## ]]\nr\n[[ ## completed ## ]]";
        let found = stream(&sig, &AnswerFormat::Markers, text, 3);
        assert_eq!(found, [("reasoning".to_string(), json!("r"))]);
        let text = "```json\n{\"score\": \"7\", 'tags': ['x'], \"reasoning\": \"r\"}\n```";
        let found = stream(&sig, &AnswerFormat::Json, text, 3);
        assert_eq!(
            found,
            [("score".to_string(), json!(7))],
            "stops at the single-quoted key"
        );
    }

    #[test]
    fn json_scan_handles_escapes_and_nesting() {
        let mut scan = JsonScan::default();
        let text = r#"Sure: {"a\"b": "x\\", "n": {"k": [1, {"z": "}"}]}, "s": "]"} trailing {"#;
        let mut pairs = Vec::new();
        scan.scan(text, 0, &mut pairs);
        assert_eq!(
            pairs,
            [
                ("a\"b".to_string(), r#""x\\""#.to_string()),
                ("n".to_string(), r#"{"k": [1, {"z": "}"}]}"#.to_string()),
                ("s".to_string(), r#""]""#.to_string()),
            ]
        );
        assert_eq!(scan.phase, Phase::Done);
    }
}
