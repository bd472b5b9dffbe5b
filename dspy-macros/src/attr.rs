//! Parsing of the attributes the derive reads: `#[input(..)]`, `#[output(..)]`, `#[dspy(..)]`,
//! the parts of `#[serde(..)]` that decide a field's name on the wire, and doc comments.

use crate::case::RenameRule;
use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Error, Expr, ExprLit, Lit, LitStr, Meta, Path, Result, Token, token};

/// Which side of the LM call a field is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Given to the LM.
    Input,
    /// Produced by the LM.
    Output,
}

impl Role {
    /// The attribute name, `input` or `output`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Output => "output",
        }
    }

    /// The first role among a field's attributes.
    pub(crate) fn of_field(field: &syn::Field) -> Option<Role> {
        field.attrs.iter().find_map(Role::of)
    }

    /// The role an attribute declares, if it is `#[input]` or `#[output]`.
    pub(crate) fn of(attr: &Attribute) -> Option<Role> {
        if attr.path().is_ident("input") {
            Some(Role::Input)
        } else if attr.path().is_ident("output") {
            Some(Role::Output)
        } else {
            None
        }
    }
}

/// The keys of one `#[input(..)]` or `#[output(..)]`.
#[derive(Default)]
pub(crate) struct RoleArgs {
    pub desc: Option<LitStr>,
    pub prefix: Option<LitStr>,
}

/// Parses `#[input]`, `#[input(desc = "..", prefix = "..")]` (and the same for `output`).
pub(crate) fn role_args(attr: &Attribute, role: Role) -> Result<RoleArgs> {
    let mut args = RoleArgs::default();
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::List(list) => list.parse_nested_meta(|meta| {
            let slot = if meta.path.is_ident("desc") {
                &mut args.desc
            } else if meta.path.is_ident("prefix") {
                &mut args.prefix
            } else {
                return Err(meta.error(format!(
                    "unknown key `{}` in #[{}(..)]; the keys are `desc` and `prefix`, e.g. \
                     #[{}(desc = \"..\", prefix = \"..\")]",
                    path_name(&meta.path),
                    role.name(),
                    role.name(),
                )));
            };
            set_once(slot, &meta)
        })?,
        Meta::NameValue(nv) => {
            return Err(Error::new_spanned(
                nv,
                format!(
                    "write #[{}(desc = \"..\")], not #[{} = ..]",
                    role.name(),
                    role.name()
                ),
            ));
        }
    }
    Ok(args)
}

/// Parses the struct-level `#[dspy(crate = "path")]`; `item` names the kind of struct in
/// messages (`a signature struct`).
pub(crate) fn dspy_crate(attr: &Attribute, item: &str) -> Result<Option<Path>> {
    let mut krate: Option<LitStr> = None;
    let Meta::List(list) = &attr.meta else {
        return Err(Error::new_spanned(
            attr,
            "expected #[dspy(crate = \"..\")], the path of the dspy crate in generated code",
        ));
    };
    list.parse_nested_meta(|meta| {
        if meta.path.is_ident("crate") {
            set_once(&mut krate, &meta)
        } else {
            Err(meta.error(format!(
                "unknown key `{}` in #[dspy(..)]; the only key on {item} is `crate`, e.g. \
                 #[dspy(crate = \"dspy_core\")]",
                path_name(&meta.path)
            )))
        }
    })?;
    krate.map(|lit| lit.parse::<Path>()).transpose()
}

/// Parses a field's `#[dspy(skip)]` (the only field key of `#[derive(Module)]`).
pub(crate) fn dspy_skip(attr: &Attribute) -> Result<()> {
    let Meta::List(list) = &attr.meta else {
        return Err(Error::new_spanned(
            attr,
            "expected #[dspy(skip)], which marks a field that holds no predictors",
        ));
    };
    let mut seen = false;
    list.parse_nested_meta(|meta| {
        if !meta.path.is_ident("skip") {
            return Err(meta.error(format!(
                "unknown key `{}` in #[dspy(..)]; the only key on a module field is `skip`, \
                 e.g. #[dspy(skip)] on a field that holds no predictors",
                path_name(&meta.path)
            )));
        }
        if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
            return Err(meta.error("`skip` takes no value: write #[dspy(skip)]"));
        }
        if seen {
            return Err(meta.error("duplicate `skip`; give it once"));
        }
        seen = true;
        Ok(())
    })?;
    if !seen {
        return Err(Error::new_spanned(
            attr,
            "empty #[dspy()]; write #[dspy(skip)] on a field that holds no predictors",
        ));
    }
    Ok(())
}

/// A `rename` or `rename_all` that may differ between serializing and deserializing.
pub(crate) struct Directional<T> {
    pub ser: Option<T>,
    pub de: Option<T>,
    /// Where it was written, for errors.
    pub span: Option<Span>,
}

// By hand: the derive would needlessly require `T: Default`.
impl<T> Default for Directional<T> {
    fn default() -> Self {
        Directional {
            ser: None,
            de: None,
            span: None,
        }
    }
}

/// What a field's `#[serde(..)]` attributes say about its name on the wire.
pub(crate) fn serde_field(attrs: &[Attribute]) -> Result<Directional<String>> {
    let mut rename = Directional::<String>::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                rename.span = Some(meta.path.span());
                directional(&meta, &mut rename, |lit| Ok(lit.value()))
            } else if ["skip", "skip_serializing", "skip_deserializing", "flatten"]
                .iter()
                .any(|k| meta.path.is_ident(k))
            {
                Err(meta.error(format!(
                    "#[serde({})] is not supported on a signature field: every field is one value \
                     on the wire, shown to or produced by the LM; remove the attribute, or move \
                     the field out of the signature",
                    path_name(&meta.path)
                )))
            } else {
                skip_value(&meta)
            }
        })?;
    }
    Ok(rename)
}

/// What the struct's `#[serde(..)]` attributes say about field names on the wire.
pub(crate) fn serde_container(attrs: &[Attribute]) -> Result<Directional<RenameRule>> {
    let mut rename_all = Directional::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                rename_all.span = Some(meta.path.span());
                directional(&meta, &mut rename_all, |lit| {
                    RenameRule::from_name(&lit.value()).ok_or_else(|| {
                        Error::new(
                            lit.span(),
                            format!(
                                "unknown rename rule `rename_all = {:?}`, expected one of {}",
                                lit.value(),
                                RenameRule::expected()
                            ),
                        )
                    })
                })
            } else if ["deny_unknown_fields", "rename", "expecting", "bound"]
                .iter()
                .any(|k| meta.path.is_ident(k))
            {
                skip_value(&meta)
            } else {
                // The others change the shape of the JSON (a signature is one flat object), or
                // clash with what the derive generates (`crate`).
                let hint = if meta.path.is_ident("crate") {
                    "; to set the crate path, use #[dspy(crate = \"..\")]"
                } else if meta.path.is_ident("default") {
                    "; put #[serde(default)] on the fields instead"
                } else {
                    ""
                };
                Err(meta.error(format!(
                    "#[serde({})] is not supported on a signature struct; the struct-level serde \
                     keys it supports are `rename_all`, `deny_unknown_fields`, `rename`, \
                     `expecting` and `bound`{hint}",
                    path_name(&meta.path)
                )))
            }
        })?;
    }
    Ok(rename_all)
}

/// Parses `key = "v"` or `key(serialize = "a", deserialize = "b")` into `slot`.
fn directional<T: Clone>(
    meta: &ParseNestedMeta,
    slot: &mut Directional<T>,
    mut convert: impl FnMut(&LitStr) -> Result<T>,
) -> Result<()> {
    if meta.input.peek(Token![=]) {
        let lit = string_value(meta)?;
        let value = convert(&lit)?;
        slot.ser = Some(value.clone());
        slot.de = Some(value);
        Ok(())
    } else {
        meta.parse_nested_meta(|inner| {
            let lit = string_value(&inner)?;
            if inner.path.is_ident("serialize") {
                slot.ser = Some(convert(&lit)?);
            } else if inner.path.is_ident("deserialize") {
                slot.de = Some(convert(&lit)?);
            }
            Ok(())
        })
    }
}

/// Consumes the value of a key this derive does not read (serde reads it).
fn skip_value(meta: &ParseNestedMeta) -> Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// Stores the string value of `meta` in `slot`, refusing a second one.
fn set_once(slot: &mut Option<LitStr>, meta: &ParseNestedMeta) -> Result<()> {
    let key = path_name(&meta.path);
    if slot.is_some() {
        return Err(meta.error(format!("duplicate `{key}`; give it once")));
    }
    *slot = Some(string_value(meta)?);
    Ok(())
}

/// The string literal after `key =`, with errors that show the expected form.
fn string_value(meta: &ParseNestedMeta) -> Result<LitStr> {
    let key = path_name(&meta.path);
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{key}` needs a value: {key} = \"..\"")));
    }
    match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        other => Err(Error::new_spanned(
            other,
            format!("expected a string literal: {key} = \"..\""),
        )),
    }
}

/// A path as written, for messages.
fn path_name(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// One `#[doc = ..]`: `///` comments are string literals; `#[doc = include_str!(..)]` is not.
pub(crate) enum DocPiece {
    Text(String),
    Expr(Expr),
}

/// The `#[doc = ..]` attributes among `attrs`, in order.
pub(crate) fn doc_pieces(attrs: &[Attribute]) -> Vec<DocPiece> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => Some(match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => DocPiece::Text(s.value()),
                other => DocPiece::Expr(other.clone()),
            }),
            _ => None,
        })
        .collect()
}

/// Doc comment text as rustdoc shows it: lines joined, their common indentation removed (`/// a`
/// gives `a`), and surrounding blank space trimmed.
pub(crate) fn unindent(lines: &[String]) -> String {
    let text = lines.join("\n");
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                &l[indent..]
            }
        })
        .collect();
    lines.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unindent_doc_lines() {
        let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(unindent(&lines(&[" Classify it."])), "Classify it.");
        assert_eq!(
            unindent(&lines(&[" One.", "", " Two:", "   - three"])),
            "One.\n\nTwo:\n  - three"
        );
        assert_eq!(
            unindent(&lines(&["\n    Block\n    comment.\n"])),
            "Block\ncomment."
        );
        assert_eq!(unindent(&lines(&[])), "");
    }

    #[test]
    fn role_keys() {
        let attr: Attribute = syn::parse_quote!(#[output(desc = "d", prefix = "P:")]);
        let args = role_args(&attr, Role::Output).unwrap();
        assert_eq!(args.desc.unwrap().value(), "d");
        assert_eq!(args.prefix.unwrap().value(), "P:");
        let attr: Attribute = syn::parse_quote!(#[input(descr = "d")]);
        let err = role_args(&attr, Role::Input).err().unwrap().to_string();
        assert!(err.contains("unknown key `descr`"), "{err}");
    }

    #[test]
    fn serde_rename() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[serde(default, skip_serializing_if = "Option::is_none")]),
            syn::parse_quote!(#[serde(rename = "answer", alias = "ans")]),
        ];
        let rename = serde_field(&attrs).unwrap();
        assert_eq!(rename.ser.as_deref(), Some("answer"));
        assert_eq!(rename.de.as_deref(), Some("answer"));
        let attrs: Vec<Attribute> = vec![syn::parse_quote!(#[serde(rename(deserialize = "a"))])];
        let rename = serde_field(&attrs).unwrap();
        assert_eq!((rename.ser, rename.de.as_deref()), (None, Some("a")));
    }
}
