//! `#[derive(Signature)]` as a user sees it: field specs, instructions, serde, conversions.
// Generated code must not warn in a user's crate.
#![deny(warnings)]

use dspy::FieldSpec;
use dspy::prelude::*;
use proptest::prelude::*;
use serde_json::json;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Number,
    #[serde(rename = "human being")]
    Human,
    Location,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Citation {
    title: String,
    year: u32,
}

/// Extract every kind of value.
#[derive(Signature, Clone, Debug, PartialEq)]
struct AllTypes {
    #[input]
    text: String,
    #[input]
    count: i32,
    #[input]
    big: u64,
    #[output]
    score: f64,
    #[output]
    flag: bool,
    #[output]
    maybe: Option<i64>,
    #[output]
    tags: Vec<String>,
    #[output]
    counts: HashMap<String, i32>,
    #[output]
    kind: Kind,
    #[output]
    citation: Citation,
}

fn hints(fields: &[FieldSpec]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|f| (f.name.as_str(), f.type_hint.as_str()))
        .collect()
}

#[test]
fn every_field_type_gets_its_spec() {
    let info = AllTypes::info();
    assert_eq!(info.name, "AllTypes");
    assert_eq!(
        hints(&info.inputs),
        [("text", "str"), ("count", "int"), ("big", "int")]
    );
    assert_eq!(
        hints(&info.outputs[..6]),
        [
            ("score", "float"),
            ("flag", "bool"),
            ("maybe", "Union[int, NoneType]"),
            ("tags", "list[str]"),
            ("counts", "dict[str, int]"),
            ("kind", "Literal['number', 'human being', 'location']"),
        ]
    );
    assert_eq!(info.outputs[6].name, "citation"); // its hint: see the nested-struct test
    let kind = info.output_field("kind").unwrap();
    assert_eq!(
        kind.choices(),
        Some(vec!["number", "human being", "location"])
    );
    assert!(!kind.is_text());
    assert!(info.inputs[0].is_text());
    assert_eq!(info.inputs[0].schema, json!({"type": "string"}));
    assert_eq!(info.inputs[1].schema["type"], "integer");
    // Field specs equal what `FieldSpec::of` gives for the same type and name.
    assert_eq!(
        info.outputs[4],
        FieldSpec::of::<HashMap<String, i32>>("counts", "")
    );
    // Built once.
    assert!(std::ptr::eq(AllTypes::info(), AllTypes::info()));
}

#[test]
fn nested_struct_field_is_named_by_its_type() {
    let citation = AllTypes::info().output_field("citation").unwrap();
    assert_eq!(citation.schema["type"], "object");
    assert_eq!(citation.schema["properties"]["title"]["type"], "string");
    assert_eq!(citation.schema["properties"]["year"]["type"], "integer");
    // DSPy names a pydantic model field by its class in prompts.
    assert_eq!(citation.type_hint, "Citation");
}

#[test]
fn all_types_round_trip_as_one_flat_object() {
    let ex = AllTypes {
        text: "t".into(),
        count: -3,
        big: u64::MAX,
        score: 0.5,
        flag: true,
        maybe: None,
        tags: vec!["a".into()],
        counts: HashMap::from([("x".to_string(), 1)]),
        kind: Kind::Human,
        citation: Citation {
            title: "On Motion".into(),
            year: 1590,
        },
    };
    let value = serde_json::to_value(&ex).unwrap();
    assert_eq!(
        value,
        json!({
            "text": "t", "count": -3, "big": u64::MAX, "score": 0.5, "flag": true, "maybe": null,
            "tags": ["a"], "counts": {"x": 1}, "kind": "human being",
            "citation": {"title": "On Motion", "year": 1590}
        })
    );
    let back: AllTypes = serde_json::from_value(value).unwrap();
    assert_eq!(back, ex);
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug, PartialEq)]
struct ClassifyQuestion {
    #[input(desc = "a question in English")]
    question: String,
    #[output(
        desc = "the kind of answer the question expects",
        prefix = "Answer type:"
    )]
    label: Kind,
}

#[test]
fn desc_prefix_and_instructions() {
    let info = ClassifyQuestion::info();
    assert_eq!(
        info.instructions,
        "Classify the question by the kind of answer it expects."
    );
    assert!(info.has_custom_instructions);
    assert_eq!(info.inputs[0].desc, "a question in English");
    assert_eq!(info.inputs[0].prefix, "Question:");
    assert_eq!(
        info.outputs[0].desc,
        "the kind of answer the question expects"
    );
    assert_eq!(info.outputs[0].prefix, "Answer type:");
    // A field without `desc` has an empty one.
    assert_eq!(AllTypes::info().inputs[0].desc, "");
}

#[test]
fn json_lines_with_extra_keys_load() {
    // A TREC row carries a column the signature does not have.
    let row = r#"{"question": "Who was Galileo ?", "label": "human being", "fine_label": "ind"}"#;
    let ex: ClassifyQuestion = serde_json::from_str(row).unwrap();
    assert_eq!(
        ex,
        ClassifyQuestion {
            question: "Who was Galileo ?".into(),
            label: Kind::Human
        }
    );
    assert_eq!(
        serde_json::to_string(&ex).unwrap(),
        r#"{"question":"Who was Galileo ?","label":"human being"}"#
    );
    let missing = serde_json::from_str::<ClassifyQuestion>(r#"{"question": "q"}"#).unwrap_err();
    assert!(
        missing.to_string().contains("missing field `label`"),
        "{missing}"
    );
}

#[test]
fn conversions() {
    let ex = ClassifyQuestion {
        question: "How far is Mars ?".into(),
        label: Kind::Number,
    };
    let input: ClassifyQuestionInput = ex.input();
    let output: ClassifyQuestionOutput = ex.output();
    assert_eq!(input.question, "How far is Mars ?");
    assert_eq!(output.label, Kind::Number);
    assert_eq!(ClassifyQuestion::from_parts(input, output), ex);
    let (input, output) = ex.clone().into_parts();
    assert_eq!(
        (input.question.as_str(), &output.label),
        ("How far is Mars ?", &Kind::Number)
    );

    // Through the traits, as modules and optimizers use them.
    fn rebuild<S: dspy::Signature>(s: S) -> S {
        let (i, o) = s.into_parts();
        S::from_parts(i, o)
    }
    fn inputs<E: Example>(set: &[E]) -> Vec<E::Input> {
        set.iter().map(Example::input).collect()
    }
    assert_eq!(rebuild(ex.clone()), ex);
    let got = inputs(std::slice::from_ref(&ex));
    assert_eq!(got[0].question, "How far is Mars ?");
}

#[test]
fn input_and_output_types_serialize_their_fields_only() {
    let ex = ClassifyQuestion {
        question: "q".into(),
        label: Kind::Location,
    };
    assert_eq!(
        serde_json::to_value(ex.input()).unwrap(),
        json!({"question": "q"})
    );
    assert_eq!(
        serde_json::to_value(ex.output()).unwrap(),
        json!({"label": "location"})
    );
    let out: ClassifyQuestionOutput = serde_json::from_value(json!({"label": "number"})).unwrap();
    assert_eq!(out.label, Kind::Number);
    // The output type's schema (what structured-output mode sends) describes each field.
    let schema = dspy::field_schema::<ClassifyQuestionOutput>();
    assert_eq!(schema["required"], json!(["label"]));
    assert_eq!(
        schema["properties"]["label"]["description"],
        "the kind of answer the question expects"
    );
    assert_eq!(
        schema["properties"]["label"]["enum"],
        json!(["number", "human being", "location"])
    );
}

#[derive(Signature, Clone, Debug)]
struct NoDocs {
    #[input]
    question: String,
    #[input]
    context: Vec<String>,
    #[output]
    answer: String,
}

#[test]
fn default_instructions_without_doc_comment() {
    let info = NoDocs::info();
    assert_eq!(
        info.instructions,
        "Given the fields `question`, `context`, produce the fields `answer`."
    );
    assert!(!info.has_custom_instructions);
}

/// Answer the question.
///
/// Rules:
///   - be brief
///   - cite the context
#[derive(Signature, Clone, Debug)]
struct MultiLine {
    /// The question, as asked.
    #[input]
    question: String,
    #[output(desc = "one sentence")]
    answer: String,
}

#[test]
fn multi_line_doc_comment_is_the_instructions() {
    assert_eq!(
        MultiLine::info().instructions,
        "Answer the question.\n\nRules:\n  - be brief\n  - cite the context"
    );
    // Field doc comments carry over to the generated types.
    let schema = dspy::field_schema::<MultiLineInput>();
    assert_eq!(
        schema["properties"]["question"]["description"],
        "The question, as asked."
    );
}

#[doc = concat!("Summarize the ", "document.")]
#[derive(Signature, Clone, Debug)]
struct MacroDoc {
    #[input]
    document: String,
    #[output]
    summary: String,
}

#[test]
fn doc_from_a_macro_is_the_instructions() {
    assert_eq!(MacroDoc::info().instructions, "Summarize the document.");
}

/// Answer in the given style.
#[derive(Signature, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Renamed {
    #[input]
    user_question: String,
    #[input]
    r#type: String,
    #[output]
    #[serde(rename = "final_answer", alias = "answer")]
    answer_text: String,
    #[output]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confidence_score: Option<f64>,
}

#[test]
fn serde_renames_set_the_wire_names() {
    let info = Renamed::info();
    let names = |fields: &[FieldSpec]| fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&info.inputs), ["userQuestion", "type"]);
    assert_eq!(names(&info.outputs), ["final_answer", "confidenceScore"]);
    assert_eq!(info.inputs[0].prefix, "UserQuestion:");

    let ex = Renamed {
        user_question: "why?".into(),
        r#type: "terse".into(),
        answer_text: "because".into(),
        confidence_score: None,
    };
    let value = serde_json::to_value(&ex).unwrap();
    assert_eq!(
        value,
        json!({"userQuestion": "why?", "type": "terse", "final_answer": "because"})
    );
    assert_eq!(serde_json::from_value::<Renamed>(value).unwrap(), ex);
    // Field attributes keep their serde meaning: `alias`, `default`.
    let aliased: Renamed = serde_json::from_value(
        json!({"userQuestion": "q", "type": "t", "answer": "a", "confidenceScore": 0.9}),
    )
    .unwrap();
    assert_eq!(
        (aliased.answer_text.as_str(), aliased.confidence_score),
        ("a", Some(0.9))
    );
    assert_eq!(
        serde_json::to_value(ex.input()).unwrap(),
        json!({"userQuestion": "why?", "type": "terse"})
    );
    assert_eq!(
        serde_json::to_value(ex.output()).unwrap(),
        json!({"final_answer": "because"})
    );
}

#[derive(Signature, Clone, Debug, PartialEq)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
struct Screaming {
    #[input]
    long_input_name: String,
    #[output]
    out: bool,
}

#[test]
fn every_rename_rule_reaches_the_spec() {
    assert_eq!(Screaming::info().inputs[0].name, "LONG-INPUT-NAME");
    let ex = Screaming {
        long_input_name: "x".into(),
        out: true,
    };
    assert_eq!(
        serde_json::to_value(&ex).unwrap(),
        json!({"LONG-INPUT-NAME": "x", "OUT": true})
    );
}

/// Fields named like the generated methods and parameters must not confuse the generated code.
#[derive(Signature, Clone, Debug, PartialEq)]
struct Shadowing {
    #[input]
    output: String,
    #[output]
    input: String,
}

#[test]
fn field_names_do_not_shadow_generated_code() {
    let ex = Shadowing {
        output: "o".into(),
        input: "i".into(),
    };
    assert_eq!(ex.input().output, "o");
    assert_eq!(ex.output().input, "i");
    let (i, o) = ex.clone().into_parts();
    assert_eq!(Shadowing::from_parts(i, o), ex);
}

mod tasks {
    use dspy::prelude::*;

    /// Summarize the document in one sentence.
    #[derive(Signature, Clone, Debug)]
    // `pub` on purpose, though nothing outside the test binary can reach it: the test below pins
    // that a `pub` signature's generated types and fields are `pub`.
    #[allow(unreachable_pub)]
    pub struct Summarize {
        #[input]
        document: String,
        #[output]
        summary: String,
    }
}

#[test]
fn public_signature_types_are_usable_from_outside() {
    // The struct is `pub`, so the generated types and their fields are too, even though the
    // signature's own fields are private.
    let input = tasks::SummarizeInput {
        document: "Long text.".into(),
    };
    let output = tasks::SummarizeOutput {
        summary: "Short.".into(),
    };
    let ex = tasks::Summarize::from_parts(input, output);
    assert_eq!(ex.input().document, "Long text.");
    assert_eq!(ex.output().summary, "Short.");
    assert_eq!(
        <tasks::Summarize as dspy::Signature>::info().instructions,
        "Summarize the document in one sentence."
    );
}

proptest! {
    #[test]
    fn any_example_round_trips(text in ".*", count in any::<i32>(), tags in prop::collection::vec(".*", 0..4), maybe in any::<Option<i64>>()) {
        let ex = AllTypes {
            text, count, big: 7, score: 1.25, flag: false, maybe, tags,
            counts: HashMap::new(), kind: Kind::Number, citation: Citation { title: String::new(), year: 0 },
        };
        let json = serde_json::to_string(&ex).unwrap();
        prop_assert_eq!(&serde_json::from_str::<AllTypes>(&json).unwrap(), &ex);
        let (i, o) = ex.clone().into_parts();
        prop_assert_eq!(&AllTypes::from_parts(i, o), &ex);
    }
}
