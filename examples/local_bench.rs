//! Benchmark of the embedded local model: prompt and generation speed, the cost of
//! grammar-constrained decoding per token, the speedup from reusing a shared prompt prefix, and
//! from keeping several prefixes when two predictors take turns.
//!
//! ```sh
//! cargo run --release --features local --example local_bench [threads]
//! ```
//!
//! Without a thread count it runs with the library's default (`DSPY_LOCAL_THREADS`, else one
//! core fewer than the machine has). Run it with 1 and with all cores, on an idle machine and
//! with other work running, to see what the default trades.
//!
//! Compare its prompt and generation tok/s with llama.cpp's own `llama-bench` on the same model
//! and thread count (`llama-bench -m gemma-3-270m-q4_k_m.gguf -t 2 -p 512 -n 128`).

use dspy::adapter::Prompt;
use dspy::lm::{LmRequest, LocalLm, LocalStats};
use dspy::prelude::*;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Coarse {
    Abbreviation,
    Description,
    Entity,
    Human,
    Location,
    Number,
}

/// Classify the question by the kind of answer it expects.
#[derive(Signature, Clone, Debug)]
struct Classify {
    #[input]
    question: String,
    #[output(prefix = "Answer type:")]
    label: Coarse,
}

/// Count the words of the sentence and list the capitalized ones.
#[derive(Signature, Clone, Debug)]
struct Words {
    #[input]
    sentence: String,
    #[output]
    count: u64,
    #[output]
    capitalized: Vec<String>,
}

const DEMOS: [(&str, Coarse); 12] = [
    ("What is the full form of .com ?", Coarse::Abbreviation),
    (
        "What does the abbreviation AIDS stand for ?",
        Coarse::Abbreviation,
    ),
    (
        "How did serfdom develop in and then leave Russia ?",
        Coarse::Description,
    ),
    ("What are liver enzymes ?", Coarse::Description),
    (
        "What films featured the character Popeye Doyle ?",
        Coarse::Entity,
    ),
    (
        "What fowl grabs the spotlight after the Chinese Year of the Monkey ?",
        Coarse::Entity,
    ),
    (
        "What contemptible scoundrel stole the cork from my lunch ?",
        Coarse::Human,
    ),
    (
        "What team did baseball s St. Louis Browns become ?",
        Coarse::Human,
    ),
    (
        "What sprawling U.S. state boasts the most airports ?",
        Coarse::Location,
    ),
    (
        "What is the highest waterfall in the United States ?",
        Coarse::Location,
    ),
    ("When was Ozzy Osbourne born ?", Coarse::Number),
    (
        "How many Jews were executed in concentration camps during WWII ?",
        Coarse::Number,
    ),
];

const QUESTIONS: [&str; 10] = [
    "Who was the first president of the United States ?",
    "What does NASA stand for ?",
    "How far is the Moon from the Earth ?",
    "Where is the Eiffel Tower ?",
    "What is the capital of Peru ?",
    "Who wrote Hamlet ?",
    "What is a prism ?",
    "How many legs does a spider have ?",
    "What is the largest animal ?",
    "What does CPU stand for ?",
];

fn demos() -> Vec<Classify> {
    DEMOS
        .iter()
        .map(|(q, label)| Classify {
            question: q.to_string(),
            label: *label,
        })
        .collect()
}

fn since(after: LocalStats, before: LocalStats) -> LocalStats {
    LocalStats {
        requests: after.requests - before.requests,
        prompt_tokens: after.prompt_tokens - before.prompt_tokens,
        prompt_tokens_evaluated: after.prompt_tokens_evaluated - before.prompt_tokens_evaluated,
        prompt_tokens_reused: after.prompt_tokens_reused - before.prompt_tokens_reused,
        prompt_time: after.prompt_time - before.prompt_time,
        generated_tokens: after.generated_tokens - before.generated_tokens,
        generation_time: after.generation_time - before.generation_time,
        grammar_fast_accepts: after.grammar_fast_accepts - before.grammar_fast_accepts,
        grammar_masked: after.grammar_masked - before.grammar_masked,
        grammar_mask_time: after.grammar_mask_time - before.grammar_mask_time,
        grammar_errors: after.grammar_errors - before.grammar_errors,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> dspy::Result<()> {
    // The threads given, else the library's default (`DSPY_LOCAL_THREADS`, else a core fewer
    // than the machine has).
    let chosen: Option<usize> = std::env::args().nth(1).and_then(|t| t.parse().ok());

    let started = Instant::now();
    let path = tokio::task::spawn_blocking(LocalLm::fetch_default_model)
        .await
        .map_err(|e| dspy::Error::config(e.to_string()))??;
    println!(
        "model: {} (found in {:.1} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );

    let mut builder = LocalLm::builder();
    if let Some(threads) = chosen {
        builder = builder.threads(threads);
    }
    let local = builder.build()?;
    let threads = local.threads();
    let started = Instant::now();
    local.ready().await?;
    println!(
        "load: {:.2} s, {threads} threads",
        started.elapsed().as_secs_f64()
    );
    let lm = LM::new(local.clone());

    // Prompt processing: long prompts that share nothing with the previous one.
    let filler: String = DEMOS
        .iter()
        .cycle()
        .take(40)
        .map(|(q, l)| format!("Question: {q}\nAnswer type: {l:?}\n\n"))
        .collect();
    let before = local.stats();
    for run in 0..3 {
        let prompt = format!("Run {run}. {filler}Question: Who are you ?\nAnswer type:");
        lm.complete(LmRequest::new(Prompt::Text(prompt)).with_max_tokens(1))
            .await?;
    }
    let prompt = since(local.stats(), before);
    println!(
        "prompt: {:.0} tok/s ({} tokens in {:.0} ms)",
        prompt.prompt_tokens_per_second(),
        prompt.prompt_tokens_evaluated,
        ms(prompt.prompt_time)
    );

    // Generation, unconstrained and greedy.
    let before = local.stats();
    for run in 0..3 {
        let request = LmRequest::new(Prompt::Text(format!(
            "Chapter {run}. It was a dark and stormy night;"
        )))
        .with_max_tokens(128);
        lm.complete(request).await?;
    }
    let generation = since(local.stats(), before);
    let free_per_token = generation.generation_time / generation.generated_tokens.max(1) as u32;
    println!(
        "generation: {:.1} tok/s ({} tokens, {:.1} ms/token)",
        generation.generated_tokens_per_second(),
        generation.generated_tokens,
        ms(free_per_token)
    );

    // Constrained decoding: an enum with demos (the model mostly picks allowed tokens), and an
    // int plus a list with one demo.
    let classify = Predict::<Classify>::new()
        .with_lm(lm.clone())
        .with_demos(demos());
    let words = Predict::<Words>::new()
        .with_lm(lm.clone())
        .with_demos([Words {
            sentence: "Anna met Tom in Berlin".into(),
            count: 5,
            capitalized: vec!["Anna".into(), "Tom".into(), "Berlin".into()],
        }])
        .max_tokens(64);
    for (name, run) in [("enum, 12 demos", 0), ("int + list, 1 demo", 1)] {
        let before = local.stats();
        for q in QUESTIONS.iter().take(5) {
            if run == 0 {
                classify
                    .call(ClassifyInput {
                        question: q.to_string(),
                    })
                    .await?;
            } else {
                let _ = words
                    .call(WordsInput {
                        sentence: q.to_string(),
                    })
                    .await;
            }
        }
        let s = since(local.stats(), before);
        let per_token = s.generation_time / s.generated_tokens.max(1) as u32;
        let per_mask = s.grammar_mask_time / s.grammar_masked.max(1) as u32;
        println!(
            "constrained ({name}): {:.1} ms/token vs {:.1} unconstrained; {} picks allowed at once, \
             {} masked at {:.1} ms each",
            ms(per_token),
            ms(free_per_token),
            s.grammar_fast_accepts,
            s.grammar_masked,
            ms(per_mask)
        );
    }

    // Prefix reuse: the same 10 questions, with the demos cached, then with every prompt made
    // unique from its first token (instructions numbered), so nothing can be reused.
    let before = local.stats();
    let started = Instant::now();
    for q in QUESTIONS {
        classify
            .call(ClassifyInput {
                question: q.to_string(),
            })
            .await?;
    }
    let warm_time = started.elapsed();
    let warm = since(local.stats(), before);
    let before = local.stats();
    let started = Instant::now();
    for (i, q) in QUESTIONS.iter().enumerate() {
        Predict::<Classify>::new()
            .with_lm(lm.clone())
            .with_demos(demos())
            .with_instructions(format!(
                "{i}. Classify the question by the kind of answer it expects."
            ))
            .call(ClassifyInput {
                question: q.to_string(),
            })
            .await?;
    }
    let cold_time = started.elapsed();
    let cold = since(local.stats(), before);
    println!(
        "prefix reuse: {:.0} ms/call with the prefix cached ({} of {} prompt tokens reused) vs \
         {:.0} ms/call without ({} evaluated): {:.1}x faster",
        ms(warm_time) / QUESTIONS.len() as f64,
        warm.prompt_tokens_reused,
        warm.prompt_tokens,
        ms(cold_time) / QUESTIONS.len() as f64,
        cold.prompt_tokens_evaluated,
        cold_time.as_secs_f64() / warm_time.as_secs_f64()
    );

    // Two predictors taking turns, as a pipeline's stages do: with one prefix slot each call
    // evaluates its predictor's demos again; with the default slots each keeps its own.
    for slots in [4, 1] {
        let local = LocalLm::builder()
            .threads(threads)
            .prefix_slots(slots)
            .build()?;
        let lm = LM::new(local.clone());
        let mut reversed = demos();
        reversed.reverse();
        let first = Predict::<Classify>::new()
            .with_lm(lm.clone())
            .with_demos(demos());
        let second = Predict::<Classify>::new()
            .with_lm(lm)
            .with_instructions("Name the kind of answer the question wants.")
            .with_demos(reversed);
        let started = Instant::now();
        for q in QUESTIONS {
            let input = || ClassifyInput {
                question: q.to_string(),
            };
            first.call(input()).await?;
            second.call(input()).await?;
        }
        let elapsed = started.elapsed();
        let s = local.stats();
        println!(
            "two predictors in turn, {slots} prefix slot(s): {:.0} ms/call, {} of {} prompt \
             tokens evaluated",
            ms(elapsed) / (2 * QUESTIONS.len()) as f64,
            s.prompt_tokens_evaluated,
            s.prompt_tokens
        );
    }
    Ok(())
}
