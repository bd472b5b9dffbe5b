//! The embedded local model (feature `local`): typed outputs through grammar-constrained
//! decoding, KV reuse of a shared prompt prefix, sampling, and serving many tasks at once.
//!
//! The model is found as `LM::local()` finds it: `DSPY_LOCAL_MODEL`, else the user's cache,
//! fetched there on first use.
#![cfg(feature = "local")]

use dspy::Parameters;
use dspy::adapter::Prompt;
use dspy::lm::{FinishReason, LmRequest, LocalLm, LocalStats};
use dspy::prelude::*;
use std::sync::OnceLock;

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

const LABELS: [&str; 6] = [
    "abbreviation",
    "description",
    "entity",
    "human",
    "location",
    "number",
];

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

/// One test at a time: an engine runs llama.cpp on all but one core, and engines running side by side
/// on a small machine slow each other down many times over.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// One model for the tests that do not count tokens (loading it once saves memory and time).
fn shared() -> &'static LocalLm {
    static LM: OnceLock<LocalLm> = OnceLock::new();
    LM.get_or_init(|| LocalLm::builder().context_size(4096).build().unwrap())
}

/// Two training questions per class, from the TREC training set.
fn trec_demos() -> Vec<Classify> {
    [
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
    ]
    .into_iter()
    .map(|(q, label)| Classify {
        question: q.into(),
        label,
    })
    .collect()
}

fn delta(after: LocalStats, before: LocalStats) -> LocalStats {
    LocalStats {
        requests: after.requests - before.requests,
        prompt_tokens: after.prompt_tokens - before.prompt_tokens,
        prompt_tokens_evaluated: after.prompt_tokens_evaluated - before.prompt_tokens_evaluated,
        prompt_tokens_reused: after.prompt_tokens_reused - before.prompt_tokens_reused,
        generated_tokens: after.generated_tokens - before.generated_tokens,
        grammar_fast_accepts: after.grammar_fast_accepts - before.grammar_fast_accepts,
        grammar_masked: after.grammar_masked - before.grammar_masked,
        grammar_errors: after.grammar_errors - before.grammar_errors,
        ..Default::default()
    }
}

#[tokio::test]
async fn the_local_model_is_a_completion_model_with_structured_output() {
    let _one = one_at_a_time().await;
    let lm = LM::new(shared().clone());
    assert!(!lm.capabilities().chat, "a base model: CompletionAdapter");
    assert!(lm.capabilities().structured_output);
    let path = shared().ready().await.unwrap();
    assert!(path.is_file(), "{}", path.display());
}

#[tokio::test]
async fn predict_on_the_local_model_returns_a_valid_enum_label() {
    let _one = one_at_a_time().await;
    let lm = LM::new(shared().clone());
    let classify = Predict::<Classify>::new()
        .with_lm(lm)
        .with_demos(trec_demos());
    for question in [
        "Who was the first president of the United States ?",
        "What does NASA stand for ?",
        "How far is the Moon from the Earth ?",
        "Where is the Eiffel Tower ?",
    ] {
        let prediction = classify
            .forward(ClassifyInput {
                question: question.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{question}: {e}"));
        // The grammar allows exactly " <label>": nothing for the parser to repair.
        let raw = prediction.raw.strip_prefix(' ').unwrap_or_default();
        assert!(
            LABELS.contains(&raw),
            "{question}: raw {:?}",
            prediction.raw
        );
        assert!(prediction.fixes.is_empty(), "{:?}", prediction.fixes);
        assert_eq!(serde_json::to_value(prediction.label).unwrap(), raw);
        assert_eq!(prediction.lm_calls, 1);
    }
}

fn words_demo() -> Words {
    Words {
        sentence: "Anna met Tom in Berlin".into(),
        count: 5,
        capitalized: vec!["Anna".into(), "Tom".into(), "Berlin".into()],
    }
}

#[tokio::test]
async fn constrained_decoding_gives_an_int_and_a_list() {
    let _one = one_at_a_time().await;
    let words = Predict::<Words>::new()
        .with_lm(LM::new(shared().clone()))
        .with_demos([words_demo()]);
    let before = shared().stats();
    let prediction = words
        .forward(WordsInput {
            sentence: "Alice and Bob flew from Paris to Rome".into(),
        })
        .await
        .unwrap();
    let d = delta(shared().stats(), before);
    // Layout: " <digits>\nCapitalized: <JSON list>", exactly as the grammar allows.
    let (first, rest) = prediction.raw.split_once('\n').expect("two fields");
    let digits = first.strip_prefix(' ').unwrap_or_default();
    assert!(
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()),
        "{first:?}"
    );
    assert_eq!(digits.parse::<u64>().unwrap(), prediction.count);
    let list = rest.strip_prefix("Capitalized: ").expect(rest);
    let parsed: Vec<String> = serde_json::from_str(list.trim()).unwrap();
    assert_eq!(parsed, prediction.capitalized);
    assert!(prediction.fixes.is_empty(), "{:?}", prediction.fixes);
    assert_eq!(d.grammar_errors, 0);
    assert!(
        d.grammar_fast_accepts + d.grammar_masked >= d.generated_tokens,
        "{d:?}"
    );
}

#[tokio::test]
async fn json_answers_follow_the_schema_too() {
    let _one = one_at_a_time().await;
    let words = Predict::<Words>::new()
        .with_lm(LM::new(shared().clone()))
        .with_adapter(JsonAdapter::new().reask(false))
        .with_demos([words_demo()])
        .max_tokens(200);
    let prediction = words
        .forward(WordsInput {
            sentence: "Tom lives in Oslo".into(),
        })
        .await
        .unwrap();
    let object: serde_json::Value = serde_json::from_str(prediction.raw.trim()).unwrap();
    assert_eq!(object["count"], prediction.count);
    assert_eq!(
        object["capitalized"],
        serde_json::json!(prediction.capitalized)
    );
}

#[tokio::test]
async fn a_shared_prefix_is_evaluated_once() {
    let _one = one_at_a_time().await;
    // A model of its own, so no other test's request moves its KV cache between the two calls.
    let local = LocalLm::builder().context_size(2048).build().unwrap();
    let classify = Predict::<Classify>::new()
        .with_lm(LM::new(local.clone()))
        .with_demos(trec_demos());
    let ask = |q: &str| ClassifyInput { question: q.into() };

    let first = classify
        .forward(ask("What does NASA stand for ?"))
        .await
        .unwrap();
    let after_first = local.stats();
    let second = classify
        .forward(ask("Who painted the Mona Lisa ?"))
        .await
        .unwrap();
    let d = delta(local.stats(), after_first);

    assert_eq!(
        after_first.prompt_tokens_reused, 0,
        "nothing cached before the first call"
    );
    assert_eq!(
        d.prompt_tokens_evaluated + d.prompt_tokens_reused,
        d.prompt_tokens
    );
    // Instructions and twelve demos are shared; only the last question differs.
    assert!(d.prompt_tokens_reused > d.prompt_tokens * 3 / 4, "{d:?}");
    assert!(
        d.prompt_tokens_evaluated < after_first.prompt_tokens_evaluated / 4,
        "{d:?}"
    );

    // Reuse changes no answer: a fresh model that evaluates the whole prompt agrees.
    let fresh = LocalLm::builder().context_size(2048).build().unwrap();
    let cold = Predict::<Classify>::new()
        .with_lm(LM::new(fresh.clone()))
        .with_demos(trec_demos())
        .forward(ask("Who painted the Mona Lisa ?"))
        .await
        .unwrap();
    assert_eq!(cold.raw, second.raw);
    assert_eq!(fresh.stats().prompt_tokens_reused, 0);
    let _ = first;
}

#[tokio::test]
async fn predictors_taking_turns_each_keep_their_prefix() {
    let _one = one_at_a_time().await;
    // Two predictors with different demos, called in turn as a pipeline's stages are.
    let demos = trec_demos();
    let run = |slots: u32, both: bool| {
        let demos = demos.clone();
        async move {
            let local = LocalLm::builder()
                .context_size(4096)
                .prefix_slots(slots)
                .build()
                .unwrap();
            let lm = LM::new(local.clone());
            let first = Predict::<Classify>::new()
                .with_lm(lm.clone())
                .with_demos(demos[..6].to_vec());
            let second = Predict::<Classify>::new()
                .with_lm(lm)
                .with_instructions("Name the kind of answer the question wants.")
                .with_demos(demos[6..].to_vec());
            let mut first_raws = Vec::new();
            let mut warm = LocalStats::default();
            for (i, q) in [
                "What does NASA stand for ?",
                "Who painted the Mona Lisa ?",
                "How tall is Mount Everest ?",
            ]
            .into_iter()
            .enumerate()
            {
                let input = || ClassifyInput { question: q.into() };
                first_raws.push(first.forward(input()).await.unwrap().raw);
                if both {
                    second.forward(input()).await.unwrap();
                }
                if i == 0 {
                    warm = local.stats();
                }
            }
            (delta(local.stats(), warm), first_raws)
        }
    };
    let (kept, kept_raws) = run(2, true).await;
    let (one, _) = run(1, true).await;
    // With a slot each, only the questions are evaluated after the first round; with one slot,
    // every call evaluates its predictor's demos again.
    assert!(
        kept.prompt_tokens_reused > kept.prompt_tokens * 3 / 4,
        "{kept:?}"
    );
    assert!(one.prompt_tokens_reused < one.prompt_tokens / 4, "{one:?}");
    assert!(
        kept.prompt_tokens_evaluated * 3 < one.prompt_tokens_evaluated,
        "{kept:?} {one:?}"
    );
    // The other predictor's sequence does not leak into this one's: its answers are those it
    // gives on its own, reusing its prefix the same way. (A prompt evaluated whole rather than
    // on top of a cached prefix may round differently, so that is not the comparison.)
    let (_, alone_raws) = run(1, false).await;
    assert_eq!(kept_raws, alone_raws);
}

#[tokio::test]
async fn prefixes_that_do_not_fit_together_make_room_for_each_other() {
    let _one = one_at_a_time().await;
    // Room for one prompt (about 135 tokens) with its answer, not two: each predictor in turn
    // must push the other's prefix out, and every call still succeeds.
    let local = LocalLm::builder()
        .context_size(200)
        .prefix_slots(4)
        .build()
        .unwrap();
    let lm = LM::new(local.clone());
    let demos = trec_demos();
    let first = Predict::<Classify>::new()
        .with_lm(lm.clone())
        .with_demos(demos[..6].to_vec());
    let second = Predict::<Classify>::new()
        .with_lm(lm)
        .with_demos(demos[6..].to_vec());
    for q in ["What does NASA stand for ?", "Who painted the Mona Lisa ?"] {
        for predictor in [&first, &second] {
            let label = predictor.call(ClassifyInput { question: q.into() }).await;
            assert!(label.is_ok(), "{q}: {label:?}");
        }
    }
    let stats = local.stats();
    assert_eq!(stats.requests, 4);
    assert!(stats.prompt_tokens > 4 * 100, "{stats:?}");
}

fn text_request(prompt: &str) -> LmRequest {
    LmRequest::new(Prompt::Text(prompt.into()))
}

#[tokio::test]
async fn n_samples_share_the_prompt_and_are_reproducible() {
    let _one = one_at_a_time().await;
    let local = shared();
    let lm = LM::new(local.clone());
    let mut request = text_request("The three primary colours are red,");
    request.n = 3;
    request.temperature = Some(1.0);
    request.max_tokens = Some(6);
    request.stop = vec!["\n".into()];
    request.rollout_id = Some(1);
    let response = lm.complete(request.clone()).await.unwrap();
    assert_eq!(response.choices.len(), 3);
    assert_eq!(response.model, "gemma-3-270m");
    for choice in &response.choices {
        assert!(!choice.text.contains('\n'), "{:?}", choice.text);
    }
    assert!(response.usage.completion_tokens <= 18);
    let again = lm.complete(request).await.unwrap();
    let texts = |r: &dspy::LmResponse| r.choices.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(
        texts(&response),
        texts(&again),
        "same seed, request and rollout"
    );
}

#[tokio::test]
async fn max_tokens_cuts_the_answer_and_says_so() {
    let _one = one_at_a_time().await;
    let lm = LM::new(shared().clone());
    let response = lm
        .complete(text_request("Once upon a time").with_max_tokens(3))
        .await
        .unwrap();
    assert_eq!(response.choices[0].finish_reason, FinishReason::Length);
    assert_eq!(response.usage.completion_tokens, 3);
    assert!(response.usage.prompt_tokens >= 4);
}

#[tokio::test(flavor = "current_thread")]
async fn many_tasks_are_served_without_blocking_the_runtime() {
    let _one = one_at_a_time().await;
    let lm = LM::new(shared().clone());
    let questions = [
        "What is the capital of Peru ?",
        "Who wrote Hamlet ?",
        "What does CPU stand for ?",
        "How many legs does a spider have ?",
        "What is a prism ?",
        "What is the largest animal ?",
    ];
    let classify = std::sync::Arc::new(
        Predict::<Classify>::new()
            .with_lm(lm)
            .with_demos(trec_demos()),
    );
    let handles: Vec<_> = questions
        .iter()
        .map(|q| {
            let classify = classify.clone();
            let input = ClassifyInput {
                question: q.to_string(),
            };
            tokio::spawn(async move { classify.forward(input).await.map(|p| p.raw.clone()) })
        })
        .collect();
    // One runtime thread: if a call blocked it, this loop could not run while calls are pending.
    let mut turns = 0u64;
    while !handles.iter().all(|h| h.is_finished()) {
        tokio::task::yield_now().await;
        turns += 1;
    }
    assert!(
        turns > questions.len() as u64,
        "the runtime was blocked ({turns} turns)"
    );
    let mut concurrent = Vec::new();
    for h in handles {
        concurrent.push(h.await.unwrap().unwrap());
    }
    // Interleaved requests (and the prefix reuse between them) change no answer.
    for (q, raw) in questions.iter().zip(&concurrent) {
        let alone = classify
            .forward(ClassifyInput {
                question: q.to_string(),
            })
            .await
            .unwrap();
        assert_eq!(&alone.raw, raw, "{q}");
    }
}

#[tokio::test]
async fn from_env_falls_back_to_the_local_model() {
    let _one = one_at_a_time().await;
    let nothing = LM::from_lookup(|_| None).unwrap();
    assert_eq!(nothing.model(), "gemma-3-270m");
    assert!(!nothing.capabilities().chat);
    let asked = LM::from_lookup(|n| (n == "DSPY_LM").then(|| "local".to_string())).unwrap();
    assert_eq!(asked.model(), "gemma-3-270m");
    let instruct =
        LM::from_lookup(|n| (n == "DSPY_LM").then(|| "local-instruct".to_string())).unwrap();
    assert_eq!(instruct.model(), "smollm2-135m-instruct");
    assert!(instruct.capabilities().chat);
    #[cfg(feature = "openai")]
    {
        let endpoint = LM::from_lookup(|n| match n {
            "DSPY_LM" => Some("ollama/llama3.2".to_string()),
            _ => None,
        })
        .unwrap();
        assert_eq!(endpoint.model(), "llama3.2", "a configured endpoint wins");
    }
}

/// Answer the question with a short factual answer.
#[derive(Signature, Clone, Debug)]
struct Factoid {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[tokio::test]
async fn the_instruct_model_chats_through_its_template_and_answers_in_json() {
    let _one = one_at_a_time().await;
    let local = LocalLm::builder()
        .instruct_model()
        .context_size(2048)
        .build()
        .unwrap();
    assert_eq!(local.model(), "smollm2-135m-instruct");
    let caps = local.capabilities();
    assert!(caps.chat && caps.schema_enforced, "{caps:?}");
    let lm = LM::new(local.clone());

    // Chat messages, the JSON adapter, and an answer a model this small still gets right.
    let factoid = Predict::<Factoid>::new().with_lm(lm.clone());
    let paris = factoid
        .forward(FactoidInput {
            question: "What is the capital of France?".into(),
        })
        .await
        .unwrap();
    assert!(
        paris.output.answer.to_lowercase().contains("paris"),
        "{:?}",
        paris.raw
    );
    let sent = factoid
        .render(&FactoidInput {
            question: "What is the capital of France?".into(),
        })
        .unwrap();
    assert!(matches!(sent.prompt, Prompt::Chat(_)), "{:?}", sent.prompt);

    // Typed outputs hold whatever the model thinks: the grammar keeps every label valid.
    let classify = Predict::<Classify>::new().with_lm(lm);
    for question in [
        "Who wrote Hamlet ?",
        "How far is the Moon ?",
        "What does NASA stand for ?",
    ] {
        let label = classify
            .call(ClassifyInput {
                question: question.into(),
            })
            .await;
        assert!(label.is_ok(), "{question}: {label:?}");
    }
    let stats = local.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.grammar_errors, 0);
}

/// A question of the RAG example's data: which package a one-line summary describes.
#[derive(Deserialize)]
struct PackageQuestion {
    question: String,
    answer: String,
}

/// The summary a question quotes (`Which Debian package is described as "…"?`).
fn summary(question: &str) -> &str {
    let start = question.find('"').map_or(0, |i| i + 1);
    let end = question
        .rfind('"')
        .filter(|&e| e > start)
        .unwrap_or(question.len());
    &question[start..end]
}

/// Gemma 3 270M's hidden size: the length of its embeddings.
const GEMMA_270M_DIMENSIONS: usize = 640;

#[tokio::test]
async fn the_local_model_embeds_so_a_package_is_found_by_its_summary() {
    use dspy::lm::CacheConfig;
    use dspy::retrieve::{Passage, Retriever, VectorIndex};
    let _one = one_at_a_time().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/debian");
    let passages: Vec<Passage> = dspy::data::load_jsonl(dir.join("passages.jsonl")).unwrap();
    let questions: Vec<PackageQuestion> = dspy::data::load_jsonl(dir.join("questions.jsonl"))
        .unwrap()
        .into_iter()
        .take(20)
        .collect();
    // The 20 packages asked for, and 20 that no question asks for.
    let asked = |p: &Passage| questions.iter().any(|q| q.answer == p.id);
    let mut corpus: Vec<Passage> = passages.iter().filter(|p| asked(p)).cloned().collect();
    assert_eq!(corpus.len(), questions.len());
    corpus.extend(passages.iter().filter(|p| !asked(p)).take(20).cloned());

    // Through an LM: the layers (here a memory cache) see the embedding calls.
    let lm = LM::builder(shared().clone())
        .cache(CacheConfig::memory_only())
        .build();
    let index = VectorIndex::build(lm.clone(), corpus.clone())
        .await
        .unwrap();
    for v in index.vectors() {
        assert_eq!(v.len(), GEMMA_270M_DIMENSIONS);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let mut first = 0;
    for q in &questions {
        let hits = index.search(summary(&q.question), 3).await.unwrap();
        first += usize::from(hits[0].id == q.answer);
    }
    eprintln!(
        "local embeddings: the package asked for ranked first for {first} of {} summaries among {} passages",
        questions.len(),
        corpus.len()
    );
    assert!(
        2 * first > questions.len(),
        "{first} of {}",
        questions.len()
    );
    let usage = lm.usage();
    assert_eq!(usage.calls as usize, 1 + questions.len(), "{usage:?}");
    assert!(usage.usage.prompt_tokens > 40 * 20, "{usage:?}");

    // Built again, every passage comes from the cache: nothing reaches the model.
    let again = VectorIndex::build(lm.clone(), corpus).await.unwrap();
    assert_eq!(again.vectors(), index.vectors());
    assert_eq!(lm.usage().calls, usage.calls);
    assert_eq!(lm.usage().cache_hits, usage.cache_hits + 1);
}

/// Answer questions about countries.
#[derive(Signature, Clone, Debug)]
struct Geo {
    #[input]
    question: String,
    #[output]
    answer: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct CountryArgs {
    /// The country's name in English.
    country: String,
}

#[tokio::test]
async fn react_tool_arguments_are_decoded_under_the_tools_schema() {
    let _one = one_at_a_time().await;
    let capital = Tool::new(
        "capital",
        "Looks up the capital city of a country.",
        |args: CountryArgs| async move {
            match args.country.as_str() {
                "Japan" => Ok("Tokyo".to_string()),
                "Peru" => Ok("Lima".to_string()),
                other => Err(format!("no capital known for {other}")),
            }
        },
    );
    let mut agent = ReAct::<Geo>::new([capital])
        .max_iters(1)
        .with_lm(LM::new(shared().clone()));
    let demo = |country: &str| {
        serde_json::json!({
            "question": format!("What is the capital of {country}?"), "trajectory": "",
            "next_thought": "I look up its capital.", "next_tool_name": "capital",
            "next_tool_args": {"country": country}
        })
        .as_object()
        .unwrap()
        .clone()
    };
    agent
        .predictor_mut("react")
        .unwrap()
        .set_demos_json(vec![demo("France"), demo("Chile"), demo("Kenya")])
        .unwrap();
    let run = agent
        .forward(GeoInput {
            question: "What is the capital of Japan?".into(),
        })
        .await
        .unwrap();
    let step = &run.trajectory.steps[0];
    // The grammar lets the arguments be only one of the tools' (once only `{}` fitted), so the
    // tool the model chose takes them.
    assert_eq!(step.tool_name, "capital", "{:?}", run.trajectory);
    assert!(
        step.tool_args["country"].is_string(),
        "{:?}",
        step.tool_args
    );
    assert!(
        !step.observation_text().contains("invalid arguments"),
        "{}",
        step.observation_text()
    );
}
