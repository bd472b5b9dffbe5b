//! The meter of one LM, shared by its clones: usage totals, the budget, and the calls and
//! requests in flight.
//!
//! A *call* is one `LM::complete`/`LM::stream`; a *request* is one attempt sent to the
//! backend (a retried call sends several, a cache hit none). The call limit of a [`Budget`]
//! bounds requests: each is counted the moment it is sent (by [`SendLayer`](super::SendLayer),
//! at the bottom of the stack), so a call its caller drops mid-flight still counts, and retries
//! count as what they are. A call admitted and not yet sent holds one request of the budget, so
//! concurrent calls cannot overrun it either.

use super::usage::{Outcome, add_to_scopes, lock};
use super::{Budget, PriceTable, UsageReport};
use crate::lm::{EmbedResponse, LmResponse, Usage};
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

tokio::task_local! {
    /// Whether the call being made (in this task) has sent a request yet.
    static CALL: Arc<AtomicBool>;
}

/// The usage counters and budget of one LM, shared by its clones.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    prices: PriceTable,
    budget: Option<Budget>,
    state: Mutex<MeterState>,
}

#[derive(Debug, Default)]
struct MeterState {
    report: UsageReport,
    /// Calls admitted and not finished.
    in_flight: u64,
    /// Of those, the ones that have sent a request (already in `report.requests`).
    sent_in_flight: u64,
}

impl MeterState {
    /// The requests the call limit counts: those sent, and one for each call in flight that
    /// has not sent yet (it is about to).
    fn committed(&self) -> u64 {
        self.report.requests + self.in_flight.saturating_sub(self.sent_in_flight)
    }
}

/// A call let through by [`Meter::admit`]; [`Admission::finish`] counts how it ended. A call
/// dropped before that (its caller gave up) frees its place; the requests it sent stay counted.
#[must_use]
pub(crate) struct Admission<'a> {
    meter: &'a Meter,
    sent: Arc<AtomicBool>,
    open: bool,
}

impl Admission<'_> {
    /// Runs the call's backend future; the requests it sends are counted against this call.
    pub(crate) async fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        CALL.scope(self.sent.clone(), future).await
    }

    /// Counts one request sent for this call, where no [`SendLayer`](super::SendLayer) does
    /// (an LM built without layers sends exactly one per call).
    pub(crate) fn mark_sent(&self) {
        self.meter.count_send(&self.sent);
    }

    /// Counts how the call ended, in the LM's totals and every open
    /// [`track_usage`](super::track_usage) scope.
    pub(crate) fn finish(self, model: &str, outcome: &Result<LmResponse>) {
        let outcome = outcome.as_ref().map(|r| Answer {
            usage: r.usage,
            model: &r.model,
            cached: r.cached,
        });
        self.close(model, outcome);
    }

    /// [`finish`](Self::finish) for an embedding call.
    pub(crate) fn finish_embed(self, model: &str, outcome: &Result<EmbedResponse>) {
        let outcome = outcome.as_ref().map(|r| Answer {
            usage: r.usage,
            model: &r.model,
            cached: r.cached,
        });
        self.close(model, outcome);
    }

    fn close(mut self, model: &str, outcome: std::result::Result<Answer<'_>, &Error>) {
        self.open = false;
        // An answer (or a failure other than a refusal) was sent for, whatever counted it.
        let answered = match &outcome {
            Ok(answer) => !answer.cached,
            Err(error) => !matches!(error, Error::Budget(_)),
        };
        if answered && !self.sent.load(Ordering::SeqCst) {
            self.mark_sent();
        }
        self.meter
            .record(model, outcome, self.sent.load(Ordering::SeqCst));
    }
}

/// What the counters need of a call that succeeded, completion or embedding.
struct Answer<'a> {
    usage: Usage,
    /// The answering model's own name.
    model: &'a str,
    cached: bool,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.open {
            self.meter.leave(self.sent.load(Ordering::SeqCst));
        }
    }
}

impl Meter {
    pub(crate) fn new(prices: PriceTable, budget: Option<Budget>) -> Self {
        Meter {
            prices,
            budget,
            state: Mutex::default(),
        }
    }

    pub(crate) fn report(&self) -> UsageReport {
        lock(&self.state).report
    }

    pub(crate) fn budget(&self) -> Option<Budget> {
        self.budget
    }

    pub(crate) fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Lets a call through, or refuses it with [`Error::Budget`] when a limit is reached.
    pub(crate) fn admit(&self, model: &str) -> Result<Admission<'_>> {
        let mut state = lock(&self.state);
        if let Some(reached) = self
            .budget
            .and_then(|b| b.reached(state.committed(), &state.report))
        {
            let message = spent_message(&reached, &state.report, model);
            state.report.add_outcome(&Outcome::Refused);
            drop(state);
            add_to_scopes(&Outcome::Refused);
            return Err(Error::Budget(message));
        }
        state.in_flight += 1;
        Ok(Admission {
            meter: self,
            sent: Arc::default(),
            open: true,
        })
    }

    /// Lets one request of the call in this task go to the backend, counting it now; refuses
    /// it when the call limit would be passed (a retry past the limit is not sent).
    pub(crate) fn send(&self, model: &str) -> Result<()> {
        let call = CALL.try_with(Arc::clone).ok();
        let first = call
            .as_ref()
            .is_none_or(|sent| !sent.load(Ordering::SeqCst));
        let state = lock(&self.state);
        // A call's first request was reserved when it was admitted; a later one needs room.
        let after = state.committed() + u64::from(!first || call.is_none());
        if let Some(max) = self.budget.and_then(|b| b.max_calls)
            && after > max
        {
            let reached = format!(
                "the limit of {max} LM calls (requests sent, retries included) is reached; \
                 this retry was not sent"
            );
            return Err(Error::Budget(spent_message(&reached, &state.report, model)));
        }
        drop(state);
        match call {
            Some(sent) => self.count_send(&sent),
            None => self.count_request(),
        }
        Ok(())
    }

    fn count_send(&self, sent: &AtomicBool) {
        let first = !sent.swap(true, Ordering::SeqCst);
        let mut state = lock(&self.state);
        state.report.requests += 1;
        if first {
            state.sent_in_flight += 1;
        }
        drop(state);
        add_to_scopes(&Outcome::Sent);
    }

    fn count_request(&self) {
        lock(&self.state).report.requests += 1;
        add_to_scopes(&Outcome::Sent);
    }

    /// A call in flight is over.
    fn leave(&self, sent: bool) {
        let mut state = lock(&self.state);
        state.in_flight = state.in_flight.saturating_sub(1);
        if sent {
            state.sent_in_flight = state.sent_in_flight.saturating_sub(1);
        }
    }

    fn record(&self, model: &str, outcome: std::result::Result<Answer<'_>, &Error>, sent: bool) {
        let outcome = match outcome {
            Ok(answer) if answer.cached => Outcome::Cached {
                usage: answer.usage,
            },
            Ok(answer) => {
                // The answering model's own name is the most precise, then the LM's.
                let price = self
                    .prices
                    .entry_for(answer.model)
                    .or_else(|| self.prices.price_for(model));
                Outcome::Answered {
                    usage: answer.usage,
                    cost: price.map_or(0.0, |p| p.cost(answer.usage)),
                }
            }
            Err(Error::Budget(_)) => Outcome::Refused,
            Err(_) => Outcome::Failed,
        };
        self.leave(sent);
        lock(&self.state).report.add_outcome(&outcome);
        add_to_scopes(&outcome);
    }
}

fn spent_message(reached: &str, spent: &UsageReport, model: &str) -> String {
    format!(
        "{reached} ({} requests, {} tokens, cost {:.4} so far on `{model}`)",
        spent.requests,
        spent.usage.total(),
        spent.cost
    )
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::{Choice, Price, Usage};

    fn answered(prompt: u64, completion: u64) -> Result<LmResponse> {
        Ok(LmResponse {
            choices: vec![Choice::new("x")],
            usage: Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
            },
            model: "m-2025".into(),
            cached: false,
        })
    }

    #[test]
    fn call_limit_counts_calls_in_flight() {
        let meter = Meter::new(PriceTable::new(), Some(Budget::new().max_calls(2)));
        let a = meter.admit("m").unwrap();
        let b = meter.admit("m").unwrap();
        assert!(matches!(meter.admit("m"), Err(Error::Budget(_))));
        a.finish("m", &answered(1, 1));
        b.finish("m", &Err(Error::config("x")));
        let err = meter.admit("m").err().unwrap();
        assert!(err.to_string().contains("limit of 2 LM calls"), "{err}");
        let report = meter.report();
        assert_eq!(
            (report.calls, report.failed_calls, report.refused_calls),
            (1, 1, 2)
        );
    }

    #[test]
    fn the_lm_model_entry_beats_the_fallback() {
        let prices = PriceTable::new()
            .with("m", Price::per_million(1.0, 0.0))
            .with_fallback(Price::per_million(100.0, 0.0));
        let meter = Meter::new(prices, None);
        let mut response = answered(1_000_000, 0).unwrap();
        response.model = "served-as-something-else".into();
        meter.admit("m").unwrap().finish("m", &Ok(response.clone()));
        assert!((meter.report().cost - 1.0).abs() < 1e-9);
        meter.admit("x").unwrap().finish("x", &Ok(response));
        assert!((meter.report().cost - 101.0).abs() < 1e-9);
    }

    #[test]
    fn a_dropped_call_frees_its_place() {
        let meter = Meter::new(PriceTable::new(), Some(Budget::new().max_calls(1)));
        let admission = meter.admit("m").unwrap();
        assert!(meter.admit("m").is_err());
        drop(admission); // the caller gave up mid-call
        meter.admit("m").unwrap().finish("m", &answered(1, 1));
        assert!(meter.admit("m").is_err());
        assert_eq!(meter.report().calls, 1);
    }

    #[test]
    fn cost_uses_the_model_price_and_cache_hits_are_free() {
        let prices = PriceTable::new().with("m", Price::per_million(1.0, 2.0));
        let meter = Meter::new(prices, Some(Budget::new().max_cost(0.000_005)));
        let a = meter.admit("m").unwrap();
        a.finish("m", &answered(1, 1));
        let mut hit = answered(100, 100).unwrap();
        hit.cached = true;
        let b = meter.admit("m").unwrap();
        b.finish("m", &Ok(hit));
        let r = meter.report();
        assert!((r.cost - 0.000_003).abs() < 1e-12, "{r:?}");
        assert_eq!((r.cache_hits, r.cached_usage.total()), (1, 200));
        let c = meter.admit("m").unwrap();
        c.finish("m", &answered(2, 1));
        assert!(meter.admit("m").is_err(), "cost limit crossed");
    }
}
