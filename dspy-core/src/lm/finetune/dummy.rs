//! [`DummyFinetuner`]: a fine-tuning backend for tests, which trains nothing and serves a given
//! LM.

use super::data::TrainingData;
use super::finetuner::{Finetuner, TrainJob};
use super::model::FinetunedModel;
use super::progress::TrainProgress;
use crate::lm::{BoxFuture, LM};
use crate::{Error, FinetuneErrorKind, Result};
use std::fmt;
use std::sync::Mutex;

/// A [`Finetuner`] for tests: "training" records the data it was given, reports a step per
/// example (up to the step budget), and yields a model named after the run; every model it
/// trained is served by the LM it was made with (a [`DummyLm`](crate::lm::DummyLm), say).
///
/// ```
/// use dspy_core::adapter::{Prompt, TrainingExample};
/// use dspy_core::lm::{DummyFinetuner, DummyLm, Finetune, TrainingData, LM};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let finetuner = DummyFinetuner::new(LM::new(DummyLm::new(Vec::<serde_json::Value>::new())));
/// let data = TrainingData::new()
///     .with("answer", TrainingExample { prompt: Prompt::Text("2+2=".into()), completion: " 4".into() });
/// let done = Finetune::new(&data).no_cache().run(&finetuner).await.unwrap();
/// assert!(done.model.model.starts_with("dummy-ft-"));
/// assert_eq!(finetuner.trained(), [data.clone()]);
///
/// let failing = DummyFinetuner::new(done.lm.clone()).fail_with("quota exceeded");
/// let err = Finetune::new(&data).no_cache().run(&failing).await.unwrap_err();
/// assert!(err.to_string().contains("quota exceeded"));
/// # });
/// ```
pub struct DummyFinetuner {
    lm: LM,
    failure: Option<String>,
    trained: Mutex<Vec<TrainingData>>,
}

impl DummyFinetuner {
    /// A backend whose models are all served by `lm`.
    pub fn new(lm: LM) -> Self {
        DummyFinetuner {
            lm,
            failure: None,
            trained: Mutex::new(Vec::new()),
        }
    }

    /// Makes every run fail as a provider's job fails, saying `message`.
    #[must_use]
    pub fn fail_with(mut self, message: impl Into<String>) -> Self {
        self.failure = Some(message.into());
        self
    }

    /// The data of every run so far, in order.
    pub fn trained(&self) -> Vec<TrainingData> {
        self.trained.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// How many runs trained (cache hits do not count).
    pub fn runs(&self) -> usize {
        self.trained.lock().map(|t| t.len()).unwrap_or_default()
    }

    async fn run(&self, job: TrainJob<'_>) -> Result<FinetunedModel> {
        if let Ok(mut trained) = self.trained.lock() {
            trained.push(job.data().clone());
        }
        if let Some(message) = &self.failure {
            return Err(Error::Finetune {
                kind: FinetuneErrorKind::Failed,
                job: None,
                message: message.clone(),
            });
        }
        let examples = job.data().len() as u64;
        let steps = job.budget().max_steps.map_or(examples, |s| s.min(examples));
        for step in 1..=steps {
            if job.cancel_token().is_cancelled() {
                return Err(Error::Finetune {
                    kind: FinetuneErrorKind::Cancelled,
                    job: None,
                    message: format!("cancelled at step {step} of {steps}"),
                });
            }
            let loss = 1.0 / (step as f64 + 1.0);
            job.report(
                TrainProgress::new("running")
                    .step(step, Some(steps))
                    .loss(loss),
            );
            tokio::task::yield_now().await;
        }
        let name = format!("dummy-ft-{}", job.key().get(..12).unwrap_or(job.key()));
        Ok(
            FinetunedModel::new(job.key(), self.backend(), self.base_model(), name)
                .detail("steps", steps),
        )
    }
}

impl Finetuner for DummyFinetuner {
    fn backend(&self) -> &str {
        "dummy"
    }

    fn base_model(&self) -> String {
        self.lm.model().to_string()
    }

    fn train<'a>(&'a self, job: TrainJob<'a>) -> BoxFuture<'a, Result<FinetunedModel>> {
        Box::pin(self.run(job))
    }

    fn load(&self, _model: &FinetunedModel) -> Result<LM> {
        Ok(self.lm.clone())
    }
}

impl fmt::Debug for DummyFinetuner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DummyFinetuner")
            .field("lm", &self.lm)
            .field("failure", &self.failure)
            .field("runs", &self.runs())
            .finish()
    }
}
