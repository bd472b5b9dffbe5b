//! Signatures: what one LM call must do, as a Rust type.
//!
//! A signature is a struct whose fields are split into inputs and outputs. `#[derive(Signature)]`
//! generates everything here from an annotated struct, but every piece is a public trait or type, so
//! a signature can also be written by hand (see [`Signature`]).

mod field_spec;
pub mod fields;
mod info;
mod schema;

pub use field_spec::FieldSpec;
pub use info::{SignatureInfo, info_for};
pub(crate) use schema::{as_property, inline_defs, inlined_schema};
pub use schema::{field_schema, type_hint};

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// The bounds every signature input and output type meets: serde both ways, a JSON schema, and
/// cheap to move between tasks.
pub trait SignatureValue:
    Serialize + DeserializeOwned + JsonSchema + Clone + Debug + Send + Sync + 'static
{
}
impl<T> SignatureValue for T where
    T: Serialize + DeserializeOwned + JsonSchema + Clone + Debug + Send + Sync + 'static
{
}

/// A typed description of one LM call: its inputs, its outputs and its instructions.
///
/// A value of a signature type is one complete *example* (inputs and outputs together); that is
/// what training sets and few-shot demos are made of.
///
/// Usually derived:
///
/// ```
/// use dspy_core::Signature;
/// # use dspy_macros::Signature;
///
/// /// Answer questions with short factoid answers.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct QA {
///     #[input(desc = "a question in English")]
///     question: String,
///     #[output(desc = "often between 1 and 5 words")]
///     answer: String,
/// }
///
/// let info = QA::info();
/// assert_eq!(info.instructions, "Answer questions with short factoid answers.");
/// assert_eq!(info.outputs[0].name, "answer");
/// let ex = QA { question: "2+2?".into(), answer: "4".into() };
/// assert_eq!(ex.input().question, "2+2?");
/// ```
///
/// By hand, the same signature is a struct with `Serialize`/`Deserialize` (its fields flattened
/// from input and output), two value types, and an `info()` built once:
///
/// ```
/// use dspy_core::{Signature, SignatureInfo};
/// use serde::{Deserialize, Serialize};
/// use std::sync::OnceLock;
///
/// #[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
/// struct QAInput { question: String }
/// #[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
/// struct QAOutput { answer: String }
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct QA { #[serde(flatten)] input: QAInput, #[serde(flatten)] output: QAOutput }
///
/// impl Signature for QA {
///     type Input = QAInput;
///     type Output = QAOutput;
///     fn info() -> &'static SignatureInfo {
///         static INFO: OnceLock<SignatureInfo> = OnceLock::new();
///         INFO.get_or_init(|| {
///             SignatureInfo::new("QA")
///                 .with_instructions("Answer questions with short factoid answers.")
///                 .input::<String>("question", "a question in English")
///                 .output::<String>("answer", "often between 1 and 5 words")
///         })
///     }
///     fn from_parts(input: QAInput, output: QAOutput) -> Self { QA { input, output } }
///     fn into_parts(self) -> (QAInput, QAOutput) { (self.input, self.output) }
/// }
/// assert_eq!(QA::info().inputs[0].type_hint, "str");
/// ```
pub trait Signature: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The input fields, as a struct (`XInput` when derived).
    type Input: SignatureValue;
    /// The output fields, as a struct (`XOutput` when derived).
    type Output: SignatureValue;

    /// The runtime description adapters and optimizers work from, built once.
    fn info() -> &'static SignatureInfo;

    /// Joins an input and an output into one example.
    fn from_parts(input: Self::Input, output: Self::Output) -> Self;

    /// Splits an example into its input and output.
    fn into_parts(self) -> (Self::Input, Self::Output);
}

/// Something a program can be run on: a training or dev example.
///
/// Every signature type implements it (the derive generates the impl); any other type can, to
/// evaluate or compile a program on data that is not a signature struct.
///
/// ```
/// use dspy_core::Example;
/// struct Row { text: String, gold: String }
/// impl Example for Row {
///     type Input = String;
///     fn input(&self) -> String { self.text.clone() }
/// }
/// let row = Row { text: "hi".into(), gold: "greeting".into() };
/// assert_eq!(row.input(), "hi");
/// # let _ = row.gold;
/// ```
pub trait Example: Send + Sync {
    /// What the program receives.
    type Input;
    /// The program's input for this example.
    fn input(&self) -> Self::Input;
}
