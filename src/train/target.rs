//! The label: which task it makes and its values as numbers.
//!
//! The task is inferred by `assay quality`'s rules ([`TaskEvidence`]) from
//! the label alone, unless given. A binary task's positive class is the one
//! `--positive` names, else `assay quality`'s default ([`positive_class`]:
//! `1` for {0, 1} or {-1, 1}, `true` for booleans, else the last class in
//! sort order), so `assay predict`'s `score` and `assay quality`'s metrics
//! mean the same thing.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::quality::class_value::{ClassValue, positive_class};
use crate::quality::columns;
use crate::quality::{QualityError, QualitySpec, Task, TaskEvidence};

/// What kind of values the label column held, so predictions are written
/// in the same type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelType {
    Int,
    Float,
    Bool,
    String,
}

impl LabelType {
    fn of(t: &DataType) -> Self {
        match t {
            t if t.is_integer() => Self::Int,
            t if t.is_floating() => Self::Float,
            DataType::Boolean => Self::Bool,
            _ => Self::String,
        }
    }
}

/// The fitted target: saved in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum TargetSpec {
    /// `score` is the probability of `positive`.
    Binary {
        label: String,
        label_type: LabelType,
        /// `[negative, positive]`.
        classes: [String; 2],
        positive: String,
    },
    /// One probability per class, in `classes` order (sorted as
    /// [`ClassValue`] sorts).
    Multiclass {
        label: String,
        label_type: LabelType,
        classes: Vec<String>,
    },
    /// A number. The network predicts `(y − mean) / std` (the training
    /// labels' mean and population standard deviation).
    Regression { label: String, mean: f64, std: f64 },
}

/// The encoded label of some rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub spec: TargetSpec,
    /// Binary: 1 for the positive class, else 0. Multiclass: the class's
    /// index. Regression: the value.
    pub values: Vec<f32>,
}

impl TargetSpec {
    pub fn label(&self) -> &str {
        match self {
            Self::Binary { label, .. }
            | Self::Multiclass { label, .. }
            | Self::Regression { label, .. } => label,
        }
    }

    pub fn task(&self) -> Task {
        match self {
            Self::Binary { .. } => Task::Binary,
            Self::Multiclass { .. } => Task::Multiclass,
            Self::Regression { .. } => Task::Regression,
        }
    }

    /// Classes (classification), in output order.
    pub fn classes(&self) -> Vec<String> {
        match self {
            Self::Binary { classes, .. } => classes.to_vec(),
            Self::Multiclass { classes, .. } => classes.clone(),
            Self::Regression { .. } => Vec::new(),
        }
    }

    /// Outputs of the network: 1 (binary, regression) or one per class.
    pub fn outputs(&self) -> usize {
        match self {
            Self::Multiclass { classes, .. } => classes.len(),
            _ => 1,
        }
    }

    /// Decides the task and classes from the label column of `batch` (the
    /// training rows). `positive` names the positive class and requires a
    /// binary label; `task` overrides the inference.
    pub fn fit(
        batch: &RecordBatch,
        label: &str,
        positive: Option<&str>,
        task: Option<Task>,
        source_name: &str,
    ) -> Result<Self, TrainError> {
        let array = label_column(batch, label, source_name)?;
        let quality = QualitySpec::new(label);
        let task = match task {
            Some(t) => t,
            None => {
                let mut evidence = TaskEvidence::default();
                evidence
                    .update(batch, &quality)
                    .map_err(|e| label_error(e, label, source_name))?;
                evidence.decide(&quality)
            }
        };
        let label_type = LabelType::of(array.data_type());
        let task_error = |message: String| TrainError::Task {
            source_name: source_name.to_string(),
            column: label.to_string(),
            message,
        };
        if task == Task::Regression {
            if positive.is_some() {
                return Err(task_error(
                    "--positive needs a binary label, but the label is a number (regression)"
                        .into(),
                ));
            }
            // Mean and spread are set from the encoded labels by the job.
            return Ok(Self::Regression {
                label: label.to_string(),
                mean: 0.0,
                std: 1.0,
            });
        }
        let all: Vec<u32> = (0..array.len() as u32).collect();
        let column =
            columns::classes(array, label, &all).map_err(|e| label_error(e, label, source_name))?;
        let mut classes: Vec<ClassValue> = column.classes.clone();
        classes.sort();
        classes.dedup();
        // Booleans list both classes even when one never occurs.
        if label_type == LabelType::Bool {
            let mut seen = vec![false; column.classes.len()];
            for &c in &column.codes {
                seen[c as usize] = true;
            }
            classes.retain(|c| {
                column
                    .classes
                    .iter()
                    .position(|x| x == c)
                    .is_some_and(|i| seen[i])
            });
        }
        match (task, classes.len()) {
            (_, 0 | 1) => Err(task_error(format!(
                "only one class ({}) in the training rows; a classifier needs two",
                classes.first().map_or("none".into(), |c| c.to_string())
            ))),
            (Task::Binary, 2) => {
                let pos = positive_class(&classes, positive).expect("two classes");
                if !classes.contains(&pos) {
                    return Err(task_error(format!(
                        "--positive {}: not a class of the label (classes: {}, {})",
                        positive.unwrap_or_default(),
                        classes[0],
                        classes[1]
                    )));
                }
                let neg = classes.iter().find(|c| **c != pos).expect("two").clone();
                Ok(Self::Binary {
                    label: label.to_string(),
                    label_type,
                    classes: [neg.to_string(), pos.to_string()],
                    positive: pos.to_string(),
                })
            }
            (_, n) if positive.is_some() => Err(task_error(format!(
                "--positive needs a binary label, but it has {n} classes ({})",
                preview(&classes)
            ))),
            (Task::Binary, n) => Err(task_error(format!(
                "a binary task needs two classes, found {n} ({})",
                preview(&classes)
            ))),
            _ => Ok(Self::Multiclass {
                label: label.to_string(),
                label_type,
                classes: classes.iter().map(ClassValue::to_string).collect(),
            }),
        }
    }

    /// Encodes the label of `batch` (every row must have one, of a known
    /// class for classification).
    pub fn encode(&self, batch: &RecordBatch, source_name: &str) -> Result<Target, TrainError> {
        let label = self.label();
        let array = label_column(batch, label, source_name)?;
        let values = match self {
            Self::Regression { .. } => {
                if !(array.data_type().is_numeric()) {
                    return Err(TrainError::ColumnType {
                        source_name: source_name.to_string(),
                        column: label.to_string(),
                        expected: "numbers (a regression label)".into(),
                        found: array.data_type().to_string(),
                    });
                }
                let a = cast(array, &DataType::Float64)?;
                let a = a.as_primitive::<Float64Type>();
                (0..a.len())
                    .map(|i| {
                        if a.is_null(i) || !a.value(i).is_finite() {
                            Err(row_error(source_name, label, i, "the label is missing"))
                        } else {
                            Ok(a.value(i) as f32)
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            _ => {
                let classes: Vec<ClassValue> =
                    self.classes().into_iter().map(ClassValue::new).collect();
                let all: Vec<u32> = (0..array.len() as u32).collect();
                let column = columns::classes(array, label, &all)
                    .map_err(|e| label_error(e, label, source_name))?;
                // Batch code → model class index.
                let index: Vec<Option<usize>> = column
                    .classes
                    .iter()
                    .map(|c| classes.iter().position(|k| k == c))
                    .collect();
                let positive_index = 1usize;
                column
                    .codes
                    .iter()
                    .enumerate()
                    .map(|(row, &code)| match index[code as usize] {
                        Some(i) => Ok(match self {
                            Self::Binary { .. } => f32::from(u8::from(i == positive_index)),
                            _ => i as f32,
                        }),
                        None => Err(row_error(
                            source_name,
                            label,
                            row,
                            &format!(
                                "class `{}` was not seen in training (classes: {})",
                                column.classes[code as usize],
                                preview(&classes)
                            ),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(Target {
            spec: self.clone(),
            values,
        })
    }
}

fn preview(classes: &[ClassValue]) -> String {
    let mut s: Vec<String> = classes.iter().take(10).map(|c| c.to_string()).collect();
    if classes.len() > 10 {
        s.push(format!("… {} in all", classes.len()));
    }
    s.join(", ")
}

fn row_error(source_name: &str, label: &str, row: usize, message: &str) -> TrainError {
    TrainError::Label {
        source_name: source_name.to_string(),
        column: label.to_string(),
        row: row + 1,
        message: message.to_string(),
    }
}

fn label_error(e: QualityError, label: &str, source_name: &str) -> TrainError {
    match e {
        QualityError::Row { row, message, .. } => row_error(source_name, label, row, &message),
        other => TrainError::Task {
            source_name: source_name.to_string(),
            column: label.to_string(),
            message: other.to_string(),
        },
    }
}

fn label_column<'a>(
    batch: &'a RecordBatch,
    label: &str,
    source_name: &str,
) -> Result<&'a ArrayRef, TrainError> {
    batch
        .column_by_name(label)
        .ok_or_else(|| TrainError::MissingColumn {
            source_name: source_name.to_string(),
            column: label.to_string(),
            what: "the label".into(),
            available: batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(label: ArrayRef) -> RecordBatch {
        RecordBatch::try_from_iter([("y", label)]).unwrap()
    }

    #[test]
    fn binary_positive_defaults_as_in_quality() {
        let b = batch(Arc::new(Int64Array::from(vec![0, 1, 1, 0])));
        let spec = TargetSpec::fit(&b, "y", None, None, "d").unwrap();
        assert!(matches!(&spec, TargetSpec::Binary { positive, .. } if positive == "1"));
        assert_eq!(spec.encode(&b, "d").unwrap().values, [0.0, 1.0, 1.0, 0.0]);
        let spec = TargetSpec::fit(&b, "y", Some("0"), None, "d").unwrap();
        assert_eq!(spec.encode(&b, "d").unwrap().values, [1.0, 0.0, 0.0, 1.0]);
        let s = batch(Arc::new(StringArray::from(vec!["<=50K", ">50K", "<=50K"])));
        let spec = TargetSpec::fit(&s, "y", None, None, "d").unwrap();
        assert!(matches!(&spec, TargetSpec::Binary { positive, .. } if positive == ">50K"));
    }

    #[test]
    fn positive_with_more_than_two_classes_is_an_error() {
        let b = batch(Arc::new(StringArray::from(vec!["a", "b", "c"])));
        let e = TargetSpec::fit(&b, "y", Some("a"), None, "d.csv").unwrap_err();
        assert!(
            e.to_string().contains(
                "d.csv: label column `y`: --positive needs a binary label, but it has 3 classes"
            ),
            "{e}"
        );
        let spec = TargetSpec::fit(&b, "y", None, None, "d.csv").unwrap();
        assert_eq!(spec.task(), Task::Multiclass);
        assert_eq!(spec.encode(&b, "d").unwrap().values, [0.0, 1.0, 2.0]);
    }

    #[test]
    fn float_labels_are_regression_and_missing_labels_name_the_row() {
        let b = batch(Arc::new(Float64Array::from(vec![0.5, 1.5, 2.0])));
        let spec = TargetSpec::fit(&b, "y", None, None, "d").unwrap();
        assert_eq!(spec.task(), Task::Regression);
        let n = batch(Arc::new(Int64Array::from(vec![Some(0), None, Some(1)])));
        let e = TargetSpec::fit(&n, "y", None, None, "d.csv").unwrap_err();
        assert!(
            e.to_string().contains("d.csv: label column `y`, row 2"),
            "{e}"
        );
        let e = TargetSpec::fit(&b, "nope", None, None, "d.csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("d.csv: no column `nope` (the label)"),
            "{e}"
        );
    }
}
