//! [`Predict`] as a parameter: a [`DynPredictor`] for optimizers, and a program of one
//! predictor (named `self` at the root).

use super::Predict;
use crate::adapter::{Adapter, FieldValues, Formatted, TrainingExample};
use crate::lm::{FinetunedModel, LM};
use crate::module::config::PredictConfig;
use crate::module::demo::{Demo, DemoState};
use crate::module::dyn_predictor::DynPredictor;
use crate::module::field_text::{FieldText, set_field_text};
use crate::module::id::PredictorId;
use crate::module::params::{Parameters, own_name};
use crate::signature::{Signature, SignatureInfo};
use crate::{Error, Result};
use std::sync::Arc;

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

    fn effective_signature(&self) -> &SignatureInfo {
        Predict::effective_signature(self)
    }

    fn set_field_text(&mut self, name: &str, text: Option<FieldText>) -> Result<()> {
        self.own_text = set_field_text(S::info(), self.own_text.as_deref(), name, text)?;
        Ok(())
    }

    fn has_own_field_text(&self) -> bool {
        self.own_text.is_some()
    }

    fn set_id(&mut self, id: PredictorId) {
        self.id = id;
    }

    fn demo_states(&self) -> Result<Vec<DemoState>> {
        self.demos.iter().map(Demo::to_state).collect()
    }

    fn set_demo_states(&mut self, demos: Vec<DemoState>) -> Result<()> {
        self.demos = typed_demos::<S>(demos)?;
        Ok(())
    }

    fn check_demo_states(&self, demos: &[DemoState]) -> Result<()> {
        typed_demos::<S>(demos.to_vec()).map(drop)
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

    fn lm(&self) -> Result<LM> {
        Predict::lm(self)
    }

    fn weights(&self) -> Option<&FinetunedModel> {
        self.weights.as_ref()
    }

    fn set_weights(&mut self, weights: Option<FinetunedModel>) {
        self.weights = weights;
    }

    fn set_adapter(&mut self, adapter: Option<Arc<dyn Adapter>>) {
        self.adapter = adapter;
    }

    fn render_json(&self, input: &FieldValues) -> Result<Formatted> {
        self.render(&typed_fields::<S, S::Input>("input", input)?)
    }

    fn training_example_json(
        &self,
        input: &FieldValues,
        output: &FieldValues,
    ) -> Result<TrainingExample> {
        let input = typed_fields::<S, S::Input>("input", input)?;
        let output = typed_fields::<S, S::Output>("output", output)?;
        self.training_example(&input, &output)
    }

    fn adapter(&self) -> Arc<dyn Adapter> {
        self.adapter_now()
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

/// `fields` as `S`'s input or output (`what`); what does not fit is an [`Error::Config`].
fn typed_fields<S: Signature, T: serde::de::DeserializeOwned>(
    what: &str,
    fields: &FieldValues,
) -> Result<T> {
    serde_json::from_value(serde_json::Value::Object(fields.clone())).map_err(|e| {
        Error::config(format!(
            "{what} does not fit signature `{}`: {e}",
            S::info().name
        ))
    })
}

/// Demos of `S`; the first that does not fit is an [`Error::State`] naming it and, when it can
/// be told, the field.
fn typed_demos<S: Signature>(demos: Vec<DemoState>) -> Result<Vec<Demo<S>>> {
    demos
        .into_iter()
        .enumerate()
        .map(|(i, demo)| {
            Demo::from_state(demo).map_err(|reason| {
                Error::State(format!(
                    "demo {i} does not fit signature `{}`: {reason}",
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
        visit(own_name(prefix), self);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        visit(own_name(prefix), self);
    }
}
