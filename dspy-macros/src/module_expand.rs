//! Code generation from a checked [`ModuleModel`]: `impl Parameters` (its three visits:
//! predictors, predictors mutably, module states).
//!
//! Each visit goes through a nested function whose type parameters are named after the fields
//! (`fn __dspy_fields<.., retrieve, answer>`) and through dspy's hidden `ModuleField<marker, _>` trait, so
//! a field that is not a module fails to compile with "field `answer` is not a module", pointing
//! at the field. Diagnostics print a type parameter by its bare name, where a generated marker
//! struct would be printed with its path as soon as two of them share a name.

use crate::module_model::{ModuleFieldModel, ModuleModel};
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::{GenericParam, WherePredicate};

/// Everything `#[derive(Module)]` emits for one struct.
pub(crate) fn expand(model: &ModuleModel) -> TokenStream {
    let ModuleModel {
        ident,
        generics,
        krate,
        ..
    } = model;
    let (impl_generics, ty_generics, _) = generics.split_for_impl();
    let where_clause = where_clause(model);
    let visit = visit_fn(model, Visit::Predictors);
    let visit_mut = visit_fn(model, Visit::PredictorsMut);
    let visit_states = visit_fn(model, Visit::ModuleStates);
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Parameters for #ident #ty_generics #where_clause {
            #visit
            #visit_mut
            #visit_states
        }
    }
}

/// Which of `Parameters`' visits a generated method is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    Predictors,
    PredictorsMut,
    ModuleStates,
}

/// `visit_predictors`, `visit_predictors_mut` or `visit_module_states`.
fn visit_fn(model: &ModuleModel, visit: Visit) -> TokenStream {
    let ModuleModel {
        ident,
        generics,
        krate,
        fields,
    } = model;
    let (_, ty_generics, _) = generics.split_for_impl();
    let mutable = visit == Visit::PredictorsMut;
    let (method, field_method, reference, item) = match visit {
        Visit::Predictors => (
            quote!(visit_predictors),
            quote!(visit_field),
            quote!(&'__dspy_a),
            quote!(#krate::DynPredictor),
        ),
        Visit::PredictorsMut => (
            quote!(visit_predictors_mut),
            quote!(visit_field_mut),
            quote!(&'__dspy_a mut),
            quote!(#krate::DynPredictor),
        ),
        Visit::ModuleStates => (
            quote!(visit_module_states),
            quote!(visit_field_states),
            quote!(&'__dspy_a),
            quote!(#krate::__private::ModuleState),
        ),
    };
    let visitor = quote!(&mut dyn ::core::ops::FnMut(
        ::std::string::String,
        #reference dyn #item,
    ));

    let mut nested = generics.clone();
    // Lifetimes first, as Rust requires; a nested function cannot see the impl's generics, so it
    // declares its own, without defaults (which functions do not take).
    nested.params.insert(0, syn::parse_quote!('__dspy_a));
    for param in nested.params.iter_mut() {
        match param {
            GenericParam::Type(t) => {
                t.eq_token = None;
                t.default = None;
            }
            GenericParam::Const(c) => {
                c.eq_token = None;
                c.default = None;
            }
            GenericParam::Lifetime(_) => {}
        }
    }
    for field in fields {
        let marker = &field.marker;
        nested.params.push(syn::parse_quote!(#marker));
    }
    let nested_params = &nested.params;
    let nested_where = replace_self(
        where_clause(model).to_token_stream(),
        &quote!(#ident #ty_generics),
    );
    let args = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => {
                let ident = &t.ident;
                Some(quote!(#ident))
            }
            GenericParam::Const(c) => {
                let ident = &c.ident;
                Some(quote!({ #ident }))
            }
            GenericParam::Lifetime(_) => None,
        })
        .chain(fields.iter().map(|_| quote!(())));
    let calls = fields
        .iter()
        .map(|f| field_call(f, krate, &field_method, mutable));

    quote! {
        fn #method<'__dspy_a>(
            #reference self,
            __prefix: &str,
            __visit: #visitor,
        ) {
            #[allow(non_camel_case_types, clippy::extra_unused_type_parameters)]
            fn __dspy_fields<#nested_params>(
                __this: #reference #ident #ty_generics,
                __prefix: &str,
                __visit: #visitor,
            ) #nested_where {
                #(#calls)*
            }
            __dspy_fields::<#(#args),*>(self, __prefix, __visit)
        }
    }
}

/// One field's visit, spanned on the field so a field that is not a module is reported there.
fn field_call(
    field: &ModuleFieldModel,
    krate: &syn::Path,
    method: &TokenStream,
    mutable: bool,
) -> TokenStream {
    let ModuleFieldModel {
        member,
        name,
        marker,
        span,
        ..
    } = field;
    // Every token on the field's span (the dspy path too), so errors point at the field, not
    // at the derive.
    let krate = respan(krate.to_token_stream(), *span);
    let method = respan(method.clone(), *span);
    let borrow = if mutable {
        quote_spanned!(*span=> &mut)
    } else {
        quote_spanned!(*span=> &)
    };
    quote_spanned! {*span=>
        #krate::__private::ModuleField::<#marker, _>::#method(
            #borrow __this.#member,
            &#krate::__private::child_name(__prefix, #name),
            __visit,
        );
    }
}

/// The struct's where clause plus `FieldType: Parameters` for each field whose type mentions
/// a type or const parameter (a bound on a concrete type is checked by the field's visit,
/// with the error that names the field).
fn where_clause(model: &ModuleModel) -> syn::WhereClause {
    let krate = &model.krate;
    let mut generics = model.generics.clone();
    let clause = generics.make_where_clause();
    for field in model.fields.iter().filter(|f| f.generic) {
        let ty = &field.ty;
        let bound: WherePredicate = syn::parse_quote!(#ty: #krate::Parameters);
        clause.predicates.push(bound);
    }
    clause.clone()
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = TokenTree::Group(inner);
            }
            tree.set_span(span);
            tree
        })
        .collect()
}

/// `Self` does not exist inside the nested function; there it is the struct's type.
fn replace_self(tokens: TokenStream, self_ty: &TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "Self" => self_ty.clone(),
            TokenTree::Group(group) => {
                let mut replaced =
                    Group::new(group.delimiter(), replace_self(group.stream(), self_ty));
                replaced.set_span(group.span());
                TokenTree::Group(replaced).into_token_stream()
            }
            other => other.into_token_stream(),
        })
        .collect()
}
