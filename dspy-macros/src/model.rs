//! The checked description of one signature struct: everything code generation needs, with every
//! misuse already turned into a spanned error.

use crate::attr::{self, Directional, DocPiece, Role};
use crate::case::RenameRule;
use crate::errors::{Errors, Failed};
use std::collections::HashMap;
use syn::ext::IdentExt;
use syn::{
    Attribute, Data, DeriveInput, Error, Field, Fields, FieldsNamed, Ident, Path, Type, Visibility,
};

/// A `#[derive(Signature)]` struct.
pub(crate) struct SignatureModel {
    pub ident: Ident,
    pub vis: Visibility,
    /// The path generated code reaches dspy through (`::dspy` unless `#[dspy(crate = "..")]`).
    pub krate: Path,
    /// From the doc comment; `None` lets `SignatureInfo` write DSPy's default.
    pub instructions: Option<Instructions>,
    /// The struct's `#[serde(..)]` attributes, carried to every generated serde type.
    pub serde_attrs: Vec<Attribute>,
    /// In declaration order.
    pub fields: Vec<FieldModel>,
}

/// The instructions, known now or (for `#[doc = include_str!(..)]`) only once compiled.
pub(crate) enum Instructions {
    Text(String),
    Concat(Vec<DocPiece>),
}

/// One field of the struct.
pub(crate) struct FieldModel {
    pub ident: Ident,
    pub ty: Type,
    pub role: Role,
    pub desc: String,
    /// The completion-mode label; `None` keeps `FieldSpec`'s default from the name.
    pub prefix: Option<String>,
    /// The JSON key, which is also the name prompts show.
    pub wire_name: String,
    pub serde_attrs: Vec<Attribute>,
    pub docs: Vec<Attribute>,
}

impl FieldModel {
    /// The fields of `fields` with role `role`.
    pub(crate) fn with_role(
        fields: &[FieldModel],
        role: Role,
    ) -> impl Iterator<Item = &FieldModel> {
        fields.iter().filter(move |f| f.role == role)
    }
}

impl SignatureModel {
    /// Reads and checks a derive input, reporting every problem at once (with what could be
    /// read).
    pub(crate) fn from_input(input: &DeriveInput) -> Result<Self, Failed<Self>> {
        let mut errors = Errors::default();
        let named = named_fields(input, &mut errors);
        check_generics(input, &mut errors);

        let mut krate = None;
        for attr in &input.attrs {
            if attr.path().is_ident("dspy") {
                if let Some(path) = errors
                    .ok(attr::dspy_crate(attr, "a signature struct"))
                    .flatten()
                {
                    krate = Some(path);
                }
            } else if let Some(role) = Role::of(attr) {
                errors.push(Error::new_spanned(
                    attr,
                    format!(
                        "#[{}] goes on a field of the struct, not on the struct",
                        role.name()
                    ),
                ));
            }
        }
        let rename_all = errors
            .ok(attr::serde_container(&input.attrs))
            .unwrap_or_default();

        let mut fields = Vec::new();
        let mut missing_role = false;
        for field in named.into_iter().flat_map(|n| n.named.iter()) {
            match FieldModel::from_field(field, &rename_all, &mut errors) {
                Some(field) => fields.push(field),
                None => missing_role |= Role::of_field(field).is_none(),
            }
        }
        // Only meaningful once every field has a role; otherwise they would repeat that error.
        if named.is_some() && !missing_role {
            for role in [Role::Input, Role::Output] {
                if FieldModel::with_role(&fields, role).next().is_none() {
                    errors.push(Error::new_spanned(
                        &input.ident,
                        format!(
                            "a signature needs at least one #[{0}] field; mark one with \
                             #[{0}(desc = \"..\")]",
                            role.name()
                        ),
                    ));
                }
            }
        }
        check_wire_names(&fields, &mut errors);

        errors.finish(SignatureModel {
            ident: input.ident.clone(),
            vis: input.vis.clone(),
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::dspy)),
            instructions: instructions(attr::doc_pieces(&input.attrs)),
            serde_attrs: filter_attrs(&input.attrs, "serde"),
            fields,
        })
    }
}

impl FieldModel {
    /// Reads one field; `None` (with the errors recorded) when it cannot be used.
    fn from_field(
        field: &Field,
        rename_all: &Directional<RenameRule>,
        errors: &mut Errors,
    ) -> Option<FieldModel> {
        let ident = field.ident.clone()?;
        let name = ident.unraw().to_string();

        let mut role: Option<Role> = None;
        let mut args = attr::RoleArgs::default();
        for attr in &field.attrs {
            if attr.path().is_ident("dspy") {
                errors.push(Error::new_spanned(
                    attr,
                    "#[dspy(..)] is not used on a signature field; describe the field with \
                     #[input(desc = \"..\")] or #[output(desc = \"..\")]",
                ));
                continue;
            }
            let Some(this) = Role::of(attr) else { continue };
            if let Some(first) = role {
                errors.push(Error::new_spanned(
                    attr,
                    if first == this {
                        format!(
                            "duplicate #[{0}] on field `{name}`; give all keys in one: \
                             #[{0}(desc = \"..\", prefix = \"..\")]",
                            this.name()
                        )
                    } else {
                        format!(
                            "field `{name}` cannot be both #[input] and #[output]: the LM is \
                             either given a field or produces it; keep one"
                        )
                    },
                ));
                continue;
            }
            role = Some(this);
            if let Some(parsed) = errors.ok(attr::role_args(attr, this)) {
                args = parsed;
            }
        }
        let Some(role) = role else {
            errors.push(Error::new_spanned(
                &ident,
                format!(
                    "field `{name}` needs #[input] or #[output]: every field of a signature is \
                     either given to the LM or produced by it"
                ),
            ));
            return None;
        };

        // The name on the wire, which is also the name in prompts: serde's own rules.
        let rename = errors
            .ok(attr::serde_field(&field.attrs))
            .unwrap_or_default();
        let wire = |explicit: &Option<String>, rule: Option<RenameRule>| match (explicit, rule) {
            (Some(renamed), _) => renamed.clone(),
            (None, Some(rule)) => rule.apply_to_field(&name),
            (None, None) => name.clone(),
        };
        let ser = wire(&rename.ser, rename_all.ser);
        let de = wire(&rename.de, rename_all.de);
        if ser != de {
            let span = rename
                .span
                .or(rename_all.span)
                .unwrap_or_else(|| ident.span());
            errors.push(Error::new(
                span,
                format!(
                    "field `{name}` would be written as `{ser}` but read as `{de}`; a \
                     signature field has one name in prompts and JSON: use \
                     #[serde(rename = \"..\")] or #[serde(rename_all = \"..\")]"
                ),
            ));
        }

        Some(FieldModel {
            ident,
            ty: field.ty.clone(),
            role,
            desc: args.desc.map(|d| d.value()).unwrap_or_default(),
            prefix: args.prefix.map(|p| p.value()),
            wire_name: ser,
            serde_attrs: filter_attrs(&field.attrs, "serde"),
            docs: filter_attrs(&field.attrs, "doc"),
        })
    }
}

/// The struct's named fields, or an error saying why there are none.
fn named_fields<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<&'a FieldsNamed> {
    let error = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => return Some(named),
            Fields::Unnamed(fields) => Error::new_spanned(
                fields,
                "#[derive(Signature)] needs named fields, not a tuple struct: each field is \
                 named in the prompt, e.g. `struct QA { #[input] question: String, #[output] \
                 answer: String }`",
            ),
            Fields::Unit => Error::new_spanned(
                &input.ident,
                "#[derive(Signature)] needs a struct with named fields, e.g. `struct QA { \
                 #[input] question: String, #[output] answer: String }`",
            ),
        },
        Data::Enum(data) => Error::new_spanned(
            data.enum_token,
            "#[derive(Signature)] works on structs only; an enum cannot be a signature (use a \
             unit enum as the type of an #[output] field to make the LM choose)",
        ),
        Data::Union(data) => Error::new_spanned(
            data.union_token,
            "#[derive(Signature)] works on structs with named fields, not unions",
        ),
    };
    errors.push(error);
    None
}

/// A signature is one concrete type: its field specs are built once, in a `static`.
fn check_generics(input: &DeriveInput, errors: &mut Errors) {
    if !input.generics.params.is_empty() {
        errors.push(Error::new_spanned(
            &input.generics,
            "#[derive(Signature)] does not support generics: a signature is one concrete \
             struct; use concrete field types (or a type alias) instead",
        ));
    } else if let Some(clause) = &input.generics.where_clause {
        errors.push(Error::new_spanned(
            clause,
            "#[derive(Signature)] does not support generics or where clauses; remove it",
        ));
    }
}

/// Inputs and outputs share one JSON object and one prompt, so names must be unique across both.
fn check_wire_names(fields: &[FieldModel], errors: &mut Errors) {
    let mut seen: HashMap<&str, &Ident> = HashMap::new();
    for field in fields {
        match seen.get(field.wire_name.as_str()) {
            Some(first) => errors.push(Error::new_spanned(
                &field.ident,
                format!(
                    "field `{}` has the name `{}` on the wire, as field `{}` does; the LM could \
                     not tell them apart: give one of them another #[serde(rename = \"..\")]",
                    field.ident.unraw(),
                    field.wire_name,
                    first.unraw()
                ),
            )),
            None => {
                seen.insert(&field.wire_name, &field.ident);
            }
        }
    }
}

/// The attributes named `name`.
fn filter_attrs(attrs: &[Attribute], name: &str) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident(name))
        .cloned()
        .collect()
}

/// The struct's doc comment as instructions; `None` when there is none (or it is blank).
fn instructions(pieces: Vec<DocPiece>) -> Option<Instructions> {
    if pieces.iter().all(|p| matches!(p, DocPiece::Text(_))) {
        let lines: Vec<String> = pieces
            .into_iter()
            .filter_map(|p| match p {
                DocPiece::Text(text) => Some(text),
                DocPiece::Expr(_) => None,
            })
            .collect();
        let text = attr::unindent(&lines);
        (!text.is_empty()).then_some(Instructions::Text(text))
    } else {
        Some(Instructions::Concat(pieces))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(input: DeriveInput) -> syn::Result<SignatureModel> {
        SignatureModel::from_input(&input).map_err(|failed| failed.error)
    }

    #[test]
    fn reads_fields_in_order() {
        let m = model(syn::parse_quote! {
            /// Line one.
            ///
            /// Line two.
            #[serde(rename_all = "camelCase")]
            pub struct Qa {
                #[input(desc = "a question")]
                the_question: String,
                #[output(prefix = "Answer:")]
                #[serde(rename = "ans")]
                r#answer: String,
            }
        })
        .unwrap();
        let krate = &m.krate;
        assert_eq!(quote::quote!(#krate).to_string(), ":: dspy");
        assert!(
            matches!(&m.instructions, Some(Instructions::Text(t)) if t == "Line one.\n\nLine two.")
        );
        let names: Vec<_> = m.fields.iter().map(|f| f.wire_name.as_str()).collect();
        assert_eq!(names, ["theQuestion", "ans"]);
        assert_eq!(m.fields[0].desc, "a question");
        assert_eq!(m.fields[1].prefix.as_deref(), Some("Answer:"));
        assert_eq!(m.fields[1].role, Role::Output);
    }

    #[test]
    fn reports_every_error() {
        let err = model(syn::parse_quote! {
            struct Bad<T> {
                #[input(desc = 3)]
                a: T,
                b: String,
            }
        })
        .err()
        .unwrap();
        let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(messages[0].contains("does not support generics"));
        assert!(messages[1].contains("expected a string literal"));
        assert!(messages[2].contains("field `b` needs #[input] or #[output]"));
    }
}
