//! Identifiers inside tokens: which generic parameters a type mentions.

use proc_macro2::{TokenStream, TokenTree};
use std::collections::HashSet;
use syn::{GenericParam, Generics, Ident};

/// The names of `generics`' type and const parameters, and of its lifetimes (without the `'`)
/// when `lifetimes` is set.
pub(crate) fn param_names(generics: &Generics, lifetimes: bool) -> HashSet<String> {
    generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.to_string()),
            GenericParam::Const(c) => Some(c.ident.to_string()),
            GenericParam::Lifetime(l) => lifetimes.then(|| l.lifetime.ident.to_string()),
        })
        .collect()
}

/// Whether `tokens` contain one of `names` as an identifier (a lifetime's name included).
pub(crate) fn mentions(tokens: TokenStream, names: &HashSet<String>) -> bool {
    let mut found = false;
    visit_idents(tokens, &mut |ident| {
        found |= names.contains(&ident.to_string())
    });
    found
}

/// Calls `f` on every identifier in `tokens`, at any depth.
pub(crate) fn visit_idents(tokens: TokenStream, f: &mut dyn FnMut(&Ident)) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => f(&ident),
            TokenTree::Group(group) => visit_idents(group.stream(), f),
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
        }
    }
}
