//! Which tokens sit in the KV cache, so a prompt that shares a prefix with the last one (the same
//! instructions and demos, as optimizers send hundreds of times) evaluates only what differs.

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
    pub fn reusable(&self, prompt: &[T]) -> usize {
        let common = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        common.min(prompt.len().saturating_sub(1))
    }

    /// Forgets every position from `len` on (after removing them from the KV cache).
    pub fn truncate(&mut self, len: usize) {
        self.tokens.truncate(len);
    }

    /// Records tokens just evaluated into the cache.
    pub fn extend(&mut self, tokens: &[T]) {
        self.tokens.extend_from_slice(tokens);
    }

    /// Records one token just evaluated into the cache.
    pub fn push(&mut self, token: T) {
        self.tokens.push(token);
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Forgets everything (after clearing the KV cache).
    pub fn clear(&mut self) {
        self.tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
