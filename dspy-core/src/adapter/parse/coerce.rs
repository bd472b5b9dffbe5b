//! Schema-directed coercion: a JSON value as the LM gave it, turned into the value the field's
//! type needs (`"42"` → `42`, `3.0` → `3`, `"Yes"` → `true`, `x` → `[x]`), each change recorded.
//!
//! Values already of the right type pass through untouched (and, for lists and objects, without
//! being rebuilt).

use super::choice::{self, How, same_loosely};
use super::context::{Cx, Path, at, describe, snip};
use super::json_find::{Want, find_json};
use super::scalar::{is_null_word, read_bool, read_number};
use super::shape::{Kind, as_whole, check_bounds, item_schema, kind_of, property_schema, resolve};
use super::union::{allows_null, first_fit, fix_null, reads_as_null};
use serde_json::{Map, Value};

/// Coerces `value` to `schema`.
pub(super) fn coerce<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    value: Value,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    cx.nested(path, |cx| {
        let schema = resolve(cx.root, schema);
        coerce_kind(cx, schema, kind_of(schema), value, path)
    })
}

/// Coerces `value` to `schema`, read as `kind` (which a union may set apart from the schema's
/// own `type`).
pub(super) fn coerce_kind<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    value: Value,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let value = if kind.is_scalar() || kind == Kind::Null {
        unwrap_single(cx, value, path)
    } else {
        value
    };
    match kind {
        Kind::Any => Ok(value),
        Kind::Union(_) | Kind::Types(_) => union(cx, schema, kind, value, path),
        Kind::Enum(choices) => one_of(cx, choices, value, path),
        Kind::Const(constant) => one_of(cx, std::slice::from_ref(constant), value, path),
        Kind::String => string(cx, value, path),
        Kind::Integer => number(cx, schema, value, path, true),
        Kind::Number => number(cx, schema, value, path, false),
        Kind::Boolean => boolean(cx, value, path),
        Kind::Null => null(cx, value, path),
        Kind::Array => array(cx, schema, value, path),
        Kind::Object => object(cx, schema, value, path),
    }
}

/// A one-item list or a one-key object holding a scalar, where a scalar is expected: the item.
fn unwrap_single(cx: &mut Cx<'_>, value: Value, path: &Path<'_>) -> Value {
    match value {
        Value::Array(mut items) if items.len() == 1 => {
            cx.fix(path, "took the only item of a one-item list");
            items.pop().unwrap_or(Value::Null)
        }
        Value::Object(map)
            if map.len() == 1 && map.values().all(|v| !v.is_array() && !v.is_object()) =>
        {
            let mut entries = map.into_iter();
            match entries.next() {
                Some((key, inner)) => {
                    cx.fix(path, format!("took the value of the only key `{key}`"));
                    inner
                }
                None => Value::Object(Map::new()),
            }
        }
        other => other,
    }
}

fn union<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    value: Value,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    if value.is_null() && allows_null(cx, schema, kind) {
        return Ok(Value::Null);
    }
    // A string like "None" or "N/A" is null, unless a branch takes it as it is ("None" is
    // perfectly good text for an `Option<String>` written in JSON).
    let null_text = match &value {
        Value::String(s) if reads_as_null(cx, schema, kind, s) => Some(s.clone()),
        _ => None,
    };
    let before = cx.fixes.len();
    let mut value = Some(value);
    let fitted = first_fit(cx, schema, kind, path, |cx, branch, branch_kind, last| {
        let v = if last { value.take() } else { value.clone() };
        coerce_kind(cx, branch, branch_kind, v.unwrap_or(Value::Null), path)
    });
    match (fitted, null_text) {
        (Ok(v), _) if cx.fixes.len() == before => Ok(v),
        (_, Some(text)) => {
            cx.fixes.truncate(before);
            fix_null(cx, path, &text);
            Ok(Value::Null)
        }
        (fitted, None) => fitted,
    }
}

fn one_of(
    cx: &mut Cx<'_>,
    choices: &[Value],
    value: Value,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    if choices.contains(&value) {
        return Ok(value);
    }
    // Non-string choices (numbers): the value may be their text form.
    if let Value::String(s) = &value
        && let Ok(parsed) = serde_json::from_str::<Value>(s.trim())
        && !parsed.is_string()
        && choices.contains(&parsed)
    {
        cx.fix(path, format!("read the string {} as {parsed}", snip(s, 40)));
        return Ok(parsed);
    }
    let text = match &value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(vec![at(
                path,
                format!(
                    "expected one of ({}), got {}",
                    choice::list(choices),
                    describe(other)
                ),
            )]);
        }
    };
    match choice::match_choice(choices, &text) {
        Ok((choice, how)) => {
            fix_choice(cx, path, &text, choice, how);
            Ok(Value::String(choice.to_string()))
        }
        Err(why) => Err(vec![at(path, why)]),
    }
}

/// Records how a choice was recovered (nothing when it was exact).
pub(super) fn fix_choice(cx: &mut Cx<'_>, path: &Path<'_>, text: &str, choice: &str, how: How) {
    match how {
        How::Exact => {}
        How::Loose => cx.fix(
            path,
            format!("read {} as the choice {choice:?}", snip(text, 60)),
        ),
        How::Found => cx.fix(
            path,
            format!("found the choice {choice:?} in {}", snip(text, 60)),
        ),
    }
}

fn string(cx: &mut Cx<'_>, value: Value, path: &Path<'_>) -> Result<Value, Vec<String>> {
    match value {
        Value::String(_) => Ok(value),
        Value::Number(n) => {
            cx.fix(path, format!("wrote the number {n} as text"));
            Ok(Value::String(n.to_string()))
        }
        Value::Bool(b) => {
            cx.fix(path, format!("wrote the boolean {b} as text"));
            Ok(Value::String(b.to_string()))
        }
        Value::Null => Err(vec![at(path, "expected text, got null")]),
        other => {
            cx.fix(path, format!("wrote {} as JSON text", describe(&other)));
            Ok(Value::String(other.to_string()))
        }
    }
}

fn number(
    cx: &mut Cx<'_>,
    schema: &Value,
    value: Value,
    path: &Path<'_>,
    whole: bool,
) -> Result<Value, Vec<String>> {
    let expected = if whole { "an integer" } else { "a number" };
    let (n, from_text) = match &value {
        Value::Number(n) => (n.clone(), None),
        Value::String(s) => match read_number(s) {
            Ok((n, exact)) => (n, Some((s.as_str(), exact))),
            Err(why) => return Err(vec![at(path, format!("expected {expected}: {why}"))]),
        },
        other => {
            return Err(vec![at(
                path,
                format!("expected {expected}, got {}", describe(other)),
            )]);
        }
    };
    let n = if whole {
        match as_whole(&n) {
            Some(w) => w,
            None => return Err(vec![at(path, format!("expected a whole number, got {n}"))]),
        }
    } else {
        n
    };
    check_bounds(schema, &n).map_err(|e| vec![at(path, e)])?;
    match from_text {
        Some((s, true)) => cx.fix(
            path,
            format!("read the string {} as the number {n}", snip(s, 40)),
        ),
        Some((s, false)) => cx.fix(
            path,
            format!("took the number {n} from the string {}", snip(s, 60)),
        ),
        None if whole && !matches!(&value, Value::Number(v) if v.is_i64() || v.is_u64()) => {
            cx.fix(path, format!("read {value} as the whole number {n}"));
        }
        None => {}
    }
    Ok(Value::Number(n))
}

fn boolean(cx: &mut Cx<'_>, value: Value, path: &Path<'_>) -> Result<Value, Vec<String>> {
    let read = match &value {
        Value::Bool(_) => return Ok(value),
        Value::String(s) => read_bool(s),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        _ => None,
    };
    match read {
        Some(b) => {
            cx.fix(path, format!("read {} as {b}", describe(&value)));
            Ok(Value::Bool(b))
        }
        None => Err(vec![at(
            path,
            format!("expected true or false, got {}", describe(&value)),
        )]),
    }
}

fn null(cx: &mut Cx<'_>, value: Value, path: &Path<'_>) -> Result<Value, Vec<String>> {
    match &value {
        Value::Null => Ok(value),
        Value::String(s) if is_null_word(s) => {
            fix_null(cx, path, s);
            Ok(Value::Null)
        }
        other => Err(vec![at(
            path,
            format!("expected null, got {}", describe(other)),
        )]),
    }
}

fn array<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    value: Value,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    match value {
        Value::Array(mut items) => {
            let mut errors = Vec::new();
            for (i, item) in items.iter_mut().enumerate() {
                let taken = std::mem::take(item);
                match coerce(cx, item_schema(schema, i), taken, &Path::Index(path, i)) {
                    Ok(v) => *item = v,
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
        Value::Null => Err(vec![at(path, "expected a list, got null")]),
        Value::String(s) if s.trim_start().starts_with('[') => {
            match find_json(&s, Want::Container) {
                Some((found @ Value::Array(_), repairs)) => cx.attempt(|cx| {
                    cx.fix(path, "read the list written inside a string");
                    cx.fix_all(path, repairs);
                    array(cx, schema, found, path)
                }),
                _ => wrap(cx, schema, Value::String(s), path),
            }
        }
        Value::Object(map) if map.len() == 1 && map.values().all(Value::is_array) => {
            let single = Value::Object(map);
            let unwrapped = cx.attempt(|cx| {
                let Value::Object(map) = single.clone() else {
                    return Err(Vec::new());
                };
                let Some((key, inner)) = map.into_iter().next() else {
                    return Err(Vec::new());
                };
                cx.fix(path, format!("took the list under the only key `{key}`"));
                array(cx, schema, inner, path)
            });
            match unwrapped {
                Ok(v) => Ok(v),
                Err(first) => wrap(cx, schema, single, path).map_err(|mut e| {
                    e.splice(0..0, first);
                    e
                }),
            }
        }
        other => wrap(cx, schema, other, path),
    }
}

/// A single value where a list is expected: a list of that one value.
fn wrap<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    value: Value,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    cx.attempt(|cx| {
        cx.fix(path, "wrapped the single value in a list");
        array(cx, schema, Value::Array(vec![value]), path)
    })
}

/// Checks `minItems` / `maxItems`.
pub(super) fn check_len(schema: &Value, len: usize) -> Result<(), String> {
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64);
    let len64 = len as u64;
    if let Some(min) = bound("minItems")
        && len64 < min
    {
        return Err(format!("expected at least {min} items, got {len}"));
    }
    if let Some(max) = bound("maxItems")
        && len64 > max
    {
        return Err(format!("expected at most {max} items, got {len}"));
    }
    Ok(())
}

fn object<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    value: Value,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    match value {
        Value::Object(map) => object_map(cx, schema, map, path),
        Value::String(s) => match find_json(&s, Want::Object) {
            Some((Value::Object(map), repairs)) => cx.attempt(|cx| {
                cx.fix(path, "read the object written inside a string");
                cx.fix_all(path, repairs);
                object_map(cx, schema, map, path)
            }),
            _ => Err(vec![at(
                path,
                format!("expected an object, got the string {}", snip(&s, 60)),
            )]),
        },
        Value::Array(mut items)
            if items.len() == 1 && items.first().is_some_and(Value::is_object) =>
        {
            cx.fix(path, "took the only item of a one-item list");
            object(cx, schema, items.pop().unwrap_or(Value::Null), path)
        }
        other => Err(vec![at(
            path,
            format!("expected an object, got {}", describe(&other)),
        )]),
    }
}

/// Coerces each entry of an object: properties by their schema, other keys by
/// `additionalProperties` (dropped when it is `false`). Keys written in another case are renamed;
/// required keys must be present.
pub(super) fn object_map<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    mut map: Map<String, Value>,
    path: &Path<'_>,
) -> Result<Value, Vec<String>> {
    let props = schema.get("properties").and_then(Value::as_object);
    if let Some(props) = props.filter(|p| !p.is_empty()) {
        // {"person": {...}} around the object the schema describes.
        if map.len() == 1 && map.keys().all(|k| !props.contains_key(k)) {
            let inner_fits = map.values().all(|v| {
                v.as_object()
                    .is_some_and(|o| o.keys().any(|k| props.contains_key(k)))
            });
            if inner_fits && let Some((key, Value::Object(inner))) = map.clone().into_iter().next()
            {
                cx.fix(path, format!("took the object under the only key `{key}`"));
                map = inner;
            }
        }
        if map.keys().any(|k| !props.contains_key(k)) {
            map = rename_keys(cx, props, map, path);
        }
    }
    let mut errors = Vec::new();
    let mut unknown = Vec::new();
    for (key, entry) in map.iter_mut() {
        let Some(entry_schema) = property_schema(schema, key) else {
            unknown.push(key.clone());
            continue;
        };
        let taken = std::mem::take(entry);
        match coerce(cx, entry_schema, taken, &Path::Key(path, key)) {
            Ok(v) => *entry = v,
            Err(e) => errors.extend(e),
        }
    }
    for key in unknown {
        map.remove(&key);
        cx.fix(path, format!("dropped the unknown key `{key}`"));
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if map.contains_key(key) {
                continue;
            }
            let nullable = props.and_then(|p| p.get(key)).is_some_and(|s| {
                let s = resolve(cx.root, s);
                let k = kind_of(s);
                k == Kind::Null
                    || (matches!(k, Kind::Union(_) | Kind::Types(_)) && allows_null(cx, s, k))
            });
            if nullable {
                cx.fix(path, format!("filled the missing key `{key}` with null"));
                map.insert(key.to_string(), Value::Null);
            } else {
                errors.push(at(path, format!("missing the required key `{key}`")));
            }
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(map))
    } else {
        Err(errors)
    }
}

/// Renames keys that match a property but for case, spaces, underscores or hyphens.
fn rename_keys(
    cx: &mut Cx<'_>,
    props: &Map<String, Value>,
    map: Map<String, Value>,
    path: &Path<'_>,
) -> Map<String, Value> {
    let mut renamed = Map::new();
    let mut renames = Vec::new();
    for key in map.keys() {
        if props.contains_key(key) {
            continue;
        }
        if let Some(prop) = props
            .keys()
            .find(|p| same_loosely(p, key) && !map.contains_key(*p))
            && !renames.iter().any(|(_, p): &(String, String)| p == prop)
        {
            renames.push((key.clone(), prop.clone()));
        }
    }
    if renames.is_empty() {
        return map;
    }
    for (key, value) in map {
        match renames.iter().find(|(from, _)| *from == key) {
            Some((from, to)) => {
                cx.fix(path, format!("renamed the key `{from}` to `{to}`"));
                renamed.insert(to.clone(), value);
            }
            None => {
                renamed.insert(key, value);
            }
        }
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Number, json};

    fn float(x: f64) -> Number {
        Number::from_f64(x).unwrap_or_else(|| Number::from(0))
    }

    fn run(schema: Value, value: Value) -> Result<(Value, Vec<String>), Vec<String>> {
        let mut cx = Cx::new("f", &schema);
        let out = coerce(&mut cx, &schema, value, &Path::Root)?;
        Ok((out, cx.fixes.into_iter().map(|f| f.what).collect()))
    }

    fn ok(value: Value, fixes: &[&str]) -> Result<(Value, Vec<String>), Vec<String>> {
        Ok((value, fixes.iter().map(|s| s.to_string()).collect()))
    }

    fn err(reasons: &[&str]) -> Result<(Value, Vec<String>), Vec<String>> {
        Err(reasons.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn right_types_pass_untouched() {
        assert_eq!(run(json!({"type": "integer"}), json!(3)), ok(json!(3), &[]));
        assert_eq!(run(json!({"type": "number"}), json!(3)), ok(json!(3), &[]));
        assert_eq!(
            run(json!({"type": "number"}), json!(2.5)),
            ok(json!(2.5), &[])
        );
        assert_eq!(
            run(json!({"type": "boolean"}), json!(false)),
            ok(json!(false), &[])
        );
        assert_eq!(
            run(json!({"type": "string"}), json!("x")),
            ok(json!("x"), &[])
        );
        assert_eq!(
            run(
                json!({"type": "array", "items": {"type": "integer"}}),
                json!([1, 2])
            ),
            ok(json!([1, 2]), &[])
        );
        assert_eq!(
            run(json!({}), json!({"any": [1]})),
            ok(json!({"any": [1]}), &[])
        );
    }

    #[test]
    fn quoted_numbers() {
        assert_eq!(
            run(json!({"type": "integer"}), json!("42")),
            ok(json!(42), &["read the string \"42\" as the number 42"])
        );
        assert_eq!(
            run(json!({"type": "number"}), json!("about 3.5")),
            ok(
                json!(3.5),
                &["took the number 3.5 from the string \"about 3.5\""]
            )
        );
        assert_eq!(
            run(json!({"type": "integer"}), json!("abc")),
            err(&["expected an integer: no number found in \"abc\""])
        );
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(
            run(json!({"type": "integer"}), Value::Number(float(3.0))),
            ok(json!(3), &["read 3.0 as the whole number 3"])
        );
        assert_eq!(
            run(json!({"type": "integer"}), json!(3.5)),
            err(&["expected a whole number, got 3.5"])
        );
    }

    #[test]
    fn bounds_are_failures_not_clamps() {
        let u8_schema = json!({"type": "integer", "minimum": 0, "maximum": 255});
        assert_eq!(
            run(u8_schema.clone(), json!(-1)),
            err(&["-1 is below the minimum 0"])
        );
        assert_eq!(
            run(u8_schema, json!(300)),
            err(&["300 is above the maximum 255"])
        );
    }

    #[test]
    fn bools() {
        let schema = json!({"type": "boolean"});
        assert_eq!(
            run(schema.clone(), json!("Yes")),
            ok(json!(true), &["read the string \"Yes\" as true"])
        );
        assert_eq!(
            run(schema.clone(), json!(0)),
            ok(json!(false), &["read the number 0 as false"])
        );
        assert_eq!(
            run(schema, json!("maybe")),
            err(&["expected true or false, got the string \"maybe\""])
        );
    }

    #[test]
    fn scalars_to_text() {
        let schema = json!({"type": "string"});
        assert_eq!(
            run(schema.clone(), json!(42)),
            ok(json!("42"), &["wrote the number 42 as text"])
        );
        assert_eq!(
            run(schema.clone(), json!(true)),
            ok(json!("true"), &["wrote the boolean true as text"])
        );
        assert_eq!(
            run(schema.clone(), json!(null)),
            err(&["expected text, got null"])
        );
        assert_eq!(
            run(schema, json!({"a": [1]})),
            ok(
                json!("{\"a\":[1]}"),
                &["wrote an object with keys `a` as JSON text"]
            )
        );
    }

    #[test]
    fn single_containers_around_scalars() {
        assert_eq!(
            run(json!({"type": "integer"}), json!([7])),
            ok(json!(7), &["took the only item of a one-item list"])
        );
        assert_eq!(
            run(json!({"type": "string"}), json!({"answer": "x"})),
            ok(json!("x"), &["took the value of the only key `answer`"])
        );
    }

    #[test]
    fn enums() {
        let schema = json!({"type": "string", "enum": ["human", "location"]});
        assert_eq!(run(schema.clone(), json!("human")), ok(json!("human"), &[]));
        assert_eq!(
            run(schema.clone(), json!("Human.")),
            ok(json!("human"), &["read \"Human.\" as the choice \"human\""])
        );
        assert_eq!(
            run(schema.clone(), json!("It is a location.")),
            ok(
                json!("location"),
                &["found the choice \"location\" in \"It is a location.\""]
            )
        );
        assert_eq!(
            run(schema.clone(), json!("robot")),
            err(&["\"robot\" is not one of the choices (\"human\", \"location\")"])
        );
        assert_eq!(
            run(schema, json!(null)),
            err(&["expected one of (\"human\", \"location\"), got null"])
        );
        let numbers = json!({"enum": [1, 2]});
        assert_eq!(
            run(numbers, json!("2")),
            ok(json!(2), &["read the string \"2\" as 2"])
        );
    }

    #[test]
    fn single_value_for_a_list() {
        let schema = json!({"type": "array", "items": {"type": "integer"}});
        assert_eq!(
            run(schema.clone(), json!(5)),
            ok(json!([5]), &["wrapped the single value in a list"])
        );
        assert_eq!(
            run(schema.clone(), json!("5")),
            ok(
                json!([5]),
                &[
                    "wrapped the single value in a list",
                    "at `[0]`: read the string \"5\" as the number 5"
                ]
            )
        );
        assert_eq!(
            run(schema.clone(), json!("[1, 2,]")),
            ok(
                json!([1, 2]),
                &[
                    "read the list written inside a string",
                    "removed a trailing comma"
                ]
            )
        );
        assert_eq!(
            run(schema.clone(), json!({"numbers": [1, 2]})),
            ok(
                json!([1, 2]),
                &["took the list under the only key `numbers`"]
            )
        );
        assert_eq!(
            run(schema, json!(null)),
            err(&["expected a list, got null"])
        );
    }

    #[test]
    fn items_are_coerced_with_paths() {
        let schema = json!({"type": "array", "items": {"type": "integer"}});
        assert_eq!(
            run(schema.clone(), json!([1, "2", 3.0])),
            ok(
                json!([1, 2, 3]),
                &[
                    "at `[1]`: read the string \"2\" as the number 2",
                    "at `[2]`: read 3.0 as the whole number 3"
                ]
            )
        );
        assert_eq!(
            run(schema, json!([1, "x", true])),
            err(&[
                "at `[1]`: expected an integer: no number found in \"x\"",
                "at `[2]`: expected an integer, got the boolean true"
            ])
        );
    }

    #[test]
    fn list_length() {
        let schema =
            json!({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2});
        assert_eq!(run(schema.clone(), json!([1, 2])), ok(json!([1, 2]), &[]));
        assert_eq!(
            run(schema, json!([1])),
            err(&["expected at least 2 items, got 1"])
        );
    }

    fn person() -> Value {
        json!({
            "type": "object",
            "title": "Person",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer", "minimum": 0},
                "nick": {"anyOf": [{"type": "string"}, {"type": "null"}]}
            },
            "required": ["name", "age"]
        })
    }

    #[test]
    fn objects() {
        assert_eq!(
            run(person(), json!({"name": "Ada", "age": 36})),
            ok(json!({"name": "Ada", "age": 36}), &[])
        );
        assert_eq!(
            run(person(), json!({"Name": "Ada", "age": "36", "nick": null})),
            ok(
                json!({"name": "Ada", "age": 36, "nick": null}),
                &[
                    "renamed the key `Name` to `name`",
                    "at `.age`: read the string \"36\" as the number 36"
                ]
            )
        );
        assert_eq!(
            run(person(), json!({"person": {"name": "Ada", "age": 36}})),
            ok(
                json!({"name": "Ada", "age": 36}),
                &["took the object under the only key `person`"]
            )
        );
        assert_eq!(
            run(person(), json!({"name": "Ada"})),
            err(&["missing the required key `age`"])
        );
        assert_eq!(
            run(person(), json!({"name": "Ada", "age": -3})),
            err(&["at `.age`: -3 is below the minimum 0"])
        );
        assert_eq!(
            run(person(), json!("{'name': 'Ada', 'age': 36}")),
            ok(
                json!({"name": "Ada", "age": 36}),
                &[
                    "read the object written inside a string",
                    "replaced single quotes with double quotes"
                ]
            )
        );
        assert_eq!(
            run(person(), json!(3)),
            err(&["expected an object, got the number 3"])
        );
    }

    #[test]
    fn closed_objects_drop_unknown_keys() {
        let schema = json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "additionalProperties": false
        });
        assert_eq!(
            run(schema, json!({"a": 1, "b": 2})),
            ok(json!({"a": 1}), &["dropped the unknown key `b`"])
        );
    }

    #[test]
    fn required_nullable_keys_are_filled() {
        let schema = json!({
            "type": "object",
            "properties": {"a": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
            "required": ["a"]
        });
        assert_eq!(
            run(schema, json!({})),
            ok(
                json!({"a": null}),
                &["filled the missing key `a` with null"]
            )
        );
    }

    #[test]
    fn maps() {
        let schema = json!({"type": "object", "additionalProperties": {"type": "integer"}});
        assert_eq!(
            run(schema.clone(), json!({"x": 1, "y": "2"})),
            ok(
                json!({"x": 1, "y": 2}),
                &["at `.y`: read the string \"2\" as the number 2"]
            )
        );
        assert_eq!(
            run(schema, json!({"x": "many"})),
            err(&["at `.x`: expected an integer: no number found in \"many\""])
        );
    }

    #[test]
    fn nullable() {
        let schema = json!({"anyOf": [{"type": "integer"}, {"type": "null"}]});
        assert_eq!(run(schema.clone(), json!(null)), ok(json!(null), &[]));
        assert_eq!(run(schema.clone(), json!(4)), ok(json!(4), &[]));
        assert_eq!(
            run(schema.clone(), json!("N/A")),
            ok(json!(null), &["read \"N/A\" as null"])
        );
        assert_eq!(
            run(schema.clone(), json!("")),
            ok(json!(null), &["read an empty answer as null"])
        );
        assert_eq!(
            run(schema, json!("x")),
            err(&["expected an integer: no number found in \"x\""])
        );
    }

    #[test]
    fn json_strings_stay_strings_for_optional_text() {
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "null"}]});
        assert_eq!(run(schema.clone(), json!("None")), ok(json!("None"), &[]));
        assert_eq!(run(schema.clone(), json!("")), ok(json!(""), &[]));
        assert_eq!(run(schema, json!(null)), ok(json!(null), &[]));
        let enum_or_null = json!({"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "null"}]});
        assert_eq!(
            run(enum_or_null, json!("None")),
            ok(json!(null), &["read \"None\" as null"])
        );
    }

    #[test]
    fn null_like_choices_stay_choices() {
        let schema =
            json!({"anyOf": [{"type": "string", "enum": ["None", "Some"]}, {"type": "null"}]});
        assert_eq!(run(schema, json!("None")), ok(json!("None"), &[]));
    }

    #[test]
    fn unions_prefer_an_exact_fit() {
        let schema = json!({"anyOf": [{"type": "integer"}, {"type": "string"}]});
        assert_eq!(run(schema.clone(), json!("42")), ok(json!("42"), &[]));
        assert_eq!(run(schema.clone(), json!(42)), ok(json!(42), &[]));
        let types = json!({"type": ["integer", "null"]});
        assert_eq!(run(types.clone(), json!(null)), ok(json!(null), &[]));
        assert_eq!(
            run(types, json!("7")),
            ok(json!(7), &["read the string \"7\" as the number 7"])
        );
    }

    #[test]
    fn refs() {
        let schema = json!({
            "type": "object",
            "properties": {"child": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}, "v": {"type": "integer"}},
            "required": ["v"]
        });
        assert_eq!(
            run(schema, json!({"v": "1", "child": {"v": 2, "child": null}})),
            ok(
                json!({"v": 1, "child": {"v": 2, "child": null}}),
                &["at `.v`: read the string \"1\" as the number 1"]
            )
        );
    }

    #[test]
    fn self_referential_schemas_terminate() {
        let schema = json!({"anyOf": [{"$ref": "#"}, {"type": "array", "items": {"$ref": "#"}}]});
        assert!(run(schema, json!("x")).is_err());
    }
}
