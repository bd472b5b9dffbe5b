//! Scripted LMs for the instruction optimizers: a prompt model that proposes instructions, and
//! a task model that answers right only under the instructions that contain a magic phrase.

use dspy::adapter::Prompt;
use dspy::lm::{BoxFuture, LmRequest, LmResponse};
use dspy::prelude::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The phrase that makes the task model right.
pub(crate) const MAGIC: &str = "MAGIC";

/// Answer the question.
#[derive(Signature, Clone, Debug, PartialEq)]
pub(crate) struct QA {
    #[input]
    pub question: String,
    #[output]
    pub answer: String,
}

/// The exact-match metric.
pub(crate) fn exact(ex: &QA, out: &QAOutput) -> bool {
    ex.answer == out.answer
}

/// `n` questions `q{i}` answered `a{i}`.
pub(crate) fn qa_set(n: usize) -> Vec<QA> {
    (0..n)
        .map(|i| QA {
            question: format!("q{i}?"),
            answer: format!("a{i}"),
        })
        .collect()
}

/// A request's temperature and rollout id.
pub(crate) type Sampling = (Option<f32>, Option<u64>);

/// A prompt model: the k-th request with a given prompt (with [`Proposer::sequential`], the
/// k-th request of all) gets `proposals[k % len]` as its proposed instruction, along with fixed
/// answers for every other proposer field. Records every prompt.
#[derive(Debug, Clone)]
pub(crate) struct Proposer {
    proposals: Vec<String>,
    sequential: bool,
    seen: Arc<Mutex<HashMap<String, usize>>>,
    prompts: Arc<Mutex<Vec<String>>>,
    samplings: Arc<Mutex<Vec<Sampling>>>,
}

impl Proposer {
    pub(crate) fn new(proposals: &[&str]) -> Self {
        Proposer {
            proposals: proposals.iter().map(|p| p.to_string()).collect(),
            sequential: false,
            seen: Arc::default(),
            prompts: Arc::default(),
            samplings: Arc::default(),
        }
    }

    /// Counts requests over all prompts (for proposers whose every prompt differs).
    pub(crate) fn sequential(proposals: &[&str]) -> Self {
        Proposer {
            sequential: true,
            ..Proposer::new(proposals)
        }
    }

    /// The temperature and rollout id of every request.
    pub(crate) fn samplings(&self) -> Vec<Sampling> {
        self.samplings.lock().unwrap().clone()
    }

    /// Every prompt received, as text.
    pub(crate) fn prompts(&self) -> Vec<String> {
        self.prompts.lock().unwrap().clone()
    }
}

impl LanguageModel for Proposer {
    fn model(&self) -> &str {
        "proposer"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        let text = request.prompt.to_text();
        let k = {
            let mut seen = self.seen.lock().unwrap();
            let key = if self.sequential { "" } else { text.as_str() };
            let count = seen.entry(key.to_string()).or_insert(0);
            *count += 1;
            *count - 1
        };
        self.prompts.lock().unwrap().push(text);
        self.samplings
            .lock()
            .unwrap()
            .push((request.temperature, request.rollout_id));
        let answer = json!({
            "observations": "Short questions with short answers.",
            "summary": "A dataset of short questions, each answered by one token.",
            "program_description": "It answers questions.",
            "module_description": "It writes the answer.",
            "proposed_instruction": self.proposals[k % self.proposals.len()],
        });
        Box::pin(async move { DummyLm::new([answer]).complete(request).await })
    }
}

/// A task model right (as `right` answers) only when the prompt's instructions contain
/// [`MAGIC`], else answering as `wrong` does.
#[derive(Debug, Clone)]
pub(crate) struct MagicSensitive {
    pub right: DummyLm,
    pub wrong: DummyLm,
}

impl MagicSensitive {
    /// Right answers for `set`; wrong ones (`x{i}`) except for the first `lucky` examples.
    pub(crate) fn new(set: &[QA], lucky: usize) -> Self {
        let right = DummyLm::keyed(
            set.iter()
                .map(|ex| (ex.question.clone(), json!({ "answer": ex.answer }))),
        );
        let wrong = DummyLm::keyed(set.iter().enumerate().map(|(i, ex)| {
            let answer = if i < lucky {
                ex.answer.clone()
            } else {
                format!("x{i}")
            };
            (ex.question.clone(), json!({ "answer": answer }))
        }));
        MagicSensitive { right, wrong }
    }

    /// Requests both halves received.
    pub(crate) fn calls(&self) -> usize {
        self.right.requests().len() + self.wrong.requests().len()
    }
}

impl LanguageModel for MagicSensitive {
    fn model(&self) -> &str {
        "magic-sensitive"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        let instructed = match &request.prompt {
            Prompt::Chat(messages) => messages.first().is_some_and(|m| m.content.contains(MAGIC)),
            Prompt::Text(text) => text.contains(MAGIC),
        };
        if instructed {
            self.right.complete(request)
        } else {
            self.wrong.complete(request)
        }
    }
}
