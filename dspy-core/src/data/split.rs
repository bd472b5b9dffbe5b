//! Deterministic shuffles, splits and samples of a dataset.

use super::Rng;
use std::collections::BTreeMap;

/// The examples in a seeded random order.
///
/// ```
/// let a = dspy_core::data::shuffled(vec![1, 2, 3, 4, 5, 6], 42);
/// assert_eq!(a, dspy_core::data::shuffled(vec![1, 2, 3, 4, 5, 6], 42));
/// assert_ne!(a, vec![1, 2, 3, 4, 5, 6]);
/// ```
pub fn shuffled<T>(mut examples: Vec<T>, seed: u64) -> Vec<T> {
    Rng::new(seed).shuffle(&mut examples);
    examples
}

/// A dataset split three ways.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits<T> {
    /// For compiling (demos, bootstrapping).
    pub train: Vec<T>,
    /// For choosing between candidates while compiling.
    pub dev: Vec<T>,
    /// Held out, for the final report.
    pub test: Vec<T>,
}

/// Shuffles with `seed`, then cuts off `dev` and `test` fractions (rounded down); the rest is
/// train. Fractions are clamped so the parts never overlap.
///
/// ```
/// use dspy_core::data::split;
/// let parts = split((0..100).collect::<Vec<_>>(), 0.2, 0.1, 7);
/// assert_eq!((parts.train.len(), parts.dev.len(), parts.test.len()), (70, 20, 10));
/// assert_eq!(parts, split((0..100).collect(), 0.2, 0.1, 7)); // same seed, same split
/// ```
pub fn split<T>(examples: Vec<T>, dev: f64, test: f64, seed: u64) -> Splits<T> {
    let n = examples.len();
    let count = |fraction: f64| ((fraction.clamp(0.0, 1.0) * n as f64).floor() as usize).min(n);
    let n_test = count(test);
    let n_dev = count(dev).min(n - n_test);
    let mut rest = shuffled(examples, seed);
    let test = rest.split_off(n - n_test);
    let dev = rest.split_off(n - n_test - n_dev);
    Splits {
        train: rest,
        dev,
        test,
    }
}

/// Shuffles with `seed` and splits into `(train, dev)` with a `dev` fraction.
///
/// ```
/// let (train, dev) = dspy_core::data::train_dev_split((0..10).collect::<Vec<_>>(), 0.3, 1);
/// assert_eq!((train.len(), dev.len()), (7, 3));
/// ```
pub fn train_dev_split<T>(examples: Vec<T>, dev: f64, seed: u64) -> (Vec<T>, Vec<T>) {
    let parts = split(examples, dev, 0.0, seed);
    (parts.train, parts.dev)
}

/// `k` examples drawn without replacement (all of them, shuffled, when `k` is larger).
///
/// ```
/// let data = vec!["a", "b", "c", "d"];
/// let picked = dspy_core::data::sample(&data, 2, 3);
/// assert_eq!(picked.len(), 2);
/// assert_ne!(picked[0], picked[1]);
/// ```
pub fn sample<T: Clone>(examples: &[T], k: usize, seed: u64) -> Vec<T> {
    Rng::new(seed)
        .sample_indices(examples.len(), k)
        .into_iter()
        .map(|i| examples[i].clone())
        .collect()
}

/// Up to `k` examples of each class (`class_of` names it), drawn with `seed`; classes in sorted
/// order, then interleaved so every class appears early (good for few-shot demos).
///
/// ```
/// let data = vec![("q1", "human"), ("q2", "human"), ("q3", "human"), ("q4", "location")];
/// let picked = dspy_core::data::sample_per_class(&data, 2, |row| row.1.to_string(), 0);
/// assert_eq!(picked.len(), 3);
/// assert_eq!(picked.iter().filter(|row| row.1 == "human").count(), 2);
/// assert_eq!(picked[1].1, "location"); // interleaved
/// ```
pub fn sample_per_class<T: Clone, K: Ord>(
    examples: &[T],
    k: usize,
    class_of: impl Fn(&T) -> K,
    seed: u64,
) -> Vec<T> {
    let mut classes: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, example) in examples.iter().enumerate() {
        classes.entry(class_of(example)).or_default().push(i);
    }
    let mut rng = Rng::new(seed);
    let picked: Vec<Vec<usize>> = classes
        .into_values()
        .map(|members| {
            rng.sample_indices(members.len(), k)
                .into_iter()
                .map(|j| members[j])
                .collect()
        })
        .collect();
    let rounds = picked.iter().map(Vec::len).max().unwrap_or(0);
    (0..rounds)
        .flat_map(|round| picked.iter().filter_map(move |class| class.get(round)))
        .map(|&i| examples[i].clone())
        .collect()
}
