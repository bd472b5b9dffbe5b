//! What a derive emits beside its compile errors: the items the user's code names (`XInput`,
//! `XOutput`, the trait impls), so that one mistake is one error, not a cascade of "cannot find
//! type `XInput`" and unmet `Signature` bounds wherever the struct is used.
//!
//! The stand-ins are built only from what cannot fail again: field names and types, not the
//! attributes that may be the mistake. Their bodies are `unimplemented!()`; they never run, as
//! the crate does not compile.

use crate::attr::Role;
use crate::expand::{part_ident, value_struct};
use crate::idents::{mentions, param_names};
use crate::model::SignatureModel;
use crate::module_model::ModuleModel;
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Generics, WhereClause, parse_quote};

/// `XInput`, `XOutput` and their wiring as the derive would write them, from the fields that
/// could be read; `Signature`, `Example`, serde and the inherent methods as stubs.
pub(crate) fn signature(mut model: SignatureModel, generics: &Generics) -> TokenStream {
    // Generics are refused, and `XInput` has none: a field whose type names one is left out.
    let names = param_names(generics, true);
    model
        .fields
        .retain(|f| !mentions(f.ty.to_token_stream(), &names));
    model.serde_attrs.clear();
    for field in &mut model.fields {
        field.serde_attrs.clear();
        field.docs.clear();
    }
    let input = part_ident(&model, Role::Input);
    let output = part_ident(&model, Role::Output);
    let parts = [
        value_struct(&model, Role::Input),
        value_struct(&model, Role::Output),
    ];
    let wiring = crate::fields_expand::expand(&model, &input, &output);
    let stubs = signature_stubs(&model, generics, &input, &output);
    quote! {
        #(#parts)*
        #wiring
        #stubs
    }
}

/// `impl Signature`, `impl Example`, serde and the inherent methods, each `unimplemented!()`.
fn signature_stubs(
    model: &SignatureModel,
    generics: &Generics,
    input: &syn::Ident,
    output: &syn::Ident,
) -> TokenStream {
    let SignatureModel { ident, krate, .. } = model;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let this = quote!(#ident #ty_generics);
    let (send, sync) = (quote!(::core::marker::Send), quote!(::core::marker::Sync));
    let signature_where = assumed(
        generics,
        &this,
        quote!(::core::clone::Clone + #send + #sync + 'static),
    );
    let example_where = assumed(generics, &this, quote!(#send + #sync));
    let serde = serde_stubs(model, generics);
    quote! {
        #serde

        #[automatically_derived]
        impl #impl_generics #krate::Signature for #this #signature_where {
            type Input = #input;
            type Output = #output;

            fn info() -> &'static #krate::SignatureInfo {
                ::core::unimplemented!()
            }

            fn from_parts(_: #input, _: #output) -> Self {
                ::core::unimplemented!()
            }

            fn into_parts(self) -> (#input, #output) {
                ::core::unimplemented!()
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::Example for #this #example_where {
            type Input = #input;

            fn input(&self) -> #input {
                ::core::unimplemented!()
            }
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #impl_generics #this #where_clause {
            pub fn input(&self) -> #input {
                ::core::unimplemented!()
            }

            pub fn output(&self) -> #output {
                ::core::unimplemented!()
            }

            pub fn from_parts(_: #input, _: #output) -> Self {
                ::core::unimplemented!()
            }

            pub fn into_parts(self) -> (#input, #output) {
                ::core::unimplemented!()
            }
        }
    }
}

/// `Serialize` and `Deserialize` for the struct, which `Signature` requires.
fn serde_stubs(model: &SignatureModel, generics: &Generics) -> TokenStream {
    let SignatureModel { ident, krate, .. } = model;
    let serde = quote!(#krate::__private::serde);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let mut with_de = generics.clone();
    with_de.params.insert(0, parse_quote!('de));
    let (de_generics, _, _) = with_de.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #serde::Serialize for #ident #ty_generics #where_clause {
            fn serialize<__S>(&self, _: __S) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #serde::Serializer,
            {
                ::core::unimplemented!()
            }
        }

        #[automatically_derived]
        impl #de_generics #serde::Deserialize<'de> for #ident #ty_generics #where_clause {
            fn deserialize<__D>(_: __D) -> ::core::result::Result<Self, __D::Error>
            where
                __D: #serde::Deserializer<'de>,
            {
                ::core::unimplemented!()
            }
        }
    }
}

/// The struct's where clause plus `for<'__dspy> X: bounds` (a trait's supertraits). Under a
/// binder rustc takes the bound as given rather than checking it on the spot, so a struct that
/// lacks `Clone` (say) is reported where it is used as a signature, as it is without the
/// mistake, and not here a second time.
fn assumed(generics: &Generics, this: &TokenStream, bounds: TokenStream) -> WhereClause {
    let mut clause = generics
        .where_clause
        .clone()
        .unwrap_or_else(|| parse_quote!(where));
    clause
        .predicates
        .push(parse_quote!(for<'__dspy> #this: #bounds));
    clause
}

/// `impl Parameters` whose visits are `unimplemented!()`.
pub(crate) fn module(model: &ModuleModel) -> TokenStream {
    let ModuleModel {
        ident,
        generics,
        krate,
        ..
    } = model;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let visitor = |reference: TokenStream| {
        quote! {
            &mut dyn ::core::ops::FnMut(::std::string::String, #reference dyn #krate::DynPredictor)
        }
    };
    let (shared, exclusive) = (visitor(quote!(&'__dspy_a)), visitor(quote!(&'__dspy_a mut)));
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Parameters for #ident #ty_generics #where_clause {
            fn visit_predictors<'__dspy_a>(&'__dspy_a self, _: &str, _: #shared) {
                ::core::unimplemented!()
            }

            fn visit_predictors_mut<'__dspy_a>(&'__dspy_a mut self, _: &str, _: #exclusive) {
                ::core::unimplemented!()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{DeriveInput, Item};

    fn stand_ins(input: DeriveInput) -> Vec<Item> {
        let failed = SignatureModel::from_input(&input).err().unwrap();
        let tokens = signature(*failed.partial, &input.generics);
        syn::parse2::<syn::File>(tokens).unwrap().items
    }

    fn fields_of(items: &[Item], name: &str) -> Vec<String> {
        let Some(Item::Struct(s)) = items
            .iter()
            .find(|i| matches!(i, Item::Struct(s) if s.ident == name))
        else {
            panic!("no struct {name}");
        };
        s.fields
            .iter()
            .map(|f| f.ident.as_ref().unwrap().to_string())
            .collect()
    }

    #[test]
    fn keeps_every_field_with_a_role_and_no_attribute() {
        let items = stand_ins(syn::parse_quote! {
            struct Qa {
                #[input(desc = 3)]
                #[serde(rename = "q", skip)]
                question: String,
                notes: String,
                #[output]
                answer: String,
            }
        });
        assert_eq!(fields_of(&items, "QaInput"), ["question"]);
        assert_eq!(fields_of(&items, "QaOutput"), ["answer"]);
        let text = quote!(#(#items)*).to_string();
        assert!(!text.contains("serde (rename"), "{text}");
        assert!(text.contains("Signature for Qa"), "{text}");
    }

    #[test]
    fn leaves_out_fields_that_name_a_generic() {
        let items = stand_ins(syn::parse_quote! {
            struct Qa<'a, T> {
                #[input]
                question: T,
                #[input]
                context: &'a str,
                #[output]
                answer: String,
            }
        });
        assert!(fields_of(&items, "QaInput").is_empty());
        assert_eq!(fields_of(&items, "QaOutput"), ["answer"]);
    }
}
