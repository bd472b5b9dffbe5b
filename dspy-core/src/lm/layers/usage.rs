//! Usage and cost: totals per LM, task-scoped reports, prices and budgets.

use crate::lm::Usage;
use std::future::Future;
use std::ops::AddAssign;
use std::sync::{Arc, Mutex, MutexGuard};

/// What one model costs, in dollars (or any currency) per million tokens.
///
/// ```
/// use dspy_core::lm::{Price, Usage};
/// let price = Price::per_million(0.15, 0.60);
/// let usage = Usage { prompt_tokens: 1_000_000, completion_tokens: 500_000 };
/// assert!((price.cost(usage) - 0.45).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    /// Per million prompt (input) tokens.
    pub prompt_per_million: f64,
    /// Per million completion (output) tokens.
    pub completion_per_million: f64,
}

impl Price {
    /// A price per million prompt and completion tokens.
    pub fn per_million(prompt: f64, completion: f64) -> Self {
        Price {
            prompt_per_million: prompt,
            completion_per_million: completion,
        }
    }

    /// The cost of `usage`.
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.prompt_per_million
            + usage.completion_tokens as f64 * self.completion_per_million)
            / 1_000_000.0
    }
}

/// Prices by model name. Empty by default: prices change, so dspy ships none and a model
/// without a price costs 0.
///
/// A model matches its exact name, else the longest entry its name starts with (so
/// `gpt-4o-mini` prices `gpt-4o-mini-2024-07-18`), else the fallback.
///
/// ```
/// use dspy_core::lm::{Price, PriceTable};
/// let table = PriceTable::new()
///     .with("gpt-4o", Price::per_million(2.5, 10.0))
///     .with("gpt-4o-mini", Price::per_million(0.15, 0.6));
/// assert_eq!(table.price_for("gpt-4o-mini-2024-07-18"), Some(Price::per_million(0.15, 0.6)));
/// assert_eq!(table.price_for("gpt-4o-2024-08-06"), Some(Price::per_million(2.5, 10.0)));
/// assert_eq!(table.price_for("llama3.2"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceTable {
    entries: Vec<(String, Price)>,
    fallback: Option<Price>,
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the price of `model`.
    #[must_use]
    pub fn with(mut self, model: impl Into<String>, price: Price) -> Self {
        self.insert(model, price);
        self
    }

    /// Adds (or replaces) the price of `model`.
    pub fn insert(&mut self, model: impl Into<String>, price: Price) {
        let model = model.into();
        self.entries.retain(|(m, _)| *m != model);
        self.entries.push((model, price));
    }

    /// The price of models that match no entry.
    #[must_use]
    pub fn with_fallback(mut self, price: Price) -> Self {
        self.fallback = Some(price);
        self
    }

    /// The price of `model`, if the table has one (the fallback included).
    pub fn price_for(&self, model: &str) -> Option<Price> {
        self.entry_for(model).or(self.fallback)
    }

    /// The entry that matches `model`, without the fallback.
    pub(super) fn entry_for(&self, model: &str) -> Option<Price> {
        self.entries
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| *price)
    }
}

/// Limits on what an LM may spend. Every clone of the [`LM`](crate::LM) draws on the same
/// budget. A call is refused with [`Error::Budget`](crate::Error::Budget) when the requests sent (counting one for
/// each call in flight that has not sent yet), the tokens or the cost have reached a limit;
/// it never reaches the backend. Cache hits are free and do not count, but are refused too once
/// a limit is hit.
///
/// `max_calls` bounds *requests sent to the backend*, the thing a provider bills and rate
/// limits: a retried call spends one per attempt (a retry past the limit is not sent, and the
/// call fails with [`Error::Budget`](crate::Error::Budget)), and a request counts the moment it is sent, so calls
/// whose callers gave up mid-flight (a timeout around them) count too. The bound is exact
/// under concurrency. Tokens and cost are only known after a call, so calls already in flight
/// when a limit is crossed finish and are counted: the overshoot is at most one call's worth
/// per call in flight.
///
/// ```
/// use dspy_core::lm::Budget;
/// let budget = Budget::new().max_calls(1000).max_cost(2.0);
/// assert_eq!(budget.max_calls, Some(1000));
/// assert_eq!(budget.max_tokens, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    /// Most requests sent to the backend (attempts: retries count).
    pub max_calls: Option<u64>,
    /// Most tokens (prompt plus completion).
    pub max_tokens: Option<u64>,
    /// Most cost, per the LM's [`PriceTable`].
    pub max_cost: Option<f64>,
}

impl Budget {
    /// No limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Limits the requests sent to the backend, retries included.
    #[must_use]
    pub fn max_calls(mut self, calls: u64) -> Self {
        self.max_calls = Some(calls);
        self
    }

    /// Limits the tokens.
    #[must_use]
    pub fn max_tokens(mut self, tokens: u64) -> Self {
        self.max_tokens = Some(tokens);
        self
    }

    /// Limits the cost.
    #[must_use]
    pub fn max_cost(mut self, cost: f64) -> Self {
        self.max_cost = Some(cost);
        self
    }
}

impl Budget {
    /// What limit is reached, given the requests sent or reserved by calls in flight, and
    /// what was spent.
    pub(super) fn reached(&self, requests: u64, spent: &UsageReport) -> Option<String> {
        if let Some(max) = self.max_calls.filter(|max| requests >= *max) {
            return Some(format!(
                "the limit of {max} LM calls (requests sent, retries included) is reached"
            ));
        }
        if let Some(max) = self.max_tokens.filter(|max| spent.usage.total() >= *max) {
            return Some(format!("the limit of {max} tokens is reached"));
        }
        self.max_cost
            .filter(|max| spent.cost >= *max)
            .map(|max| format!("the cost limit of {max:.4} is reached"))
    }
}

/// What LM calls used: for one LM ([`LM::usage`](crate::LM::usage)) or for everything one
/// piece of work did ([`track_usage`]).
///
/// ```
/// use dspy_core::lm::{UsageReport, Usage};
/// let mut total = UsageReport::default();
/// total += UsageReport { calls: 2, usage: Usage { prompt_tokens: 10, completion_tokens: 4 }, ..Default::default() };
/// total += UsageReport { cache_hits: 1, ..Default::default() };
/// assert_eq!((total.calls, total.cache_hits, total.usage.total()), (2, 1, 14));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct UsageReport {
    /// Calls answered by the backend.
    pub calls: u64,
    /// Requests sent to the backend, retries included, each counted when it is sent (so a
    /// call its caller dropped mid-flight counts too). This is what [`Budget::max_calls`]
    /// bounds.
    pub requests: u64,
    /// Calls answered from the cache.
    pub cache_hits: u64,
    /// Calls that failed (after any retries), budget refusals excluded.
    pub failed_calls: u64,
    /// Calls refused by a budget.
    pub refused_calls: u64,
    /// Tokens of the calls the backend answered.
    pub usage: Usage,
    /// Tokens the cache hits would have cost (not spent).
    pub cached_usage: Usage,
    /// Cost of the calls the backend answered, per the price table.
    pub cost: f64,
}

impl UsageReport {
    /// Tokens spent (prompt plus completion), cache hits excluded.
    pub fn total_tokens(&self) -> u64 {
        self.usage.total()
    }

    /// What was used between an `earlier` reading of the same counters and this one: the
    /// usage of one step inside a longer [`track_usage`] scope, read before and after it with
    /// [`current_usage`] (cheaper than a scope per step when there are many small steps).
    ///
    /// ```
    /// use dspy_core::lm::UsageReport;
    /// let before = UsageReport { calls: 2, cost: 0.5, ..Default::default() };
    /// let after = UsageReport { calls: 5, cost: 0.75, ..Default::default() };
    /// let step = after.since(&before);
    /// assert_eq!((step.calls, step.cost), (3, 0.25));
    /// ```
    #[must_use]
    pub fn since(&self, earlier: &UsageReport) -> UsageReport {
        let tokens = |now: Usage, then: Usage| Usage {
            prompt_tokens: now.prompt_tokens.saturating_sub(then.prompt_tokens),
            completion_tokens: now.completion_tokens.saturating_sub(then.completion_tokens),
        };
        UsageReport {
            calls: self.calls.saturating_sub(earlier.calls),
            requests: self.requests.saturating_sub(earlier.requests),
            cache_hits: self.cache_hits.saturating_sub(earlier.cache_hits),
            failed_calls: self.failed_calls.saturating_sub(earlier.failed_calls),
            refused_calls: self.refused_calls.saturating_sub(earlier.refused_calls),
            usage: tokens(self.usage, earlier.usage),
            cached_usage: tokens(self.cached_usage, earlier.cached_usage),
            cost: (self.cost - earlier.cost).max(0.0),
        }
    }

    pub(super) fn add_outcome(&mut self, outcome: &Outcome) {
        match *outcome {
            Outcome::Answered { usage, cost } => {
                self.calls += 1;
                self.usage += usage;
                self.cost += cost;
            }
            Outcome::Cached { usage } => {
                self.cache_hits += 1;
                self.cached_usage += usage;
            }
            Outcome::Failed => self.failed_calls += 1,
            Outcome::Refused => self.refused_calls += 1,
            Outcome::Sent => self.requests += 1,
        }
    }
}

impl AddAssign for UsageReport {
    fn add_assign(&mut self, rhs: UsageReport) {
        self.calls += rhs.calls;
        self.requests += rhs.requests;
        self.cache_hits += rhs.cache_hits;
        self.failed_calls += rhs.failed_calls;
        self.refused_calls += rhs.refused_calls;
        self.usage += rhs.usage;
        self.cached_usage += rhs.cached_usage;
        self.cost += rhs.cost;
    }
}

/// How one call ended, for the counters.
#[derive(Debug, Clone, Copy)]
pub(super) enum Outcome {
    Answered {
        usage: Usage,
        cost: f64,
    },
    Cached {
        usage: Usage,
    },
    Failed,
    Refused,
    /// A request went to the backend (one of a call's attempts).
    Sent,
}

/// One open `track_usage` scope, linked to the one around it: one allocation per scope, which
/// matters when an evaluation opens one per example.
#[derive(Default)]
struct Scope {
    report: Mutex<UsageReport>,
    outer: Option<Arc<Scope>>,
}

impl Scope {
    /// This scope and every scope around it, innermost first.
    fn chain(self: &Arc<Scope>) -> impl Iterator<Item = &Scope> {
        std::iter::successors(Some(&**self), |scope| scope.outer.as_deref())
    }
}

tokio::task_local! {
    /// The innermost open `track_usage` scope.
    static SCOPES: Arc<Scope>;
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data are plain counters, whole after any panic; keep counting.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `future` and reports every LM call made inside it, through any [`LM`](crate::LM):
/// calls, cache hits, failures, tokens and cost. Scopes nest (an evaluation inside a compile
/// counts in both) and concurrent scopes never mix.
///
/// The scope is a tokio task-local, like [`with_lm`](crate::with_lm): it covers everything
/// `future` awaits, including futures joined inside it, but not tasks it `tokio::spawn`s.
///
/// ```
/// use dspy_core::lm::{track_usage, DummyLm, LM, LmRequest};
/// use dspy_core::adapter::Prompt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([serde_json::json!({"a": "1"}), serde_json::json!({"a": "2"})]));
/// let request = LmRequest::new(Prompt::Text("hi".into()));
/// let ((), report) = track_usage(async {
///     lm.complete(request.clone()).await.unwrap();
///     lm.complete(request.clone()).await.unwrap();
/// }).await;
/// assert_eq!(report.calls, 2);
/// assert!(report.usage.total() > 0);
/// # });
/// ```
pub async fn track_usage<F: Future>(future: F) -> (F::Output, UsageReport) {
    let mine = Arc::new(Scope {
        report: Mutex::default(),
        outer: SCOPES.try_with(Arc::clone).ok(),
    });
    let output = SCOPES.scope(mine.clone(), future).await;
    let report = *lock(&mine.report);
    (output, report)
}

/// The usage so far of the innermost [`track_usage`] scope around the caller, if any (for
/// progress reports).
pub fn current_usage() -> Option<UsageReport> {
    SCOPES.try_with(|scope| *lock(&scope.report)).ok()
}

pub(super) fn add_to_scopes(outcome: &Outcome) {
    let _ = SCOPES.try_with(|innermost| {
        for scope in innermost.chain() {
            lock(&scope.report).add_outcome(outcome);
        }
    });
}
