//! The checked description of one `#[derive(Module)]` struct: its fields that hold predictors,
//! each with the name it gives them, and every misuse already turned into a spanned error.

use crate::attr;
use crate::errors::{Errors, Failed};
use crate::idents::{mentions, param_names, visit_idents};
use proc_macro2::Span;
use quote::ToTokens;
use std::collections::HashSet;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Error, Generics, Ident, Member, Path, Type};

/// A `#[derive(Module)]` struct.
pub(crate) struct ModuleModel {
    pub ident: Ident,
    pub generics: Generics,
    /// The path generated code reaches dspy through (`::dspy` unless `#[dspy(crate = "..")]`).
    pub krate: Path,
    /// The fields not marked `#[dspy(skip)]`, in declaration order.
    pub fields: Vec<ModuleFieldModel>,
}

/// A field searched for predictors.
pub(crate) struct ModuleFieldModel {
    /// How the struct reaches it: `self.answer` or `self.0`.
    pub member: Member,
    /// The segment it adds to its predictors' dotted names: `answer`, or `0` in a tuple struct.
    pub name: String,
    /// A type parameter named after the field, which errors print as the field's name.
    pub marker: Ident,
    pub ty: Type,
    /// Where errors about the field point.
    pub span: Span,
    /// Whether its type mentions a type or const parameter of the struct, so the impl needs
    /// `Type: Parameters` in its where clause.
    pub generic: bool,
}

impl ModuleModel {
    /// Reads and checks a derive input, reporting every problem at once (with what could be
    /// read).
    pub(crate) fn from_input(input: &DeriveInput) -> Result<Self, Failed<Self>> {
        let mut errors = Errors::default();
        let mut krate = None;
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("dspy")) {
            if let Some(path) = errors
                .ok(attr::dspy_crate(attr, "a module struct"))
                .flatten()
            {
                krate = Some(path);
            }
        }

        let params = param_names(&input.generics, false);
        let mut fields = Vec::new();
        match &input.data {
            Data::Struct(data) => {
                for (index, field) in data.fields.iter().enumerate() {
                    let mut skip = false;
                    for attr in field.attrs.iter().filter(|a| a.path().is_ident("dspy")) {
                        skip |= errors.ok(attr::dspy_skip(attr)).is_some();
                    }
                    if skip {
                        continue;
                    }
                    let (member, name) = match &field.ident {
                        Some(ident) => (Member::Named(ident.clone()), ident.unraw().to_string()),
                        None => (Member::Unnamed(index.into()), index.to_string()),
                    };
                    let marker = match &field.ident {
                        Some(ident) => ident.clone(),
                        None => Ident::new(&format!("_{index}"), field.ty.span()),
                    };
                    let span = field
                        .ident
                        .as_ref()
                        .map_or_else(|| field.ty.span(), Ident::span);
                    fields.push(ModuleFieldModel {
                        member,
                        name,
                        marker,
                        generic: mentions(field.ty.to_token_stream(), &params),
                        ty: field.ty.clone(),
                        span,
                    });
                }
            }
            Data::Enum(data) => errors.push(Error::new_spanned(
                data.enum_token,
                "#[derive(Module)] works on structs only: a program is a struct of modules, each \
                 field one step; to choose between steps at run time, hold both and decide in \
                 `Module::call`",
            )),
            Data::Union(data) => errors.push(Error::new_spanned(
                data.union_token,
                "#[derive(Module)] works on structs only, not unions",
            )),
        }
        avoid_marker_clashes(input, &mut fields);

        errors.finish(ModuleModel {
            ident: input.ident.clone(),
            generics: input.generics.clone(),
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::dspy)),
            fields,
        })
    }
}

/// Markers are type parameters of a generated function whose signature names the struct, its
/// generics and field types; a marker spelled like one of those names would shadow it, so that
/// marker gets a `field_` prefix.
fn avoid_marker_clashes(input: &DeriveInput, fields: &mut [ModuleFieldModel]) {
    let mut taken = HashSet::new();
    taken.insert(input.ident.to_string());
    let generics = input.generics.to_token_stream();
    let where_clause = input.generics.where_clause.to_token_stream();
    for tokens in [generics, where_clause] {
        visit_idents(tokens, &mut |i| {
            taken.insert(i.to_string());
        });
    }
    for field in fields.iter() {
        visit_idents(field.ty.to_token_stream(), &mut |i| {
            taken.insert(i.to_string());
        });
    }
    for field in fields.iter_mut() {
        if taken.contains(&field.marker.to_string()) {
            field.marker = Ident::new(
                &format!("field_{}", field.marker.unraw()),
                field.marker.span(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(input: DeriveInput) -> syn::Result<ModuleModel> {
        ModuleModel::from_input(&input).map_err(|failed| failed.error)
    }

    #[test]
    fn names_fields_and_skips() {
        let m = model(syn::parse_quote! {
            struct Rag<R> {
                retrieve: R,
                r#answer: ChainOfThought<QA>,
                #[dspy(skip)]
                k: usize,
            }
        })
        .unwrap();
        let names: Vec<_> = m.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["retrieve", "answer"]);
        assert!(m.fields[0].generic);
        assert!(!m.fields[1].generic);
    }

    #[test]
    fn tuple_fields_are_numbered() {
        let m = model(syn::parse_quote! {
            struct Pair(Predict<A>, #[dspy(skip)] u8, Predict<B>);
        })
        .unwrap();
        let names: Vec<_> = m.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["0", "2"]);
        assert_eq!(m.fields[1].marker, "_2");
    }

    #[test]
    fn marker_never_shadows_a_type() {
        let m = model(syn::parse_quote! {
            struct P { Foo: Foo, bar: Predict<A> }
        })
        .unwrap();
        assert_eq!(m.fields[0].marker, "field_Foo");
        assert_eq!(m.fields[1].marker, "bar");
    }

    #[test]
    fn reports_every_error() {
        let err = model(syn::parse_quote! {
            #[dspy(krate = "x")]
            struct Bad {
                #[dspy(skipp)]
                a: u8,
                #[dspy(skip = true)]
                b: u8,
            }
        })
        .err()
        .unwrap();
        let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(messages[0].contains("unknown key `krate`"));
        assert!(messages[1].contains("unknown key `skipp`"));
        assert!(messages[2].contains("`skip` takes no value"));
    }

    #[test]
    fn refuses_enums() {
        let err = model(syn::parse_quote!(
            enum E {
                A,
            }
        ))
        .err()
        .unwrap();
        assert!(err.to_string().contains("structs only"));
    }
}
