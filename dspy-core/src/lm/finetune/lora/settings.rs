//! A LoRA run's settings, from the job's [`Hyperparameters`] and [`TrainBudget`].

use super::train::Schedule;
use crate::lm::finetune::{Hyperparameters, TrainBudget};
use crate::{Error, Result};

/// The extra hyperparameters the local trainer takes, by name.
pub(crate) const KNOWN: &[&str] = &["lora_rank", "lora_alpha", "weight_decay", "max_tokens"];

/// What a run trains with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub rank: usize,
    pub alpha: f64,
    /// Examples longer than this many tokens are left out (memory grows with length).
    pub max_tokens: usize,
    pub schedule: Schedule,
}

impl Settings {
    /// The settings of `h` (defaults: one epoch, batches of 8, lr 1e-3, rank 8, alpha 16, no
    /// weight decay, examples of up to 1024 tokens); an [`Error::Config`] names an extra
    /// setting it does not know.
    pub(crate) fn new(h: &Hyperparameters, budget: TrainBudget) -> Result<Self> {
        let unknown = h.unknown_extras(KNOWN);
        if !unknown.is_empty() {
            return Err(Error::config(format!(
                "the local LoRA trainer has no hyperparameter {}; it takes {}",
                unknown.join(", "),
                KNOWN.join(", ")
            )));
        }
        let number = |name: &str, default: f64| -> Result<f64> {
            match h.extra.get(name) {
                None => Ok(default),
                Some(v) => v
                    .as_f64()
                    .filter(|x| *x > 0.0 || name == "weight_decay")
                    .ok_or_else(|| {
                        Error::config(format!(
                            "hyperparameter {name} must be a positive number, not {v}"
                        ))
                    }),
            }
        };
        Ok(Settings {
            rank: number("lora_rank", 8.0)? as usize,
            alpha: number("lora_alpha", 16.0)?,
            max_tokens: number("max_tokens", 1024.0)? as usize,
            schedule: Schedule {
                epochs: h.epochs.unwrap_or(1).max(1) as usize,
                batch_size: h.batch_size.unwrap_or(8).max(1) as usize,
                learning_rate: h.learning_rate.unwrap_or(1e-3),
                weight_decay: number("weight_decay", 0.0)?,
                seed: h.seed.unwrap_or(0),
                max_steps: budget.max_steps,
                start_step: 0,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_a_typo() {
        let s = Settings::new(&Hyperparameters::new(), TrainBudget::steps(5)).unwrap();
        assert_eq!(
            (s.rank, s.alpha, s.schedule.batch_size, s.schedule.epochs),
            (8, 16.0, 8, 1)
        );
        assert_eq!(s.schedule.max_steps, Some(5));
        let h = Hyperparameters::new()
            .epochs(2)
            .learning_rate(5e-4)
            .set("lora_rank", 4);
        let s = Settings::new(&h, TrainBudget::unlimited()).unwrap();
        assert_eq!(
            (s.rank, s.schedule.epochs, s.schedule.learning_rate),
            (4, 2, 5e-4)
        );
        let err = Settings::new(
            &Hyperparameters::new().set("lora_rnak", 4),
            TrainBudget::unlimited(),
        );
        assert!(err.unwrap_err().to_string().contains("lora_rnak"));
        let err = Settings::new(
            &Hyperparameters::new().set("lora_rank", "big"),
            TrainBudget::unlimited(),
        );
        assert!(err.unwrap_err().to_string().contains("positive number"));
    }
}
