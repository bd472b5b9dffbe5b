//! Properties of lenient parsing: it never panics, whatever the LM wrote; what it accepts fits
//! the field's schema; and clean answers come back unchanged, with no fixes.

use dspy_core::FieldSpec;
use dspy_core::adapter::parse::{coerce_field, find_json_object, find_json_value, parse_field};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const CHOICES: [&str; 4] = ["HUMAN", "LOCATION", "NUMERIC_VALUE", "none"];

fn label_field() -> FieldSpec {
    FieldSpec::from_schema("label", "", json!({"type": "string", "enum": CHOICES}))
}

fn person_schema() -> Value {
    json!({
        "type": "object",
        "title": "Person",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 255},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "zip": {"anyOf": [{"type": "string"}, {"type": "null"}]}
                },
                "required": ["city"]
            },
            "kind": {"type": "string", "enum": ["a", "b"]},
            "score": {"anyOf": [{"type": "number"}, {"type": "null"}]}
        },
        "required": ["name", "age", "tags", "address", "kind"]
    })
}

fn tree_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "v": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#"}}
        },
        "required": ["v"]
    })
}

/// A field of every kind the parser must handle.
fn fields() -> Vec<FieldSpec> {
    vec![
        FieldSpec::of::<String>("s", ""),
        FieldSpec::of::<i64>("i", ""),
        FieldSpec::of::<u8>("u", ""),
        FieldSpec::of::<f64>("f", ""),
        FieldSpec::of::<bool>("b", ""),
        FieldSpec::of::<Option<i64>>("oi", ""),
        FieldSpec::of::<Option<String>>("os", ""),
        FieldSpec::of::<Vec<String>>("vs", ""),
        FieldSpec::of::<Vec<i64>>("vi", ""),
        FieldSpec::of::<Vec<Option<bool>>>("vob", ""),
        FieldSpec::of::<HashMap<String, i64>>("m", ""),
        FieldSpec::of::<Value>("any", ""),
        label_field(),
        FieldSpec::from_schema("person", "", person_schema()),
        FieldSpec::from_schema("tree", "", tree_schema()),
        FieldSpec::from_schema("types", "", json!({"type": ["integer", "null"]})),
    ]
}

/// Whether `value` is valid against `schema` (the subset of JSON schema fields use).
fn conforms(root: &Value, schema: &Value, value: &Value) -> bool {
    let Value::Object(s) = schema else {
        return schema != &Value::Bool(false);
    };
    if let Some(Value::String(reference)) = s.get("$ref") {
        let Some(target) = reference.strip_prefix('#').and_then(|p| root.pointer(p)) else {
            return false;
        };
        return conforms(root, target, value);
    }
    if let Some(Value::Array(branches)) = s.get("anyOf") {
        return branches.iter().any(|b| conforms(root, b, value));
    }
    if let Some(Value::Array(choices)) = s.get("enum") {
        return choices.contains(value);
    }
    let type_ok = |t: &str| match t {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    match s.get("type") {
        Some(Value::String(t)) if !type_ok(t) => return false,
        Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(type_ok) => {
            return false;
        }
        _ => {}
    }
    if let Some(x) = value.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|min| x < min)
        {
            return false;
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|max| x > max)
        {
            return false;
        }
    }
    if let Value::Array(items) = value
        && let Some(item_schema) = s.get("items")
        && !items.iter().all(|item| conforms(root, item_schema, item))
    {
        return false;
    }
    if let Value::Object(map) = value {
        let props = s.get("properties").and_then(Value::as_object);
        for (key, entry) in map {
            let entry_schema = props
                .and_then(|p| p.get(key))
                .or_else(|| s.get("additionalProperties"))
                .unwrap_or(&Value::Bool(true));
            if !conforms(root, entry_schema, entry) {
                return false;
            }
        }
        if let Some(Value::Array(required)) = s.get("required")
            && !required
                .iter()
                .filter_map(Value::as_str)
                .all(|k| map.contains_key(k))
        {
            return false;
        }
    }
    true
}

fn fits(field: &FieldSpec, value: &Value) -> bool {
    conforms(&field.schema, &field.schema, value)
}

/// Text made of what LM answers and broken JSON are made of.
fn json_ish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\\".to_string()),
        Just("\\u".to_string()),
        Just("\\ud83d".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("```".to_string()),
        Just("```json\n".to_string()),
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just("True".to_string()),
        Just("None".to_string()),
        Just("null".to_string()),
        Just("N/A".to_string()),
        Just("- ".to_string()),
        Just("1. ".to_string()),
        Just("//".to_string()),
        Just("/*".to_string()),
        Just("\u{201c}".to_string()),
        Just("\u{2019}".to_string()),
        Just("é".to_string()),
        Just("日本".to_string()),
        Just("😀".to_string()),
        Just("\u{0}".to_string()),
        Just("human".to_string()),
        Just("LOCATION".to_string()),
        Just("name".to_string()),
        Just("\"age\": ".to_string()),
        Just("-".to_string()),
        Just(".".to_string()),
        Just("e".to_string()),
        "[0-9]{1,25}",
        "[a-zA-Z_ ]{1,8}",
        "-?[0-9]{1,3}\\.[0-9]{1,3}",
    ];
    prop::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
}

/// Any text at all.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), ".*", json_ish()]
}

/// Arbitrary JSON values.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        any_text().prop_map(Value::String),
        prop::sample::select(CHOICES.to_vec()).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #[test]
    fn parse_field_never_panics_and_fits(text in any_text()) {
        for field in fields() {
            if let Ok((value, _)) = parse_field(&field, &text) {
                prop_assert!(fits(&field, &value), "{}: {text:?} gave {value}", field.name);
            }
        }
    }

    #[test]
    fn parse_field_handles_wrapped_json(value in any_json(), before in "[a-zA-Z :!\n]{0,12}", after in "[a-zA-Z .\n]{0,12}", fence in any::<bool>()) {
        let body = value.to_string();
        let text = if fence { format!("{before}```json\n{body}\n```{after}") } else { format!("{before}{body}{after}") };
        for field in fields() {
            if let Ok((parsed, _)) = parse_field(&field, &text) {
                prop_assert!(fits(&field, &parsed), "{}: {text:?} gave {parsed}", field.name);
            }
        }
    }

    #[test]
    fn coerce_field_never_panics_and_fits(value in any_json()) {
        for field in fields() {
            if let Ok((coerced, _)) = coerce_field(&field, value.clone()) {
                prop_assert!(fits(&field, &coerced), "{}: {value} gave {coerced}", field.name);
            }
        }
    }

    #[test]
    fn find_json_never_panics(text in any_text()) {
        let _ = find_json_object(&text);
        let _ = find_json_value(&text);
    }

    #[test]
    fn find_json_object_finds_wrapped_objects(
        entries in prop::collection::vec(("[a-z]{1,6}", any_json()), 0..5),
        before in "[a-zA-Z :!\n]{0,20}",
        after in "[a-zA-Z .!\n]{0,20}",
        fence in any::<bool>(),
    ) {
        let object: Map<String, Value> = entries.into_iter().collect();
        let body = Value::Object(object.clone()).to_string();
        let text = if fence { format!("{before}```json\n{body}\n```{after}") } else { format!("{before}{body}{after}") };
        let found = find_json_object(&text);
        prop_assert!(found.is_some(), "nothing found in {text:?}");
        if let Some((map, _)) = found {
            let (map, object) = (Value::Object(map), Value::Object(object));
            prop_assert!(same(&map, &object), "{text:?} gave {map}");
        }
    }
}

/// A field with a strategy for its valid values, and how to write a value cleanly as an
/// answer's text.
fn valid_values() -> Vec<(FieldSpec, BoxedStrategy<Value>)> {
    let text = "[a-zA-Z0-9][a-zA-Z0-9 ,.!?'\"{}()-]{0,30}"
        .prop_map(|s: String| s.trim().to_string())
        .prop_filter("non-empty", |s| !s.is_empty());
    let float = (-1e9f64..1e9).prop_map(Value::from);
    let person = (
        any::<String>(),
        any::<u8>(),
        prop::collection::vec(any::<String>(), 0..4),
        any::<String>(),
        prop::option::of(any::<String>()),
        prop::sample::select(vec!["a", "b"]),
        prop::option::of(-1e6f64..1e6),
    )
        .prop_map(|(name, age, tags, city, zip, kind, score)| {
            json!({
                "name": name, "age": age, "tags": tags,
                "address": {"city": city, "zip": zip},
                "kind": kind, "score": score
            })
        });
    vec![
        (
            FieldSpec::of::<String>("s", ""),
            text.prop_map(Value::String).boxed(),
        ),
        (
            FieldSpec::of::<i64>("i", ""),
            any::<i64>().prop_map(Value::from).boxed(),
        ),
        (
            FieldSpec::of::<u8>("u", ""),
            any::<u8>().prop_map(Value::from).boxed(),
        ),
        (FieldSpec::of::<f64>("f", ""), float.boxed()),
        (
            FieldSpec::of::<bool>("b", ""),
            any::<bool>().prop_map(Value::Bool).boxed(),
        ),
        (
            FieldSpec::of::<Option<i64>>("oi", ""),
            prop::option::of(any::<i64>())
                .prop_map(|o| json!(o))
                .boxed(),
        ),
        (
            FieldSpec::of::<Vec<String>>("vs", ""),
            prop::collection::vec(any::<String>(), 0..5)
                .prop_map(|v| json!(v))
                .boxed(),
        ),
        (
            FieldSpec::of::<Vec<i64>>("vi", ""),
            prop::collection::vec(any::<i64>(), 0..5)
                .prop_map(|v| json!(v))
                .boxed(),
        ),
        (
            FieldSpec::of::<HashMap<String, i64>>("m", ""),
            prop::collection::hash_map(any::<String>(), any::<i64>(), 0..5)
                .prop_map(|m| json!(m))
                .boxed(),
        ),
        (
            label_field(),
            prop::sample::select(CHOICES.to_vec())
                .prop_map(Value::from)
                .boxed(),
        ),
        (
            FieldSpec::from_schema("person", "", person_schema()),
            person.boxed(),
        ),
    ]
}

/// The text an LM writes for a value: plain text for text fields and choices, JSON otherwise.
fn clean_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Equal, with floats compared to a relative 1e-12 (JSON float parsing is best-effort).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            }
            _ => x == y,
        },
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}

fn check_round_trip(field: &FieldSpec, value: &Value) -> Result<(), TestCaseError> {
    prop_assert!(
        fits(field, value),
        "{}: generated {value} does not fit",
        field.name
    );
    let text = clean_text(value);
    match parse_field(field, &text) {
        Ok((parsed, fixes)) => {
            prop_assert!(
                same(&parsed, value),
                "{}: {text:?} parsed as {parsed}",
                field.name
            );
            prop_assert!(
                fixes.is_empty(),
                "{}: {text:?} needed fixes {fixes:?}",
                field.name
            );
        }
        Err(reasons) => prop_assert!(false, "{}: {text:?} failed: {reasons:?}", field.name),
    }
    match coerce_field(field, value.clone()) {
        Ok((coerced, fixes)) => {
            prop_assert!(
                same(&coerced, value),
                "{}: {value} coerced to {coerced}",
                field.name
            );
            prop_assert!(
                fixes.is_empty(),
                "{}: {value} needed fixes {fixes:?}",
                field.name
            );
        }
        Err(reasons) => prop_assert!(false, "{}: {value} failed: {reasons:?}", field.name),
    }
    Ok(())
}

#[test]
fn clean_answers_round_trip_with_no_fixes() {
    let mut runner = proptest::test_runner::TestRunner::default();
    for (field, strategy) in valid_values() {
        let result = runner.run(&strategy, |value| check_round_trip(&field, &value));
        if let Err(e) = result {
            panic!("{}: {e}", field.name);
        }
    }
}

#[test]
fn regressions() {
    // Deep nesting must fail (or parse), never overflow the stack.
    let deep = "[".repeat(50_000);
    for field in fields() {
        let _ = parse_field(&field, &deep);
    }
    let mut nested = json!(1);
    for _ in 0..1000 {
        nested = json!([nested]);
    }
    for field in fields() {
        let _ = coerce_field(&field, nested.clone());
    }
}
