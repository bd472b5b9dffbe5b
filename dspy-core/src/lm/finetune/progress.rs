//! What a run reports as it goes ([`TrainProgress`]), and how it is stopped ([`CancelToken`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// Where a fine-tuning run is: its status, the step it reached, the loss there and the speed.
///
/// A provider reports what its job says (`validating_files`, `queued`, `running` with the
/// steps and loss of its metrics events, `succeeded`); a trainer in process reports every
/// step. What a backend does not know is `None`.
///
/// ```
/// use dspy_core::lm::TrainProgress;
/// let p = TrainProgress::new("running").step(30, Some(60)).loss(0.42).examples_per_sec(2.5);
/// assert_eq!(p.to_string(), "running: step 30/60, loss 0.4200, 2.5 examples/s");
/// assert_eq!(TrainProgress::new("uploading").to_string(), "uploading");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TrainProgress {
    /// The run's status, in the backend's words.
    pub status: String,
    /// Optimizer steps done.
    pub step: u64,
    /// Steps the run will take, when known.
    pub total_steps: Option<u64>,
    /// The training loss at the last step, when known.
    pub loss: Option<f64>,
    /// Training speed, when known.
    pub examples_per_sec: Option<f64>,
}

impl TrainProgress {
    /// A report of `status` at step 0, with nothing else known.
    pub fn new(status: impl Into<String>) -> Self {
        TrainProgress {
            status: status.into(),
            step: 0,
            total_steps: None,
            loss: None,
            examples_per_sec: None,
        }
    }

    /// Sets the step reached, and of how many.
    #[must_use]
    pub fn step(mut self, step: u64, total: Option<u64>) -> Self {
        self.step = step;
        self.total_steps = total;
        self
    }

    /// Sets the loss.
    #[must_use]
    pub fn loss(mut self, loss: f64) -> Self {
        self.loss = Some(loss);
        self
    }

    /// Sets the speed.
    #[must_use]
    pub fn examples_per_sec(mut self, speed: f64) -> Self {
        self.examples_per_sec = Some(speed);
        self
    }
}

impl fmt::Display for TrainProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.status)?;
        let mut parts = Vec::new();
        if self.step > 0 || self.total_steps.is_some() {
            parts.push(match self.total_steps {
                Some(total) => format!("step {}/{total}", self.step),
                None => format!("step {}", self.step),
            });
        }
        if let Some(loss) = self.loss {
            parts.push(format!("loss {loss:.4}"));
        }
        if let Some(speed) = self.examples_per_sec {
            parts.push(format!("{speed:.1} examples/s"));
        }
        if !parts.is_empty() {
            write!(f, ": {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// Stops a fine-tuning run from another task or thread: cheap to clone, all clones share one
/// flag.
///
/// A trainer in process checks [`is_cancelled`](Self::is_cancelled) between steps (it may run
/// on a blocking thread); a provider waits on [`cancelled`](Self::cancelled) beside its polls
/// and cancels the remote job. Either way the run ends with an
/// [`Error::Finetune`](crate::Error::Finetune) of kind
/// [`Cancelled`](crate::FinetuneErrorKind::Cancelled).
///
/// ```
/// use dspy_core::lm::CancelToken;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let token = CancelToken::new();
/// let handle = token.clone();
/// assert!(!token.is_cancelled());
/// handle.cancel();
/// assert!(token.is_cancelled());
/// token.cancelled().await; // returns at once once cancelled
/// # });
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    notify: Notify,
}

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the run (every clone sees it).
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Waits until the token is cancelled (at once if it is already).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read, so a cancel in between is not missed.
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}
