//! The record of an agent run: each step's thought, tool call and observation.

use crate::adapter::display_value;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One agent step: what it thought, which tool it called with what, and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The agent's reasoning before acting.
    pub thought: String,
    /// The tool it picked (possibly a name that is not a tool; the observation says so).
    pub tool_name: String,
    /// The arguments, as the LM wrote them.
    pub tool_args: Value,
    /// The tool's result, or the error the agent was shown instead.
    pub observation: Value,
}

impl Step {
    /// The observation as the agent read it: text as it is, other values as JSON.
    pub fn observation_text(&self) -> String {
        display_value(&self.observation)
    }
}

/// Every step of an agent run, in order.
///
/// When the prompt outgrew the model's context window, the oldest steps were left out of later
/// prompts (`truncated` of them); they stay here.
///
/// ```
/// use dspy_core::module::react::{Step, Trajectory};
/// let mut trajectory = Trajectory::default();
/// trajectory.steps.push(Step {
///     thought: "Look it up.".into(),
///     tool_name: "search".into(),
///     tool_args: serde_json::json!({"query": "Galileo"}),
///     observation: "an astronomer".into(),
/// });
/// assert_eq!(
///     trajectory.render(),
///     "[[ ## thought_0 ## ]]\nLook it up.\n\n[[ ## tool_name_0 ## ]]\nsearch\n\n\
///      [[ ## tool_args_0 ## ]]\n{\"query\": \"Galileo\"}\n\n[[ ## observation_0 ## ]]\nan astronomer"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// The steps taken.
    pub steps: Vec<Step>,
    /// How many of the first steps are no longer shown to the LM.
    pub truncated: usize,
}

impl Trajectory {
    /// The steps still shown to the LM, as DSPy's ChatAdapter writes them: `[[ ## thought_i ## ]]`,
    /// `tool_name_i`, `tool_args_i` and `observation_i` sections, numbered from the first step.
    pub fn render(&self) -> String {
        let mut sections = Vec::new();
        for (i, step) in self.steps.iter().enumerate().skip(self.truncated) {
            let name = Value::String(step.tool_name.clone());
            let thought = Value::String(step.thought.clone());
            for (key, value) in [
                ("thought", &thought),
                ("tool_name", &name),
                ("tool_args", &step.tool_args),
                ("observation", &step.observation),
            ] {
                sections.push(format!("[[ ## {key}_{i} ## ]]\n{}", display_value(value)));
            }
        }
        sections.join("\n\n")
    }

    /// Leaves the oldest shown step out of later prompts; `false` when at most one step is
    /// shown, so there is nothing left to cut.
    pub(super) fn truncate(&mut self) -> bool {
        if self.steps.len().saturating_sub(self.truncated) <= 1 {
            return false;
        }
        self.truncated += 1;
        true
    }
}

/// Why the agent loop stopped before the outputs were extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The agent called `finish`.
    Finished,
    /// It took `max_iters` steps without finishing.
    MaxIters,
    /// A step's answer could not be read (the error says why); the outputs were extracted from
    /// the steps before it.
    UnreadableStep(String),
    /// The prompt outgrew the context window even after the oldest steps were left out.
    ContextWindowExceeded(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(n: u32) -> Step {
        Step {
            thought: format!("t{n}"),
            tool_name: "add".into(),
            tool_args: json!({"a": n}),
            observation: json!(n + 1),
        }
    }

    #[test]
    fn truncation_hides_oldest_steps_but_keeps_numbering() {
        let mut t = Trajectory {
            steps: vec![step(0), step(1)],
            truncated: 0,
        };
        assert!(t.render().starts_with("[[ ## thought_0 ## ]]\nt0"));
        assert!(t.truncate());
        let shown = t.render();
        assert!(shown.starts_with("[[ ## thought_1 ## ]]\nt1"), "{shown}");
        assert!(shown.ends_with("[[ ## observation_1 ## ]]\n2"), "{shown}");
        assert!(!t.truncate(), "the last step is never cut");
        assert_eq!(t.steps.len(), 2, "cut steps stay in the record");
    }

    #[test]
    fn empty_trajectory_renders_empty() {
        assert_eq!(Trajectory::default().render(), "");
    }
}
