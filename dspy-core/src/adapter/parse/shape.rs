//! What a (normalized) JSON schema asks for, read once so parsers can `match` on it.

use serde_json::{Number, Value};

/// A schema that accepts anything (`$ref`s that lead nowhere resolve to it).
static ANY: Value = Value::Bool(true);

/// How many `$ref`/`allOf` hops to follow before giving up (a schema may refer to itself).
const MAX_HOPS: usize = 16;

/// The shape of value a schema asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind<'s> {
    /// No constraint we know how to apply: values pass through.
    Any,
    /// `anyOf` / `oneOf`: the first branch that fits.
    Union(&'s [Value]),
    /// `"type": ["integer", "null"]`: the first type that fits.
    Types(&'s [Value]),
    /// `enum`: one of these values.
    Enum(&'s [Value]),
    /// `const`: exactly this value.
    Const(&'s Value),
    /// A string (free text).
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// true or false.
    Boolean,
    /// null.
    Null,
    /// A list.
    Array,
    /// An object (a struct, or a map with `additionalProperties`).
    Object,
}

impl Kind<'_> {
    /// Kinds whose value is one scalar, read from a short text.
    pub(super) fn is_scalar(self) -> bool {
        matches!(
            self,
            Kind::String
                | Kind::Integer
                | Kind::Number
                | Kind::Boolean
                | Kind::Enum(_)
                | Kind::Const(_)
        )
    }
}

/// Follows `$ref`s (into `root`) and single-element `allOf`s to the schema that applies.
pub(super) fn resolve<'s>(root: &'s Value, mut schema: &'s Value) -> &'s Value {
    for _ in 0..MAX_HOPS {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match reference
                .strip_prefix('#')
                .and_then(|pointer| root.pointer(pointer))
            {
                Some(target) => schema = target,
                None => return &ANY,
            }
            continue;
        }
        match schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            Some([only]) if schema.get("type").is_none() => schema = only,
            _ => return schema,
        }
    }
    &ANY
}

/// The kind of value `schema` (already resolved) asks for.
pub(super) fn kind_of(schema: &Value) -> Kind<'_> {
    let Value::Object(map) = schema else {
        return Kind::Any;
    };
    if let Some(Value::Array(values)) = map.get("enum") {
        return Kind::Enum(values);
    }
    if let Some(value) = map.get("const") {
        return Kind::Const(value);
    }
    if let Some(Value::Array(branches)) = map.get("anyOf").or_else(|| map.get("oneOf")) {
        return Kind::Union(branches);
    }
    match map.get("type") {
        Some(Value::String(name)) => kind_named(name),
        Some(Value::Array(names)) => Kind::Types(names),
        _ if map.contains_key("properties") || map.contains_key("additionalProperties") => {
            Kind::Object
        }
        _ if map.contains_key("items") || map.contains_key("prefixItems") => Kind::Array,
        _ => Kind::Any,
    }
}

/// The kind for a JSON-schema type name.
pub(super) fn kind_named(name: &str) -> Kind<'static> {
    match name {
        "string" => Kind::String,
        "integer" => Kind::Integer,
        "number" => Kind::Number,
        "boolean" => Kind::Boolean,
        "null" => Kind::Null,
        "array" => Kind::Array,
        "object" => Kind::Object,
        _ => Kind::Any,
    }
}

/// The branches of a union kind, each with the schema it applies and its kind. A `Types` union
/// applies the same schema with each type in turn.
pub(super) fn branches<'s>(
    root: &'s Value,
    schema: &'s Value,
    kind: Kind<'s>,
) -> impl Iterator<Item = (&'s Value, Kind<'s>)> + Clone {
    let (union, types): (&[Value], &[Value]) = match kind {
        Kind::Union(b) => (b, &[]),
        Kind::Types(t) => (&[], t),
        _ => (&[], &[]),
    };
    let from_union = union.iter().map(move |branch| {
        let branch = resolve(root, branch);
        (branch, kind_of(branch))
    });
    let from_types = types
        .iter()
        .map(move |name| (schema, name.as_str().map_or(Kind::Any, kind_named)));
    from_union.chain(from_types)
}

/// Whether the kind is one of the given enum/const values, written exactly as `text`.
pub(super) fn names_exactly(kind: Kind<'_>, text: &str) -> bool {
    match kind {
        Kind::Enum(values) => values.iter().any(|v| v.as_str() == Some(text)),
        Kind::Const(value) => value.as_str() == Some(text),
        _ => false,
    }
}

/// The schema of the list item at `index` (`prefixItems` for tuples, else `items`).
pub(super) fn item_schema(schema: &Value, index: usize) -> &Value {
    if let Some(prefix) = schema.get("prefixItems").and_then(Value::as_array)
        && let Some(item) = prefix.get(index)
    {
        return item;
    }
    match schema.get("items") {
        Some(items @ (Value::Object(_) | Value::Bool(true))) => items,
        _ => &ANY,
    }
}

/// The schema of the object entry `key`: its property, else `additionalProperties`. `None`
/// when the object allows no other keys.
pub(super) fn property_schema<'s>(schema: &'s Value, key: &str) -> Option<&'s Value> {
    if let Some(prop) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(prop);
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(false)) => None,
        Some(extra @ Value::Object(_)) => Some(extra),
        _ => Some(&ANY),
    }
}

/// Checks `minimum`, `maximum` and their exclusive forms.
pub(super) fn check_bounds(schema: &Value, n: &Number) -> Result<(), String> {
    let Some(x) = n.as_f64() else { return Ok(()) };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    if let Some(min) = bound("minimum")
        && x < min
    {
        return Err(format!("{n} is below the minimum {}", show(min)));
    }
    if let Some(max) = bound("maximum")
        && x > max
    {
        return Err(format!("{n} is above the maximum {}", show(max)));
    }
    if let Some(min) = bound("exclusiveMinimum")
        && x <= min
    {
        return Err(format!("{n} is not above {}", show(min)));
    }
    if let Some(max) = bound("exclusiveMaximum")
        && x >= max
    {
        return Err(format!("{n} is not below {}", show(max)));
    }
    Ok(())
}

/// A bound as a person writes it: `0`, not `0.0`.
fn show(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// The whole number `n` stands for, if it is one (`3.0` → `3`), within i64/u64 range.
pub(super) fn as_whole(n: &Number) -> Option<Number> {
    if n.is_i64() || n.is_u64() {
        return Some(n.clone());
    }
    let x = n.as_f64()?;
    if x.fract() != 0.0 || !x.is_finite() {
        return None;
    }
    // 2^63 and 2^64 are exact in f64; casts below are in range.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&x) {
        Some(Number::from(x as i64))
    } else if (0.0..18_446_744_073_709_551_616.0).contains(&x) {
        Some(Number::from(x as u64))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds() {
        assert_eq!(kind_of(&json!({"type": "integer"})), Kind::Integer);
        assert_eq!(kind_of(&json!({"type": "string"})), Kind::String);
        assert!(matches!(
            kind_of(&json!({"type": "string", "enum": ["a"]})),
            Kind::Enum(_)
        ));
        assert!(matches!(
            kind_of(&json!({"anyOf": [{"type": "null"}]})),
            Kind::Union(_)
        ));
        assert!(matches!(
            kind_of(&json!({"type": ["integer", "null"]})),
            Kind::Types(_)
        ));
        assert_eq!(kind_of(&json!({"properties": {}})), Kind::Object);
        assert_eq!(kind_of(&json!({"items": {}})), Kind::Array);
        assert_eq!(kind_of(&json!(true)), Kind::Any);
        assert_eq!(kind_of(&json!({})), Kind::Any);
    }

    #[test]
    fn refs_resolve_and_cycles_stop() {
        let root = json!({"$ref": "#/$defs/A", "$defs": {"A": {"type": "integer"}}});
        assert_eq!(resolve(&root, &root), &json!({"type": "integer"}));
        let cyclic = json!({"$ref": "#"});
        assert_eq!(resolve(&cyclic, &cyclic), &json!(true));
        let missing = json!({"$ref": "#/nowhere"});
        assert_eq!(resolve(&missing, &missing), &json!(true));
        let all_of = json!({"allOf": [{"type": "boolean"}]});
        assert_eq!(resolve(&all_of, &all_of), &json!({"type": "boolean"}));
    }

    #[test]
    fn bounds() {
        let schema = json!({"minimum": 0, "maximum": 255});
        assert_eq!(check_bounds(&schema, &Number::from(3)), Ok(()));
        assert_eq!(
            check_bounds(&schema, &Number::from(-1)),
            Err("-1 is below the minimum 0".into())
        );
        assert_eq!(
            check_bounds(&schema, &Number::from(256)),
            Err("256 is above the maximum 255".into())
        );
    }

    #[test]
    fn whole_numbers() {
        let n = |x: f64| Number::from_f64(x).unwrap_or_else(|| Number::from(0));
        assert_eq!(as_whole(&n(3.0)), Some(Number::from(3)));
        assert_eq!(as_whole(&n(-2.0)), Some(Number::from(-2)));
        assert_eq!(as_whole(&n(3.5)), None);
        assert_eq!(as_whole(&n(1e300)), None);
        assert_eq!(
            as_whole(&n(1e19)),
            Some(Number::from(10_000_000_000_000_000_000u64))
        );
    }

    #[test]
    fn items_and_properties() {
        let tuple = json!({"prefixItems": [{"type": "integer"}], "items": {"type": "string"}});
        assert_eq!(item_schema(&tuple, 0), &json!({"type": "integer"}));
        assert_eq!(item_schema(&tuple, 1), &json!({"type": "string"}));
        let closed =
            json!({"properties": {"a": {"type": "integer"}}, "additionalProperties": false});
        assert_eq!(
            property_schema(&closed, "a"),
            Some(&json!({"type": "integer"}))
        );
        assert_eq!(property_schema(&closed, "b"), None);
        let map = json!({"additionalProperties": {"type": "number"}});
        assert_eq!(property_schema(&map, "x"), Some(&json!({"type": "number"})));
    }
}
