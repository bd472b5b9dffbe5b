//! Saving and loading what a program learned: round trips reproduce the prompts, mismatches are
//! errors naming predictor and field, and no secret is ever written.

use dspy::ProgramState;
use dspy::lm::OpenAiLm;
use dspy::module::{STATE_FORMAT_VERSION, WEIGHTS_FORMAT_VERSION};
use dspy::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Human,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input]
    question: String,
    #[output]
    label: Kind,
}

/// Answer briefly.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[derive(Module)]
struct Pipeline {
    classify: Predict<Classify>,
    answer: ChainOfThought<QA>,
}

fn fresh() -> Pipeline {
    Pipeline {
        classify: Predict::new(),
        answer: ChainOfThought::new(),
    }
}

/// What an optimizer would have produced: instructions on one predictor, demos on both.
fn tuned() -> Pipeline {
    Pipeline {
        classify: Predict::new()
            .with_instructions("Say whether the answer is a person or a number.")
            .with_demos([Classify {
                question: "How many legs does a spider have?".into(),
                label: Kind::Number,
            }]),
        answer: ChainOfThought::new().with_demos([Reasoned {
            example: QA {
                question: "Who wrote Hamlet?".into(),
                answer: "Shakespeare".into(),
            },
            reasoning: "Hamlet is a play by Shakespeare.".into(),
        }]),
    }
}

/// A fresh directory for one test; removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("dspy-save-load-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every predictor's prompt for one question, by name.
fn prompts(program: &impl Parameters) -> Vec<(String, dspy::adapter::Formatted)> {
    let input = json!({"question": "Who was Galileo?"});
    program
        .predictors()
        .into_iter()
        .map(|(name, p)| {
            let prompt = p.render_json(input.as_object().unwrap()).unwrap();
            (name, prompt)
        })
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

#[test]
fn loaded_program_renders_the_saved_prompts() {
    let dir = TempDir::new("round-trip");
    let path = dir.file("pipeline.json");
    let saved = tuned();
    saved.save(&path).unwrap();
    assert_eq!(dir.entries(), ["pipeline.json"], "no temporary file left");

    let mut loaded = fresh();
    loaded.load(&path).unwrap();

    let (saved_prompts, loaded_prompts, plain) =
        (prompts(&saved), prompts(&loaded), prompts(&fresh()));
    assert_eq!(saved_prompts.len(), 2);
    assert_eq!(loaded_prompts, saved_prompts);
    for ((name, tuned_prompt), (_, plain_prompt)) in saved_prompts.iter().zip(&plain) {
        assert_ne!(tuned_prompt, plain_prompt, "`{name}` was tuned");
    }
    assert_eq!(loaded.state().unwrap(), saved.state().unwrap());
    assert_eq!(loaded.answer.predict.instructions, None, "not overridden");
    assert_eq!(
        loaded.answer.predict.demos[0].example().unwrap().reasoning,
        "Hamlet is a play by Shakespeare."
    );
}

#[test]
fn file_is_versioned_json_by_predictor_name() {
    let dir = TempDir::new("layout");
    let path = dir.file("pipeline.json");
    tuned().save(&path).unwrap();
    let file = read_json(&path);
    assert_eq!(file["format_version"], STATE_FORMAT_VERSION);
    assert_eq!(file["dspy_version"], env!("CARGO_PKG_VERSION"));
    let classify = &file["predictors"]["classify"];
    assert_eq!(
        classify["instructions"],
        "Say whether the answer is a person or a number."
    );
    assert_eq!(
        classify["demos"],
        json!([{"fields": {"question": "How many legs does a spider have?", "label": "number"}}])
    );
    assert_eq!(classify["signature"]["name"], "Classify");
    assert_eq!(classify["signature"]["outputs"][0]["name"], "label");
    assert_eq!(
        classify["signature"]["outputs"][0]["type"],
        "Literal['human', 'number']"
    );
    let answer = &file["predictors"]["answer.predict"];
    assert!(answer.get("instructions").is_none(), "{answer}");
    let outputs: Vec<&str> = answer["signature"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(outputs, ["reasoning", "answer"]);

    // Saving again replaces the file in place.
    fresh().save(&path).unwrap();
    assert!(
        read_json(&path)["predictors"]["classify"]["demos"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(dir.entries(), ["pipeline.json"]);
}

#[derive(Module)]
struct Renamed {
    classifier: Predict<Classify>,
    answer: ChainOfThought<QA>,
}

#[test]
fn renamed_predictor_is_named_both_ways_and_nothing_changes() {
    let state = tuned().state().unwrap();
    let mut program = Renamed {
        classifier: Predict::new(),
        answer: ChainOfThought::new(),
    };
    let err = program.load_state(state).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::State(_)), "{message}");
    assert!(
        message.contains("predictor `classifier` is in the program but not in the saved state"),
        "{message}"
    );
    assert!(
        message.contains("predictor `classify` is in the saved state but not in the program"),
        "{message}"
    );
    // `answer.predict` fits, but nothing is loaded when anything does not.
    assert!(program.answer.predict.demos.is_empty());
}

/// `Classify` with its label as free text.
#[derive(Signature, Clone, Debug)]
struct ClassifyText {
    #[input]
    question: String,
    #[output]
    label: String,
}

#[derive(Module)]
struct RetypedPipeline {
    classify: Predict<ClassifyText>,
    answer: ChainOfThought<QA>,
}

#[test]
fn changed_field_type_names_predictor_and_field() {
    let state = tuned().state().unwrap();
    let mut program = RetypedPipeline {
        classify: Predict::new(),
        answer: ChainOfThought::new(),
    };
    let message = program.load_state(state).unwrap_err().to_string();
    assert!(
        message.contains(
            "predictor `classify`: output field `label` has type `Literal['human', 'number']` in \
             the saved state but `str` in the program"
        ),
        "{message}"
    );
    assert!(program.answer.predict.demos.is_empty());
    assert_eq!(program.classify.instructions, None);
}

/// `QA` with a context input.
#[derive(Signature, Clone, Debug)]
struct QAWithContext {
    #[input]
    question: String,
    #[input]
    context: String,
    #[output]
    answer: String,
}

#[derive(Module)]
struct ContextPipeline {
    classify: Predict<Classify>,
    answer: ChainOfThought<QAWithContext>,
}

#[test]
fn removed_field_names_predictor_and_field() {
    let dir = TempDir::new("removed-field");
    let path = dir.file("with-context.json");
    let with_context = ContextPipeline {
        classify: Predict::new(),
        answer: ChainOfThought::new().with_instructions("Use the context."),
    };
    with_context.save(&path).unwrap();

    let mut program = fresh();
    let err = program.load(&path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::State(_)), "{message}");
    assert!(
        message.contains(
            "predictor `answer.predict`: input field `context` is in the saved state but not in \
             the program"
        ),
        "{message}"
    );
    assert!(!message.contains("predictor `classify`"), "{message}");
    assert_eq!(program.answer.predict.instructions, None);
}

#[test]
fn a_demo_that_does_not_fit_names_predictor_and_field() {
    let dir = TempDir::new("bad-demo");
    let path = dir.file("pipeline.json");
    tuned().save(&path).unwrap();
    let mut file = read_json(&path);
    file["predictors"]["answer.predict"]["demos"][0]["fields"]["answer"] = json!(3);
    write_json(&path, &file);

    let mut program = fresh();
    let err = program.load(&path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::State(_)), "{message}");
    assert!(
        message.contains("predictor `answer.predict`: demo 0 does not fit signature `QA`"),
        "{message}"
    );
    assert!(
        message.contains("field `answer` should be str"),
        "{message}"
    );
    assert!(message.contains("fix or remove them"), "{message}");
    // `classify` comes first and fits, yet is not loaded.
    assert!(program.classify.demos.is_empty());
    assert_eq!(program.classify.instructions, None);

    file["predictors"]["classify"]["demos"][0]["fields"]["label"] = json!("banana");
    write_json(&path, &file);
    let message = program.load(&path).unwrap_err().to_string();
    assert!(
        message.contains(
            "predictor `classify`: demo 0 does not fit signature `Classify`: field `label`"
        ),
        "{message}"
    );
}

#[test]
fn unreadable_or_foreign_files_are_clear_errors() {
    let dir = TempDir::new("bad-files");
    let missing = dir.file("missing.json");
    let err = fresh().load(&missing).unwrap_err();
    assert!(
        matches!(&err, Error::Data { file, .. } if file == &missing),
        "{err}"
    );

    let broken = dir.file("broken.json");
    std::fs::write(&broken, "{\n  \"format_version\": 1,\n  oops\n}").unwrap();
    let err = fresh().load(&broken).unwrap_err();
    assert!(
        matches!(&err, Error::Data { file, line: Some(3), .. } if file == &broken),
        "{err:?}"
    );

    // Newer than the newest format this dspy reads.
    let future = dir.file("future.json");
    write_json(
        &future,
        &json!({"format_version": WEIGHTS_FORMAT_VERSION + 1, "dspy_version": "99.0.0", "programs": []}),
    );
    let message = fresh().load(&future).unwrap_err().to_string();
    assert!(
        message.contains(&format!("format version {}", WEIGHTS_FORMAT_VERSION + 1)),
        "{message}"
    );
    assert!(message.contains("upgrade dspy"), "{message}");

    let nowhere = dir.file("no-such-dir").join("state.json");
    let err = tuned().save(&nowhere).unwrap_err();
    assert!(
        matches!(&err, Error::Data { file, .. } if file == &nowhere),
        "{err}"
    );
}

#[test]
fn no_api_key_or_endpoint_is_ever_written() {
    let secret_lm = || {
        let lm = OpenAiLm::builder("gpt-4o-mini")
            .api_key("sk-secret-test")
            .base_url("https://secret-gateway.example.com/v1")
            .build()
            .unwrap();
        assert!(
            lm.base_url().contains("secret-gateway"),
            "the LM carries it"
        );
        LM::new(lm)
    };
    let mut program = tuned();
    program.classify = program.classify.with_lm(secret_lm());
    program.answer = program.answer.with_lm(secret_lm());
    assert_eq!(program.classify.lm().unwrap().model(), "gpt-4o-mini");

    let dir = TempDir::new("secrets");
    let path = dir.file("pipeline.json");
    program.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [
        "sk-secret-test",
        "secret-gateway",
        "api_key",
        "base_url",
        "http",
    ] {
        assert!(!text.contains(secret), "`{secret}` written:\n{text}");
    }
    // What was written is still everything the program learned.
    let mut loaded = fresh();
    loaded.load(&path).unwrap();
    assert_eq!(loaded.state().unwrap(), program.state().unwrap());
}

#[test]
fn state_round_trips_through_json_for_a_single_predictor() {
    let tuned = tuned().classify;
    let json = tuned.state().unwrap().to_json().unwrap();
    let state = ProgramState::from_json(&json).unwrap();
    assert_eq!(
        state.predictors.keys().collect::<Vec<_>>(),
        ["self"],
        "a bare predictor is `self`"
    );
    let mut loaded = Predict::<Classify>::new();
    loaded.load_state(state).unwrap();
    assert_eq!(loaded.demos[0].example().unwrap().label, Kind::Number);
    assert_eq!(loaded.instructions, tuned.instructions);
}

#[test]
fn boxed_programs_save_and_load_too() {
    let dir = TempDir::new("boxed");
    let path = dir.file("boxed.json");
    let saved: Box<dyn Parameters> = Box::new(tuned());
    saved.save(&path).unwrap();
    let mut loaded: Box<dyn Parameters> = Box::new(fresh());
    loaded.load(&path).unwrap();
    assert_eq!(loaded.state().unwrap(), saved.state().unwrap());
    assert_eq!(prompts(&loaded), prompts(&saved));
}

#[test]
fn partial_demos_save_load_and_render_the_same() {
    // A labeled example of the whole pipeline gives the chain of thought no `reasoning`.
    let fields = json!({"question": "Who wrote Emma?", "answer": "Jane Austen"});
    let partial = dspy::Demo::from_fields(fields.as_object().cloned().unwrap()).unwrap();
    let mut saved = tuned();
    saved.answer.predict.demos.push(partial);
    let dir = TempDir::new("partial");
    let path = dir.file("pipeline.json");
    saved.save(&path).unwrap();
    let file = read_json(&path);
    assert_eq!(
        file["predictors"]["answer.predict"]["demos"][1],
        json!({"fields": {"question": "Who wrote Emma?", "answer": "Jane Austen"}})
    );

    let mut loaded = fresh();
    loaded.load(&path).unwrap();
    let demos = &loaded.answer.predict.demos;
    assert_eq!(
        (demos[0].is_complete(), demos[1].is_complete()),
        (true, false)
    );
    assert_eq!(demos[1].missing_fields(), ["reasoning"]);
    assert_eq!(prompts(&loaded), prompts(&saved));
    // The partial demo comes first, introduced as DSPy introduces an incomplete one.
    let rendered = prompts(&loaded);
    let (name, answer) = &rendered[1];
    assert_eq!(name, "answer.predict");
    let dspy::adapter::Prompt::Chat(messages) = &answer.prompt else {
        panic!("a chat prompt")
    };
    assert!(messages[1].content.starts_with(
        "This is an example of the task, though some input or output fields are not supplied."
    ));
    assert!(
        messages[2]
            .content
            .contains("Not supplied for this particular example.")
    );
}

#[test]
fn a_file_of_format_1_still_loads() {
    // What `save` wrote before demos could be partial: each demo the bare object of its fields.
    let mut file: Value =
        serde_json::from_str(&tuned().state().unwrap().to_json().unwrap()).unwrap();
    file["format_version"] = json!(1);
    for predictor in file["predictors"].as_object_mut().unwrap().values_mut() {
        let demos: Vec<Value> = predictor["demos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["fields"].clone())
            .collect();
        predictor["demos"] = Value::Array(demos);
    }
    let dir = TempDir::new("v1");
    let path = dir.file("old.json");
    write_json(&path, &file);

    let mut loaded = fresh();
    loaded.load(&path).unwrap();
    assert_eq!(loaded.state().unwrap(), tuned().state().unwrap());
    assert_eq!(prompts(&loaded), prompts(&tuned()));
}
