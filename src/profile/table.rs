//! Table accumulator: every column of a dataset plus its slices.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use super::ProfileError;
use super::column::{ColumnAccumulator, Detail};
use super::model::{ColumnRole, PROFILE_FORMAT, Profile, SliceKeyPart, SliceProfile};

/// Which columns to profile, their roles, and how to slice.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Explicit roles (`--role label=default_flag`); other columns get a
    /// role from their name (see [`default_role`]).
    pub roles: Vec<(String, ColumnRole)>,
    /// Each spec is a list of columns; every combination of their values
    /// seen in the data becomes a slice.
    pub slices: Vec<Vec<String>>,
    /// Cap on the number of slices across all specs.
    pub max_slices: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            roles: Vec::new(),
            slices: Vec::new(),
            max_slices: 1000,
        }
    }
}

/// Conventional column names get a role without configuration: `prediction`,
/// `score` → prediction; `label`, `target` → label; `id` and `*_id` → id;
/// `weight`, `sample_weight` → weight; timestamp and date columns →
/// timestamp. Everything else is a feature. `--role` overrides.
pub fn default_role(name: &str, data_type: &DataType) -> ColumnRole {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "prediction" | "predictions" | "score" | "prediction_score" => ColumnRole::Prediction,
        "label" | "target" => ColumnRole::Label,
        "weight" | "sample_weight" => ColumnRole::Weight,
        "id" => ColumnRole::Id,
        _ if lower.ends_with("_id") => ColumnRole::Id,
        _ if matches!(
            data_type,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
        ) =>
        {
            ColumnRole::Timestamp
        }
        _ => ColumnRole::Feature,
    }
}

type SliceKey = (usize, Vec<Option<String>>);

#[derive(Debug, Clone)]
pub struct TableAccumulator {
    rows: u64,
    columns: Vec<ColumnAccumulator>,
    options: ProfileOptions,
    /// Per slice spec index and value combination.
    slices: BTreeMap<SliceKey, (u64, Vec<ColumnAccumulator>)>,
    sources: Vec<String>,
}

impl TableAccumulator {
    /// `schema` lists the columns to profile; batches may carry extra
    /// (derived) columns after them, used only for slicing.
    pub fn new(schema: &Schema, options: &ProfileOptions) -> Result<Self, ProfileError> {
        for (name, _) in &options.roles {
            if schema.field_with_name(name).is_err() {
                return Err(ProfileError::Invalid(format!(
                    "--role names column `{name}`, which the data does not have"
                )));
            }
        }
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let role = options
                    .roles
                    .iter()
                    .find(|(n, _)| n == f.name())
                    .map(|(_, r)| *r)
                    .unwrap_or_else(|| default_role(f.name(), f.data_type()));
                ColumnAccumulator::new(f.name(), f.data_type(), role)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rows: 0,
            columns,
            options: options.clone(),
            slices: BTreeMap::new(),
            sources: Vec::new(),
        })
    }

    /// Narrows what each column computes (see [`Detail`]): `detail` is
    /// asked for each column by name. For internal passes only; the
    /// profile then lacks what was skipped.
    pub fn narrow(&mut self, detail: impl Fn(&str) -> Detail) {
        for column in &mut self.columns {
            column.detail = detail(&column.name);
        }
    }

    /// The accumulator of the profiled column `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<&ColumnAccumulator> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn set_sources(&mut self, sources: Vec<String>) {
        self.sources = sources;
    }

    pub fn update(&mut self, batch: &RecordBatch) -> Result<(), ProfileError> {
        self.rows += batch.num_rows() as u64;
        update_columns(&mut self.columns, batch)?;
        for spec_index in 0..self.options.slices.len() {
            self.update_slices(spec_index, batch)?;
        }
        Ok(())
    }

    fn update_slices(
        &mut self,
        spec_index: usize,
        batch: &RecordBatch,
    ) -> Result<(), ProfileError> {
        let spec = &self.options.slices[spec_index];
        let key_columns: Vec<ArrayRef> = spec
            .iter()
            .map(|name| {
                let column = batch.column_by_name(name).ok_or_else(|| {
                    ProfileError::Invalid(format!(
                        "--slice names column `{name}`, which the data does not have"
                    ))
                })?;
                cast(column, &DataType::Utf8).map_err(|e| {
                    ProfileError::Invalid(format!(
                        "--slice column `{name}` cannot be sliced on: {e}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let strings: Vec<_> = key_columns.iter().map(|c| c.as_string::<i32>()).collect();
        let mut groups: BTreeMap<Vec<Option<&str>>, Vec<u32>> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            let key: Vec<Option<&str>> = strings
                .iter()
                .map(|s| s.is_valid(row).then(|| s.value(row)))
                .collect();
            groups.entry(key).or_default().push(row as u32);
        }
        let width = self.columns.len();
        let profiled = batch
            .project(&(0..width).collect::<Vec<_>>())
            .map_err(|e| {
                ProfileError::Invalid(format!("batch does not match the profiled columns: {e}"))
            })?;
        for (key, rows) in groups {
            let owned: Vec<Option<String>> = key.iter().map(|v| v.map(str::to_string)).collect();
            let slice_key = (spec_index, owned);
            if !self.slices.contains_key(&slice_key) && self.slices.len() >= self.options.max_slices
            {
                return Err(ProfileError::TooManySlices {
                    spec: spec.join(","),
                    max: self.options.max_slices,
                });
            }
            let part = take_record_batch(&profiled, &UInt32Array::from(rows)).map_err(|e| {
                ProfileError::Invalid(format!("cannot select the rows of a slice: {e}"))
            })?;
            let template = &self.columns;
            let entry = self.slices.entry(slice_key).or_insert_with(|| {
                (
                    0,
                    template.iter().map(ColumnAccumulator::empty_like).collect(),
                )
            });
            entry.0 += part.num_rows() as u64;
            update_columns(&mut entry.1, &part)?;
        }
        Ok(())
    }

    pub fn merge(&mut self, other: &TableAccumulator) -> Result<(), ProfileError> {
        merge_columns(&mut self.columns, &other.columns)?;
        self.rows += other.rows;
        for (key, (rows, columns)) in &other.slices {
            match self.slices.get_mut(key) {
                Some((r, mine)) => {
                    *r += rows;
                    merge_columns(mine, columns)?;
                }
                None => {
                    self.slices.insert(key.clone(), (*rows, columns.clone()));
                }
            }
        }
        if self.slices.len() > self.options.max_slices {
            return Err(ProfileError::TooManySlices {
                spec: self
                    .options
                    .slices
                    .iter()
                    .map(|s| s.join(","))
                    .collect::<Vec<_>>()
                    .join(" "),
                max: self.options.max_slices,
            });
        }
        for s in &other.sources {
            if !self.sources.contains(s) {
                self.sources.push(s.clone());
            }
        }
        Ok(())
    }

    pub fn finish(&self) -> Profile {
        let slices = self
            .slices
            .iter()
            .map(|((spec_index, values), (rows, columns))| {
                let key: Vec<SliceKeyPart> = self.options.slices[*spec_index]
                    .iter()
                    .zip(values)
                    .map(|(column, value)| SliceKeyPart {
                        column: column.clone(),
                        value: value.clone(),
                    })
                    .collect();
                SliceProfile {
                    name: slice_name(&key),
                    key,
                    rows: *rows,
                    columns: columns.iter().map(ColumnAccumulator::finish).collect(),
                }
            })
            .collect();
        Profile {
            format: PROFILE_FORMAT.to_string(),
            created_by: format!("assay {}", env!("CARGO_PKG_VERSION")),
            sources: self.sources.clone(),
            rows: self.rows,
            // Columns finish independently (quantiles, histograms, sketch
            // images): in parallel, in order.
            columns: self
                .columns
                .par_iter()
                .map(ColumnAccumulator::finish)
                .collect(),
            slice_specs: self.options.slices.clone(),
            slices,
        }
    }

    /// Rebuilds the accumulator of a saved profile, so profiles merge.
    pub fn from_profile(profile: &Profile, max_slices: usize) -> Result<Self, ProfileError> {
        let spec_index = |key: &[SliceKeyPart]| {
            let columns: Vec<String> = key.iter().map(|k| k.column.clone()).collect();
            profile.slice_specs.iter().position(|s| *s == columns)
        };
        let mut slices = BTreeMap::new();
        for slice in &profile.slices {
            let index = spec_index(&slice.key).ok_or_else(|| {
                ProfileError::Invalid(format!(
                    "slice `{}` does not match any entry of slice_specs",
                    slice.name
                ))
            })?;
            let values = slice.key.iter().map(|k| k.value.clone()).collect();
            let columns = slice
                .columns
                .iter()
                .map(ColumnAccumulator::from_profile)
                .collect();
            slices.insert((index, values), (slice.rows, columns));
        }
        Ok(Self {
            rows: profile.rows,
            columns: profile
                .columns
                .iter()
                .map(ColumnAccumulator::from_profile)
                .collect(),
            options: ProfileOptions {
                roles: Vec::new(),
                slices: profile.slice_specs.clone(),
                max_slices: max_slices.max(slices.len()),
            },
            slices,
            sources: profile.sources.clone(),
        })
    }

    /// Two profiles merge only if they describe the same columns and slices.
    pub fn check_compatible(&self, other: &TableAccumulator) -> Result<(), String> {
        let names = |t: &TableAccumulator| -> Vec<(String, &'static str)> {
            t.columns
                .iter()
                .map(|c| (c.name.clone(), c.logical_type.as_str()))
                .collect()
        };
        if names(self) != names(other) {
            return Err(format!(
                "the profiles have different columns: [{}] vs [{}]",
                describe_columns(&self.columns),
                describe_columns(&other.columns)
            ));
        }
        if self.options.slices != other.options.slices {
            return Err(format!(
                "the profiles were sliced differently: {:?} vs {:?}",
                self.options.slices, other.options.slices
            ));
        }
        Ok(())
    }
}

fn describe_columns(columns: &[ColumnAccumulator]) -> String {
    columns
        .iter()
        .map(|c| format!("{}: {}", c.name, c.logical_type.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sex=F,race=asian`; a missing value is written `null`.
pub fn slice_name(key: &[SliceKeyPart]) -> String {
    key.iter()
        .map(|k| format!("{}={}", k.column, k.value.as_deref().unwrap_or("null")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Columns are independent, so each one is updated on its own core.
fn update_columns(
    columns: &mut [ColumnAccumulator],
    batch: &RecordBatch,
) -> Result<(), ProfileError> {
    columns
        .par_iter_mut()
        .enumerate()
        .try_for_each(|(i, acc)| acc.update(batch.column(i)))
}

fn merge_columns(
    mine: &mut [ColumnAccumulator],
    theirs: &[ColumnAccumulator],
) -> Result<(), ProfileError> {
    if mine.len() != theirs.len() {
        return Err(ProfileError::Invalid(format!(
            "cannot merge profiles with {} and {} columns",
            mine.len(),
            theirs.len()
        )));
    }
    mine.iter_mut()
        .zip(theirs)
        .try_for_each(|(a, b)| a.merge(b))
}

impl ColumnAccumulator {
    /// A fresh accumulator for the same column (for a new slice).
    pub fn empty_like(&self) -> Self {
        let mut fresh = self.clone();
        fresh.reset();
        fresh
    }

    fn reset(&mut self) {
        use super::column::{ColumnState, StringState};
        use super::numeric::NumericState;
        self.count = 0;
        self.null_count = 0;
        self.state = match &self.state {
            ColumnState::Float(_) => ColumnState::Float(NumericState::default()),
            ColumnState::Int { .. } => ColumnState::Int {
                numeric: NumericState::default(),
                frequency: Default::default(),
            },
            ColumnState::String(_) => ColumnState::String(StringState::default()),
            ColumnState::Bool { .. } => ColumnState::Bool {
                true_count: 0,
                false_count: 0,
            },
            ColumnState::Temporal(_) => ColumnState::Temporal(NumericState::default()),
            ColumnState::List(_) => ColumnState::List(NumericState::default()),
        };
    }
}
