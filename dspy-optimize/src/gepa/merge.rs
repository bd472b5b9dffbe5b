//! GEPA's merge (crossover): two frontier candidates that descend from a common ancestor, each
//! having improved different predictors, combined into one candidate that keeps both
//! improvements (the `gepa` package's `MergeProposer` rules).

use dspy_core::data::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One candidate's instructions, by predictor name.
pub(crate) type Instructions = BTreeMap<String, String>;

/// Merges already tried, so none is tried twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct MergeLog {
    /// `(i, j, ancestor)` triples merged.
    pub triples: Vec<(usize, usize, usize)>,
    /// `(i, j, which candidate each predictor came from)`.
    pub descriptions: Vec<(usize, usize, Vec<usize>)>,
}

/// A merge to evaluate: the combined instructions and the candidates they came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Merged {
    pub instructions: Instructions,
    pub first: usize,
    pub second: usize,
    pub ancestor: usize,
}

/// Every ancestor of `node` (parents, their parents, ...).
pub(crate) fn ancestors(parents: &[Vec<usize>], node: usize) -> BTreeSet<usize> {
    let mut found = BTreeSet::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        for &p in parents.get(n).map(Vec::as_slice).unwrap_or(&[]) {
            if found.insert(p) {
                stack.push(p);
            }
        }
    }
    found
}

/// Whether merging `i` and `j` over `ancestor` changes anything: some predictor where one of
/// them kept the ancestor's instruction and the other changed it.
fn has_desirable_predictors(
    candidates: &[Instructions],
    ancestor: usize,
    i: usize,
    j: usize,
) -> bool {
    candidates[ancestor].iter().any(|(name, a)| {
        let (x, y) = (&candidates[i][name], &candidates[j][name]);
        (a == x || a == y) && x != y
    })
}

/// A pair of `pool` candidates with a common ancestor worth merging over, and that ancestor
/// (drawn weighted by its aggregate score); `None` after `attempts` draws without one.
fn common_ancestor_pair(
    rng: &mut Rng,
    parents: &[Vec<usize>],
    pool: &[usize],
    log: &MergeLog,
    aggregate: &[f64],
    candidates: &[Instructions],
    attempts: usize,
) -> Option<(usize, usize, usize)> {
    for _ in 0..attempts {
        if pool.len() < 2 {
            return None;
        }
        let picked = rng.sample_indices(pool.len(), 2);
        let (mut i, mut j) = (pool[picked[0]], pool[picked[1]]);
        if j < i {
            std::mem::swap(&mut i, &mut j);
        }
        let (ancestors_i, ancestors_j) = (ancestors(parents, i), ancestors(parents, j));
        if ancestors_i.contains(&j) || ancestors_j.contains(&i) {
            continue; // one descends from the other: nothing to combine
        }
        let common: Vec<usize> = ancestors_i
            .intersection(&ancestors_j)
            .copied()
            .filter(|&a| {
                !log.triples.contains(&(i, j, a))
                    && aggregate[a] <= aggregate[i]
                    && aggregate[a] <= aggregate[j]
                    && has_desirable_predictors(candidates, a, i, j)
            })
            .collect();
        if common.is_empty() {
            continue;
        }
        let ancestor = weighted_choice(rng, &common, aggregate);
        return Some((i, j, ancestor));
    }
    None
}

/// One of `items`, drawn with probability proportional to its aggregate score (uniformly when
/// they all score 0).
fn weighted_choice(rng: &mut Rng, items: &[usize], aggregate: &[f64]) -> usize {
    let total: f64 = items.iter().map(|&a| aggregate[a].max(0.0)).sum();
    if total <= 0.0 {
        return items[rng.below(items.len())];
    }
    let mut draw = rng.next_f64() * total;
    for &a in items {
        let weight = aggregate[a].max(0.0);
        if draw < weight {
            return a;
        }
        draw -= weight;
    }
    items[items.len() - 1]
}

/// Tries to merge two candidates of `pool` (the non-dominated ones): finds a pair with a
/// common ancestor both improved on, and combines their instructions predictor by predictor:
///
/// - one of them kept the ancestor's instruction and the other changed it: the changed one;
/// - both changed it (differently): the one with the higher aggregate (a coin flip on ties);
/// - both have the same instruction: that one.
///
/// A combination already tried is not returned again; the merge is logged in `log`.
pub(crate) fn propose_merge(
    rng: &mut Rng,
    aggregate: &[f64],
    pool: &[usize],
    log: &mut MergeLog,
    candidates: &[Instructions],
    parents: &[Vec<usize>],
) -> Option<Merged> {
    const ATTEMPTS: usize = 10;
    if pool.len() < 2 || parents.len() < 3 {
        return None;
    }
    for _ in 0..ATTEMPTS {
        let Some((i, j, ancestor)) =
            common_ancestor_pair(rng, parents, pool, log, aggregate, candidates, ATTEMPTS)
        else {
            continue;
        };
        let mut merged = candidates[ancestor].clone();
        let mut sources = Vec::new();
        for (name, instruction) in merged.iter_mut() {
            let (a, x, y) = (
                &candidates[ancestor][name],
                &candidates[i][name],
                &candidates[j][name],
            );
            let source = if (a == x || a == y) && x != y {
                if a == x { j } else { i }
            } else if a != x && a != y {
                match aggregate[i].total_cmp(&aggregate[j]) {
                    std::cmp::Ordering::Greater => i,
                    std::cmp::Ordering::Less => j,
                    std::cmp::Ordering::Equal => [i, j][rng.below(2)],
                }
            } else {
                i
            };
            *instruction = candidates[source][name].clone();
            sources.push(source);
        }
        let description = (i, j, sources);
        if log.descriptions.contains(&description) {
            continue;
        }
        log.descriptions.push(description);
        log.triples.push((i, j, ancestor));
        return Some(Merged {
            instructions: merged,
            first: i,
            second: j,
            ancestor,
        });
    }
    None
}

/// Up to `n` validation examples to judge a merge on: as many where the first parent beats the
/// second, where the second beats the first, and where they tie, then any others.
pub(crate) fn merge_subsample(
    first: &[f64],
    second: &[f64],
    n: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let all: Vec<usize> = (0..first.len().min(second.len())).collect();
    let wins: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&e| first[e] > second[e])
        .collect();
    let losses: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&e| second[e] > first[e])
        .collect();
    let ties: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&e| first[e] == second[e])
        .collect();
    let each = n.div_ceil(3).max(1);
    let mut selected: Vec<usize> = Vec::new();
    for bucket in [wins, losses, ties] {
        if selected.len() >= n {
            break;
        }
        let take = bucket.len().min(each).min(n - selected.len());
        for k in rng.sample_indices(bucket.len(), take) {
            selected.push(bucket[k]);
        }
    }
    let remaining = n.saturating_sub(selected.len());
    if remaining > 0 && !all.is_empty() {
        let unused: Vec<usize> = all
            .iter()
            .copied()
            .filter(|e| !selected.contains(e))
            .collect();
        if unused.len() >= remaining {
            for k in rng.sample_indices(unused.len(), remaining) {
                selected.push(unused[k]);
            }
        } else {
            // Fewer examples than asked for: repeats, as the `gepa` package does.
            for _ in 0..remaining {
                selected.push(all[rng.below(all.len())]);
            }
        }
    }
    selected.truncate(n);
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instructions(pairs: &[(&str, &str)]) -> Instructions {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// 0 is the seed; 1 changed `a`, 2 changed `b`, both from 0; 3 changed `a` again from 1.
    fn family() -> (Vec<Instructions>, Vec<Vec<usize>>) {
        let candidates = vec![
            instructions(&[("a", "A0"), ("b", "B0")]),
            instructions(&[("a", "A1"), ("b", "B0")]),
            instructions(&[("a", "A0"), ("b", "B2")]),
            instructions(&[("a", "A3"), ("b", "B0")]),
        ];
        let parents = vec![vec![], vec![0], vec![0], vec![1]];
        (candidates, parents)
    }

    #[test]
    fn ancestors_are_transitive() {
        let (_, parents) = family();
        assert_eq!(ancestors(&parents, 3), BTreeSet::from([0, 1]));
        assert_eq!(ancestors(&parents, 0), BTreeSet::new());
        let merged_parents = vec![vec![], vec![0], vec![0], vec![1, 2]];
        assert_eq!(ancestors(&merged_parents, 3), BTreeSet::from([0, 1, 2]));
    }

    #[test]
    fn siblings_that_improved_different_predictors_merge_both_changes() {
        let (candidates, parents) = family();
        let aggregate = [0.2, 0.5, 0.6, 0.1];
        let mut log = MergeLog::default();
        let merged = propose_merge(
            &mut Rng::new(0),
            &aggregate,
            &[1, 2],
            &mut log,
            &candidates[..3],
            &parents[..3],
        )
        .expect("1 and 2 share ancestor 0");
        assert_eq!(
            merged.instructions,
            instructions(&[("a", "A1"), ("b", "B2")])
        );
        assert_eq!((merged.first, merged.second, merged.ancestor), (1, 2, 0));
        assert_eq!(log.triples, [(1, 2, 0)]);
        assert_eq!(log.descriptions, [(1, 2, vec![1, 2])]);
        // Tried once: never again.
        let again = propose_merge(
            &mut Rng::new(0),
            &aggregate,
            &[1, 2],
            &mut log,
            &candidates[..3],
            &parents[..3],
        );
        assert_eq!(again, None);
    }

    #[test]
    fn a_predictor_both_changed_comes_from_the_better_candidate() {
        let candidates = vec![
            instructions(&[("a", "A0"), ("b", "B0")]),
            instructions(&[("a", "A1"), ("b", "B0")]),
            instructions(&[("a", "A2"), ("b", "B2")]),
        ];
        let parents = vec![vec![], vec![0], vec![0]];
        let merged = propose_merge(
            &mut Rng::new(0),
            &[0.1, 0.7, 0.4],
            &[1, 2],
            &mut MergeLog::default(),
            &candidates,
            &parents,
        )
        .unwrap();
        // `a`: both changed, 1 scores higher; `b`: only 2 changed it.
        assert_eq!(
            merged.instructions,
            instructions(&[("a", "A1"), ("b", "B2")])
        );
    }

    #[test]
    fn no_merge_of_a_descendant_with_its_ancestor_or_over_a_better_ancestor() {
        let (candidates, parents) = family();
        // 3 descends from 1: no pair.
        let none = propose_merge(
            &mut Rng::new(0),
            &[0.2, 0.5, 0.6, 0.7],
            &[1, 3],
            &mut MergeLog::default(),
            &candidates,
            &parents,
        );
        assert_eq!(none, None);
        // The ancestor scores above one of the pair: not a merge worth trying.
        let none = propose_merge(
            &mut Rng::new(0),
            &[0.9, 0.5, 0.6],
            &[1, 2],
            &mut MergeLog::default(),
            &candidates[..3],
            &parents[..3],
        );
        assert_eq!(none, None);
        // Changes to the same predictor only, identical: nothing to gain.
        let same = vec![
            instructions(&[("a", "A0")]),
            instructions(&[("a", "A1")]),
            instructions(&[("a", "A1")]),
        ];
        let none = propose_merge(
            &mut Rng::new(0),
            &[0.1, 0.5, 0.5],
            &[1, 2],
            &mut MergeLog::default(),
            &same,
            &[vec![], vec![0], vec![0]],
        );
        assert_eq!(none, None);
    }

    #[test]
    fn the_subsample_mixes_wins_losses_and_ties() {
        let first = [1.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.0];
        let second = [0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.0];
        let picked = merge_subsample(&first, &second, 5, &mut Rng::new(1));
        assert_eq!(picked.len(), 5);
        let distinct: BTreeSet<usize> = picked.iter().copied().collect();
        assert_eq!(distinct.len(), 5);
        let wins = picked.iter().filter(|&&e| first[e] > second[e]).count();
        let losses = picked.iter().filter(|&&e| second[e] > first[e]).count();
        assert_eq!((wins, losses), (2, 2));
        // Fewer examples than asked: every one, then repeats.
        let small = merge_subsample(&[1.0, 0.0], &[0.0, 1.0], 5, &mut Rng::new(1));
        assert_eq!(small.len(), 5);
        assert!(small.contains(&0) && small.contains(&1));
    }
}
