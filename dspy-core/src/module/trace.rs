//! Traces: a record of every predictor call made while a program runs, scoped to one task tree.
//!
//! Optimizers run a program inside [`trace`] and turn the calls of successful runs into demos.
//! The scope is a tokio task-local, so concurrent runs (even joined in one task) never mix.

use super::convert::to_fields;
use super::id::PredictorId;
use super::params::Parameters;
use crate::adapter::FieldValues;
use crate::signature::{Signature, SignatureInfo};
use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static TRACE: Arc<Mutex<Trace>>;
}

/// One predictor call: who made it, with what input, and what came out.
#[derive(Clone)]
pub struct TraceEntry {
    /// The predictor that made the call.
    pub predictor: PredictorId,
    /// Its dotted name in the program, once resolved with [`Trace::with_names`].
    pub name: Option<String>,
    /// Its signature.
    pub signature: &'static SignatureInfo,
    /// The input fields, as JSON.
    pub input: FieldValues,
    /// The output fields, as JSON.
    pub output: FieldValues,
    example: Arc<dyn Any + Send + Sync>,
}

impl TraceEntry {
    /// The call as a typed example of signature `S`, if it was made for `S`.
    pub fn example<S: Signature>(&self) -> Option<&S> {
        self.example.downcast_ref::<S>()
    }

    /// The call as one JSON object of inputs and outputs: a demo for its predictor.
    pub fn demo(&self) -> FieldValues {
        let mut all = self.input.clone();
        all.extend(self.output.clone());
        all
    }
}

impl std::fmt::Debug for TraceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceEntry")
            .field("predictor", &self.predictor)
            .field("name", &self.name)
            .field("signature", &self.signature.name)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish()
    }
}

/// A predictor call whose answer could not be read as its output fields: what it was given,
/// what the LM wrote, and why it did not parse. GEPA can reflect on these (see its
/// `add_format_failure_as_feedback`).
#[derive(Debug, Clone)]
pub struct FailedCall {
    /// The predictor that made the call.
    pub predictor: PredictorId,
    /// Its dotted name in the program, once resolved with [`Trace::with_names`].
    pub name: Option<String>,
    /// Its signature.
    pub signature: &'static SignatureInfo,
    /// The input fields, as JSON.
    pub input: FieldValues,
    /// The LM's answer as it came.
    pub raw: String,
    /// Why it could not be read.
    pub error: String,
}

/// One search a [`Retrieve`](super::Retrieve) module made: which one, the query, and what it
/// found.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// The module's name (see [`Retrieve::named`](super::Retrieve::named)).
    pub retriever: String,
    /// What it searched for.
    pub query: String,
    /// How many passages it asked for.
    pub k: usize,
    /// What it found, best first.
    pub passages: Vec<crate::retrieve::Passage>,
}

/// The calls recorded in one [`trace`] scope, in the order they finished.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The calls that returned an output.
    pub entries: Vec<TraceEntry>,
    /// The calls whose answer could not be parsed (the run usually failed with them).
    pub failures: Vec<FailedCall>,
    /// The searches made by [`Retrieve`](super::Retrieve) modules, in the order they finished.
    pub retrievals: Vec<Retrieval>,
}

impl Trace {
    /// Fills in each entry's name from `program`'s predictors; calls made by predictors outside
    /// it keep `name: None`.
    #[must_use]
    pub fn with_names<P: Parameters + ?Sized>(mut self, program: &P) -> Self {
        let names: Vec<(String, PredictorId)> = program
            .predictors()
            .into_iter()
            .map(|(name, p)| (name, p.id()))
            .collect();
        let name_of = |id: PredictorId| {
            names
                .iter()
                .find(|(_, known)| *known == id)
                .map(|(name, _)| name.clone())
        };
        for entry in &mut self.entries {
            entry.name = name_of(entry.predictor);
        }
        for failure in &mut self.failures {
            failure.name = name_of(failure.predictor);
        }
        self
    }

    /// The entries made by the predictor called `name` (after [`with_names`](Trace::with_names)).
    pub fn by_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a TraceEntry> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.name.as_deref() == Some(name))
    }

    /// The unreadable answers of the predictor called `name` (after
    /// [`with_names`](Trace::with_names)).
    pub fn failures_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a FailedCall> + 'a {
        self.failures
            .iter()
            .filter(move |f| f.name.as_deref() == Some(name))
    }

    /// How many calls returned an output.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no call returned an output.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Runs `future` and returns its output with the trace of every predictor call it made.
///
/// Scopes nest: a call is recorded in the innermost scope only.
///
/// ```
/// use dspy_core::{DummyLm, LM, Module, Parameters, Predict};
/// use dspy_core::module::trace;
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] question: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([serde_json::json!({"answer": "4"})]));
/// let qa = Predict::<QA>::new().with_lm(lm);
/// let (out, trace) = trace(qa.call(QAInput { question: "2+2?".into() })).await;
/// let trace = trace.with_names(&qa);
/// assert_eq!(out.unwrap().answer, "4");
/// assert_eq!(trace.entries[0].name.as_deref(), Some("self"));
/// assert_eq!(trace.entries[0].example::<QA>().unwrap().answer, "4");
/// # });
/// ```
pub async fn trace<F: Future>(future: F) -> (F::Output, Trace) {
    let recorded = Arc::new(Mutex::new(Trace::default()));
    let output = TRACE.scope(recorded.clone(), future).await;
    let trace = std::mem::take(&mut *recorded.lock().unwrap_or_else(|e| e.into_inner()));
    (output, trace)
}

/// Whether a [`trace`] scope is active here (so recording is worth its cost).
pub fn is_tracing() -> bool {
    TRACE.try_with(|_| ()).is_ok()
}

/// Records a call of predictor `id` for `S` in the active scope, if any. [`Predict`](super::Predict)
/// calls it; a hand-written predictor can too.
pub fn record<S: Signature>(id: PredictorId, input: &S::Input, output: &S::Output) {
    let _ = TRACE.try_with(|entries| {
        let (Ok(input_json), Ok(output_json)) = (to_fields(input), to_fields(output)) else {
            return;
        };
        let entry = TraceEntry {
            predictor: id,
            name: None,
            signature: S::info(),
            input: input_json,
            output: output_json,
            example: Arc::new(S::from_parts(input.clone(), output.clone())),
        };
        entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .push(entry);
    });
}

/// Records, in the active scope if any, that predictor `id` for `S` got an answer it could not
/// read: `error` is the [`Error::Parse`](crate::Error::Parse) it failed with (other errors, which
/// carry no answer, are not recorded). [`Predict`](super::Predict) calls it.
pub fn record_failure<S: Signature>(id: PredictorId, input: &S::Input, error: &crate::Error) {
    let crate::Error::Parse { raw, .. } = error else {
        return;
    };
    let _ = TRACE.try_with(|trace| {
        let Ok(input) = to_fields(input) else {
            return;
        };
        let failure = FailedCall {
            predictor: id,
            name: None,
            signature: S::info(),
            input,
            raw: raw.clone(),
            error: error.to_string(),
        };
        trace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failures
            .push(failure);
    });
}

/// Records, in the active scope if any, a search of the retriever called `name`.
pub(crate) fn record_retrieval(
    name: &str,
    query: &str,
    k: usize,
    passages: &[crate::retrieve::Passage],
) {
    let _ = TRACE.try_with(|trace| {
        let retrieval = Retrieval {
            retriever: name.to_string(),
            query: query.to_string(),
            k,
            passages: passages.to_vec(),
        };
        trace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retrievals
            .push(retrieval);
    });
}

/// Adds calls recorded elsewhere to the active scope, if any: a module that runs attempts in
/// scopes of their own ([`BestOfN`](super::BestOfN), [`Refine`](super::Refine)) passes on only
/// the calls of the attempt it returns, as DSPy does.
pub fn extend(entries: impl IntoIterator<Item = TraceEntry>) {
    let _ = TRACE.try_with(|all| {
        all.lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .extend(entries)
    });
}
