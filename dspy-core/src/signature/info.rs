use super::FieldSpec;
use schemars::JsonSchema;

/// The runtime description of a signature: its name, instructions and fields, in order.
///
/// Adapters format prompts from it and optimizers rewrite its instructions, without knowing the
/// signature's Rust types.
///
/// ```
/// use dspy_core::SignatureInfo;
/// let info = SignatureInfo::new("Classify")
///     .input::<String>("question", "a question")
///     .output::<bool>("is_numeric", "");
/// assert_eq!(info.instructions, "Given the fields `question`, produce the fields `is_numeric`.");
/// assert_eq!(info.outputs[0].type_hint, "bool");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureInfo {
    /// The signature's name (the Rust type's name when derived).
    pub name: String,
    /// The task description shown to the LM; optimizers rewrite it.
    pub instructions: String,
    /// Input fields, in declaration order.
    pub inputs: Vec<FieldSpec>,
    /// Output fields, in declaration order.
    pub outputs: Vec<FieldSpec>,
    /// Whether `instructions` were given (false when they are the generated default).
    pub has_custom_instructions: bool,
}

impl SignatureInfo {
    /// An empty signature description; add fields with [`input`](Self::input) and
    /// [`output`](Self::output).
    pub fn new(name: impl Into<String>) -> Self {
        SignatureInfo {
            name: name.into(),
            instructions: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            has_custom_instructions: false,
        }
        .with_default_instructions()
    }

    /// Sets the instructions. Blank instructions fall back to DSPy's default
    /// ("Given the fields `a`, produce the fields `b`.").
    #[must_use]
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        let instructions = instructions.into();
        if instructions.trim().is_empty() {
            self.has_custom_instructions = false;
            self.with_default_instructions()
        } else {
            self.instructions = instructions;
            self.has_custom_instructions = true;
            self
        }
    }

    /// Adds an input field of type `T`.
    #[must_use]
    pub fn input<T: JsonSchema + ?Sized>(self, name: &str, desc: &str) -> Self {
        self.with_input(FieldSpec::of::<T>(name, desc))
    }

    /// Adds an output field of type `T`.
    #[must_use]
    pub fn output<T: JsonSchema + ?Sized>(self, name: &str, desc: &str) -> Self {
        self.with_output(FieldSpec::of::<T>(name, desc))
    }

    /// Adds an input field.
    #[must_use]
    pub fn with_input(mut self, field: FieldSpec) -> Self {
        self.inputs.push(field);
        self.with_default_instructions()
    }

    /// Adds an output field.
    #[must_use]
    pub fn with_output(mut self, field: FieldSpec) -> Self {
        self.outputs.push(field);
        self.with_default_instructions()
    }

    /// Inserts an output field before the others (as `ChainOfThought` does with `reasoning`).
    #[must_use]
    pub fn with_output_first(mut self, field: FieldSpec) -> Self {
        self.outputs.insert(0, field);
        self.with_default_instructions()
    }

    /// The output field named `name`.
    pub fn output_field(&self, name: &str) -> Option<&FieldSpec> {
        self.outputs.iter().find(|f| f.name == name)
    }

    /// DSPy's default instructions for these fields.
    pub fn default_instructions(&self) -> String {
        let names = |fields: &[FieldSpec]| {
            fields
                .iter()
                .map(|f| format!("`{}`", f.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "Given the fields {}, produce the fields {}.",
            names(&self.inputs),
            names(&self.outputs)
        )
    }

    fn with_default_instructions(mut self) -> Self {
        if !self.has_custom_instructions {
            self.instructions = self.default_instructions();
        }
        self
    }
}

/// The [`SignatureInfo`] of type `T`, built once by `build` and kept for the life of the process.
///
/// A `static` inside a generic function is shared by every instantiation, so signatures that are
/// generic (such as `ChainOfThought`'s `Reasoned<S>`) keep their descriptions here, one per type.
///
/// ```
/// use dspy_core::signature::{SignatureInfo, info_for};
/// struct Marker;
/// let a = info_for::<Marker>(|| SignatureInfo::new("A"));
/// let b = info_for::<Marker>(|| SignatureInfo::new("never built"));
/// assert!(std::ptr::eq(a, b));
/// // A build may ask for another type's description (a generic signature wrapping another).
/// struct Inner;
/// struct Outer;
/// let outer = info_for::<Outer>(|| {
///     let inner = info_for::<Inner>(|| SignatureInfo::new("Inner"));
///     SignatureInfo::new(format!("Outer<{}>", inner.name))
/// });
/// assert_eq!(outer.name, "Outer<Inner>");
/// ```
pub fn info_for<T: 'static>(build: impl FnOnce() -> SignatureInfo) -> &'static SignatureInfo {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};
    static INFOS: OnceLock<RwLock<HashMap<TypeId, &'static SignatureInfo>>> = OnceLock::new();
    let infos = INFOS.get_or_init(Default::default);
    let key = TypeId::of::<T>();
    if let Some(info) = infos.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return info;
    }
    // Built outside the lock: a generic signature's build asks for its inner signature's info
    // (`Reasoned<ReActExtract<S>>`), and a nested call under the write lock would deadlock.
    let built = build();
    let mut infos = infos.write().unwrap_or_else(|e| e.into_inner());
    // Leaked once per type: these live as long as the program, like a derived signature's static.
    // A thread that lost a race to build it drops its copy.
    infos
        .entry(key)
        .or_insert_with(|| Box::leak(Box::new(built)))
}
