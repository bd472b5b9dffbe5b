//! Evaluate a TREC question classifier with whatever LM is configured, with demos from the train
//! split, and print the report.
//!
//! ```sh
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example trec_eval
//! cargo run --release --example trec_eval -- --dev 300 --demos-per-class 4 --report report.json
//! ```
//!
//! With `--report FILE`, the report is also written as a page beside it (`FILE.html`: one
//! self-contained HTML file with the confusion matrix, the mean score per class and the worst
//! examples).
//!
//! The data is the TREC training set kept in examples/data/trec/ (5,452 questions), split by seed
//! into train and dev.

use dspy::data;
use dspy::evaluate::Evaluate;
use dspy::prelude::*;

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
enum QuestionKind {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct ClassifyQuestion {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: QuestionKind,
}

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/data/trec/train.jsonl"
);

struct Args {
    dev: usize,
    demos_per_class: usize,
    seed: u64,
    concurrency: usize,
    report: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dev: 200,
        demos_per_class: 4,
        seed: 0,
        concurrency: 8,
        report: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--dev" => args.dev = number(value()?)?,
            "--demos-per-class" => args.demos_per_class = number(value()?)?,
            "--seed" => args.seed = number(value()?)? as u64,
            "--concurrency" => args.concurrency = number(value()?)?.max(1),
            "--report" => args.report = Some(value()?),
            "--help" | "-h" => {
                return Err(
                    "usage: trec_eval [--dev N] [--demos-per-class K] [--seed S] \
                            [--concurrency C] [--report FILE.json|FILE.csv]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}; try --help")),
        }
    }
    Ok(args)
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
    let lm = match LM::from_env() {
        Ok(lm) => lm,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("Set DSPY_LM (and OPENAI_API_KEY or OPENAI_BASE_URL), then run this again.");
            return Ok(());
        }
    };
    dspy::configure(lm.clone());

    let examples: Vec<ClassifyQuestion> = data::load_jsonl(DATA)?;
    let (train, dev) = data::train_dev_split(examples, 0.2, args.seed);
    let dev: Vec<ClassifyQuestion> = dev.into_iter().take(args.dev).collect();
    let demos = data::sample_per_class(&train, args.demos_per_class, |e| e.label, args.seed);
    println!(
        "TREC: {} train, {} dev questions; {} demos ({} per class); LM {}",
        train.len(),
        dev.len(),
        demos.len(),
        args.demos_per_class,
        lm.model()
    );

    let classify = Predict::<ClassifyQuestion>::new().with_demos(demos);
    let metric = |ex: &ClassifyQuestion, out: &ClassifyQuestionOutput| ex.label == out.label;
    let report = Evaluate::new(metric)
        .concurrency(args.concurrency)
        .title("TREC dev")
        .run(&classify, &dev)
        .await?;
    println!("{}", report.table(8));
    if let Some(path) = &args.report {
        if path.ends_with(".csv") {
            report.write_csv(path)?;
        } else {
            report.write_json(path)?;
        }
        // The page beside it: the confusion matrix, the scores per class, the worst examples.
        let page = std::path::Path::new(path).with_extension("html");
        let title = format!(
            "TREC dev, {} ({} demos per class)",
            lm.model(),
            args.demos_per_class
        );
        report.html().title(title).write(&page)?;
        println!("report written to {path}, its page to {}", page.display());
    }
    Ok(())
}
