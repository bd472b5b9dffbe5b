//! `ReAct`: an agent that reasons, calls typed tools and observes, step by step, until it can
//! produce the outputs of its signature.

mod lenient;
mod signatures;
mod stream;
mod tool;
mod trajectory;

pub use signatures::{ReActExtract, ReActStep, StepOutput, WithTrajectory};
pub use stream::{ReActEvent, ReActStream};
pub use tool::{Tool, ToolError};
pub use trajectory::{Step, StopReason, Trajectory};

use super::call::run_adapter_from;
use super::convert::{decode, to_fields};
use super::stream::stream_call;
use super::{
    ChainOfThought, DynPredictor, Module, Parameters, Predict, Prediction, StreamEvent,
    WithReasoning, child_name, trace,
};
use crate::adapter::{Adapter, FormatRequest, ResponseSchema, display_value, reask};
use crate::lm::{LM, Usage, track_usage};
use crate::signature::{Signature, SignatureInfo};
use crate::{Error, LmErrorKind, Result};
use lenient::LenientStep;
use serde_json::Value;
use signatures::{FINISH, FINISHED, TOOL_ARGS, answer_schema, step_info};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use stream::{Events, extraction_piece, step_text};

/// DSPy's default step limit.
const DEFAULT_MAX_ITERS: usize = 20;
/// Calls made with an ever shorter trajectory before a context-window error is final (as DSPy).
const TRUNCATION_ATTEMPTS: usize = 3;

/// What [`ReAct::forward`] returns: the outputs, and how the agent got there. Derefs to the
/// outputs.
#[derive(Debug, Clone)]
pub struct ReActPrediction<O> {
    /// The signature's outputs, extracted from the trajectory.
    pub output: O,
    /// The extraction's reasoning.
    pub reasoning: String,
    /// Every step the agent took.
    pub trajectory: Trajectory,
    /// Why the loop stopped.
    pub stop: StopReason,
    /// Tokens used by every LM call of the run.
    pub usage: Usage,
    /// LM calls made, steps and extraction together.
    pub lm_calls: u32,
}

impl<O> Deref for ReActPrediction<O> {
    type Target = O;
    fn deref(&self) -> &O {
        &self.output
    }
}

/// An agent over typed tools (DSPy's `ReAct`): at each step the LM writes `next_thought`, picks
/// `next_tool_name` (one of the tools, or `finish`) and `next_tool_args`; the tool's result is
/// appended to the trajectory as an observation. When the agent finishes, or after `max_iters`
/// steps, a [`ChainOfThought`] reads the trajectory and produces the signature's outputs.
///
/// Nothing the LM writes stops the run: an unknown tool, arguments that do not fit, and a tool
/// that fails (or panics) each become an observation the agent can react to. A step whose answer
/// cannot be read at all ends the loop, and the outputs are extracted from the steps so far.
///
/// Its predictors are named as in DSPy: `react` (the step) and `extract.predict`. The builders
/// of [`ConfigureExt`](crate::module::ConfigureExt) (`with_lm`, `temperature`, ...) set both. It
/// has no `with_instructions`: the step's instructions list the tools.
/// [`stream`](Self::stream) runs the same loop and reports each step and observation as it
/// happens.
///
/// ```
/// use dspy_core::module::ConfigureExt;
/// use dspy_core::{DummyLm, LM, Module, ReAct, Tool};
/// # use dspy_macros::Signature;
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use serde_json::json;
///
/// /// Answer with a number.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Math { #[input] question: String, #[output] answer: f64 }
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Pair { a: f64, b: f64 }
///
/// let multiply = Tool::new("multiply", "Multiply two numbers.", |p: Pair| async move {
///     Ok::<_, String>(p.a * p.b)
/// });
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([
///     json!({"next_thought": "Multiply.", "next_tool_name": "multiply", "next_tool_args": {"a": 6, "b": 7}}),
///     json!({"next_thought": "Done.", "next_tool_name": "finish", "next_tool_args": {}}),
///     json!({"reasoning": "The tool said 42.", "answer": 42}),
/// ]));
/// let agent = ReAct::<Math>::new([multiply]).max_iters(5).with_lm(lm);
/// let run = agent.forward(MathInput { question: "6 times 7?".into() }).await.unwrap();
/// assert_eq!(run.answer, 42.0);
/// assert_eq!(run.trajectory.steps[0].observation, json!(42.0));
/// # });
/// ```
pub struct ReAct<S: Signature> {
    /// The step predictor; its instructions list the tools.
    pub react: Predict<ReActStep<S>>,
    /// Extracts the outputs from the trajectory.
    pub extract: ChainOfThought<ReActExtract<S>>,
    tools: Arc<[Tool]>,
    /// The step signature for these tools: `next_tool_name` limited to their names.
    step_info: Arc<SignatureInfo>,
    /// The schema a step's answer is decoded under: the arguments one of the tools'.
    answer_schema: Arc<ResponseSchema>,
    max_iters: usize,
}

impl<S: Signature> ReAct<S> {
    /// An agent over `tools`, with at most 20 steps.
    ///
    /// Tools are listed to the LM in this order, then `finish`. Of two tools with one name the
    /// later is kept, and a tool named `finish` is replaced by the built-in one, as in DSPy.
    pub fn new(tools: impl IntoIterator<Item = Tool>) -> Self {
        let mut unique: Vec<Tool> = Vec::new();
        for tool in tools {
            if tool.name() == FINISH {
                continue;
            }
            match unique.iter_mut().find(|t| t.name() == tool.name()) {
                Some(slot) => *slot = tool,
                None => unique.push(tool),
            }
        }
        let step_info = step_info::<S>(&unique);
        ReAct {
            // The instructions carry the tool list, so optimizers read and rewrite it whole.
            react: Predict::new().with_instructions(step_info.instructions.clone()),
            extract: ChainOfThought::new(),
            answer_schema: Arc::new(answer_schema(&step_info, &unique)),
            tools: unique.into(),
            step_info: Arc::new(step_info),
            max_iters: DEFAULT_MAX_ITERS,
        }
    }

    /// Sets the most steps before the outputs are extracted anyway (default 20).
    #[must_use]
    pub fn max_iters(mut self, max_iters: usize) -> Self {
        self.max_iters = max_iters;
        self
    }

    /// The tools, in the order the LM sees them (`finish` not included).
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The step signature as the LM sees it: `next_tool_name` limited to the tools and `finish`.
    pub fn step_signature(&self) -> &SignatureInfo {
        &self.step_info
    }

    /// Runs the agent and returns the outputs with the trajectory.
    pub async fn forward(&self, input: S::Input) -> Result<ReActPrediction<S::Output>> {
        self.run(input, self.max_iters, &Events::off()).await
    }

    /// [`forward`](Self::forward) with at most `max_iters` steps for this call only, whatever
    /// [`max_iters`](Self::max_iters) the agent was built with (DSPy's per-call `max_iters`).
    ///
    /// ```
    /// use dspy_core::{ConfigureExt, DummyLm, LM, ReAct, Tool};
    /// use dspy_core::module::react::StopReason;
    /// # use dspy_macros::Signature;
    /// use schemars::JsonSchema;
    /// use serde::Deserialize;
    /// use serde_json::json;
    ///
    /// /// Answer with a number.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Math { #[input] question: String, #[output] answer: f64 }
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Pair { a: f64, b: f64 }
    ///
    /// let add = Tool::new("add", "Add two numbers.", |p: Pair| async move { Ok::<_, String>(p.a + p.b) });
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(DummyLm::new([
    ///     json!({"next_thought": "Add.", "next_tool_name": "add", "next_tool_args": {"a": 1, "b": 2}}),
    ///     json!({"reasoning": "The tool said 3.", "answer": 3}),
    /// ]));
    /// let agent = ReAct::<Math>::new([add]).with_lm(lm);
    /// // One step only: the agent never gets to call `finish`.
    /// let run = agent.forward_with_max_iters(MathInput { question: "1 + 2?".into() }, 1).await.unwrap();
    /// assert_eq!(run.trajectory.steps.len(), 1);
    /// assert_eq!(run.stop, StopReason::MaxIters);
    /// assert_eq!(run.answer, 3.0);
    /// # });
    /// ```
    pub async fn forward_with_max_iters(
        &self,
        input: S::Input,
        max_iters: usize,
    ) -> Result<ReActPrediction<S::Output>> {
        self.run(input, max_iters, &Events::off()).await
    }

    /// The agent loop, for `forward` and `stream` alike: `events` says whether (and where) to
    /// report the run as it goes.
    async fn run(
        &self,
        input: S::Input,
        max_iters: usize,
        events: &Events<'_, S::Output>,
    ) -> Result<ReActPrediction<S::Output>> {
        let mut trajectory = Trajectory::default();
        let mut usage = Usage::default();
        let mut lm_calls = 0;
        let mut stop = StopReason::MaxIters;
        for _ in 0..max_iters {
            // Measured around the step: a step that fails made its calls all the same.
            let (step, spent) = track_usage(with_truncation(&mut trajectory, |rendered| {
                self.step(
                    WithTrajectory {
                        input: input.clone(),
                        trajectory: rendered,
                    },
                    events,
                )
            }))
            .await;
            let step = match step {
                Ok(step) => step,
                Err(e) => {
                    usage += spent.usage;
                    lm_calls += u32::try_from(spent.calls + spent.cache_hits).unwrap_or(u32::MAX);
                    stop = match e {
                        e if is_context_window(&e) => {
                            StopReason::ContextWindowExceeded(e.to_string())
                        }
                        e @ Error::Parse { .. } => StopReason::UnreadableStep(e.to_string()),
                        e => return Err(e),
                    };
                    break;
                }
            };
            usage += step.usage;
            lm_calls += step.lm_calls;
            let StepOutput {
                next_thought,
                next_tool_name,
                next_tool_args,
            } = step.output;
            let index = trajectory.steps.len();
            events
                .emit(|| ReActEvent::Step {
                    index,
                    thought: next_thought.clone(),
                    tool_name: next_tool_name.clone(),
                    tool_args: next_tool_args.clone(),
                })
                .await;
            let observation = self.observe(&next_tool_name, &next_tool_args).await;
            events
                .emit(|| ReActEvent::Observation {
                    index,
                    tool_name: next_tool_name.clone(),
                    observation: observation.clone(),
                })
                .await;
            let finished = next_tool_name == FINISH;
            trajectory.steps.push(Step {
                thought: next_thought,
                tool_name: next_tool_name,
                tool_args: next_tool_args,
                observation,
            });
            if finished {
                stop = StopReason::Finished;
                break;
            }
        }
        let extracted = with_truncation(&mut trajectory, |rendered| {
            self.extract(
                WithTrajectory {
                    input: input.clone(),
                    trajectory: rendered,
                },
                events,
            )
        })
        .await?;
        usage += extracted.usage;
        Ok(ReActPrediction {
            output: extracted.output.output,
            reasoning: extracted.output.reasoning,
            trajectory,
            stop,
            usage,
            lm_calls: lm_calls + extracted.lm_calls,
        })
    }

    /// One step through the step predictor, with this agent's tools in the prompt; streamed when
    /// `events` are reported. Arguments that do not fit the tool chosen are asked for again once
    /// (see [`reask_args`](Self::reask_args)).
    async fn step(
        &self,
        input: WithTrajectory<S::Input>,
        events: &Events<'_, S::Output>,
    ) -> Result<Prediction<StepOutput>> {
        let predict = &self.react;
        let lm = predict.lm()?;
        let relaxed = ReActStep::<S>::relaxed_info();
        let adapter = LenientStep::wrap(
            predict.adapter_for(&lm),
            relaxed,
            self.answer_schema.clone(),
        );
        let fields = to_fields(&input)?;
        let demos = predict.demo_fields()?;
        let request = FormatRequest {
            signature: &self.step_info,
            instructions: predict
                .instructions
                .as_deref()
                .unwrap_or(&self.step_info.instructions),
            demos: &demos,
            input: &fields,
        };
        let config = &predict.config;
        let first = match events.reader().await {
            Some(mut reader) => {
                let reader = &mut **reader;
                stream_call(
                    &lm,
                    adapter.clone(),
                    &request,
                    config,
                    decode::<StepOutput>,
                    reader,
                    step_text,
                )
                .await?
            }
            None => {
                let adapter = adapter.clone();
                super::run_adapter(&lm, adapter, &request, config, decode::<StepOutput>).await?
            }
        };
        let prediction = match self.misfit(&first.output) {
            Some(problem) => {
                self.reask_args(&lm, adapter, &request, first, problem)
                    .await?
            }
            None => first,
        };
        trace::record::<ReActStep<S>>(predict.id, &input, &prediction.output);
        Ok(prediction)
    }

    /// Why the arguments of `step` do not fit the tool it chose, when they do not (an unknown
    /// tool is left to the observation).
    fn misfit(&self, step: &StepOutput) -> Option<String> {
        let tool = self
            .tools
            .iter()
            .find(|t| t.name() == step.next_tool_name)?;
        let error = tool.check(&step.next_tool_args).err()?;
        Some(format!(
            "the arguments {} do not fit the tool `{}` ({error}); it takes the arguments {}",
            display_value(&step.next_tool_args),
            tool.name(),
            tool.args_text()
        ))
    }

    /// Asks once more for the step whose answer `first` chose arguments that do not fit its
    /// tool, showing the LM its answer and `problem` (chat prompts only, as every re-ask). The
    /// new step when it can be read, else `first`, whose arguments then become an observation
    /// saying what is wrong; the calls of both are counted.
    async fn reask_args(
        &self,
        lm: &LM,
        adapter: Arc<dyn Adapter>,
        request: &FormatRequest<'_>,
        first: Prediction<StepOutput>,
        problem: String,
    ) -> Result<Prediction<StepOutput>> {
        let mut formatted = adapter.format(request);
        if !reask(&mut formatted, first.raw.clone(), TOOL_ARGS, &[problem]) {
            return Ok(first);
        }
        let config = &self.react.config;
        let again = run_adapter_from(lm, adapter, request, formatted, None, config, decode);
        let (again, spent) = track_usage(again).await;
        match again {
            Ok(mut second) => {
                second.lm_calls += first.lm_calls;
                second.usage += first.usage;
                Ok(second)
            }
            Err(Error::Parse { .. }) => {
                let mut first = first;
                first.lm_calls += u32::try_from(spent.calls + spent.cache_hits).unwrap_or(0);
                first.usage += spent.usage;
                Ok(first)
            }
            Err(error) => Err(error),
        }
    }

    /// The extraction through `extract`, streamed when `events` are reported.
    async fn extract(
        &self,
        input: WithTrajectory<S::Input>,
        events: &Events<'_, S::Output>,
    ) -> Result<Prediction<WithReasoning<S::Output>>> {
        let Some(mut reader) = events.reader().await else {
            return self.extract.forward(input).await;
        };
        let mut extraction = self.extract.stream(input);
        while let Some(event) = extraction.next().await {
            match event? {
                StreamEvent::Done(prediction) => return Ok(prediction),
                other => {
                    if let Some(event) = extraction_piece(other) {
                        reader.send(Ok(event)).await;
                    }
                }
            }
        }
        Err(Error::lm(
            LmErrorKind::Backend,
            "the extraction's stream ended without its prediction",
        ))
    }

    /// What the agent sees after calling `name` with `args`.
    async fn observe(&self, name: &str, args: &Value) -> Value {
        if name == FINISH {
            return Value::String(FINISHED.into());
        }
        let Some(tool) = self.tools.iter().find(|t| t.name() == name) else {
            let names: Vec<&str> = self.tools.iter().map(Tool::name).chain([FINISH]).collect();
            return Value::String(format!(
                "Unknown tool `{name}`: next_tool_name must be one of {}.",
                names.join(", ")
            ));
        };
        match tool.call(args.clone()).await {
            Ok(value) => value,
            Err(e @ ToolError::InvalidArgs(_)) => Value::String(format!(
                "Execution error in {name}: {e}; the arguments given were {}, and it takes the \
                 arguments {}.",
                display_value(args),
                tool.args_text()
            )),
            Err(e) => Value::String(format!("Execution error in {name}: {e}")),
        }
    }
}

/// Calls `call` with the rendered trajectory; when the prompt is too long for the model, leaves
/// out the oldest step and tries again, as DSPy does.
async fn with_truncation<T, Fut>(
    trajectory: &mut Trajectory,
    call: impl Fn(String) -> Fut,
) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    for _ in 0..TRUNCATION_ATTEMPTS {
        match call(trajectory.render()).await {
            Err(e) if is_context_window(&e) => {
                if !trajectory.truncate() {
                    return Err(Error::lm(
                        LmErrorKind::ContextWindowExceeded,
                        format!(
                            "the prompt is too long even with only one step of the trajectory \
                             shown ({e})"
                        ),
                    ));
                }
            }
            other => return other,
        }
    }
    Err(Error::lm(
        LmErrorKind::ContextWindowExceeded,
        format!(
            "the prompt is still too long after leaving out the {} oldest steps of the trajectory",
            trajectory.truncated
        ),
    ))
}

fn is_context_window(e: &Error) -> bool {
    matches!(
        e,
        Error::Lm {
            kind: LmErrorKind::ContextWindowExceeded,
            ..
        }
    )
}

impl<S: Signature> Module for ReAct<S> {
    type Input = S::Input;
    type Output = S::Output;

    async fn call(&self, input: S::Input) -> Result<S::Output> {
        self.forward(input).await.map(|run| run.output)
    }
}

/// Its predictors are `react` (the step) and `extract.predict`, as in DSPy.
impl<S: Signature> Parameters for ReAct<S> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.react
            .visit_predictors(&child_name(prefix, "react"), visit);
        self.extract
            .visit_predictors(&child_name(prefix, "extract"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.react
            .visit_predictors_mut(&child_name(prefix, "react"), visit);
        self.extract
            .visit_predictors_mut(&child_name(prefix, "extract"), visit);
    }
}

impl<S: Signature> Clone for ReAct<S> {
    fn clone(&self) -> Self {
        ReAct {
            react: self.react.clone(),
            extract: self.extract.clone(),
            tools: self.tools.clone(),
            step_info: self.step_info.clone(),
            answer_schema: self.answer_schema.clone(),
            max_iters: self.max_iters,
        }
    }
}

impl<S: Signature> fmt::Debug for ReAct<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReAct")
            .field("signature", &S::info().name)
            .field(
                "tools",
                &self.tools.iter().map(Tool::name).collect::<Vec<_>>(),
            )
            .field("max_iters", &self.max_iters)
            .field("react", &self.react)
            .field("extract", &self.extract)
            .finish()
    }
}
