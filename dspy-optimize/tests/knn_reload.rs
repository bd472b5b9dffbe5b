//! A compiled KNN program is a self-contained artifact: saved, then loaded in another process
//! (this test binary run again as a child, told what to do by an environment variable) without
//! its training set or a compile, it renders byte for byte the prompts the compiled program
//! renders, on TREC questions, with BM25 and with embeddings. A file whose pool was edited, a
//! similarity other than the one compiled with, and a file without a pool are refused with
//! errors that say what to do.

use dspy_core::lm::BoxFuture;
use dspy_core::lm::Embedder;
use dspy_core::{ModuleExt, Parameters, Predict};
use dspy_macros::Signature;
use dspy_optimize::{Bm25, Embeddings, KNNFewShot, KnnProgram, LabeledFewShot, Similarity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the child: `<similarity> <directory>`.
const CHILD: &str = "DSPY_KNN_RELOAD_CHILD";

/// The TREC coarse classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
#[dspy(crate = "dspy_core")]
struct Classify {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: Kind,
}

/// TREC training questions `range`.
fn trec(range: std::ops::Range<usize>) -> Vec<Classify> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/data/trec/train.jsonl"
    );
    let all: Vec<Classify> = dspy_core::data::load_jsonl(path).unwrap();
    all[range].to_vec()
}

/// An embedder without a model: counts of hashed character trigrams, 64 dimensions.
#[derive(Debug, Clone, Copy)]
struct Trigrams(u64);

impl Embedder for Trigrams {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, dspy_core::Result<Vec<Vec<f32>>>> {
        let vectors = texts
            .iter()
            .map(|text| {
                let mut v = vec![0.0f32; 64];
                let chars: Vec<char> = text.to_lowercase().chars().collect();
                for gram in chars.windows(3) {
                    let h = gram.iter().fold(self.0, |h, c| {
                        (h ^ u64::from(*c)).wrapping_mul(0x0000_0100_0000_01b3)
                    });
                    v[(h % 64) as usize] += 1.0;
                }
                v
            })
            .collect();
        Box::pin(async move { Ok(vectors) })
    }
}

const SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// The program the KNN program runs: balanced labeled demos first, as `examples/trec.rs` does.
async fn base(pool: &[Classify]) -> Predict<Classify> {
    LabeledFewShot::new(6)
        .per_class("label")
        .compile(&Predict::<Classify>::new(), pool)
        .await
        .unwrap()
        .into_program()
}

/// What the KNN program shows for each dev question: its prompt's text and its demos'
/// provenance.
async fn prompts(program: &KnnProgram<Predict<Classify>>) -> Value {
    let mut all = Vec::new();
    for example in trec(600..630) {
        let input = ClassifyInput {
            question: example.question,
        };
        let run = program.program_for(&input).await.unwrap();
        let text = run.render(&input).unwrap().prompt.to_text();
        let provenance: Vec<Value> = run
            .demos
            .iter()
            .map(|d| serde_json::to_value(d.provenance()).unwrap())
            .collect();
        all.push(json!({"prompt": text, "provenance": provenance}));
    }
    Value::Array(all)
}

/// Runs this test binary again as a child that loads `dir/program.json` with `similarity` and
/// writes its prompts to `dir/child.json`.
fn in_a_child(test: &str, similarity: &str, dir: &Path) -> Value {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(CHILD, format!("{similarity} {}", dir.display()))
        .status()
        .unwrap();
    assert!(status.success(), "the child failed: {status}");
    let text = std::fs::read_to_string(dir.join("child.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The child's side: load without compiling, render, write.
async fn child(setting: &str) {
    let (similarity, dir) = setting.split_once(' ').unwrap();
    let dir = PathBuf::from(dir);
    let path = dir.join("program.json");
    let fresh = Predict::<Classify>::new();
    let loaded = match similarity {
        "bm25" => KnnProgram::load(&path, fresh, &Bm25::new()).await,
        _ => KnnProgram::load(&path, fresh, &Embeddings::new(Trigrams(SEED))).await,
    }
    .unwrap();
    let shown = prompts(&loaded).await;
    std::fs::write(dir.join("child.json"), shown.to_string()).unwrap();
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dspy-knn-reload-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles over the first 600 TREC questions with `similarity`, saves, reloads in a child,
/// and compares.
async fn reloads_identically<S: Similarity>(test: &str, name: &str, similarity: S) {
    let pool = trec(0..600);
    let knn = KNNFewShot::new(8, similarity)
        .keep_demos(true)
        .nearest_last(true);
    let compiled = knn.compile(&base(&pool).await, &pool).await.unwrap();
    let dir = temp_dir(name);
    compiled.save(dir.join("program.json")).unwrap();

    let here = prompts(&compiled).await;
    let there = in_a_child(test, name, &dir);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(here.as_array().unwrap().len(), 30);
    for (i, (a, b)) in here
        .as_array()
        .unwrap()
        .iter()
        .zip(there.as_array().unwrap())
        .enumerate()
    {
        assert_eq!(
            a["prompt"], b["prompt"],
            "dev question {i}: the prompts differ"
        );
        assert_eq!(a["provenance"], b["provenance"], "dev question {i}");
    }
    assert_eq!(here, there);
    let asked = &trec(600..601)[0].question;
    let prompt = here[0]["prompt"].as_str().unwrap();
    assert!(prompt.contains(asked.as_str()), "{prompt}");
    // Each question has its own neighbours.
    assert_ne!(here[0]["provenance"], here[1]["provenance"]);
    // The neighbours are in the prompts: 6 labeled demos, then 8 neighbours, each labeled from
    // its example.
    let first = &here[0]["provenance"];
    assert_eq!(first.as_array().unwrap().len(), 14);
    assert!(
        first
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["source"] == "labeled")
    );
}

#[tokio::test]
async fn a_bm25_program_reloaded_in_another_process_renders_the_same_prompts() {
    if let Ok(setting) = std::env::var(CHILD) {
        return child(&setting).await;
    }
    let test = "a_bm25_program_reloaded_in_another_process_renders_the_same_prompts";
    reloads_identically(test, "bm25", Bm25::new()).await;
}

#[tokio::test]
async fn an_embeddings_program_reloaded_in_another_process_renders_the_same_prompts() {
    if let Ok(setting) = std::env::var(CHILD) {
        return child(&setting).await;
    }
    let test = "an_embeddings_program_reloaded_in_another_process_renders_the_same_prompts";
    reloads_identically(test, "embeddings", Embeddings::new(Trigrams(SEED))).await;
}

/// A small compiled BM25 program, saved: its directory and file.
async fn saved_bm25(name: &str) -> (PathBuf, KnnProgram<Predict<Classify>>) {
    let pool = trec(0..40);
    let compiled = KNNFewShot::new(3, Bm25::new())
        .compile(&Predict::<Classify>::new(), &pool)
        .await
        .unwrap();
    let path = temp_dir(name).join("program.json");
    compiled.save(&path).unwrap();
    (path, compiled.into_program())
}

#[tokio::test]
async fn an_edited_pool_a_wrong_similarity_and_a_missing_pool_are_refused() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let (path, compiled) = saved_bm25("refused").await;
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let fresh = Predict::<Classify>::new;

    // Another BM25 than the one compiled with.
    let err = KnnProgram::load(&path, fresh(), &Bm25::new().k1(0.9))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("compiled with similarity BM25"), "{err}");
    assert!(err.contains("program.json"), "names the file: {err}");

    // A pool edited by hand: its hash no longer matches.
    let mut edited = file.clone();
    edited["modules"]["self"]["state"]["pool"]["entries"][0]["fields"]["label"] = json!("human");
    std::fs::write(&path, edited.to_string()).unwrap();
    let err = KnnProgram::load(&path, fresh(), &Bm25::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match its hash"), "{err}");
    assert!(err.contains("compile the program again"), "{err}");

    // `k` is part of the pool too.
    let mut edited = file.clone();
    edited["modules"]["self"]["state"]["pool"]["k"] = json!(5);
    std::fs::write(&path, edited.to_string()).unwrap();
    assert!(
        KnnProgram::load(&path, fresh(), &Bm25::new())
            .await
            .is_err()
    );

    // The file as saved loads into the compiled program itself (same pool), not into a bare
    // predictor, which would lose the pool.
    std::fs::write(&path, file.to_string()).unwrap();
    let mut same = compiled.clone();
    same.load(&path).unwrap();
    let err = fresh().load(&path).unwrap_err().to_string();
    assert!(err.contains("`KnnProgram` at `self`"), "{err}");
    assert!(err.contains("KnnProgram::load"), "{err}");
    // Into another KNN program (another pool), it is refused with how to load it.
    let other = KNNFewShot::new(3, Bm25::new())
        .compile(&Predict::<Classify>::new(), &trec(40..80))
        .await
        .unwrap();
    let mut other = other.into_program();
    let err = other.load(&path).unwrap_err().to_string();
    assert!(err.contains("is not this KNN program's"), "{err}");

    // A file of a plain predictor has no pool.
    fresh().save(&path).unwrap();
    let err = KnnProgram::load(&path, fresh(), &Bm25::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds no KNN neighbour pool"), "{err}");
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[tokio::test]
async fn an_embeddings_program_loads_only_with_its_embedder() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let pool = trec(0..40);
    let compiled = KNNFewShot::new(3, Embeddings::new(Trigrams(SEED)))
        .compile(&Predict::<Classify>::new(), &pool)
        .await
        .unwrap();
    let path = temp_dir("embedder").join("program.json");
    compiled.save(&path).unwrap();
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(file.contains("\"vectors\""), "the vectors are saved");

    let other = Embeddings::new(Trigrams(7));
    let err = KnnProgram::load(&path, Predict::<Classify>::new(), &other)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not give the saved vectors"), "{err}");
    let same = Embeddings::new(Trigrams(SEED));
    let loaded = KnnProgram::load(&path, Predict::<Classify>::new(), &same)
        .await
        .unwrap();
    let input = ClassifyInput {
        question: "Who was Galileo ?".into(),
    };
    assert_eq!(
        loaded.neighbors(&input).await.unwrap(),
        compiled.neighbors(&input).await.unwrap()
    );
    assert_eq!((loaded.k(), loaded.pool_len()), (3, 40));
    assert_eq!(
        loaded.predictor("self").unwrap().demo_count(),
        compiled.predictor("self").unwrap().demo_count()
    );
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

/// A KNN program saved as a stage of a bigger program loads on its own from the stage's part of
/// the state ([`ProgramState::scoped`](dspy_core::module::ProgramState::scoped)), with the
/// prompts of the stage that was saved; the other stage's part is not its pool.
#[tokio::test]
async fn a_knn_stage_of_a_pipeline_loads_from_its_part_of_the_state() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let first = KNNFewShot::new(3, Bm25::new())
        .compile(&Predict::<Classify>::new(), &trec(0..40))
        .await
        .unwrap()
        .into_program();
    let second = KNNFewShot::new(4, Bm25::new())
        .compile(&base(&trec(40..300)).await, &trec(40..300))
        .await
        .unwrap()
        .into_program();
    let expected = prompts(&second).await;
    let pipeline = first
        .map(|out: ClassifyOutput| ClassifyInput {
            question: format!("{:?}", out.label),
        })
        .then(second);
    let path = temp_dir("pipeline").join("program.json");
    pipeline.save(&path).unwrap();

    let state = dspy_core::module::ProgramState::read(&path).unwrap();
    let stage = state.scoped("1").unwrap();
    let loaded = KnnProgram::from_state(stage, Predict::<Classify>::new(), &Bm25::new())
        .await
        .unwrap();
    assert_eq!((loaded.k(), loaded.pool_len()), (4, 260));
    assert_eq!(prompts(&loaded).await, expected);

    let other = KnnProgram::from_state(
        state.scoped("0").unwrap(),
        Predict::<Classify>::new(),
        &Bm25::new(),
    )
    .await
    .unwrap();
    assert_eq!((other.k(), other.pool_len()), (3, 40));
    assert!(state.scoped("2").is_err());
}
