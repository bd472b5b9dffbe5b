//! Retrieval-augmented answering over a real corpus, compiled end to end: `Retrieve` finds the
//! Debian packages whose descriptions match a question, `ChainOfThought` reads them and names
//! the package; BootstrapFewShot compiles the answering step against the end-to-end metric.
//!
//! ```sh
//! cargo run --release --features local --example rag          # the embedded model, offline
//! cargo run --release --features local --example rag -- --retriever embeddings
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example rag -- \
//!     --retriever embeddings --embedding-model text-embedding-3-small
//! ```
//!
//! The corpus is examples/data/debian: 3,000 package descriptions (the first paragraph of each
//! long description) and 600 questions made from the packages' one-line summaries, which the
//! passages do not contain (see make_debian_qa.py there). It prints the retriever's recall@k,
//! what each stage retrieved and answered for a few questions, and the score before and after
//! compiling. The retriever is BM25 (`--retriever bm25`, the default) or the cosine of
//! embeddings (`--retriever embeddings`) from the program's LM (the embedded model embeds too)
//! or from `--embedding-model`; embeddings are cached, so the corpus is embedded once.

use clap::Parser;
use dspy::data;
use dspy::evaluate::Evaluate;
use dspy::module::{Retrieve, RetrieveInput, trace};
use dspy::prelude::*;
use dspy::retrieve::{Bm25Index, Passage, Retriever, VectorIndex};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Name the Debian package the question asks for, reading the package descriptions given.
#[derive(Signature, Clone, Debug)]
struct AnswerFromPassages {
    #[input(desc = "descriptions of Debian packages, each starting with the package's name")]
    context: Vec<String>,
    #[input(desc = "a question about a Debian package")]
    question: String,
    #[output(desc = "the name of the package, exactly as written before its description")]
    answer: String,
}

/// A question with its answer: a training example of the whole program.
#[derive(Signature, Clone, Debug)]
struct PackageQuestion {
    #[input]
    question: String,
    #[output]
    answer: String,
}

/// Retrieve, then answer from what was retrieved.
#[derive(Module)]
struct Rag<R> {
    retrieve: Retrieve<R>,
    answer: ChainOfThought<AnswerFromPassages>,
}

// By hand: the derive would ask `R: Clone`, and a retriever is shared, not cloned.
impl<R> Clone for Rag<R> {
    fn clone(&self) -> Self {
        Rag {
            retrieve: self.retrieve.clone(),
            answer: self.answer.clone(),
        }
    }
}

impl<R: Retriever> Module for Rag<R> {
    type Input = PackageQuestionInput;
    type Output = PackageQuestionOutput;

    async fn call(&self, input: PackageQuestionInput) -> dspy::Result<PackageQuestionOutput> {
        let found = self
            .retrieve
            .call(RetrieveInput::from(input.question.as_str()))
            .await?;
        let answered = self
            .answer
            .call(AnswerFromPassagesInput {
                context: found.context,
                question: input.question,
            })
            .await?;
        Ok(PackageQuestionOutput {
            answer: answered.output.answer,
        })
    }
}

#[derive(Parser, Debug)]
#[command(about = "RAG over Debian's package descriptions, compiled with BootstrapFewShot")]
struct Args {
    /// Passages retrieved per question. One by default: the embedded 270M model names the
    /// package of one passage far more often than it picks among three (23% against 9% zero-shot,
    /// 39% against 3% compiled, on the default dev split); a larger model can take more.
    #[arg(long, default_value_t = 1)]
    k: usize,
    /// Questions bootstrapping may run on.
    #[arg(long, default_value_t = 100)]
    train: usize,
    /// Held-out questions scored before and after compiling.
    #[arg(long, default_value_t = 100)]
    dev: usize,
    /// Demos bootstrapped from successful runs.
    #[arg(long, default_value_t = 4)]
    demos: usize,
    /// Seed of the split and the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the compiled program goes.
    #[arg(long, default_value = "rag_compiled.json")]
    out: PathBuf,
    /// How passages are found: `bm25` (by words) or `embeddings` (by meaning).
    #[arg(long, default_value = "bm25", value_parser = ["bm25", "embeddings"])]
    retriever: String,
    /// The OpenAI-compatible model that embeds, for `--retriever embeddings` (default: the
    /// program's LM, which must embed, as the embedded model does).
    #[arg(long)]
    embedding_model: Option<String>,
    /// Prints the retriever's recall and stops (no LM calls beyond embeddings).
    #[arg(long)]
    recall_only: bool,
}

/// Whether the answer names the package: case, surrounding quotes and punctuation aside.
fn names_the_package(ex: &PackageQuestion, out: &PackageQuestionOutput) -> bool {
    let clean = |s: &str| {
        s.trim()
            .trim_matches(|c: char| c == '"' || c == '\'' || c == '`' || c == '.' || c == ':')
            .to_lowercase()
    };
    clean(&out.answer) == clean(&ex.answer)
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/debian")
}

/// The share of questions whose package is among the `k` passages retrieved.
async fn recall<R: Retriever>(
    retriever: &R,
    questions: &[PackageQuestion],
    k: usize,
) -> dspy::Result<f64> {
    let mut found = 0;
    for q in questions {
        let hits = retriever.search(&q.question, k).await?;
        found += usize::from(hits.iter().any(|p| p.id == q.answer));
    }
    Ok(found as f64 / questions.len().max(1) as f64)
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    let args = Args::parse();
    let lm = LM::from_env()?;
    println!("LM: {}", lm.model());
    dspy::configure(lm.clone());

    let passages: Vec<Passage> = data::load_jsonl(data_dir().join("passages.jsonl"))?;
    let mut questions: Vec<PackageQuestion> = data::load_jsonl(data_dir().join("questions.jsonl"))?;
    questions = data::shuffled(questions, args.seed);
    let dev: Vec<PackageQuestion> = questions.drain(..args.dev.min(questions.len())).collect();
    let train: Vec<PackageQuestion> = questions.into_iter().take(args.train).collect();
    println!(
        "corpus: {} passages; {} train and {} dev questions",
        passages.len(),
        train.len(),
        dev.len()
    );
    if args.retriever == "bm25" {
        let index = Bm25Index::from_passages(passages);
        return run(&args, index, &train, &dev).await;
    }
    let embedder = match &args.embedding_model {
        Some(model) => LM::openai(model)?,
        None => lm,
    };
    let started = std::time::Instant::now();
    let index = VectorIndex::build(embedder.clone(), passages).await?;
    let usage = embedder.usage();
    println!(
        "embedded the corpus with {} in {:.1} s ({} calls, {} from the cache)",
        embedder.model(),
        started.elapsed().as_secs_f64(),
        usage.calls,
        usage.cache_hits
    );
    run(&args, index, &train, &dev).await
}

/// Recall, then the program before and after compiling, on `retriever`.
async fn run<R: Retriever + 'static>(
    args: &Args,
    retriever: R,
    train: &[PackageQuestion],
    dev: &[PackageQuestion],
) -> dspy::Result<()> {
    let retriever = Arc::new(retriever);
    let mut ks = vec![1, 3, 10, args.k];
    ks.sort_unstable();
    ks.dedup();
    for k in ks {
        println!(
            "{} recall@{k} on dev: {:.1}%",
            args.retriever,
            100.0 * recall(&*retriever, dev, k).await?
        );
    }
    if args.recall_only {
        return Ok(());
    }
    let program = Rag {
        retrieve: Retrieve::shared(retriever).k(args.k).named("packages"),
        answer: ChainOfThought::new(),
    };
    show(&program, &dev[..3.min(dev.len())]).await;
    let evaluate = Evaluate::new(names_the_package).concurrency(4);
    let before = evaluate.run(&program, dev).await?;
    println!("before compiling: {:.1}% on dev\n", before.percent());

    let compiled = BootstrapFewShot::new(names_the_package)
        .max_bootstrapped_demos(args.demos)
        .max_labeled_demos(args.demos)
        .seed(args.seed)
        .compile(&program, train)
        .await?;
    println!("{}", compiled.report);
    show(&compiled.program, &dev[..3.min(dev.len())]).await;
    let after = evaluate.run(&compiled, dev).await?;
    println!(
        "end to end on {} dev questions: {:.1}% before compiling, {:.1}% after",
        dev.len(),
        before.percent(),
        after.percent()
    );
    compiled.save(&args.out)?;
    println!("saved the compiled program to {}", args.out.display());
    Ok(())
}

/// What each stage did for a few questions: the passages retrieved, the reasoning, the answer.
async fn show<R: Retriever>(program: &Rag<R>, questions: &[PackageQuestion]) {
    for q in questions {
        let (out, recorded) = trace(program.call(q.input())).await;
        println!("Q: {}  (want {})", q.question, q.answer);
        for search in &recorded.retrievals {
            let ids: Vec<&str> = search.passages.iter().map(|p| p.id.as_str()).collect();
            println!("  retrieved: {}", ids.join(", "));
        }
        for entry in &recorded.entries {
            if let Some(reasoning) = entry.output.get("reasoning") {
                println!(
                    "  reasoning: {}",
                    dspy::util::snippet(&reasoning.to_string(), 100)
                );
            }
        }
        match out {
            Ok(out) => println!("  answer: {}\n", out.answer),
            Err(e) => println!("  failed: {}\n", dspy::util::snippet(&e.to_string(), 100)),
        }
    }
}
