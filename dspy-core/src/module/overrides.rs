//! Call overrides: sampling settings and hints that a wrapping module ([`BestOfN`](super::BestOfN),
//! [`Refine`](super::Refine), [`MultiChainComparison`](super::MultiChainComparison)) gives every
//! predictor call made inside one scope, without cloning or changing the wrapped program.
//!
//! The scope is a tokio task-local, like [`with_lm`](crate::with_lm), so concurrent attempts
//! joined in one task each see their own overrides.

use super::config::PredictConfig;
use super::id::PredictorId;
use crate::adapter::FieldValues;
use crate::signature::{FieldSpec, Signature, SignatureInfo, info_for};
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

tokio::task_local! {
    static OVERRIDES: CallOverrides;
}

/// The input field a hinted predictor gets (DSPy's name).
pub const HINT_FIELD: &str = "hint_";

/// What [`with_overrides`] applies to each predictor call inside its scope.
///
/// - `rollout_id` replaces the predictor's own, so each attempt is a fresh sample that caches
///   keep apart;
/// - `temperature` applies only to predictors that set none themselves (as in DSPy, where a
///   predictor's own settings win over its LM's);
/// - a hint for a predictor's [`PredictorId`] is shown to that predictor as an extra input
///   field, `hint_`.
///
/// ```
/// use dspy_core::module::{CallOverrides, with_overrides};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(CallOverrides::current().rollout_id, None);
/// let seen = with_overrides(CallOverrides::new().rollout_id(2).temperature(1.0), async {
///     CallOverrides::current()
/// })
/// .await;
/// assert_eq!((seen.rollout_id, seen.temperature), (Some(2), Some(1.0)));
/// # });
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallOverrides {
    /// Rollout id for every call in scope.
    pub rollout_id: Option<u64>,
    /// Temperature for calls whose predictor sets none.
    pub temperature: Option<f32>,
    hints: Option<Arc<HashMap<PredictorId, String>>>,
}

impl CallOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the rollout id.
    #[must_use]
    pub fn rollout_id(mut self, rollout_id: u64) -> Self {
        self.rollout_id = Some(rollout_id);
        self
    }

    /// Sets the temperature for predictors without their own.
    #[must_use]
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Adds hints, one per predictor id.
    #[must_use]
    pub fn hints(mut self, hints: impl IntoIterator<Item = (PredictorId, String)>) -> Self {
        let mut all = self.hints.as_deref().cloned().unwrap_or_default();
        all.extend(hints);
        self.hints = Some(Arc::new(all));
        self
    }

    /// The hint for predictor `id`, if any.
    pub fn hint_for(&self, id: PredictorId) -> Option<&str> {
        self.hints.as_ref()?.get(&id).map(String::as_str)
    }

    /// The overrides in effect here (none outside any scope).
    pub fn current() -> Self {
        OVERRIDES.try_with(Clone::clone).unwrap_or_default()
    }

    /// `config` with these overrides applied; borrowed when nothing changes.
    pub fn apply_to<'a>(&self, config: &'a PredictConfig) -> Cow<'a, PredictConfig> {
        let rollout = self.rollout_id.filter(|id| config.rollout_id != Some(*id));
        let temperature = self.temperature.filter(|_| config.temperature.is_none());
        if rollout.is_none() && temperature.is_none() {
            return Cow::Borrowed(config);
        }
        let mut config = config.clone();
        config.rollout_id = rollout.or(config.rollout_id);
        config.temperature = temperature.or(config.temperature);
        Cow::Owned(config)
    }

    /// The signature predictor `id` of `S` is called with: `S`'s own, or, when there is a hint
    /// for it, `S`'s with a `hint_` input added last and the hint put into `input`.
    pub fn signature_for<S: Signature>(
        &self,
        id: PredictorId,
        input: &mut FieldValues,
    ) -> &'static SignatureInfo {
        let Some(hint) = self.hint_for(id) else {
            return S::info();
        };
        input.insert(HINT_FIELD.into(), hint.into());
        info_for::<Hinted<S>>(|| {
            let base = S::info();
            let info = base.clone().with_input(FieldSpec::of::<String>(
                HINT_FIELD,
                "A hint to the module from an earlier run",
            ));
            // Adding a field must not turn default instructions into different ones.
            SignatureInfo {
                instructions: base.instructions.clone(),
                ..info
            }
        })
    }

    /// These overrides on top of `outer`: what is set here wins, the rest is inherited.
    fn over(self, outer: CallOverrides) -> CallOverrides {
        let hints = match (outer.hints, self.hints) {
            (Some(outer), Some(inner)) => {
                let mut all = (*outer).clone();
                all.extend(inner.iter().map(|(id, h)| (*id, h.clone())));
                Some(Arc::new(all))
            }
            (outer, inner) => inner.or(outer),
        };
        CallOverrides {
            rollout_id: self.rollout_id.or(outer.rollout_id),
            temperature: self.temperature.or(outer.temperature),
            hints,
        }
    }
}

/// Marks the hinted variant of `S`, so its description is built once per signature.
struct Hinted<S>(PhantomData<fn() -> S>);

/// Runs `future` with `overrides` applied to every predictor call inside it, on top of any
/// enclosing scope's.
pub async fn with_overrides<F: Future>(overrides: CallOverrides, future: F) -> F::Output {
    let merged = overrides.over(CallOverrides::current());
    OVERRIDES.scope(merged, future).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn inner_scopes_inherit_and_win() {
        let a = PredictorId::fresh();
        let b = PredictorId::fresh();
        let outer = CallOverrides::new()
            .rollout_id(1)
            .temperature(0.5)
            .hints([(a, "outer a".to_string()), (b, "outer b".to_string())]);
        let seen = with_overrides(outer, async {
            let inner = CallOverrides::new()
                .rollout_id(7)
                .hints([(a, "inner a".to_string())]);
            with_overrides(inner, async { CallOverrides::current() }).await
        })
        .await;
        assert_eq!(seen.rollout_id, Some(7));
        assert_eq!(seen.temperature, Some(0.5));
        assert_eq!(seen.hint_for(a), Some("inner a"));
        assert_eq!(seen.hint_for(b), Some("outer b"));
        assert_eq!(CallOverrides::current(), CallOverrides::default());
    }

    #[test]
    fn rollout_replaces_and_temperature_fills_in() {
        let own = PredictConfig {
            temperature: Some(0.0),
            ..Default::default()
        };
        let overrides = CallOverrides::new().rollout_id(3).temperature(1.0);
        let applied = overrides.apply_to(&own);
        assert_eq!(applied.rollout_id, Some(3));
        assert_eq!(applied.temperature, Some(0.0));
        let unset = PredictConfig::default();
        assert_eq!(overrides.apply_to(&unset).temperature, Some(1.0));
        assert!(matches!(
            CallOverrides::new().apply_to(&own),
            Cow::Borrowed(_)
        ));
    }
}
