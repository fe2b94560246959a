//! Reading the label, prediction and score columns of a batch, with every
//! bad value an error naming its row and column.
//!
//! Classes are read from booleans, integers, integral floats and strings
//! (dictionary-encoded or not); numbers (regression) from integers and
//! floats; scores from integers and floats in [0, 1], or a list column.
//! Each column is read once per batch into dense codes (classes) or `f64`s,
//! so the task states count without touching Arrow or allocating per row.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use super::class_value::ClassValue;
use super::{QualityError, QualitySpec, ScoreColumns, Task, UnlabelledRows};

/// Code of a null class value.
pub const NULL_CODE: u32 = u32::MAX;

/// A class column: the distinct classes of the batch and each row's code.
#[derive(Debug, Clone, Default)]
pub struct ClassColumn {
    pub classes: Vec<ClassValue>,
    /// Index into `classes`, or [`NULL_CODE`].
    pub codes: Vec<u32>,
}

impl ClassColumn {
    pub fn class(&self, row: usize) -> Option<&ClassValue> {
        self.classes.get(self.codes[row] as usize)
    }
}

/// Scores of a batch.
#[derive(Debug, Clone, Default)]
pub enum BatchScores {
    #[default]
    None,
    /// Binary: the positive class's probability per row (NaN on rows that
    /// are not read: unlabelled ones).
    Single(Vec<f64>),
    /// Multiclass: `k` probabilities per row, row-major.
    Matrix { k: usize, values: Vec<f64> },
}

/// What a batch holds for the quality accumulators.
#[derive(Debug, Clone)]
pub enum Truth {
    Classes(ClassColumn),
    Numbers(Vec<f64>),
}

#[derive(Debug, Clone)]
pub struct BatchRows {
    pub rows: usize,
    /// Rows with a label, in order (every row unless unlabelled rows are skipped).
    pub labelled: Vec<u32>,
    pub label: Truth,
    pub prediction: Option<Truth>,
    pub scores: BatchScores,
}

/// Reads and checks the spec's columns of `batch` for `task`. The classes
/// the task allows beyond the batch (declared classes, per-class score
/// columns) are checked by the caller's state.
pub fn read(
    batch: &RecordBatch,
    spec: &QualitySpec,
    task: Task,
) -> Result<BatchRows, QualityError> {
    let label_array = column(batch, &spec.label)?;
    let mut labelled = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        if label_array.is_valid(row) {
            labelled.push(row as u32);
        } else if spec.unlabelled == UnlabelledRows::Error {
            return Err(QualityError::row(row, &spec.label, "the label is missing"));
        }
    }
    let label = match task {
        Task::Regression => Truth::Numbers(numbers(label_array, &spec.label, &labelled, "label")?),
        _ => Truth::Classes(classes(label_array, &spec.label, &labelled)?),
    };
    let prediction = match &spec.prediction {
        Some(name) => {
            let array = column(batch, name)?;
            Some(match task {
                Task::Regression => Truth::Numbers(numbers(array, name, &labelled, "prediction")?),
                _ => Truth::Classes(classes(array, name, &labelled)?),
            })
        }
        None => None,
    };
    let scores = match &spec.scores {
        ScoreColumns::None => BatchScores::None,
        ScoreColumns::Single(name) => {
            BatchScores::Single(scores(column(batch, name)?, name, &labelled)?)
        }
        ScoreColumns::PerClass(pairs) => {
            let k = pairs.len();
            let mut values = vec![f64::NAN; batch.num_rows() * k];
            for (j, (_, name)) in pairs.iter().enumerate() {
                let col = scores(column(batch, name)?, name, &labelled)?;
                for &row in &labelled {
                    values[row as usize * k + j] = col[row as usize];
                }
            }
            BatchScores::Matrix { k, values }
        }
        ScoreColumns::List(name) => list_scores(column(batch, name)?, name, &labelled, spec)?,
    };
    Ok(BatchRows {
        rows: batch.num_rows(),
        labelled,
        label,
        prediction,
        scores,
    })
}

pub fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, QualityError> {
    batch.column_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        QualityError::column(
            name,
            format!("not in the data (columns: {})", names.join(", ")),
        )
    })
}

/// Reads a class column; a null on a labelled row is an error.
pub fn classes(array: &ArrayRef, name: &str, rows: &[u32]) -> Result<ClassColumn, QualityError> {
    let n = array.len();
    let mut out = ClassColumn {
        classes: Vec::new(),
        codes: vec![NULL_CODE; n],
    };
    let missing =
        |row: u32| QualityError::row(row as usize, name, "the value is missing; expected a class");
    match array.data_type() {
        DataType::Boolean => {
            let a = array.as_boolean();
            out.classes = vec![ClassValue::from_bool(false), ClassValue::from_bool(true)];
            for &row in rows {
                let r = row as usize;
                if a.is_null(r) {
                    return Err(missing(row));
                }
                out.codes[r] = u32::from(a.value(r));
            }
        }
        t if t.is_integer() => {
            let a = cast(array, &DataType::Int64)
                .map_err(|e| QualityError::column(name, e.to_string()))?;
            let a = a.as_primitive::<Int64Type>();
            let mut dict: HashMap<i64, u32> = HashMap::new();
            for &row in rows {
                let r = row as usize;
                if a.is_null(r) {
                    return Err(missing(row));
                }
                let v = a.value(r);
                let next = dict.len() as u32;
                let code = *dict.entry(v).or_insert_with(|| {
                    out.classes.push(ClassValue::from_i64(v));
                    next
                });
                out.codes[r] = code;
            }
        }
        t if t.is_floating() => {
            let a = cast(array, &DataType::Float64)
                .map_err(|e| QualityError::column(name, e.to_string()))?;
            let a = a.as_primitive::<Float64Type>();
            let mut dict: HashMap<i64, u32> = HashMap::new();
            for &row in rows {
                let r = row as usize;
                if a.is_null(r) {
                    return Err(missing(row));
                }
                let v = a.value(r);
                let class = ClassValue::from_f64(v).ok_or_else(|| {
                    QualityError::row(
                        r,
                        name,
                        format!("{v} is not a class (classes are integers, booleans or strings; for a numeric target the task is regression)"),
                    )
                })?;
                let next = dict.len() as u32;
                let code = *dict.entry(v as i64).or_insert_with(|| {
                    out.classes.push(class);
                    next
                });
                out.codes[r] = code;
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let a = cast(array, &DataType::Utf8).map_err(|e| {
                QualityError::column(name, format!("cannot be read as classes: {e}"))
            })?;
            let a = a.as_string::<i32>();
            let mut dict: HashMap<&str, u32> = HashMap::new();
            for &row in rows {
                let r = row as usize;
                if a.is_null(r) {
                    return Err(missing(row));
                }
                let v = a.value(r);
                let next = dict.len() as u32;
                let code = *dict.entry(v).or_insert_with(|| {
                    out.classes.push(ClassValue::new(v));
                    next
                });
                out.codes[r] = code;
            }
        }
        other => {
            return Err(QualityError::column(
                name,
                format!("has type {other}; expected classes (integers, booleans or strings)"),
            ));
        }
    }
    Ok(out)
}

/// Reads a numeric column (regression labels and predictions): every
/// labelled row must hold a finite number.
pub fn numbers(
    array: &ArrayRef,
    name: &str,
    rows: &[u32],
    what: &str,
) -> Result<Vec<f64>, QualityError> {
    let t = array.data_type();
    if !(t.is_integer() || t.is_floating()) {
        // A text column: name the first value that is not a number (a CSV
        // column with one such value is read as text).
        if let Ok(text) = cast(array, &DataType::Utf8) {
            let text = text.as_string::<i32>();
            for &row in rows {
                let r = row as usize;
                if text.is_valid(r) && text.value(r).trim().parse::<f64>().is_err() {
                    return Err(QualityError::row(
                        r,
                        name,
                        format!(
                            "`{}` is not a number; a regression's {what} must be numeric",
                            text.value(r)
                        ),
                    ));
                }
            }
        }
        return Err(QualityError::column(
            name,
            format!("has type {t}; a regression's {what} must be numeric"),
        ));
    }
    let a =
        cast(array, &DataType::Float64).map_err(|e| QualityError::column(name, e.to_string()))?;
    let a = a.as_primitive::<Float64Type>();
    let mut out = vec![f64::NAN; a.len()];
    for &row in rows {
        let r = row as usize;
        if a.is_null(r) {
            return Err(QualityError::row(r, name, format!("the {what} is missing")));
        }
        let v = a.value(r);
        if !v.is_finite() {
            return Err(QualityError::row(
                r,
                name,
                format!("the {what} is {v}; expected a finite number"),
            ));
        }
        out[r] = v;
    }
    Ok(out)
}

fn check_score(v: f64, row: usize, name: &str) -> Result<f64, QualityError> {
    if v.is_nan() {
        return Err(QualityError::row(
            row,
            name,
            "the score is NaN; expected a probability in [0, 1]",
        ));
    }
    if !(0.0..=1.0).contains(&v) {
        return Err(QualityError::row(
            row,
            name,
            format!("the score {v} is outside [0, 1]; expected a probability"),
        ));
    }
    Ok(v + 0.0)
}

/// Reads a score column: every labelled row holds a probability.
pub fn scores(array: &ArrayRef, name: &str, rows: &[u32]) -> Result<Vec<f64>, QualityError> {
    let t = array.data_type();
    if !(t.is_integer() || t.is_floating()) {
        return Err(QualityError::column(
            name,
            format!("has type {t}; scores must be numbers in [0, 1]"),
        ));
    }
    let a =
        cast(array, &DataType::Float64).map_err(|e| QualityError::column(name, e.to_string()))?;
    let a = a.as_primitive::<Float64Type>();
    let mut out = vec![f64::NAN; a.len()];
    for &row in rows {
        let r = row as usize;
        if a.is_null(r) {
            return Err(QualityError::row(r, name, "the score is missing"));
        }
        out[r] = check_score(a.value(r), r, name)?;
    }
    Ok(out)
}

/// The number of classes a list score column carries.
pub fn list_classes(spec: &QualitySpec, k: usize) -> Vec<ClassValue> {
    match &spec.classes {
        Some(c) => c.iter().map(ClassValue::new).collect(),
        None => (0..k as i64).map(ClassValue::from_i64).collect(),
    }
}

fn list_scores(
    array: &ArrayRef,
    name: &str,
    rows: &[u32],
    spec: &QualitySpec,
) -> Result<BatchScores, QualityError> {
    let lists = cast(
        array,
        &DataType::List(std::sync::Arc::new(arrow::datatypes::Field::new(
            "item",
            DataType::Float64,
            true,
        ))),
    )
    .map_err(|_| {
        QualityError::column(
            name,
            format!(
                "has type {}; a list score column holds lists of probabilities",
                array.data_type()
            ),
        )
    })?;
    let lists = lists.as_list::<i32>();
    let declared = spec.classes.as_ref().map(Vec::len);
    let mut k = declared;
    let mut values = Vec::new();
    for &row in rows {
        let r = row as usize;
        if lists.is_null(r) {
            return Err(QualityError::row(r, name, "the scores are missing"));
        }
        let item = lists.value(r);
        let item = item.as_primitive::<Float64Type>();
        let len = item.len();
        let expected = *k.get_or_insert(len);
        if len != expected {
            return Err(QualityError::row(
                r,
                name,
                format!("{len} scores; expected one per class ({expected})"),
            ));
        }
        if values.is_empty() {
            values = vec![f64::NAN; lists.len() * expected];
        }
        for j in 0..len {
            if item.is_null(j) {
                return Err(QualityError::row(r, name, format!("score {j} is missing")));
            }
            values[r * expected + j] = check_score(item.value(j), r, name)?;
        }
    }
    let k = k.unwrap_or(0);
    if values.is_empty() {
        values = vec![f64::NAN; lists.len() * k];
    }
    Ok(BatchScores::Matrix { k, values })
}
