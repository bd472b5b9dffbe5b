//! TREC question classification, compiled: evaluate the zero-shot classifier on a held-out dev
//! split, compile it with an optimizer, evaluate again, and save the compiled program.
//!
//! ```sh
//! cargo run --release --example trec                       # the LM the environment names
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example trec
//! cargo run --release --example trec -- --optimizer knn --test trec_test.jsonl
//! ```
//!
//! Options (all optional):
//!
//! - `--optimizer NAME`:
//!   - `labeled`: balanced labeled demos (LabeledFewShot);
//!   - `bootstrap`: BootstrapFewShot, traces the model gets right plus balanced labeled demos;
//!   - `random-search`: BootstrapFewShotWithRandomSearch, scored on a validation split;
//!   - `knn` (the default): balanced labeled demos, then per question the most similar
//!     training questions by BM25 (KNNFewShot);
//!   - `ensemble`: the majority of three `knn` programs with 16, 20 and 24 neighbours;
//!   - `mipro`: MIPROv2 (`auto = light`), instructions proposed by the LM and demo sets,
//!     searched with TPE on a validation split;
//!   - `copro`: COPRO, instructions only;
//!   - `gepa`: GEPA (`auto = light`), instructions evolved by the LM reflecting on runs and
//!     feedback;
//!   - `simba`: SIMBA, demos and LM-written rules added step by step on minibatches;
//!
//!   these four resume from `<out>.checkpoint.json` when run again after a stop;
//! - `--over-knn`: run `mipro`, `copro`, `gepa` or `simba` on the `knn` program (its
//!   instructions and base demos are searched; the neighbours still come per question, from
//!   the questions the optimizer does not score);
//! - `--prompt-model instruct|FILE.gguf` (with the `local` feature): an instruction-tuned
//!   model run in process in chat mode (`instruct`: the small one dspy fetches, SmolLM2 135M
//!   Instruct) proposes the instructions for `mipro`, `copro`, `gepa` and `simba`; otherwise
//!   the task LM proposes them too;
//! - `--test FILE`: also report accuracy on another labelled file (same JSONL format), as
//!   `test accuracy: 0.812 (406/500)`;
//! - `--dev N` (default 250), `--train N` (examples bootstrapping runs on, default 300),
//!   `--per-class N` (labeled demos per class, default 8), `--neighbors N` (similar questions
//!   per call for `knn`, default 20), `--seed N` (default 0), `--out FILE` (default
//!   `trec_compiled.json`; the compile report goes beside it, as `.report.json` and a
//!   `.report.html` page);
//! - `--no-zero-shot`: skip evaluating the uncompiled program (quicker when tuning);
//! - `--dry-run`: print what the compile would cost (LM calls at most and expected, tokens,
//!   cost by the LM's prices) and exit without calling the LM (no LM configured is fine).
//!
//! The defaults suit a small local base model (about 50 demos per prompt, a dev split of 250):
//! compiling takes a few minutes at a few hundred prompt tokens per second. Predict picks a
//! completion-style prompt by itself for base (non-chat) models.

#[path = "support/trec.rs"]
mod trec_task;

use dspy::data;
use dspy::evaluate::{Evaluate, EvaluationReport};
use dspy::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trec_task::{
    CLASSES, ClassifyQuestion, ClassifyQuestionInput, ClassifyQuestionOutput, held_out_split,
    knn_program, metric,
};

const USAGE: &str = "usage: trec [--optimizer labeled|bootstrap|random-search|knn|ensemble|mipro|copro|gepa|simba] \
[--test FILE] [--dev N] [--train N] [--per-class N] [--neighbors N] [--seed N] [--out FILE] \
[--no-zero-shot] [--over-knn] [--prompt-model instruct|FILE.gguf] [--dry-run]";

#[derive(Debug)]
struct Args {
    optimizer: String,
    test: Option<PathBuf>,
    dev: usize,
    train: usize,
    per_class: usize,
    neighbors: usize,
    seed: u64,
    out: PathBuf,
    zero_shot: bool,
    over_knn: bool,
    prompt_model: Option<PathBuf>,
    dry_run: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        optimizer: "knn".into(),
        test: None,
        dev: 250,
        train: 300,
        per_class: 8,
        neighbors: 20,
        seed: 0,
        out: "trec_compiled.json".into(),
        zero_shot: true,
        over_knn: false,
        prompt_model: None,
        dry_run: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--no-zero-shot" {
            args.zero_shot = false;
            continue;
        }
        if flag == "--over-knn" {
            args.over_knn = true;
            continue;
        }
        if flag == "--dry-run" {
            args.dry_run = true;
            continue;
        }
        let value = given
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| {
            value
                .parse::<usize>()
                .map_err(|_| format!("{what} must be a whole number, got `{value}`"))
        };
        match flag.as_str() {
            "--optimizer" => args.optimizer = value.clone(),
            "--test" => args.test = Some(value.clone().into()),
            "--dev" => args.dev = number("--dev")?,
            "--train" => args.train = number("--train")?,
            "--per-class" => args.per_class = number("--per-class")?,
            "--neighbors" => args.neighbors = number("--neighbors")?.max(1),
            "--seed" => args.seed = number("--seed")? as u64,
            "--out" => args.out = value.clone().into(),
            "--prompt-model" => args.prompt_model = Some(value.clone().into()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    const KNOWN: [&str; 9] = [
        "labeled",
        "bootstrap",
        "random-search",
        "knn",
        "ensemble",
        "mipro",
        "copro",
        "gepa",
        "simba",
    ];
    if !KNOWN.contains(&args.optimizer.as_str()) {
        return Err(format!(
            "unknown optimizer `{}`: pick one of {}",
            args.optimizer,
            KNOWN.join(", ")
        ));
    }
    Ok(args)
}

/// One row of the before/after table.
struct Row {
    name: String,
    correct: Option<(usize, usize)>,
    failed: usize,
    lm_calls: u64,
    elapsed: Duration,
}

impl Row {
    fn of(name: &str, report: &EvaluationReport<ClassifyQuestion, ClassifyQuestionOutput>) -> Self {
        Row {
            name: name.into(),
            correct: Some(correct(report)),
            failed: report.errors,
            lm_calls: report.usage.calls + report.usage.failed_calls,
            elapsed: report.elapsed,
        }
    }

    fn print(&self) {
        let accuracy = match self.correct {
            Some((right, all)) => format!(
                "{:5.1}% ({right}/{all})",
                100.0 * right as f64 / all.max(1) as f64
            ),
            None => "-".into(),
        };
        let failed = if self.failed > 0 {
            format!("  ({} unreadable or failed)", self.failed)
        } else {
            String::new()
        };
        println!(
            "{:<28} {:>20} {:>9} {:>9.1}s{failed}",
            self.name,
            accuracy,
            self.lm_calls,
            self.elapsed.as_secs_f64()
        );
    }
}

fn correct<E, O>(report: &EvaluationReport<E, O>) -> (usize, usize) {
    let right = report.results.iter().filter(|r| r.score > 0.0).count();
    (right, report.results.len())
}

async fn evaluate<P>(
    program: &P,
    examples: &[ClassifyQuestion],
    title: &str,
) -> dspy::Result<EvaluationReport<ClassifyQuestion, ClassifyQuestionOutput>>
where
    P: Module<Input = ClassifyQuestionInput, Output = ClassifyQuestionOutput>,
{
    let report = Evaluate::new(metric)
        .concurrency(8)
        .title(title)
        .run(program, examples)
        .await?;
    // Every example failing means the LM is unreachable or misconfigured, not a bad score.
    if report.errors == report.results.len()
        && let Some(Err(error)) = report.results.first().map(|r| r.output.as_ref())
    {
        eprintln!("every example failed; the first error: {error}");
    }
    Ok(report)
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
    let lm = match LM::from_env() {
        Ok(lm) => Some(lm),
        // An estimate needs no LM: without one, its model and prices are unknown.
        Err(_) if args.dry_run => {
            println!("no LM configured: estimating without one (its model and prices unknown)");
            None
        }
        Err(e) => {
            eprintln!(
                "{e}\n\nThis example needs an LM. For example:\n  \
                 DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example trec\n  \
                 DSPY_LM=ollama/llama3.2 cargo run --release --example trec\n  \
                 DSPY_LM=llamacpp/qwen OPENAI_BASE_URL=http://localhost:8080/v1 DSPY_LM_MODE=completion \\\n    \
                 cargo run --release --example trec   # a base model behind llama.cpp's server"
            );
            return Ok(());
        }
    };
    if let Some(lm) = lm {
        println!("LM: {}", lm.model());
        dspy::configure(lm);
    }

    // Held-out dev split first, then the pool the optimizers learn from.
    let (dev, pool) = held_out_split(args.dev, args.seed)?;
    let train: Vec<ClassifyQuestion> = pool.iter().take(args.train).cloned().collect();
    println!(
        "TREC: {} dev questions held out, {} to learn from ({} for bootstrapping)\n",
        dev.len(),
        pool.len(),
        train.len()
    );

    let classify = Predict::<ClassifyQuestion>::new();
    let zero_shot = if args.zero_shot && !args.dry_run {
        let before = evaluate(&classify, &dev, "zero-shot").await?;
        Some(Row::of("zero-shot", &before))
    } else {
        None
    };

    let k = args.per_class * CLASSES;
    let label = |name: &str| format!("{name} ({})", args.optimizer);
    let (rows, test_line) = match args.optimizer.as_str() {
        "labeled" => {
            let labeled = LabeledFewShot::new(k).per_class("label").seed(args.seed);
            dry_run(&labeled, &classify, &pool, None, &args)?;
            let compiled = labeled.compile(&classify, &pool).await?;
            finish(compiled, &dev, &args, &label).await?
        }
        "bootstrap" => {
            let bootstrap = BootstrapFewShot::new(metric)
                .max_bootstrapped_demos(CLASSES)
                .max_labeled_demos(k)
                .labeled_per_class("label")
                .seed(args.seed);
            dry_run(&bootstrap, &classify, &train, None, &args)?;
            let compiled = bootstrap.compile(&classify, &train).await?;
            finish(compiled, &dev, &args, &label).await?
        }
        "random-search" => {
            // A validation split of its own, so the dev split stays unseen.
            let (valset, trainset) = train.split_at(train.len().min(50));
            let search = BootstrapFewShotWithRandomSearch::new(metric)
                .max_bootstrapped_demos(CLASSES)
                .max_labeled_demos(k)
                .labeled_per_class("label")
                .num_candidate_programs(3)
                .seed(args.seed);
            dry_run(&search, &classify, trainset, Some(valset), &args)?;
            let compiled = search
                .compile_with_valset(&classify, trainset, valset)
                .await?;
            finish(compiled, &dev, &args, &label).await?
        }
        "mipro" | "copro" | "gepa" | "simba" if args.over_knn => {
            // The neighbours come from the rest of the pool: a question the optimizer scores
            // must not find itself among them.
            let rest = &pool[train.len()..];
            let knn =
                knn_program(&classify, rest, args.per_class, args.neighbors, args.seed).await?;
            let compiled = compile_instructions(&knn, &train, &args).await?;
            finish(compiled, &dev, &args, &label).await?
        }
        "mipro" | "copro" | "gepa" | "simba" => {
            let compiled = compile_instructions(&classify, &train, &args).await?;
            finish(compiled, &dev, &args, &label).await?
        }
        "knn" | "ensemble" if args.dry_run => {
            let knn = KNNFewShot::new(args.neighbors, Bm25::new());
            dry_run(&knn, &classify, &pool, None, &args)?;
            unreachable!("a dry run exits")
        }
        "knn" => {
            let started = Instant::now();
            let knn =
                knn_program(&classify, &pool, args.per_class, args.neighbors, args.seed).await?;
            let mut report = CompileReport::new("KNNFewShot over LabeledFewShot", args.seed);
            report.trials.push(Trial::new(
                format!(
                    "{} labeled demos, then {} BM25 neighbours of {} questions",
                    args.per_class * CLASSES,
                    args.neighbors,
                    pool.len()
                ),
                None,
                &Default::default(),
                started.elapsed(),
            ));
            report.elapsed = started.elapsed();
            finish(Compiled::new(knn, report), &dev, &args, &label).await?
        }
        _ => {
            // Three KNN programs over the same labeled demos (so the embedded model computes
            // them once for all three) with 16, 20 and 24 neighbours.
            let started = Instant::now();
            let mut report = CompileReport::new("Ensemble (majority of 3 KNN programs)", args.seed);
            let mut members = Vec::new();
            for i in 0..3u64 {
                let neighbors = (args.neighbors + 4 * i as usize).saturating_sub(4).max(1);
                members.push(
                    knn_program(&classify, &pool, args.per_class, neighbors, args.seed).await?,
                );
                report.trials.push(Trial::new(
                    format!("member {i}: {neighbors} neighbours"),
                    None,
                    &Default::default(),
                    started.elapsed(),
                ));
            }
            let ensemble = Ensemble::majority().compile(members);
            report.elapsed = started.elapsed();
            finish(Compiled::new(ensemble, report), &dev, &args, &label).await?
        }
    };

    println!(
        "\n{:<28} {:>20} {:>9} {:>10}",
        "program", "dev accuracy", "LM calls", "time"
    );
    if let Some(row) = zero_shot {
        row.print();
    }
    for row in rows {
        row.print();
    }
    if let Some(line) = test_line {
        println!("\n{line}");
    }
    Ok(())
}

/// An instruction-tuned model run in process as a chat model, with the production layers.
#[cfg(feature = "local")]
fn prompt_model(path: &Path) -> dspy::Result<LM> {
    let lm = if path == Path::new("instruct") {
        LM::local_instruct()?
    } else {
        let local = dspy::lm::LocalLm::builder()
            .model_path(path)
            .chat(true)
            .build()?;
        LM::builder(local).with_defaults().retries(0).build()
    };
    println!("prompt model: {}", lm.model());
    Ok(lm)
}

#[cfg(not(feature = "local"))]
fn prompt_model(_: &Path) -> dspy::Result<LM> {
    Err(dspy::Error::config(
        "--prompt-model runs a model in process: build with `--features local`",
    ))
}

/// MIPROv2 (DSPy's `auto="light"` sizing), COPRO, GEPA (`auto="light"`, 50 validation
/// questions) or SIMBA, on `program` (the plain classifier, or the KNN program with
/// `--over-knn`).
async fn compile_instructions<P>(
    program: &P,
    train: &[ClassifyQuestion],
    args: &Args,
) -> dspy::Result<Compiled<P>>
where
    P: Module<Input = ClassifyQuestionInput, Output = ClassifyQuestionOutput>
        + Parameters
        + Clone
        + Sync,
{
    let checkpoint = args.out.with_extension("checkpoint.json");
    // A validation split of its own, so the dev split stays unseen.
    let (valset, trainset) = train.split_at(train.len().min(100));
    // The task LM proposes instructions too, unless --prompt-model names another.
    let prompt_lm = args.prompt_model.as_deref().map(prompt_model).transpose()?;
    match args.optimizer.as_str() {
        "copro" => {
            let mut copro = COPRO::new(metric)
                .breadth(6)
                .depth(2)
                .seed(args.seed)
                .checkpoint(checkpoint);
            if let Some(lm) = prompt_lm {
                copro = copro.prompt_model(lm);
            }
            dry_run(&copro, program, valset, None, args)?;
            return copro.compile(program, valset).await;
        }
        "gepa" => {
            // Feedback the reflection LM can learn from: what the answer should have been.
            let feedback = |ex: &ClassifyQuestion, out: &ClassifyQuestionOutput| {
                if ex.label == out.label {
                    (1.0, "Correct.".to_string())
                } else {
                    let want = format!("{:?}", ex.label).to_lowercase();
                    let got = format!("{:?}", out.label).to_lowercase();
                    (
                        0.0,
                        format!("Wrong: the question expects {want}, not {got}."),
                    )
                }
            };
            let valset = &valset[..valset.len().min(50)];
            let mut gepa = GEPA::new(feedback)
                .auto(Auto::Light)
                .seed(args.seed)
                .checkpoint(checkpoint);
            if let Some(lm) = prompt_lm {
                gepa = gepa.reflection_lm(lm);
            }
            dry_run(&gepa, program, trainset, Some(valset), args)?;
            return gepa.compile_with_valset(program, trainset, valset).await;
        }
        "simba" => {
            let mut simba = SIMBA::new(metric)
                .bsize(16)
                .num_candidates(4)
                .max_steps(4)
                .seed(args.seed)
                .checkpoint(checkpoint);
            if let Some(lm) = prompt_lm {
                simba = simba.prompt_model(lm);
            }
            dry_run(&simba, program, valset, None, args)?;
            return simba.compile(program, valset).await;
        }
        _ => {}
    }
    let mut mipro = MIPROv2::new(metric)
        .auto(Auto::Light)
        .max_bootstrapped_demos(CLASSES)
        .max_labeled_demos(args.per_class * CLASSES)
        .labeled_per_class("label")
        .seed(args.seed)
        .checkpoint(checkpoint);
    if let Some(lm) = prompt_lm {
        mipro = mipro.prompt_model(lm);
    }
    dry_run(&mipro, program, trainset, Some(valset), args)?;
    mipro.compile_with_valset(program, trainset, valset).await
}

/// With `--dry-run`: prints what compiling `program` with `optimizer` would cost, and exits
/// without compiling (no LM is called).
fn dry_run<O, P>(
    optimizer: &O,
    program: &P,
    trainset: &[ClassifyQuestion],
    valset: Option<&[ClassifyQuestion]>,
    args: &Args,
) -> dspy::Result<()>
where
    O: Optimizer<P, ClassifyQuestion>,
{
    if args.dry_run {
        print!("{}", optimizer.estimate(program, trainset, valset)?);
        std::process::exit(0);
    }
    Ok(())
}

/// Reports the compile, evaluates the compiled program on `dev` (and `--test`), and saves it:
/// the table rows, and the test accuracy line when `--test` was given.
async fn finish<P>(
    compiled: Compiled<P>,
    dev: &[ClassifyQuestion],
    args: &Args,
    label: &dyn Fn(&str) -> String,
) -> dspy::Result<(Vec<Row>, Option<String>)>
where
    P: Module<Input = ClassifyQuestionInput, Output = ClassifyQuestionOutput> + Parameters,
{
    let report = &compiled.report;
    if report.trials.len() <= 30 {
        print!("{report}");
    } else {
        println!("{}", report.to_string().lines().next().unwrap_or_default());
    }
    let compile = Row {
        name: label("compile"),
        correct: None,
        failed: 0,
        lm_calls: report.lm_calls(),
        elapsed: report.elapsed,
    };

    let after = evaluate(&compiled, dev, "compiled").await?;
    let rows = vec![compile, Row::of(&label("compiled"), &after)];

    compiled.save(&args.out)?;
    let report_path = args.out.with_extension("report.json");
    compiled.report.save(&report_path)?;
    let page_path = args.out.with_extension("report.html");
    compiled.report.write_html(&page_path)?;
    println!(
        "saved the compiled program to {} and its compile report to {} (page: {})",
        args.out.display(),
        report_path.display(),
        page_path.display()
    );

    let mut test_line = None;
    if let Some(test_file) = &args.test {
        let test: Vec<ClassifyQuestion> = data::load_jsonl(test_file)?;
        let scored = evaluate(&compiled, &test, "test").await?;
        let (right, all) = correct(&scored);
        test_line = Some(format!(
            "test accuracy: {:.3} ({right}/{all})",
            right as f64 / all.max(1) as f64
        ));
    }
    Ok((rows, test_line))
}
