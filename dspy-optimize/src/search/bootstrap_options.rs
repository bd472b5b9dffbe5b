//! The knobs of bootstrapping demos, shared by the optimizers that bootstrap
//! ([`BootstrapFewShot`](crate::BootstrapFewShot),
//! [`BootstrapFewShotWithRandomSearch`](crate::BootstrapFewShotWithRandomSearch),
//! [`MIPROv2`](crate::MIPROv2)), with their one set of setters.

use super::sampling::Sampling;
use serde_json::{Value, json};

/// How demos are bootstrapped and filled up with labeled ones.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BootstrapOptions {
    pub max_bootstrapped_demos: usize,
    pub max_labeled_demos: usize,
    pub max_rounds: usize,
    pub metric_threshold: Option<f64>,
    pub labeled: Sampling,
}

impl Default for BootstrapOptions {
    /// DSPy's: 4 bootstrapped and 16 labeled demos, one round, drawn at random.
    fn default() -> Self {
        BootstrapOptions {
            max_bootstrapped_demos: 4,
            max_labeled_demos: 16,
            max_rounds: 1,
            metric_threshold: None,
            labeled: Sampling::random(),
        }
    }
}

impl BootstrapOptions {
    /// These options, for a checkpoint key: every one changes the demos found.
    pub(crate) fn key(&self) -> Value {
        json!({
            "max_bootstrapped_demos": self.max_bootstrapped_demos,
            "max_labeled_demos": self.max_labeled_demos,
            "max_rounds": self.max_rounds,
            "metric_threshold": self.metric_threshold,
            "labeled_random": self.labeled.random,
            "labeled_per_class": self.labeled.per_class,
        })
    }
}

/// The setters of [`BootstrapOptions`], as inherent methods of a type whose `bootstrap` field
/// holds them; the docs are written here once.
macro_rules! bootstrap_setters {
    () => {
        /// At most this many demos per predictor come from successful traces (default 4); it is
        /// also how many successful examples bootstrapping stops at.
        #[must_use]
        pub fn max_bootstrapped_demos(mut self, n: usize) -> Self {
            self.bootstrap.max_bootstrapped_demos = n;
            self
        }

        /// At most this many demos per predictor in all, labeled ones filling up after the
        /// bootstrapped (default 16); also the teacher's labeled demos.
        #[must_use]
        pub fn max_labeled_demos(mut self, n: usize) -> Self {
            self.bootstrap.max_labeled_demos = n;
            self
        }

        /// Tries per training example (default 1); later tries use a fresh rollout id at
        /// temperature 1.0.
        #[must_use]
        pub fn max_rounds(mut self, n: usize) -> Self {
            self.bootstrap.max_rounds = n.max(1);
            self
        }

        /// A run succeeds when its score is at least `threshold` (default: above 0).
        #[must_use]
        pub fn metric_threshold(mut self, threshold: f64) -> Self {
            self.bootstrap.metric_threshold = Some(threshold);
            self
        }

        /// Balances the labeled demos over the values of `field` (e.g. a label).
        #[must_use]
        pub fn labeled_per_class(mut self, field: impl Into<String>) -> Self {
            self.bootstrap.labeled.per_class = Some(field.into());
            self
        }
    };
}
pub(crate) use bootstrap_setters;
