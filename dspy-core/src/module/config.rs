//! [`PredictConfig`]: the sampling settings of one predictor.

/// Sampling settings of one predictor.
///
/// ```
/// use dspy_core::PredictConfig;
/// let config = PredictConfig { temperature: Some(0.7), n: 3, ..Default::default() };
/// assert_eq!(config.n, 3);
/// assert_eq!(PredictConfig::default().n, 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PredictConfig {
    /// Sampling temperature; `None` leaves the LM's default.
    pub temperature: Option<f32>,
    /// Most tokens per completion.
    pub max_tokens: Option<u32>,
    /// Completions per call; all are parsed and kept in [`Prediction::completions`](super::Prediction::completions).
    pub n: u32,
    /// Extra stop sequences.
    pub stop: Vec<String>,
    /// Set to get a fresh sample for an otherwise identical call (bypasses caches).
    pub rollout_id: Option<u64>,
}

impl Default for PredictConfig {
    fn default() -> Self {
        PredictConfig {
            temperature: None,
            max_tokens: None,
            n: 1,
            stop: Vec::new(),
            rollout_id: None,
        }
    }
}
