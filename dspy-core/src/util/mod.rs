//! Small pieces every layer (and the optimizers) share: cutting text for a one-line display or
//! an error message, and writing a file so that a crash never leaves half of it.

mod fs;
mod text;

pub use fs::write_atomic;
pub use text::{excerpt, quoted_excerpt, snippet};
