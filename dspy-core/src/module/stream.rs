//! Streaming a predictor's answer: text and completed fields as they arrive, then the full
//! prediction.

use super::call::{run_adapter_from, to_lm_request};
use super::config::PredictConfig;
use super::convert::{decode, to_fields};
use super::overrides::CallOverrides;
use super::predict::Predict;
use super::prediction::Prediction;
use super::trace;
use crate::adapter::{Adapter, FieldScanner, FieldValues, FormatRequest, Parsed};
use crate::lm::{LM, LmChunk, Yielder, generate};
use crate::signature::Signature;
use crate::{Error, LmErrorKind, Result};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tracing::Instrument;

/// What [`Predict::stream`] yields, in this order: [`Delta`](Self::Delta)s with
/// [`Field`](Self::Field)s among them as fields complete, the remaining fields once the answer
/// is parsed, then one [`Done`](Self::Done).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StreamEvent<O> {
    /// Text the LM just produced (its first completion), as it arrives.
    Delta(String),
    /// An output field whose value is complete, as JSON (the field's type is only known to the
    /// output struct). Each output field is reported once, in the order the answer gives them,
    /// and its value is what the adapter's parser reads for it, so it agrees with `Done`'s
    /// output whenever the answer parses as it streamed (see [`Predict::stream`] for when it
    /// may not).
    Field {
        /// The output field's name.
        name: String,
        /// Its value, as the adapter parsed it.
        value: Value,
    },
    /// The end: the prediction [`Predict::forward`] would have returned for this answer.
    Done(Prediction<O>),
}

/// The stream [`Predict::stream`] returns: a [`Stream`] of [`StreamEvent`]s, with
/// [`next`](Self::next) and [`prediction`](Self::prediction) so no stream trait has to be
/// imported. It ends after `Done` or after the first error.
pub struct PredictionStream<'a, O> {
    inner: Pin<Box<dyn Stream<Item = Result<StreamEvent<O>>> + Send + 'a>>,
}

impl<O> PredictionStream<'_, O> {
    /// The next event, or `None` after the last.
    pub async fn next(&mut self) -> Option<Result<StreamEvent<O>>> {
        self.inner.next().await
    }

    /// Reads the stream to its end and returns the prediction.
    pub async fn prediction(mut self) -> Result<Prediction<O>> {
        while let Some(event) = self.inner.next().await {
            if let StreamEvent::Done(prediction) = event? {
                return Ok(prediction);
            }
        }
        Err(Error::lm(
            LmErrorKind::Backend,
            "the prediction stream ended without a prediction",
        ))
    }
}

impl<O> Stream for PredictionStream<'_, O> {
    type Item = Result<StreamEvent<O>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<O> fmt::Debug for PredictionStream<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PredictionStream").finish_non_exhaustive()
    }
}

impl<S: Signature> Predict<S> {
    /// Runs the predictor on a streamed LM call: yields the text as it is generated, each
    /// output field as soon as it is complete, then the [`Prediction`] —
    /// the same one [`forward`](Self::forward) returns for the same answer.
    ///
    /// The LM call is [`LM::stream`](crate::LM::stream) (real streaming on OpenAI-compatible
    /// servers; other backends yield their answer as one piece). When it ends, the whole answer
    /// goes through the same parse as in `forward`, fallback and re-ask included; those extra
    /// calls, if any, are not streamed, and a failure is the error `forward` would return.
    /// Fields are reported while streaming only from answers laid out as the adapter asked; if
    /// the parse at the end needed the fallback adapter, the output in `Done` is what counts.
    /// Fields not reported while streaming (the last one, or ones only the full parse could
    /// read) are reported just before `Done`. The call is traced on `Done`, as `forward`'s.
    ///
    /// Nothing happens until the stream is first polled, and it runs in the polling task:
    /// the LM, overrides and trace in effect there are used, as for an awaited `forward`.
    ///
    /// ```
    /// use dspy_core::{DummyLm, LM, Predict};
    /// use dspy_core::module::StreamEvent;
    /// # use dspy_macros::Signature;
    ///
    /// /// Answer with the capital and its population.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Capital {
    ///     #[input] country: String,
    ///     #[output] capital: String,
    ///     #[output] population: u64,
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(DummyLm::new([serde_json::json!({"capital": "Paris", "population": 2100000})]));
    /// let predict = Predict::<Capital>::new().with_lm(lm);
    /// let mut stream = predict.stream(CapitalInput { country: "France".into() });
    /// let mut fields = Vec::new();
    /// while let Some(event) = stream.next().await {
    ///     match event.unwrap() {
    ///         StreamEvent::Delta(text) => print!("{text}"),
    ///         StreamEvent::Field { name, value } => fields.push((name, value)),
    ///         StreamEvent::Done(prediction) => assert_eq!(prediction.capital, "Paris"),
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(fields[0], ("capital".to_string(), serde_json::json!("Paris")));
    /// assert_eq!(fields[1], ("population".to_string(), serde_json::json!(2100000)));
    /// # });
    /// ```
    pub fn stream(&self, input: S::Input) -> PredictionStream<'_, S::Output> {
        let span = tracing::info_span!(
            "dspy.module",
            module = "Predict",
            signature = S::info().name.as_str()
        );
        let events = generate(move |mut y| {
            async move {
                let outcome = self.stream_untraced(input, &mut y).await;
                y.send(outcome.map(StreamEvent::Done)).await;
            }
            .instrument(span)
        });
        PredictionStream {
            inner: Box::pin(events),
        }
    }

    async fn stream_untraced(
        &self,
        input: S::Input,
        y: &mut Yielder<Result<StreamEvent<S::Output>>>,
    ) -> Result<Prediction<S::Output>> {
        let lm = self.lm()?;
        let adapter = self.adapter_for(&lm);
        let mut fields = to_fields(&input)?;
        let demos = self.demo_fields()?;
        let overrides = CallOverrides::current();
        let signature = self.call_signature(&overrides, &mut fields);
        let request = FormatRequest {
            signature: &signature,
            ..self.format_request(&demos, &fields)
        };
        let config = overrides.apply_to(&self.config);
        let prediction = stream_call(
            &lm,
            adapter,
            &request,
            &config,
            decode::<S::Output>,
            y,
            Some,
        )
        .await
        .inspect_err(|e| trace::record_failure::<S>(self.id, &input, e))?;
        trace::record::<S>(self.id, &input, &prediction.output);
        Ok(prediction)
    }
}

/// One predictor call on a streamed LM call, for any module's stream: reports the text and each
/// output field as [`StreamEvent::Delta`] and [`StreamEvent::Field`], turned into the caller's
/// events by `report` (`None` drops one), then parses the answer exactly as [`run_adapter`]
/// would (fallback and re-ask included, as plain calls), and reports the fields the scan did not
/// see. Tracing is left to the caller, as with `run_adapter`.
///
/// [`run_adapter`]: super::run_adapter
pub(crate) async fn stream_call<O: Clone, E>(
    lm: &LM,
    adapter: Arc<dyn Adapter>,
    request: &FormatRequest<'_>,
    config: &PredictConfig,
    decode: impl Fn(Parsed) -> Result<O>,
    y: &mut Yielder<Result<E>>,
    report: impl Fn(StreamEvent<O>) -> Option<E>,
) -> Result<Prediction<O>> {
    let formatted = adapter.format(request);
    let mut scanner = FieldScanner::new(request.signature, &formatted.answer_format);
    let mut reported: Vec<String> = Vec::new();

    let mut chunks = lm.stream(to_lm_request(lm, &formatted, config));
    let mut answer = None;
    while let Some(chunk) = chunks.next().await {
        match chunk? {
            LmChunk::Delta(text) => {
                let completed = scanner.push(&text);
                if let Some(event) = report(StreamEvent::Delta(text)) {
                    y.send(Ok(event)).await;
                }
                for (name, value) in completed {
                    reported.push(name.clone());
                    if let Some(event) = report(StreamEvent::Field { name, value }) {
                        y.send(Ok(event)).await;
                    }
                }
            }
            LmChunk::Done(response) => {
                answer = Some(response);
                break;
            }
        }
    }
    drop(chunks);
    // `LM::stream` always ends with `Done` or an error; this only guards against a change.
    let answer = answer.ok_or_else(|| {
        Error::lm(
            LmErrorKind::Backend,
            "the LM stream ended without its answer",
        )
    })?;

    // Keep the parsed values of the output, to report the remaining fields as parsed.
    let decode_keeping = |parsed: Parsed| {
        let values = parsed.values.clone();
        decode(parsed).map(|output| (output, values))
    };
    let prediction = run_adapter_from(
        lm,
        adapter,
        request,
        formatted,
        Some(answer),
        config,
        decode_keeping,
    )
    .await?;
    let (prediction, values) = split(prediction);
    for field in &request.signature.outputs {
        if reported.contains(&field.name) {
            continue;
        }
        if let Some(value) = values.get(&field.name) {
            let event = StreamEvent::Field {
                name: field.name.clone(),
                value: value.clone(),
            };
            if let Some(event) = report(event) {
                y.send(Ok(event)).await;
            }
        }
    }
    Ok(prediction)
}

/// The prediction, and the parsed values of its output.
fn split<O>(prediction: Prediction<(O, FieldValues)>) -> (Prediction<O>, FieldValues) {
    let Prediction {
        output: (output, values),
        completions,
        fixes,
        usage,
        lm_calls,
        raw,
    } = prediction;
    let completions = completions.into_iter().map(|(o, _)| o).collect();
    let prediction = Prediction {
        output,
        completions,
        fixes,
        usage,
        lm_calls,
        raw,
    };
    (prediction, values)
}
