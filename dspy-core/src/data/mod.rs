//! Typed datasets: load examples from JSONL, JSON and CSV, shuffle, split and sample them by
//! seed.
//!
//! An example is any `Deserialize` type, most often a signature struct itself:
//!
//! ```
//! use dspy_core::data;
//! # use dspy_macros::Signature;
//! # #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
//! # #[serde(rename_all = "lowercase")]
//! # enum Kind { Abbreviation, Description, Entity, Human, Location, Number }
//! /// Classify the question by the kind of answer it expects.
//! #[derive(Signature, Clone, Debug)]
//! # #[dspy(crate = "dspy_core")]
//! struct Classify { #[input] question: String, #[output] label: Kind }
//!
//! let text = "{\"question\": \"Who was Galileo ?\", \"label\": \"human\", \"fine_label\": \"ind\"}\n";
//! let examples: Vec<Classify> = data::parse_jsonl(text, "train.jsonl").unwrap();
//! assert_eq!(examples[0].label, Kind::Human); // extra keys such as fine_label are ignored
//! let (train, dev) = data::train_dev_split(examples, 0.0, 42);
//! assert_eq!((train.len(), dev.len()), (1, 0));
//! ```

mod load;
mod rng;
mod split;

pub use load::{load_csv, load_json, load_jsonl, parse_csv, parse_jsonl};
pub use rng::Rng;
pub use split::{Splits, sample, sample_per_class, shuffled, split, train_dev_split};
