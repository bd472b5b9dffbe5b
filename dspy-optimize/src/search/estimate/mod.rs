//! What a compile will cost, before it runs: every optimizer's
//! [`estimate`](crate::Optimizer::estimate) gives an [`Estimate`] of its LM calls (at most, and
//! expected), prompt and completion tokens, and cost, split between the task model (the
//! program's runs) and the prompt model (the optimizer's own calls), phase by phase.
//!
//! No LM is called: the figures come from the optimizer's settings, the sizes of the sets, and
//! the prompts the program's predictors would send, rendered with their adapters (a token is
//! counted as four characters of the prompt's text, the same rule [`DummyLm`](dspy_core::DummyLm)
//! counts by). The calls *at most* are a bound that holds whatever the LM answers, if a program
//! run calls each of its predictors once and the metric calls no LM (each figure says what
//! else it assumes in [`Estimate::notes`]); the *expected* calls are what a compile makes when
//! answers parse on the first try, under the optimizer's own assumption (also in the notes).
//!
//! ```
//! use dspy_core::Predict;
//! use dspy_optimize::{BootstrapFewShot, Optimizer};
//! # use dspy_macros::Signature;
//! /// Answer with the capital city.
//! #[derive(Signature, Clone, Debug)]
//! # #[dspy(crate = "dspy_core")]
//! struct Capital { #[input] country: String, #[output] city: String }
//!
//! let trainset: Vec<Capital> = ["France", "Peru", "Japan", "Chile", "Kenya", "Laos"]
//!     .map(|c| Capital { country: c.into(), city: "?".into() })
//!     .into();
//! let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
//! let bootstrap = BootstrapFewShot::new(metric).max_bootstrapped_demos(2).concurrency(1);
//! let estimate = bootstrap.estimate(&Predict::<Capital>::new(), &trainset, None).unwrap();
//! // One run per example at most (three calls each: the answer, a fallback, a re-ask);
//! // two runs when both pass.
//! assert_eq!((estimate.calls().at_most, estimate.calls().expected), (18, 2));
//! println!("{estimate}");
//! ```

mod builder;
pub(crate) mod counts;
mod display;
mod sizes;

pub(crate) use builder::Estimator;
pub(crate) use sizes::Demos;

use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign};

/// A figure at most and as expected (`expected <= at_most`).
///
/// ```
/// use dspy_optimize::search::estimate::Count;
/// let total = Count::exactly(3) + Count::new(10, 4);
/// assert_eq!((total.at_most, total.expected), (13, 7));
/// assert_eq!(Count::new(10, 4).times(3), Count::new(30, 12));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Count {
    /// The most there can be.
    pub at_most: u64,
    /// How many there will be when the optimizer's assumption holds.
    pub expected: u64,
}

impl Count {
    /// At most `at_most`, `expected` expected (kept no larger than `at_most`).
    pub fn new(at_most: u64, expected: u64) -> Self {
        Count {
            at_most,
            expected: expected.min(at_most),
        }
    }

    /// Exactly `n`: the bound and the expected figure agree.
    pub fn exactly(n: u64) -> Self {
        Count::new(n, n)
    }

    /// Both figures times `n`.
    #[must_use]
    pub fn times(self, n: u64) -> Self {
        Count::new(self.at_most * n, self.expected * n)
    }

    /// Each figure times its own factor: `at_most * at_most_each`, `expected * expected_each`.
    #[must_use]
    pub fn each(self, at_most_each: u64, expected_each: u64) -> Self {
        Count::new(self.at_most * at_most_each, self.expected * expected_each)
    }
}

impl Add for Count {
    type Output = Count;
    fn add(self, other: Count) -> Count {
        Count::new(self.at_most + other.at_most, self.expected + other.expected)
    }
}

impl AddAssign for Count {
    fn add_assign(&mut self, other: Count) {
        *self = *self + other;
    }
}

impl std::iter::Sum for Count {
    fn sum<I: Iterator<Item = Count>>(iter: I) -> Count {
        iter.fold(Count::default(), Add::add)
    }
}

/// Which LM a phase's calls go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The model the program runs on while it is bootstrapped and scored.
    Task,
    /// The model of the optimizer's own calls: proposals, summaries, rules, reflections.
    Prompt,
}

impl Role {
    /// `task` or `prompt`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Task => "task",
            Role::Prompt => "prompt",
        }
    }
}

/// One phase of a compile (bootstrapping, scoring candidates, proposals): its LM calls and
/// tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// What happens in it, in words (`bootstrap`, `score 19 candidates on 50 examples`).
    pub name: String,
    /// The model its calls go to.
    pub role: Role,
    /// Its LM calls.
    pub calls: Count,
    /// Its prompt tokens (estimated from the rendered prompts).
    pub prompt_tokens: Count,
    /// Its completion tokens (estimated from the answers the prompts ask for).
    pub completion_tokens: Count,
}

/// A cost at most and as expected, in the currency of the LM's price table.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Cost {
    /// The cost of the calls at most.
    pub at_most: f64,
    /// The cost of the calls expected.
    pub expected: f64,
}

/// What one model will be asked: all the phases' calls and tokens that go to it, and their
/// cost by its price table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEstimate {
    /// The model's name (`None`: no LM is configured, so which model is not known).
    pub model: Option<String>,
    /// Its LM calls.
    pub calls: Count,
    /// Its prompt tokens.
    pub prompt_tokens: Count,
    /// Its completion tokens.
    pub completion_tokens: Count,
    /// The cost, when the LM's [`PriceTable`](dspy_core::lm::PriceTable) has a price for it.
    pub cost: Option<Cost>,
    /// The LM's [`Budget`](dspy_core::lm::Budget) on calls, which stops the compile there.
    pub budget_calls: Option<u64>,
}

/// What compiling will cost, estimated before it runs: see the [module docs](self).
///
/// It prints as a short table (`Display`) and serializes to JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The optimizer's name.
    pub optimizer: String,
    /// The compile's phases, in the order they run.
    pub phases: Vec<Phase>,
    /// The program's runs: the task model.
    pub task: ModelEstimate,
    /// The optimizer's own calls: the prompt model.
    pub prompt: ModelEstimate,
    /// What the figures assume, in words.
    pub notes: Vec<String>,
}

impl Estimate {
    /// The estimate of a compile that calls no LM (as [`LabeledFewShot`](crate::LabeledFewShot)'s).
    ///
    /// ```
    /// let estimate = dspy_optimize::Estimate::nothing("AsIs");
    /// assert_eq!(estimate.calls().at_most, 0);
    /// assert_eq!(estimate.cost().map(|c| c.at_most), Some(0.0));
    /// ```
    pub fn nothing(optimizer: impl Into<String>) -> Self {
        let none = ModelEstimate {
            model: None,
            calls: Count::default(),
            prompt_tokens: Count::default(),
            completion_tokens: Count::default(),
            cost: None,
            budget_calls: None,
        };
        Estimate {
            optimizer: optimizer.into(),
            phases: Vec::new(),
            task: none.clone(),
            prompt: none,
            notes: Vec::new(),
        }
    }

    /// Every LM call, task and prompt model together.
    pub fn calls(&self) -> Count {
        self.task.calls + self.prompt.calls
    }

    /// Every prompt token, task and prompt model together.
    pub fn prompt_tokens(&self) -> Count {
        self.task.prompt_tokens + self.prompt.prompt_tokens
    }

    /// The cost of both models, when both have a price (or make no call).
    pub fn cost(&self) -> Option<Cost> {
        let of = |model: &ModelEstimate| match model.cost {
            Some(cost) => Some(cost),
            None if model.calls.at_most == 0 => Some(Cost::default()),
            None => None,
        };
        let (task, prompt) = (of(&self.task)?, of(&self.prompt)?);
        Some(Cost {
            at_most: task.at_most + prompt.at_most,
            expected: task.expected + prompt.expected,
        })
    }

    /// The estimate as pretty-printed JSON.
    pub fn to_json(&self) -> dspy_core::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }
}
