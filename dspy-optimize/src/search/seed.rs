//! Seeds derived from the optimizer's one seed, so that every candidate, step and call draws
//! from its own generator whatever order they run in.

use dspy_core::data::Rng;

/// A seed derived from `seed` for candidate `index`, independent of the order candidates run in.
pub(crate) fn derive_seed(seed: u64, index: u64) -> u64 {
    Rng::new(seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}
