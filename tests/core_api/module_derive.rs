//! `#[derive(Module)]`: every predictor of a program by a stable dotted name, both ways.

use dspy::prelude::*;
use serde_json::json;

/// Answer briefly.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[derive(Module)]
struct Inner {
    classify: Predict<QA>,
    answer: ChainOfThought<QA>,
}

#[derive(Module)]
struct Outer {
    first: Inner,
    steps: Vec<Predict<QA>>,
    maybe: Option<ChainOfThought<QA>>,
    #[dspy(skip)]
    teacher: Predict<QA>,
    #[dspy(skip)]
    retries: usize,
    last: Box<Predict<QA>>,
}

#[derive(Module)]
struct Pair(Predict<QA>, #[dspy(skip)] &'static str, Inner);

#[derive(Module)]
struct Wrap<M> {
    inner: M,
}

fn inner() -> Inner {
    Inner {
        classify: Predict::new(),
        answer: ChainOfThought::new(),
    }
}

fn outer(maybe: bool) -> Outer {
    Outer {
        first: inner(),
        steps: vec![Predict::new(), Predict::new()],
        maybe: maybe.then(ChainOfThought::new),
        teacher: Predict::new(),
        retries: 3,
        last: Box::new(Predict::new()),
    }
}

#[test]
fn nested_programs_are_named_by_their_path() {
    let program = outer(true);
    assert_eq!(
        program.predictor_names(),
        [
            "first.classify",
            "first.answer.predict",
            "steps.0",
            "steps.1",
            "maybe.predict",
            "last",
        ]
    );
    assert_eq!(program.retries, 3);
}

#[test]
fn skipped_fields_and_absent_options_have_no_predictors() {
    let program = outer(false);
    let names = program.predictor_names();
    assert!(!names.iter().any(|n| n.starts_with("maybe")), "{names:?}");
    assert_eq!(names.len(), 5);
    let teacher = DynPredictor::id(&program.teacher);
    assert_eq!(program.predictor_name(teacher), None, "skipped");
}

#[test]
fn tuple_struct_fields_are_numbered() {
    let pair = Pair(Predict::new(), "not a module", inner());
    assert_eq!(
        pair.predictor_names(),
        ["0", "2.classify", "2.answer.predict"]
    );
    assert_eq!(pair.1, "not a module");
}

#[test]
fn generic_fields_take_their_type_s_names() {
    let wrapped = Wrap { inner: inner() };
    assert_eq!(
        wrapped.predictor_names(),
        ["inner.classify", "inner.answer.predict"]
    );
    let bare = Wrap {
        inner: Predict::<QA>::new(),
    };
    assert_eq!(bare.predictor_names(), ["inner"]);
}

#[test]
fn names_map_to_the_fields_predictors() {
    let program = outer(true);
    let expect = [
        ("first.classify", DynPredictor::id(&program.first.classify)),
        (
            "first.answer.predict",
            DynPredictor::id(&program.first.answer.predict),
        ),
        ("steps.1", DynPredictor::id(&program.steps[1])),
        ("last", DynPredictor::id(&*program.last)),
    ];
    for (name, id) in expect {
        assert_eq!(program.predictor_name(id).as_deref(), Some(name));
        assert_eq!(program.predictor(name).map(|p| p.id()), Some(id));
    }
}

#[test]
fn mutation_through_predictors_mut_is_visible() {
    let mut program = outer(true);
    let immutable: Vec<_> = program
        .predictors()
        .into_iter()
        .map(|(name, p)| (name, p.id()))
        .collect();
    let mutable: Vec<_> = program
        .predictors_mut()
        .into_iter()
        .map(|(name, p)| (name, p.id()))
        .collect();
    assert_eq!(
        immutable, mutable,
        "same names, same order, same predictors"
    );

    for (name, predictor) in program.predictors_mut() {
        predictor.set_instructions(Some(format!("Instructions for {name}.")));
    }
    let demo = json!({"question": "2+2?", "reasoning": "Add.", "answer": "4"});
    program
        .predictor_mut("first.answer.predict")
        .unwrap()
        .set_demos_json(vec![demo.as_object().unwrap().clone()])
        .unwrap();

    assert_eq!(
        program.first.answer.predict.instructions.as_deref(),
        Some("Instructions for first.answer.predict.")
    );
    assert_eq!(
        program.first.answer.predict.demos[0]
            .example()
            .unwrap()
            .reasoning,
        "Add."
    );
    assert_eq!(
        program.first.answer.predict.demos[0]
            .example()
            .unwrap()
            .example
            .answer,
        "4"
    );
    assert_eq!(
        program.steps[1].effective_instructions(),
        "Instructions for steps.1."
    );
    assert_eq!(
        program.last.instructions.as_deref(),
        Some("Instructions for last.")
    );
    assert_eq!(
        program.teacher.instructions, None,
        "skipped fields untouched"
    );
}
