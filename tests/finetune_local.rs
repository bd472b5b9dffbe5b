//! Fine-tuning the embedded model in process (feature `finetune`): a LoRA adapter trained on
//! the real weights by candle is applied by llama.cpp and changes the answers the way it was
//! trained to; the same run again is a cache hit that trains nothing.
//!
//! Heavy (it loads the model's weights in F32 and trains a few steps): run it alone, with
//! `RAYON_NUM_THREADS` set on a shared machine.
#![cfg(feature = "finetune")]

use dspy::lm::{Finetune, Hyperparameters, LocalFinetuner, LocalLm, TrainBudget, TrainingData};
use dspy::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Coarse {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

const ALL: [Coarse; 6] = [
    Coarse::Abbreviation,
    Coarse::Description,
    Coarse::Entity,
    Coarse::Human,
    Coarse::Location,
    Coarse::Number,
];

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input]
    question: String,
    #[output]
    label: Coarse,
}

const TRAIN: [&str; 8] = [
    "What is the full form of .com ?",
    "How did serfdom develop in and then leave Russia ?",
    "What films featured the character Popeye Doyle ?",
    "What contemptible scoundrel stole the cork from my lunch ?",
    "What sprawling U.S. state boasts the most airports ?",
    "When was Ozzy Osbourne born ?",
    "What are liver enzymes ?",
    "What team did baseball s St. Louis Browns become ?",
];

const PROBE: [&str; 6] = [
    "What does the abbreviation AIDS stand for ?",
    "How many Jews were executed in concentration camps during WWII ?",
    "What is the highest waterfall in the United States ?",
    "Who wrote the novel Moby Dick ?",
    "Why is the sky blue ?",
    "What fowl grabs the spotlight after the Chinese Year of the Monkey ?",
];

async fn answers(classify: &Predict<Classify>, lm: &LM) -> Vec<Coarse> {
    let mut out = Vec::new();
    for q in PROBE {
        let input = ClassifyInput { question: q.into() };
        let answer = dspy::lm::with_lm(lm.clone(), classify.call(input))
            .await
            .unwrap();
        out.push(answer.label);
    }
    out
}

#[tokio::test]
async fn a_lora_adapter_trained_in_process_changes_what_llama_cpp_answers() {
    let base = LM::new(LocalLm::builder().context_size(1024).build().unwrap());
    let classify = Predict::<Classify>::new();
    let before = answers(&classify, &base).await;
    // Teach the label the base model gives least on the probe questions, for every question.
    let target = *ALL
        .iter()
        .min_by_key(|l| before.iter().filter(|b| b == l).count())
        .unwrap();
    let mut data = TrainingData::new();
    for q in TRAIN {
        let input = ClassifyInput { question: q.into() };
        let output = ClassifyOutput { label: target };
        let example =
            dspy::lm::with_lm_sync(base.clone(), || classify.training_example(&input, &output))
                .unwrap();
        assert!(!example.is_chat(), "the local model is prompted with text");
        data.push("classify", example);
    }
    let dir = std::env::temp_dir().join(format!("dspy-finetune-local-{}", std::process::id()));
    let finetuner = LocalFinetuner::new().serve_with(LocalLm::builder().context_size(1024));
    let run = || {
        Finetune::new(&data)
            .hyperparameters(Hyperparameters::new().batch_size(4).epochs(4))
            .budget(TrainBudget::steps(8))
            .cache_dir(&dir)
    };
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reports.clone();
    let done = run()
        .on_progress(move |p| seen.lock().unwrap().push(p.clone()))
        .run(&finetuner)
        .await
        .unwrap();
    assert!(!done.cached);
    let losses: Vec<f64> = reports
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.status == "training")
        .filter_map(|p| p.loss)
        .collect();
    assert_eq!(losses.len(), 8, "a report a step");
    assert!(losses[7] < losses[0] / 2.0, "the loss falls: {losses:?}");
    let adapter = &done.model.files[0];
    let size = std::fs::metadata(&adapter.path).unwrap().len();
    assert!(
        (4_000_000..12_000_000).contains(&size),
        "an F32 rank-8 adapter of ~7.6 MB: {size}"
    );
    assert!(
        done.lm.model().starts_with("gemma-3-270m+lora-"),
        "{}",
        done.lm.model()
    );

    let after = answers(&classify, &done.lm).await;
    let hits = |a: &[Coarse]| a.iter().filter(|l| **l == target).count();
    assert!(
        hits(&after) > hits(&before) && hits(&after) >= 4,
        "trained towards {target:?}: before {before:?}, after {after:?}"
    );

    // The same run again: the cached adapter, nothing trained.
    let again = run().run(&finetuner).await.unwrap();
    assert!(again.cached);
    assert_eq!(again.model, done.model);
    std::fs::remove_dir_all(&dir).unwrap();
}
