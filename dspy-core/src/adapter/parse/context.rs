//! The state one parse carries: the field, the root schema, the fixes made so far, and where in
//! the value we are (for messages).

use super::Fix;
use serde_json::Value;
use std::fmt;

/// How deep parsing may recurse (nested values, `$ref` hops, single values wrapped in lists).
const MAX_DEPTH: usize = 64;

/// How many steps one parse may take in all: recursive schemas with unions could otherwise make
/// the work grow exponentially with depth.
const MAX_STEPS: usize = 250_000;

/// How many reasons a failure keeps (the first ones are the useful ones).
const MAX_REASONS: usize = 20;

/// One parse of one field.
pub(super) struct Cx<'a> {
    /// The field's whole schema, for `$ref`s into its `$defs`.
    pub root: &'a Value,
    /// The field's name, written into every [`Fix`].
    pub field: &'a str,
    /// Repairs made so far, in order.
    pub fixes: Vec<Fix>,
    /// Whether the text being read runs to the end of the LM's answer, so that a JSON value
    /// left open there was cut off (rather than forgotten before more text).
    pub ends_answer: bool,
    /// Set once a JSON value was found cut off at the end of the answer: whatever else reads,
    /// the answer is incomplete.
    pub cut_off: bool,
    depth: usize,
    steps: usize,
}

impl<'a> Cx<'a> {
    pub(super) fn new(field: &'a str, root: &'a Value) -> Self {
        Cx {
            root,
            field,
            fixes: Vec::new(),
            ends_answer: false,
            cut_off: false,
            depth: 0,
            steps: 0,
        }
    }

    /// Runs `f` on a piece of the text; it ends the answer only if the text does and the piece
    /// is `last` in it.
    pub(super) fn piece<T>(&mut self, last: bool, f: impl FnOnce(&mut Self) -> T) -> T {
        let ends = self.ends_answer;
        self.ends_answer = ends && last;
        let out = f(self);
        self.ends_answer = ends;
        out
    }

    /// Records a repair made at `path`.
    pub(super) fn fix(&mut self, path: &Path<'_>, what: impl fmt::Display) {
        let what = if path.is_root() {
            what.to_string()
        } else {
            format!("at `{path}`: {what}")
        };
        self.fixes.push(Fix {
            field: self.field.to_string(),
            what,
        });
    }

    /// Records repairs described by plain strings (from JSON repair).
    pub(super) fn fix_all(&mut self, path: &Path<'_>, whats: Vec<String>) {
        for what in whats {
            self.fix(path, what);
        }
    }

    /// Runs `f`, forgetting the fixes it recorded if it fails.
    pub(super) fn attempt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Vec<String>>,
    ) -> Result<T, Vec<String>> {
        let before = self.fixes.len();
        let out = f(self);
        if out.is_err() {
            self.fixes.truncate(before);
        }
        out
    }

    /// Runs `f` one level deeper, failing instead of recursing without end.
    pub(super) fn nested<T>(
        &mut self,
        path: &Path<'_>,
        f: impl FnOnce(&mut Self) -> Result<T, Vec<String>>,
    ) -> Result<T, Vec<String>> {
        if self.depth >= MAX_DEPTH {
            return Err(vec![at(path, "the value is nested too deeply")]);
        }
        if self.steps >= MAX_STEPS {
            return Err(vec![at(
                path,
                "gave up: the value is too large or the schema too recursive",
            )]);
        }
        self.steps += 1;
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out.map_err(|mut reasons| {
            reasons.truncate(MAX_REASONS);
            reasons
        })
    }
}

/// Where a value sits inside the field's value: `.name`, `[2]`, ...
#[derive(Debug, Clone, Copy)]
pub(super) enum Path<'p> {
    /// The field itself.
    Root,
    /// A key of an object.
    Key(&'p Path<'p>, &'p str),
    /// An item of a list.
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    pub(super) fn is_root(&self) -> bool {
        matches!(self, Path::Root)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// A failure message located at `path`.
pub(super) fn at(path: &Path<'_>, msg: impl fmt::Display) -> String {
    if path.is_root() {
        msg.to_string()
    } else {
        format!("at `{path}`: {msg}")
    }
}

/// The failure for an empty answer.
pub(super) fn empty(path: &Path<'_>) -> Vec<String> {
    vec![if path.is_root() {
        "the field is empty".to_string()
    } else {
        at(path, "the value is empty")
    }]
}

/// At most `max` characters of `text`, cut at a char boundary, with `…` when cut.
pub(super) fn snip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{:?}…", text.get(..end).unwrap_or(text)),
        None => format!("{text:?}"),
    }
}

/// A short description of a JSON value, for messages: `the string "abc"`, `a list of 3 items`.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", snip(s, 60)),
        Value::Array(items) => match items.len() {
            0 => "an empty list".to_string(),
            1 => "a list of 1 item".to_string(),
            n => format!("a list of {n} items"),
        },
        Value::Object(map) => {
            if map.is_empty() {
                return "an empty object".to_string();
            }
            let keys: Vec<String> = map.keys().take(5).map(|k| format!("`{k}`")).collect();
            let more = if map.len() > 5 { ", ..." } else { "" };
            format!("an object with keys {}{more}", keys.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_display() {
        let root = Path::Root;
        let key = Path::Key(&root, "people");
        let item = Path::Index(&key, 2);
        let leaf = Path::Key(&item, "age");
        assert_eq!(leaf.to_string(), ".people[2].age");
        assert_eq!(at(&leaf, "bad"), "at `.people[2].age`: bad");
        assert_eq!(at(&root, "bad"), "bad");
    }

    #[test]
    fn fixes_carry_field_and_path() {
        let schema = json!({});
        let mut cx = Cx::new("answer", &schema);
        let root = Path::Root;
        cx.fix(&root, "one");
        cx.fix(&Path::Index(&root, 0), "two");
        assert_eq!(
            cx.fixes,
            vec![
                Fix {
                    field: "answer".into(),
                    what: "one".into()
                },
                Fix {
                    field: "answer".into(),
                    what: "at `[0]`: two".into()
                },
            ]
        );
    }

    #[test]
    fn snip_cuts_at_char_boundaries() {
        assert_eq!(snip("héllo", 2), "\"hé\"…");
        assert_eq!(snip("hé", 2), "\"hé\"");
        assert_eq!(snip("", 2), "\"\"");
    }

    #[test]
    fn describes_values() {
        assert_eq!(describe(&json!(null)), "null");
        assert_eq!(describe(&json!("abc")), "the string \"abc\"");
        assert_eq!(describe(&json!([1, 2])), "a list of 2 items");
        assert_eq!(describe(&json!({"a": 1})), "an object with keys `a`");
        assert_eq!(describe(&json!(true)), "the boolean true");
    }

    #[test]
    fn depth_is_bounded() {
        fn dive(cx: &mut Cx<'_>) -> Result<(), Vec<String>> {
            cx.nested(&Path::Root, dive)
        }
        let schema = json!({});
        let mut cx = Cx::new("x", &schema);
        assert_eq!(
            dive(&mut cx),
            Err(vec!["the value is nested too deeply".to_string()])
        );
    }
}
