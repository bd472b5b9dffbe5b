//! [`Predict`] as a parameter: a [`DynPredictor`] for optimizers, and a program of one
//! predictor (named `self` at the root).

use super::Predict;
use crate::adapter::{FieldValues, Formatted};
use crate::lm::LM;
use crate::module::config::PredictConfig;
use crate::module::convert::to_fields;
use crate::module::dyn_predictor::DynPredictor;
use crate::module::id::PredictorId;
use crate::module::params::Parameters;
use crate::module::state::misfit_field;
use crate::signature::{Signature, SignatureInfo};
use crate::{Error, Result};

impl<S: Signature> DynPredictor for Predict<S> {
    fn id(&self) -> PredictorId {
        self.id
    }

    fn signature(&self) -> &'static SignatureInfo {
        S::info()
    }

    fn effective_instructions(&self) -> &str {
        Predict::effective_instructions(self)
    }

    fn set_instructions(&mut self, instructions: Option<String>) {
        self.instructions = instructions;
    }

    fn has_own_instructions(&self) -> bool {
        self.instructions.is_some()
    }

    fn set_id(&mut self, id: PredictorId) {
        self.id = id;
    }

    fn demos_json(&self) -> Result<Vec<FieldValues>> {
        self.demos.iter().map(to_fields).collect()
    }

    fn set_demos_json(&mut self, demos: Vec<FieldValues>) -> Result<()> {
        self.demos = typed_demos::<S>(&demos)?;
        Ok(())
    }

    fn check_demos_json(&self, demos: &[FieldValues]) -> Result<()> {
        typed_demos::<S>(demos).map(drop)
    }

    fn demo_count(&self) -> usize {
        self.demos.len()
    }

    fn config(&self) -> &PredictConfig {
        &self.config
    }

    fn config_mut(&mut self) -> &mut PredictConfig {
        &mut self.config
    }

    fn set_lm(&mut self, lm: Option<LM>) {
        self.lm = lm;
    }

    fn render_json(&self, input: &FieldValues) -> Result<Formatted> {
        let typed: S::Input = serde_json::from_value(serde_json::Value::Object(input.clone()))
            .map_err(|e| {
                Error::config(format!(
                    "input does not fit signature `{}`: {e}",
                    S::info().name
                ))
            })?;
        self.render(&typed)
    }

    fn lm_calls_at_most(&self) -> u32 {
        // As `run_adapter_from` tries: the first answer, the fallback's once, one re-ask (by
        // the adapter in use by then).
        let adapter = self.adapter_now();
        let fallback = adapter.fallback();
        let reask = fallback.as_deref().unwrap_or(&*adapter).reask_on_error();
        1 + u32::from(fallback.is_some()) + u32::from(reask)
    }
}

/// Demos as values of `S`; the first that does not fit is an [`Error::State`] naming it and, when
/// it can be told, the field.
fn typed_demos<S: Signature>(demos: &[FieldValues]) -> Result<Vec<S>> {
    demos
        .iter()
        .enumerate()
        .map(|(i, demo)| {
            serde_json::from_value::<S>(serde_json::Value::Object(demo.clone())).map_err(|e| {
                let field = misfit_field(S::info(), demo)
                    .map(|f| format!("{f}; "))
                    .unwrap_or_default();
                Error::State(format!(
                    "demo {i} does not fit signature `{}`: {field}{e}",
                    S::info().name
                ))
            })
        })
        .collect()
}

impl<S: Signature> Parameters for Predict<S> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        visit(leaf_name(prefix), self);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        visit(leaf_name(prefix), self);
    }
}

fn leaf_name(prefix: &str) -> String {
    if prefix.is_empty() {
        "self".to_string()
    } else {
        prefix.to_string()
    }
}
