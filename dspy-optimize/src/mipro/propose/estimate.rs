//! What the grounded proposer costs on the prompt model: the data summary, the program's and
//! each predictor's descriptions, and the proposals.

use super::*;
use crate::search::estimate::{Count, Estimator};
use dspy_core::util::snippet;

/// Characters of the observations and descriptions the prompt model is expected to write.
const WRITTEN: usize = 600;

/// What the proposer asks, sized from the program and the training examples.
pub(in crate::mipro) struct Asks<'a> {
    pub predictors: &'a [(String, &'a dyn DynPredictor)],
    pub trainset: &'a [FieldValues],
    /// Training examples per summary call.
    pub batch: usize,
    pub data_aware: bool,
    pub program_aware: bool,
    /// Proposals per predictor.
    pub proposals: Vec<u64>,
}

/// Adds the proposer's phases to `estimate`.
pub(in crate::mipro) fn prompt_calls(estimate: &mut Estimator, asks: &Asks<'_>) -> Result<()> {
    let batch = asks.batch.max(1);
    let first = &asks.trainset[..asks.trainset.len().min(batch)];
    let examples = examples_text(first);
    let written = snippet(&examples, WRITTEN);
    if asks.data_aware {
        summary_calls(estimate, asks, &examples, &written)?;
    }
    let code = program_code(asks.predictors);
    let example = asks
        .trainset
        .first()
        .and_then(|demo| Some(demo_text(asks.predictors.first()?.1, demo)))
        .unwrap_or_else(|| NO_DEMOS.to_string());
    if asks.program_aware {
        let input = DescribeProgramInput {
            program_code: code.clone(),
            program_example: example.clone(),
        };
        let answer = DescribeProgramOutput {
            program_description: written.clone(),
        };
        let once = Count::exactly(1);
        estimate.proposals::<DescribeProgram>("describe the program", once, &input, &answer)?;
        if let Some((name, predictor)) = asks.predictors.first() {
            let input = DescribeModuleInput {
                program_code: code.clone(),
                program_example: example.clone(),
                program_description: written.clone(),
                module: module_line(name, *predictor),
            };
            let answer = DescribeModuleOutput {
                module_description: written.clone(),
            };
            let each = Count::exactly(asks.predictors.len() as u64);
            estimate.proposals::<DescribeModule>(
                "describe each predictor",
                each,
                &input,
                &answer,
            )?;
        }
    }
    proposals(estimate, asks, &code, &example, &written)
}

/// The summary: the first batch's observations, more on each later batch (at most 10 calls in
/// all), then the summary of them.
fn summary_calls(
    estimate: &mut Estimator,
    asks: &Asks<'_>,
    examples: &str,
    written: &str,
) -> Result<()> {
    let (n, batch) = (asks.trainset.len(), asks.batch.max(1));
    let input = DescribeDatasetInput {
        examples: examples.to_string(),
    };
    let observed = DescribeDatasetOutput {
        observations: written.to_string(),
    };
    let once = Count::exactly(1);
    estimate.proposals::<DescribeDataset>("observe the data", once, &input, &observed)?;
    // As `summarize` counts them: one call per later batch, until the tenth call in all.
    let later = n
        .saturating_sub(batch)
        .div_ceil(batch)
        .min(MAX_DESCRIBE_CALLS - 1);
    if later > 0 {
        let input = DescribeDatasetFurtherInput {
            examples: examples.to_string(),
            prior_observations: written.to_string(),
        };
        let more = DescribeDatasetFurtherOutput {
            observations: written.to_string(),
        };
        let calls = Count::exactly(later as u64);
        estimate.proposals::<DescribeDatasetFurther>(
            "observe more batches",
            calls,
            &input,
            &more,
        )?;
    }
    let input = SummarizeObservationsInput {
        observations: written.repeat(later + 1),
    };
    let answer = SummarizeObservationsOutput {
        summary: written.to_string(),
    };
    estimate.proposals::<SummarizeObservations>("summarize the data", once, &input, &answer)
}

/// The instruction proposals, each grounded in everything above and shown three demos.
fn proposals(
    estimate: &mut Estimator,
    asks: &Asks<'_>,
    code: &str,
    example: &str,
    written: &str,
) -> Result<()> {
    let total: u64 = asks.proposals.iter().sum();
    let Some((name, predictor)) = asks.predictors.first() else {
        return Ok(());
    };
    let demos: Vec<String> = asks
        .trainset
        .iter()
        .take(3)
        .map(|demo| demo_text(*predictor, demo))
        .collect();
    let current = predictor.effective_instructions().to_string();
    let input = ProposeGroundedInstructionInput {
        dataset_description: written.to_string(),
        program_code: code.to_string(),
        program_description: written.to_string(),
        module: module_line(name, *predictor),
        module_description: written.to_string(),
        task_demos: if demos.is_empty() {
            example.to_string()
        } else {
            demos.join("\n\n")
        },
        basic_instruction: current.clone(),
        tip: TIPS[1].to_string(),
    };
    let answer = ProposeGroundedInstructionOutput {
        proposed_instruction: current,
    };
    let calls = Count::exactly(total);
    estimate.proposals::<ProposeGroundedInstruction>("propose instructions", calls, &input, &answer)
}
