//! A lenient JSON reader: it reads what LMs write when they mean JSON (trailing commas, single
//! quotes, Python literals, unquoted keys, comments, answers cut off mid-way) and says what it
//! repaired.
//!
//! It builds the [`Value`] directly, so there is no second pass through `serde_json`. It never
//! panics: positions only move by whole characters, and nesting is bounded.

use serde_json::{Map, Number, Value};

/// How deeply arrays and objects may nest (as `serde_json`'s own limit).
const MAX_NESTING: usize = 128;

/// Repairs, as recorded (each kind once).
pub(super) const TRAILING_COMMA: &str = "removed a trailing comma";
pub(super) const EXTRA_COMMA: &str = "removed an extra comma";
pub(super) const MISSING_COMMA: &str = "inserted a missing comma";
pub(super) const SINGLE_QUOTES: &str = "replaced single quotes with double quotes";
pub(super) const CURLY_QUOTES: &str = "replaced curly quotes with straight quotes";
pub(super) const UNQUOTED_KEY: &str = "quoted an unquoted key";
pub(super) const BARE_WORD: &str = "quoted a bare word as a string";
pub(super) const COMMENT: &str = "removed a comment";
pub(super) const CONTROL_CHAR: &str = "escaped a raw line break or control character in a string";
pub(super) const INNER_QUOTE: &str = "kept unescaped quotes inside a string";
pub(super) const BAD_ESCAPE: &str = "kept an invalid escape sequence as written";
pub(super) const UNCLOSED_STRING: &str = "closed a string left open (the answer may be cut off)";
pub(super) const UNCLOSED_BRACKET: &str = "closed brackets left open (the answer may be cut off)";
pub(super) const NUMBER_FORM: &str = "rewrote a number in JSON form";
pub(super) const NOT_A_NUMBER: &str = "replaced NaN/Infinity/undefined with null";

/// Reads one JSON value from the start of `text` (after whitespace), leniently.
///
/// Returns the value, the repairs made (empty when `text` held strict JSON), and the byte offset
/// just past the value. Fails with a reason when even a lenient reading makes no sense.
pub(super) fn parse_lenient(text: &str) -> Result<(Value, Vec<String>, usize), String> {
    let mut reader = Reader {
        text,
        pos: 0,
        repairs: Vec::new(),
        depth: 0,
    };
    let value = reader.value(Context::Top)?;
    Ok((value, reader.repairs, reader.pos))
}

/// Where a value sits, which decides where a bare word ends.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    Top,
    Array,
    Object,
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    repairs: Vec<String>,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn repair(&mut self, what: &str) {
        if !self.repairs.iter().any(|r| r == what) {
            self.repairs.push(what.to_string());
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    /// Skips whitespace and comments (`// ...`, `/* ... */`).
    fn skip_space(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                let len = trimmed.find('\n').unwrap_or(trimmed.len());
                self.pos += len;
                self.repair(COMMENT);
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                let len = body.find("*/").map_or(trimmed.len(), |end| end + 4);
                self.pos += len;
                self.repair(COMMENT);
            } else {
                return;
            }
        }
    }

    fn value(&mut self, context: Context) -> Result<Value, String> {
        self.skip_space();
        match self.peek() {
            None => self.fail("expected a value, found the end of the text"),
            Some('{') => self.nest(Self::object),
            Some('[') => self.nest(Self::array),
            Some('"') => self.string(&['"']).map(Value::String),
            Some('\'') => {
                self.repair(SINGLE_QUOTES);
                self.string(&['\'']).map(Value::String)
            }
            Some('\u{201c}' | '\u{201d}') => {
                self.repair(CURLY_QUOTES);
                self.string(&['\u{201d}', '\u{201c}']).map(Value::String)
            }
            Some('\u{2018}' | '\u{2019}') => {
                self.repair(CURLY_QUOTES);
                self.string(&['\u{2019}', '\u{2018}']).map(Value::String)
            }
            Some(c @ ('}' | ']' | ',' | ':')) => self.fail(&format!("unexpected `{c}`")),
            Some(_) => self.bare(context),
        }
    }

    fn nest(&mut self, f: fn(&mut Self) -> Result<Value, String>) -> Result<Value, String> {
        if self.depth >= MAX_NESTING {
            return self.fail("nested too deeply");
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn object(&mut self) -> Result<Value, String> {
        self.bump(); // '{'
        let mut map = Map::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => {
                    self.repair(UNCLOSED_BRACKET);
                    return Ok(Value::Object(map));
                }
                Some('}') => {
                    self.bump();
                    return Ok(Value::Object(map));
                }
                Some(',') => {
                    self.bump();
                    self.repair(EXTRA_COMMA);
                    continue;
                }
                Some(_) => {}
            }
            let key = self.key()?;
            self.skip_space();
            match self.peek() {
                Some(':') => {
                    self.bump();
                }
                None => {
                    // Cut off after a key: nothing to keep for it.
                    self.repair(UNCLOSED_BRACKET);
                    return Ok(Value::Object(map));
                }
                Some(_) => return self.fail("expected `:` after a key"),
            }
            self.skip_space();
            if self.peek().is_none() {
                self.repair(UNCLOSED_BRACKET);
                return Ok(Value::Object(map));
            }
            let value = self.value(Context::Object)?;
            map.insert(key, value);
            self.skip_space();
            match self.peek() {
                Some(',') => {
                    self.bump();
                    self.skip_space();
                    if self.peek() == Some('}') {
                        self.repair(TRAILING_COMMA);
                    }
                }
                Some('}') | None => {}
                Some(c) if starts_key(c) => self.repair(MISSING_COMMA),
                Some(c) => return self.fail(&format!("expected `,` or `}}`, found `{c}`")),
            }
        }
    }

    fn key(&mut self) -> Result<String, String> {
        match self.peek() {
            Some('"') => self.string_to_quote(),
            Some('\'') => {
                self.repair(SINGLE_QUOTES);
                self.string(&['\''])
            }
            Some('\u{201c}' | '\u{201d}') => {
                self.repair(CURLY_QUOTES);
                self.string(&['\u{201d}', '\u{201c}'])
            }
            _ => {
                let rest = self.rest();
                let len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
                if len == 0 {
                    return self.fail("expected a key");
                }
                let key = rest.get(..len).unwrap_or("").to_string();
                self.pos += len;
                self.repair(UNQUOTED_KEY);
                Ok(key)
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        self.bump(); // '['
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => {
                    self.repair(UNCLOSED_BRACKET);
                    return Ok(Value::Array(items));
                }
                Some(']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                Some(',') => {
                    self.bump();
                    self.repair(EXTRA_COMMA);
                    continue;
                }
                Some(_) => {}
            }
            items.push(self.value(Context::Array)?);
            self.skip_space();
            match self.peek() {
                Some(',') => {
                    self.bump();
                    self.skip_space();
                    if self.peek() == Some(']') {
                        self.repair(TRAILING_COMMA);
                    }
                }
                Some(']') | None => {}
                Some('}' | ':') => return self.fail("unexpected character in a list"),
                Some(_) => self.repair(MISSING_COMMA),
            }
        }
    }

    /// Reads a string opened by `open`; any of `close` ends it.
    fn string(&mut self, close: &[char]) -> Result<String, String> {
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                self.repair(UNCLOSED_STRING);
                return Ok(out);
            };
            if close.contains(&c) {
                // A quote ends the string only where JSON could go on; otherwise it is part of
                // the text (`'it's'`, `"he said "hi" to me"`).
                if self.closes_here() {
                    return Ok(out);
                }
                if c == '"' {
                    self.repair(INNER_QUOTE);
                }
                out.push(c);
                continue;
            }
            match c {
                '\\' => self.escape(&mut out),
                c if (c as u32) < 0x20 => {
                    self.repair(CONTROL_CHAR);
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }

    /// Reads a double-quoted key, which ends at the first unescaped `"`.
    fn string_to_quote(&mut self) -> Result<String, String> {
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    self.repair(UNCLOSED_STRING);
                    return Ok(out);
                }
                Some('"') => return Ok(out),
                Some('\\') => self.escape(&mut out),
                Some(c) => {
                    if (c as u32) < 0x20 {
                        self.repair(CONTROL_CHAR);
                    }
                    out.push(c);
                }
            }
        }
    }

    /// Whether the text after a quote is where a string may end: a delimiter, a line break, or
    /// the end.
    fn closes_here(&self) -> bool {
        let rest = self.rest();
        let after_line = rest.trim_start_matches([' ', '\t']);
        matches!(
            after_line.chars().next(),
            None | Some(',' | '}' | ']' | ':' | '\n' | '\r') | Some('/')
        )
    }

    fn escape(&mut self, out: &mut String) {
        let Some(c) = self.bump() else {
            self.repair(UNCLOSED_STRING);
            return;
        };
        match c {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '\'' => out.push('\''),
            'u' => match self.hex4() {
                Some(high @ 0xD800..=0xDBFF) => {
                    let low = self.rest().strip_prefix("\\u").and_then(hex4);
                    match low {
                        Some(low @ 0xDC00..=0xDFFF) => {
                            self.pos += 6;
                            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            self.repair(BAD_ESCAPE);
                            out.push('\u{FFFD}');
                        }
                    }
                }
                Some(code) => match char::from_u32(code) {
                    Some(ch) => out.push(ch),
                    None => {
                        self.repair(BAD_ESCAPE);
                        out.push('\u{FFFD}');
                    }
                },
                None => {
                    self.repair(BAD_ESCAPE);
                    out.push_str("\\u");
                }
            },
            other => {
                self.repair(BAD_ESCAPE);
                out.push('\\');
                out.push(other);
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let code = hex4(self.rest())?;
        self.pos += 4;
        Some(code)
    }

    /// A value without quotes: a literal, a number, or a bare word taken as a string.
    fn bare(&mut self, context: Context) -> Result<Value, String> {
        let rest = self.rest();
        // A number token first, so `[1 2]` reads as two numbers.
        let num_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')))
            .unwrap_or(rest.len());
        let token = rest.get(..num_len).unwrap_or("");
        if let Some(value) = self.literal(token) {
            self.pos += num_len;
            return Ok(value);
        }
        // A bare word runs to the next delimiter (a line break ends it too).
        let stops: &[char] = match context {
            Context::Top => &['\n', '\r'],
            Context::Array => &[',', ']', '\n', '\r'],
            Context::Object => &[',', '}', '\n', '\r'],
        };
        let len = rest.find(stops).unwrap_or(rest.len());
        let word = rest.get(..len).unwrap_or("").trim_end();
        if word.is_empty() {
            return self.fail("expected a value");
        }
        let value = Value::String(word.to_string());
        self.pos += word.len();
        self.repair(BARE_WORD);
        Ok(value)
    }

    /// A literal or number token, with its repair recorded.
    fn literal(&mut self, token: &str) -> Option<Value> {
        let value = match token {
            "" => return None,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "True" | "False" | "None" => {
                self.repair(&format!("replaced Python `{token}` with JSON"));
                match token {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            "NaN" | "Infinity" | "-Infinity" | "+Infinity" | "undefined" => {
                self.repair(NOT_A_NUMBER);
                Value::Null
            }
            _ => {
                if let Ok(n) = token.parse::<Number>() {
                    return Some(Value::Number(n));
                }
                let n = loose_number(token)?;
                self.repair(NUMBER_FORM);
                Value::Number(n)
            }
        };
        Some(value)
    }
}

/// A number JSON would reject but people write: `+1`, `.5`, `5.`, `007`.
fn loose_number(token: &str) -> Option<Number> {
    let first = token.chars().next()?;
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return None;
    }
    if !token.chars().any(|c| c.is_ascii_digit())
        || !token
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
    {
        return None;
    }
    let body = token.strip_prefix('+').unwrap_or(token);
    let (sign, body) = match body.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", body),
    };
    let body = body.strip_suffix('.').unwrap_or(body);
    let normal = if body.starts_with('.') {
        format!("{sign}0{body}")
    } else {
        format!("{sign}{body}")
    };
    let normal = normal.trim_start_matches('0');
    let normal = if normal.is_empty() || normal.starts_with('.') || normal.starts_with('e') {
        format!("0{normal}")
    } else {
        normal.to_string()
    };
    if let Ok(n) = normal.parse::<Number>() {
        return Some(n);
    }
    let x: f64 = normal.parse().ok()?;
    Number::from_f64(x)
}

fn hex4(text: &str) -> Option<u32> {
    let digits = text.get(..4)?;
    if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '-')
}

fn starts_key(c: char) -> bool {
    matches!(c, '"' | '\'' | '\u{201c}' | '\u{201d}') || is_key_char(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> (Value, Vec<String>) {
        match parse_lenient(text) {
            Ok((value, repairs, _)) => (value, repairs),
            Err(e) => panic!("{text:?} failed: {e}"),
        }
    }

    #[test]
    fn strict_json_needs_no_repair() {
        let (v, r) = read(r#"{"a": [1, 2.5, "x\n\u00e9"], "b": null, "c": true}"#);
        assert_eq!(v, json!({"a": [1, 2.5, "x\né"], "b": null, "c": true}));
        assert!(r.is_empty());
    }

    #[test]
    fn end_offset_is_past_the_value() {
        let Ok((v, _, end)) = parse_lenient(r#"{"a": 1} and more"#) else {
            panic!()
        };
        assert_eq!(v, json!({"a": 1}));
        assert_eq!(end, 8);
    }

    #[test]
    fn trailing_commas() {
        assert_eq!(
            read(r#"{"a": 1, "b": [1, 2,],}"#),
            (
                json!({"a": 1, "b": [1, 2]}),
                vec![TRAILING_COMMA.to_string()]
            )
        );
    }

    #[test]
    fn extra_commas() {
        assert_eq!(
            read("[1,,2]"),
            (json!([1, 2]), vec![EXTRA_COMMA.to_string()])
        );
    }

    #[test]
    fn single_quotes() {
        assert_eq!(
            read("{'name': 'it's mine', 'n': 'say \"hi\"'}"),
            (
                json!({"name": "it's mine", "n": "say \"hi\""}),
                vec![SINGLE_QUOTES.to_string()]
            )
        );
    }

    #[test]
    fn curly_quotes() {
        assert_eq!(
            read("{\u{201c}a\u{201d}: \u{201c}b\u{201d}}"),
            (json!({"a": "b"}), vec![CURLY_QUOTES.to_string()])
        );
    }

    #[test]
    fn python_literals() {
        assert_eq!(
            read("{'a': True, 'b': False, 'c': None}"),
            (
                json!({"a": true, "b": false, "c": null}),
                vec![
                    SINGLE_QUOTES.to_string(),
                    "replaced Python `True` with JSON".to_string(),
                    "replaced Python `False` with JSON".to_string(),
                    "replaced Python `None` with JSON".to_string(),
                ]
            )
        );
    }

    #[test]
    fn unquoted_keys() {
        assert_eq!(
            read("{name: \"Ada\", age: 36}"),
            (
                json!({"name": "Ada", "age": 36}),
                vec![UNQUOTED_KEY.to_string()]
            )
        );
    }

    #[test]
    fn bare_words() {
        assert_eq!(
            read("[red, green blue]"),
            (json!(["red", "green blue"]), vec![BARE_WORD.to_string()])
        );
        assert_eq!(
            read("{\"a\": hello}"),
            (json!({"a": "hello"}), vec![BARE_WORD.to_string()])
        );
    }

    #[test]
    fn missing_commas() {
        assert_eq!(
            read("{\"a\": 1\n\"b\": 2}"),
            (json!({"a": 1, "b": 2}), vec![MISSING_COMMA.to_string()])
        );
        assert_eq!(
            read("[1 2]"),
            (json!([1, 2]), vec![MISSING_COMMA.to_string()])
        );
    }

    #[test]
    fn comments() {
        assert_eq!(
            read("{\n  // the answer\n  \"a\": 1 /* one */\n}"),
            (json!({"a": 1}), vec![COMMENT.to_string()])
        );
    }

    #[test]
    fn raw_line_breaks_in_strings() {
        assert_eq!(
            read("{\"a\": \"x\ny\"}"),
            (json!({"a": "x\ny"}), vec![CONTROL_CHAR.to_string()])
        );
    }

    #[test]
    fn unescaped_inner_quotes() {
        assert_eq!(
            read(r#"{"a": "he said "hi" to me"}"#),
            (
                json!({"a": "he said \"hi\" to me"}),
                vec![INNER_QUOTE.to_string()]
            )
        );
    }

    #[test]
    fn invalid_escapes_are_kept() {
        assert_eq!(
            read(r#"["\d+", "\'"]"#),
            (json!(["\\d+", "'"]), vec![BAD_ESCAPE.to_string()])
        );
    }

    #[test]
    fn surrogate_pairs() {
        assert_eq!(
            read(r#"["\ud83d\ude00", "\ud83d"]"#),
            (json!(["😀", "\u{FFFD}"]), vec![BAD_ESCAPE.to_string()])
        );
    }

    #[test]
    fn cut_off_answers_are_closed() {
        assert_eq!(
            read("{\"a\": [1, 2"),
            (json!({"a": [1, 2]}), vec![UNCLOSED_BRACKET.to_string()])
        );
        assert_eq!(
            read("{\"a\": \"unfinished"),
            (
                json!({"a": "unfinished"}),
                vec![UNCLOSED_STRING.to_string(), UNCLOSED_BRACKET.to_string()]
            )
        );
        assert_eq!(
            read("{\"a\": "),
            (json!({}), vec![UNCLOSED_BRACKET.to_string()])
        );
    }

    #[test]
    fn loose_numbers() {
        assert_eq!(
            read("[+1, .5, 5., -.25]"),
            (json!([1, 0.5, 5, -0.25]), vec![NUMBER_FORM.to_string()])
        );
        assert_eq!(
            read("[NaN]"),
            (json!([null]), vec![NOT_A_NUMBER.to_string()])
        );
        assert_eq!(loose_number("abc"), None);
        assert_eq!(loose_number("1-2"), None);
    }

    #[test]
    fn nonsense_fails() {
        assert!(parse_lenient("{this is not json}").is_err());
        assert!(parse_lenient("}").is_err());
        assert!(parse_lenient("").is_err());
        assert!(parse_lenient("{\"a\" 1}").is_err());
    }

    #[test]
    fn deep_nesting_fails_without_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse_lenient(&deep).is_err());
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_lenient(&ok).is_ok());
    }
}
