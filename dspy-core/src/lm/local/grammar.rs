//! GBNF grammars that constrain the local model's answer to the output schema.
//!
//! For the completion layout the answer continues a primed prefix: `" value"` for the first
//! field, then `"\nPrefix: value"` for each further one, with values written as prompts show them
//! (text on one line, enum choices verbatim, `True`/`False`, `None`, lists and objects as JSON).
//! For a JSON answer the grammar is llama.cpp's translation of the JSON schema.

use crate::adapter::{AnswerFormat, ResponseSchema};
use serde_json::Value;
use std::collections::HashSet;

/// Turns a JSON schema into GBNF (llama.cpp's converter; a parameter so tests can stub it).
pub(crate) type JsonToGbnf<'a> = &'a dyn Fn(&Value) -> Result<String, String>;

/// The grammar for an answer in `format` matching `schema`, or `None` when the layout has no
/// grammar (chat markers).
pub(crate) fn answer_grammar(
    format: &AnswerFormat,
    schema: &ResponseSchema,
    json_to_gbnf: JsonToGbnf<'_>,
) -> Result<Option<String>, String> {
    match format {
        AnswerFormat::Completion { fields } => {
            completion_grammar(fields, &schema.schema, json_to_gbnf).map(Some)
        }
        AnswerFormat::Json => json_to_gbnf(&schema.schema).map(Some),
        AnswerFormat::Markers => Ok(None),
    }
}

/// `root ::= " " v0 "\n" "Prefix1:" " " v1 ...`, one value rule per field.
fn completion_grammar(
    fields: &[(String, String)],
    schema: &Value,
    json_to_gbnf: JsonToGbnf<'_>,
) -> Result<String, String> {
    let mut rules = Vec::new();
    let mut root = Vec::new();
    // Each field's rule is built from its own schema: the answer object's shared `$defs` are
    // written in place (a recursive type keeps them, carried into the field's schema).
    let schema = crate::signature::inline_defs(schema);
    let defs = schema.get("$defs").cloned();
    for (i, (name, prefix)) in fields.iter().enumerate() {
        let mut field_schema = schema
            .get("properties")
            .and_then(|p| p.get(name))
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "string"}));
        if let (Some(defs), Value::Object(map)) = (&defs, &mut field_schema) {
            map.insert("$defs".into(), defs.clone());
        }
        let rule = format!("f{i}");
        let body = value_rule(&field_schema, &rule, json_to_gbnf, &mut rules)?;
        rules.push(format!("{rule} ::= {body}"));
        if i == 0 {
            root.push(format!("\" \" {rule}"));
        } else {
            root.push(format!("\"\\n\" {} \" \" {rule}", literal(prefix)));
        }
    }
    if root.is_empty() {
        return Err("the signature has no output fields".into());
    }
    let mut grammar = format!("root ::= {}\n", root.join(" "));
    for rule in rules {
        grammar.push_str(&rule);
        grammar.push('\n');
    }
    Ok(grammar)
}

/// The body of a rule for one value as prompts display it; helper rules go to `extra`.
fn value_rule(
    schema: &Value,
    name: &str,
    json_to_gbnf: JsonToGbnf<'_>,
    extra: &mut Vec<String>,
) -> Result<String, String> {
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        let literals: Option<Vec<String>> = choices
            .iter()
            .map(|c| scalar_display(c).map(|s| literal(&s)))
            .collect();
        if let Some(literals) = literals.filter(|l| !l.is_empty()) {
            return Ok(format!("( {} )", literals.join(" | ")));
        }
    }
    if let Some(constant) = schema.get("const").and_then(scalar_display) {
        return Ok(literal(&constant));
    }
    let alternatives = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(alternatives) = alternatives {
        let bodies = alternatives
            .iter()
            .enumerate()
            .map(|(i, alt)| value_rule(alt, &format!("{name}-{i}"), json_to_gbnf, extra))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(format!("( {} )", bodies.join(" | ")));
    }
    match schema.get("type") {
        Some(Value::String(t)) => scalar_rule(t, schema, name, json_to_gbnf, extra),
        Some(Value::Array(types)) => {
            let bodies = types
                .iter()
                .filter_map(Value::as_str)
                .map(|t| {
                    let mut single = schema.clone();
                    single["type"] = Value::String(t.to_string());
                    scalar_rule(t, &single, &format!("{name}-{t}"), json_to_gbnf, extra)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("( {} )", bodies.join(" | ")))
        }
        _ => embedded_json(schema, name, json_to_gbnf, extra),
    }
}

fn scalar_rule(
    kind: &str,
    schema: &Value,
    name: &str,
    json_to_gbnf: JsonToGbnf<'_>,
    extra: &mut Vec<String>,
) -> Result<String, String> {
    let non_negative = schema
        .get("minimum")
        .and_then(Value::as_f64)
        .is_some_and(|m| m >= 0.0);
    let sign = if non_negative { "" } else { "\"-\"? " };
    Ok(match kind {
        // One line of text: a newline ends the field.
        "string" => "[^\\n]*".to_string(),
        "integer" => format!(
            "{sign}( \"0\" | [1-9] [0-9]{{0,{}}} )",
            integer_digits(schema) - 1
        ),
        "number" => {
            format!("{sign}[0-9]{{1,19}} ( \".\" [0-9]{{1,16}} )? ( [eE] [-+]? [0-9]{{1,3}} )?")
        }
        "boolean" => "( \"True\" | \"False\" )".to_string(),
        "null" => "\"None\"".to_string(),
        _ => return embedded_json(schema, name, json_to_gbnf, extra),
    })
}

/// Most digits an integer field can need: from its bounds when the schema has them (`u8`, `i16`),
/// else 19 (64-bit).
fn integer_digits(schema: &Value) -> usize {
    let bound = ["minimum", "maximum"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_f64))
        .map(f64::abs)
        .fold(None, |acc: Option<f64>, b| {
            Some(acc.map_or(b, |a| a.max(b)))
        });
    match (schema.get("maximum"), bound) {
        (Some(_), Some(b)) if b >= 1.0 => (b.log10().floor() as usize + 1).min(19),
        (Some(_), Some(_)) => 1,
        _ => 19,
    }
}

/// Lists and objects are shown as compact JSON: llama.cpp's grammar for the schema, its rules
/// renamed under `name` so several fields can share one grammar, and whitespace limited to one
/// space (a blank line would end the answer).
fn embedded_json(
    schema: &Value,
    name: &str,
    json_to_gbnf: JsonToGbnf<'_>,
    extra: &mut Vec<String>,
) -> Result<String, String> {
    let grammar = json_to_gbnf(schema)?;
    let renamed = rename_rules(&grammar, &format!("{name}-"));
    let space = format!("{name}-space");
    for rule in renamed {
        if rule.starts_with(&format!("{space} ::=")) {
            extra.push(format!("{space} ::= \" \"?"));
        } else {
            extra.push(rule);
        }
    }
    Ok(format!("{name}-root"))
}

/// How a scalar enum choice appears in a prompt.
fn scalar_display(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A GBNF string literal.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prefixes every rule name of a grammar, in definitions and references, leaving literals and
/// character classes alone. Returns the rules, one per element.
fn rename_rules(grammar: &str, prefix: &str) -> Vec<String> {
    let mut rules: Vec<(String, String)> = Vec::new();
    for line in grammar.lines() {
        match line.split_once("::=") {
            Some((head, body)) if is_rule_name(head.trim()) => {
                rules.push((head.trim().to_string(), body.to_string()));
            }
            // A rule continued on the next line.
            _ => {
                if let Some((_, body)) = rules.last_mut() {
                    body.push('\n');
                    body.push_str(line);
                }
            }
        }
    }
    let names: HashSet<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    rules
        .iter()
        .map(|(name, body)| {
            format!(
                "{prefix}{name} ::={}",
                rename_references(body, &names, prefix)
            )
        })
        .collect()
}

fn is_rule_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn rename_references(body: &str, names: &HashSet<&str>, prefix: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '[' => {
                let close = if c == '"' { '"' } else { ']' };
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some(escaped) = chars.next() {
                            out.push(escaped);
                        }
                    } else if d == close {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => {
                let mut word = String::from(c);
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '-' || d == '_' {
                        word.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if names.contains(word.as_str()) {
                    out.push_str(prefix);
                }
                out.push_str(&word);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_json(_: &Value) -> Result<String, String> {
        Err("no JSON expected".into())
    }

    fn fields(names: &[(&str, &str)]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|(n, p)| (n.to_string(), p.to_string()))
            .collect()
    }

    #[test]
    fn completion_layout_primes_the_first_value_and_prefixes_the_rest() {
        let schema = json!({"type": "object", "properties": {
            "label": {"type": "string", "enum": ["HUM", "LOC", "say \"hi\""]},
            "count": {"type": "integer", "minimum": 0},
            "ok": {"type": "boolean"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        }});
        let g = completion_grammar(
            &fields(&[
                ("label", "Label:"),
                ("count", "Count:"),
                ("ok", "Ok:"),
                ("note", "Note:"),
            ]),
            &schema,
            &no_json,
        )
        .unwrap();
        assert_eq!(
            g,
            "root ::= \" \" f0 \"\\n\" \"Count:\" \" \" f1 \"\\n\" \"Ok:\" \" \" f2 \"\\n\" \"Note:\" \" \" f3\n\
             f0 ::= ( \"HUM\" | \"LOC\" | \"say \\\"hi\\\"\" )\n\
             f1 ::= ( \"0\" | [1-9] [0-9]{0,18} )\n\
             f2 ::= ( \"True\" | \"False\" )\n\
             f3 ::= ( [^\\n]* | \"None\" )\n"
        );
    }

    #[test]
    fn signed_numbers_allow_a_minus() {
        let schema =
            json!({"properties": {"x": {"type": "number"}, "y": {"type": ["integer", "null"]}}});
        let g =
            completion_grammar(&fields(&[("x", "X:"), ("y", "Y:")]), &schema, &no_json).unwrap();
        assert!(g.contains("f0 ::= \"-\"? [0-9]{1,19} ( \".\""), "{g}");
        assert!(
            g.contains("f1 ::= ( \"-\"? ( \"0\" | [1-9] [0-9]{0,18} ) | \"None\" )"),
            "{g}"
        );
        let byte = json!({"properties": {"b": {"type": "integer", "minimum": 0, "maximum": 255}}});
        let g = completion_grammar(&fields(&[("b", "B:")]), &byte, &no_json).unwrap();
        assert!(g.contains("f0 ::= ( \"0\" | [1-9] [0-9]{0,2} )"), "{g}");
    }

    #[test]
    fn lists_embed_the_json_grammar_with_renamed_rules_and_one_space() {
        let stub = |schema: &Value| -> Result<String, String> {
            assert_eq!(schema["type"], "array");
            Ok(
                "root ::= \"[\" space (string (\",\" space string)*)? \"]\" space\n\
                space ::= | \" \" | \"\\n\"{1,2} [ \\t]{0,20}\n\
                string ::= \"\\\"\" char* \"\\\"\" space\n\
                char ::= [^\"\\\\] | [\\\\] [\"nt]\n"
                    .to_string(),
            )
        };
        let schema =
            json!({"properties": {"tags": {"type": "array", "items": {"type": "string"}}}});
        let g = completion_grammar(&fields(&[("tags", "Tags:")]), &schema, &stub).unwrap();
        assert!(g.starts_with("root ::= \" \" f0\n"), "{g}");
        assert!(
            g.contains(
                "f0-root ::= \"[\" f0-space (f0-string (\",\" f0-space f0-string)*)? \"]\" f0-space"
            ),
            "{g}"
        );
        assert!(g.contains("f0-space ::= \" \"?"), "{g}");
        assert!(
            !g.contains("\\n\"{1,2}"),
            "whitespace with newlines must go: {g}"
        );
        // Literals and classes keep their text even where it spells a rule name.
        assert!(
            g.contains("f0-string ::= \"\\\"\" f0-char* \"\\\"\" f0-space"),
            "{g}"
        );
        assert!(g.contains("f0-char ::= [^\"\\\\] | [\\\\] [\"nt]"), "{g}");
        assert!(g.contains("f0 ::= f0-root"), "{g}");
    }

    #[test]
    fn shared_definitions_are_written_into_each_field() {
        // Answer objects keep their named types under one `$defs` (as DSPy sends them).
        let schema = json!({
            "type": "object",
            "properties": {
                "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
                "first": {"anyOf": [{"$ref": "#/$defs/Stop"}, {"type": "null"}]},
            },
            "$defs": {"Stop": {"type": "object", "properties": {"city": {"type": "string"}}}},
        });
        let seen = std::cell::RefCell::new(Vec::new());
        let stub = |s: &Value| {
            seen.borrow_mut().push(s.clone());
            Ok("root ::= \"x\"".to_string())
        };
        completion_grammar(
            &fields(&[("stops", "Stops:"), ("first", "First:")]),
            &schema,
            &stub,
        )
        .unwrap();
        let seen = seen.into_inner();
        assert_eq!(seen.len(), 2, "{seen:?}");
        for s in &seen {
            assert!(!s.to_string().contains("$ref"), "{s}");
            assert!(s.to_string().contains("city"), "{s}");
        }
    }

    #[test]
    fn json_answers_use_the_schema_grammar_and_markers_none() {
        let schema = ResponseSchema {
            name: "x".into(),
            schema: json!({"type": "object"}),
            strict: true,
        };
        let stub = |_: &Value| Ok("root ::= \"{}\"".to_string());
        assert_eq!(
            answer_grammar(&AnswerFormat::Json, &schema, &stub).unwrap(),
            Some("root ::= \"{}\"".to_string())
        );
        assert_eq!(
            answer_grammar(&AnswerFormat::Markers, &schema, &stub).unwrap(),
            None
        );
        let err = answer_grammar(&AnswerFormat::Completion { fields: vec![] }, &schema, &stub);
        assert!(err.is_err());
    }

    #[test]
    fn fields_missing_from_the_schema_are_one_line_text() {
        let g = completion_grammar(&fields(&[("a", "A:")]), &json!({}), &no_json).unwrap();
        assert!(g.contains("f0 ::= [^\\n]*"), "{g}");
    }
}
