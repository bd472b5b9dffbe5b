//! What a fine-tuning run is told: its [`Hyperparameters`] and its [`TrainBudget`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// How to train. Unset values are the backend's defaults (OpenAI picks epochs and batch size
/// from the data; a LoRA trainer has its own).
///
/// The common knobs have methods; anything backend-specific (a LoRA rank, OpenAI's
/// `learning_rate_multiplier`) is [`set`](Self::set) by name, and a backend refuses names it
/// does not know, so a typo is an error rather than a silently ignored setting. Everything here
/// is part of the cache key: other hyperparameters train another model.
///
/// ```
/// use dspy_core::lm::Hyperparameters;
/// let h = Hyperparameters::new()
///     .epochs(2)
///     .batch_size(8)
///     .learning_rate(1e-3)
///     .seed(7)
///     .set("lora_rank", 8);
/// assert_eq!(h.epochs, Some(2));
/// assert_eq!(h.extra["lora_rank"], 8);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hyperparameters {
    /// Passes over the data.
    pub epochs: Option<u32>,
    /// Examples per optimizer step.
    pub batch_size: Option<u32>,
    /// The optimizer's step size (for trainers that take an absolute one).
    pub learning_rate: Option<f64>,
    /// Seeds the data order and initialization, where the backend takes a seed.
    pub seed: Option<u64>,
    /// Backend-specific settings, by name.
    pub extra: BTreeMap<String, Value>,
}

impl Hyperparameters {
    /// The backend's defaults for everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the number of passes over the data.
    #[must_use]
    pub fn epochs(mut self, epochs: u32) -> Self {
        self.epochs = Some(epochs);
        self
    }

    /// Sets the examples per step.
    #[must_use]
    pub fn batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = Some(batch_size);
        self
    }

    /// Sets the (absolute) learning rate.
    #[must_use]
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = Some(learning_rate);
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets a backend-specific setting.
    #[must_use]
    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The extra settings whose names are not in `known`, for a backend to refuse.
    ///
    /// ```
    /// use dspy_core::lm::Hyperparameters;
    /// let h = Hyperparameters::new().set("lora_rank", 8).set("lora_rnak", 8);
    /// assert_eq!(h.unknown_extras(&["lora_rank", "lora_alpha"]), ["lora_rnak"]);
    /// ```
    pub fn unknown_extras(&self, known: &[&str]) -> Vec<&str> {
        self.extra
            .keys()
            .map(String::as_str)
            .filter(|name| !known.contains(name))
            .collect()
    }
}

/// How much a fine-tuning run may spend: optimizer steps, or money.
///
/// A step budget stops a trainer that runs in process after that many steps (another model
/// than a full run, so it is part of the cache key); a provider's job cannot be stopped midway
/// with a model to show for it, so a provider refuses, before it uploads anything, a job whose
/// steps (epochs × batches) would exceed it. A cost budget is checked before anything is sent,
/// from the data's estimated tokens, the epochs and the backend's price.
///
/// ```
/// use dspy_core::lm::TrainBudget;
/// let budget = TrainBudget::steps(200).and_cost(5.0);
/// assert_eq!(budget.max_steps, Some(200));
/// assert_eq!(budget.max_cost, Some(5.0));
/// assert!(TrainBudget::unlimited().max_steps.is_none());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrainBudget {
    /// The most optimizer steps.
    pub max_steps: Option<u64>,
    /// The most money, in the price's currency (dollars for OpenAI).
    pub max_cost: Option<f64>,
}

impl TrainBudget {
    /// No limit.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// At most `steps` optimizer steps.
    pub fn steps(steps: u64) -> Self {
        TrainBudget {
            max_steps: Some(steps),
            max_cost: None,
        }
    }

    /// At most `cost` (dollars, for OpenAI).
    pub fn cost(cost: f64) -> Self {
        TrainBudget {
            max_steps: None,
            max_cost: Some(cost),
        }
    }

    /// This budget, with a cost limit too.
    #[must_use]
    pub fn and_cost(mut self, cost: f64) -> Self {
        self.max_cost = Some(cost);
        self
    }

    /// This budget, with a step limit too.
    #[must_use]
    pub fn and_steps(mut self, steps: u64) -> Self {
        self.max_steps = Some(steps);
        self
    }
}
