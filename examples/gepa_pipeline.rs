//! GEPA on a two-stage program: the first stage names what a TREC question asks for, the
//! second classifies it by the kind of answer it expects. The metric explains each mistake in
//! words (with TREC's fine-grained label), and GEPA's reflection LM reads those explanations
//! to rewrite each stage's instructions, keeping a Pareto frontier of the candidates.
//!
//! ```sh
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example gepa_pipeline
//! # a stronger model for reflection than for the task:
//! DSPY_REFLECTION_LM=openai/gpt-4o DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... \
//!     cargo run --release --example gepa_pipeline
//! # all in process: the embedded base model runs the task, the small chat model reflects
//! DSPY_LM=local DSPY_REFLECTION_LM=local-instruct cargo run --release --features local --example gepa_pipeline
//! ```
//!
//! Options: `--calls N` (GEPA's budget of metric calls, default 400), `--train N` (questions
//! reflected on, default 60), `--val N` (questions the frontier is kept on, default 30),
//! `--dev N` (held out for the before/after accuracy, default 100), `--seed N` (default 0),
//! `--checkpoint FILE` (resume an interrupted compile). The compiled program is saved to
//! `gepa_pipeline.json`.

use dspy::data;
use dspy::evaluate::Evaluate;
use dspy::prelude::*;
use std::path::Path;

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
struct ClassifyQuestion {
    #[input(desc = "a question in English")]
    question: String,
    #[input(desc = "what the answer must be")]
    focus: String,
    #[output(desc = "the kind of answer the question expects")]
    label: QuestionKind,
}

/// The two stages; GEPA evolves the instructions of both (`focus` and `classify`).
#[derive(Module, Clone)]
struct FocusThenClassify {
    focus: Predict<FindFocus>,
    classify: Predict<ClassifyQuestion>,
}

impl Module for FocusThenClassify {
    type Input = FindFocusInput;
    type Output = ClassifyQuestionOutput;

    async fn call(&self, input: FindFocusInput) -> dspy::Result<ClassifyQuestionOutput> {
        let focus = self
            .focus
            .call(FindFocusInput {
                question: input.question.clone(),
            })
            .await?;
        self.classify
            .call(ClassifyQuestionInput {
                question: input.question,
                focus: focus.focus,
            })
            .await
    }
}

/// A labelled TREC question, as the data file holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Labelled {
    question: String,
    label: QuestionKind,
    fine_label: String,
}

impl Example for Labelled {
    type Input = FindFocusInput;

    fn input(&self) -> FindFocusInput {
        FindFocusInput {
            question: self.question.clone(),
        }
    }
}

/// Right or wrong, and why in words: what GEPA's reflection learns from.
fn metric(ex: &Labelled, out: &ClassifyQuestionOutput) -> (f64, String) {
    if ex.label == out.label {
        (
            1.0,
            format!(
                "Correct: the question expects {:?} (fine-grained: {}).",
                ex.label, ex.fine_label
            ),
        )
    } else {
        (
            0.0,
            format!(
                "Wrong: the answer is {:?}, not {:?}. The question asks for `{}` (TREC's \
                 fine-grained class), which belongs to the {:?} class.",
                ex.label, out.label, ex.fine_label, ex.label
            ),
        )
    }
}

struct Args {
    calls: usize,
    train: usize,
    val: usize,
    dev: usize,
    seed: u64,
    checkpoint: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        calls: 400,
        train: 60,
        val: 30,
        dev: 100,
        seed: 0,
        checkpoint: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} must be a whole number, got `{value}`"))
        };
        match flag.as_str() {
            "--calls" => args.calls = number()?,
            "--train" => args.train = number()?.max(1),
            "--val" => args.val = number()?.max(1),
            "--dev" => args.dev = number()?,
            "--seed" => args.seed = number()? as u64,
            "--checkpoint" => args.checkpoint = Some(value.clone()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(args)
}

async fn accuracy(program: &FocusThenClassify, dev: &[Labelled], title: &str) -> dspy::Result<f64> {
    let report = Evaluate::new(metric)
        .concurrency(8)
        .title(title)
        .run(program, dev)
        .await?;
    Ok(report.score)
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!(
                "{message}\nusage: gepa_pipeline [--calls N] [--train N] [--val N] [--dev N] \
                 [--seed N] [--checkpoint FILE]"
            );
            std::process::exit(2);
        }
    };
    let lm = match LM::from_env() {
        Ok(lm) => lm,
        Err(error) => {
            eprintln!(
                "{error}\n\nThis example calls a real LM. Run it with, for example:\n  \
                 DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --release --example gepa_pipeline"
            );
            return Ok(());
        }
    };
    // The reflection LM: DSPY_REFLECTION_LM names another model (same endpoint settings, or
    // `local-instruct` for the small local chat model), else the task LM reflects too.
    let reflection = match std::env::var("DSPY_REFLECTION_LM") {
        Ok(spec) => LM::from_lookup(|name| match name {
            "DSPY_LM" => Some(spec.clone()),
            // DSPY_LM_MODE is the task model's: this one is a chat model unless
            // DSPY_REFLECTION_LM_MODE says otherwise.
            "DSPY_LM_MODE" => std::env::var("DSPY_REFLECTION_LM_MODE").ok(),
            other => std::env::var(other).ok(),
        })?,
        Err(_) => lm.clone(),
    };
    println!(
        "task LM: {}, reflection LM: {}",
        lm.model(),
        reflection.model()
    );
    dspy::configure(lm);

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/trec/train.jsonl");
    let mut pool = data::shuffled(data::load_jsonl::<Labelled>(path)?, args.seed);
    let dev: Vec<Labelled> = pool.drain(..args.dev.min(pool.len())).collect();
    let valset: Vec<Labelled> = pool.drain(..args.val.min(pool.len())).collect();
    let trainset: Vec<Labelled> = pool.into_iter().take(args.train).collect();
    println!(
        "{} questions to reflect on, {} to keep the frontier on, {} held out\n",
        trainset.len(),
        valset.len(),
        dev.len()
    );

    let program = FocusThenClassify {
        focus: Predict::new(),
        classify: Predict::new(),
    };
    let before = accuracy(&program, &dev, "before").await?;

    let mut gepa = GEPA::new(metric)
        .max_metric_calls(args.calls)
        .reflection_lm(reflection)
        .seed(args.seed);
    if let Some(checkpoint) = &args.checkpoint {
        gepa = gepa.checkpoint(checkpoint);
    }
    let compiled = gepa
        .compile_with_valset(&program, &trainset, &valset)
        .await?;
    print!("{}", compiled.report);

    let after = accuracy(&compiled, &dev, "after").await?;
    for (name, predictor) in compiled.predictors() {
        println!("\n{name}:\n{}", predictor.effective_instructions());
    }
    println!(
        "\ndev accuracy: {:.1}% before, {:.1}% after GEPA",
        100.0 * before,
        100.0 * after
    );
    compiled.save("gepa_pipeline.json")?;
    compiled.report.save("gepa_pipeline_report.json")?;
    compiled.report.write_html("gepa_pipeline_report.html")?;
    println!("saved gepa_pipeline.json (and the report beside it, as JSON and HTML)");
    Ok(())
}
