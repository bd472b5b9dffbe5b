//! The top `k` of a list of scores, which every in-memory index ends with.

use std::cmp::Ordering;

/// The positions of the `k` highest scores, highest first, ties by position (so a ranking is
/// the same on every run). Selects before sorting: a corpus of `n` costs `O(n + k log k)`.
pub(crate) fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let better =
        |a: &usize, b: &usize| -> Ordering { scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)) };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    if k == 0 {
        return Vec::new();
    }
    if k < order.len() {
        order.select_nth_unstable_by(k - 1, better);
        order.truncate(k);
    }
    order.sort_by(better);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_first_ties_in_order() {
        assert_eq!(top_k(&[0.0, 1.0, 1.0, 0.0], 3), [1, 2, 0]);
        assert_eq!(top_k(&[0.5, 0.2, 0.9], 10), [2, 0, 1]);
        assert!(top_k(&[1.0], 0).is_empty());
        assert!(top_k(&[], 4).is_empty());
    }

    #[test]
    fn selection_agrees_with_a_full_sort() {
        let scores: Vec<f64> = (0..500).map(|i| ((i * 7919) % 101) as f64).collect();
        let mut sorted: Vec<usize> = (0..scores.len()).collect();
        sorted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        for k in [1, 5, 37, 499, 500] {
            assert_eq!(top_k(&scores, k), sorted[..k]);
        }
    }
}
