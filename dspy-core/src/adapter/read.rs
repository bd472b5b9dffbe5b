//! Reading an answer whichever way the model laid it out, so no second LM call is needed when
//! it ignored the layout it was asked for: `[[ ## field ## ]]` sections, else one JSON object
//! holding the output fields, else (for a signature with one typed output) the bare value.
//!
//! Both chat adapters read answers this way; they differ in the layout they ask for, which is
//! recorded as a [`Fix`] when the answer used the other one.

use super::markers::{self, Section, output_index, strip_cut_marker};
use super::parse::{
    CUT_OFF_VALUE, Fix, FoundObject, coerce_field, find_object_where, parse_section,
    tells_from_prose,
};
use super::{AnswerFormat, Parsed};
use crate::signature::{FieldSpec, SignatureInfo};
use crate::util::snippet;
use crate::{Error, Result};
use serde_json::Value;

/// The layout an adapter asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asked {
    /// `[[ ## field ## ]]` sections.
    Markers,
    /// One JSON object.
    Json,
}

/// Reads the output fields from `completion`, in whichever layout it is.
pub(super) fn read_answer(sig: &SignatureInfo, completion: &str, asked: Asked) -> Result<Parsed> {
    let (body, cut) = strip_cut_marker(completion);
    let mut parsed = Parsed::default();
    if let Some(fragment) = cut {
        parsed.fixes.push(whole(format!(
            "removed the marker cut off at the end ({fragment:?})"
        )));
    }
    let sections = markers::sections(body);
    if sections.iter().any(|s| output_index(sig, s.name).is_some()) {
        if asked == Asked::Json {
            parsed.fixes.push(whole(
                "read `[[ ## field ## ]]` sections instead of a JSON object",
            ));
        }
        read_sections(sig, completion, &sections, cut.is_none(), &mut parsed)?;
        return fill_missing(sig, &mut parsed, completion, || {
            format!(
                "look for `[[ ## field ## ]]` sections: found {}",
                names(&sections)
            )
        })
        .map(|()| parsed);
    }
    let holds_outputs =
        |map: &serde_json::Map<String, Value>| map.keys().any(|k| output_index(sig, k).is_some());
    if let Some(found) = find_object_where(body, holds_outputs) {
        if asked == Asked::Markers {
            parsed.fixes.push(whole(
                "read a JSON object instead of `[[ ## field ## ]]` sections",
            ));
        }
        return read_object(sig, completion, found, parsed);
    }
    let tried = nothing_found(&sections, body);
    if let Some(field) = single_typed_output(sig)
        && let Some(first) = sections.first().filter(|s| !s.text.is_empty())
    {
        parsed.fixes.push(Fix {
            field: field.name.clone(),
            what: "read the whole answer as the value (it had no marker or JSON object)".into(),
        });
        let ends = sections.len() == 1 && cut.is_none();
        let result = read_bare(field, &first.text, ends).map_err(|mut reasons| {
            reasons.splice(0..0, tried.clone());
            reasons
        });
        parsed.push_field(field, completion, result)?;
        return Ok(parsed);
    }
    fill_missing(sig, &mut parsed, completion, || tried.join("; ")).map(|()| parsed)
}

/// A fix to the answer as a whole.
fn whole(what: impl Into<String>) -> Fix {
    Fix {
        field: "*".into(),
        what: what.into(),
    }
}

/// Each output field from the first section whose marker names it.
fn read_sections(
    sig: &SignatureInfo,
    completion: &str,
    sections: &[Section<'_>],
    may_end_answer: bool,
    parsed: &mut Parsed,
) -> Result<()> {
    for (i, field) in sig.outputs.iter().enumerate() {
        let Some((at, section)) = sections
            .iter()
            .enumerate()
            .find(|(_, s)| output_index(sig, s.name) == Some(i))
        else {
            continue;
        };
        if section.loose || section.name != field.name {
            parsed.fixes.push(Fix {
                field: field.name.clone(),
                what: format!(
                    "read the marker {:?} as `[[ ## {} ## ]]`",
                    section.line, field.name
                ),
            });
        }
        let ends_answer = may_end_answer && at + 1 == sections.len();
        let result = parse_section(field, &section.text, ends_answer);
        parsed.push_field(field, completion, result)?;
    }
    Ok(())
}

/// Each output field from the JSON object's key that names it (exactly, else loosely).
fn read_object(
    sig: &SignatureInfo,
    completion: &str,
    found: FoundObject,
    mut parsed: Parsed,
) -> Result<Parsed> {
    let FoundObject {
        mut map,
        repairs,
        cut_off,
    } = found;
    if cut_off {
        // The field being written when the answer stopped.
        let field = map
            .keys()
            .rev()
            .find_map(|k| output_index(sig, k))
            .map(|i| sig.outputs[i].name.clone())
            .unwrap_or_else(|| "*".into());
        return Err(Error::Parse {
            field,
            raw: completion.to_string(),
            tried: vec![CUT_OFF_VALUE.to_string()],
        });
    }
    parsed.fixes.extend(repairs.into_iter().map(whole));
    for (i, field) in sig.outputs.iter().enumerate() {
        let key = if map.contains_key(&field.name) {
            field.name.clone()
        } else {
            match map.keys().find(|k| output_index(sig, k) == Some(i)) {
                Some(k) => k.clone(),
                None => continue,
            }
        };
        let Some(value) = map.shift_remove(&key) else {
            continue;
        };
        if key != field.name {
            parsed.fixes.push(Fix {
                field: field.name.clone(),
                what: format!("read the key `{key}` as `{}`", field.name),
            });
        }
        parsed.push_field(field, completion, coerce_field(field, value))?;
    }
    fill_missing(sig, &mut parsed, completion, || {
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        format!(
            "read the JSON object; its other keys: {}",
            if keys.is_empty() {
                "none".into()
            } else {
                keys.join(", ")
            }
        )
    })?;
    Ok(parsed)
}

/// The one output field, when there is one whose value can be told from a bare answer
/// (`True`, `42`, `["a", "b"]`); plain text cannot be told from chatter.
fn single_typed_output(sig: &SignatureInfo) -> Option<&FieldSpec> {
    match sig.outputs.as_slice() {
        [field] if tells_from_prose(field) => Some(field),
        _ => None,
    }
}

/// A bare answer's value, read as `field`'s. A list must look like one: a whole sentence is not
/// a list of one item (inside a marker, the model said the text was the list; here it did not).
fn read_bare(field: &FieldSpec, text: &str, ends_answer: bool) -> FieldResult {
    let (value, fixes) = parse_section(field, text, ends_answer)?;
    let wrapped = fixes
        .iter()
        .any(|f| f.what == "wrapped the single value in a list");
    if wrapped && text.split_whitespace().nth(1).is_some() {
        return Err(vec![format!(
            "read as a list: \"{}\" is a sentence, not a list",
            snippet(text, 60)
        )]);
    }
    Ok((value, fixes))
}

type FieldResult = std::result::Result<(Value, Vec<Fix>), Vec<String>>;

/// What was looked for in an answer with neither output markers nor a JSON object of them.
fn nothing_found(sections: &[Section<'_>], body: &str) -> Vec<String> {
    let json = match find_object_where(body, |_| true) {
        Some(found) => {
            let keys: Vec<&str> = found.map.keys().map(String::as_str).collect();
            format!(
                "found a JSON object, but not of the output fields (its keys: {})",
                if keys.is_empty() {
                    "none".into()
                } else {
                    keys.join(", ")
                }
            )
        }
        None => "found no JSON object".into(),
    };
    vec![
        format!(
            "look for `[[ ## field ## ]]` sections: found {}",
            names(sections)
        ),
        json,
    ]
}

/// The marker names found, for messages.
fn names(sections: &[Section<'_>]) -> String {
    let found: Vec<&str> = sections
        .iter()
        .map(|s| s.name)
        .filter(|n| !n.is_empty())
        .collect();
    if found.is_empty() {
        "none".to_string()
    } else {
        found.join(", ")
    }
}

/// Output fields the answer left out: null for nullable fields (recorded), else an error.
pub(super) fn fill_missing(
    sig: &SignatureInfo,
    parsed: &mut Parsed,
    completion: &str,
    what_was_tried: impl FnOnce() -> String,
) -> Result<()> {
    let mut missing = Vec::new();
    for field in &sig.outputs {
        if parsed.values.contains_key(&field.name) {
            continue;
        }
        if is_nullable(field) {
            parsed.values.insert(field.name.clone(), Value::Null);
            parsed.fixes.push(Fix {
                field: field.name.clone(),
                what: "missing; set to null".into(),
            });
        } else {
            missing.push(field.name.as_str());
        }
    }
    match missing.first() {
        None => Ok(()),
        Some(first) => Err(Error::Parse {
            field: (*first).to_string(),
            raw: completion.to_string(),
            tried: vec![
                what_was_tried(),
                format!("missing output fields: {}", missing.join(", ")),
            ],
        }),
    }
}

fn is_nullable(field: &FieldSpec) -> bool {
    field
        .schema
        .get("anyOf")
        .and_then(Value::as_array)
        .is_some_and(|variants| {
            variants
                .iter()
                .any(|v| v.get("type").and_then(Value::as_str) == Some("null"))
        })
}

/// The output field an answer stopped in when it visibly did not reach its end, for an answer
/// the LM cut off at `max_tokens` (`finish_reason = length`); `None` when it did end.
///
/// `[[ ## field ## ]]` answers end with `[[ ## completed ## ]]` (or stop inside writing it);
/// JSON answers with their object's closing brace (an object left open is already a parse
/// error). A bare value shows no end. Completion-mode answers are left to the parser.
pub(crate) fn unfinished_field(
    sig: &SignatureInfo,
    format: &AnswerFormat,
    completion: &str,
) -> Option<String> {
    if matches!(format, AnswerFormat::Completion { .. }) {
        return None;
    }
    let last_output = || {
        sig.outputs
            .last()
            .map(|f| f.name.clone())
            .unwrap_or_default()
    };
    let (body, cut) = strip_cut_marker(completion);
    let sections = markers::sections(body);
    let written = sections
        .iter()
        .rev()
        .find_map(|s| output_index(sig, s.name));
    let Some(last) = written else {
        return match find_object_where(body, |_| true) {
            Some(found) if !found.cut_off => None,
            _ => Some(last_output()),
        };
    };
    let ended = match cut {
        Some(fragment) => markers::cut_marker_is_completed(fragment),
        None => sections.iter().any(|s| markers::is_completed(s.name)),
    };
    (!ended).then(|| sig.outputs[last].name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cot() -> SignatureInfo {
        SignatureInfo::new("S")
            .input::<String>("question", "")
            .output::<String>("reasoning", "")
            .output::<u32>("answer", "")
    }

    #[test]
    fn the_field_an_unfinished_answer_stopped_in() {
        let sig = cot();
        let unfinished = |text: &str| unfinished_field(&sig, &AnswerFormat::Markers, text);
        let done = "[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]";
        assert_eq!(unfinished(done), None);
        assert_eq!(
            unfinished("[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\n4\n\n[[ ## comp"),
            None
        );
        assert_eq!(
            unfinished("[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\n4"),
            Some("answer".into())
        );
        assert_eq!(
            unfinished("[[ ## reasoning ## ]]\nfirst we"),
            Some("reasoning".into())
        );
        assert_eq!(unfinished("{\"reasoning\": \"r\", \"answer\": 4}"), None);
        assert_eq!(
            unfinished("4"),
            Some("answer".into()),
            "a bare value shows no end"
        );
        let completion = AnswerFormat::Completion { fields: vec![] };
        assert_eq!(unfinished_field(&sig, &completion, "4"), None);
    }

    #[test]
    fn fixes_say_how_the_answer_was_read() {
        let sig = cot();
        let parsed = read_answer(
            &sig,
            "[[## Reasoning ##]]\nr\n\n[[ ## answer ## ]]\n4\n\n[[ ## comp",
            Asked::Json,
        )
        .unwrap();
        assert_eq!(
            Value::Object(parsed.values),
            json!({"reasoning": "r", "answer": 4})
        );
        let whats: Vec<&str> = parsed.fixes.iter().map(|f| f.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "removed the marker cut off at the end (\"[[ ## comp\")",
                "read `[[ ## field ## ]]` sections instead of a JSON object",
                "read the marker \"[[## Reasoning ##]]\" as `[[ ## reasoning ## ]]`",
            ]
        );
        let parsed = read_answer(
            &sig,
            "{\"Reasoning\": \"r\", \"answer\": 4}",
            Asked::Markers,
        )
        .unwrap();
        let whats: Vec<&str> = parsed.fixes.iter().map(|f| f.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "read a JSON object instead of `[[ ## field ## ]]` sections",
                "read the key `Reasoning` as `reasoning`",
            ]
        );
    }

    #[test]
    fn bare_values_only_for_one_output_that_prose_cannot_be() {
        let one = |schema: Value| {
            SignatureInfo::new("S")
                .input::<String>("q", "")
                .with_output(FieldSpec::from_schema("x", "", schema))
        };
        let read = |schema: Value, text: &str| {
            read_answer(&one(schema), text, Asked::Markers).map(|p| p.values["x"].clone())
        };
        assert_eq!(
            read(json!({"type": "boolean"}), "Yes.").unwrap(),
            json!(true)
        );
        assert_eq!(
            read(
                json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}),
                "7"
            )
            .unwrap(),
            json!(7)
        );
        let strings = json!({"type": "array", "items": {"type": "string"}});
        assert_eq!(
            read(strings.clone(), "rust, cargo").unwrap(),
            json!(["rust", "cargo"])
        );
        assert_eq!(read(strings.clone(), "rust").unwrap(), json!(["rust"]));
        assert!(read(strings, "The tags are rust and cargo.").is_err());
        assert!(read(json!({"type": "string"}), "Paris").is_err());
        assert!(read(json!({}), "Paris").is_err());
        let err = read(json!({"type": "integer"}), "no idea").unwrap_err();
        assert!(err.to_string().contains("found no JSON object"), "{err}");
    }
}
