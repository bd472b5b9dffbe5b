//! The process-wide default LM and task-local overrides.

use super::LM;
use std::future::Future;
use std::sync::RwLock;

static DEFAULT_LM: RwLock<Option<LM>> = RwLock::new(None);

tokio::task_local! {
    static TASK_LM: LM;
}

/// Sets the process-wide default LM, used by every predictor without its own.
///
/// ```
/// use dspy_core::lm::{configure, current_lm, DummyLm, LM};
/// configure(LM::new(DummyLm::new([serde_json::json!({"answer": "4"})])));
/// assert_eq!(current_lm().unwrap().model(), "dummy");
/// ```
pub fn configure(lm: LM) {
    // A poisoned lock only means another thread panicked mid-write of an `Option`; the value is
    // still whole, so keep going.
    let mut slot = DEFAULT_LM.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(lm);
}

/// Runs `future` with `lm` as the default LM for it and everything it awaits (a tokio
/// task-local), without touching the process default. Concurrent runs never see each other's LM.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use dspy_core::lm::{current_lm, with_lm, DummyLm, LM};
/// let lm = LM::new(DummyLm::new([serde_json::json!({"answer": "4"})]).named("scoped"));
/// let name = with_lm(lm, async { current_lm().unwrap().model().to_string() }).await;
/// assert_eq!(name, "scoped");
/// # });
/// ```
pub async fn with_lm<F: Future>(lm: LM, future: F) -> F::Output {
    TASK_LM.scope(lm, future).await
}

/// Runs `f` with `lm` as the default LM for it, as [`with_lm`] does for a future: for work that
/// does not wait, such as rendering the prompts a predictor would send under another LM.
///
/// ```
/// use dspy_core::lm::{current_lm, with_lm_sync, DummyLm, LM};
/// let lm = LM::new(DummyLm::new([]).named("scoped"));
/// assert_eq!(with_lm_sync(lm, || current_lm().unwrap().model().to_string()), "scoped");
/// ```
pub fn with_lm_sync<R>(lm: LM, f: impl FnOnce() -> R) -> R {
    TASK_LM.sync_scope(lm, f)
}

/// The LM in effect here: the task-local one from [`with_lm`], else the [`configure`]d one.
pub fn current_lm() -> Option<LM> {
    if let Ok(lm) = TASK_LM.try_with(LM::clone) {
        return Some(lm);
    }
    DEFAULT_LM.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Prints the last `n` calls of the LM in effect ([`current_lm`]), as
/// DSPy's `dspy.inspect_history(n)`; see [`LM::inspect_history`](crate::LM::inspect_history).
pub fn inspect_history(n: usize) {
    match current_lm() {
        Some(lm) => lm.inspect_history(n),
        None => println!("No LM configured, so no history to show."),
    }
}
