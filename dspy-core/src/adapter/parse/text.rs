//! Reading a field's value from the text an LM wrote for it, directed by the field's schema.
//!
//! Clean answers take the fast path (strict JSON, an exact choice); the lenient readings come
//! after, in the order a careful reader would try them.

use super::choice::{How, match_choice};
use super::coerce::{check_len, coerce_kind, fix_choice, object_map};
use super::context::{Cx, Path, at, empty, snip};
use super::json_find::{Found, Want, find_json_where};
use super::list::{bullet_items, key_value_lines, split_items};
use super::scalar::{first_line, is_null_word, read_bool, read_number, unwrap_text};
use super::shape::{Kind, as_whole, check_bounds, item_schema, kind_of, resolve};
use super::union::{first_fit, fix_null, reads_as_null};
use serde_json::{Map, Value};

/// Reads `text` as a value of `schema`.
pub(super) fn parse<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    cx.nested(path, |cx| {
        let schema = resolve(cx.root, schema);
        parse_kind(cx, schema, kind_of(schema), text.trim(), path)
    })
}

fn parse_kind<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    match kind {
        Kind::String if text.is_empty() => Err(empty(path)),
        Kind::String => Ok(Value::String(text.to_string())),
        Kind::Union(_) | Kind::Types(_) => union(cx, schema, kind, text, path),
        _ if text.is_empty() => Err(empty(path)),
        Kind::Enum(choices) => one_of(cx, schema, kind, choices, text, path),
        Kind::Const(constant) => {
            one_of(cx, schema, kind, std::slice::from_ref(constant), text, path)
        }
        Kind::Integer | Kind::Number => number(cx, schema, kind, text, path),
        Kind::Boolean => boolean(cx, schema, kind, text, path),
        Kind::Null => null(cx, text, path),
        Kind::Array => array(cx, schema, text, path),
        Kind::Object => object(cx, schema, text, path),
        Kind::Any => any(cx, text, path),
    }
}

/// `"read as JSON: ..."`, the first thing tried for typed fields.
fn json_failure(path: &Path<'_>, e: &serde_json::Error) -> String {
    at(path, format!("read as JSON: {e}"))
}

/// The JSON value in `text` (fenced, amid prose, repaired), with its repairs. One left open at
/// the end of the answer is an error, and marks the whole answer as cut off: a list or object
/// closed there may have lost items or keys, a string its end.
fn whole_json(
    cx: &mut Cx<'_>,
    text: &str,
    want: Want,
    path: &Path<'_>,
) -> Result<Option<(Value, Vec<String>)>, Vec<String>> {
    match find_json_where(text, want, &|_| true) {
        Some(Found { cut_off: true, .. }) if cx.ends_answer => {
            cx.cut_off = true;
            Err(vec![at(path, super::CUT_OFF_VALUE)])
        }
        Some(found) => Ok(Some((found.value, found.repairs))),
        None => Ok(None),
    }
}

fn union<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    if text == "null" && super::union::allows_null(cx, schema, kind) {
        return Ok(Value::Null);
    }
    if reads_as_null(cx, schema, kind, text) {
        fix_null(cx, path, text);
        return Ok(Value::Null);
    }
    first_fit(cx, schema, kind, path, |cx, branch, branch_kind, _| {
        parse_kind(cx, branch, branch_kind, text, path)
    })
}

fn one_of<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    choices: &'s [Value],
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let why = match match_choice(choices, text) {
        Ok((choice, how)) => {
            fix_choice(cx, path, text, choice, how);
            return Ok(Value::String(choice.to_string()));
        }
        Err(why) => at(path, why),
    };
    // The choice on its own line, then an explanation that names other choices.
    if let Some((head, rest)) = first_line(text)
        && let Ok((choice, how)) = match_choice(choices, head)
        && how != How::Found
        && !matches!(
            match_choice(choices, rest),
            Ok((_, How::Exact | How::Loose))
        )
    {
        fix_first_line(cx, path, head);
        return Ok(Value::String(choice.to_string()));
    }
    // JSON around the choice (`["human"]`, `{"label": "human"}`), or non-string choices.
    match serde_json::from_str::<Value>(text) {
        Ok(value) if !value.is_string() => {
            coerce_kind(cx, schema, kind, value, path).map_err(|mut e| {
                e.insert(0, why);
                e
            })
        }
        _ => Err(vec![why]),
    }
}

fn number<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let mut tried = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(value) => return coerce_kind(cx, schema, kind, value, path),
        Err(e) => tried.push(json_failure(path, &e)),
    }
    let found = read_number(text).and_then(|(n, _)| {
        let n = if kind == Kind::Integer {
            as_whole(&n).ok_or_else(|| format!("found {n}, which is not a whole number"))?
        } else {
            n
        };
        check_bounds(schema, &n)?;
        Ok(n)
    });
    match found {
        Ok(n) => {
            cx.fix(path, format!("took the number {n} from {}", snip(text, 60)));
            Ok(Value::Number(n))
        }
        Err(why) => {
            tried.push(at(path, format!("read as a number: {why}")));
            // `12`, then a blank line and an explanation with numbers of its own.
            let first = first_line(text).filter(|(_, rest)| !rest.starts_with(is_number_start));
            if let Some((head, _)) = first
                && let Ok(value) = serde_json::from_str::<Value>(unwrap_text(head))
                && value.is_number()
                && let Ok(v) = cx.attempt(|cx| coerce_kind(cx, schema, kind, value, path))
            {
                fix_first_line(cx, path, head);
                return Ok(v);
            }
            Err(tried)
        }
    }
}

fn is_number_start(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '-' | '+' | '.')
}

/// Records that only the first line of the answer was read.
fn fix_first_line(cx: &mut Cx<'_>, path: &Path<'_>, head: &str) {
    cx.fix(
        path,
        format!(
            "read the first line {} and ignored the text after it",
            snip(head, 40)
        ),
    );
}

fn boolean<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let mut tried = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(value) => return coerce_kind(cx, schema, kind, value, path),
        Err(e) => tried.push(json_failure(path, &e)),
    }
    match read_bool(text) {
        Some(b) => {
            cx.fix(path, format!("read {} as {b}", snip(text, 60)));
            Ok(Value::Bool(b))
        }
        None => {
            tried.push(at(
                path,
                format!(
                    "read as yes/no: {} is not true/false or yes/no",
                    snip(text, 60)
                ),
            ));
            Err(tried)
        }
    }
}

fn null(cx: &mut Cx<'_>, text: &str, path: &Path<'_>) -> Result<Value, Vec<String>> {
    if text == "null" {
        Ok(Value::Null)
    } else if is_null_word(text) {
        fix_null(cx, path, text);
        Ok(Value::Null)
    } else {
        Err(vec![at(
            path,
            format!("expected null, got {}", snip(text, 60)),
        )])
    }
}

fn array<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let mut tried = Vec::new();
    // 1. Strict JSON (a list, or a single value to wrap).
    match serde_json::from_str::<Value>(text) {
        Ok(value) => return coerce_kind(cx, schema, Kind::Array, value, path),
        Err(e) => tried.push(json_failure(path, &e)),
    }
    let items = resolve(cx.root, item_schema(schema, 0));
    let item_kind = kind_of(items);
    let textual = item_kind.is_scalar() || matches!(item_kind, Kind::Union(_) | Kind::Types(_));
    // 2. A bulleted or numbered list.
    if textual && let Some((pieces, skipped)) = bullet_items(text) {
        let read = cx.attempt(|cx| {
            cx.fix(path, "read a bulleted or numbered list");
            if skipped {
                cx.fix(path, "ignored lines that are not list items");
            }
            items_from_text(cx, schema, &pieces, path)
        });
        match read {
            Ok(value) => return Ok(value),
            Err(e) => tried.extend(labelled("as a bulleted list", e)),
        }
    }
    // 3. JSON inside fences or prose, repaired if need be.
    if let Some((value, repairs)) = whole_json(cx, text, Want::Container, path)?
        && (value.is_array() || !item_kind.is_scalar())
    {
        let read = cx.attempt(|cx| {
            cx.fix_all(path, repairs);
            coerce_kind(cx, schema, Kind::Array, value, path)
        });
        match read {
            Ok(value) => return Ok(value),
            Err(e) => tried.extend(e),
        }
    }
    // 4. Comma-separated, or one item per line.
    if textual && let Some((pieces, split)) = split_items(text) {
        let read = cx.attempt(|cx| {
            cx.fix(path, split.describe());
            items_from_text(cx, schema, &pieces, path)
        });
        match read {
            Ok(value) => return Ok(value),
            Err(e) => tried.extend(labelled(split.label(), e)),
        }
    }
    // 5. A single value.
    let single = cx.attempt(|cx| {
        cx.fix(path, "wrapped the single value in a list");
        let item = parse(cx, item_schema(schema, 0), text, &Path::Index(path, 0))?;
        check_len(schema, 1).map_err(|e| vec![at(path, e)])?;
        Ok(Value::Array(vec![item]))
    });
    match single {
        Ok(value) => Ok(value),
        Err(e) => {
            tried.extend(labelled("as a single item", e));
            Err(tried)
        }
    }
}

/// Reasons from one attempt, each prefixed with what was attempted.
fn labelled(label: &str, reasons: Vec<String>) -> impl Iterator<Item = String> {
    reasons.into_iter().map(move |r| format!("{label}: {r}"))
}

/// Reads each piece of text as a list item.
fn items_from_text<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    pieces: &[&str],
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let mut items = Vec::with_capacity(pieces.len());
    let mut errors = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        let item = cx.piece(last, |cx| {
            parse(cx, item_schema(schema, i), piece, &Path::Index(path, i))
        });
        match item {
            Ok(v) => items.push(v),
            Err(e) => errors.extend(e),
        }
    }
    if let Err(e) = check_len(schema, items.len()) {
        errors.push(at(path, e));
    }
    if errors.is_empty() {
        Ok(Value::Array(items))
    } else {
        Err(errors)
    }
}

fn object<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    text: &str,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let mut tried = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(value) => return coerce_kind(cx, schema, Kind::Object, value, path),
        Err(e) => tried.push(json_failure(path, &e)),
    }
    match whole_json(cx, text, Want::Object, path)? {
        Some((value, repairs)) => {
            let read = cx.attempt(|cx| {
                cx.fix_all(path, repairs);
                coerce_kind(cx, schema, Kind::Object, value, path)
            });
            match read {
                Ok(value) => return Ok(value),
                Err(e) => tried.extend(e),
            }
        }
        None => tried.push(at(path, "found no JSON object in the text")),
    }
    if let Some(pairs) = key_value_lines(text) {
        match cx.attempt(|cx| record(cx, schema, &pairs, path)) {
            Ok(value) => return Ok(value),
            Err(e) => tried.extend(e),
        }
    }
    Err(tried)
}

/// `key: value` lines as an object: each key must name a property (loosely), or the object must
/// be a map.
fn record<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    pairs: &[(&str, &str)],
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let props = schema.get("properties").and_then(Value::as_object);
    let open = schema
        .get("additionalProperties")
        .is_some_and(Value::is_object);
    cx.fix(path, "read `key: value` lines as an object");
    let mut map = Map::new();
    let mut errors = Vec::new();
    for (i, (key, value_text)) in pairs.iter().enumerate() {
        let name = match props {
            Some(props) if !props.is_empty() => {
                match props.keys().find(|p| super::choice::same_loosely(p, key)) {
                    Some(p) => p.as_str(),
                    None if open => key,
                    None => {
                        return Err(vec![at(
                            path,
                            format!("`{key}` is not a key of the object"),
                        )]);
                    }
                }
            }
            _ => key,
        };
        let value_schema = super::shape::property_schema(schema, name).unwrap_or(&Value::Null);
        let last = i + 1 == pairs.len();
        let value = cx.piece(last, |cx| {
            parse(cx, value_schema, value_text, &Path::Key(path, name))
        });
        match value {
            Ok(v) => {
                map.insert(name.to_string(), v);
            }
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    object_map(cx, schema, map, path)
}

fn any(cx: &mut Cx<'_>, text: &str, path: &Path<'_>) -> Result<Value, Vec<String>> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok(value);
    }
    if let Some((value, repairs)) = whole_json(cx, text, Want::Container, path)? {
        cx.fix_all(path, repairs);
        return Ok(value);
    }
    Ok(Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(schema: Value, text: &str) -> Result<(Value, Vec<String>), Vec<String>> {
        let mut cx = Cx::new("f", &schema);
        let out = parse(&mut cx, &schema, text, &Path::Root)?;
        Ok((out, cx.fixes.into_iter().map(|f| f.what).collect()))
    }

    fn ok(value: Value, fixes: &[&str]) -> Result<(Value, Vec<String>), Vec<String>> {
        Ok((value, fixes.iter().map(|s| s.to_string()).collect()))
    }

    fn err(reasons: &[&str]) -> Result<(Value, Vec<String>), Vec<String>> {
        Err(reasons.iter().map(|s| s.to_string()).collect())
    }

    fn int() -> Value {
        json!({"type": "integer"})
    }

    fn strings() -> Value {
        json!({"type": "array", "items": {"type": "string"}})
    }

    #[test]
    fn integers() {
        assert_eq!(run(int(), "42"), ok(json!(42), &[]));
        assert_eq!(run(int(), " 42 \n"), ok(json!(42), &[]));
        assert_eq!(
            run(int(), "\"42\""),
            ok(json!(42), &["read the string \"42\" as the number 42"])
        );
        assert_eq!(
            run(int(), "42."),
            ok(json!(42), &["took the number 42 from \"42.\""])
        );
        assert_eq!(
            run(int(), "3.0"),
            ok(json!(3), &["read 3.0 as the whole number 3"])
        );
        assert_eq!(
            run(int(), "The answer is 7 apples."),
            ok(
                json!(7),
                &["took the number 7 from \"The answer is 7 apples.\""]
            )
        );
        assert_eq!(
            run(int(), "abc"),
            err(&[
                "read as JSON: expected value at line 1 column 1",
                "read as a number: no number found in \"abc\""
            ])
        );
        assert_eq!(
            run(int(), "approximately 3.5"),
            err(&[
                "read as JSON: expected value at line 1 column 1",
                "read as a number: found 3.5, which is not a whole number"
            ])
        );
        assert_eq!(run(int(), ""), err(&["the field is empty"]));
    }

    #[test]
    fn a_first_line_value_then_an_explanation() {
        assert_eq!(
            run(int(), "12\n\nI counted 3 boxes of 4."),
            ok(
                json!(12),
                &["read the first line \"12\" and ignored the text after it"]
            )
        );
        assert!(run(int(), "12\n\n13 on a second count").is_err());
        let schema = json!({"type": "string", "enum": ["human", "location"]});
        assert_eq!(
            run(schema.clone(), "location\n\nNot human: it asks where."),
            ok(
                json!("location"),
                &["read the first line \"location\" and ignored the text after it"]
            )
        );
        assert!(run(schema, "location\nhuman").is_err());
    }

    #[test]
    fn values_left_open_at_the_end_of_the_answer_are_cut_off() {
        let at_end = |schema: Value, text: &str| {
            let mut cx = Cx::new("f", &schema);
            cx.ends_answer = true;
            let out = parse(&mut cx, &schema, text, &Path::Root);
            (out, cx.cut_off)
        };
        let (out, cut) = at_end(strings(), "[\"photosynthesis\", \"chloro");
        assert!(out.is_err() && cut, "{out:?}");
        let (out, cut) = at_end(strings(), "[\"a\", \"b\",]");
        assert_eq!((out, cut), (Ok(json!(["a", "b"])), false));
        let person = json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}
        }});
        let (_, cut) = at_end(person.clone(), "Name: Ada\nTags: [\"a\", \"b");
        assert!(cut, "the last of `key: value` lines ends the answer");
        let (out, cut) = at_end(person, "Tags: [\"a\", \"b\"\nName: Ada");
        assert_eq!(
            (out, cut),
            (Ok(json!({"tags": ["a", "b"], "name": "Ada"})), false),
            "an earlier line does not"
        );
        // Before more text, a bracket left open was forgotten: it is closed.
        assert_eq!(
            run(strings(), "[\"a\", \"b\""),
            ok(
                json!(["a", "b"]),
                &["closed brackets left open (the answer may be cut off)"]
            )
        );
    }

    #[test]
    fn unsigned_minimum_is_a_failure() {
        let schema = json!({"type": "integer", "minimum": 0, "maximum": 255});
        assert_eq!(
            run(schema.clone(), "-1"),
            err(&["-1 is below the minimum 0"])
        );
        assert_eq!(
            run(schema, "about -1"),
            err(&[
                "read as JSON: expected value at line 1 column 1",
                "read as a number: -1 is below the minimum 0"
            ])
        );
    }

    #[test]
    fn floats() {
        let schema = json!({"type": "number"});
        assert_eq!(run(schema.clone(), "2.5"), ok(json!(2.5), &[]));
        assert_eq!(run(schema.clone(), "3"), ok(json!(3), &[]));
        assert_eq!(
            run(schema, "approximately 3.5"),
            ok(
                json!(3.5),
                &["took the number 3.5 from \"approximately 3.5\""]
            )
        );
    }

    #[test]
    fn bools() {
        let schema = json!({"type": "boolean"});
        assert_eq!(run(schema.clone(), "true"), ok(json!(true), &[]));
        assert_eq!(
            run(schema.clone(), "True"),
            ok(json!(true), &["read \"True\" as true"])
        );
        assert_eq!(
            run(schema.clone(), "no"),
            ok(json!(false), &["read \"no\" as false"])
        );
        assert_eq!(
            run(schema.clone(), "Y"),
            ok(json!(true), &["read \"Y\" as true"])
        );
        assert_eq!(
            run(schema.clone(), "1"),
            ok(json!(true), &["read the number 1 as true"])
        );
        assert_eq!(
            run(schema.clone(), "\"yes\""),
            ok(json!(true), &["read the string \"yes\" as true"])
        );
        assert_eq!(
            run(schema, "maybe"),
            err(&[
                "read as JSON: expected value at line 1 column 1",
                "read as yes/no: \"maybe\" is not true/false or yes/no"
            ])
        );
    }

    #[test]
    fn enums() {
        let schema = json!({"type": "string", "enum": ["human", "location"]});
        assert_eq!(run(schema.clone(), "human"), ok(json!("human"), &[]));
        assert_eq!(
            run(schema.clone(), "The answer is: human."),
            ok(
                json!("human"),
                &["read \"The answer is: human.\" as the choice \"human\""]
            )
        );
        assert_eq!(
            run(schema.clone(), "I'd say human, really."),
            ok(
                json!("human"),
                &["found the choice \"human\" in \"I'd say human, really.\""]
            )
        );
        assert_eq!(
            run(schema.clone(), "Literal['location']"),
            ok(
                json!("location"),
                &["read \"Literal['location']\" as the choice \"location\""]
            )
        );
        assert_eq!(
            run(schema.clone(), "{\"label\": \"human\"}"),
            ok(
                json!("human"),
                &["found the choice \"human\" in \"{\\\"label\\\": \\\"human\\\"}\""]
            )
        );
        assert_eq!(
            run(schema, "human or location"),
            err(&[
                "\"human or location\" names several choices (\"human\", \"location\"); expected exactly one"
            ])
        );
    }

    #[test]
    fn nullable() {
        let schema = json!({"anyOf": [{"type": "integer"}, {"type": "null"}]});
        assert_eq!(run(schema.clone(), "null"), ok(json!(null), &[]));
        assert_eq!(
            run(schema.clone(), "None"),
            ok(json!(null), &["read \"None\" as null"])
        );
        assert_eq!(
            run(schema.clone(), "N/A"),
            ok(json!(null), &["read \"N/A\" as null"])
        );
        assert_eq!(
            run(schema.clone(), ""),
            ok(json!(null), &["read an empty answer as null"])
        );
        assert_eq!(run(schema.clone(), "5"), ok(json!(5), &[]));
        let text = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
        assert_eq!(run(text.clone(), "hello"), ok(json!("hello"), &[]));
        assert_eq!(
            run(text, ""),
            ok(json!(null), &["read an empty answer as null"])
        );
    }

    #[test]
    fn lists_from_json() {
        assert_eq!(run(strings(), "[\"a\", \"b\"]"), ok(json!(["a", "b"]), &[]));
        assert_eq!(
            run(strings(), "Sure: ```json\n['a', 'b',]\n```"),
            ok(
                json!(["a", "b"]),
                &[
                    "removed a code fence",
                    "ignored text around the JSON",
                    "replaced single quotes with double quotes",
                    "removed a trailing comma"
                ]
            )
        );
    }

    #[test]
    fn lists_from_text() {
        assert_eq!(
            run(strings(), "- a\n- b c"),
            ok(json!(["a", "b c"]), &["read a bulleted or numbered list"])
        );
        assert_eq!(
            run(strings(), "Tags:\n1. a\n2. b"),
            ok(
                json!(["a", "b"]),
                &[
                    "read a bulleted or numbered list",
                    "ignored lines that are not list items"
                ]
            )
        );
        assert_eq!(
            run(strings(), "a, b, c"),
            ok(json!(["a", "b", "c"]), &["read a comma-separated list"])
        );
        assert_eq!(
            run(strings(), "solo"),
            ok(json!(["solo"]), &["wrapped the single value in a list"])
        );
        let ints = json!({"type": "array", "items": {"type": "integer"}});
        assert_eq!(
            run(ints.clone(), "1, 2, 3"),
            ok(json!([1, 2, 3]), &["read a comma-separated list"])
        );
        assert_eq!(
            run(ints.clone(), "7"),
            ok(json!([7]), &["wrapped the single value in a list"])
        );
        assert_eq!(
            run(ints, "x, y"),
            err(&[
                "read as JSON: expected value at line 1 column 1",
                "as a comma-separated list: at `[0]`: read as JSON: expected value at line 1 column 1",
                "as a comma-separated list: at `[0]`: read as a number: no number found in \"x\"",
                "as a comma-separated list: at `[1]`: read as JSON: expected value at line 1 column 1",
                "as a comma-separated list: at `[1]`: read as a number: no number found in \"y\"",
                "as a single item: at `[0]`: read as JSON: expected value at line 1 column 1",
                "as a single item: at `[0]`: read as a number: no number found in \"x, y\"",
            ])
        );
    }

    #[test]
    fn objects() {
        let schema = json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"]
        });
        assert_eq!(
            run(schema.clone(), "{\"name\": \"Ada\", \"age\": 36}"),
            ok(json!({"name": "Ada", "age": 36}), &[])
        );
        assert_eq!(
            run(
                schema.clone(),
                "Here: {name: 'Ada', age: '36',} Hope it helps"
            ),
            ok(
                json!({"name": "Ada", "age": 36}),
                &[
                    "ignored text around the JSON",
                    "quoted an unquoted key",
                    "replaced single quotes with double quotes",
                    "removed a trailing comma",
                    "at `.age`: read the string \"36\" as the number 36"
                ]
            )
        );
        assert_eq!(
            run(schema.clone(), "Name: Ada\nAge: 36"),
            ok(
                json!({"name": "Ada", "age": 36}),
                &["read `key: value` lines as an object"]
            )
        );
        assert_eq!(
            run(schema, "nothing here"),
            err(&[
                "read as JSON: expected ident at line 1 column 2",
                "found no JSON object in the text"
            ])
        );
    }

    #[test]
    fn maps() {
        let schema = json!({"type": "object", "additionalProperties": {"type": "integer"}});
        assert_eq!(run(schema.clone(), "{\"a\": 1}"), ok(json!({"a": 1}), &[]));
        assert_eq!(
            run(schema, "a: 1\nb: 2"),
            ok(
                json!({"a": 1, "b": 2}),
                &["read `key: value` lines as an object"]
            )
        );
    }

    #[test]
    fn any() {
        assert_eq!(run(json!({}), "hello"), ok(json!("hello"), &[]));
        assert_eq!(run(json!(true), "[1]"), ok(json!([1]), &[]));
        assert_eq!(run(json!({}), ""), err(&["the field is empty"]));
    }
}
