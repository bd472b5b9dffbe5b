//! `ReAct` on `DummyLm`: the agent loop, its observations for every kind of bad step, the final
//! extraction, context-window truncation, and the prompts the LM sees.

use dspy::adapter::{Prompt, Role};
use dspy::lm::{BoxFuture, LmRequest, LmResponse};
use dspy::module::react::{StopReason, Trajectory};
use dspy::module::trace;
use dspy::prelude::*;
use dspy::{LmErrorKind, Parameters};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Answer questions about countries.
#[derive(Signature, Clone, Debug)]
struct Geo {
    #[input(desc = "a question about a country")]
    question: String,
    #[output(desc = "a short answer")]
    answer: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
struct CapitalArgs {
    /// The country's name in English.
    country: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
struct AddArgs {
    a: f64,
    b: f64,
}

/// The tools, and what each one received.
struct Tools {
    capitals: Arc<Mutex<Vec<CapitalArgs>>>,
    sums: Arc<Mutex<Vec<AddArgs>>>,
}

impl Tools {
    fn new() -> Self {
        Tools {
            capitals: Arc::default(),
            sums: Arc::default(),
        }
    }

    fn all(&self) -> Vec<Tool> {
        let capitals = self.capitals.clone();
        let sums = self.sums.clone();
        vec![
            Tool::new(
                "capital",
                "Looks up the capital city of a country.",
                move |args: CapitalArgs| {
                    let capitals = capitals.clone();
                    async move {
                        capitals.lock().unwrap().push(args.clone());
                        match args.country.as_str() {
                            "France" => Ok("Paris".to_string()),
                            "Japan" => Ok("Tokyo".to_string()),
                            other => Err(format!("no country called {other}")),
                        }
                    }
                },
            ),
            Tool::new("add", "Adds two numbers.", move |args: AddArgs| {
                let sums = sums.clone();
                async move {
                    sums.lock().unwrap().push(args.clone());
                    Ok::<_, String>(args.a + args.b)
                }
            }),
        ]
    }
}

fn step(thought: &str, tool: &str, args: Value) -> Value {
    json!({"next_thought": thought, "next_tool_name": tool, "next_tool_args": args})
}

fn finish() -> Value {
    step("I have what I need.", "finish", json!({}))
}

fn extraction(answer: &str) -> Value {
    json!({"reasoning": "The observations say so.", "answer": answer})
}

fn ask(question: &str) -> GeoInput {
    GeoInput {
        question: question.into(),
    }
}

fn agent(dummy: &DummyLm, tools: &Tools) -> ReAct<Geo> {
    ReAct::<Geo>::new(tools.all()).with_lm(LM::new(dummy.clone()))
}

fn messages(request: &LmRequest) -> Vec<(Role, String)> {
    match &request.prompt {
        Prompt::Chat(messages) => messages
            .iter()
            .map(|m| (m.role, m.content.clone()))
            .collect(),
        Prompt::Text(text) => panic!("expected chat messages, got text: {text}"),
    }
}

fn system(request: &LmRequest) -> String {
    messages(request)[0].1.clone()
}

fn user(request: &LmRequest) -> String {
    messages(request)
        .into_iter()
        .rev()
        .find(|(role, _)| *role == Role::User)
        .map(|(_, content)| content)
        .unwrap_or_default()
}

fn observations(trajectory: &Trajectory) -> Vec<String> {
    trajectory
        .steps
        .iter()
        .map(|s| s.observation_text())
        .collect()
}

#[tokio::test]
async fn two_tools_then_finish_then_extraction() {
    let dummy = DummyLm::new([
        step(
            "Find the capital first.",
            "capital",
            json!({"country": "France"}),
        ),
        // A number written as text is read as a number, as every parser here does.
        step("Now add.", "add", json!({"a": 2, "b": "3.5"})),
        finish(),
        extraction("Paris, and 5.5"),
    ]);
    let tools = Tools::new();
    let agent = agent(&dummy, &tools);
    let run = agent
        .forward(ask("What is the capital of France, and 2 + 3.5?"))
        .await
        .unwrap();

    assert_eq!(run.answer, "Paris, and 5.5", "derefs to the output");
    assert_eq!(run.reasoning, "The observations say so.");
    assert_eq!(run.stop, StopReason::Finished);
    assert_eq!(run.lm_calls, 4);
    let names: Vec<&str> = run
        .trajectory
        .steps
        .iter()
        .map(|s| s.tool_name.as_str())
        .collect();
    assert_eq!(names, ["capital", "add", "finish"]);
    assert_eq!(run.trajectory.steps[0].thought, "Find the capital first.");
    assert_eq!(
        run.trajectory.steps[1].tool_args,
        json!({"a": 2, "b": "3.5"})
    );
    assert_eq!(
        observations(&run.trajectory),
        ["Paris", "5.5", "Completed."]
    );
    assert_eq!(
        *tools.capitals.lock().unwrap(),
        [CapitalArgs {
            country: "France".into()
        }]
    );
    assert_eq!(*tools.sums.lock().unwrap(), [AddArgs { a: 2.0, b: 3.5 }]);

    let requests = dummy.requests();
    assert_eq!(requests.len(), 4);
    // Every step prompt lists the tools with their argument schemas, and `finish`.
    let first = system(&requests[0]);
    for expected in [
        "1. `question` (str): a question about a country\n2. `trajectory` (str):",
        "2. `next_tool_name` (Literal['capital', 'add', 'finish']):",
        "3. `next_tool_args` (dict[str, Any]):",
        "Answer questions about countries.",
        "(1) capital, described as <desc>Looks up the capital city of a country.</desc>. It takes \
         the arguments {\"country\": {\"type\": \"string\", \"description\": \"The country's name in English.\"}}.",
        "(2) add, described as <desc>Adds two numbers.</desc>. It takes the arguments \
         {\"a\": {\"type\": \"number\"}, \"b\": {\"type\": \"number\"}}.",
        "(3) finish, described as <desc>",
        "`answer`",
    ] {
        assert!(first.contains(expected), "missing {expected:?} in\n{first}");
    }
    // The trajectory grows step by step, in DSPy's section layout.
    assert!(
        user(&requests[0]).contains("[[ ## trajectory ## ]]\n\n\nRespond with"),
        "{}",
        user(&requests[0])
    );
    assert!(user(&requests[1]).contains(
        "[[ ## trajectory ## ]]\n[[ ## thought_0 ## ]]\nFind the capital first.\n\n\
         [[ ## tool_name_0 ## ]]\ncapital\n\n[[ ## tool_args_0 ## ]]\n{\"country\": \"France\"}\n\n\
         [[ ## observation_0 ## ]]\nParis\n\n"
    ));
    // The extraction reasons over the whole trajectory and answers with the signature's outputs.
    let last = &requests[3];
    assert!(system(last).contains("1. `reasoning` (str): \n2. `answer` (str): a short answer"));
    assert!(!system(last).contains("next_tool_name"));
    let extraction_input = user(last);
    assert!(extraction_input.contains("[[ ## observation_1 ## ]]\n5.5"));
    assert!(extraction_input.contains("[[ ## tool_name_2 ## ]]\nfinish"));
    assert!(extraction_input.contains("[[ ## observation_2 ## ]]\nCompleted."));
}

#[tokio::test]
async fn unknown_tool_names_are_observations_listing_the_tools() {
    let dummy = DummyLm::new([
        step("Search for it.", "search", json!({"query": "France"})),
        // Close enough to a tool's name to be read as it.
        step(
            "Use the right tool.",
            "Capital",
            json!({"country": "France"}),
        ),
        finish(),
        extraction("Paris"),
    ]);
    let tools = Tools::new();
    let run = agent(&dummy, &tools)
        .forward(ask("Capital of France?"))
        .await
        .unwrap();
    assert_eq!(run.answer, "Paris");
    assert_eq!(run.trajectory.steps[0].tool_name, "search");
    assert_eq!(
        run.trajectory.steps[0].observation_text(),
        "Unknown tool `search`: next_tool_name must be one of capital, add, finish."
    );
    assert_eq!(run.trajectory.steps[1].tool_name, "capital");
    assert_eq!(run.trajectory.steps[1].observation_text(), "Paris");
    // The unknown name cost no extra LM call (no fallback, no re-ask).
    assert_eq!(dummy.requests().len(), 4);
    assert!(user(&dummy.requests()[1]).contains("Unknown tool `search`"));
}

#[tokio::test]
async fn arguments_that_do_not_fit_are_observations() {
    // Each bad step is asked for once more (the re-ask answered the same way), then observed.
    let twice = |answer: Value| [answer.clone(), answer];
    let dummy = DummyLm::new(
        [
            twice(step("Add them.", "add", json!({"a": "two", "b": 3}))),
            twice(step("Capital.", "capital", json!({"nation": "France"}))),
            twice(step("Try plain text.", "capital", json!("France"))),
        ]
        .into_iter()
        .flatten()
        .chain([finish(), extraction("unknown")]),
    );
    let tools = Tools::new();
    let run = agent(&dummy, &tools)
        .forward(ask("Capital of France?"))
        .await
        .unwrap();
    assert_eq!(run.stop, StopReason::Finished);
    let seen = observations(&run.trajectory);
    assert!(
        seen[0].starts_with("Execution error in add: invalid arguments:")
            && seen[0].contains(r#"the arguments given were {"a": "two", "b": 3}"#)
            && seen[0].contains(r#"it takes the arguments {"a": {"type": "number"}"#),
        "{}",
        seen[0]
    );
    assert!(
        seen[1].starts_with("Execution error in capital: invalid arguments:")
            && seen[1].contains("missing field `country`"),
        "{}",
        seen[1]
    );
    assert!(
        seen[2].starts_with("Execution error in capital: invalid arguments:")
            && seen[2].contains("the arguments given were France"),
        "{}",
        seen[2]
    );
    assert!(tools.sums.lock().unwrap().is_empty(), "never called");
    assert!(tools.capitals.lock().unwrap().is_empty(), "never called");
    assert_eq!(dummy.requests().len(), 8, "one re-ask per bad step");
    assert_eq!(run.lm_calls, 8);
}

#[tokio::test]
async fn arguments_that_do_not_fit_the_tool_chosen_are_asked_for_again() {
    let dummy = DummyLm::new([
        step("Add them.", "add", json!({"a": "two", "b": 3})),
        step("Add them, as numbers.", "add", json!({"a": 2, "b": 3})),
        finish(),
        extraction("5"),
    ]);
    let tools = Tools::new();
    let run = agent(&dummy, &tools)
        .forward(ask("What is two plus 3?"))
        .await
        .unwrap();
    // The step taken is the one asked for again, and the tool ran on its arguments.
    assert_eq!(run.trajectory.steps.len(), 2);
    assert_eq!(run.trajectory.steps[0].thought, "Add them, as numbers.");
    assert_eq!(observations(&run.trajectory)[0], "5.0");
    assert_eq!(*tools.sums.lock().unwrap(), [AddArgs { a: 2.0, b: 3.0 }]);
    assert_eq!(run.lm_calls, 4, "the re-ask counts");
    // The re-ask shows the LM its answer and why it does not fit the tool it chose.
    let requests = dummy.requests();
    assert_eq!(requests.len(), 4);
    let asked = messages(&requests[1]);
    assert_eq!(asked.len(), messages(&requests[0]).len() + 2);
    assert!(
        asked[asked.len() - 2].1.contains("\"a\": \"two\""),
        "{asked:?}"
    );
    let why = &asked[asked.len() - 1].1;
    for expected in [
        "field `next_tool_args`",
        "the arguments {\"a\": \"two\", \"b\": 3} do not fit the tool `add`",
        "invalid arguments:",
        "it takes the arguments {\"a\": {\"type\": \"number\"}, \"b\": {\"type\": \"number\"}}",
    ] {
        assert!(why.contains(expected), "missing {expected:?} in {why}");
    }
    // Arguments that fit cost no re-ask; an unknown tool is left to its observation.
    assert!(!user(&requests[2]).contains("do not fit"));
}

#[tokio::test]
async fn the_answer_schema_holds_each_tools_arguments() {
    let dummy = DummyLm::new([
        step("Capital.", "capital", json!({"country": "France"})),
        finish(),
        extraction("Paris"),
    ])
    .structured_output(true);
    let tools = Tools::new();
    let mut agent = agent(&dummy, &tools);
    agent.react = agent.react.clone().with_adapter(JsonAdapter::new());
    agent.forward(ask("Capital of France?")).await.unwrap();
    let schema = dummy.requests()[0].response_schema.clone().unwrap();
    // Strict, and the arguments one of the tools' (finish's empty object last), not any object.
    assert!(schema.strict, "{:#}", schema.schema);
    let choices = schema.schema["properties"]["next_tool_args"]["anyOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{:#}", schema.schema))
        .clone();
    assert_eq!(choices.len(), 3, "{choices:#?}");
    assert_eq!(
        choices[0]["properties"]["country"]["type"], "string",
        "{choices:#?}"
    );
    assert_eq!(choices[0]["required"], json!(["country"]));
    assert_eq!(choices[1]["required"], json!(["a", "b"]));
    assert_eq!(choices[2]["properties"], json!({}));
    for choice in &choices {
        assert_eq!(choice["additionalProperties"], json!(false));
    }
    // The prompt still types them as DSPy does.
    let prompt = system(&dummy.requests()[0]);
    assert!(
        prompt.contains("`next_tool_args` (dict[str, Any])"),
        "{prompt}"
    );
}

#[tokio::test]
async fn tool_errors_and_panics_are_observations() {
    #[derive(Deserialize, JsonSchema)]
    struct Nothing {}
    let boom = Tool::new("boom", "Always panics.", |_: Nothing| async {
        if true {
            panic!("kaboom");
        }
        Ok::<u8, String>(0)
    });
    let dummy = DummyLm::new([
        step("Capital.", "capital", json!({"country": "Atlantis"})),
        step("Try the other tool.", "boom", json!({})),
        finish(),
        extraction("unknown"),
    ]);
    let tools = Tools::new();
    let mut all = tools.all();
    all.push(boom);
    let run = ReAct::<Geo>::new(all)
        .with_lm(LM::new(dummy.clone()))
        .forward(ask("Capital of Atlantis?"))
        .await
        .unwrap();
    assert_eq!(
        observations(&run.trajectory),
        [
            "Execution error in capital: no country called Atlantis",
            "Execution error in boom: the tool panicked: kaboom",
            "Completed.",
        ]
    );
    assert_eq!(run.answer, "unknown");
}

#[tokio::test]
async fn max_iters_ends_the_loop_and_extracts() {
    let dummy = DummyLm::new([
        step("Look.", "capital", json!({"country": "Japan"})),
        step("Look again.", "capital", json!({"country": "France"})),
        extraction("Tokyo"),
    ]);
    let tools = Tools::new();
    let run = agent(&dummy, &tools)
        .max_iters(2)
        .forward(ask("Capital of Japan?"))
        .await
        .unwrap();
    assert_eq!(run.stop, StopReason::MaxIters);
    assert_eq!(run.trajectory.steps.len(), 2);
    assert_eq!(run.answer, "Tokyo");
    let requests = dummy.requests();
    assert_eq!(requests.len(), 3, "two steps, then the extraction");
    let extraction_input = user(&requests[2]);
    assert!(extraction_input.contains("[[ ## observation_1 ## ]]\nParis"));
    assert!(system(&requests[2]).contains("`reasoning`"));
}

#[tokio::test]
async fn an_unreadable_step_ends_the_loop_and_extracts_from_the_steps_so_far() {
    let garbage = json!("I am not sure what to do next.");
    let dummy = DummyLm::new([
        step("Look.", "capital", json!({"country": "France"})),
        // The chat answer, the JSON fallback and the re-ask all fail to parse.
        garbage.clone(),
        garbage.clone(),
        garbage,
        extraction("Paris"),
    ]);
    let tools = Tools::new();
    let run = agent(&dummy, &tools)
        .forward(ask("Capital of France?"))
        .await
        .unwrap();
    assert!(
        matches!(&run.stop, StopReason::UnreadableStep(e) if e.contains("could not parse")),
        "{:?}",
        run.stop
    );
    assert_eq!(run.trajectory.steps.len(), 1);
    assert_eq!(run.answer, "Paris");
    let requests = dummy.requests();
    assert_eq!(requests.len(), 5);
    assert_eq!(
        run.lm_calls, 5,
        "the unreadable step's three calls count too (they were 2 in all before)"
    );
    let extraction_input = user(&requests[4]);
    assert!(extraction_input.contains("[[ ## observation_0 ## ]]\nParis"));
    assert!(!extraction_input.contains("thought_1"));
}

/// Fails with a context-window error whenever the prompt shows more than `max_steps` steps.
#[derive(Debug)]
struct SmallWindow {
    inner: DummyLm,
    max_steps: usize,
}

impl LanguageModel for SmallWindow {
    fn model(&self) -> &str {
        "small-window"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        let shown = user(&request).matches("[[ ## observation_").count();
        if shown > self.max_steps {
            Box::pin(async {
                Err(Error::lm(
                    LmErrorKind::ContextWindowExceeded,
                    "maximum context length exceeded",
                ))
            })
        } else {
            self.inner.complete(request)
        }
    }
}

#[tokio::test]
async fn context_overflow_leaves_out_the_oldest_steps() {
    let dummy = DummyLm::new([
        step("One.", "capital", json!({"country": "France"})),
        step("Two.", "capital", json!({"country": "Japan"})),
        step("Three.", "add", json!({"a": 1, "b": 2})),
        finish(),
        extraction("Tokyo"),
    ]);
    let lm = LM::new(SmallWindow {
        inner: dummy.clone(),
        max_steps: 2,
    });
    let tools = Tools::new();
    let run = ReAct::<Geo>::new(tools.all())
        .with_lm(lm)
        .forward(ask("Capital of Japan?"))
        .await
        .unwrap();
    assert_eq!(run.stop, StopReason::Finished);
    assert_eq!(run.trajectory.steps.len(), 4, "the record keeps every step");
    assert_eq!(run.trajectory.truncated, 2);
    assert_eq!(run.answer, "Tokyo");
    let requests = dummy.requests();
    assert_eq!(requests.len(), 5);
    // The fourth step saw steps 1 and 2 only; the extraction saw steps 2 and 3, numbered as taken.
    assert!(!user(&requests[3]).contains("thought_0"));
    assert!(user(&requests[3]).contains("[[ ## thought_1 ## ]]\nTwo."));
    let extraction_input = user(&requests[4]);
    assert!(!extraction_input.contains("thought_1"));
    assert!(extraction_input.contains("[[ ## thought_2 ## ]]\nThree."));
    assert!(extraction_input.contains("[[ ## observation_3 ## ]]\nCompleted."));
}

#[tokio::test]
async fn a_window_too_small_for_one_step_is_an_lm_error() {
    let dummy = DummyLm::new([
        step("One.", "capital", json!({"country": "France"})),
        finish(),
    ]);
    let lm = LM::new(SmallWindow {
        inner: dummy.clone(),
        max_steps: 0,
    });
    let tools = Tools::new();
    let agent = ReAct::<Geo>::new(tools.all()).with_lm(lm);
    let err = agent.forward(ask("Capital?")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Lm {
                kind: LmErrorKind::ContextWindowExceeded,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(dummy.requests().len(), 1, "only the first step fitted");
}

#[tokio::test]
async fn call_returns_the_outputs_and_traces_both_predictors() {
    let dummy = DummyLm::new([
        step("Look.", "capital", json!({"country": "France"})),
        finish(),
        extraction("Paris"),
    ]);
    let tools = Tools::new();
    let agent = agent(&dummy, &tools);
    let (out, trace) = trace(agent.call(ask("Capital of France?"))).await;
    let out: GeoOutput = out.unwrap();
    assert_eq!(out.answer, "Paris");
    let trace = trace.with_names(&agent);
    let names: Vec<Option<&str>> = trace.entries.iter().map(|e| e.name.as_deref()).collect();
    assert_eq!(
        names,
        [Some("react"), Some("react"), Some("extract.predict")]
    );
    assert_eq!(trace.entries[0].output["next_tool_name"], "capital");
    assert_eq!(trace.entries[2].output["answer"], "Paris");
}

#[test]
fn predictors_are_named_as_in_dspy_and_the_step_carries_the_tool_list() {
    let tools = Tools::new();
    let mut agent = ReAct::<Geo>::new(tools.all());
    assert_eq!(agent.predictor_names(), ["react", "extract.predict"]);
    let react = agent.predictor("react").unwrap();
    assert!(react.effective_instructions().contains("(1) capital,"));
    assert_eq!(react.signature().name, "ReActStep<Geo>");
    let extract = agent.predictor("extract.predict").unwrap();
    assert_eq!(
        extract.effective_instructions(),
        "Answer questions about countries."
    );

    // An optimizer's demos land on the step predictor, typed.
    let demo = json!({
        "question": "Capital of Japan?", "trajectory": "",
        "next_thought": "Look.", "next_tool_name": "capital", "next_tool_args": {"country": "Japan"}
    });
    agent
        .predictor_mut("react")
        .unwrap()
        .set_demos_json(vec![demo.as_object().unwrap().clone()])
        .unwrap();
    assert_eq!(
        agent.react.demos[0]
            .example()
            .unwrap()
            .output
            .next_tool_name,
        "capital"
    );
    assert_eq!(
        agent.react.demos[0].example().unwrap().input.input.question,
        "Capital of Japan?"
    );

    let copy = agent.clone();
    assert_ne!(
        copy.predictor("react").unwrap().id(),
        agent.predictor("react").unwrap().id(),
        "a clone's predictors are told apart in traces"
    );
    assert_eq!(copy.tools().len(), 2);
    let debug = format!("{agent:?}");
    assert!(
        debug.contains("capital") && debug.contains("max_iters: 20"),
        "{debug}"
    );
}

#[tokio::test]
async fn demos_of_the_step_predictor_are_shown_in_the_step_prompt() {
    let dummy = DummyLm::new([finish(), extraction("Paris")]);
    let tools = Tools::new();
    let mut agent = agent(&dummy, &tools);
    agent
        .predictor_mut("react")
        .unwrap()
        .set_demos_json(vec![
            json!({
                "question": "Capital of Japan?", "trajectory": "",
                "next_thought": "Look it up.", "next_tool_name": "capital",
                "next_tool_args": {"country": "Japan"}
            })
            .as_object()
            .unwrap()
            .clone(),
        ])
        .unwrap();
    agent.forward(ask("Capital of France?")).await.unwrap();
    let first = messages(&dummy.requests()[0]);
    assert_eq!(first.len(), 4, "system, demo user, demo assistant, input");
    assert!(first[2].1.contains(
        "[[ ## next_tool_name ## ]]\ncapital\n\n[[ ## next_tool_args ## ]]\n{\"country\": \"Japan\"}"
    ));
}

#[tokio::test]
async fn works_through_the_json_adapter_too() {
    let dummy = DummyLm::new([
        step("Search.", "search", json!({"query": "France"})),
        step("Capital.", "capital", json!({"country": "France"})),
        finish(),
        extraction("Paris"),
    ]);
    let tools = Tools::new();
    let mut agent = agent(&dummy, &tools);
    agent.react = agent.react.clone().with_adapter(JsonAdapter::new());
    let run = agent.forward(ask("Capital of France?")).await.unwrap();
    assert_eq!(
        observations(&run.trajectory)[..2],
        [
            "Unknown tool `search`: next_tool_name must be one of capital, add, finish.",
            "Paris"
        ]
    );
    assert_eq!(run.answer, "Paris");
    let first = system(&dummy.requests()[0]);
    assert!(
        first.contains("Literal['capital', 'add', 'finish']"),
        "{first}"
    );
    assert_eq!(dummy.requests().len(), 4);
}
