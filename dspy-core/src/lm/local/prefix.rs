//! Which tokens sit in the KV cache, so a prompt that shares a prefix with an earlier one (the
//! same instructions and demos, as optimizers send hundreds of times) evaluates only what
//! differs. The cache holds several sequences ([`Slots`]), so programs whose predictors take turns
//! (a pipeline's stages, an ensemble's members) keep every predictor's prefix.

/// The token sequence currently held in the KV cache, in position order.
#[derive(Debug, Clone)]
pub(crate) struct CachedTokens<T> {
    tokens: Vec<T>,
}

impl<T> Default for CachedTokens<T> {
    fn default() -> Self {
        CachedTokens { tokens: Vec::new() }
    }
}

impl<T: PartialEq + Copy> CachedTokens<T> {
    /// How many leading tokens of `prompt` can stay in the cache: the common prefix, but never the
    /// whole prompt, since its last token must be evaluated again for the logits that start the
    /// answer.
    pub(super) fn reusable(&self, prompt: &[T]) -> usize {
        let common = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        common.min(prompt.len().saturating_sub(1))
    }

    /// Forgets every position from `len` on (after removing them from the KV cache).
    pub(super) fn truncate(&mut self, len: usize) {
        self.tokens.truncate(len);
    }

    /// Records tokens just evaluated into the cache.
    pub(super) fn extend(&mut self, tokens: &[T]) {
        self.tokens.extend_from_slice(tokens);
    }

    /// Records one token just evaluated into the cache.
    pub(super) fn push(&mut self, token: T) {
        self.tokens.push(token);
    }

    /// Positions held.
    pub(super) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Forgets everything (after clearing the KV cache).
    pub(super) fn clear(&mut self) {
        self.tokens.clear();
    }
}

/// Several cached sequences, one per KV-cache sequence id, and which was used last.
#[derive(Debug, Clone)]
pub(crate) struct Slots<T> {
    slots: Vec<CachedTokens<T>>,
    /// When each slot was last used (a counter, not a clock).
    used: Vec<u64>,
    clock: u64,
}

impl<T: PartialEq + Copy> Slots<T> {
    /// `n` empty slots (at least one).
    pub(super) fn new(n: usize) -> Self {
        let n = n.max(1);
        Slots {
            slots: vec![CachedTokens::default(); n],
            used: vec![0; n],
            clock: 0,
        }
    }

    /// The slot a prompt should run in: the one sharing the most of it, when that is at least
    /// half the prompt (a prefix worth keeping); else an empty slot; else the one used longest
    /// ago, whose prefix is given up. A pipeline's stages thus settle in slots of their own.
    pub(super) fn choose(&mut self, prompt: &[T]) -> usize {
        let reuse: Vec<usize> = self.slots.iter().map(|s| s.reusable(prompt)).collect();
        let best = (0..self.slots.len())
            .max_by_key(|&i| (reuse[i], self.used[i]))
            .unwrap_or(0);
        let chosen = if 2 * reuse[best] >= prompt.len().saturating_sub(1) && reuse[best] > 0 {
            best
        } else if let Some(empty) = (0..self.slots.len()).find(|&i| self.slots[i].len() == 0) {
            empty
        } else {
            (0..self.slots.len())
                .min_by_key(|&i| self.used[i])
                .unwrap_or(0)
        };
        self.clock += 1;
        self.used[chosen] = self.clock;
        chosen
    }

    /// The tokens cached in slot `i`.
    pub(super) fn get(&mut self, i: usize) -> &mut CachedTokens<T> {
        &mut self.slots[i]
    }

    /// The slot other than `i` used longest ago that still holds something, to free room.
    pub(super) fn oldest_other(&self, i: usize) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&j| j != i && self.slots[j].len() > 0)
            .min_by_key(|&j| self.used[j])
    }

    /// Forgets every slot (after clearing the KV cache).
    pub(super) fn clear(&mut self) {
        self.slots.iter_mut().for_each(CachedTokens::clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_prefixes_settle_in_slots_of_their_own() {
        let mut slots: Slots<u32> = Slots::new(3);
        let a1 = [1, 1, 1, 1, 1, 1, 10];
        let b1 = [2, 2, 2, 2, 2, 2, 10];
        assert_eq!(slots.choose(&a1), 0);
        slots.get(0).extend(&a1);
        // Nothing in common with slot 0: an empty slot, not slot 0's prefix.
        assert_eq!(slots.choose(&b1), 1);
        slots.get(1).extend(&b1);
        // Each stage comes back to its own prefix.
        assert_eq!(slots.choose(&[1, 1, 1, 1, 1, 1, 20]), 0);
        assert_eq!(slots.choose(&[2, 2, 2, 2, 2, 2, 20]), 1);
        // A third stage takes the last empty slot; a fourth gives up the one used longest ago.
        assert_eq!(slots.choose(&[3, 3, 3]), 2);
        slots.get(2).extend(&[3, 3, 3]);
        assert_eq!(slots.oldest_other(2), Some(0));
        assert_eq!(slots.choose(&[4, 4, 4]), 0);
        // A prompt mostly shared with a slot reuses it even when a slot is free.
        let mut two: Slots<u32> = Slots::new(2);
        two.get(0).extend(&[1, 2, 3, 4, 5]);
        assert_eq!(two.choose(&[1, 2, 3, 4, 9]), 0);
        two.clear();
        assert_eq!(two.get(0).len(), 0);
    }

    fn cached(tokens: &[u32]) -> CachedTokens<u32> {
        let mut c = CachedTokens::default();
        c.extend(tokens);
        c
    }

    #[test]
    fn shared_prefix_is_reused() {
        let c = cached(&[1, 2, 3, 4, 5]);
        assert_eq!(c.reusable(&[1, 2, 3, 9, 9, 9]), 3);
        assert_eq!(c.reusable(&[7, 2, 3]), 0);
        assert_eq!(CachedTokens::default().reusable(&[1, 2]), 0);
    }

    #[test]
    fn the_last_prompt_token_is_always_evaluated() {
        let c = cached(&[1, 2, 3, 4, 5]);
        assert_eq!(c.reusable(&[1, 2, 3, 4, 5]), 4);
        assert_eq!(c.reusable(&[1, 2, 3]), 2);
        assert_eq!(c.reusable(&[1]), 0);
        assert_eq!(c.reusable(&[]), 0);
    }

    #[test]
    fn generated_tokens_extend_the_prefix() {
        // The cache holds the prompt and the answer; a next prompt that continues the transcript
        // reuses both.
        let mut c = cached(&[1, 2, 3]);
        c.push(8);
        c.push(9);
        assert_eq!(c.reusable(&[1, 2, 3, 8, 9, 10]), 5);
        c.truncate(2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.reusable(&[1, 2, 3, 4]), 2);
        c.clear();
        assert_eq!(c.len(), 0);
    }
}
