//! Where predictions and labels enter the pending store: a batch's
//! pending predictions (checked whole at ingest, stored once its window
//! log is synced), and a checked label body joined in one transaction.

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::DataType;

use super::classes::BodyClasses;
use super::store::Prediction;
use super::{ModelQuality, RowError, cell};
use crate::quality::{ClassValue, Task};
use crate::server::state::window_seq;

/// A batch's pending predictions and the classes they bring.
#[derive(Default)]
pub struct PendingBatch {
    pub predictions: Vec<Prediction>,
    pub classes: Vec<String>,
}

/// A label body, decoded and checked row by row: `(request id, label
/// cell)` per row, and the labels' classes.
pub struct LabelBody {
    pub items: Vec<(String, Vec<u8>)>,
    pub classes: BodyClasses,
    /// The body's label column (for errors).
    pub label_column: String,
}

/// Why a label body was not joined.
#[derive(Debug)]
pub enum JoinError {
    /// A bad row: nothing joined.
    Bad(RowError),
    /// The store failed: nothing joined.
    Store(String),
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bad(e) => write!(f, "row {}, column `{}`: {}", e.row, e.column, e.message),
            Self::Store(e) => f.write_str(e),
        }
    }
}

impl ModelQuality {
    /// The pending predictions of a decoded batch: rows with a request id,
    /// their quality columns (checked: scores numbers in [0, 1]) and their
    /// label when the batch has the label column. Nothing is stored yet.
    pub fn predictions(&self, batch: &RecordBatch) -> Result<PendingBatch, RowError> {
        let Some(ids) = batch.column_by_name(&self.id_column) else {
            return Ok(PendingBatch::default());
        };
        let ids = cell::conform(ids, &DataType::Utf8).map_err(|message| RowError {
            row: 0,
            column: self.id_column.clone(),
            message,
        })?;
        let ids = ids
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("cast to Utf8");
        let mut columns: Vec<Option<ArrayRef>> = Vec::new();
        for (name, t) in &self.row_columns {
            let col = match batch.column_by_name(name) {
                Some(c) => Some(cell::conform(c, t).map_err(|message| RowError {
                    row: 0,
                    column: name.clone(),
                    message,
                })?),
                None => None,
            };
            columns.push(col);
        }
        let score_columns = self.spec.scores.columns();
        for ((name, _), col) in self.row_columns.iter().zip(&columns) {
            let is_score = score_columns.contains(name);
            let is_prediction = self.spec.prediction.as_deref() == Some(name.as_str());
            if !(is_score || is_prediction) {
                continue;
            }
            let Some(col) = col else {
                return Err(RowError {
                    row: 0,
                    column: name.clone(),
                    message: format!(
                        "the batch has no column `{name}`; model quality needs it on every row with a request id"
                    ),
                });
            };
            for row in 0..batch.num_rows() {
                if ids.is_null(row) || ids.value(row).is_empty() {
                    continue;
                }
                if col.is_null(row) {
                    return Err(RowError {
                        row,
                        column: name.clone(),
                        message: "the value is missing".into(),
                    });
                }
                if is_score {
                    let v = match col.data_type() {
                        DataType::Float64 => col
                            .as_any()
                            .downcast_ref::<arrow::array::Float64Array>()
                            .map(|a| a.value(row)),
                        DataType::Int64 => col
                            .as_any()
                            .downcast_ref::<arrow::array::Int64Array>()
                            .map(|a| a.value(row) as f64),
                        _ => None,
                    };
                    match v {
                        Some(v) if (0.0..=1.0).contains(&v) => {}
                        Some(v) => {
                            return Err(RowError {
                                row,
                                column: name.clone(),
                                message: format!(
                                    "the score {v} is outside [0, 1]; expected a probability"
                                ),
                            });
                        }
                        None => {
                            return Err(RowError {
                                row,
                                column: name.clone(),
                                message: format!(
                                    "scores must be numbers in [0, 1], found {}",
                                    col.data_type()
                                ),
                            });
                        }
                    }
                }
            }
        }
        let labels = match batch.column_by_name(&self.spec.label) {
            Some(c) => Some(
                cell::conform(c, &self.label_type).map_err(|message| RowError {
                    row: 0,
                    column: self.spec.label.clone(),
                    message,
                })?,
            ),
            None => None,
        };
        // Label values and predicted classes the model cannot take are bad
        // rows too; a binary model's classes are reserved here, before the
        // batch commits, so that no concurrent body brings another.
        let no_id = |row: usize| ids.is_null(row) || ids.value(row).is_empty();
        let mut classes: Vec<(ClassValue, usize)> = Vec::new();
        if let Some(l) = &labels {
            classes.extend(
                self.classes
                    .check_values(l.as_ref(), &self.spec.label, no_id)?
                    .classes,
            );
        }
        let predicted = self
            .spec
            .prediction
            .as_deref()
            .filter(|_| !matches!(self.task, Some(Task::Regression)));
        if let Some(name) = predicted
            && let Some(i) = self.row_columns.iter().position(|(n, _)| n == name)
            && let Some(col) = &columns[i]
        {
            let found = self.classes.check_values(col.as_ref(), name, no_id)?;
            let _gate = self.classes.gate();
            self.classes.check_binary(&found, name)?;
            classes.extend(found.classes);
        }
        {
            let _gate = self.classes.gate();
            let body = BodyClasses {
                classes: classes.clone(),
                of_row: Vec::new(),
            };
            self.classes.check_binary(&body, &self.spec.label)?;
            self.classes.record(classes.iter().map(|(c, _)| c.as_str()));
        }
        let mut out = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            if no_id(row) {
                continue;
            }
            let mut bytes = Vec::with_capacity(16 * columns.len());
            for col in &columns {
                match col {
                    Some(c) => cell::encode(c.as_ref(), row, &mut bytes),
                    None => bytes.push(0),
                }
            }
            let label = labels.as_ref().filter(|l| !l.is_null(row)).map(|l| {
                let mut b = Vec::with_capacity(9);
                cell::encode(l.as_ref(), row, &mut b);
                b
            });
            out.push(Prediction {
                id: ids.value(row).to_string(),
                row: bytes,
                label,
            });
        }
        let mut names: Vec<String> = classes
            .into_iter()
            .map(|(c, _)| c.as_str().to_string())
            .collect();
        names.sort();
        names.dedup();
        Ok(PendingBatch {
            predictions: out,
            classes: names,
        })
    }

    /// Stores a batch's predictions under its window, durably.
    pub fn store_predictions(&self, window: &str, pending: &PendingBatch) -> Result<(), String> {
        if pending.predictions.is_empty() {
            return Ok(());
        }
        let seq = window_seq(window).ok_or_else(|| format!("window id {window}"))?;
        self.store.add_predictions(
            seq,
            window,
            crate::server::model::now_ms(),
            &pending.predictions,
            &pending.classes,
        )?;
        self.dirty.lock().map_err(|_| "poisoned")?.insert(seq);
        Ok(())
    }

    /// Accepts a checked label body durably (appended to the label log,
    /// synced): all of it, or (a third class of a binary model, a store
    /// error) none. The labels are joined to their predictions later
    /// ([`ModelQuality::join_labels`]). Returns how many were accepted.
    pub fn accept(&self, body: &LabelBody) -> Result<usize, JoinError> {
        let _gate = self.classes.gate();
        self.classes
            .check_binary(&body.classes, &body.label_column)
            .map_err(JoinError::Bad)?;
        let names = body.classes.names();
        self.store
            .add_labels(&body.items, crate::server::model::now_ms(), &names)
            .map_err(JoinError::Store)?;
        self.classes.record(names.iter().map(String::as_str));
        Ok(body.items.len())
    }
}
