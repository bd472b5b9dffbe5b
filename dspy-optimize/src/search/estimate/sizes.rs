//! The sizes of the prompts a compile sends, from the prompts themselves: each predictor's,
//! rendered with its adapter for a few training examples with and without demos, and the
//! optimizer's own proposer calls, rendered the same way. No LM is called.

use crate::search::fields::{all_fields, fits};
use dspy_core::adapter::{FieldValues, Formatted};
use dspy_core::lm::with_lm_sync;
use dspy_core::{DynPredictor, FieldSpec, LM, Parameters, Predict, Result, Signature};
use serde::Serialize;
use serde_json::Value;

/// Training examples a predictor's prompt is rendered for (their mean is its size).
const SAMPLES: usize = 8;
/// Demos rendered to measure what one adds.
const DEMOS_MEASURED: usize = 4;
/// Characters per token: the rule [`DummyLm`](dspy_core::DummyLm) counts tokens by.
pub(crate) const CHARS_PER_TOKEN: f64 = 4.0;

/// How many demos each predictor shows in a phase's prompts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Demos {
    /// The demos the program has.
    Given,
    /// Up to `n` each (no more than the training examples that fit it, when any do; a
    /// predictor no example fits gets its demos from traces, up to `n`).
    Up(usize),
}

/// One predictor's prompt, measured in characters.
#[derive(Debug, Clone)]
struct PredictorSize {
    /// Without demos.
    base: f64,
    /// What each demo adds.
    per_demo: f64,
    /// Its answer.
    answer: f64,
    given_demos: usize,
    /// Training examples that fit it as demos.
    fitting: usize,
    /// The most LM calls one call of it makes.
    attempts: u32,
}

/// One program run in LM calls and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct RunSize {
    /// LM calls: at most (every predictor's every attempt) and expected (one each).
    pub calls: (u64, u64),
    /// Prompt tokens of those calls.
    pub prompt_tokens: (f64, f64),
    /// Completion tokens of those calls.
    pub completion_tokens: (f64, f64),
}

/// Every predictor of a program, measured.
#[derive(Debug, Clone)]
pub(crate) struct ProgramSizes {
    predictors: Vec<PredictorSize>,
    /// What could not be measured, in words.
    pub notes: Vec<String>,
}

impl ProgramSizes {
    /// Measures `program`'s prompts for the first training examples, rendered as under `lm`
    /// (the adapter it picks; none: the chat adapter).
    pub(crate) fn of<P, E>(program: &P, trainset: &[E], lm: Option<&LM>) -> Result<Self>
    where
        P: Parameters + Clone,
        E: Serialize,
    {
        let examples = all_fields(trainset)?;
        match lm {
            Some(lm) => with_lm_sync(lm.clone(), || measure(program, &examples)),
            None => measure(program, &examples),
        }
    }

    /// One run of the program with `demos` shown.
    pub(crate) fn run(&self, demos: Demos) -> RunSize {
        let mut size = RunSize::default();
        for p in &self.predictors {
            let shown = match demos {
                Demos::Given => p.given_demos,
                Demos::Up(n) if p.fitting > 0 => n.min(p.fitting),
                Demos::Up(n) => n,
            };
            let prompt = (p.base + shown as f64 * p.per_demo) / CHARS_PER_TOKEN;
            let answer = p.answer / CHARS_PER_TOKEN;
            let attempts = f64::from(p.attempts);
            size.calls.0 += u64::from(p.attempts);
            size.calls.1 += 1;
            size.prompt_tokens.0 += attempts * prompt;
            size.prompt_tokens.1 += prompt;
            size.completion_tokens.0 += attempts * answer;
            size.completion_tokens.1 += answer;
        }
        size
    }

    /// How many predictors a run calls.
    pub(crate) fn predictors(&self) -> usize {
        self.predictors.len()
    }
}

/// One proposer call of the prompt model: `S` with `input`, answered with `output`, rendered
/// as under `lm`.
pub(crate) fn proposer_call<S: Signature>(
    lm: Option<&LM>,
    input: &S::Input,
    output: &S::Output,
) -> Result<RunSize> {
    let render = || -> Result<RunSize> {
        let predict = Predict::<S>::new();
        let formatted = predict.render(input)?;
        let answer = answer_chars(&formatted, &as_fields(output)?);
        let (prompt, answer) = (
            prompt_chars(&formatted) / CHARS_PER_TOKEN,
            answer / CHARS_PER_TOKEN,
        );
        let attempts = predict.lm_calls_at_most();
        let each = f64::from(attempts);
        Ok(RunSize {
            calls: (u64::from(attempts), 1),
            prompt_tokens: (each * prompt, prompt),
            completion_tokens: (each * answer, answer),
        })
    };
    match lm {
        Some(lm) => with_lm_sync(lm.clone(), render),
        None => render(),
    }
}

/// Every predictor of `program` measured, under the LM in effect.
fn measure<P: Parameters + Clone>(program: &P, examples: &[FieldValues]) -> Result<ProgramSizes> {
    let mut bare = program.clone();
    let mut shown = program.clone();
    let mut fitting = Vec::new();
    for ((_, p), (_, q)) in bare
        .predictors_mut()
        .into_iter()
        .zip(shown.predictors_mut())
    {
        let fit: Vec<&FieldValues> = examples.iter().filter(|e| fits(&*p, e)).collect();
        p.set_demos_json(Vec::new())?;
        let measured: Vec<FieldValues> = fit
            .iter()
            .take(DEMOS_MEASURED)
            .map(|e| (*e).clone())
            .collect();
        q.set_demos_json(measured)?;
        fitting.push(fit.len());
    }
    let mut sizes = ProgramSizes {
        predictors: Vec::new(),
        notes: Vec::new(),
    };
    let (givens, bares, showns) = (program.predictors(), bare.predictors(), shown.predictors());
    for (i, (name, given)) in givens.iter().enumerate() {
        let size = predictor_size(*given, bares[i].1, showns[i].1, examples, fitting[i]);
        if size.base == 0.0 {
            sizes.notes.push(format!(
                "the prompt of `{name}` could not be rendered for any training example, so its tokens are not counted"
            ));
        }
        sizes.predictors.push(size);
    }
    Ok(sizes)
}

/// One predictor measured: its prompt without demos (`bare`), with up to four fitting demos
/// (`shown`) and with its own (`given`), over the first training examples.
fn predictor_size(
    given: &dyn DynPredictor,
    bare: &dyn DynPredictor,
    shown: &dyn DynPredictor,
    examples: &[FieldValues],
    fitting: usize,
) -> PredictorSize {
    let mut inputs: Vec<FieldValues> = examples
        .iter()
        .take(SAMPLES)
        .map(|e| values_for(&given.signature().inputs, e))
        .collect();
    if inputs.is_empty() {
        inputs.push(values_for(&given.signature().inputs, &FieldValues::new()));
    }
    let mean = |p: &dyn DynPredictor| -> (f64, f64) {
        let rendered: Vec<(f64, f64)> = inputs
            .iter()
            .zip(
                examples
                    .iter()
                    .chain(std::iter::repeat(&FieldValues::new())),
            )
            .filter_map(|(input, example)| {
                let formatted = p.render_json(input).ok()?;
                let answer = values_for(&p.signature().outputs, example);
                Some((prompt_chars(&formatted), answer_chars(&formatted, &answer)))
            })
            .collect();
        let n = rendered.len().max(1) as f64;
        let (prompt, answer) = rendered
            .iter()
            .fold((0.0, 0.0), |(a, b), (p, q)| (a + p, b + q));
        (prompt / n, answer / n)
    };
    let (base, answer) = mean(bare);
    let per_demo =
        |p: &dyn DynPredictor, count: usize| (count > 0).then(|| (mean(p).0 - base) / count as f64);
    let measured = fitting.min(DEMOS_MEASURED);
    let per_demo = per_demo(shown, measured)
        .or_else(|| per_demo(given, given.demo_count()))
        // A demo is an input and its answer, about the size of the call's own.
        .unwrap_or_else(|| {
            inputs.iter().map(value_chars).sum::<f64>() / inputs.len() as f64 + answer
        });
    PredictorSize {
        base,
        per_demo: per_demo.max(0.0),
        answer,
        given_demos: given.demo_count(),
        fitting,
        attempts: given.lm_calls_at_most(),
    }
}

/// The prompt's text length, as a text-only backend would receive it.
fn prompt_chars(formatted: &Formatted) -> f64 {
    formatted.prompt.to_text().len() as f64
}

/// The length of `answer` written as the prompt asks for answers.
fn answer_chars(formatted: &Formatted, answer: &FieldValues) -> f64 {
    formatted.answer_format.render(answer).len() as f64
}

/// The characters of the values of `fields` (strings as they are).
fn value_chars(fields: &FieldValues) -> f64 {
    fields
        .values()
        .map(|v| match v {
            Value::String(s) => s.len(),
            other => other.to_string().len(),
        })
        .sum::<usize>() as f64
}

fn as_fields<T: Serialize>(value: &T) -> Result<FieldValues> {
    match serde_json::to_value(value)? {
        Value::Object(fields) => Ok(fields),
        _ => Ok(FieldValues::new()),
    }
}

/// The values of `fields`: the example's where it has them, else the least value of the
/// field's type (an intermediate stage's input is not in the training examples).
fn values_for(fields: &[FieldSpec], example: &FieldValues) -> FieldValues {
    fields
        .iter()
        .map(|f| {
            let value = example
                .get(&f.name)
                .cloned()
                .unwrap_or_else(|| placeholder(&f.schema));
            (f.name.clone(), value)
        })
        .collect()
}

/// The least value of a JSON schema's type: `""`, `0`, `false`, `[]`, `{}` with its required
/// properties, the first of an enum, `null` for what may be null.
fn placeholder(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(|e| e.as_array()?.first().cloned())
    {
        return first;
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema.get(key).and_then(|s| s.as_array()?.first().cloned()) {
            return placeholder(&first);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) if kinds.iter().any(|k| k == "null") => "null",
        Some(Value::Array(kinds)) => kinds.first().and_then(Value::as_str).unwrap_or("null"),
        Some(Value::String(kind)) => kind.as_str(),
        _ => "null",
    };
    match kind {
        "string" => Value::String(String::new()),
        "integer" | "number" => Value::from(0),
        "boolean" => Value::Bool(false),
        "array" => Value::Array(Vec::new()),
        "object" => Value::Object(required_properties(schema)),
        _ => Value::Null,
    }
}

fn required_properties(schema: &Value) -> FieldValues {
    let required = schema.get("required").and_then(Value::as_array);
    let properties = schema.get("properties").and_then(Value::as_object);
    let (Some(required), Some(properties)) = (required, properties) else {
        return FieldValues::new();
    };
    required
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|name| Some((name.to_string(), placeholder(properties.get(name)?))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_the_least_value_of_each_type() {
        assert_eq!(placeholder(&json!({"type": "string"})), json!(""));
        assert_eq!(
            placeholder(&json!({"type": "string", "enum": ["a", "b"]})),
            json!("a")
        );
        assert_eq!(
            placeholder(&json!({"type": ["integer", "null"]})),
            json!(null)
        );
        assert_eq!(
            placeholder(&json!({"type": "array", "items": {}})),
            json!([])
        );
        let object = json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "number"}, "m": {}}});
        assert_eq!(placeholder(&object), json!({"n": 0}));
        assert_eq!(
            placeholder(&json!({"anyOf": [{"type": "boolean"}, {"type": "null"}]})),
            json!(false)
        );
    }
}
