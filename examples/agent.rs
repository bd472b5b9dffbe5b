//! Agent: a ReAct agent with two typed tools, a calculator and a unit converter, answering
//! questions that need both.
//!
//! ```sh
//! DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --example agent
//! # or any OpenAI-compatible server:
//! DSPY_LM=ollama/llama3.2 cargo run --example agent
//! ```

use dspy::prelude::*;

/// Answer the question with a number. Use the tools for every unit conversion and every
/// calculation; do not compute in your head.
#[derive(Signature, Clone, Debug)]
struct Solve {
    #[input(desc = "a question that needs unit conversions and arithmetic")]
    question: String,
    #[output(desc = "the number asked for, in the unit the question asks for")]
    answer: f64,
}

/// An arithmetic operation.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
enum Op {
    #[serde(rename = "+")]
    Add,
    #[serde(rename = "-")]
    Sub,
    #[serde(rename = "*")]
    Mul,
    #[serde(rename = "/")]
    Div,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Calculation {
    /// The left operand.
    a: f64,
    /// The operation.
    op: Op,
    /// The right operand.
    b: f64,
}

async fn calculate(c: Calculation) -> Result<f64, String> {
    match c.op {
        Op::Add => Ok(c.a + c.b),
        Op::Sub => Ok(c.a - c.b),
        Op::Mul => Ok(c.a * c.b),
        Op::Div if c.b == 0.0 => Err("division by zero".into()),
        Op::Div => Ok(c.a / c.b),
    }
}

/// A unit of length, mass or temperature.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Unit {
    M,
    Km,
    Mi,
    Ft,
    Kg,
    Lb,
    C,
    F,
}

impl Unit {
    /// What it measures.
    fn dimension(self) -> &'static str {
        match self {
            Unit::M | Unit::Km | Unit::Mi | Unit::Ft => "length",
            Unit::Kg | Unit::Lb => "mass",
            Unit::C | Unit::F => "temperature",
        }
    }

    /// `x` of this unit in the dimension's base unit (m, kg, °C).
    fn to_base(self, x: f64) -> f64 {
        match self {
            Unit::M | Unit::Kg | Unit::C => x,
            Unit::Km => x * 1000.0,
            Unit::Mi => x * 1609.344,
            Unit::Ft => x * 0.3048,
            Unit::Lb => x * 0.453_592_37,
            Unit::F => (x - 32.0) * 5.0 / 9.0,
        }
    }

    /// `x` of the dimension's base unit in this unit.
    fn of_base(self, x: f64) -> f64 {
        match self {
            Unit::M | Unit::Kg | Unit::C => x,
            Unit::Km => x / 1000.0,
            Unit::Mi => x / 1609.344,
            Unit::Ft => x / 0.3048,
            Unit::Lb => x / 0.453_592_37,
            Unit::F => x * 9.0 / 5.0 + 32.0,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Conversion {
    /// The quantity to convert.
    value: f64,
    /// Its unit.
    from: Unit,
    /// The unit wanted.
    to: Unit,
}

async fn convert(c: Conversion) -> Result<f64, String> {
    let (from, to) = (c.from.dimension(), c.to.dimension());
    if from != to {
        return Err(format!(
            "cannot convert {from} ({:?}) to {to} ({:?})",
            c.from, c.to
        ));
    }
    Ok(c.to.of_base(c.from.to_base(c.value)))
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    let lm = match LM::from_env() {
        Ok(lm) => lm,
        Err(e) => {
            eprintln!(
                "{e}\n\nThis example needs a chat model. For example:\n  \
                 DSPY_LM=openai/gpt-4o-mini OPENAI_API_KEY=sk-... cargo run --example agent\n  \
                 DSPY_LM=ollama/llama3.2 cargo run --example agent"
            );
            return Ok(());
        }
    };
    dspy::configure(lm);

    let agent = ReAct::<Solve>::new([
        Tool::new(
            "calculate",
            "Computes `a op b` for one of the operations + - * /.",
            calculate,
        ),
        Tool::new(
            "convert",
            "Converts a quantity between units of the same kind: m, km, mi, ft (length), kg, lb \
             (mass), c, f (temperature).",
            convert,
        ),
    ])
    .max_iters(8);

    for question in [
        "How many hours does it take to run a marathon (42.195 km) at 6 miles per hour?",
        "A recipe bakes at 350 °F. What is that in °C, minus 10?",
    ] {
        let run = agent
            .forward(SolveInput {
                question: question.into(),
            })
            .await?;
        println!("{question}");
        for (i, step) in run.trajectory.steps.iter().enumerate() {
            println!(
                "  {i}. {} {} -> {}",
                step.tool_name,
                step.tool_args,
                step.observation_text()
            );
        }
        println!(
            "  answer: {} ({:?}, {} LM calls, {} tokens)\n",
            run.answer,
            run.stop,
            run.lm_calls,
            run.usage.total()
        );
    }
    Ok(())
}
