//! TREC in two stages, compiled end to end: stage 1 names the coarse class of answer a question
//! expects (`location`), stage 2, given the question and that class, the fine one (`city`);
//! they are wired with `then`, and one metric scores the fine label the pipeline ends with.
//!
//! ```sh
//! cargo run --release --features local --example trec_pipeline            # the embedded model
//! cargo run --release --features local --example trec_pipeline -- --test trec_test.jsonl
//! ```
//!
//! It prints zero-shot and compiled accuracy per stage (stage 2 given the true coarse class) and
//! end to end, with LM calls and time, saves the compiled program, and with `--test FILE` prints
//! `test accuracy: 0.712 (356/500)` for the fine label.

use clap::Parser;
use dspy::data;
use dspy::evaluate::{Evaluate, EvaluationReport, Metric};
use dspy::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The kind of answer a question expects (the TREC coarse classes).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
enum Coarse {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// The TREC fine classes, in words a language model knows (the data's `cremat` is `creative
/// work`); the three `other` classes and the two `desc` ones are told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
enum Fine {
    #[serde(rename = "abbreviation")]
    Abbreviation,
    #[serde(rename = "expansion")]
    Expansion,
    #[serde(rename = "definition")]
    Definition,
    #[serde(rename = "description")]
    Description,
    #[serde(rename = "manner")]
    Manner,
    #[serde(rename = "reason")]
    Reason,
    #[serde(rename = "animal")]
    Animal,
    #[serde(rename = "body part")]
    Body,
    #[serde(rename = "color")]
    Color,
    #[serde(rename = "creative work")]
    Creative,
    #[serde(rename = "currency")]
    Currency,
    #[serde(rename = "disease or medicine")]
    Disease,
    #[serde(rename = "event")]
    Event,
    #[serde(rename = "food")]
    Food,
    #[serde(rename = "instrument")]
    Instrument,
    #[serde(rename = "language")]
    Language,
    #[serde(rename = "letter")]
    Letter,
    #[serde(rename = "other entity")]
    OtherEntity,
    #[serde(rename = "plant")]
    Plant,
    #[serde(rename = "product")]
    Product,
    #[serde(rename = "religion")]
    Religion,
    #[serde(rename = "sport")]
    Sport,
    #[serde(rename = "substance")]
    Substance,
    #[serde(rename = "symbol")]
    Symbol,
    #[serde(rename = "technique")]
    Technique,
    #[serde(rename = "term")]
    Term,
    #[serde(rename = "vehicle")]
    Vehicle,
    #[serde(rename = "word")]
    Word,
    #[serde(rename = "group")]
    Group,
    #[serde(rename = "individual")]
    Individual,
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "person description")]
    PersonDescription,
    #[serde(rename = "city")]
    City,
    #[serde(rename = "country")]
    Country,
    #[serde(rename = "mountain")]
    Mountain,
    #[serde(rename = "other location")]
    OtherLocation,
    #[serde(rename = "state")]
    State,
    #[serde(rename = "code")]
    Code,
    #[serde(rename = "count")]
    Count,
    #[serde(rename = "date")]
    Date,
    #[serde(rename = "distance")]
    Distance,
    #[serde(rename = "money")]
    Money,
    #[serde(rename = "order")]
    Order,
    #[serde(rename = "other number")]
    OtherNumber,
    #[serde(rename = "percent")]
    Percent,
    #[serde(rename = "period")]
    Period,
    #[serde(rename = "size")]
    Size,
    #[serde(rename = "speed")]
    Speed,
    #[serde(rename = "temperature")]
    Temperature,
    #[serde(rename = "weight")]
    Weight,
}

impl Fine {
    /// The fine class of a TREC row: its coarse class and the data's short fine name.
    fn from_trec(coarse: Coarse, fine: &str) -> Option<Fine> {
        use Fine::*;
        Some(match (coarse, fine) {
            (Coarse::Abbreviation, "abb") => Abbreviation,
            (Coarse::Abbreviation, "exp") => Expansion,
            (Coarse::Description, "def") => Definition,
            (Coarse::Description, "desc") => Description,
            (Coarse::Description, "manner") => Manner,
            (Coarse::Description, "reason") => Reason,
            (Coarse::Entity, "other") => OtherEntity,
            (Coarse::Entity, name) => entity(name)?,
            (Coarse::Human, "gr") => Group,
            (Coarse::Human, "ind") => Individual,
            (Coarse::Human, "title") => Title,
            (Coarse::Human, "desc") => PersonDescription,
            (Coarse::Location, "city") => City,
            (Coarse::Location, "country") => Country,
            (Coarse::Location, "mount") => Mountain,
            (Coarse::Location, "other") => OtherLocation,
            (Coarse::Location, "state") => State,
            (Coarse::Number, "other") => OtherNumber,
            (Coarse::Number, name) => number(name)?,
            _ => return None,
        })
    }
}

fn entity(name: &str) -> Option<Fine> {
    use Fine::*;
    Some(match name {
        "animal" => Animal,
        "body" => Body,
        "color" => Color,
        "cremat" => Creative,
        "currency" => Currency,
        "dismed" => Disease,
        "event" => Event,
        "food" => Food,
        "instru" => Instrument,
        "lang" => Language,
        "letter" => Letter,
        "plant" => Plant,
        "product" => Product,
        "religion" => Religion,
        "sport" => Sport,
        "substance" => Substance,
        "symbol" => Symbol,
        "techmeth" => Technique,
        "termeq" => Term,
        "veh" => Vehicle,
        "word" => Word,
        _ => return None,
    })
}

fn number(name: &str) -> Option<Fine> {
    use Fine::*;
    Some(match name {
        "code" => Code,
        "count" => Count,
        "date" => Date,
        "dist" => Distance,
        "money" => Money,
        "ord" => Order,
        "perc" => Percent,
        "period" => Period,
        "volsize" => Size,
        "speed" => Speed,
        "temp" => Temperature,
        "weight" => Weight,
        _ => return None,
    })
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct ClassifyCoarse {
    #[input(desc = "a question in English")]
    question: String,
    #[output(desc = "the kind of answer the question expects")]
    label: Coarse,
}

/// Given the question and the kind of answer it expects, name the finer class of that answer.
#[derive(Signature, Clone, Debug)]
struct ClassifyFine {
    #[input(desc = "a question in English")]
    question: String,
    #[input(desc = "the kind of answer the question expects")]
    label: Coarse,
    #[output(desc = "the finer class of the answer, one of the kind's classes")]
    fine_label: Fine,
}

/// One TREC question with both labels: a training example of the whole pipeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrecQuestion {
    question: String,
    label: Coarse,
    fine_label: Fine,
}

/// Each question as an example of stage 1 and of stage 2.
fn stage_examples(questions: &[TrecQuestion]) -> (Vec<ClassifyCoarse>, Vec<ClassifyFine>) {
    questions
        .iter()
        .map(|q| {
            let coarse = ClassifyCoarse {
                question: q.question.clone(),
                label: q.label,
            };
            let fine = ClassifyFine {
                question: q.question.clone(),
                label: q.label,
                fine_label: q.fine_label,
            };
            (coarse, fine)
        })
        .unzip()
}

impl Example for TrecQuestion {
    type Input = ClassifyCoarseInput;
    fn input(&self) -> ClassifyCoarseInput {
        ClassifyCoarseInput {
            question: self.question.clone(),
        }
    }
}

/// A row as stored in examples/data/trec (the fine class by its short name).
#[derive(Deserialize)]
struct Row {
    question: String,
    label: Coarse,
    fine_label: String,
}

fn load(path: &Path) -> dspy::Result<Vec<TrecQuestion>> {
    let rows: Vec<Row> = data::load_jsonl(path)?;
    rows.into_iter()
        .map(|row| {
            let fine = Fine::from_trec(row.label, &row.fine_label).ok_or_else(|| {
                dspy::Error::config(format!(
                    "{}: unknown fine class `{}` for `{:?}`",
                    path.display(),
                    row.fine_label,
                    row.label
                ))
            })?;
            Ok(TrecQuestion {
                question: row.question,
                label: row.label,
                fine_label: fine,
            })
        })
        .collect()
}

#[derive(Parser, Debug)]
#[command(about = "TREC in two stages (coarse, then fine), compiled end to end")]
struct Args {
    /// Dev questions held out for scoring.
    #[arg(long, default_value_t = 250)]
    dev: usize,
    /// Labeled demos per coarse class in stage 1's fixed part.
    #[arg(long, default_value_t = 8)]
    per_class: usize,
    /// Labeled demos per fine class in stage 2's fixed part.
    #[arg(long, default_value_t = 1)]
    per_fine: usize,
    /// Similar training questions per call, for each stage.
    #[arg(long, default_value_t = 20)]
    neighbors: usize,
    /// Seed of the split and the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the compiled program goes.
    #[arg(long, default_value = "trec_pipeline_compiled.json")]
    out: PathBuf,
    /// Also score this labelled file (the same JSONL format) and print `test accuracy: ...`.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Skip the zero-shot evaluations.
    #[arg(long)]
    no_zero_shot: bool,
}

fn end_to_end(ex: &TrecQuestion, out: &ClassifyFineOutput) -> bool {
    ex.fine_label == out.fine_label
}

fn coarse_right(ex: &ClassifyCoarse, out: &ClassifyCoarseOutput) -> bool {
    ex.label == out.label
}

fn fine_right(ex: &ClassifyFine, out: &ClassifyFineOutput) -> bool {
    ex.fine_label == out.fine_label
}

/// Accuracy, calls and time of one evaluation, for the table.
struct Line {
    name: String,
    right: usize,
    all: usize,
    calls: u64,
    elapsed: Duration,
}

impl Line {
    fn of<E, O>(name: &str, report: &EvaluationReport<E, O>) -> Self {
        Line {
            name: name.into(),
            right: report.results.iter().filter(|r| r.score > 0.0).count(),
            all: report.results.len(),
            calls: report.usage.calls + report.usage.failed_calls,
            elapsed: report.elapsed,
        }
    }

    fn print(&self) {
        println!(
            "{:<34} {:>6.1}% ({:>3}/{:<3}) {:>7} {:>8.1}s",
            self.name,
            100.0 * self.right as f64 / self.all.max(1) as f64,
            self.right,
            self.all,
            self.calls,
            self.elapsed.as_secs_f64()
        );
    }
}

async fn score<P, E>(
    program: &P,
    set: &[E],
    title: &str,
    metric: impl Metric<E, P::Output>,
) -> dspy::Result<Line>
where
    P: Module<Input = E::Input>,
    E: Example + Clone + Send + Sync,
{
    let report = Evaluate::new(metric)
        .concurrency(8)
        .title(title)
        .run(program, set)
        .await?;
    Ok(Line::of(title, &report))
}

type Pipeline = dspy::Then<Predict<ClassifyCoarse>, Predict<ClassifyFine>>;

/// Scores stage 1, stage 2 given the true coarse class, and the pipeline, on `dev`.
async fn score_stages<A, B, P>(
    stage1: &A,
    stage2: &B,
    pipeline: &P,
    dev: &[TrecQuestion],
    name: &str,
) -> dspy::Result<Vec<Line>>
where
    A: Module<Input = ClassifyCoarseInput, Output = ClassifyCoarseOutput>,
    B: Module<Input = ClassifyFineInput, Output = ClassifyFineOutput>,
    P: Module<Input = ClassifyCoarseInput, Output = ClassifyFineOutput>,
{
    let (coarse, fine) = stage_examples(dev);
    Ok(vec![
        score(
            stage1,
            &coarse,
            &format!("{name}: stage 1 (coarse)"),
            coarse_right,
        )
        .await?,
        score(
            stage2,
            &fine,
            &format!("{name}: stage 2 (fine | true coarse)"),
            fine_right,
        )
        .await?,
        score(
            pipeline,
            dev,
            &format!("{name}: end to end (fine)"),
            end_to_end,
        )
        .await?,
    ])
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    let args = Args::parse();
    let lm = LM::from_env()?;
    println!("LM: {}", lm.model());
    dspy::configure(lm);

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/trec/train.jsonl");
    let mut pool = data::shuffled(load(&path)?, args.seed);
    let dev: Vec<TrecQuestion> = pool.drain(..args.dev.min(pool.len())).collect();
    println!(
        "TREC: {} dev questions held out, {} to learn from\n",
        dev.len(),
        pool.len()
    );

    let pipeline: Pipeline = Predict::<ClassifyCoarse>::new().then(Predict::<ClassifyFine>::new());
    let mut lines = Vec::new();
    if !args.no_zero_shot {
        lines.extend(score_stages(&pipeline.0, &pipeline.1, &pipeline, &dev, "zero-shot").await?);
    }

    let started = Instant::now();
    let (stage1, stage2) = compile(&pipeline, &pool, &args).await?;
    let compile_time = started.elapsed();
    let compiled = stage1.clone().then(stage2.clone());
    lines.extend(score_stages(&stage1, &stage2, &compiled, &dev, "compiled").await?);

    println!(
        "\n{:<34} {:>19} {:>7} {:>9}",
        "stage", "dev accuracy", "calls", "time"
    );
    for line in &lines {
        line.print();
    }
    println!("compile: {:.1}s", compile_time.as_secs_f64());
    compiled.save(&args.out)?;
    println!("saved the compiled program to {}", args.out.display());
    if let Some(test) = &args.test {
        let line = score(&compiled, &load(test)?, "test", end_to_end).await?;
        println!(
            "test accuracy: {:.3} ({}/{})",
            line.right as f64 / line.all.max(1) as f64,
            line.right,
            line.all
        );
    }
    Ok(())
}

/// Each stage gets balanced labeled demos (the same on every call, so the embedded model keeps
/// them computed), then per question the training questions nearest its input by BM25,
/// nearest last: stage 1's by the question, stage 2's by the question and its coarse class.
async fn compile(
    pipeline: &Pipeline,
    pool: &[TrecQuestion],
    args: &Args,
) -> dspy::Result<(
    KnnProgram<Predict<ClassifyCoarse>>,
    KnnProgram<Predict<ClassifyFine>>,
)> {
    let (coarse, fine) = stage_examples(pool);
    let base1 = LabeledFewShot::new(args.per_class * 6)
        .per_class("label")
        .seed(args.seed)
        .compile(&pipeline.0, &coarse)
        .await?
        .into_program();
    let base2 = LabeledFewShot::new(args.per_fine * 50)
        .per_class("fine_label")
        .seed(args.seed)
        .compile(&pipeline.1, &fine)
        .await?
        .into_program();
    let knn = |n| {
        KNNFewShot::new(n, Bm25::new())
            .keep_demos(true)
            .nearest_last(true)
    };
    let stage1 = knn(args.neighbors)
        .compile(&base1, &coarse)
        .await?
        .into_program();
    let stage2 = knn(args.neighbors)
        .compile(&base2, &fine)
        .await?
        .into_program();
    Ok((stage1, stage2))
}
