//! Inferring the task from the label, prediction and score columns.
//!
//! [`TaskEvidence`] is a small mergeable accumulator (the CLI runs it over
//! the label and prediction columns before the quality pass; the daemon can
//! run it over its baseline). The rules, first match wins:
//!
//! 1. one score column per class, or a list column → multiclass;
//! 2. one score column → binary;
//! 3. a float label with a non-integral value, or an integer label with a
//!    float prediction holding a non-integral value → regression;
//! 4. a float label (all integral) with more than two distinct values and
//!    no string prediction → regression;
//! 5. otherwise classification: binary with at most two distinct classes
//!    among labels and predictions, multiclass with more.
//!
//! A declared class list decides binary (two) or multiclass (more) in
//! rule 5. Any inference can be overridden (`--task`).

use std::collections::BTreeSet;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use serde::{Deserialize, Serialize};

use super::class_value::ClassValue;
use super::columns;
use super::{QualityError, QualitySpec, ScoreColumns, Task};

/// Distinct classes remembered: enough to tell two from more.
const DISTINCT_KEPT: usize = 3;

/// What the columns' types and values say about the task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskEvidence {
    pub label_is_float: bool,
    pub label_non_integral: bool,
    pub label_is_text: bool,
    pub prediction_non_integral: bool,
    pub prediction_is_text: bool,
    /// Up to three distinct classes among labels and predictions.
    pub distinct: BTreeSet<ClassValue>,
}

fn kind(t: &DataType) -> Option<&'static str> {
    if t.is_floating() {
        Some("float")
    } else if t.is_integer() {
        Some("int")
    } else if matches!(t, DataType::Boolean) {
        Some("bool")
    } else if matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
    ) {
        Some("text")
    } else {
        None
    }
}

impl TaskEvidence {
    /// Looks at a batch's label and prediction columns.
    pub fn update(&mut self, batch: &RecordBatch, spec: &QualitySpec) -> Result<(), QualityError> {
        let label = columns::column(batch, &spec.label)?;
        let Some(label_kind) = kind(label.data_type()) else {
            return Err(QualityError::column(
                &spec.label,
                format!(
                    "has type {}; a label is a class (integer, boolean, string) or a number",
                    label.data_type()
                ),
            ));
        };
        self.label_is_float |= label_kind == "float";
        self.label_is_text |= label_kind == "text";
        self.observe(label, label_kind, true)?;
        if let Some(name) = &spec.prediction {
            let prediction = columns::column(batch, name)?;
            let Some(k) = kind(prediction.data_type()) else {
                return Err(QualityError::column(
                    name,
                    format!(
                        "has type {}; a prediction is a class or a number",
                        prediction.data_type()
                    ),
                ));
            };
            self.prediction_is_text |= k == "text";
            self.observe(prediction, k, false)?;
        }
        Ok(())
    }

    fn observe(
        &mut self,
        array: &arrow::array::ArrayRef,
        kind: &str,
        is_label: bool,
    ) -> Result<(), QualityError> {
        if kind == "float" {
            let a =
                cast(array, &DataType::Float64).map_err(|e| QualityError::Spec(e.to_string()))?;
            let a = a.as_primitive::<Float64Type>();
            for i in 0..a.len() {
                if a.is_null(i) {
                    continue;
                }
                let v = a.value(i);
                match ClassValue::from_f64(v) {
                    Some(c) => {
                        if self.distinct.len() < DISTINCT_KEPT {
                            self.distinct.insert(c);
                        }
                    }
                    None if is_label => self.label_non_integral = true,
                    None => self.prediction_non_integral = true,
                }
            }
            return Ok(());
        }
        let strings =
            cast(array, &DataType::Utf8).map_err(|e| QualityError::Spec(e.to_string()))?;
        let strings = strings.as_string::<i32>();
        for i in 0..strings.len() {
            if self.distinct.len() >= DISTINCT_KEPT {
                break;
            }
            if strings.is_valid(i) {
                self.distinct.insert(ClassValue::new(strings.value(i)));
            }
        }
        Ok(())
    }

    pub fn merge(&mut self, other: &TaskEvidence) {
        self.label_is_float |= other.label_is_float;
        self.label_non_integral |= other.label_non_integral;
        self.label_is_text |= other.label_is_text;
        self.prediction_non_integral |= other.prediction_non_integral;
        self.prediction_is_text |= other.prediction_is_text;
        for c in &other.distinct {
            if self.distinct.len() < DISTINCT_KEPT {
                self.distinct.insert(c.clone());
            }
        }
    }

    /// The task the evidence points to (see the module docs).
    pub fn decide(&self, spec: &QualitySpec) -> Task {
        match &spec.scores {
            ScoreColumns::PerClass(_) | ScoreColumns::List(_) => return Task::Multiclass,
            ScoreColumns::Single(_) => return Task::Binary,
            ScoreColumns::None => {}
        }
        if self.label_non_integral || (!self.label_is_text && self.prediction_non_integral) {
            return Task::Regression;
        }
        if self.label_is_float && self.distinct.len() > 2 && !self.prediction_is_text {
            return Task::Regression;
        }
        let classes = spec.classes.as_ref().map_or(self.distinct.len(), Vec::len);
        if classes <= 2 {
            Task::Binary
        } else {
            Task::Multiclass
        }
    }
}
