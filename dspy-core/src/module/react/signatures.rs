//! The two signatures [`ReAct`](super::ReAct) calls, built from the user's signature `S`: one
//! agent step, and the final extraction of `S`'s outputs from the trajectory.

use super::tool::Tool;
use crate::adapter::{ResponseSchema, response_schema};
use crate::signature::{FieldSpec, Signature, SignatureInfo, info_for};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::fmt;
use std::marker::PhantomData;

/// The name of the built-in tool that ends the loop.
pub(super) const FINISH: &str = "finish";
/// What the `finish` tool returns.
pub(super) const FINISHED: &str = "Completed.";
pub(super) const TOOL_NAME: &str = "next_tool_name";
pub(super) const TOOL_ARGS: &str = "next_tool_args";

/// `S`'s inputs plus the trajectory so far: the input of both agent signatures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WithTrajectory<I> {
    /// The program's input.
    #[serde(flatten)]
    pub input: I,
    /// The steps taken so far, rendered as text.
    pub trajectory: String,
}

/// What the agent decides at each step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepOutput {
    /// Its reasoning about where things stand.
    pub next_thought: String,
    /// The tool to call, or `finish`. Kept as text so a name that is not a tool reaches the
    /// agent loop (and becomes an observation) instead of failing the parse.
    pub next_tool_name: String,
    /// The tool's arguments, as the LM wrote them (an object, when well-formed).
    pub next_tool_args: Value,
}

/// One agent step of [`ReAct`](super::ReAct) over signature `S`: the inputs of `S` and the
/// trajectory in, `next_thought`, `next_tool_name` and `next_tool_args` out. Values of it are
/// the step predictor's demos.
pub struct ReActStep<S: Signature> {
    /// The input of the step.
    pub input: WithTrajectory<S::Input>,
    /// The step the agent took.
    pub output: StepOutput,
}

/// The final extraction of [`ReAct`](super::ReAct) over signature `S`: the inputs of `S` and the
/// trajectory in, the outputs of `S` out (called through a `ChainOfThought`, as DSPy does).
pub struct ReActExtract<S: Signature> {
    /// The input of the extraction.
    pub input: WithTrajectory<S::Input>,
    /// The outputs of `S`.
    pub output: S::Output,
}

/// Marks the relaxed step signature's entry in [`info_for`].
struct Relaxed<S>(PhantomData<S>);

/// The trajectory input field, shared by both signatures.
fn with_trajectory(base: &SignatureInfo, name: String) -> SignatureInfo {
    let mut info = SignatureInfo::new(name);
    info.inputs = base.inputs.clone();
    info.inputs.push(FieldSpec::of::<String>("trajectory", ""));
    info
}

/// `dict[str, Any]`, as DSPy types `next_tool_args`.
fn args_field() -> FieldSpec {
    let mut field = FieldSpec::from_schema(
        TOOL_ARGS,
        "",
        json!({"type": "object", "additionalProperties": true}),
    );
    field.type_hint = "dict[str, Any]".into();
    field
}

/// The schema a step's answer is decoded under (structured output, the local model's grammar):
/// `info`'s, but with `next_tool_args` one of the tools' argument objects (`finish`'s empty one
/// among them) instead of any object. Prompts keep DSPy's `dict[str, Any]` and list each tool's
/// arguments; the step then checks the arguments against the tool chosen.
pub(super) fn answer_schema(info: &SignatureInfo, tools: &[Tool]) -> ResponseSchema {
    let empty = json!({"type": "object", "properties": {}});
    let mut choices: Vec<Value> = Vec::new();
    let objects = tools.iter().map(|tool| match tool.schema().get("type") {
        Some(kind) if kind == "object" => tool.schema().clone(),
        // `()` and unit structs take `{}`.
        _ => empty.clone(),
    });
    for choice in objects.chain([empty.clone()]) {
        if !choices.contains(&choice) {
            choices.push(choice);
        }
    }
    let mut decoding = info.clone();
    for field in &mut decoding.outputs {
        if field.name == TOOL_ARGS {
            field.schema = json!({"anyOf": choices});
        }
    }
    response_schema(&decoding)
}

/// `next_tool_name` restricted to `names` (a `Literal[...]` in prompts, an enum in schemas).
fn tool_name_field(names: &[&str]) -> FieldSpec {
    FieldSpec::from_schema(TOOL_NAME, "", json!({"type": "string", "enum": names}))
}

/// The step signature for a given set of tools: instructions listing them, and
/// `next_tool_name` restricted to their names and `finish`. [`ReActStep::info`] is this with no
/// tools.
pub(super) fn step_info<S: Signature>(tools: &[Tool]) -> SignatureInfo {
    let base = S::info();
    let mut info = with_trajectory(base, format!("ReActStep<{}>", base.name));
    let mut names: Vec<&str> = tools.iter().map(Tool::name).collect();
    names.push(FINISH);
    info.outputs = vec![
        FieldSpec::of::<String>("next_thought", ""),
        tool_name_field(&names),
        args_field(),
    ];
    info.instructions = step_instructions(base, tools);
    info.has_custom_instructions = true;
    info
}

/// The instructions of one agent step, in DSPy's order: the task, the agent's role, how a turn
/// works, then every tool with its description and argument schema, `finish` last.
fn step_instructions(base: &SignatureInfo, tools: &[Tool]) -> String {
    let names = |fields: &[FieldSpec]| {
        fields
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (inputs, outputs) = (names(&base.inputs), names(&base.outputs));
    let mut lines = vec![
        format!("{}\n", base.instructions),
        format!(
            "You are an Agent. In each episode, you receive the fields {inputs} as input, and you can \
             see the trajectory of your steps so far."
        ),
        format!(
            "Your goal is to use one or more of the tools below to gather whatever information you \
             need to produce {outputs}.\n"
        ),
        "To do so, give next_thought, next_tool_name and next_tool_args at every turn, including \
         the turn that finishes the task."
            .into(),
        "After each tool call, its result is appended to your trajectory as an observation.\n"
            .into(),
        "In next_thought, reason about the current situation and plan the next steps.".into(),
        "The next_tool_name, with its next_tool_args, must be one of these tools:\n".into(),
    ];
    let finish = Tool::new(
        FINISH,
        format!(
            "Marks the task as done: all the information needed to produce the outputs, \
             {outputs}, is now available to be extracted."
        ),
        |(): ()| async { Ok::<_, String>(FINISHED) },
    );
    lines.extend(
        tools
            .iter()
            .chain([&finish])
            .enumerate()
            .map(|(i, tool)| tool.listing(i + 1)),
    );
    lines.push("Write next_tool_args as a JSON object.".into());
    lines.join("\n")
}

impl<S: Signature> ReActStep<S> {
    /// The step signature parsed leniently: any tool name, any arguments, so a bad choice from
    /// the LM reaches the loop as text and becomes an observation.
    pub(super) fn relaxed_info() -> &'static SignatureInfo {
        info_for::<Relaxed<S>>(|| {
            let mut info = Self::info().clone();
            info.outputs = vec![
                FieldSpec::of::<String>("next_thought", ""),
                FieldSpec::of::<String>(TOOL_NAME, ""),
                FieldSpec::from_schema(TOOL_ARGS, "", json!({})),
            ];
            info
        })
    }
}

impl<S: Signature> Signature for ReActStep<S> {
    type Input = WithTrajectory<S::Input>;
    type Output = StepOutput;

    /// The step signature with no tools but `finish`; a [`ReAct`](super::ReAct) calls it with its
    /// own tools listed.
    fn info() -> &'static SignatureInfo {
        info_for::<Self>(|| step_info::<S>(&[]))
    }

    fn from_parts(input: Self::Input, output: StepOutput) -> Self {
        ReActStep { input, output }
    }

    fn into_parts(self) -> (Self::Input, StepOutput) {
        (self.input, self.output)
    }
}

impl<S: Signature> Signature for ReActExtract<S> {
    type Input = WithTrajectory<S::Input>;
    type Output = S::Output;

    fn info() -> &'static SignatureInfo {
        info_for::<Self>(|| {
            let base = S::info();
            let mut info = with_trajectory(base, format!("ReActExtract<{}>", base.name));
            info.outputs = base.outputs.clone();
            // DSPy keeps `S`'s instructions, default ones included, word for word.
            info.instructions = base.instructions.clone();
            info.has_custom_instructions = base.has_custom_instructions;
            info
        })
    }

    fn from_parts(input: Self::Input, output: S::Output) -> Self {
        ReActExtract { input, output }
    }

    fn into_parts(self) -> (Self::Input, S::Output) {
        (self.input, self.output)
    }
}

/// Both signatures are one flat JSON object: inputs, trajectory and outputs side by side.
macro_rules! flat_serde {
    ($ty:ident, $out:ty) => {
        impl<S: Signature> Serialize for $ty<S> {
            fn serialize<Z: serde::Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
                #[derive(Serialize)]
                struct Flat<'a, I, O> {
                    #[serde(flatten)]
                    input: &'a I,
                    #[serde(flatten)]
                    output: &'a O,
                }
                Flat {
                    input: &self.input,
                    output: &self.output,
                }
                .serialize(serializer)
            }
        }

        impl<'de, S: Signature> Deserialize<'de> for $ty<S> {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let value = Map::<String, Value>::deserialize(deserializer)?;
                let input = serde_json::from_value(Value::Object(value.clone()))
                    .map_err(D::Error::custom)?;
                let output: $out =
                    serde_json::from_value(Value::Object(value)).map_err(D::Error::custom)?;
                Ok($ty { input, output })
            }
        }

        impl<S: Signature> Clone for $ty<S> {
            fn clone(&self) -> Self {
                $ty {
                    input: self.input.clone(),
                    output: self.output.clone(),
                }
            }
        }

        impl<S: Signature> fmt::Debug for $ty<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("input", &self.input)
                    .field("output", &self.output)
                    .finish()
            }
        }
    };
}

flat_serde!(ReActStep, StepOutput);
flat_serde!(ReActExtract, S::Output);
