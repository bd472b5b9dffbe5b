//! The TREC task the `trec` and `migrate` examples share: the signature, the metric, the data
//! split and the main job's best program for a small base model (labeled demos, then BM25
//! neighbours).
#![allow(dead_code)] // each example uses a part

use dspy::data;
use dspy::prelude::*;
use std::path::{Path, PathBuf};

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum QuestionKind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
pub(crate) struct ClassifyQuestion {
    #[input(desc = "a question in English")]
    pub(crate) question: String,
    #[output(desc = "the kind of answer the question expects")]
    pub(crate) label: QuestionKind,
}

/// How many classes there are.
pub(crate) const CLASSES: usize = 6;

/// Right when the label is.
pub(crate) fn metric(ex: &ClassifyQuestion, out: &ClassifyQuestionOutput) -> bool {
    ex.label == out.label
}

/// The 5,452 labelled questions.
pub(crate) fn examples_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/trec/train.jsonl")
}

/// The questions shuffled by `seed`: the first `dev` held out, then the rest to learn from.
pub(crate) fn held_out_split(
    dev: usize,
    seed: u64,
) -> dspy::Result<(Vec<ClassifyQuestion>, Vec<ClassifyQuestion>)> {
    let all: Vec<ClassifyQuestion> = data::load_jsonl(examples_path())?;
    let mut pool = data::shuffled(all, seed);
    let dev: Vec<ClassifyQuestion> = pool.drain(..dev.min(pool.len())).collect();
    Ok((dev, pool))
}

/// The KNN program: balanced labeled demos first (the same on every call, so the embedded
/// model computes them once), then the `neighbors` questions most like this one by BM25, the
/// nearest last.
pub(crate) async fn knn_program(
    classify: &Predict<ClassifyQuestion>,
    pool: &[ClassifyQuestion],
    per_class: usize,
    neighbors: usize,
    seed: u64,
) -> dspy::Result<KnnProgram<Predict<ClassifyQuestion>>> {
    let base = LabeledFewShot::new(per_class * CLASSES)
        .per_class("label")
        .seed(seed)
        .compile(classify, pool)
        .await?
        .into_program();
    let knn = KNNFewShot::new(neighbors, Bm25::new())
        .keep_demos(true)
        .nearest_last(true)
        .compile(&base, pool)
        .await?;
    Ok(knn.into_program())
}
