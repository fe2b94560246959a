//! [`QualityAccumulator`]: a task state for the whole data and one per
//! slice, following the profile contract (new / update / merge / finish).

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use super::binary::BinaryState;
use super::columns::{self, BatchRows};
use super::multiclass::MulticlassState;
use super::regression::RegressionState;
use super::report::{QUALITY_FORMAT, QualityReport, SliceQuality, Summary, key_name};
use super::serde_map;
use super::{QualityError, QualitySpec, ScoreColumns, Task};

/// The state of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Binary(BinaryState),
    // Boxed: the three states differ in size by hundreds of bytes, and a
    // sliced accumulator holds one per slice.
    Multiclass(Box<MulticlassState>),
    Regression(Box<RegressionState>),
}

impl TaskState {
    pub fn new(spec: &QualitySpec, task: Task) -> Self {
        match task {
            Task::Binary => Self::Binary(BinaryState::default()),
            Task::Multiclass => Self::Multiclass(Box::new(MulticlassState::new(spec))),
            Task::Regression => Self::Regression(Box::default()),
        }
    }

    fn check(
        &self,
        rows: &BatchRows,
        selection: &[u32],
        spec: &QualitySpec,
    ) -> Result<(), QualityError> {
        match self {
            Self::Binary(s) => s.check(rows, selection, spec),
            Self::Multiclass(s) => s.check(rows, selection, spec),
            Self::Regression(_) => Ok(()),
        }
    }

    fn apply(&mut self, rows: &BatchRows, selection: &[u32], spec: &QualitySpec) {
        match self {
            Self::Binary(s) => s.apply(rows, selection, spec.threshold, true),
            Self::Multiclass(s) => s.apply(rows, selection),
            Self::Regression(s) => s.apply(rows, selection),
        }
    }

    fn merge(&mut self, other: &TaskState) -> Result<(), QualityError> {
        match (self, other) {
            (Self::Binary(a), Self::Binary(b)) => a.merge(b),
            (Self::Multiclass(a), Self::Multiclass(b)) => a.merge(b),
            (Self::Regression(a), Self::Regression(b)) => {
                a.merge(b);
                Ok(())
            }
            _ => Err(QualityError::Merge(
                "the states are of different tasks".into(),
            )),
        }
    }
}

/// A slice: its spec's index and the values of its columns.
pub type SliceKey = (usize, Vec<Option<String>>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceState {
    /// Rows in the slice, labelled or not.
    pub rows: u64,
    pub state: TaskState,
}

/// Model quality of labelled predictions, for the whole data and per slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityAccumulator {
    spec: QualitySpec,
    task: Task,
    rows: u64,
    state: TaskState,
    #[serde(with = "serde_map")]
    slices: BTreeMap<SliceKey, SliceState>,
}

/// Rows of a batch grouped by slice key, per slice spec.
/// A slice spec's rows of one batch, by the values of its columns.
pub(crate) type RowGroups = BTreeMap<Vec<Option<String>>, Vec<u32>>;

pub(crate) fn group_rows(
    batch: &RecordBatch,
    specs: &[Vec<String>],
) -> Result<Vec<RowGroups>, QualityError> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let arrays = spec
            .iter()
            .map(|name| {
                let column = columns::column(batch, name)?;
                cast(column, &DataType::Utf8)
                    .map_err(|e| QualityError::column(name, format!("cannot be sliced on: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let strings: Vec<_> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
        let mut groups: BTreeMap<Vec<Option<&str>>, Vec<u32>> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            let key: Vec<Option<&str>> = strings
                .iter()
                .map(|s| s.is_valid(row).then(|| s.value(row)))
                .collect();
            groups.entry(key).or_default().push(row as u32);
        }
        out.push(
            groups
                .into_iter()
                .map(|(k, v)| (k.into_iter().map(|s| s.map(str::to_string)).collect(), v))
                .collect(),
        );
    }
    Ok(out)
}

/// The rows of `rows` (sorted) that are also in `labelled` (sorted).
pub(crate) fn intersect(rows: &[u32], labelled: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(rows.len());
    let (mut i, mut j) = (0, 0);
    while i < rows.len() && j < labelled.len() {
        match rows[i].cmp(&labelled[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(rows[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

impl QualityAccumulator {
    /// An empty accumulator; an error when the spec does not fit the task.
    pub fn new(spec: &QualitySpec, task: Task) -> Result<Self, QualityError> {
        spec.check(task)?;
        Ok(Self {
            spec: spec.clone(),
            task,
            rows: 0,
            state: TaskState::new(spec, task),
            slices: BTreeMap::new(),
        })
    }

    pub fn spec(&self) -> &QualitySpec {
        &self.spec
    }

    pub fn task(&self) -> Task {
        self.task
    }

    /// Rows seen (labelled or not).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The whole data's state (for CBPE's reference fit).
    pub fn state(&self) -> &TaskState {
        &self.state
    }

    /// Counts a batch. The batch is checked whole first: on an error
    /// nothing of it is counted.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), QualityError> {
        let rows = columns::read(batch, &self.spec, self.task)?;
        let groups = group_rows(batch, &self.spec.slices)?;
        self.state.check(&rows, &rows.labelled, &self.spec)?;
        let new_slices = groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.keys().map(move |k| (i, k)))
            .filter(|(i, k)| !self.slices.contains_key(&(*i, (*k).clone())))
            .count();
        if self.slices.len() + new_slices > self.spec.max_slices {
            return Err(self.too_many_slices());
        }
        self.rows += rows.rows as u64;
        self.state.apply(&rows, &rows.labelled, &self.spec);
        for (index, groups) in groups.into_iter().enumerate() {
            for (key, members) in groups {
                let selection = intersect(&members, &rows.labelled);
                let slice = self
                    .slices
                    .entry((index, key))
                    .or_insert_with(|| SliceState {
                        rows: 0,
                        state: TaskState::new(&self.spec, self.task),
                    });
                slice.rows += members.len() as u64;
                // Checked through the whole data's state: a slice's classes
                // are a subset of the whole's.
                slice.state.apply(&rows, &selection, &self.spec);
            }
        }
        Ok(())
    }

    fn too_many_slices(&self) -> QualityError {
        QualityError::TooManySlices {
            spec: self
                .spec
                .slices
                .iter()
                .map(|s| s.join(","))
                .collect::<Vec<_>>()
                .join(" "),
            max: self.spec.max_slices,
        }
    }

    /// Merges another accumulator of the same spec and task. Associative
    /// and commutative (tests/quality_merge_laws.rs); on an error nothing
    /// is merged.
    pub fn merge(&mut self, other: &QualityAccumulator) -> Result<(), QualityError> {
        if self.spec != other.spec || self.task != other.task {
            return Err(QualityError::Merge(
                "the accumulators have different specs or tasks".into(),
            ));
        }
        let new_slices = other
            .slices
            .keys()
            .filter(|k| !self.slices.contains_key(*k))
            .count();
        if self.slices.len() + new_slices > self.spec.max_slices {
            return Err(self.too_many_slices());
        }
        // The whole data's merge is the one that can fail (a third class);
        // slices hold subsets of its classes, so theirs then cannot.
        self.state.merge(&other.state)?;
        self.rows += other.rows;
        for (key, theirs) in &other.slices {
            match self.slices.get_mut(key) {
                Some(mine) => {
                    mine.rows += theirs.rows;
                    mine.state.merge(&theirs.state)?;
                }
                None => {
                    self.slices.insert(key.clone(), theirs.clone());
                }
            }
        }
        Ok(())
    }

    /// The report (no findings: see [`super::compare`]).
    pub fn finish(&self) -> QualityReport {
        let resolved = match &self.state {
            TaskState::Binary(s) => Some(s.resolve(&self.spec)),
            _ => None,
        };
        let summarize = |state: &TaskState, rows: u64| -> Summary {
            let mut summary = match state {
                TaskState::Binary(s) => s.finish(&self.spec, resolved.as_ref().expect("binary")),
                TaskState::Multiclass(s) => s.finish(),
                TaskState::Regression(s) => s.finish(),
            };
            summary.rows = rows;
            summary
        };
        let summary = summarize(&self.state, self.rows);
        let slices = self
            .slices
            .iter()
            .map(|((index, values), slice)| {
                let parts: Vec<(String, Option<String>)> = self.spec.slices[*index]
                    .iter()
                    .cloned()
                    .zip(values.iter().cloned())
                    .collect();
                SliceQuality {
                    slice: key_name(&parts),
                    key: parts.into_iter().collect(),
                    summary: summarize(&slice.state, slice.rows),
                }
            })
            .collect();
        let classes = match &self.state {
            TaskState::Binary(_) => resolved
                .as_ref()
                .map(|r| r.classes.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            TaskState::Multiclass(s) => {
                let mut all: std::collections::BTreeSet<_> = s.classes().into_iter().collect();
                all.extend(s.score_classes.iter().cloned());
                all.iter().map(ToString::to_string).collect()
            }
            TaskState::Regression(_) => Vec::new(),
        };
        QualityReport {
            format: QUALITY_FORMAT.to_string(),
            task: self.task,
            label: self.spec.label.clone(),
            prediction: self.spec.prediction.clone(),
            scores: self.spec.scores.columns(),
            positive_class: resolved.as_ref().map(|r| r.positive.to_string()),
            classes,
            threshold: (self.task == Task::Binary
                && self.spec.prediction.is_none()
                && matches!(self.spec.scores, ScoreColumns::Single(_)))
            .then_some(self.spec.threshold),
            summary,
            slices,
            findings: Vec::new(),
            estimated: None,
        }
    }
}
