//! One predictor call: format, ask the LM, parse, and recover from bad answers.

use super::config::PredictConfig;
use super::prediction::Prediction;
use crate::adapter::{
    Adapter, Fix, FormatRequest, Formatted, Parsed, is_cut_off, reask, unfinished_field,
};
use crate::lm::{FinishReason, LM, LmRequest, LmResponse, Usage};
use crate::{Error, Result};
use std::sync::Arc;

/// Runs one call through `adapter` on `lm`, then turns each parsed choice into `O` with `decode`.
///
/// On a parse failure it tries the adapter's fallback (ChatAdapter → JsonAdapter) once, then
/// re-asks once with the error shown to the model, when the adapter allows it. An answer that
/// was cut off (`finish_reason = length`, or a value left open at its end) is neither: another
/// call with the same `max_tokens` would be cut off too. Every failure is an [`Error::Parse`]
/// that lists what was tried, and names the field that first failed.
pub async fn run_adapter<O: Clone>(
    lm: &LM,
    adapter: Arc<dyn Adapter>,
    request: &FormatRequest<'_>,
    config: &PredictConfig,
    decode: impl Fn(Parsed) -> Result<O>,
) -> Result<Prediction<O>> {
    let formatted = adapter.format(request);
    run_adapter_from(lm, adapter, request, formatted, None, config, decode).await
}

/// [`run_adapter`] with the prompt already formatted by `adapter` and, when given, the LM's
/// answer to it already in hand (a streamed call): parsing, fallback and re-asking go on from
/// there exactly as for a call made here.
pub(crate) async fn run_adapter_from<O: Clone>(
    lm: &LM,
    adapter: Arc<dyn Adapter>,
    request: &FormatRequest<'_>,
    mut formatted: Formatted,
    mut answered: Option<LmResponse>,
    config: &PredictConfig,
    decode: impl Fn(Parsed) -> Result<O>,
) -> Result<Prediction<O>> {
    let mut usage = Usage::default();
    let mut lm_calls = 0u32;
    let mut tried: Vec<String> = Vec::new();
    let mut current = adapter;
    let mut reasked = false;
    let mut fell_back = false;
    // The first field that failed: later attempts fail because of it.
    let mut cause: Option<String> = None;
    loop {
        let response = match answered.take() {
            Some(response) => response,
            None => lm.complete(to_lm_request(lm, &formatted, config)).await?,
        };
        lm_calls += 1;
        // A cached answer cost nothing this time (its tokens are counted apart, as cache hits).
        if !response.cached {
            usage += response.usage;
        }
        let error = match parse_choices(&*current, request, &formatted, &response, &decode) {
            Ok((outputs, fixes)) => {
                return Ok(Prediction {
                    output: outputs[0].clone(),
                    completions: outputs,
                    fixes,
                    usage,
                    lm_calls,
                    raw: first_text(&response),
                });
            }
            Err(error) => error,
        };
        let (field, raw, mut this_tried) = match error {
            Error::Parse { field, raw, tried } => (field, raw, tried),
            other => return Err(other),
        };
        let label = format!("{}: ", current.name());
        tried.extend(this_tried.iter_mut().map(|t| format!("{label}{t}")));
        if cause.is_none() && field != "*" {
            cause = Some(field.clone());
        }
        if is_cut_off(&this_tried) {
            let field = cause.unwrap_or(field);
            return Err(Error::Parse { field, raw, tried });
        }

        if !fell_back {
            fell_back = true;
            if let Some(next) = current.fallback() {
                formatted = next.format(request);
                current = next;
                continue;
            }
        }
        if !reasked && current.reask_on_error() {
            reasked = true;
            if reask(&mut formatted, first_text(&response), &field, &this_tried) {
                continue;
            }
        }
        let field = cause.unwrap_or(field);
        return Err(Error::Parse { field, raw, tried });
    }
}

/// The text of the first choice.
fn first_text(response: &LmResponse) -> String {
    response
        .choices
        .first()
        .map(|c| c.text.clone())
        .unwrap_or_default()
}

/// Parses and decodes every choice: the outputs (at least one) with the fixes of the first, or
/// the first choice's error.
fn parse_choices<O>(
    adapter: &dyn Adapter,
    request: &FormatRequest<'_>,
    formatted: &Formatted,
    response: &LmResponse,
    decode: &impl Fn(Parsed) -> Result<O>,
) -> Result<(Vec<O>, Vec<Fix>)> {
    let mut outputs = Vec::new();
    let mut fixes = Vec::new();
    let mut first_error = None;
    for choice in &response.choices {
        let text = &choice.text;
        match parse_choice(adapter, request, formatted, text, choice.finish_reason).and_then(
            |parsed| {
                let choice_fixes = parsed.fixes.clone();
                decode(parsed).map(|o| (o, choice_fixes))
            },
        ) {
            Ok((output, choice_fixes)) => {
                if outputs.is_empty() {
                    fixes = choice_fixes;
                }
                outputs.push(output);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if !outputs.is_empty() {
        return Ok((outputs, fixes));
    }
    Err(first_error.unwrap_or_else(|| Error::Parse {
        field: "*".into(),
        raw: String::new(),
        tried: vec!["the LM returned no choices".into()],
    }))
}

/// Parses one choice. An answer cut off at `max_tokens` is an error unless it visibly reached
/// its end: the error says so (and to raise `max_tokens`), so no attempt is repeated.
fn parse_choice(
    adapter: &dyn Adapter,
    request: &FormatRequest<'_>,
    formatted: &Formatted,
    text: &str,
    finish: FinishReason,
) -> Result<Parsed> {
    let parsed = adapter.parse(request.signature, text);
    if finish != FinishReason::Length {
        return parsed;
    }
    let cut_off = "the answer was cut off by max_tokens; raise max_tokens".to_string();
    match parsed {
        Ok(_) => match unfinished_field(request.signature, &formatted.answer_format, text) {
            Some(field) => Err(Error::Parse {
                field,
                raw: text.to_string(),
                tried: vec![cut_off],
            }),
            None => parsed,
        },
        Err(Error::Parse {
            field,
            raw,
            mut tried,
        }) => {
            tried.push(cut_off);
            Err(Error::Parse { field, raw, tried })
        }
        other => other,
    }
}

pub(crate) fn to_lm_request(lm: &LM, formatted: &Formatted, config: &PredictConfig) -> LmRequest {
    let mut stop = formatted.stop.clone();
    stop.extend(config.stop.iter().cloned());
    LmRequest {
        prompt: formatted.prompt.clone(),
        temperature: config.temperature,
        max_tokens: config.max_tokens,
        n: config.n.max(1),
        stop,
        // Whether and how the schema is sent follows what the LM says it honours: a schema, any
        // JSON object (the backend decides which, see `Capabilities::json_object`), or nothing.
        response_schema: {
            let caps = lm.capabilities();
            (caps.structured_output || caps.json_object)
                .then(|| formatted.response_schema.clone())
                .flatten()
        },
        rollout_id: config.rollout_id,
        answer_format: Some(formatted.answer_format.clone()),
    }
}
