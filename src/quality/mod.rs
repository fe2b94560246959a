//! Model quality and fairness from labelled predictions: mergeable
//! accumulators whose finished metrics equal scikit-learn's and Fairlearn's,
//! comparisons that alarm only on significant changes, and performance
//! estimated without labels (CBPE).
//!
//! # The contract
//!
//! Like the profile accumulators, every accumulator here is created from a
//! [`QualitySpec`] and a [`Task`], updated with Arrow batches, merged, and
//! finished into a report:
//!
//! ```text
//! let mut acc = QualityAccumulator::new(&spec, Task::Binary)?;
//! acc.update(&batch)?;            // rows: label, prediction and/or score, slice columns
//! acc.merge(&other)?;             // associative and commutative
//! let report = acc.finish();      // QualityReport (serde::Serialize)
//! let findings = compare::compare_quality(&reference, &report, &AlarmOptions::default());
//! ```
//!
//! [`FairnessAccumulator`] is the same for groups of the sensitive columns.
//! Both accumulators serialize their state with serde (the daemon persists
//! open windows), and a restored state merges and finishes exactly like the
//! original.
//!
//! A batch is validated whole before any row of it is counted: a bad row
//! (a missing label, a score outside [0, 1], a third class in a binary task)
//! is a [`QualityError::Row`] naming the row (0-based within the batch; see
//! [`QualityError::offset_rows`]) and the column, and the accumulator is left
//! as it was.
//!
//! # Files
//!
//! - [`class_value`]: class labels as values with one order;
//! - [`columns`]: reading the label, prediction and score columns of a batch;
//! - [`task`]: inferring the task from the columns' types and values;
//! - [`binary`], [`multiclass`], [`regression`]: the per-task states;
//! - [`ranking`]: score histograms, ROC AUC, average precision, DeLong;
//! - [`calibration`]: calibration curve and expected calibration error;
//! - [`accumulator`]: [`QualityAccumulator`] (a task state per slice);
//! - [`fairness`]: [`FairnessAccumulator`] and the disparity metrics;
//! - [`intervals`]: Wilson, Newcombe and normal intervals, the tests;
//! - [`compare`]: findings against a reference;
//! - [`cbpe`], [`isotonic`]: confidence-based performance estimation;
//! - [`report`]: the finished, serializable reports; [`table`]: their tables.
//!
//! docs/quality.md has the definitions, the parity results and the measured
//! error bounds.

pub mod accumulator;
pub mod binary;
pub mod calibration;
pub mod cbpe;
pub mod class_value;
pub mod columns;
pub mod compare;
pub mod fairness;
pub mod intervals;
pub mod isotonic;
pub mod multiclass;
pub mod ranking;
pub mod regression;
pub mod report;
pub mod serde_map;
pub mod sums;
pub mod table;
pub mod task;

pub use accumulator::QualityAccumulator;
pub use class_value::ClassValue;
pub use compare::{AlarmOptions, compare_fairness, compare_quality, fairness_levels};
pub use fairness::FairnessAccumulator;
pub use report::{FairnessReport, QualityReport};
pub use task::TaskEvidence;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes; the score (if any) is the probability of the positive one.
    Binary,
    /// More than two classes; scores (if any) are one probability per class.
    Multiclass,
    /// A number.
    Regression,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Binary => "binary",
            Self::Multiclass => "multiclass",
            Self::Regression => "regression",
        }
    }

    /// Parses `binary`, `multiclass` or `regression`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "binary" => Some(Self::Binary),
            "multiclass" => Some(Self::Multiclass),
            "regression" => Some(Self::Regression),
            _ => None,
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the model's probabilities are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreColumns {
    /// No scores: only class metrics (or regression).
    #[default]
    None,
    /// Binary: one column, the probability of the positive class.
    Single(String),
    /// Multiclass: one column per class, `(class, column)`, in the order
    /// ties of the arg-max are broken (the first wins, as `numpy.argmax`).
    PerClass(Vec<(String, String)>),
    /// Multiclass: one list column; item `i` is the probability of the
    /// `i`-th class of [`QualitySpec::classes`] (or of the integer class `i`
    /// when no classes are declared).
    List(String),
}

impl ScoreColumns {
    /// The column names, in order.
    pub fn columns(&self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::Single(c) | Self::List(c) => vec![c.clone()],
            Self::PerClass(pairs) => pairs.iter().map(|(_, c)| c.clone()).collect(),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }
}

/// What to do with a row whose label is null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlabelledRows {
    /// A bad row: the batch is rejected with an error naming the row.
    #[default]
    Error,
    /// Counted in `rows` but not in `labelled`, and left out of every metric
    /// (predictions whose labels have not arrived yet).
    Skip,
}

/// Which columns hold what, and how to read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualitySpec {
    /// The ground truth.
    pub label: String,
    /// The predicted class (classification) or value (regression). Without
    /// it a binary task predicts `score >= threshold` and a multiclass task
    /// the arg-max of the scores.
    pub prediction: Option<String>,
    pub scores: ScoreColumns,
    /// Binary: a score at or above it predicts the positive class.
    pub threshold: f64,
    /// Binary: the positive class, as text (`1`, `true`, `>50K`). Default:
    /// `1` when the classes are numbers within {0, 1} or {-1, 1}, `true`
    /// when they are booleans, else the last class in sort order (see
    /// [`ClassValue`]).
    pub positive: Option<String>,
    /// The label's domain when known (the schema's): decides the default
    /// positive class before both classes have been seen, and names the
    /// classes of a list score column. Labels outside it are bad rows.
    pub classes: Option<Vec<String>>,
    /// Slices, as `assay profile --slice`: each a list of columns; every
    /// combination of their values seen in the data is a slice.
    pub slices: Vec<Vec<String>>,
    /// Most slices (all specs together); more is an error.
    pub max_slices: usize,
    /// Fairness: the sensitive columns. Groups are each column's values and,
    /// with several columns, their combinations.
    pub sensitive: Vec<String>,
    /// Groups with fewer labelled rows are reported as insufficient and
    /// never judged (no disparity, no finding).
    pub min_group_size: u64,
    pub unlabelled: UnlabelledRows,
}

impl QualitySpec {
    /// A spec with only the label column set and every default.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            prediction: None,
            scores: ScoreColumns::None,
            threshold: 0.5,
            positive: None,
            classes: None,
            slices: Vec::new(),
            max_slices: 1000,
            sensitive: Vec::new(),
            min_group_size: DEFAULT_MIN_GROUP_SIZE,
            unlabelled: UnlabelledRows::Error,
        }
    }

    /// Checks the spec on its own and against a task: an error names what
    /// is inconsistent (a score column for a regression, a threshold outside
    /// [0, 1], ...).
    pub fn check(&self, task: Task) -> Result<(), QualityError> {
        let spec = |m: String| Err(QualityError::Spec(m));
        if !(0.0..=1.0).contains(&self.threshold) {
            return spec(format!(
                "threshold {} is not a probability; expected a number in [0, 1]",
                self.threshold
            ));
        }
        match (task, &self.scores) {
            (Task::Regression, s) if !s.is_none() => {
                return spec(
                    "a regression has no scores; give the predicted value as the prediction column"
                        .into(),
                );
            }
            (Task::Regression, _) if self.prediction.is_none() => {
                return spec("a regression needs the prediction column".into());
            }
            (Task::Binary, ScoreColumns::PerClass(_) | ScoreColumns::List(_)) => {
                return spec(
                    "a binary task takes one score column: the probability of the positive class"
                        .into(),
                );
            }
            (Task::Multiclass, ScoreColumns::Single(c)) => {
                return spec(format!(
                    "a multiclass task needs one score column per class (CLASS=COLUMN) or a list column; `{c}` alone is one probability"
                ));
            }
            (Task::Multiclass, ScoreColumns::PerClass(pairs)) if pairs.len() < 2 => {
                return spec("a multiclass task needs at least two score columns".into());
            }
            _ => {}
        }
        if let ScoreColumns::PerClass(pairs) = &self.scores {
            let mut seen = std::collections::BTreeSet::new();
            for (class, _) in pairs {
                if !seen.insert(ClassValue::new(class)) {
                    return spec(format!("class `{class}` has two score columns"));
                }
            }
        }
        if let Some(classes) = &self.classes {
            if classes.is_empty() {
                return spec("the declared classes are empty".into());
            }
            if task == Task::Binary && classes.len() > 2 {
                return spec(format!(
                    "a binary task has two classes, but {} are declared",
                    classes.len()
                ));
            }
        }
        Ok(())
    }

    /// Every column the spec reads (label, prediction, scores, slices,
    /// sensitive), each once.
    pub fn columns(&self) -> Vec<String> {
        let mut out = vec![self.label.clone()];
        out.extend(self.prediction.iter().cloned());
        out.extend(self.scores.columns());
        out.extend(self.slices.iter().flatten().cloned());
        out.extend(self.sensitive.iter().cloned());
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|c| seen.insert(c.clone()));
        out
    }
}

/// Groups smaller than this are insufficient unless the spec says otherwise.
pub const DEFAULT_MIN_GROUP_SIZE: u64 = 30;

/// A batch, a spec or a merge the accumulators cannot take. Nothing of a
/// failed update or merge is applied.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum QualityError {
    /// A bad value. `row` is 0-based within the batch given to `update`.
    #[error("row {row}, column `{column}`: {message}")]
    Row {
        row: usize,
        column: String,
        message: String,
    },
    /// A column missing or of a type that cannot be read as what it is for.
    #[error("column `{column}`: {message}")]
    Column { column: String, message: String },
    /// An inconsistent spec or task.
    #[error("{0}")]
    Spec(String),
    /// Two accumulators that do not describe the same thing.
    #[error("cannot merge: {0}")]
    Merge(String),
    /// More slices than allowed.
    #[error(
        "more than {max} slices (while slicing by `{spec}`); slice by fewer or coarser columns, or raise the limit"
    )]
    TooManySlices { spec: String, max: usize },
}

impl QualityError {
    /// Shifts a row error by `base` (the batch's first row within a file),
    /// so the message names the row of the file.
    pub fn offset_rows(self, base: usize) -> Self {
        match self {
            Self::Row {
                row,
                column,
                message,
            } => Self::Row {
                row: row + base,
                column,
                message,
            },
            other => other,
        }
    }

    pub(crate) fn row(row: usize, column: &str, message: impl Into<String>) -> Self {
        Self::Row {
            row,
            column: column.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn column(column: &str, message: impl Into<String>) -> Self {
        Self::Column {
            column: column.to_string(),
            message: message.into(),
        }
    }
}
