//! The fields wrapped outputs offer to wiring by name (`cot.then(next)`): their own text field
//! (`reasoning`, `rationale`) and every field of the output they wrap.

use super::{WithRationale, WithReasoning};
use crate::signature::fields::{Ch, HasField, Here, Inner};

/// Implements [`HasField`] for `$wrapper<O>`: `$field: String` here, and `O`'s fields inside.
/// The two impls cannot overlap: their paths differ (`Here` and `Inner<P>`).
macro_rules! wrapper_fields {
    ($wrapper:ident, $field:ident, $($c:literal)*) => {
        impl<O> HasField<($(Ch<$c>,)*), String, Here> for $wrapper<O> {
            fn field(&self) -> &String {
                &self.$field
            }
        }

        impl<O: HasField<N, T, P>, N, T, P> HasField<N, T, Inner<P>> for $wrapper<O> {
            fn field(&self) -> &T {
                self.output.field()
            }
        }
    };
}

wrapper_fields!(WithReasoning, reasoning, 'r' 'e' 'a' 's' 'o' 'n' 'i' 'n' 'g');
wrapper_fields!(WithRationale, rationale, 'r' 'a' 't' 'i' 'o' 'n' 'a' 'l' 'e');

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::fields::WireFrom;
    use dspy_macros::Signature;

    /// Name the entity.
    #[derive(Signature, Clone, Debug)]
    #[dspy(crate = "crate")]
    struct Extract {
        #[input]
        question: String,
        #[output]
        entity: String,
    }

    /// Explain the choice.
    #[derive(Signature, Clone, Debug)]
    #[dspy(crate = "crate")]
    struct Explain {
        #[input]
        question: String,
        #[input]
        entity: String,
        #[input]
        rationale: String,
        #[output]
        explanation: String,
    }

    fn wire<I, O, W>(input: &I, output: &O) -> ExplainInput
    where
        ExplainInput: WireFrom<I, O, W>,
    {
        ExplainInput::wire(input, output)
    }

    #[test]
    fn a_rationale_and_the_wrapped_fields_are_wired() {
        let input = ExtractInput {
            question: "Who was Galileo ?".into(),
        };
        let output = WithRationale {
            rationale: "All attempts name him.".into(),
            output: ExtractOutput {
                entity: "Galileo".into(),
            },
        };
        let next = wire(&input, &output);
        assert_eq!(next.question, "Who was Galileo ?");
        assert_eq!(next.entity, "Galileo");
        assert_eq!(next.rationale, "All attempts name him.");
    }

    #[test]
    fn reasoning_is_a_field_of_its_own() {
        type Reasoning = (
            Ch<'r'>,
            Ch<'e'>,
            Ch<'a'>,
            Ch<'s'>,
            Ch<'o'>,
            Ch<'n'>,
            Ch<'i'>,
            Ch<'n'>,
            Ch<'g'>,
        );
        let output = WithReasoning {
            reasoning: "step by step".into(),
            output: ExtractOutput {
                entity: "Galileo".into(),
            },
        };
        let reasoning =
            <WithReasoning<ExtractOutput> as HasField<Reasoning, String, Here>>::field(&output);
        assert_eq!(reasoning, "step by step");
    }
}
