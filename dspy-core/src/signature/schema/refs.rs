//! `$ref`s: which named types stay definitions, and inlining the others where they are used.

use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};

/// Keys whose values are data, not subschemas: never searched for `$ref`s.
const DATA_KEYS: [&str; 5] = ["enum", "const", "default", "examples", "required"];

/// The definition a `$ref` names (`#/$defs/Name` → `Name`).
pub(super) fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

/// A schema whose named types are inlined, except those `keep` names and those that refer to
/// themselves (which cannot be inlined): these stay `$ref`s, their definitions under `$defs`,
/// titled with their names. An inlined object is titled with its type's name too.
pub(super) fn with_defs(
    root: Value,
    defs: &Map<String, Value>,
    keep: &dyn Fn(&str) -> bool,
) -> Value {
    let recursive = recursive_defs(defs);
    let kept = |name: &str| keep(name) || recursive.contains(name);
    let mut root = inline(root, defs, &kept, &mut Vec::new());
    // The field's own type is its schema, not a reference to it (as pydantic writes it).
    if let Some(name) = ref_name(&root).map(str::to_string)
        && let Some(def) = defs.get(&name)
    {
        root = merge_siblings(
            inline(def.clone(), defs, &kept, &mut vec![name.clone()]),
            root,
            &name,
        );
    }
    let mut out_defs = Map::new();
    let mut todo: Vec<String> = reachable(&root).into_iter().collect();
    while let Some(name) = todo.pop() {
        let Some(def) = defs.get(&name).filter(|_| !out_defs.contains_key(&name)) else {
            continue;
        };
        let mut def = inline(def.clone(), defs, &kept, &mut vec![name.clone()]);
        if let Value::Object(map) = &mut def {
            map.insert("title".into(), Value::String(name.clone()));
        }
        todo.extend(reachable(&def));
        out_defs.insert(name, def);
    }
    if let (false, Value::Object(map)) = (out_defs.is_empty(), &mut root) {
        let mut sorted: Vec<(String, Value)> = out_defs.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        map.insert("$defs".into(), Value::Object(sorted.into_iter().collect()));
    }
    root
}

/// Replaces each `$ref` to a definition `kept` rejects with the definition.
fn inline(
    schema: Value,
    defs: &Map<String, Value>,
    kept: &dyn Fn(&str) -> bool,
    stack: &mut Vec<String>,
) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(name) = ref_name(&Value::Object(map.clone())).map(str::to_string)
                && let Some(def) = defs.get(&name)
                && !kept(&name)
                && !stack.contains(&name)
            {
                stack.push(name.clone());
                let inlined = inline(def.clone(), defs, kept, stack);
                stack.pop();
                let siblings = Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k.clone(), child(&k, v, defs, kept, stack)))
                        .collect(),
                );
                return merge_siblings(inlined, siblings, &name);
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k.clone(), child(&k, v, defs, kept, stack)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| inline(v, defs, kept, stack))
                .collect(),
        ),
        other => other,
    }
}

fn child(
    key: &str,
    value: Value,
    defs: &Map<String, Value>,
    kept: &dyn Fn(&str) -> bool,
    stack: &mut Vec<String>,
) -> Value {
    if DATA_KEYS.contains(&key) {
        value
    } else {
        inline(value, defs, kept, stack)
    }
}

/// The inlined definition `name`, titled when it is an object, with the keys that stood beside
/// its `$ref` (a field's description), which describe this use of it and win.
fn merge_siblings(mut inlined: Value, siblings: Value, name: &str) -> Value {
    let Value::Object(obj) = &mut inlined else {
        return inlined;
    };
    if obj.get("type").and_then(Value::as_str) == Some("object") {
        obj.insert("title".into(), Value::String(name.to_string()));
    }
    if let Value::Object(siblings) = siblings {
        obj.extend(siblings.into_iter().filter(|(k, _)| k != "$ref"));
    }
    inlined
}

/// The definitions `schema` refers to directly.
fn reachable(schema: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    collect_refs(schema, &mut names);
    names
}

fn collect_refs(schema: &Value, names: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = ref_name(schema) {
                names.insert(name.to_string());
            }
            map.iter()
                .filter(|(k, _)| !DATA_KEYS.contains(&k.as_str()))
                .for_each(|(_, v)| collect_refs(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, names)),
        _ => {}
    }
}

/// Names of the definitions that reach themselves through `$ref`s.
fn recursive_defs(defs: &Map<String, Value>) -> HashSet<String> {
    defs.keys()
        .filter(|name| {
            let mut seen = HashSet::new();
            let mut todo: Vec<String> = defs
                .get(*name)
                .map(reachable)
                .unwrap_or_default()
                .into_iter()
                .collect();
            while let Some(next) = todo.pop() {
                if &next == *name {
                    return true;
                }
                if seen.insert(next.clone()) {
                    todo.extend(defs.get(&next).map(reachable).unwrap_or_default());
                }
            }
            false
        })
        .cloned()
        .collect()
}

/// `schema` with every `$ref` into its `$defs` inlined but for recursive ones (whose definitions
/// stay in `$defs`): for readers that take one self-contained schema per field.
pub(crate) fn inline_defs(schema: &Value) -> Value {
    let mut schema = schema.clone();
    let defs = match schema.as_object_mut().and_then(|m| m.remove("$defs")) {
        Some(Value::Object(defs)) => defs,
        _ => return schema,
    };
    with_defs(schema, &defs, &|_| false)
}
