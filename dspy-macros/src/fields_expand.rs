//! Code generation for wiring by name (`a.then(b)`): field access for `XInput` and `XOutput`,
//! and, for `XInput`, the impl that builds it from any source pair that has its fields.
//!
//! Each input field gets its own hidden trait, implemented twice: for a source whose input has
//! the field and for one whose output has it. When neither applies, rustc reports that trait,
//! and its `#[diagnostic::on_unimplemented]` message names the field, its type and the target.
//! (With a single impl rustc would report the nested, nameless `HasField` bound instead; and
//! the trait's `Self` is the source, not the target, because rustc shows the message of the
//! outermost bound when both have the same `Self`.)

use crate::attr::Role;
use crate::model::{FieldModel, SignatureModel};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;

/// The alias generated code reaches `dspy_core::signature::fields` through.
const FIELDS: &str = "__dspy_fields";

/// Everything wiring needs for one signature, in one anonymous const.
pub(crate) fn expand(
    model: &SignatureModel,
    input: &syn::Ident,
    output: &syn::Ident,
) -> TokenStream {
    let krate = &model.krate;
    let fields = format_ident!("{}", FIELDS);
    let access = [(Role::Input, input), (Role::Output, output)]
        .map(|(role, part)| has_field_impls(model, role, part));
    let wiring = wire_from_impl(model, input);
    quote! {
        const _: () = {
            use #krate::signature::fields as #fields;
            #(#access)*
            #wiring
        };
    }
}

/// `impl HasField<name, Type> for XInput` (or `XOutput`), one per field of `role`.
fn has_field_impls(model: &SignatureModel, role: Role, part: &syn::Ident) -> TokenStream {
    let fields = format_ident!("{}", FIELDS);
    let impls = FieldModel::with_role(&model.fields, role).map(|f| {
        let FieldModel { ident, ty, .. } = f;
        let key = name_key(ident);
        quote! {
            #[automatically_derived]
            impl #fields::HasField<#key, #ty, #fields::Here> for #part {
                fn field(&self) -> &#ty {
                    &self.#ident
                }
            }
        }
    });
    quote!(#(#impls)*)
}

/// `impl WireFrom<I, O, (W0, ..)> for XInput`, with one hidden trait per field whose message
/// names the field when no source has it.
fn wire_from_impl(model: &SignatureModel, input: &syn::Ident) -> TokenStream {
    let fields = format_ident!("{}", FIELDS);
    let target = input.unraw().to_string();
    let inputs: Vec<&FieldModel> = FieldModel::with_role(&model.fields, Role::Input).collect();
    let traits: Vec<syn::Ident> = inputs
        .iter()
        .map(|f| format_ident!("{}_{}", target, f.ident.unraw()))
        .collect();
    let witnesses: Vec<syn::Ident> = (0..inputs.len())
        .map(|i| format_ident!("__W{}", i))
        .collect();

    let per_field = inputs.iter().zip(&traits).map(|(f, name)| {
        let FieldModel { ident, ty, .. } = f;
        let key = name_key(ident);
        let field = ident.unraw().to_string();
        let message = format!(
            "`{target}` needs field `{field}: {{T}}`, but neither `{{Self}}` nor `{{O}}` has a \
             field `{field}` of that type"
        );
        let label = format!("`{target}.{field}` cannot be filled by name");
        let note = format!(
            "`a.then(b)` fills each field of b's input from the field of the same name and type \
             in a's input or output; rename the field, or build the input yourself: \
             `a.map(|out| {target} {{{{ .. }}}}).then(b)`"
        );
        quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            pub trait #name<O, T, W> {
                fn take(&self, output: &O) -> T;
            }

            #[automatically_derived]
            impl<__I, __O, __P> #name<__O, #ty, #fields::FromInput<__P>> for __I
            where
                __I: #fields::HasField<#key, #ty, __P>,
            {
                fn take(&self, _: &__O) -> #ty {
                    ::core::clone::Clone::clone(
                        <__I as #fields::HasField<#key, #ty, __P>>::field(self),
                    )
                }
            }

            #[automatically_derived]
            impl<__I, __O, __P> #name<__O, #ty, #fields::FromOutput<__P>> for __I
            where
                __O: #fields::HasField<#key, #ty, __P>,
            {
                fn take(&self, output: &__O) -> #ty {
                    ::core::clone::Clone::clone(
                        <__O as #fields::HasField<#key, #ty, __P>>::field(output),
                    )
                }
            }
        }
    });

    let bounds = inputs
        .iter()
        .zip(&traits)
        .zip(&witnesses)
        .map(|((f, name), w)| {
            let ty = &f.ty;
            // On the field, so rustc's "unsatisfied trait bound introduced here" points at it.
            quote_spanned!(f.ident.span()=> __I: #name<__O, #ty, #w>)
        });
    let inits = inputs
        .iter()
        .zip(&traits)
        .zip(&witnesses)
        .map(|((f, name), w)| {
            let FieldModel { ident, ty, .. } = f;
            quote!(#ident: <__I as #name<__O, #ty, #w>>::take(input, output))
        });
    // Not `#[automatically_derived]`: rustc would then blame the bounds on "type parameters" of
    // the derive and suggest implementing the trait by hand.
    let fields = format_ident!("{}", FIELDS, span = input.span());
    let wire_impl = quote_spanned! {input.span()=>
        impl<__I, __O, #(#witnesses),*> #fields::WireFrom<__I, __O, (#(#witnesses,)*)>
            for #input
        where
            #(#bounds,)*
        {
            // Unused when the derive failed and left `XInput` no field (see `dummy`).
            #[allow(unused_variables)]
            fn wire(input: &__I, output: &__O) -> Self {
                #input { #(#inits),* }
            }
        }
    };
    quote! {
        #(#per_field)*
        #wire_impl
    }
}

/// The type-level name of a field: `(Ch<'q'>, Ch<'u'>, ..)` for `question`.
fn name_key(ident: &syn::Ident) -> TokenStream {
    let fields = format_ident!("{}", FIELDS);
    let chars = ident
        .unraw()
        .to_string()
        .chars()
        .map(Literal::character)
        .collect::<Vec<_>>();
    quote!((#(#fields::Ch<#chars>,)*))
}
