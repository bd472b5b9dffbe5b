//! Fields by name at the type level: what `a.then(b)` uses to fill `b`'s input from `a`'s input
//! and output, checked by the compiler.
//!
//! A field's name becomes a type, a tuple of [`Ch`] markers (`question` is
//! `(Ch<'q'>, Ch<'u'>, ..)`), so two signatures derived independently agree on it without
//! sharing any declaration. `#[derive(Signature)]` implements [`HasField`] for every field of
//! `XInput` and `XOutput`, keyed by that name and the field's type, and [`WireFrom`] for
//! `XInput`: one value built field by field from any source pair that has every field.
//!
//! Where does each field of the next input come from? From the first module's input or its
//! output, whichever has a field of that name *and* type. A field that neither has, or has with
//! another type, is a compile error naming the field:
//!
//! ```text
//! error[E0277]: `AnswerInput` needs field `context: Vec<String>`, but neither `RetrieveInput`
//!               nor `RetrieveOutput` has a field `context` of that type
//! ```
//!
//! A field that *both* have is ambiguous and also fails to compile ("type annotations needed",
//! naming the trait `AnswerInput_context`): Rust's trait system cannot prefer one of two
//! matching sources, and silently picking one would hide a naming mistake. Then build the input
//! explicitly with `a.map(|out| BInput { .. }).then(b)`, or name the side of every field of
//! `b`'s input, in declaration order: `a.then::<_, (FromInput<Here>, FromOutput<Here>)>(b)`.
//!
//! Fields are matched by their Rust name (`r#type` is `type`), not by a `#[serde(rename)]`.

use std::marker::PhantomData;

/// One character of a field name at the type level; a name is a tuple of them.
///
/// ```
/// use dspy_core::signature::fields::Ch;
/// type Question = (Ch<'q'>, Ch<'u'>, Ch<'e'>, Ch<'s'>, Ch<'t'>, Ch<'i'>, Ch<'o'>, Ch<'n'>);
/// # let _: Option<Question> = None;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ch<const C: char>;

/// Where a field was found: on the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Here;

/// Where a field was found: inside a wrapped value (such as the output of a
/// [`WithReasoning`](crate::WithReasoning)), at path `P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Inner<P>(PhantomData<P>);

/// Where a wired field came from: the first module's input, at path `P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FromInput<P>(PhantomData<P>);

/// Where a wired field came from: the first module's output, at path `P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FromOutput<P>(PhantomData<P>);

/// A value with a field called `Name` (a tuple of [`Ch`]) of type `T`, found at path `P`.
///
/// The path is inferred; it lets a wrapper offer its own fields and its inner value's without
/// the two impls overlapping. `#[derive(Signature)]` implements it for every field of `XInput`
/// and `XOutput`; a hand-written signature implements it to be wired by name too.
///
/// ```
/// use dspy_core::signature::fields::{Ch, HasField, Here};
/// # use dspy_macros::Signature;
/// /// Answer briefly.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA { #[input] q: String, #[output] answer: String }
///
/// let input = QAInput { q: "2+2?".into() };
/// let q: &String = HasField::<(Ch<'q'>,), String, Here>::field(&input);
/// assert_eq!(q, "2+2?");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no field named `{Name}` of type `{T}`",
    note = "fields are found by name and type; `#[derive(Signature)]` provides them for `XInput` \
            and `XOutput`"
)]
pub trait HasField<Name, T, P = Here> {
    /// The field.
    fn field(&self) -> &T;
}

/// `Self` built field by field from a source pair `(I, O)`, the first module's input and
/// output; `W` records, per field, which side it came from, and is inferred.
///
/// `#[derive(Signature)]` implements it for `XInput`. Each field is taken (cloned) from `I` or
/// `O`, whichever has a field of the same name and type; a field missing from both is a
/// compile error that names it, and a field present in both is ambiguous (see the
/// [module docs](self)).
///
/// ```
/// use dspy_core::signature::fields::WireFrom;
/// # use dspy_macros::Signature;
/// /// Find the passages about the question.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Retrieve { #[input] question: String, #[output] context: Vec<String> }
///
/// /// Answer from the context.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Answer { #[input] question: String, #[input] context: Vec<String>, #[output] answer: String }
///
/// fn wire<W>(i: &RetrieveInput, o: &RetrieveOutput) -> AnswerInput
/// where AnswerInput: WireFrom<RetrieveInput, RetrieveOutput, W> {
///     AnswerInput::wire(i, o)
/// }
/// let next = wire(
///     &RetrieveInput { question: "Who?".into() },
///     &RetrieveOutput { context: vec!["Galileo was ...".into()] },
/// );
/// assert_eq!(next.question, "Who?");
/// assert_eq!(next.context, ["Galileo was ..."]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be filled by name from `{I}` and `{O}`",
    label = "the next module's input is `{Self}`",
    note = "`a.then(b)` fills b's input field by field, which needs a b whose input comes from \
            `#[derive(Signature)]`; otherwise build it yourself: `a.map(|out| ..).then(b)`"
)]
pub trait WireFrom<I, O, W>: Sized {
    /// Builds `Self` from `input` and `output`.
    fn wire(input: &I, output: &O) -> Self;
}
