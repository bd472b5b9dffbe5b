//! A crate that denies missing docs: the generated public types are documented, and fields
//! without docs or a `desc` do not trip the lint.
#![deny(missing_docs)]

use dspy::prelude::*;

/// Public signatures.
pub mod tasks {
    use dspy::prelude::*;

    /// Summarize the document.
    #[derive(Signature, Clone, Debug)]
    pub struct Summarize {
        #[input]
        document: String,
        #[input(desc = "how many words at most")]
        max_words: u32,
        /// The summary.
        #[output]
        summary: String,
    }
}

fn main() {
    let input = tasks::SummarizeInput {
        document: "text".into(),
        max_words: 5,
    };
    let _ = tasks::Summarize::from_parts(
        input,
        tasks::SummarizeOutput {
            summary: "t".into(),
        },
    );
    let _ = <tasks::Summarize as Signature>::info();
}
