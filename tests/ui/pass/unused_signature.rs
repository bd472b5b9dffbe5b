// A signature that is declared and never used must not warn in a binary that denies warnings.
#![deny(warnings)]

use dspy::prelude::*;

#[derive(Signature, Clone, Debug)]
struct Unused {
    /// Documented.
    #[input]
    question: String,
    #[output]
    answer: String,
}

mod private {
    use dspy::prelude::*;

    #[derive(Signature, Clone, Debug)]
    pub(crate) struct AlsoUnused {
        #[input]
        question: String,
        #[output]
        answer: String,
    }
}

fn main() {}
