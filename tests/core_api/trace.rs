//! Traces record every predictor call of a run, and concurrent runs never see each other's calls.

use dspy::lm::{BoxFuture, LmRequest, LmResponse};
use dspy::module::{Trace, trace as traced};
use dspy::prelude::*;
use serde_json::json;
use std::time::Duration;

/// Name the topic of the question.
#[derive(Signature, Clone, Debug)]
struct Topic {
    #[input]
    question: String,
    #[output]
    topic: String,
}

/// Answer the question, knowing its topic.
#[derive(Signature, Clone, Debug)]
struct Answer {
    #[input]
    question: String,
    #[input]
    topic: String,
    #[output]
    answer: String,
}

#[derive(Clone, Debug)]
struct TwoStage {
    topic: Predict<Topic>,
    answer: Predict<Answer>,
}

impl Module for TwoStage {
    type Input = TopicInput;
    type Output = AnswerOutput;

    async fn call(&self, input: TopicInput) -> dspy::Result<AnswerOutput> {
        let topic = self.topic.call(input.clone()).await?;
        self.answer
            .call(AnswerInput {
                question: input.question,
                topic: topic.topic,
            })
            .await
    }
}

impl Parameters for TwoStage {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.topic
            .visit_predictors(&dspy::module::child_name(prefix, "topic"), visit);
        self.answer
            .visit_predictors(&dspy::module::child_name(prefix, "answer"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.topic
            .visit_predictors_mut(&dspy::module::child_name(prefix, "topic"), visit);
        self.answer
            .visit_predictors_mut(&dspy::module::child_name(prefix, "answer"), visit);
    }
}

/// Delays each answer by a few milliseconds that depend on the prompt, so concurrent runs
/// interleave their calls.
#[derive(Debug)]
struct Jittery(DummyLm);

impl LanguageModel for Jittery {
    fn model(&self) -> &str {
        "jittery"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        Box::pin(async move {
            let text = request.prompt.to_text();
            let spin = text
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
            tokio::time::sleep(Duration::from_millis(spin % 7)).await;
            self.0.complete(request).await
        })
    }
}

fn question(i: usize) -> String {
    format!("What is item <{i}> ?")
}

/// An LM answering question `i` with topic `t{i}` and answer `a{i}`, whichever stage asks.
fn lm(n: usize) -> LM {
    LM::new(Jittery(
        DummyLm::keyed((0..n).map(|i| {
            (
                format!("<{i}>"),
                json!({"topic": format!("t{i}"), "answer": format!("a{i}")}),
            )
        }))
        .without_recording(),
    ))
}

fn program() -> TwoStage {
    TwoStage {
        topic: Predict::new(),
        answer: Predict::new(),
    }
}

fn check_trace(i: usize, trace: &Trace) {
    assert_eq!(trace.len(), 2, "run {i}: {trace:?}");
    let topic = &trace.entries[0];
    assert_eq!(topic.name.as_deref(), Some("topic"));
    assert_eq!(topic.input["question"], json!(question(i)));
    assert_eq!(topic.output["topic"], json!(format!("t{i}")));
    let typed = topic.example::<Topic>().expect("a Topic example");
    assert_eq!(typed.topic, format!("t{i}"));
    assert!(topic.example::<Answer>().is_none());

    let answer = &trace.entries[1];
    assert_eq!(answer.name.as_deref(), Some("answer"));
    assert_eq!(answer.signature.name, "Answer");
    assert_eq!(
        answer.demo(),
        json!({"question": question(i), "topic": format!("t{i}"), "answer": format!("a{i}")})
            .as_object()
            .cloned()
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_in_spawned_tasks_keep_their_own_traces() {
    const N: usize = 64;
    let program = std::sync::Arc::new(program());
    let lm = lm(N);
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let program = program.clone();
            let lm = lm.clone();
            tokio::spawn(async move {
                let run = program.call(TopicInput {
                    question: question(i),
                });
                let (out, trace) = traced(with_lm(lm, run)).await;
                (out, trace.with_names(&*program))
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let (out, trace) = handle.await.expect("task ran");
        assert_eq!(out.expect("run succeeded").answer, format!("a{i}"));
        check_trace(i, &trace);
    }
}

#[tokio::test]
async fn concurrent_runs_joined_in_one_task_keep_their_own_traces() {
    const N: usize = 48;
    let program = program();
    let runs = (0..N).map(|i| {
        let program = &program;
        async move {
            let (out, trace) = traced(program.call(TopicInput {
                question: question(i),
            }))
            .await;
            (out, trace.with_names(program))
        }
    });
    let results = with_lm(lm(N), join_all(runs)).await;
    for (i, (out, trace)) in results.into_iter().enumerate() {
        assert_eq!(out.expect("run succeeded").answer, format!("a{i}"));
        check_trace(i, &trace);
    }
}

#[tokio::test]
async fn failed_calls_are_kept_as_failures_and_outside_calls_are_unnamed() {
    let program = program();
    // Stage one answers; stage two gets an unreadable answer, then the re-ask too.
    let dummy = DummyLm::new([
        json!({"topic": "t"}),
        json!("???"),
        json!("???"),
        json!("???"),
    ]);
    let (out, trace) = traced(with_lm(
        LM::new(dummy),
        program.call(TopicInput {
            question: "q".into(),
        }),
    ))
    .await;
    assert!(out.is_err());
    let trace = trace.with_names(&program);
    assert_eq!(trace.len(), 1);
    assert_eq!(trace.by_name("topic").count(), 1);
    assert_eq!(trace.by_name("answer").count(), 0);
    // The unreadable answer is kept apart, with what the stage was given and what came back.
    assert_eq!(trace.failures.len(), 1);
    let failed: Vec<_> = trace.failures_by_name("answer").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].raw, "???");
    assert_eq!(failed[0].input["topic"], json!("t"));
    assert!(
        failed[0].error.contains("could not parse"),
        "{}",
        failed[0].error
    );
    assert_eq!(trace.failures_by_name("topic").count(), 0);

    // The same calls traced against another program (a clone) are not attributed to it.
    let clone = program.clone();
    let (_, trace) = traced(with_lm(
        LM::new(DummyLm::new([
            json!({"topic": "t"}),
            json!({"answer": "a"}),
        ])),
        program.call(TopicInput {
            question: "q".into(),
        }),
    ))
    .await;
    let trace = trace.with_names(&clone);
    assert_eq!(trace.len(), 2);
    assert!(trace.entries.iter().all(|e| e.name.is_none()));
}

#[tokio::test]
async fn nested_scopes_record_in_the_innermost_only() {
    let program = program();
    let lm = LM::new(DummyLm::new([
        json!({"topic": "t"}),
        json!({"answer": "a"}),
        json!({"topic": "u"}),
    ]));
    let ((inner, outer_call), outer) = with_lm(
        lm,
        traced(async {
            let (_, inner) = traced(program.call(TopicInput {
                question: "q".into(),
            }))
            .await;
            let outer_call = program
                .topic
                .call(TopicInput {
                    question: "r".into(),
                })
                .await;
            (inner, outer_call)
        }),
    )
    .await;
    assert_eq!(outer_call.expect("answered").topic, "u");
    assert_eq!(inner.len(), 2);
    assert_eq!(outer.len(), 1);
    assert_eq!(outer.entries[0].output["topic"], json!("u"));
}

#[test]
fn parameters_name_and_mutate_each_predictor() {
    let mut program = program();
    assert_eq!(program.predictor_names(), ["topic", "answer"]);
    let answer = program.predictor_mut("answer").expect("named answer");
    answer.set_instructions(Some("Answer in one word.".into()));
    let demo = json!({"question": "q", "topic": "t", "answer": "a"});
    answer
        .set_demos_json(vec![demo.as_object().cloned().unwrap()])
        .unwrap();
    assert_eq!(program.answer.demos[0].example().unwrap().answer, "a");
    assert_eq!(
        program.answer.effective_instructions(),
        "Answer in one word."
    );

    // A demo that does not fit the signature is refused and changes nothing.
    let bad = json!({"question": "q", "answer": 3});
    let err = program
        .predictor_mut("answer")
        .unwrap()
        .set_demos_json(vec![bad.as_object().cloned().unwrap()])
        .unwrap_err();
    assert!(matches!(err, Error::State(_)), "{err}");
    assert_eq!(program.answer.demos.len(), 1);
    assert!(program.predictor("missing").is_none());
}

/// `futures::future::join_all` without the dependency: polls every future in turn.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
