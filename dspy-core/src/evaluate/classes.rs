//! Class labels: which output field is a class (an enum), and the confusion matrix of a report
//! on it. The gold class of an example is its own field of the same name.

use super::EvaluationReport;
use super::rows::{Row, Rows};
use crate::signature::field_schema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An output field holding a class, and its labels in the schema's order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassField {
    pub name: String,
    pub labels: Vec<String>,
}

impl ClassField {
    /// The first string-enum field of `schema` (an output type's JSON schema) that the
    /// examples also have, so there is a gold label to group by.
    pub(crate) fn detect(schema: &Value, rows: &[Row]) -> Option<ClassField> {
        let properties = schema.get("properties")?.as_object()?;
        properties.iter().find_map(|(name, field)| {
            let labels = enum_labels(field)?;
            let in_examples = rows.iter().any(|r| r.example.get(name).is_some());
            in_examples.then(|| ClassField {
                name: name.clone(),
                labels,
            })
        })
    }

    /// The field `name`, with the labels its schema lists (none when it is not an enum).
    pub(crate) fn named(name: &str, schema: Option<&Value>) -> ClassField {
        let labels = schema
            .and_then(|s| s.get("properties")?.get(name))
            .and_then(enum_labels)
            .unwrap_or_default();
        ClassField {
            name: name.to_string(),
            labels,
        }
    }

    /// The known labels, then any other label `rows` hold (sorted), so a class seen only in
    /// the data still gets a row.
    pub(crate) fn labels_in<'a>(&self, rows: impl Iterator<Item = &'a Row>) -> Vec<String> {
        let mut labels = self.labels.clone();
        let mut extra: Vec<String> = Vec::new();
        for row in rows {
            let seen = [self.gold(row), self.predicted(row)];
            for label in seen.into_iter().flatten() {
                if !labels.contains(&label) && !extra.contains(&label) {
                    extra.push(label);
                }
            }
        }
        extra.sort();
        labels.extend(extra);
        labels
    }

    /// The example's gold label.
    pub(crate) fn gold(&self, row: &Row) -> Option<String> {
        label(row.example.get(&self.name))
    }

    /// The label the program predicted.
    pub(crate) fn predicted(&self, row: &Row) -> Option<String> {
        label(row.output.as_ref()?.get(&self.name))
    }
}

/// The labels of a string-enum schema, also inside `anyOf` (an `Option<Enum>`).
fn enum_labels(schema: &Value) -> Option<Vec<String>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let labels: Vec<String> = values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        return (!labels.is_empty()).then_some(labels);
    }
    schema
        .get("anyOf")?
        .as_array()?
        .iter()
        .find_map(enum_labels)
}

/// A label as text: strings as they are, other values as JSON; null is no label.
pub(crate) fn label(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Gold class against predicted class, over the examples that have a gold label.
///
/// `counts[g][p]` counts examples of gold class `labels[g]` predicted as `labels[p]`;
/// `failed[g]` counts those of class `labels[g]` whose call failed (no prediction).
///
/// ```
/// # use dspy_core::evaluate::ConfusionMatrix;
/// # let m = ConfusionMatrix { field: "label".into(), labels: vec!["a".into(), "b".into()],
/// #     counts: vec![vec![3, 1], vec![0, 2]], failed: vec![0, 1] };
/// assert_eq!(m.count("a", "b"), 1);
/// assert_eq!(m.support("b"), 3);
/// assert_eq!(m.accuracy(), 5.0 / 7.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// The class field (of both the example and the output).
    pub field: String,
    /// The classes: the schema's order, then any other seen in the data.
    pub labels: Vec<String>,
    /// `counts[gold][predicted]`, indexed like `labels`.
    pub counts: Vec<Vec<usize>>,
    /// Per gold class, the examples that got no prediction (the call failed).
    pub failed: Vec<usize>,
}

impl ConfusionMatrix {
    pub(crate) fn of(class: &ClassField, rows: &[Row]) -> Option<ConfusionMatrix> {
        let labels = class.labels_in(rows.iter());
        let at = |label: &str| labels.iter().position(|l| l == label);
        let mut counts = vec![vec![0; labels.len()]; labels.len()];
        let mut failed = vec![0; labels.len()];
        let mut any = false;
        for row in rows {
            let Some(gold) = class.gold(row).and_then(|g| at(&g)) else {
                continue;
            };
            any = true;
            match class.predicted(row).and_then(|p| at(&p)) {
                Some(predicted) => counts[gold][predicted] += 1,
                None => failed[gold] += 1,
            }
        }
        any.then(|| ConfusionMatrix {
            field: class.name.clone(),
            labels,
            counts,
            failed,
        })
    }

    /// How many examples of class `gold` were predicted as `predicted`.
    pub fn count(&self, gold: &str, predicted: &str) -> usize {
        match (self.index(gold), self.index(predicted)) {
            (Some(g), Some(p)) => self.counts[g][p],
            _ => 0,
        }
    }

    /// How many examples have gold class `gold` (failed ones included).
    pub fn support(&self, gold: &str) -> usize {
        self.index(gold)
            .map_or(0, |g| self.counts[g].iter().sum::<usize>() + self.failed[g])
    }

    /// The share of examples whose predicted class is the gold one (failures count as wrong).
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.labels.iter().map(|l| self.support(l)).sum();
        let right: usize = (0..self.labels.len()).map(|i| self.counts[i][i]).sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }

    fn index(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }
}

impl<E: Serialize, O: Serialize + JsonSchema> EvaluationReport<E, O> {
    /// The confusion matrix of the output's class field: the first string-enum field of the
    /// output that the examples also have (their gold label). `None` when there is none.
    pub fn confusion_matrix(&self) -> Option<ConfusionMatrix> {
        let rows = Rows::of(self);
        let class = ClassField::detect(&field_schema::<O>(), &rows.rows)?;
        ConfusionMatrix::of(&class, &rows.rows)
    }

    /// The confusion matrix of the named field (gold from the example's field of that name,
    /// predicted from the output's). `None` when no example has the field.
    pub fn confusion_matrix_of(&self, field: &str) -> Option<ConfusionMatrix> {
        let rows = Rows::of(self);
        let class = ClassField::named(field, Some(&field_schema::<O>()));
        ConfusionMatrix::of(&class, &rows.rows)
    }
}
