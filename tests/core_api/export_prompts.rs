//! Every prompt of a program, without calling the LM: the view's text is the adapter's, so once
//! the placeholders are filled in it is exactly the request a real call sends.

use dspy::adapter::{Message, Prompt, Role};
use dspy::lm::with_lm_sync;
use dspy::module::{PromptPart, PromptView};
use dspy::prelude::*;
use serde_json::json;

/// Pick the fine class of the question from the shortlist.
#[derive(Signature, Clone, Debug)]
struct Fine {
    #[input(desc = "a question in English")]
    question: String,
    #[input]
    shortlist: Vec<String>,
    #[output]
    fine_label: String,
}

/// Answer briefly.
#[derive(Signature, Clone, Debug)]
struct QA {
    #[input]
    question: String,
    #[output]
    answer: String,
}

fn fine(question: &str, label: &str) -> Fine {
    Fine {
        question: question.into(),
        shortlist: vec!["city".into(), "state".into()],
        fine_label: label.into(),
    }
}

/// Two complete demos around a partial one (no shortlist), own instructions.
fn predictor() -> Predict<Fine> {
    let partial = json!({"question": "Who wrote Hamlet ?", "fine_label": "ind"});
    let partial = Demo::from_fields(partial.as_object().unwrap().clone()).unwrap();
    Predict::<Fine>::new()
        .with_instructions("Pick one label from the shortlist.")
        .with_demos([
            Demo::new(fine("Where is Boston ?", "city")),
            partial,
            Demo::new(fine("Where is Ohio ?", "state")),
        ])
}

fn input() -> FineInput {
    FineInput {
        question: "Where is Paris ?".into(),
        shortlist: vec!["city".into(), "country".into()],
    }
}

/// The placeholders of `text` filled in with `input`'s values, as the adapters write them.
fn filled(text: &str) -> String {
    text.replace("{question}", "Where is Paris ?")
        .replace("{shortlist}", r#"["city", "country"]"#)
}

/// What a real call sent, and the view rendered for the same LM.
async fn sent_and_viewed(lm: DummyLm) -> (Prompt, PromptView) {
    let predict = predictor();
    let handle = LM::new(lm.clone());
    with_lm(handle.clone(), predict.call(input()))
        .await
        .unwrap();
    let sent = lm.last_request().unwrap().prompt;
    let view = with_lm_sync(handle, || predict.render_prompt()).unwrap();
    (sent, view)
}

fn messages(prompt: &Prompt) -> &[Message] {
    match prompt {
        Prompt::Chat(messages) => messages,
        Prompt::Text(text) => panic!("a chat prompt was expected, got text: {text}"),
    }
}

fn demo_parts(view: &PromptView) -> Vec<(usize, &Prompt)> {
    view.parts
        .iter()
        .filter_map(|p| match p {
            PromptPart::Demo { demo, prompt } => Some((*demo, prompt)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_chat_view_is_what_a_real_call_sent() {
    let (sent, view) = sent_and_viewed(DummyLm::new([json!({"fine_label": "city"})])).await;
    let sent = messages(&sent);
    assert_eq!(view.adapter, "ChatAdapter");
    assert!(view.own_instructions);

    // The parts in order: system, the partial demo first (as DSPy orders them), the two
    // complete ones, the input.
    assert_eq!(view.parts.len(), 5, "{:#?}", view.parts);
    let PromptPart::Preamble(preamble) = &view.parts[0] else {
        panic!("{:?}", view.parts[0])
    };
    assert_eq!(messages(preamble), &sent[..1]);
    assert!(
        sent[0]
            .content
            .contains("Pick one label from the shortlist.")
    );
    let demos = demo_parts(&view);
    assert_eq!(demos.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 0, 2]);
    for (k, (_, prompt)) in demos.iter().enumerate() {
        assert_eq!(
            messages(prompt),
            &sent[1 + 2 * k..3 + 2 * k],
            "demo part {k}"
        );
    }
    assert!(
        sent[1]
            .content
            .starts_with("This is an example of the task")
    );
    assert!(
        !sent[1].content.contains("shortlist"),
        "{}",
        sent[1].content
    );
    assert!(sent[2].content.starts_with("[[ ## fine_label ## ]]\nind"));
    let PromptPart::Input(input) = &view.parts[4] else {
        panic!("{:?}", view.parts[4])
    };
    let input = messages(input);
    assert_eq!(input.len(), 1);
    assert_eq!(input[0].role, Role::User);
    assert!(
        input[0]
            .content
            .contains("[[ ## question ## ]]\n{question}")
    );
    assert_eq!(filled(&input[0].content), sent[7].content);
    assert_eq!(sent.len(), 8);

    // What the demos are: the partial one lacks the shortlist.
    assert_eq!(view.demos[1].missing, ["shortlist"]);
    assert!(view.demos[0].is_complete() && view.demos.iter().all(|d| d.shown));
}

#[tokio::test]
async fn the_completion_view_is_what_a_real_call_sent() {
    let lm = DummyLm::new([json!({"fine_label": "city"})]).completion_model();
    let (sent, view) = sent_and_viewed(lm).await;
    let Prompt::Text(sent) = sent else {
        panic!("a completion prompt was expected")
    };
    assert_eq!(view.adapter, "CompletionAdapter");
    let blocks: Vec<String> = view
        .parts
        .iter()
        .map(|p| match p.prompt() {
            Prompt::Text(text) => text.clone(),
            Prompt::Chat(m) => panic!("{m:?}"),
        })
        .collect();
    assert_eq!(filled(&blocks.join("\n\n")), sent);
    assert_eq!(blocks[0], "Pick one label from the shortlist.");
    // The completion layout keeps the demos in their order, the partial one without a shortlist.
    let demos = demo_parts(&view);
    assert_eq!(demos.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(
        blocks[2], "Question: Who wrote Hamlet ?\nFine label: ind",
        "{blocks:#?}"
    );
    assert_eq!(
        blocks.last().unwrap(),
        "Question: {question}\nShortlist: {shortlist}\nFine label:"
    );
    assert_eq!(view.formatted.stop, ["\n\n"]);
}

#[tokio::test]
async fn the_json_view_is_what_a_real_call_sent() {
    let lm = DummyLm::new([json!({"fine_label": "city"})]).schema_enforced(true);
    let (sent, view) = sent_and_viewed(lm).await;
    let sent = messages(&sent);
    assert_eq!(view.adapter, "JsonAdapter");
    let rendered: Vec<Message> = view
        .parts
        .iter()
        .flat_map(|p| messages(p.prompt()).to_vec())
        .collect();
    assert_eq!(rendered.len(), sent.len());
    assert_eq!(rendered[..sent.len() - 1], sent[..sent.len() - 1]);
    assert_eq!(
        filled(&rendered.last().unwrap().content),
        sent.last().unwrap().content
    );
    assert!(
        sent[4].content.contains("\"fine_label\": \"city\""),
        "{}",
        sent[4].content
    );
}

#[derive(Module, Clone)]
struct Triage {
    fine: Predict<Fine>,
    answer: ChainOfThought<QA>,
    checks: Vec<Predict<QA>>,
}

fn triage() -> Triage {
    let labeled = QA {
        question: "2+2?".into(),
        answer: "4".into(),
    };
    // A labeled demo of a chain of thought has no reasoning.
    let unreasoned = json!({"question": "2+2?", "answer": "4"});
    let unreasoned = Demo::<Reasoned<QA>>::from_fields(unreasoned.as_object().unwrap().clone());
    Triage {
        fine: predictor(),
        answer: ChainOfThought::new().with_demos([unreasoned.unwrap()]),
        checks: vec![Predict::new(), Predict::new().with_demos([labeled])],
    }
}

#[test]
fn a_program_of_any_depth_exports_every_prompt_without_an_lm_call() {
    let program = triage();
    let lm = DummyLm::new([]);
    let prompts = with_lm_sync(LM::new(lm.clone()), || program.prompts()).unwrap();
    assert!(lm.requests().is_empty());
    let names: Vec<&str> = prompts
        .predictors
        .iter()
        .map(|p| p.predictor.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["fine", "answer.predict", "checks.0", "checks.1"]);
    assert_eq!(prompts.model.as_deref(), Some("dummy"));

    let dir = std::env::temp_dir().join(format!("dspy-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prompts.md");
    with_lm_sync(LM::new(lm), || program.export_prompts(&path)).unwrap();
    let markdown = std::fs::read_to_string(&path).unwrap();
    assert_eq!(markdown, prompts.to_markdown());
    std::fs::remove_dir_all(&dir).ok();

    // One section per predictor, in order, each with its heading, fields and parts.
    let at = |needle: &str| {
        markdown
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` is not in:\n{markdown}"))
    };
    let sections = [
        at("## `fine` · Fine"),
        at("## `answer.predict` · QA"),
        at("## `checks.0` · QA"),
        at("## `checks.1` · QA"),
    ];
    assert!(sections.windows(2).all(|w| w[0] < w[1]), "{sections:?}");
    assert!(markdown.contains("ChatAdapter · 3 demos (2 complete, 1 partial)"));
    assert!(markdown.contains("#### Demo 2 of 3 · partial, lacks `shortlist`"));
    assert!(markdown.contains("#### Demo 1 of 3 · complete"));
    // The chain of thought's labeled demo has no reasoning: partial, and shown as such.
    assert!(markdown.contains("#### Demo 1 of 1 · partial, lacks `reasoning`"));
    assert!(markdown.contains("| output | `reasoning` | `str` |"));
    assert!(markdown.contains("| input | `question` | `str` | a question in English |"));
    assert!(markdown.contains("### Instructions (the predictor's own)"));
    assert!(markdown.contains("Pick one label from the shortlist."));
    // Every message of `fine`'s prompt is there verbatim.
    let view = &prompts.predictors[0];
    for part in &view.parts {
        for message in messages(part.prompt()) {
            assert!(markdown.contains(&message.content), "{}", message.content);
        }
    }
    assert_eq!(view.to_string(), markdown[sections[0]..sections[1]]);
}

#[test]
fn a_view_renders_with_the_adapter_the_lm_calls_for() {
    let program = triage();
    let base = LM::new(DummyLm::new([]).completion_model());
    let prompts = with_lm_sync(base, || program.prompts()).unwrap();
    assert!(
        prompts
            .predictors
            .iter()
            .all(|p| p.adapter == "CompletionAdapter")
    );
    let own = Predict::<QA>::new().with_adapter(JsonAdapter::new());
    assert_eq!(own.render_prompt().unwrap().adapter, "JsonAdapter");
    // No LM at all: the chat markers.
    assert_eq!(
        Predict::<QA>::new().render_prompt().unwrap().adapter,
        "ChatAdapter"
    );
}
