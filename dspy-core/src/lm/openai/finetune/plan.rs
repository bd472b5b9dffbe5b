//! The job to ask for: hyperparameters in the API's terms, and the budget checked before
//! anything is sent.

use crate::lm::{Hyperparameters, TrainBudget, TrainingData};
use crate::{Error, Result};
use serde_json::{Map, Value, json};

/// The extra hyperparameters this backend takes ([`Hyperparameters::set`]).
pub(super) const EXTRAS: &[&str] = &["learning_rate_multiplier"];

/// The `hyperparameters` object of the job's supervised method.
pub(super) fn hyperparameters(h: &Hyperparameters) -> Result<Value> {
    let unknown = h.unknown_extras(EXTRAS);
    if !unknown.is_empty() {
        return Err(Error::config(format!(
            "OpenAI fine-tuning does not take the hyperparameter(s) {}: it takes epochs, \
             batch_size, seed and, by name, {}",
            quoted(&unknown),
            quoted(EXTRAS)
        )));
    }
    if h.learning_rate.is_some() {
        return Err(Error::config(
            "OpenAI fine-tuning takes a learning-rate multiplier, not a learning rate: use \
             Hyperparameters::set(\"learning_rate_multiplier\", 1.8) instead of learning_rate",
        ));
    }
    let mut out = Map::new();
    if let Some(epochs) = h.epochs {
        out.insert("n_epochs".into(), json!(epochs));
    }
    if let Some(batch) = h.batch_size {
        out.insert("batch_size".into(), json!(batch));
    }
    if let Some(multiplier) = h.extra.get("learning_rate_multiplier") {
        if !multiplier.as_f64().is_some_and(|m| m > 0.0) {
            return Err(Error::config(format!(
                "learning_rate_multiplier must be a number above 0, not {multiplier}"
            )));
        }
        out.insert("learning_rate_multiplier".into(), multiplier.clone());
    }
    Ok(Value::Object(out))
}

/// Checks `budget` against what the job would take, before anything is uploaded. A provider's
/// job runs to its end, so a step budget is checked against epochs × batches (both must be
/// set), and a cost budget against the data's estimated tokens × epochs × `price` per million.
pub(super) fn check_budget(
    data: &TrainingData,
    h: &Hyperparameters,
    budget: TrainBudget,
    price: Option<f64>,
) -> Result<()> {
    if let Some(max_steps) = budget.max_steps {
        let (Some(epochs), Some(batch)) = (h.epochs, h.batch_size) else {
            return Err(Error::config(
                "a step budget needs Hyperparameters::epochs and batch_size for an OpenAI job (the \
                 provider picks them otherwise, and a job cannot be stopped midway with a model)",
            ));
        };
        let steps = u64::from(epochs) * (data.len() as u64).div_ceil(u64::from(batch.max(1)));
        if steps > max_steps {
            return Err(Error::Budget(format!(
                "the job would take {steps} steps ({epochs} epochs of {} examples in batches of \
                 {batch}), over the budget of {max_steps}; nothing was uploaded",
                data.len()
            )));
        }
    }
    if let Some(max_cost) = budget.max_cost {
        let Some(price) = price else {
            return Err(Error::config(
                "a cost budget needs the training price: OpenAiFinetuner::training_price \
                 (dollars per million training tokens)",
            ));
        };
        let Some(epochs) = h.epochs else {
            return Err(Error::config(
                "a cost budget needs Hyperparameters::epochs for an OpenAI job (the provider \
                 picks the epochs otherwise)",
            ));
        };
        let tokens = data.estimated_tokens() * u64::from(epochs);
        let cost = tokens as f64 * price / 1_000_000.0;
        if cost > max_cost {
            return Err(Error::Budget(format!(
                "the job would cost about ${cost:.2} (~{tokens} training tokens at ${price}/M), \
                 over the budget of ${max_cost:.2}; nothing was uploaded"
            )));
        }
    }
    Ok(())
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{Message, Prompt, TrainingExample};

    fn data(n: usize) -> TrainingData {
        let mut data = TrainingData::new();
        for i in 0..n {
            data.push(
                "p",
                TrainingExample {
                    // "User: " and 34 characters, then 4: 44 characters, 11 tokens.
                    prompt: Prompt::Chat(vec![Message::user(format!("{i:0>34}"))]),
                    completion: "four".into(),
                },
            );
        }
        data
    }

    #[test]
    fn hyperparameters_in_the_apis_terms() {
        let h = Hyperparameters::new()
            .epochs(3)
            .batch_size(4)
            .set("learning_rate_multiplier", 1.5);
        assert_eq!(
            hyperparameters(&h).unwrap(),
            json!({"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 1.5})
        );
        assert_eq!(hyperparameters(&Hyperparameters::new()).unwrap(), json!({}));
        let typo = Hyperparameters::new().set("learning_rate_mult", 2);
        let err = hyperparameters(&typo).unwrap_err().to_string();
        assert!(err.contains("`learning_rate_mult`"), "{err}");
        let absolute = Hyperparameters::new().learning_rate(1e-4);
        let err = hyperparameters(&absolute).unwrap_err().to_string();
        assert!(err.contains("learning_rate_multiplier"), "{err}");
        let bad = Hyperparameters::new().set("learning_rate_multiplier", "fast");
        assert!(hyperparameters(&bad).is_err());
    }

    #[test]
    fn a_step_budget_counts_epochs_times_batches() {
        let h = Hyperparameters::new().epochs(2).batch_size(4);
        // 10 examples in batches of 4: 3 steps an epoch, 6 in all.
        assert!(check_budget(&data(10), &h, TrainBudget::steps(6), None).is_ok());
        let err = check_budget(&data(10), &h, TrainBudget::steps(5), None).unwrap_err();
        assert!(
            matches!(&err, Error::Budget(m) if m.contains("6 steps")),
            "{err}"
        );
        let err = check_budget(
            &data(10),
            &Hyperparameters::new(),
            TrainBudget::steps(5),
            None,
        );
        assert!(matches!(err, Err(Error::Config(_))));
    }

    #[test]
    fn a_cost_budget_counts_tokens_times_epochs_at_the_price() {
        let h = Hyperparameters::new().epochs(2);
        // 10 examples of 11 tokens, 2 epochs: 220 tokens; at $1000/M: $0.22.
        assert_eq!(data(10).estimated_tokens(), 110);
        assert!(check_budget(&data(10), &h, TrainBudget::cost(0.25), Some(1000.0)).is_ok());
        let err = check_budget(&data(10), &h, TrainBudget::cost(0.20), Some(1000.0)).unwrap_err();
        assert!(
            matches!(&err, Error::Budget(m) if m.contains("$0.22")),
            "{err}"
        );
        let no_price = check_budget(&data(10), &h, TrainBudget::cost(1.0), None);
        assert!(matches!(no_price, Err(Error::Config(m)) if m.contains("training_price")));
    }
}
