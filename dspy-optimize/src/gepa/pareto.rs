//! The Pareto frontier over validation examples, and parent selection from it (as the `gepa`
//! package's `ParetoCandidateSelector`).
//!
//! A candidate is on the frontier of an example when no candidate scores higher on it; a
//! candidate that is on no frontier, or only on frontiers it shares with others that cover all
//! of its examples, is dominated and never chosen.

use dspy_core::data::Rng;
use std::collections::BTreeSet;

/// For each validation example, the candidates with the best score on it.
///
/// `scores[c][e]` is candidate `c`'s score on example `e`; every row has the same length.
pub(crate) fn frontier(scores: &[Vec<f64>]) -> Vec<BTreeSet<usize>> {
    let examples = scores.first().map_or(0, Vec::len);
    (0..examples)
        .map(|e| {
            let best = scores
                .iter()
                .map(|row| row[e])
                .fold(f64::NEG_INFINITY, f64::max);
            (0..scores.len())
                .filter(|&c| scores[c][e] == best)
                .collect()
        })
        .collect()
}

/// Whether `candidate` is dominated: every frontier it is on also holds one of `others`.
fn is_dominated(candidate: usize, others: &BTreeSet<usize>, fronts: &[BTreeSet<usize>]) -> bool {
    fronts
        .iter()
        .filter(|front| front.contains(&candidate))
        .all(|front| front.iter().any(|c| others.contains(c)))
}

/// The frontiers with dominated candidates removed, weakest (by `aggregate`) considered first,
/// one at a time, so that every frontier keeps at least one candidate.
pub(crate) fn without_dominated(
    fronts: &[BTreeSet<usize>],
    aggregate: &[f64],
) -> Vec<BTreeSet<usize>> {
    let mut candidates: Vec<usize> = fronts
        .iter()
        .flatten()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Stable: equal aggregates stay in index order.
    candidates.sort_by(|a, b| aggregate[*a].total_cmp(&aggregate[*b]));
    let mut dominated: BTreeSet<usize> = BTreeSet::new();
    loop {
        let found = candidates.iter().copied().find(|&y| {
            if dominated.contains(&y) {
                return false;
            }
            let others: BTreeSet<usize> = candidates
                .iter()
                .copied()
                .filter(|&c| c != y && !dominated.contains(&c))
                .collect();
            is_dominated(y, &others, fronts)
        });
        match found {
            Some(y) => {
                dominated.insert(y);
            }
            None => break,
        }
    }
    fronts
        .iter()
        .map(|front| front.difference(&dominated).copied().collect())
        .collect()
}

/// The candidates left on some frontier once dominated ones are removed, in index order: the
/// ones a merge may combine.
pub(crate) fn dominators(fronts: &[BTreeSet<usize>], aggregate: &[f64]) -> Vec<usize> {
    without_dominated(fronts, aggregate)
        .into_iter()
        .flatten()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// How many frontiers (examples) each non-dominated candidate is on, in index order.
pub(crate) fn frontier_counts(
    fronts: &[BTreeSet<usize>],
    aggregate: &[f64],
) -> Vec<(usize, usize)> {
    let mut counts: std::collections::BTreeMap<usize, usize> = Default::default();
    for front in without_dominated(fronts, aggregate) {
        for candidate in front {
            *counts.entry(candidate).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// A parent drawn from the frontier, each non-dominated candidate weighted by how many
/// examples it is best on. With no frontier at all (no validation examples), the candidate
/// with the best aggregate.
pub(crate) fn select_parent(scores: &[Vec<f64>], aggregate: &[f64], rng: &mut Rng) -> usize {
    let counts = frontier_counts(&frontier(scores), aggregate);
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return best_index(aggregate);
    }
    let mut draw = rng.below(total);
    for (candidate, n) in &counts {
        if draw < *n {
            return *candidate;
        }
        draw -= n;
    }
    best_index(aggregate)
}

/// The index of the highest aggregate score (the first, on ties).
pub(crate) fn best_index(aggregate: &[f64]) -> usize {
    let mut best = 0;
    for (i, score) in aggregate.iter().enumerate() {
        if *score > aggregate[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[usize]) -> BTreeSet<usize> {
        items.iter().copied().collect()
    }

    fn mean(row: &[f64]) -> f64 {
        row.iter().sum::<f64>() / row.len() as f64
    }

    #[test]
    fn the_frontier_holds_every_best_candidate_of_each_example() {
        let scores = vec![
            vec![1.0, 0.0, 0.0, 0.5],
            vec![0.0, 1.0, 0.0, 0.5],
            vec![1.0, 0.0, 0.0, 0.2],
        ];
        assert_eq!(
            frontier(&scores),
            [set(&[0, 2]), set(&[1]), set(&[0, 1, 2]), set(&[0, 1])]
        );
    }

    #[test]
    fn a_candidate_covered_by_others_is_dominated() {
        // 2 is best only where 0 is best too: dominated. 0 and 1 each own an example.
        let scores = vec![
            vec![1.0, 0.0, 0.3],
            vec![0.0, 1.0, 0.3],
            vec![1.0, 0.0, 0.1],
        ];
        let aggregate: Vec<f64> = scores.iter().map(|r| mean(r)).collect();
        let fronts = frontier(&scores);
        let reduced = without_dominated(&fronts, &aggregate);
        assert_eq!(reduced, [set(&[0]), set(&[1]), set(&[0, 1])]);
        assert_eq!(dominators(&fronts, &aggregate), [0, 1]);
        assert_eq!(frontier_counts(&fronts, &aggregate), [(0, 2), (1, 2)]);
    }

    #[test]
    fn of_two_equal_candidates_the_weaker_aggregate_goes_first() {
        // 0 and 1 tie on every example; one of them must stay. The weaker aggregate (here
        // equal, so the lower index comes first in the stable sort) is removed.
        let fronts = vec![set(&[0, 1]), set(&[0, 1])];
        assert_eq!(dominators(&fronts, &[0.5, 0.5]), [1]);
        assert_eq!(dominators(&fronts, &[0.6, 0.5]), [0]);
    }

    #[test]
    fn parents_are_drawn_by_how_many_examples_they_own() {
        // 0 owns three examples, 1 owns one, 2 is dominated and never drawn.
        let scores = vec![
            vec![1.0, 1.0, 1.0, 0.0],
            vec![0.0, 0.0, 0.0, 1.0],
            vec![0.5, 0.5, 0.5, 0.0],
        ];
        let aggregate: Vec<f64> = scores.iter().map(|r| mean(r)).collect();
        let mut rng = Rng::new(3);
        let mut drawn = [0usize; 3];
        for _ in 0..4000 {
            drawn[select_parent(&scores, &aggregate, &mut rng)] += 1;
        }
        assert_eq!(drawn[2], 0);
        // About 3:1 (expected 3000 and 1000).
        assert!((2700..3300).contains(&drawn[0]), "{drawn:?}");
        assert!((700..1300).contains(&drawn[1]), "{drawn:?}");
        // The same seed draws the same parents.
        let again: Vec<usize> = {
            let mut rng = Rng::new(3);
            (0..20)
                .map(|_| select_parent(&scores, &aggregate, &mut rng))
                .collect()
        };
        let first: Vec<usize> = {
            let mut rng = Rng::new(3);
            (0..20)
                .map(|_| select_parent(&scores, &aggregate, &mut rng))
                .collect()
        };
        assert_eq!(again, first);
    }

    #[test]
    fn the_best_aggregate_is_the_first_maximum() {
        assert_eq!(best_index(&[0.2, 0.7, 0.7, 0.1]), 1);
        assert_eq!(best_index(&[]), 0);
        // No examples: no frontier, so the best aggregate is the parent.
        let scores: Vec<Vec<f64>> = vec![vec![], vec![]];
        assert_eq!(select_parent(&scores, &[0.0, 0.0], &mut Rng::new(0)), 0);
    }
}
