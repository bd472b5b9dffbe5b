//! What `#[derive(Module)]` generates code against; not a public API.
//!
//! The derive walks each field through [`ModuleField`] rather than [`Parameters`] itself, so a
//! field that is not a module fails with an error that names the field. The derive passes a type
//! parameter named after the field as `Field`; diagnostics print type parameters by their bare
//! name, so `{Field}` in the message below reads `tokenizer`.
//!
//! The trait has two impls told apart by `Kind`: with two candidate impls and neither applying,
//! the compiler reports the unmet `ModuleField` bound itself (with this message), where with one
//! impl it would report the nested `Parameters` bound, which cannot name the field.

use super::{DynPredictor, ModuleState, Parameters};

/// `Kind` of the impl for modules.
#[derive(Debug)]
pub struct IsModule;

/// `Kind` of the impl that never applies (see the module docs).
#[derive(Debug)]
pub struct NeverApplies;

mod sealed {
    /// Implemented by no type, so the [`NeverApplies`](super::NeverApplies) impl never applies.
    pub trait Unimplementable {}
}

/// One field of a `#[derive(Module)]` struct, named `Field` in errors.
#[diagnostic::on_unimplemented(
    message = "field `{Field}` is not a module: `{Self}` has no predictors to list",
    label = "`{Field}` is not a module",
    note = "every field of a `#[derive(Module)]` struct is searched for predictors, so none is \
            left out of optimization or saving",
    note = "mark the field `#[dspy(skip)]` if it holds no predictors, or make `{Self}` a module \
            (`#[derive(Module)]` on it)"
)]
pub trait ModuleField<Field, Kind> {
    /// [`Parameters::visit_predictors`] on the field.
    fn visit_field<'a>(&'a self, prefix: &str, visit: &mut dyn FnMut(String, &'a dyn DynPredictor));

    /// [`Parameters::visit_predictors_mut`] on the field.
    fn visit_field_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    );

    /// [`Parameters::visit_module_states`] on the field.
    fn visit_field_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    );
}

impl<T: Parameters + ?Sized, Field> ModuleField<Field, IsModule> for T {
    fn visit_field<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.visit_predictors(prefix, visit);
    }

    fn visit_field_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.visit_predictors_mut(prefix, visit);
    }

    fn visit_field_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        self.visit_module_states(prefix, visit);
    }
}

impl<T: sealed::Unimplementable + ?Sized, Field> ModuleField<Field, NeverApplies> for T {
    fn visit_field<'a>(&'a self, _: &str, _: &mut dyn FnMut(String, &'a dyn DynPredictor)) {}

    fn visit_field_mut<'a>(
        &'a mut self,
        _: &str,
        _: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
    }

    fn visit_field_states<'a>(&'a self, _: &str, _: &mut dyn FnMut(String, &'a dyn ModuleState)) {}
}
