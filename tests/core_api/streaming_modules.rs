//! Streaming beyond `Predict`: `ChainOfThought::stream` and `ReAct::stream`, on `DummyLm` (which
//! streams its answers in small pieces). The rule, as in `streaming`: a stream ends with
//! exactly what the plain call returns, with the same requests, trace and usage.

use dspy::lm::{BoxFuture, ChunkStream, LmRequest, LmResponse};
use dspy::module::react::{ReActEvent, ReActStream, StopReason};
use dspy::module::react::{ReActPrediction, Trajectory};
use dspy::module::{Trace, trace};
use dspy::prelude::*;
use dspy::{LmErrorKind, PredictorId};
use futures_util::StreamExt;
use serde_json::{Value, json};

fn as_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Streams the inner model's answer but breaks after `after` pieces, as a dropped connection.
#[derive(Debug)]
struct BrokenStream {
    inner: DummyLm,
    after: usize,
}

impl LanguageModel for BrokenStream {
    fn model(&self) -> &str {
        "broken-stream"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        self.inner.complete(request)
    }

    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        let broken = futures_util::stream::once(async {
            Err(Error::lm(LmErrorKind::Server, "the connection dropped"))
        });
        Box::pin(self.inner.stream(request).take(self.after).chain(broken))
    }
}

fn is_dropped_connection(error: &Error) -> bool {
    matches!(
        error,
        Error::Lm {
            kind: LmErrorKind::Server,
            ..
        }
    ) && error.to_string().contains("the connection dropped")
}

// ---------------------------------------------------------------------------------------------
// ChainOfThought

/// Answer with a number.
#[derive(Signature, Clone, Debug)]
struct Sum {
    #[input]
    question: String,
    #[output(desc = "the sum")]
    answer: i64,
}

fn question() -> SumInput {
    SumInput {
        question: "What is 19 + 23?".into(),
    }
}

fn reasoned() -> Value {
    json!({"reasoning": "19 and 23: 19 + 20 is 39, plus 3 is 42.", "answer": 42})
}

/// What a chain-of-thought stream yielded, taken apart.
struct Streamed {
    deltas: Vec<String>,
    fields: Vec<(String, Value)>,
    /// Where each field event came, counted in deltas seen before it.
    field_after_deltas: Vec<usize>,
    done: Option<Prediction<WithReasoning<SumOutput>>>,
    error: Option<Error>,
    events_after_end: usize,
}

async fn collect(mut stream: PredictionStream<'_, WithReasoning<SumOutput>>) -> Streamed {
    let mut out = Streamed {
        deltas: Vec::new(),
        fields: Vec::new(),
        field_after_deltas: Vec::new(),
        done: None,
        error: None,
        events_after_end: 0,
    };
    while let Some(event) = stream.next().await {
        if out.done.is_some() || out.error.is_some() {
            out.events_after_end += 1;
            continue;
        }
        match event {
            Ok(StreamEvent::Delta(text)) => out.deltas.push(text),
            Ok(StreamEvent::Field { name, value }) => {
                out.fields.push((name, value));
                out.field_after_deltas.push(out.deltas.len());
            }
            Ok(StreamEvent::Done(prediction)) => out.done = Some(prediction),
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(error) => out.error = Some(error),
        }
    }
    out
}

#[tokio::test]
async fn chain_of_thought_streams_reasoning_before_the_outputs() {
    let forward_lm = DummyLm::new([reasoned()]);
    let cot = ChainOfThought::<Sum>::new();
    let (expected, forward_trace) =
        with_lm(LM::new(forward_lm.clone()), trace(cot.forward(question()))).await;
    let expected = expected.unwrap();

    let stream_lm = DummyLm::new([reasoned()]);
    let lm = LM::new(stream_lm.clone());
    let (streamed, stream_trace) =
        with_lm(lm.clone(), trace(collect(cot.stream(question())))).await;
    assert!(streamed.error.is_none(), "{:?}", streamed.error);
    assert_eq!(streamed.events_after_end, 0, "nothing after Done");
    let done = streamed.done.expect("a Done event");

    // Done is what `forward` returns, reasoning included.
    assert_eq!(as_json(&done.output), as_json(&expected.output));
    assert_eq!(done.reasoning, "19 and 23: 19 + 20 is 39, plus 3 is 42.");
    assert_eq!(done.answer, 42);
    assert_eq!(done.raw, expected.raw);
    assert_eq!(done.usage, expected.usage);
    assert_eq!((done.lm_calls, expected.lm_calls), (1, 1));
    assert_eq!(done.fixes, expected.fixes);
    assert_eq!(
        stream_lm.requests(),
        forward_lm.requests(),
        "the same request"
    );

    // The reasoning first, then the answer, each once; the reasoning while text still came.
    let names: Vec<&str> = streamed.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["reasoning", "answer"]);
    assert_eq!(streamed.fields[0].1, json!(done.reasoning));
    assert_eq!(streamed.fields[1].1, json!(42));
    assert!(streamed.deltas.len() > 5, "{:?}", streamed.deltas);
    assert!(
        streamed.field_after_deltas[0] < streamed.deltas.len(),
        "reasoning reported mid-stream: after {:?} of {} deltas",
        streamed.field_after_deltas,
        streamed.deltas.len()
    );
    assert_eq!(streamed.deltas.concat(), expected.raw);

    // The same trace entry, from the same predictor, and the call counted once.
    assert_eq!(stream_trace.len(), 1);
    assert_eq!(stream_trace.entries[0].predictor, cot.predict.id());
    assert_eq!(
        stream_trace.entries[0].output,
        forward_trace.entries[0].output
    );
    assert_eq!(
        stream_trace.entries[0].input,
        forward_trace.entries[0].input
    );
    assert_eq!(lm.usage().calls, 1);
    assert_eq!(lm.usage().usage, done.usage);
}

#[tokio::test]
async fn chain_of_thought_stream_ends_with_an_lm_error_midway() {
    // Cut the answer one piece before its end: the reasoning is complete by then, the answer
    // (closed only by the `completed` marker) is not.
    let full = ChainOfThought::<Sum>::new()
        .with_lm(LM::new(DummyLm::new([reasoned()])))
        .forward(question())
        .await
        .unwrap()
        .raw;
    let pieces = full.chars().count().div_ceil(3);
    let broken = || BrokenStream {
        inner: DummyLm::new([reasoned()]).chunk_chars(3),
        after: pieces - 1,
    };

    let cot = ChainOfThought::<Sum>::new().with_lm(LM::new(broken()));
    let (streamed, trace) = trace(collect(cot.stream(question()))).await;
    assert!(streamed.done.is_none());
    assert_eq!(streamed.events_after_end, 0, "nothing after the error");
    let error = streamed.error.expect("the stream ends with the error");
    assert!(is_dropped_connection(&error), "{error}");
    assert_eq!(streamed.deltas.len(), pieces - 1);
    let names: Vec<&str> = streamed.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["reasoning"], "what completed before the break");
    assert!(trace.is_empty(), "a failed call is not traced");

    // `prediction()` gives the same error.
    let cot = ChainOfThought::<Sum>::new().with_lm(LM::new(broken()));
    let error = cot.stream(question()).prediction().await.unwrap_err();
    assert!(is_dropped_connection(&error), "{error}");
}

// ---------------------------------------------------------------------------------------------
// ReAct

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

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "capital",
            "Looks up the capital city of a country.",
            |args: CapitalArgs| async move {
                match args.country.as_str() {
                    "France" => Ok("Paris".to_string()),
                    "Japan" => Ok("Tokyo".to_string()),
                    other => Err(format!("no country called {other}")),
                }
            },
        ),
        Tool::new("add", "Adds two numbers.", |args: AddArgs| async move {
            Ok::<_, String>(args.a + args.b)
        }),
    ]
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

/// Everything an agent stream yielded, in order, stopping at the end or the first error.
struct Run {
    events: Vec<ReActEvent<GeoOutput>>,
    error: Option<Error>,
    events_after_end: usize,
}

impl Run {
    fn done(&self) -> Option<&ReActPrediction<GeoOutput>> {
        match self.events.last() {
            Some(ReActEvent::Done(run)) => Some(run),
            _ => None,
        }
    }

    /// The steps the events describe, each `Step` completed by the `Observation` after it.
    fn steps(&self) -> Trajectory {
        let mut trajectory = Trajectory::default();
        for event in &self.events {
            match event {
                ReActEvent::Step {
                    index,
                    thought,
                    tool_name,
                    tool_args,
                } => {
                    assert_eq!(*index, trajectory.steps.len(), "steps in order");
                    trajectory.steps.push(dspy::module::react::Step {
                        thought: thought.clone(),
                        tool_name: tool_name.clone(),
                        tool_args: tool_args.clone(),
                        observation: Value::Null,
                    });
                }
                ReActEvent::Observation {
                    index,
                    tool_name,
                    observation,
                } => {
                    assert_eq!(*index + 1, trajectory.steps.len(), "after its step");
                    let step = &mut trajectory.steps[*index];
                    assert_eq!(&step.tool_name, tool_name);
                    assert_eq!(step.observation, Value::Null, "one observation per step");
                    step.observation = observation.clone();
                }
                _ => {}
            }
        }
        trajectory
    }

    /// The text streamed before each `Step` event and after the last observation.
    fn text_segments(&self) -> (Vec<String>, String) {
        let mut before_steps = Vec::new();
        let mut text = String::new();
        for event in &self.events {
            match event {
                ReActEvent::Delta(delta) => text.push_str(delta),
                ReActEvent::Step { .. } => before_steps.push(std::mem::take(&mut text)),
                ReActEvent::Observation { .. } => text.clear(),
                _ => {}
            }
        }
        (before_steps, text)
    }

    fn fields(&self) -> Vec<(String, Value)> {
        self.events
            .iter()
            .filter_map(|event| match event {
                ReActEvent::Field { name, value } => Some((name.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }
}

async fn read(mut stream: ReActStream<'_, GeoOutput>) -> Run {
    let mut run = Run {
        events: Vec::new(),
        error: None,
        events_after_end: 0,
    };
    while let Some(event) = stream.next().await {
        if run.done().is_some() || run.error.is_some() {
            run.events_after_end += 1;
            continue;
        }
        match event {
            Ok(event) => run.events.push(event),
            Err(error) => run.error = Some(error),
        }
    }
    run
}

fn trace_summary(trace: &Trace) -> Vec<(PredictorId, Value, Value)> {
    trace
        .entries
        .iter()
        .map(|e| {
            (
                e.predictor,
                Value::Object(e.input.clone()),
                Value::Object(e.output.clone()),
            )
        })
        .collect()
}

/// Runs `agent` on `script` with `forward` and with `stream`, each on its own `DummyLm`, checks
/// that both runs are the same in every respect, and returns the streamed one.
async fn stream_equals_forward(agent: &ReAct<Geo>, script: &[Value], question: &str) -> Run {
    let forward_lm = DummyLm::new(script.to_vec());
    let forward_handle = LM::new(forward_lm.clone());
    let (expected, forward_trace) =
        with_lm(forward_handle.clone(), trace(agent.forward(ask(question)))).await;
    let expected = expected.unwrap();

    let stream_lm = DummyLm::new(script.to_vec());
    let lm = LM::new(stream_lm.clone());
    let (run, stream_trace) = with_lm(lm.clone(), trace(read(agent.stream(ask(question))))).await;
    assert!(run.error.is_none(), "{:?}", run.error);
    assert_eq!(run.events_after_end, 0, "nothing after Done");
    let done = run.done().expect("Done last");

    assert_eq!(as_json(&done.output), as_json(&expected.output));
    assert_eq!(done.reasoning, expected.reasoning);
    assert_eq!(done.trajectory, expected.trajectory);
    assert_eq!(done.stop, expected.stop);
    assert_eq!(done.usage, expected.usage);
    assert_eq!(done.lm_calls, expected.lm_calls);
    assert_eq!(
        stream_lm.requests(),
        forward_lm.requests(),
        "the same prompts"
    );
    assert_eq!(stream_lm.remaining(), 0, "the whole script was used");
    assert_eq!(trace_summary(&stream_trace), trace_summary(&forward_trace));
    // What the LM counted, calls that failed to parse included.
    let (streamed_usage, forward_usage) = (lm.usage(), forward_handle.usage());
    assert_eq!(
        (streamed_usage.calls, streamed_usage.usage),
        (forward_usage.calls, forward_usage.usage)
    );

    // The Step and Observation events are the trajectory, step by step.
    assert_eq!(run.steps(), done.trajectory);
    // The extraction's fields, reasoning first, as in Done.
    let fields = run.fields();
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["reasoning", "answer"]);
    assert_eq!(fields[0].1, json!(done.reasoning));
    assert_eq!(fields[1].1, json!(done.answer));
    run
}

#[tokio::test]
async fn react_streams_each_step_then_its_observation_then_done() {
    let script = [
        step(
            "Find the capital first.",
            "capital",
            json!({"country": "France"}),
        ),
        step("Now add.", "add", json!({"a": 2, "b": 3.5})),
        finish(),
        extraction("Paris, and 5.5"),
    ];
    let agent = ReAct::<Geo>::new(tools());
    let run = stream_equals_forward(
        &agent,
        &script,
        "What is the capital of France, and 2 + 3.5?",
    )
    .await;
    let done = run.done().unwrap();
    assert_eq!(done.answer, "Paris, and 5.5");
    assert_eq!(done.stop, StopReason::Finished);

    // The order of the events, without the text.
    let order: Vec<String> = run
        .events
        .iter()
        .filter_map(|event| match event {
            ReActEvent::Step {
                index, tool_name, ..
            } => Some(format!("step {index} {tool_name}")),
            ReActEvent::Observation {
                index, observation, ..
            } => Some(format!("observation {index} {observation}")),
            ReActEvent::Field { name, .. } => Some(format!("field {name}")),
            ReActEvent::Done(_) => Some("done".into()),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "step 0 capital",
            "observation 0 \"Paris\"",
            "step 1 add",
            "observation 1 5.5",
            "step 2 finish",
            "observation 2 \"Completed.\"",
            "field reasoning",
            "field answer",
            "done",
        ]
    );

    // Each step's text streams before its Step event, the extraction's after the last
    // observation; all of it in small pieces.
    let (before_steps, extraction_text) = run.text_segments();
    assert_eq!(before_steps.len(), 3);
    assert!(before_steps[0].contains("Find the capital first."));
    assert!(before_steps[1].contains("[[ ## next_tool_name ## ]]\nadd"));
    assert!(before_steps[2].contains("I have what I need."));
    assert!(extraction_text.contains("[[ ## answer ## ]]\nParis, and 5.5"));
    let deltas = run
        .events
        .iter()
        .filter(|e| matches!(e, ReActEvent::Delta(_)))
        .count();
    assert!(deltas > 20, "{deltas} deltas");
}

#[tokio::test]
async fn a_failing_tool_is_an_observation_not_a_stream_error() {
    let script = [
        step("Look it up.", "capital", json!({"country": "Atlantis"})),
        step("Maybe a typo.", "capitol", json!({"country": "Atlantis"})),
        step("Give up.", "finish", json!({})),
        extraction("unknown"),
    ];
    let agent = ReAct::<Geo>::new(tools());
    let run = stream_equals_forward(&agent, &script, "Capital of Atlantis?").await;
    let observations: Vec<String> = run
        .events
        .iter()
        .filter_map(|event| match event {
            ReActEvent::Observation { observation, .. } => Some(observation.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(observations.len(), 3);
    assert!(
        observations[0].contains("Execution error in capital: no country called Atlantis"),
        "{observations:?}"
    );
    assert!(
        observations[1].contains("Unknown tool `capitol`"),
        "{observations:?}"
    );
    assert_eq!(run.done().unwrap().answer, "unknown");
}

#[tokio::test]
async fn max_iters_holds_when_streaming() {
    // The agent never calls `finish`: the third step is never asked for.
    let script = [
        step("Look.", "capital", json!({"country": "Japan"})),
        step("Look again.", "capital", json!({"country": "France"})),
        extraction("Tokyo"),
    ];
    let agent = ReAct::<Geo>::new(tools()).max_iters(2);
    let run = stream_equals_forward(&agent, &script, "Capital of Japan?").await;
    let done = run.done().unwrap();
    assert_eq!(done.stop, StopReason::MaxIters);
    assert_eq!(done.trajectory.steps.len(), 2);
    assert_eq!(done.lm_calls, 3, "two steps, then the extraction");
    let steps = run
        .events
        .iter()
        .filter(|e| matches!(e, ReActEvent::Step { .. }))
        .count();
    assert_eq!(steps, 2);
}

#[tokio::test]
async fn an_unreadable_step_ends_the_streamed_loop_as_forward_does() {
    let garbage = json!("I am not sure what to do next.");
    let script = [
        step("Look.", "capital", json!({"country": "France"})),
        // The streamed answer, then the JSON fallback and the re-ask as plain calls.
        garbage.clone(),
        garbage.clone(),
        garbage,
        extraction("Paris"),
    ];
    let agent = ReAct::<Geo>::new(tools());
    let run = stream_equals_forward(&agent, &script, "Capital of France?").await;
    let done = run.done().unwrap();
    assert!(
        matches!(&done.stop, StopReason::UnreadableStep(_)),
        "{:?}",
        done.stop
    );
    assert_eq!(done.trajectory.steps.len(), 1);
}

#[tokio::test]
async fn an_lm_error_ends_the_agent_stream_as_it_fails_forward() {
    let script = || {
        DummyLm::new([
            step("Look.", "capital", json!({"country": "France"})),
            finish(),
        ])
    };
    let agent = ReAct::<Geo>::new(tools());

    // The script runs out at the extraction: `forward` fails, and the stream ends with the
    // same error after reporting both steps.
    let forward_error = with_lm(LM::new(script()), agent.forward(ask("Capital of France?")))
        .await
        .unwrap_err();
    assert!(matches!(
        forward_error,
        Error::Lm {
            kind: LmErrorKind::Backend,
            ..
        }
    ));
    let run = with_lm(
        LM::new(script()),
        read(agent.stream(ask("Capital of France?"))),
    )
    .await;
    let error = run.error.as_ref().expect("the stream ends with the error");
    assert!(matches!(
        error,
        Error::Lm {
            kind: LmErrorKind::Backend,
            ..
        }
    ));
    assert!(run.done().is_none());
    assert_eq!(run.events_after_end, 0);
    assert_eq!(run.steps().steps.len(), 2, "both steps were reported");

    // A break inside a step's streamed answer ends the stream too: no observation for it.
    let broken = LM::new(BrokenStream {
        inner: script(),
        after: 4,
    });
    let run = with_lm(broken, read(agent.stream(ask("Capital of France?")))).await;
    let error = run.error.as_ref().expect("the stream ends with the error");
    assert!(is_dropped_connection(error), "{error}");
    assert!(run.steps().steps.is_empty());
    let deltas = run
        .events
        .iter()
        .filter(|e| matches!(e, ReActEvent::Delta(_)))
        .count();
    assert_eq!(deltas, 4);
}

#[tokio::test]
async fn max_iters_can_be_set_for_one_call() {
    let agent = ReAct::<Geo>::new(tools()).max_iters(1);

    let dummy = DummyLm::new([
        step("Look.", "capital", json!({"country": "Japan"})),
        step("Look again.", "capital", json!({"country": "France"})),
        finish(),
        extraction("Tokyo"),
    ]);
    let run = with_lm(
        LM::new(dummy.clone()),
        agent.forward_with_max_iters(ask("Capital of Japan?"), 3),
    )
    .await
    .unwrap();
    assert_eq!(run.stop, StopReason::Finished);
    assert_eq!(run.trajectory.steps.len(), 3);
    assert_eq!(dummy.remaining(), 0);

    // The agent's own limit is unchanged: one step, then the extraction.
    let dummy = DummyLm::new([
        step("Look.", "capital", json!({"country": "Japan"})),
        extraction("Tokyo"),
    ]);
    let run = with_lm(
        LM::new(dummy.clone()),
        agent.forward(ask("Capital of Japan?")),
    )
    .await
    .unwrap();
    assert_eq!(run.stop, StopReason::MaxIters);
    assert_eq!(run.trajectory.steps.len(), 1);
    assert_eq!(run.answer, "Tokyo");
    assert_eq!(dummy.requests().len(), 2);
}

#[tokio::test]
async fn a_step_is_reported_before_its_tool_runs() {
    let calls = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let counted = calls.clone();
    let count = Tool::new("count", "Counts its calls.", move |_: AddArgs| {
        let counted = counted.clone();
        async move {
            let mut calls = counted.lock().unwrap();
            *calls += 1;
            Ok::<_, String>(*calls)
        }
    });
    let dummy = DummyLm::new([
        step("Once.", "count", json!({"a": 1, "b": 2})),
        step("Twice.", "count", json!({"a": 1, "b": 2})),
        finish(),
        extraction("2"),
    ]);
    let agent = ReAct::<Geo>::new([count]).with_lm(LM::new(dummy));
    let mut stream = agent.stream(ask("Count twice."));
    // Tool calls made when each Step and each Observation was read.
    let mut seen = Vec::new();
    while let Some(event) = stream.next().await {
        let made = *calls.lock().unwrap();
        match event.unwrap() {
            ReActEvent::Step { index, .. } => seen.push(format!("step {index}: {made}")),
            ReActEvent::Observation { index, .. } => {
                seen.push(format!("observation {index}: {made}"))
            }
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            "step 0: 0",
            "observation 0: 1",
            "step 1: 1",
            "observation 1: 2",
            "step 2: 2",
            "observation 2: 2",
        ]
    );
}
