//! Fine-tuning the embedded model on TREC, in process: zero-shot accuracy on a held-out split
//! before, a LoRA fine-tune on training questions (loss on the answer only), accuracy after,
//! and what the training cost.
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release --example finetune_trec --features finetune
//! cargo run --release --example finetune_trec --features finetune -- --train 480 --dev 300 --epochs 1
//! ```
//!
//! Options: `--train N` (training questions, default 480), `--dev N` (held-out questions,
//! default 300), `--epochs N` (default 1), `--batch N` (default 8), `--lr X` (default 1e-3),
//! `--steps N` (stop after N steps), `--seed N` (default 0), `--skip-before` (do not evaluate
//! the base model), `--merge` (also write the adapter merged into the model, F32 and quantized
//! back to the base's types, and evaluate both). The run is cached (`$DSPY_CACHE_DIR/finetunes`): the same data and
//! settings train only once.

#[path = "support/trec.rs"]
mod trec_task;

use dspy::evaluate::Evaluate;
use dspy::lm::{Finetune, Hyperparameters, LocalFinetuner, LocalLm, TrainBudget, TrainingData};
use dspy::prelude::*;
use std::time::Instant;
use trec_task::{ClassifyQuestion, held_out_split, metric};

#[derive(Debug)]
struct Args {
    train: usize,
    dev: usize,
    epochs: u32,
    batch: u32,
    lr: f64,
    steps: Option<u64>,
    seed: u64,
    before: bool,
    merge: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        train: 480,
        dev: 300,
        epochs: 1,
        batch: 8,
        lr: 1e-3,
        steps: None,
        seed: 0,
        before: true,
        merge: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--skip-before" || flag == "--merge" {
            args.before &= flag != "--skip-before";
            args.merge |= flag == "--merge";
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--train" => args.train = value.parse().map_err(bad)?,
            "--dev" => args.dev = value.parse().map_err(bad)?,
            "--epochs" => args.epochs = value.parse().map_err(bad)?,
            "--batch" => args.batch = value.parse().map_err(bad)?,
            "--lr" => {
                args.lr = value
                    .parse()
                    .map_err(|_| format!("bad value for --lr: {value}"))?
            }
            "--steps" => args.steps = Some(value.parse().map_err(bad)?),
            "--seed" => args.seed = value.parse().map_err(bad)?,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(args)
}

/// Accuracy of `classify` under `lm` on `dev`, and the seconds per question.
async fn accuracy(
    classify: &Predict<ClassifyQuestion>,
    lm: LM,
    dev: &[ClassifyQuestion],
    title: &str,
) -> dspy::Result<(f64, f64)> {
    let started = Instant::now();
    let report = dspy::lm::with_lm(
        lm,
        Evaluate::new(metric)
            .concurrency(8)
            .title(title)
            .run(classify, dev),
    )
    .await?;
    let right = report.results.iter().filter(|r| r.score > 0.0).count();
    let secs = started.elapsed().as_secs_f64() / dev.len().max(1) as f64;
    Ok((right as f64 / dev.len().max(1) as f64, secs))
}

/// The process's peak resident memory, in GB (Linux), if known.
fn peak_rss_gb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0 / 1024.0)
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let base = LM::new(LocalLm::builder().context_size(2048).build()?);
    let (dev, pool) = held_out_split(args.dev, args.seed)?;
    let train: Vec<ClassifyQuestion> = pool.into_iter().take(args.train).collect();
    println!(
        "TREC: {} training questions, {} held out",
        train.len(),
        dev.len()
    );
    let classify = Predict::<ClassifyQuestion>::new();

    let before = if args.before {
        let (acc, secs) = accuracy(&classify, base.clone(), &dev, "base, zero-shot").await?;
        println!(
            "before: zero-shot accuracy {:.1}% ({secs:.2} s/question)",
            acc * 100.0
        );
        Some(acc)
    } else {
        None
    };

    // The examples as the predictor renders them for this LM at inference.
    let mut data = TrainingData::new();
    for example in &train {
        let (input, output) = example.clone().into_parts();
        let rendered =
            dspy::lm::with_lm_sync(base.clone(), || classify.training_example(&input, &output))?;
        data.push("classify", rendered);
    }
    let mut hyperparameters = Hyperparameters::new()
        .epochs(args.epochs)
        .batch_size(args.batch)
        .learning_rate(args.lr)
        .seed(args.seed);
    hyperparameters = hyperparameters.set("lora_rank", 8).set("lora_alpha", 16);
    let budget = args
        .steps
        .map_or(TrainBudget::unlimited(), TrainBudget::steps);
    let speeds = std::sync::Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let seen = speeds.clone();
    let started = Instant::now();
    let finetuner = LocalFinetuner::new().serve_with(LocalLm::builder().context_size(2048));
    let done = Finetune::new(&data)
        .hyperparameters(hyperparameters)
        .budget(budget)
        .on_progress(move |p| {
            eprintln!("{p}");
            if let (Some(speed), Ok(mut speeds)) = (p.examples_per_sec, seen.lock()) {
                speeds.push(speed);
            }
        })
        .run(&finetuner)
        .await?;
    let train_secs = started.elapsed().as_secs_f64();
    let model = &done.model;
    let steps = model
        .details
        .get("steps")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let adapter = &model.files[0].path;
    let adapter_mb = std::fs::metadata(adapter)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);
    if done.cached {
        println!("training: cached ({})", model.model);
    } else {
        let speeds = speeds.lock().map(|s| s.clone()).unwrap_or_default();
        let speed = speeds.iter().sum::<f64>() / speeds.len().max(1) as f64;
        println!(
            "training: {steps} steps in {train_secs:.0} s with loading ({:.2} s/step, {speed:.2} \
             examples/s while stepping), final loss {}, {} trainable parameters",
            u64::from(args.batch) as f64 / speed.max(1e-9),
            model
                .details
                .get("final_loss")
                .map_or("-".into(), |v| format!("{v:.4}")),
            model
                .details
                .get("trainable_parameters")
                .map_or("-".into(), |v| v.to_string()),
        );
    }
    println!("adapter: {} ({adapter_mb:.1} MB)", adapter.display());
    let (acc, secs) = accuracy(&classify, done.lm.clone(), &dev, "fine-tuned, zero-shot").await?;
    println!(
        "after: zero-shot accuracy {:.1}% ({secs:.2} s/question)",
        acc * 100.0
    );
    if let Some(before) = before {
        println!("accuracy: {:.1}% -> {:.1}%", before * 100.0, acc * 100.0);
    }
    if args.merge {
        for requantize in [false, true] {
            let kind = if requantize { "quantized" } else { "f32" };
            let path = adapter.with_file_name(format!("merged-{kind}.gguf"));
            let started = Instant::now();
            let (f, m, p) = (&finetuner, &done.model, path.clone());
            tokio::task::block_in_place(|| f.merge(m, &p, requantize))?;
            let mb = std::fs::metadata(&path)
                .map(|m| m.len() as f64 / 1e6)
                .unwrap_or(0.0);
            println!(
                "merged ({kind}): {} ({mb:.0} MB, written in {:.0} s)",
                path.display(),
                started.elapsed().as_secs_f64()
            );
            let lm = LM::new(
                LocalLm::builder()
                    .context_size(2048)
                    .model_path(&path)
                    .build()?,
            );
            let (acc, secs) = accuracy(&classify, lm, &dev, kind).await?;
            println!(
                "merged ({kind}): zero-shot accuracy {:.1}% ({secs:.2} s/question)",
                acc * 100.0
            );
        }
    }
    if let Some(gb) = peak_rss_gb() {
        println!("peak memory (RSS): {gb:.2} GB");
    }
    Ok(())
}
