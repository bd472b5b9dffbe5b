//! MIPROv2 on a two-stage program: the first predictor names what a TREC question asks for,
//! the second classifies the question knowing that focus. MIPROv2 proposes instructions for
//! both predictors (grounded in a summary of the questions, the program's outline and
//! bootstrapped demos), builds demo sets for both, and searches the combinations with TPE.
//!
//! ```sh
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example mipro_pipeline
//! DSPY_LM=ollama/llama3.2 cargo run --release --example mipro_pipeline -- --trials 10
//! # a stronger model proposes than runs the task:
//! DSPY_PROMPT_LM=openai/gpt-4o DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... \
//!     cargo run --release --example mipro_pipeline
//! # all in process: the embedded base model runs the task, the small chat model proposes
//! DSPY_LM=local DSPY_PROMPT_LM=local-instruct cargo run --release --features local --example mipro_pipeline
//! ```
//!
//! Options (all optional): `--auto light|medium|heavy` (default `light`), or `--candidates N`
//! with `--trials N` to size the search by hand; `--train N` (default 100), `--val N` (default
//! 60), `--dev N` (held out, default 100), `--seed N`, `--checkpoint FILE` (default
//! `mipro_checkpoint.json`: rerun the same command after a stop and it carries on),
//! `--out FILE` (default `mipro_compiled.json`).

use dspy::data;
use dspy::evaluate::Evaluate;
use dspy::prelude::*;
use std::path::{Path, PathBuf};

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
struct TrecQuestion {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: QuestionKind,
}

/// Name the thing the question asks for, in a few words.
#[derive(Signature, Clone, Debug)]
struct FindFocus {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "what the answer must be, e.g. `a person's name`, `a distance`")]
    focus: String,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct ClassifyWithFocus {
    #[input(desc = "a question in English")]
    question: String,
    #[input(desc = "what the answer must be")]
    focus: String,
    #[output(desc = "the kind of answer the question expects")]
    label: QuestionKind,
}

/// The program: two predictors, both optimized (`focus` and `classify`).
#[derive(Module, Clone)]
struct Classifier {
    focus: Predict<FindFocus>,
    classify: Predict<ClassifyWithFocus>,
}

impl Module for Classifier {
    type Input = TrecQuestionInput;
    type Output = TrecQuestionOutput;

    async fn call(&self, input: TrecQuestionInput) -> dspy::Result<TrecQuestionOutput> {
        let focus = self
            .focus
            .call(FindFocusInput {
                question: input.question.clone(),
            })
            .await?;
        let classified = self
            .classify
            .call(ClassifyWithFocusInput {
                question: input.question,
                focus: focus.focus,
            })
            .await?;
        Ok(TrecQuestionOutput {
            label: classified.label,
        })
    }
}

fn metric(ex: &TrecQuestion, out: &TrecQuestionOutput) -> bool {
    ex.label == out.label
}

struct Args {
    auto: Auto,
    candidates: Option<usize>,
    trials: Option<usize>,
    train: usize,
    val: usize,
    dev: usize,
    seed: u64,
    checkpoint: PathBuf,
    out: PathBuf,
}

const USAGE: &str = "usage: mipro_pipeline [--auto light|medium|heavy] [--candidates N] \
[--trials N] [--train N] [--val N] [--dev N] [--seed N] [--checkpoint FILE] [--out FILE]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        auto: Auto::Light,
        candidates: None,
        trials: None,
        train: 100,
        val: 60,
        dev: 100,
        seed: 0,
        checkpoint: "mipro_checkpoint.json".into(),
        out: "mipro_compiled.json".into(),
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
            "--auto" => {
                args.auto = match value.as_str() {
                    "light" => Auto::Light,
                    "medium" => Auto::Medium,
                    "heavy" => Auto::Heavy,
                    other => return Err(format!("unknown preset `{other}`")),
                }
            }
            "--candidates" => args.candidates = Some(number()?),
            "--trials" => args.trials = Some(number()?),
            "--train" => args.train = number()?,
            "--val" => args.val = number()?.max(1),
            "--dev" => args.dev = number()?,
            "--seed" => args.seed = number()? as u64,
            "--checkpoint" => args.checkpoint = value.clone().into(),
            "--out" => args.out = value.clone().into(),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(args)
}

async fn accuracy(program: &Classifier, set: &[TrecQuestion], title: &str) -> dspy::Result<f64> {
    let report = Evaluate::new(metric)
        .concurrency(8)
        .title(title)
        .run(program, set)
        .await?;
    Ok(report.score)
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
        Ok(lm) => lm,
        Err(error) => {
            eprintln!(
                "{error}\n\nThis example calls a real LM. Run it with, for example:\n  \
                 DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example mipro_pipeline\n  \
                 DSPY_LM=ollama/llama3.2 cargo run --release --example mipro_pipeline"
            );
            return Ok(());
        }
    };
    // The prompt model: DSPY_PROMPT_LM names another model (same endpoint settings, or
    // `local-instruct` for the small local chat model), else the task LM proposes too.
    let prompt_lm = match std::env::var("DSPY_PROMPT_LM") {
        Ok(spec) => Some(LM::from_lookup(|name| match name {
            "DSPY_LM" => Some(spec.clone()),
            // DSPY_LM_MODE is the task model's: this one is a chat model unless
            // DSPY_PROMPT_LM_MODE says otherwise.
            "DSPY_LM_MODE" => std::env::var("DSPY_PROMPT_LM_MODE").ok(),
            other => std::env::var(other).ok(),
        })?),
        Err(_) => None,
    };
    println!(
        "task LM: {}, prompt LM: {}",
        lm.model(),
        prompt_lm.as_ref().map_or(lm.model(), |p| p.model())
    );
    dspy::configure(lm);

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/trec/train.jsonl");
    let all: Vec<TrecQuestion> = data::load_jsonl(path)?;
    let mut pool = data::shuffled(all, args.seed);
    let dev: Vec<TrecQuestion> = pool.drain(..args.dev.min(pool.len())).collect();
    let valset: Vec<TrecQuestion> = pool.drain(..args.val.min(pool.len())).collect();
    let trainset: Vec<TrecQuestion> = pool.into_iter().take(args.train).collect();
    println!(
        "TREC: {} training, {} validation, {} held-out dev questions\n",
        trainset.len(),
        valset.len(),
        dev.len()
    );

    let program = Classifier {
        focus: Predict::new(),
        classify: Predict::new(),
    };
    let before = accuracy(&program, &dev, "dev, as written").await?;

    // The task model (which runs the program) is the configured LM; `.task_model(lm)` would
    // set another.
    let mut mipro = MIPROv2::new(metric)
        .auto(args.auto)
        .seed(args.seed)
        .checkpoint(&args.checkpoint);
    if let Some(lm) = prompt_lm {
        mipro = mipro.prompt_model(lm);
    }
    if let Some(n) = args.candidates {
        mipro = mipro.num_candidates(n);
    }
    if let Some(n) = args.trials {
        mipro = mipro.num_trials(n);
    }
    let compiled = mipro
        .compile_with_valset(&program, &trainset, &valset)
        .await?;
    let report = &compiled.report;
    if report.trials.len() <= 60 {
        print!("{report}");
    } else {
        println!("{}", report.to_string().lines().next().unwrap_or_default());
    }
    if report.stopped_by_budget {
        println!(
            "(stopped by the LM budget: rerun to continue from {:?})",
            args.checkpoint
        );
    }
    for (name, predictor) in compiled.predictors() {
        println!(
            "\n`{name}`: {} demos; instructions:\n  {}",
            predictor.demo_count(),
            predictor.effective_instructions()
        );
    }

    let after = accuracy(&compiled, &dev, "dev, compiled").await?;
    println!(
        "\ndev accuracy: {:.1}% as written, {:.1}% compiled",
        100.0 * before,
        100.0 * after
    );
    compiled.save(&args.out)?;
    report.save(args.out.with_extension("report.json"))?;
    report.write_html(args.out.with_extension("report.html"))?;
    println!("saved to {}", args.out.display());
    Ok(())
}
