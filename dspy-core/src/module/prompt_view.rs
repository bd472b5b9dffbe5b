//! [`PromptView`]: the prompt a predictor sends, rendered by its adapter with the input left as
//! placeholders, and split into the parts a reader looks for (what comes first, each demo, the
//! input).

use super::demo::DemoState;
use crate::adapter::{Adapter, FieldValues, FormatRequest, Formatted, Message, Prompt};
use crate::signature::SignatureInfo;
use serde_json::Value;

/// The prompt a predictor sends, without calling the LM: rendered by the adapter it would use
/// now, with every input field shown as a `{name}` placeholder.
///
/// The text is the adapter's own rendering, so it is exactly what the LM is sent once the
/// placeholders are filled in. [`parts`](PromptView::parts) splits it in order: the
/// [preamble](PromptPart::Preamble) (the system message, or the instructions of a completion
/// prompt), one [part per demo](PromptPart::Demo) in the order the adapter shows them (the chat
/// adapters put partial demos first), and the [input](PromptPart::Input). It prints (`Display`)
/// as a Markdown section; [`ExportPrompts`](super::ExportPrompts) writes one for every predictor
/// of a program.
///
/// ```
/// use dspy_core::{DynPredictor, Predict};
/// use dspy_core::module::PromptPart;
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// let france = Capital { country: "France".into(), city: "Paris".into() };
/// let predict = Predict::<Capital>::new().with_demos([france]);
/// let view = predict.render_prompt().unwrap();   // no LM: the ChatAdapter's layout
/// assert_eq!(view.adapter, "ChatAdapter");
/// assert_eq!(view.parts.len(), 3);               // system message, the demo, the input
/// let PromptPart::Input(input) = &view.parts[2] else { unreachable!() };
/// assert!(input.to_text().contains("[[ ## country ## ]]\n{country}"));
/// println!("{view}");                           // Markdown: fields, demos, every message
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PromptView {
    /// The predictor's dotted name in its program, when it was rendered as part of one.
    pub predictor: Option<String>,
    /// Its signature.
    pub signature: SignatureInfo,
    /// The adapter that rendered it (`ChatAdapter`, ...).
    pub adapter: &'static str,
    /// The instructions in effect.
    pub instructions: String,
    /// Whether the instructions are the predictor's own (set by an optimizer or by hand) rather
    /// than the signature's.
    pub own_instructions: bool,
    /// Every demo the predictor holds, in its order.
    pub demos: Vec<DemoView>,
    /// The prompt in order: preamble, the demos as shown, the input.
    pub parts: Vec<PromptPart>,
    /// The whole prompt as the adapter formats it (with the placeholders), its stop sequences
    /// and the answer schema it asks for.
    pub formatted: Formatted,
}

/// One demo of a [`PromptView`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DemoView {
    /// Its position among the predictor's demos.
    pub position: usize,
    /// The demo, as saved state holds it.
    pub state: DemoState,
    /// The signature's fields it lacks (none for a complete demo), inputs first.
    pub missing: Vec<String>,
    /// Whether the prompt shows it (an adapter leaves out a demo with no input or no output).
    pub shown: bool,
}

impl DemoView {
    /// Whether it has every field of its signature.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// A piece of a [`PromptView`]'s prompt: messages of a chat prompt, or blocks of a completion
/// prompt (joined by a blank line, as the adapter joins them).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PromptPart {
    /// What comes before the demos: the system message, or the instructions.
    Preamble(Prompt),
    /// One demo's turns (or block); `demo` is its index in [`PromptView::demos`].
    Demo {
        /// Which demo.
        demo: usize,
        /// Its text.
        prompt: Prompt,
    },
    /// Demos whose text could not be told apart (an adapter that renders demos depending on
    /// each other): shown together.
    Demos(Prompt),
    /// The input, with `{name}` placeholders.
    Input(Prompt),
}

impl PromptPart {
    /// The part's text: its messages or blocks.
    pub fn prompt(&self) -> &Prompt {
        match self {
            PromptPart::Preamble(p) | PromptPart::Demos(p) | PromptPart::Input(p) => p,
            PromptPart::Demo { prompt, .. } => prompt,
        }
    }
}

/// The input as the view shows it: `{name}` for every input field.
pub(crate) fn placeholders(signature: &SignatureInfo) -> FieldValues {
    signature
        .inputs
        .iter()
        .map(|f| (f.name.clone(), Value::String(format!("{{{}}}", f.name))))
        .collect()
}

impl PromptView {
    /// The view of a prompt `adapter` renders for `signature` with `instructions` and `demos`.
    ///
    /// Each demo's part is found by rendering it alone and seeing where its text sits in the
    /// whole prompt, so the split follows any adapter whose demos render independently; when
    /// one cannot be placed, the demos are shown together as [`PromptPart::Demos`].
    pub fn render(
        signature: &SignatureInfo,
        adapter: &dyn Adapter,
        instructions: &str,
        own_instructions: bool,
        demos: Vec<DemoState>,
    ) -> Self {
        let fields: Vec<FieldValues> = demos.iter().map(|d| d.fields.clone()).collect();
        let render = |demos: &[FieldValues], input: &FieldValues| {
            adapter.format(&FormatRequest {
                signature,
                instructions,
                demos,
                input,
            })
        };
        let input = placeholders(signature);
        let formatted = render(&fields, &input);
        let base = Units::of(&render(&[], &input).prompt);
        // Where the input starts: the first unit that changes with it.
        let other_input: FieldValues = input.keys().map(|k| (k.clone(), Value::Null)).collect();
        let input_at = base
            .shared_ends(&Units::of(&render(&[], &other_input).prompt))
            .0;
        let alone: Vec<Units> = fields
            .iter()
            .map(|d| Units::of(&render(std::slice::from_ref(d), &input).prompt).without(&base))
            .collect();
        let layout = Layout {
            full: Units::of(&formatted.prompt),
            base,
            input_at,
        };
        let (parts, shown) = layout.split(&alone);
        let demos = demos
            .into_iter()
            .enumerate()
            .map(|(position, state)| DemoView {
                position,
                missing: missing_fields(signature, &state.fields),
                state,
                shown: shown.contains(&position),
            })
            .collect();
        PromptView {
            predictor: None,
            signature: signature.clone(),
            adapter: adapter.name(),
            instructions: instructions.to_string(),
            own_instructions,
            demos,
            parts,
            formatted,
        }
    }

    /// The same view, named as the predictor `name` of a program.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.predictor = Some(name.into());
        self
    }
}

/// Fields of `signature` the demo lacks or has as `null`, inputs first.
fn missing_fields(signature: &SignatureInfo, fields: &FieldValues) -> Vec<String> {
    signature
        .inputs
        .iter()
        .chain(&signature.outputs)
        .filter(|f| fields.get(&f.name).is_none_or(Value::is_null))
        .map(|f| f.name.clone())
        .collect()
}

/// A prompt as a list of comparable units: messages, or blank-line-separated blocks of text.
#[derive(Debug, Clone, PartialEq)]
enum Units {
    Messages(Vec<Message>),
    Blocks(Vec<String>),
}

impl Units {
    fn of(prompt: &Prompt) -> Self {
        match prompt {
            Prompt::Chat(messages) => Units::Messages(messages.clone()),
            Prompt::Text(text) => Units::Blocks(text.split("\n\n").map(str::to_string).collect()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Units::Messages(m) => m.len(),
            Units::Blocks(b) => b.len(),
        }
    }

    fn same(&self, other: &Units, i: usize, j: usize) -> bool {
        match (self, other) {
            (Units::Messages(a), Units::Messages(b)) => a.get(i) == b.get(j),
            (Units::Blocks(a), Units::Blocks(b)) => a.get(i) == b.get(j),
            _ => false,
        }
    }

    fn slice(&self, from: usize, to: usize) -> Units {
        match self {
            Units::Messages(m) => Units::Messages(m[from..to].to_vec()),
            Units::Blocks(b) => Units::Blocks(b[from..to].to_vec()),
        }
    }

    fn prompt(&self) -> Prompt {
        match self {
            Units::Messages(m) => Prompt::Chat(m.clone()),
            Units::Blocks(b) => Prompt::Text(b.join("\n\n")),
        }
    }

    /// How many units `self` and `base` share at the start and at the end; the two never
    /// overlap in `base`.
    fn shared_ends(&self, base: &Units) -> (usize, usize) {
        let most = self.len().min(base.len());
        let head = (0..most).take_while(|&i| self.same(base, i, i)).count();
        let tail = (0..most - head)
            .take_while(|&i| self.same(base, self.len() - 1 - i, base.len() - 1 - i))
            .count();
        (head, tail)
    }

    /// What `self` has that `base` does not, between their shared start and end.
    fn without(&self, base: &Units) -> Units {
        let (head, tail) = self.shared_ends(base);
        self.slice(head, self.len().saturating_sub(tail).max(head))
    }
}

/// A whole prompt, and the same prompt without demos (`base`), whose input starts at unit
/// `input_at`.
struct Layout {
    full: Units,
    base: Units,
    input_at: usize,
}

impl Layout {
    /// The parts of the whole prompt: the start it shares with `base` before the input, each
    /// demo's units (`alone[i]`: demo `i` rendered by itself, less `base`) where they sit, and
    /// the input. Also returns the demos it placed.
    fn split(&self, alone: &[Units]) -> (Vec<PromptPart>, Vec<usize>) {
        let full = &self.full;
        let (head, _) = full.shared_ends(&self.base);
        let input_len = self.base.len() - self.input_at.min(self.base.len());
        let start = head.min(self.input_at);
        let end = full.len().saturating_sub(input_len).max(start);
        let ends_alike = (0..input_len).all(|k| full.same(&self.base, end + k, self.input_at + k));
        if !ends_alike {
            return (
                vec![PromptPart::Demos(full.prompt())],
                (0..alone.len()).collect(),
            );
        }
        let mut parts = Vec::new();
        if start > 0 {
            parts.push(PromptPart::Preamble(full.slice(0, start).prompt()));
        }
        let placed = place_demos(full, start, end, alone, &mut parts);
        if end < full.len() {
            parts.push(PromptPart::Input(full.slice(end, full.len()).prompt()));
        }
        (parts, placed)
    }
}

/// Finds, from unit `at` to `end` of `full`, each demo's units in turn (`alone`), pushing a part
/// per demo; what cannot be placed goes in one [`PromptPart::Demos`]. Returns the demos placed.
fn place_demos(
    full: &Units,
    mut at: usize,
    end: usize,
    alone: &[Units],
    parts: &mut Vec<PromptPart>,
) -> Vec<usize> {
    let mut placed: Vec<usize> = Vec::new();
    while at < end {
        let fits = |i: &usize| {
            let n = alone[*i].len();
            n > 0 && at + n <= end && (0..n).all(|k| full.same(&alone[*i], at + k, k))
        };
        let Some(i) = (0..alone.len()).filter(|i| !placed.contains(i)).find(fits) else {
            // Demos this split cannot tell apart: what is left of them, together.
            parts.push(PromptPart::Demos(full.slice(at, end).prompt()));
            return (0..alone.len()).collect();
        };
        parts.push(PromptPart::Demo {
            demo: i,
            prompt: alone[i].prompt(),
        });
        at += alone[i].len();
        placed.push(i);
    }
    placed
}
