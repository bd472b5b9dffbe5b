//! The arithmetic several optimizers share: how many program runs one bootstrapping makes.

use super::Count;

/// The runs of one [`BootstrapFewShot`](crate::BootstrapFewShot) trace step over `examples`
/// training examples, stopping at `traces` successes, each example tried up to `rounds` times.
///
/// At most: every example, every round. Expected (every run passes on its first round): one
/// run per trace needed. The runs still in flight when the last one needed comes back (up to
/// `concurrency - 1`) are dropped: their calls may have reached the backend, but no usage
/// counts them, as none is answered.
pub(crate) fn bootstrap_runs(examples: usize, traces: usize, rounds: usize) -> Count {
    if traces == 0 || examples == 0 {
        return Count::default();
    }
    let at_most = examples * rounds.max(1);
    Count::new(at_most as u64, examples.min(traces) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrapping_runs_every_example_at_most() {
        assert_eq!(bootstrap_runs(10, 4, 2), Count::new(20, 4));
        assert_eq!(bootstrap_runs(3, 4, 1), Count::new(3, 3));
        assert_eq!(bootstrap_runs(100, 0, 1), Count::default());
        assert_eq!(bootstrap_runs(0, 4, 1), Count::default());
    }
}
