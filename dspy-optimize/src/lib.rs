//! Optimizers ("teleprompters") for dspy: they compile a program into one that scores higher on
//! a metric, by choosing few-shot demonstrations and rewriting instructions.
//!
//! The optimizers arrive with their own issues; this crate fixes the name and the dependency on
//! [`dspy_core`], whose types they work on.
#![warn(missing_docs)]

pub use dspy_core;
