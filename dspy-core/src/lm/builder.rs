//! Stacks the layers over a backend into an [`LM`].

use super::handle::Shared;
use super::layers::{
    Budget, CacheConfig, CacheLayer, Clock, History, LimitLayer, Meter, Price, PriceTable,
    RetryLayer, RetryPolicy, RpmLayer, SendLayer,
};
use super::{LM, LanguageModel};
use std::fmt;
use std::sync::Arc;

/// Calls in flight per LM with [`LmBuilder::with_defaults`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Calls kept in the history with [`LmBuilder::with_defaults`].
pub const DEFAULT_HISTORY: usize = 100;

/// Builds an [`LM`] with the layers asked for; see [`LM::builder`]. Nothing is on until asked:
/// [`with_defaults`](Self::with_defaults) turns the production set on, and the other methods
/// set (or, called after it, change) one layer each.
///
/// The layers stack in a fixed order, whatever the order of the calls here: budget, usage and
/// history on the handle, then cache, concurrency limit, retries, requests per minute, backend
/// (see [`layers`](super::layers) for why).
///
/// ```
/// use dspy_core::lm::{Budget, CacheConfig, DummyLm, LM, Price, RetryPolicy};
/// use std::time::Duration;
/// let lm = LM::builder(DummyLm::new([]))
///     .with_defaults()                       // cache, retries, limit, history
///     .cache(CacheConfig::memory_only())     // ...but keep this one off the disk
///     .retry_policy(RetryPolicy::new(5).base_delay(Duration::from_millis(200)))
///     .rpm(600)
///     .price(Price::per_million(0.15, 0.60))
///     .budget(Budget::new().max_cost(1.0))
///     .build();
/// assert_eq!(lm.history_capacity(), 100);
/// assert_eq!(lm.budget(), Some(Budget::new().max_cost(1.0)));
/// ```
#[derive(Clone)]
pub struct LmBuilder {
    backend: Arc<dyn LanguageModel>,
    cache: Option<CacheConfig>,
    retry: Option<RetryPolicy>,
    max_in_flight: Option<usize>,
    rpm: Option<u32>,
    prices: PriceTable,
    budget: Option<Budget>,
    history: usize,
    clock: Option<Arc<dyn Clock>>,
}

impl LmBuilder {
    /// A builder over `backend` with nothing on.
    pub fn new(backend: Arc<dyn LanguageModel>) -> Self {
        LmBuilder {
            backend,
            cache: None,
            retry: None,
            max_in_flight: None,
            rpm: None,
            prices: PriceTable::new(),
            budget: None,
            history: 0,
            clock: None,
        }
    }

    /// The production set: memory and disk cache ([`CacheConfig::from_env`]), 3 retries with
    /// backoff ([`RetryPolicy::default`]), at most [`DEFAULT_MAX_IN_FLIGHT`] calls in flight,
    /// and a history of the last [`DEFAULT_HISTORY`] calls. No rate limit, prices or budget.
    #[must_use]
    pub fn with_defaults(mut self) -> Self {
        self.cache = Some(CacheConfig::from_env());
        self.retry = Some(RetryPolicy::default());
        self.max_in_flight = Some(DEFAULT_MAX_IN_FLIGHT);
        self.history = DEFAULT_HISTORY;
        self
    }

    /// Caches answers as `config` says ([`CacheConfig::off`] turns the cache off).
    #[must_use]
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache = (!config.is_off()).then_some(config);
        self
    }

    /// No cache.
    #[must_use]
    pub fn no_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Retries failed calls up to `retries` times with the default backoff (0: no retries).
    #[must_use]
    pub fn retries(self, retries: u32) -> Self {
        let policy = RetryPolicy {
            max_retries: retries,
            ..self.retry.unwrap_or_default()
        };
        self.retry_policy(policy)
    }

    /// Retries per `policy`.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = (policy.max_retries > 0).then_some(policy);
        self
    }

    /// At most `max` calls in flight at once, over all clones (0: no limit).
    #[must_use]
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = (max > 0).then_some(max);
        self
    }

    /// At most `rpm` requests per minute sent to the backend, retries included (0: no limit).
    #[must_use]
    pub fn rpm(mut self, rpm: u32) -> Self {
        self.rpm = (rpm > 0).then_some(rpm);
        self
    }

    /// The price of this LM's model (the fallback of its price table).
    #[must_use]
    pub fn price(mut self, price: Price) -> Self {
        self.prices = self.prices.with_fallback(price);
        self
    }

    /// Prices by model name, for backends that answer with a more precise model name.
    #[must_use]
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// Stops calls with [`Error::Budget`](crate::Error::Budget) once `budget` is spent.
    #[must_use]
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Keeps the last `n` calls for [`LM::history`] and [`LM::inspect_history`] (0: none).
    #[must_use]
    pub fn history(mut self, n: usize) -> Self {
        self.history = n;
        self
    }

    /// Reads time and waits on `clock` (retry backoff and the rate limit); tests pass a clock
    /// that records the waits and returns at once.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Stacks the layers and returns the handle.
    pub fn build(self) -> LM {
        let meter = Arc::new(Meter::new(self.prices, self.budget));
        let mut stack: Arc<dyn LanguageModel> =
            Arc::new(SendLayer::new(self.backend, meter.clone()));
        if let Some(rpm) = self.rpm {
            let mut layer = RpmLayer::new(stack, rpm);
            if let Some(clock) = &self.clock {
                layer = layer.with_clock(clock.clone());
            }
            stack = Arc::new(layer);
        }
        if let Some(policy) = self.retry {
            let mut layer = RetryLayer::new(stack, policy);
            if let Some(clock) = &self.clock {
                layer = layer.with_clock(clock.clone());
            }
            stack = Arc::new(layer);
        }
        if let Some(max) = self.max_in_flight {
            stack = Arc::new(LimitLayer::new(stack, max));
        }
        if let Some(config) = &self.cache {
            stack = Arc::new(CacheLayer::new(stack, config));
        }
        let shared = Shared {
            meter,
            sends_counted: true,
            history: (self.history > 0).then(|| History::new(self.history)),
            cache: self.cache,
        };
        LM::assemble(stack, shared)
    }
}

impl LM {
    /// Stacks layers over `backend`; see [`LmBuilder`].
    ///
    /// ```
    /// use dspy_core::lm::{Budget, CacheConfig, DummyLm, LM};
    /// let lm = LM::builder(DummyLm::new([]))
    ///     .cache(CacheConfig::memory_only())
    ///     .retries(2)
    ///     .max_in_flight(8)
    ///     .budget(Budget::new().max_calls(100))
    ///     .history(20)
    ///     .build();
    /// assert_eq!(lm.model(), "dummy");
    /// ```
    pub fn builder(backend: impl LanguageModel + 'static) -> LmBuilder {
        LmBuilder::new(Arc::new(backend))
    }
}

impl fmt::Debug for LmBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LmBuilder")
            .field("backend", &self.backend)
            .field("cache", &self.cache)
            .field("retry", &self.retry)
            .field("max_in_flight", &self.max_in_flight)
            .field("rpm", &self.rpm)
            .field("prices", &self.prices)
            .field("budget", &self.budget)
            .field("history", &self.history)
            .finish()
    }
}
