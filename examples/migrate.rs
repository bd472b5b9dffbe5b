//! Model migration, offline: the TREC classifier compiled for the embedded Gemma 3 270M base
//! model (the main job's best program: 48 labeled demos and 20 BM25 neighbours per question),
//! moved to the embedded SmolLM2 135M Instruct chat model. Three evaluations on the same
//! held-out dev questions: Gemma with its program, SmolLM running Gemma's program unchanged
//! (the naive swap), and SmolLM with the program re-compiled for it; each compared with the
//! first, question by question.
//!
//! ```sh
//! cargo run --release --features local --example migrate
//! cargo run --release --features local --example migrate -- --dev 100 --optimizer labeled
//! ```
//!
//! Options (all optional):
//!
//! - `--optimizer NAME`, what re-compiles the program for SmolLM:
//!   - `knn` (the default): the `--new-neighbors` most similar questions per call, the nearest
//!     last, and nothing else (KNNFewShot, BM25). On 40 dev questions SmolLM scored 80% with 8
//!     neighbours, 60% with 20, 17.5% with 12 labeled demos before 8 neighbours;
//!   - `bootstrap`: BootstrapFewShot, SmolLM's own correct runs as demos, then balanced
//!     labeled ones (47.5% on the same 40);
//!   - `random-search`: BootstrapFewShotWithRandomSearch, 3 candidates scored on 50
//!     validation questions;
//!   - `labeled`: balanced labeled demos (LabeledFewShot; 2.5%: it answers `abbreviation`);
//! - `--dev N` (default 200): held-out questions every run is scored on;
//! - `--train N` (default 300): questions `bootstrap` and `random-search` learn from;
//! - `--per-class N` (default 8), `--neighbors N` (default 20): Gemma's program;
//! - `--new-neighbors N` (default 8): SmolLM's neighbours (`knn`); `--new-per-class N`
//!   (default 2): its labeled demos per class (the others);
//! - `--seed N` (default 0), `--out DIR` (default `compiled`).
//!
//! It writes `DIR/gemma-3-270m/` and `DIR/smollm2-135m-instruct/` (each `program.json`,
//! `report.json`, `report.html`, `prompts.md`; SmolLM's also `compile.json`, `compile.html` and
//! `old-program/` for the naive swap), the two comparisons (`naive-swap.*`, `recompiled.*`)
//! and `summary.txt`.

#[path = "support/trec.rs"]
mod trec_task;

use dspy::prelude::*;
use dspy_optimize::migrate;
use std::path::PathBuf;
use std::time::Instant;
use trec_task::{
    CLASSES, ClassifyQuestion, ClassifyQuestionInput, ClassifyQuestionOutput, held_out_split,
    knn_program, metric,
};

const USAGE: &str = "usage: migrate [--optimizer knn|bootstrap|random-search|labeled] [--dev N] \
[--train N] [--per-class N] [--neighbors N] [--new-per-class N] [--new-neighbors N] [--seed N] \
[--out DIR]";

#[derive(Debug)]
struct Args {
    optimizer: String,
    dev: usize,
    train: usize,
    per_class: usize,
    neighbors: usize,
    new_per_class: usize,
    new_neighbors: usize,
    seed: u64,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        optimizer: "knn".into(),
        dev: 200,
        train: 300,
        per_class: 8,
        neighbors: 20,
        new_per_class: 2,
        new_neighbors: 8,
        seed: 0,
        out: "compiled".into(),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = given
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} must be a whole number, got `{value}`"))
        };
        match flag.as_str() {
            "--optimizer" => args.optimizer = value.clone(),
            "--dev" => args.dev = number()?,
            "--train" => args.train = number()?,
            "--per-class" => args.per_class = number()?,
            "--neighbors" => args.neighbors = number()?.max(1),
            "--new-per-class" => args.new_per_class = number()?,
            "--new-neighbors" => args.new_neighbors = number()?.max(1),
            "--seed" => args.seed = number()? as u64,
            "--out" => args.out = value.clone().into(),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    const KNOWN: [&str; 4] = ["knn", "bootstrap", "random-search", "labeled"];
    if !KNOWN.contains(&args.optimizer.as_str()) {
        return Err(format!(
            "unknown optimizer `{}`: pick one of {}",
            args.optimizer,
            KNOWN.join(", ")
        ));
    }
    Ok(args)
}

/// The old model and the new one: both embedded, both fetched on first use.
#[cfg(feature = "local")]
fn models() -> dspy::Result<(LM, LM)> {
    Ok((LM::local()?, LM::local_instruct()?))
}

#[cfg(not(feature = "local"))]
fn models() -> dspy::Result<(LM, LM)> {
    Err(dspy::Error::config(
        "this example runs two models in process: build it with `--features local`",
    ))
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            eprintln!("{USAGE}");
            std::process::exit(if message.is_empty() { 0 } else { 2 });
        }
    };
    let (old, new) = match models() {
        Ok(models) => models,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    println!("old model: {}, new model: {}", old.model(), new.model());
    let (dev, pool) = held_out_split(args.dev, args.seed)?;
    let train: Vec<ClassifyQuestion> = pool.iter().take(args.train).cloned().collect();
    println!(
        "TREC: {} dev questions held out, {} to learn from ({} for bootstrapping)\n",
        dev.len(),
        pool.len(),
        train.len()
    );
    let classify = Predict::<ClassifyQuestion>::new();
    // Gemma's program is compiled without an LM call (labeled demos, then a BM25 index).
    let gemma = knn_program(&classify, &pool, args.per_class, args.neighbors, args.seed).await?;
    let labeled = args.new_per_class * CLASSES;
    let job = Job {
        classify: &classify,
        old,
        old_program: gemma,
        new,
        dev: &dev,
        args: &args,
    };
    match args.optimizer.as_str() {
        "labeled" => {
            let optimizer = LabeledFewShot::new(labeled)
                .per_class("label")
                .seed(args.seed);
            job.run(optimizer, &pool, None).await
        }
        "knn" => {
            let optimizer = KNNFewShot::new(args.new_neighbors, Bm25::new()).nearest_last(true);
            job.run(optimizer, &pool, None).await
        }
        "random-search" => {
            // A validation split of its own, so the dev split stays unseen.
            let (valset, trainset) = train.split_at(train.len().min(50));
            let optimizer = BootstrapFewShotWithRandomSearch::new(metric)
                .max_bootstrapped_demos(CLASSES)
                .max_labeled_demos(labeled)
                .labeled_per_class("label")
                .num_candidate_programs(3)
                .seed(args.seed);
            job.run(optimizer, trainset, Some(valset)).await
        }
        "bootstrap" => {
            let optimizer = BootstrapFewShot::new(metric)
                .max_bootstrapped_demos(CLASSES)
                .max_labeled_demos(labeled)
                .labeled_per_class("label")
                .seed(args.seed);
            job.run(optimizer, &train, None).await
        }
        other => unreachable!("parse_args checked the optimizer, got `{other}`"),
    }
}

/// What every optimizer's migration shares.
struct Job<'a, Q> {
    classify: &'a Predict<ClassifyQuestion>,
    old: LM,
    old_program: Q,
    new: LM,
    dev: &'a [ClassifyQuestion],
    args: &'a Args,
}

impl<Q> Job<'_, Q>
where
    Q: Module<Input = ClassifyQuestionInput, Output = ClassifyQuestionOutput> + Parameters,
{
    /// Migrates with `optimizer` learning from `trainset` (scoring on `valset`, if given),
    /// prints the table and the two comparisons, and writes the folders.
    async fn run<O>(
        self,
        optimizer: O,
        trainset: &[ClassifyQuestion],
        valset: Option<&[ClassifyQuestion]>,
    ) -> dspy::Result<()>
    where
        O: Optimizer<Predict<ClassifyQuestion>, ClassifyQuestion>,
        O::Program:
            Module<Input = ClassifyQuestionInput, Output = ClassifyQuestionOutput> + Parameters,
    {
        let started = Instant::now();
        let migration = migrate(self.classify, metric)
            .concurrency(8)
            .from(self.old, self.old_program)
            .to(self.new, optimizer);
        let migration = match valset {
            Some(valset) => {
                migration
                    .run_with_valset(trainset, valset, self.dev)
                    .await?
            }
            None => migration.run(trainset, self.dev).await?,
        };
        println!("\n{migration}");
        for comparison in [&migration.swap_vs_old, &migration.recompiled_vs_old] {
            println!("{}", comparison.table(3));
        }
        let calls: u64 = migration
            .runs()
            .iter()
            .map(|(run, _)| run.report.usage.calls + run.report.usage.failed_calls)
            .sum::<u64>()
            + migration.compiled.report.lm_calls();
        migration.write(&self.args.out)?;
        println!(
            "{calls} LM calls in all, {:.0} s wall time; wrote {}/ ({}/, {}/, the comparisons, summary.txt)",
            started.elapsed().as_secs_f64(),
            self.args.out.display(),
            migration.old.model,
            migration.recompiled.model
        );
        Ok(())
    }
}
