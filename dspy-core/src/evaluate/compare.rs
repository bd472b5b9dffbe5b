//! `Comparer`: pairs two evaluation reports by example id and computes their [`Comparison`].

use super::EvaluationReport;
use super::classes::ClassField;
use super::comparison::{ClassDelta, Comparison, Outcome, PairedExample, ReportSummary};
use super::rows::{Row, Rows, mean};
use super::stats::{Interval, McNemar};
use crate::module::{example_id, number_repeats};
use crate::signature::field_schema;
use crate::util::snippet;
use crate::{Error, Result};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Compares two evaluation reports of the same dev set, example by example.
///
/// Examples are paired by id, not by position, so a reordered dev set pairs fine. The id is the
/// example's content hash ([`example_id`]: SHA-256 of its canonical JSON, inputs and gold
/// outputs; identical examples are told apart by their order, see [`number_repeats`]), the id
/// a demo's [`Provenance`](crate::module::Provenance) names its training example by, unless [`id_field`](Comparer::id_field) or
/// [`id_by`](Comparer::id_by) gives one. Reports whose sets of ids differ are refused with
/// [`Error::DevSetMismatch`].
///
/// ```
/// use dspy_core::evaluate::{Comparer, Evaluate};
/// use dspy_core::{DummyLm, LM, Predict};
/// # use dspy_macros::Signature;
/// /// Answer with the capital city.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Capital { #[input] country: String, #[output] city: String }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let devset = vec![
///     Capital { country: "France".into(), city: "Paris".into() },
///     Capital { country: "Italy".into(), city: "Rome".into() },
/// ];
/// let metric = |ex: &Capital, out: &CapitalOutput| ex.city == out.city;
/// let eval = Evaluate::new(metric).progress(false);
/// let old = LM::new(DummyLm::keyed([("France", serde_json::json!({"city": "Paris"})), ("Italy", serde_json::json!({"city": "Milan"}))]));
/// let new = LM::new(DummyLm::keyed([("France", serde_json::json!({"city": "Paris"})), ("Italy", serde_json::json!({"city": "Rome"}))]));
/// let a = eval.run(&Predict::<Capital>::new().with_lm(old), &devset).await.unwrap();
/// let reversed: Vec<Capital> = devset.iter().rev().cloned().collect();
/// let b = eval.run(&Predict::<Capital>::new().with_lm(new), &reversed).await.unwrap();
///
/// let cmp = Comparer::new().names("old", "new").run(&a, &b).unwrap();
/// assert_eq!(cmp.delta, 0.5);
/// assert_eq!(cmp.fixed.len(), 1);
/// assert_eq!(cmp.fixed[0].example["country"], "Italy");
/// println!("{cmp}");
/// # });
/// ```
#[derive(Clone)]
pub struct Comparer {
    names: (String, String),
    ids: IdRule,
    class_field: Option<String>,
    resamples: usize,
    confidence: f64,
    seed: u64,
}

/// A user's id of an example, from its JSON.
type IdFn = Arc<dyn Fn(&Value) -> Option<String> + Send + Sync>;

#[derive(Clone)]
enum IdRule {
    ContentHash,
    Field(String),
    By(IdFn),
}

impl fmt::Debug for Comparer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Comparer")
            .field("names", &self.names)
            .field("paired_by", &self.paired_by())
            .field("class_field", &self.class_field)
            .field("resamples", &self.resamples)
            .field("confidence", &self.confidence)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Default for Comparer {
    fn default() -> Self {
        Self::new()
    }
}

impl Comparer {
    /// Sides named `A` and `B`, examples paired by content hash, the class field detected from
    /// the output's schema, a 95% interval from 10,000 bootstrap resamples with seed 0.
    pub fn new() -> Self {
        Comparer {
            names: ("A".into(), "B".into()),
            ids: IdRule::ContentHash,
            class_field: None,
            resamples: 10_000,
            confidence: 0.95,
            seed: 0,
        }
    }

    /// Names the two sides in tables and pages (e.g. the two models).
    #[must_use]
    pub fn names(mut self, first: impl Into<String>, second: impl Into<String>) -> Self {
        self.names = (first.into(), second.into());
        self
    }

    /// Pairs examples by the value of their field `name` (a string, or any JSON value shown as
    /// text). Every example must have it, and no two examples of one report may share it.
    #[must_use]
    pub fn id_field(mut self, name: impl Into<String>) -> Self {
        self.ids = IdRule::Field(name.into());
        self
    }

    /// Pairs examples by the id `id` gives for the example's JSON (`None` is an error). No two
    /// examples of one report may share an id.
    #[must_use]
    pub fn id_by(mut self, id: impl Fn(&Value) -> Option<String> + Send + Sync + 'static) -> Self {
        self.ids = IdRule::By(Arc::new(id));
        self
    }

    /// Groups per-class deltas by this field (the example's gold value) instead of the first
    /// string-enum field of the output schema.
    #[must_use]
    pub fn class_field(mut self, name: impl Into<String>) -> Self {
        self.class_field = Some(name.into());
        self
    }

    /// How many bootstrap resamples to draw (10,000 by default).
    #[must_use]
    pub fn resamples(mut self, n: usize) -> Self {
        self.resamples = n;
        self
    }

    /// The confidence level of the interval (0.95 by default).
    #[must_use]
    pub fn confidence(mut self, level: f64) -> Self {
        self.confidence = level;
        self
    }

    /// The bootstrap's seed (0 by default).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Compares `a` (the baseline) with `b` (the candidate).
    pub fn run<E, O1, O2>(
        &self,
        a: &EvaluationReport<E, O1>,
        b: &EvaluationReport<E, O2>,
    ) -> Result<Comparison>
    where
        E: Serialize,
        O1: Serialize + JsonSchema,
        O2: Serialize + JsonSchema,
    {
        let schemas = [field_schema::<O1>(), field_schema::<O2>()];
        self.compare_rows(&Rows::of(a), &Rows::of(b), &schemas)
    }

    /// Compares two reports saved by [`EvaluationReport::write_json`] (or made by
    /// [`to_json`](EvaluationReport::to_json)). Without the output types there is no schema to
    /// find a class field in: name it with [`class_field`](Comparer::class_field).
    pub fn run_json(&self, a: &Value, b: &Value) -> Result<Comparison> {
        self.compare_rows(&Rows::from_json(a)?, &Rows::from_json(b)?, &[])
    }

    fn compare_rows(&self, a: &Rows, b: &Rows, schemas: &[Value]) -> Result<Comparison> {
        let pairs = self.pair(&a.rows, &b.rows)?;
        let deltas: Vec<f64> = pairs.iter().map(|(_, x, y)| y.score - x.score).collect();
        let binary = pairs
            .iter()
            .all(|(_, x, y)| is_binary(x.score) && is_binary(y.score));
        let classes = self
            .class(schemas, &a.rows)
            .map(|c| (class_deltas(&c, &pairs), c.name));
        let mut comparison = Comparison {
            a: summary(&self.names.0, a),
            b: summary(&self.names.1, b),
            paired_by: self.paired_by(),
            delta: mean(deltas.iter().copied()),
            interval: Interval::paired_bootstrap(
                &deltas,
                self.resamples,
                self.confidence,
                self.seed,
            ),
            mcnemar: None,
            class_field: classes.as_ref().map(|(_, name)| name.clone()),
            classes: classes.map(|(deltas, _)| deltas).unwrap_or_default(),
            fixed: Vec::new(),
            regressed: Vec::new(),
            unchanged: Vec::new(),
        };
        for (id, x, y) in pairs {
            let paired = paired_example(id, x, y);
            match paired.delta() {
                d if d > 0.0 => comparison.fixed.push(paired),
                d if d < 0.0 => comparison.regressed.push(paired),
                _ => comparison.unchanged.push(paired),
            }
        }
        // Largest change first; ties keep the first report's order (the sort is stable).
        comparison
            .fixed
            .sort_by(|p, q| q.delta().total_cmp(&p.delta()));
        comparison
            .regressed
            .sort_by(|p, q| p.delta().total_cmp(&q.delta()));
        if binary {
            let (fixed, regressed) = (comparison.fixed.len(), comparison.regressed.len());
            comparison.mcnemar = Some(McNemar::test(fixed, regressed));
        }
        Ok(comparison)
    }

    /// The class field: the named one, or the first string enum of the first output schema
    /// (then the second's) that the examples also have.
    fn class(&self, schemas: &[Value], rows: &[Row]) -> Option<ClassField> {
        match &self.class_field {
            Some(name) => Some(ClassField::named(name, schemas.first())),
            None => schemas.iter().find_map(|s| ClassField::detect(s, rows)),
        }
    }

    /// Pairs `a`'s rows with `b`'s by id, in `a`'s order.
    fn pair<'r>(&self, a: &'r [Row], b: &'r [Row]) -> Result<Vec<(String, &'r Row, &'r Row)>> {
        let ids_a = self.ids_of(a, "first")?;
        let ids_b = self.ids_of(b, "second")?;
        let mut by_id: HashMap<&str, &Row> =
            ids_b.iter().map(String::as_str).zip(b.iter()).collect();
        let mut pairs = Vec::with_capacity(a.len());
        let mut only_in_first = Vec::new();
        for (id, row) in ids_a.iter().zip(a) {
            match by_id.remove(id.as_str()) {
                Some(other) => pairs.push((id.clone(), row, other)),
                None => only_in_first.push((id.clone(), row)),
            }
        }
        if only_in_first.is_empty() && by_id.is_empty() {
            return Ok(pairs);
        }
        // Report the second's leftovers in its own order.
        let only_in_second: Vec<(String, &Row)> = ids_b
            .iter()
            .zip(b)
            .filter(|(id, _)| by_id.contains_key(id.as_str()))
            .map(|(id, row)| (id.clone(), row))
            .collect();
        Err(mismatch(&only_in_first, &only_in_second))
    }

    fn ids_of(&self, rows: &[Row], which: &str) -> Result<Vec<String>> {
        let ids: Vec<String> = rows
            .iter()
            .map(|row| self.id(row, which))
            .collect::<Result<_>>()?;
        if matches!(self.ids, IdRule::ContentHash) {
            // Identical examples are interchangeable: number the repeats.
            return Ok(number_repeats(ids));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (id, row) in ids.iter().zip(rows) {
            if seen.insert(id, row.index).is_some() {
                return Err(Error::config(format!(
                    "two examples of the {which} report have the id `{id}` (the second at \
                     index {}); ids must be unique to pair examples",
                    row.index
                )));
            }
        }
        Ok(ids)
    }

    fn id(&self, row: &Row, which: &str) -> Result<String> {
        let missing = |how: &str| {
            Error::config(format!(
                "example {} of the {which} report has no {how}: {}",
                row.index,
                snippet(&row.example.to_string(), 80)
            ))
        };
        match &self.ids {
            IdRule::ContentHash => Ok(example_id(&row.example)),
            IdRule::Field(name) => super::classes::label(row.example.get(name))
                .ok_or_else(|| missing(&format!("field `{name}` to pair by"))),
            IdRule::By(id) => id(&row.example).ok_or_else(|| missing("id")),
        }
    }

    fn paired_by(&self) -> String {
        match &self.ids {
            IdRule::ContentHash => "content hash".into(),
            IdRule::Field(name) => format!("field {name}"),
            IdRule::By(_) => "custom id".into(),
        }
    }
}

fn mismatch(only_in_first: &[(String, &Row)], only_in_second: &[(String, &Row)]) -> Error {
    let mut sample: Vec<String> = Vec::new();
    for (which, rows) in [("first", only_in_first), ("second", only_in_second)] {
        sample.extend(rows.iter().take(2).map(|(id, row)| {
            format!(
                "only in the {which}: #{} {id} {}",
                row.index,
                snippet(&row.example.to_string(), 60)
            )
        }));
    }
    Error::DevSetMismatch {
        only_in_first: only_in_first.iter().map(|(id, _)| id.clone()).collect(),
        only_in_second: only_in_second.iter().map(|(id, _)| id.clone()).collect(),
        sample: sample.join("; "),
    }
}

fn is_binary(score: f64) -> bool {
    score == 0.0 || score == 1.0
}

fn summary(name: &str, rows: &Rows) -> ReportSummary {
    ReportSummary {
        name: name.to_string(),
        score: rows.mean(),
        examples: rows.rows.len(),
        errors: rows.errors,
        usage: rows.usage,
        elapsed_ms: rows.elapsed_ms,
    }
}

fn paired_example(id: String, a: &Row, b: &Row) -> PairedExample {
    let outcome = |row: &Row| Outcome {
        index: row.index,
        score: row.score,
        output: row.output.clone(),
        error: row.error.clone(),
    };
    PairedExample {
        id,
        example: a.example.clone(),
        a: outcome(a),
        b: outcome(b),
    }
}

/// Mean scores per gold class, in the class field's label order.
fn class_deltas(class: &ClassField, pairs: &[(String, &Row, &Row)]) -> Vec<ClassDelta> {
    let labels = class.labels_in(pairs.iter().map(|(_, a, _)| *a));
    labels
        .into_iter()
        .filter_map(|label| {
            let of_class: Vec<_> = pairs
                .iter()
                .filter(|(_, a, _)| class.gold(a).as_deref() == Some(label.as_str()))
                .collect();
            if of_class.is_empty() {
                return None;
            }
            let a = mean(of_class.iter().map(|(_, x, _)| x.score));
            let b = mean(of_class.iter().map(|(_, _, y)| y.score));
            Some(ClassDelta {
                class: label,
                examples: of_class.len(),
                a,
                b,
                delta: b - a,
            })
        })
        .collect()
}

impl<E: Serialize, O: Serialize + JsonSchema> EvaluationReport<E, O> {
    /// Compares this report (the baseline) with `other` (the candidate) on the same dev set,
    /// with [`Comparer::new`]'s defaults; see [`Comparer`] for names, ids and the interval.
    pub fn compare<O2: Serialize + JsonSchema>(
        &self,
        other: &EvaluationReport<E, O2>,
    ) -> Result<Comparison> {
        Comparer::new().run(self, other)
    }
}

/// Compares `a` (the baseline) with `b` (the candidate): [`EvaluationReport::compare`].
pub fn compare<E, O1, O2>(
    a: &EvaluationReport<E, O1>,
    b: &EvaluationReport<E, O2>,
) -> Result<Comparison>
where
    E: Serialize,
    O1: Serialize + JsonSchema,
    O2: Serialize + JsonSchema,
{
    Comparer::new().run(a, b)
}
