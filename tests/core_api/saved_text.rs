//! What a saved program holds beyond its demos: the text its prompts showed (the signature's
//! instructions, each field's description and prefix), which wins over the code's on load, as
//! in DSPy, with a report of the predictors whose text differed; and files of the older
//! formats, written out literally, still load.

use dspy::module::{FieldText, STATE_FORMAT_VERSION};
use dspy::prelude::*;
use dspy::{DynPredictor, ProgramState};
use serde_json::{Value, json};

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer")]
    label: String,
}

/// The same fields; since the program was saved, its doc and a description were edited.
#[derive(Signature, Clone, Debug)]
struct ClassifyEdited {
    #[input(desc = "a question, in any language")]
    question: String,
    #[output(desc = "the kind of answer")]
    label: String,
}

/// Answer briefly.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[derive(Module, Clone)]
struct Saved {
    classify: Predict<Classify>,
    answer: ChainOfThought<QA>,
}

#[derive(Module, Clone)]
struct Edited {
    classify: Predict<ClassifyEdited>,
    answer: ChainOfThought<QA>,
}

fn saved() -> Saved {
    Saved {
        classify: Predict::new().with_demos([Classify {
            question: "Who was Galileo ?".into(),
            label: "human".into(),
        }]),
        answer: ChainOfThought::new(),
    }
}

fn edited() -> Edited {
    Edited {
        classify: Predict::new(),
        answer: ChainOfThought::new(),
    }
}

/// The prompt text of every predictor for one question, by name.
fn prompts(program: &impl Parameters) -> Vec<(String, String)> {
    let input = json!({"question": "Where is Aspen ?"});
    program
        .predictors()
        .into_iter()
        .map(|(name, p)| {
            let text = p.render_json(input.as_object().unwrap()).unwrap();
            (name, text.prompt.to_text())
        })
        .collect()
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "dspy-saved-text-{}-{name}.json",
        std::process::id()
    ))
}

#[test]
fn a_saved_predictor_records_the_text_it_was_evaluated_with() {
    let file: Value = serde_json::from_str(&saved().state().unwrap().to_json().unwrap()).unwrap();
    assert_eq!(file["format_version"], STATE_FORMAT_VERSION);
    assert_eq!(STATE_FORMAT_VERSION, 3);
    let signature = &file["predictors"]["classify"]["signature"];
    assert_eq!(
        signature["instructions"],
        "Classify the question by the kind of answer it expects."
    );
    assert_eq!(signature["inputs"][0]["desc"], "a question in English");
    assert_eq!(signature["inputs"][0]["prefix"], "Question:");
    assert_eq!(signature["outputs"][0]["desc"], "the kind of answer");
    // Not the predictor's own instructions: it has none.
    assert!(file["predictors"]["classify"].get("instructions").is_none());
    let reasoning = &file["predictors"]["answer.predict"]["signature"]["outputs"][0];
    assert_eq!(reasoning["name"], "reasoning");
    assert!(reasoning["desc"].is_string() && reasoning["prefix"].is_string());
}

#[test]
fn the_saved_text_wins_and_the_load_names_who_differed() {
    let path = temp("wins");
    let before = saved();
    before.save(&path).unwrap();

    let mut after = edited();
    let report = after.load_with_report(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(report.changed_predictors(), ["classify"]);
    assert_eq!(
        report.changed_text[0].parts,
        ["instructions", "description of `question`"]
    );
    assert!(
        report.to_string().contains("predictor `classify`"),
        "{report}"
    );
    // The loaded program shows exactly the prompts that were saved.
    assert_eq!(prompts(&after), prompts(&before));
    assert_ne!(prompts(&after), prompts(&edited()));
    assert_eq!(
        after.classify.effective_instructions(),
        "Classify the question by the kind of answer it expects."
    );
    assert_eq!(
        after.classify.effective_signature().inputs[0].desc,
        "a question in English"
    );
    assert!(after.classify.has_own_field_text());

    // Saved again and loaded into the edited code, it is still the text evaluated.
    let again = temp("again");
    after.save(&again).unwrap();
    let mut twice = edited();
    let report = twice.load_with_report(&again).unwrap();
    std::fs::remove_file(&again).ok();
    assert_eq!(prompts(&twice), prompts(&before));
    // The instructions are now the predictor's own; the description still differs from the code.
    assert_eq!(report.changed_text[0].parts, ["description of `question`"]);

    // Unchanged code: nothing to report, and nothing replaced.
    let same = temp("same");
    before.save(&same).unwrap();
    let mut plain = saved();
    let report = plain.load_with_report(&same).unwrap();
    std::fs::remove_file(&same).ok();
    assert!(report.is_clean(), "{report}");
    assert!(!plain.classify.has_own_field_text());
    assert_eq!(plain.classify.instructions, None);
}

#[test]
fn a_load_puts_back_the_code_text_over_text_a_predictor_held() {
    let mut program = saved();
    program
        .classify
        .set_field_text("label", Some(FieldText::new("one word", "Label:")))
        .unwrap();
    // State saved from the plain program: the code's text.
    program.load_state(saved().state().unwrap()).unwrap();
    assert!(!program.classify.has_own_field_text());
    assert_eq!(prompts(&program), prompts(&saved()));
}

/// A program of one `QA` predictor as format 1 wrote it: demos as bare objects of fields, no
/// provenance, no text.
const FORMAT_1: &str = r#"{
  "format_version": 1,
  "dspy_version": "0.1.0",
  "predictors": {
    "self": {
      "signature": {
        "name": "QA",
        "inputs": [{"name": "question", "type": "str", "schema": "37140e51efa8b132"}],
        "outputs": [{"name": "answer", "type": "str", "schema": "37140e51efa8b132"}]
      },
      "instructions": "Answer in one word.",
      "demos": [{"question": "Who wrote Emma?", "answer": "Austen"}]
    }
  }
}"#;

/// The same program as format 2 wrote it: each demo's fields under `fields`.
const FORMAT_2: &str = r#"{
  "format_version": 2,
  "dspy_version": "0.1.0",
  "predictors": {
    "self": {
      "signature": {
        "name": "QA",
        "inputs": [{"name": "question", "type": "str", "schema": "37140e51efa8b132"}],
        "outputs": [{"name": "answer", "type": "str", "schema": "37140e51efa8b132"}]
      },
      "instructions": "Answer in one word.",
      "demos": [{"fields": {"question": "Who wrote Emma?", "answer": "Austen"}}]
    }
  }
}"#;

#[test]
fn files_of_format_1_and_2_load_and_save_as_format_3() {
    let expected = Predict::<QA>::new()
        .with_instructions("Answer in one word.")
        .with_demos([QA {
            question: "Who wrote Emma?".into(),
            answer: "Austen".into(),
        }]);
    for (version, text) in [(1, FORMAT_1), (2, FORMAT_2)] {
        let path = temp(&format!("v{version}"));
        std::fs::write(&path, text).unwrap();
        let mut loaded = Predict::<QA>::new();
        let report = loaded.load_with_report(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert!(
            report.is_clean(),
            "format {version}: no text saved, none differs"
        );
        assert_eq!(loaded.demos[0].example().unwrap().answer, "Austen");
        assert!(loaded.demos[0].provenance().is_none(), "format {version}");
        assert_eq!(loaded.instructions.as_deref(), Some("Answer in one word."));
        assert_eq!(
            loaded
                .render(&QAInput {
                    question: "q".into()
                })
                .unwrap(),
            expected
                .render(&QAInput {
                    question: "q".into()
                })
                .unwrap(),
            "format {version}"
        );
        let resaved: Value =
            serde_json::from_str(&loaded.state().unwrap().to_json().unwrap()).unwrap();
        assert_eq!(resaved["format_version"], 3);
        assert_eq!(
            resaved["predictors"]["self"]["demos"][0],
            json!({"fields": {"question": "Who wrote Emma?", "answer": "Austen"}})
        );
        assert_eq!(
            resaved["predictors"]["self"]["signature"]["instructions"],
            "Answer briefly."
        );
        let state = ProgramState::from_json(text).unwrap();
        assert_eq!(state.format_version, STATE_FORMAT_VERSION);
        assert!(state.modules.is_empty());
    }
}

#[test]
fn a_file_with_module_state_the_program_lacks_is_refused() {
    let mut file: Value = serde_json::from_str(FORMAT_2).unwrap();
    file["format_version"] = json!(3);
    file["modules"] = json!({"self": {"kind": "KnnProgram", "state": {}}});
    let state = ProgramState::from_json(&file.to_string()).unwrap();
    let mut program = Predict::<QA>::new();
    let err = program.load_state(state).unwrap_err().to_string();
    assert!(err.contains("`KnnProgram` at `self`"), "{err}");
    assert!(err.contains("KnnProgram::load"), "{err}");
    assert!(program.demos.is_empty(), "nothing loaded");
}
