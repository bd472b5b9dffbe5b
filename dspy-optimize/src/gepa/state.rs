//! GEPA's search state: every candidate with its lineage and validation scores, the merge
//! bookkeeping, and the trials so far. It is what a checkpoint saves after each iteration.

use super::merge::{Instructions, MergeLog};
use crate::Trial;
use crate::search::seed::derive_seed;
use dspy_core::data::Rng;
use serde::{Deserialize, Serialize};

/// A candidate program: its instructions per predictor, where it came from, and its score on
/// every validation example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Candidate {
    pub instructions: Instructions,
    /// One parent for a reflective mutation, two for a merge, none for the seed program.
    pub parents: Vec<usize>,
    pub val_scores: Vec<f64>,
    /// The predictor (by position) its next reflective mutation updates (round robin).
    pub next_predictor: usize,
    /// The trial that added it.
    pub trial: usize,
}

impl Candidate {
    /// The mean validation score.
    pub(crate) fn aggregate(&self) -> f64 {
        if self.val_scores.is_empty() {
            return 0.0;
        }
        self.val_scores.iter().sum::<f64>() / self.val_scores.len() as f64
    }
}

/// Everything the search needs to carry on from where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SearchState {
    pub candidates: Vec<Candidate>,
    /// Iterations completed.
    pub iteration: u64,
    /// Metric calls so far (one per example run and scored).
    pub metric_calls: usize,
    pub merges_due: usize,
    pub merges_tested: usize,
    /// Whether the last iteration added a candidate (merges are only tried right after one).
    pub last_found_new: bool,
    pub merge_log: MergeLog,
    pub trials: Vec<Trial>,
}

impl SearchState {
    /// Every candidate's mean validation score.
    pub(crate) fn aggregates(&self) -> Vec<f64> {
        self.candidates.iter().map(Candidate::aggregate).collect()
    }

    /// Every candidate's per-example validation scores.
    pub(crate) fn score_table(&self) -> Vec<Vec<f64>> {
        self.candidates
            .iter()
            .map(|c| c.val_scores.clone())
            .collect()
    }

    /// Adds a scored candidate and returns its index. It updates next the predictor after the
    /// furthest its parents reached, as the `gepa` package does.
    pub(crate) fn add(
        &mut self,
        instructions: Instructions,
        parents: Vec<usize>,
        val_scores: Vec<f64>,
        trial: usize,
    ) -> usize {
        let next_predictor = parents
            .iter()
            .filter_map(|&p| self.candidates.get(p))
            .map(|c| c.next_predictor)
            .max()
            .unwrap_or(0);
        self.candidates.push(Candidate {
            instructions,
            parents,
            val_scores,
            next_predictor,
            trial,
        });
        self.candidates.len() - 1
    }
}

/// The training examples of minibatch number `step`: the training set is shuffled once per
/// epoch (with a seed derived from `seed` and the epoch), padded to a whole number of
/// minibatches with its least-used examples, and cut into consecutive minibatches (the `gepa`
/// package's epoch-shuffled sampler, without state to save).
pub(crate) fn minibatch(train_len: usize, size: usize, seed: u64, step: u64) -> Vec<usize> {
    if train_len == 0 || size == 0 {
        return Vec::new();
    }
    let padded = train_len.div_ceil(size) * size;
    let start = step as usize * size;
    let epoch = (start / padded) as u64;
    let order = epoch_order(train_len, size, seed, epoch);
    let offset = start % padded;
    order[offset..offset + size].to_vec()
}

/// One epoch's order of training indices, padded to a multiple of `size`.
fn epoch_order(train_len: usize, size: usize, seed: u64, epoch: u64) -> Vec<usize> {
    // Salted so the epochs' shuffles differ from the iterations' draws.
    let mut rng = Rng::new(derive_seed(seed ^ 0x6570_6f63_6873, epoch));
    let mut order: Vec<usize> = (0..train_len).collect();
    rng.shuffle(&mut order);
    let mut uses = vec![1usize; train_len];
    let mut first_seen = vec![0usize; train_len];
    for (position, &i) in order.iter().enumerate() {
        first_seen[i] = position;
    }
    while !order.len().is_multiple_of(size) {
        // The least used; on ties, the one shuffled last.
        let pick = (0..train_len)
            .min_by_key(|&i| (uses[i], std::cmp::Reverse(first_seen[i])))
            .unwrap_or(0);
        uses[pick] += 1;
        order.push(pick);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn an_epoch_covers_the_training_set_then_reshuffles() {
        let epoch0: Vec<usize> = (0..4).flat_map(|s| minibatch(10, 3, 7, s)).collect();
        assert_eq!(epoch0.len(), 12);
        let seen: BTreeSet<usize> = epoch0.iter().copied().collect();
        assert_eq!(
            seen.len(),
            10,
            "every example in the first epoch: {epoch0:?}"
        );
        let epoch1: Vec<usize> = (4..8).flat_map(|s| minibatch(10, 3, 7, s)).collect();
        assert_ne!(epoch0, epoch1);
        assert_eq!(minibatch(10, 3, 7, 5), minibatch(10, 3, 7, 5));
        assert_ne!(
            epoch0,
            (0..4)
                .flat_map(|s| minibatch(10, 3, 8, s))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_minibatch_larger_than_the_training_set_repeats_examples() {
        let batch = minibatch(2, 5, 0, 0);
        assert_eq!(batch.len(), 5);
        assert!(batch.contains(&0) && batch.contains(&1));
    }

    #[test]
    fn new_candidates_continue_the_round_robin_of_their_parents() {
        let mut state = SearchState::default();
        state.add(Instructions::new(), vec![], vec![0.5, 1.0], 0);
        state.candidates[0].next_predictor = 1;
        let child = state.add(Instructions::new(), vec![0], vec![1.0, 1.0], 1);
        assert_eq!(state.candidates[child].next_predictor, 1);
        assert_eq!(state.aggregates(), [0.75, 1.0]);
    }
}
