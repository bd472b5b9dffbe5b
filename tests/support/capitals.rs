//! Capitals for the optimizers that learn from runs (GEPA, SIMBA): the signature, six
//! countries, and a scripted model that answers by a rule over the request.

use dspy::adapter::{Prompt, Role};
use dspy::lm::{BoxFuture, LmRequest, LmResponse};
use dspy::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

/// Answer with the capital city.
#[derive(Signature, Clone, Debug, PartialEq)]
pub(crate) struct Capital {
    #[input]
    pub country: String,
    #[output]
    pub city: String,
}

pub(crate) const CAPITALS: [(&str, &str); 6] = [
    ("France", "Paris"),
    ("Peru", "Lima"),
    ("Egypt", "Cairo"),
    ("Japan", "Tokyo"),
    ("Chile", "Santiago"),
    ("Norway", "Oslo"),
];

pub(crate) fn capitals() -> Vec<Capital> {
    CAPITALS
        .iter()
        .map(|(country, city)| Capital {
            country: country.to_string(),
            city: city.to_string(),
        })
        .collect()
}

/// The capital of the country named in `user`, or `Atlantis`.
pub(crate) fn city_of(user: &str) -> &'static str {
    CAPITALS
        .iter()
        .find(|(country, _)| user.contains(country))
        .map_or("Atlantis", |(_, city)| city)
}

/// A model that answers by a rule over the request, rendered by a `DummyLm` so the answer goes
/// through the real parsers.
pub(crate) struct Scripted<F>(pub F);

impl<F> std::fmt::Debug for Scripted<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

impl<F> LanguageModel for Scripted<F>
where
    F: Fn(&LmRequest) -> Value + Send + Sync,
{
    fn model(&self) -> &str {
        "scripted"
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy::Result<LmResponse>> {
        let answer = (self.0)(&request);
        Box::pin(async move { DummyLm::new([answer]).complete(request).await })
    }
}

/// The system message (instructions, fields), the last user message, and how many messages a
/// prompt has.
pub(crate) fn system_and_user(prompt: &Prompt) -> (String, String, usize) {
    match prompt {
        Prompt::Chat(messages) => {
            let system = messages
                .iter()
                .filter(|m| m.role == Role::System)
                .map(|m| m.content.clone())
                .collect::<Vec<_>>()
                .join("\n");
            let user = messages
                .iter()
                .rev()
                .find(|m| m.role == Role::User)
                .map(|m| m.content.clone())
                .unwrap_or_default();
            (system, user, messages.len())
        }
        Prompt::Text(text) => (text.clone(), text.clone(), 1),
    }
}

/// Each trial of a compile as (candidate, score).
pub(crate) fn summary(report: &CompileReport) -> Vec<(String, Option<f64>)> {
    report
        .trials
        .iter()
        .map(|t| (t.candidate.clone(), t.score))
        .collect()
}

/// A checkpoint path of this test process.
pub(crate) fn temp(prefix: &str, name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dspy-{prefix}-{}-{name}.json", std::process::id()))
}
