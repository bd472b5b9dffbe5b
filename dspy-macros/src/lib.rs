//! Derive macros for [dspy](https://docs.rs/dspy). Use them through the facade:
//! `use dspy::prelude::*;` brings `#[derive(Signature)]` and `#[derive(Module)]` into scope.
//!
//! Each macro reads a struct into a small checked model (`model`, `module_model`), reporting
//! every misuse as a spanned compile error, then generates code from it (`expand`,
//! `module_expand`). On a misuse it also emits stand-ins for what the user's code names
//! (`dummy`), so the errors are the misuses alone.
#![forbid(unsafe_code)]

mod attr;
mod case;
mod dummy;
mod errors;
mod expand;
mod fields_expand;
mod idents;
mod model;
mod module_expand;
mod module_model;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives [`Signature`] for a struct: a typed description of one LM call.
///
/// Every field is either an `#[input]` (given to the LM) or an `#[output]` (produced by it), and
/// the struct's doc comment is the task's instructions:
///
/// ```text
/// use dspy::prelude::*;
///
/// /// Classify the question by the kind of answer it expects.
/// #[derive(Signature, Clone, Debug)]
/// struct ClassifyQuestion {
///     #[input(desc = "a question in English")]
///     question: String,
///     #[output(desc = "the kind of answer the question expects", prefix = "Answer type:")]
///     label: QuestionKind, // a unit enum with Serialize, Deserialize, JsonSchema
/// }
///
/// let example = ClassifyQuestion { question: "Who was Galileo?".into(), label: QuestionKind::Human };
/// let input: ClassifyQuestionInput = example.input();
/// let output: ClassifyQuestionOutput = example.output();
/// let again = ClassifyQuestion::from_parts(input, output);
/// ```
///
/// # What it generates
///
/// For a struct `X`:
///
/// - `XInput` and `XOutput`: the input and output fields, with the struct's visibility on the
///   structs and their fields, the fields' doc comments and `#[serde(..)]` attributes, and
///   `Clone`, `Debug`, `Serialize`, `Deserialize` and `JsonSchema`;
/// - `impl Serialize` and `impl Deserialize` for `X`, as one flat JSON object of all fields
///   (unknown keys are ignored, so data files may carry extra columns). **Do not also derive
///   `Serialize` or `Deserialize` on `X`**: the impls would conflict;
/// - `impl Signature for X`: `X::info()` lists the fields in declaration order, with the doc
///   comment as instructions (DSPy's default, "Given the fields `a`, produce the fields `b`.",
///   when there is none);
/// - `impl Example for X`, so a value of `X` is a training example;
/// - inherent `x.input()`, `x.output()` (copies), `X::from_parts(input, output)` and
///   `x.into_parts()`;
/// - for wiring by name (`a.then(b)`): `HasField` for every field of `XInput` and `XOutput`,
///   keyed by the field's Rust name and type, and `WireFrom` for `XInput`, with one hidden
///   helper trait per input field so that an unwirable field is an error that names it.
///
/// `X` itself must be `Clone` (derive it), and every field type must implement `Serialize`,
/// `Deserialize`, `JsonSchema`, `Clone` and `Debug`.
///
/// # Attributes
///
/// - `#[input]` / `#[output]` on each field, with optional keys `desc = ".."` (what the field
///   holds, shown to the LM) and `prefix = ".."` (its label in completion-mode prompts; default
///   `Field name:`).
/// - `#[serde(..)]` on fields and on the struct, as with serde. A field's name in prompts is its
///   name on the wire: `#[serde(rename = "..")]`, else the struct's `#[serde(rename_all = "..")]`
///   applied, else the field's name. `skip` and `flatten` are refused: every field is one value
///   the LM sees or writes.
/// - `#[dspy(crate = "path")]` on the struct: where generated code finds dspy (default
///   `::dspy`; dspy-core's own tests use `#[dspy(crate = "dspy_core")]`).
///
/// Misuse is a compile error on the offending item: a struct without an `#[input]` or without
/// an `#[output]` field, a field with no role or two, tuple and unit structs, enums, unions,
/// generics, unknown attribute keys, and two fields with the same name on the wire. It is the
/// only error: the derive still emits `XInput`, `XOutput` (with the fields it could read) and
/// the impls, so code that uses them reports nothing more.
///
/// [`Signature`]: https://docs.rs/dspy/latest/dspy/trait.Signature.html
#[proc_macro_derive(Signature, attributes(input, output, dspy, serde))]
pub fn derive_signature(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match model::SignatureModel::from_input(&input) {
        Ok(model) => expand::expand(&model).into(),
        Err(failed) => {
            let mut tokens = failed.error.to_compile_error();
            tokens.extend(dummy::signature(*failed.partial, &input.generics));
            tokens.into()
        }
    }
}

/// Derives [`Parameters`] for a program: a struct of modules. It lists every predictor inside by
/// a stable dotted name (nested programs included), so optimizers tune all of them and
/// save/load keeps all of them.
///
/// ```text
/// use dspy::prelude::*;
///
/// #[derive(Module)]
/// struct Rag<R> {
///     retrieve: R,                                // any module; named by its own fields
///     answer: ChainOfThought<AnswerWithContext>,  // its predictor: `answer.predict`
///     #[dspy(skip)]
///     k: usize,                                   // not a module: must be skipped
/// }
///
/// impl<R: Module<Input = String, Output = Vec<String>> + Parameters> Module for Rag<R> {
///     type Input = String;
///     type Output = String;
///     async fn call(&self, question: String) -> dspy::Result<String> { /* .. */ }
/// }
/// ```
///
/// It implements `Parameters`, not `Module`: the program's `call` is yours to write.
///
/// # Names
///
/// A field adds its name to the names of the predictors inside it: a `Predict` field `classify`
/// is `classify`, a `ChainOfThought` field `answer` is `answer.predict`, a field holding another
/// derived program adds its own fields' names (`pipeline.answer.predict`). Tuple struct fields
/// are named `0`, `1`, ..; `Vec` elements add their index, and an `Option` that is `None` has no
/// predictors.
///
/// # Attributes
///
/// - `#[dspy(skip)]` on a field that holds no predictors (settings, a tokenizer, a client).
///   Every other field must be a module (implement `Parameters`); a field that is not is a
///   compile error naming it, so a predictor is never silently left out of optimization or
///   saving.
/// - `#[dspy(crate = "path")]` on the struct: where generated code finds dspy (default
///   `::dspy`).
///
/// Generic structs work: a field whose type mentions a type parameter adds
/// `FieldType: Parameters` to the impl's where clause. Enums, unions and unknown attribute keys
/// are compile errors, and the only ones: `Parameters` is still implemented (as a stub), so code
/// that uses it reports nothing more.
///
/// [`Parameters`]: https://docs.rs/dspy/latest/dspy/trait.Parameters.html
#[proc_macro_derive(Module, attributes(dspy))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match module_model::ModuleModel::from_input(&input) {
        Ok(model) => module_expand::expand(&model).into(),
        Err(failed) => {
            let mut tokens = failed.error.to_compile_error();
            tokens.extend(dummy::module(&failed.partial));
            tokens.into()
        }
    }
}
