//! Per-column accumulator: dispatches an Arrow array to the accumulator of
//! its logical type, merges, and finishes into a [`ColumnProfile`].

use std::collections::BTreeMap;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, GenericListArray, OffsetSizeTrait,
    StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use serde::{Deserialize, Serialize};

use super::ProfileError;
use super::frequency::{CountMap, FrequencyState, HashMapExt};
use super::kll::KllView;
use super::model::{
    ColumnProfile, ColumnRole, HistogramBin, Histograms, LengthStats, LogicalType, ValueCount,
};
use super::numeric::NumericState;
use super::string_counts::count_strings;

/// Quantiles reported in every numeric profile.
pub const QUANTILE_PROBS: [f64; 9] = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99];
/// Values listed under `top`. Schema inference needs the full list for
/// categoricals, so this matches its largest default domain size.
pub const TOP_VALUES: usize = 100;
const HISTOGRAM_BINS: usize = 10;

/// The mergeable state of one column, by logical family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum ColumnState {
    /// Floats (and decimals).
    Float(NumericState),
    /// Integers: moments and quantiles, plus frequencies (many are categorical).
    Int {
        numeric: NumericState,
        frequency: FrequencyState<i64>,
    },
    String(StringState),
    Bool {
        true_count: u64,
        false_count: u64,
    },
    /// Timestamps in microseconds since the epoch, dates in days.
    Temporal(NumericState),
    /// Value counts per list.
    List(NumericState),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringState {
    pub frequency: FrequencyState<String>,
    pub empty: u64,
    pub min_len: Option<u64>,
    pub max_len: Option<u64>,
    pub total_len: u64,
}

/// What an accumulator computes beyond counts and moments. Profiles
/// always compute everything; a pass that reads only a few statistics of a
/// column (validation's aggregate expectations: a mean, a minimum) narrows
/// it, because the KLL sketch update is the most expensive part of
/// profiling a number (measured: about a quarter of `assay validate` on the
/// bench table went into sketches nobody read). A narrowed accumulator's
/// profile lacks what it skipped and is never saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    /// The KLL sketch: quantiles, histograms, CDFs.
    pub quantiles: bool,
    /// Per-value work on integers and strings: value frequencies (distinct
    /// counts, top values) and string lengths.
    pub values: bool,
}

impl Detail {
    pub const FULL: Detail = Detail {
        quantiles: true,
        values: true,
    };
}

/// Accumulates one column: create / update / merge / finish.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnAccumulator {
    pub name: String,
    pub logical_type: LogicalType,
    pub arrow_type: String,
    pub role: ColumnRole,
    pub count: u64,
    pub null_count: u64,
    pub state: ColumnState,
    pub detail: Detail,
}

/// Maps an Arrow type to the logical type assay profiles it as.
pub fn logical_type_of(name: &str, data_type: &DataType) -> Result<LogicalType, ProfileError> {
    use DataType::*;
    Ok(match data_type {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => LogicalType::Int,
        Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
        | Decimal256(..) => LogicalType::Float,
        // A column with no values at all (e.g. inferred from an all-null sample).
        Utf8 | LargeUtf8 | Utf8View | Null => LogicalType::String,
        Dictionary(_, value) if value.is_string() => LogicalType::String,
        Boolean => LogicalType::Bool,
        Timestamp(..) => LogicalType::Timestamp,
        Date32 | Date64 => LogicalType::Date,
        List(_) | LargeList(_) | ListView(_) | LargeListView(_) | FixedSizeList(..) => {
            LogicalType::List
        }
        other => {
            return Err(ProfileError::UnsupportedType {
                column: name.to_string(),
                data_type: other.to_string(),
                hint: "; leave it out with --columns".to_string(),
            });
        }
    })
}

impl ColumnAccumulator {
    pub fn new(name: &str, data_type: &DataType, role: ColumnRole) -> Result<Self, ProfileError> {
        let logical_type = logical_type_of(name, data_type)?;
        let state = match logical_type {
            LogicalType::Int => ColumnState::Int {
                numeric: NumericState::default(),
                frequency: FrequencyState::default(),
            },
            LogicalType::Float => ColumnState::Float(NumericState::default()),
            LogicalType::String => ColumnState::String(StringState::default()),
            LogicalType::Bool => ColumnState::Bool {
                true_count: 0,
                false_count: 0,
            },
            LogicalType::Timestamp | LogicalType::Date => {
                ColumnState::Temporal(NumericState::default())
            }
            LogicalType::List => ColumnState::List(NumericState::default()),
        };
        Ok(Self {
            name: name.to_string(),
            logical_type,
            arrow_type: data_type.to_string(),
            role,
            count: 0,
            null_count: 0,
            state,
            detail: Detail::FULL,
        })
    }

    pub fn update(&mut self, array: &ArrayRef) -> Result<(), ProfileError> {
        let nulls = array.logical_null_count() as u64;
        self.null_count += nulls;
        self.count += array.len() as u64 - nulls;
        if array.len() as u64 == nulls {
            return Ok(());
        }
        let wrong = |e: arrow::error::ArrowError| {
            ProfileError::Invalid(format!("column `{}`: {e}", self.name))
        };
        let Detail { quantiles, values } = self.detail;
        match &mut self.state {
            ColumnState::Float(state) => {
                let values = cast(array, &DataType::Float64).map_err(wrong)?;
                let floats = values.as_primitive::<Float64Type>();
                state.update_slice(floats.values(), floats.nulls(), |v| v, quantiles);
            }
            ColumnState::Int { numeric, frequency } => {
                // Int64 is read in place; narrower ints are widened once.
                let widened;
                let ints = if array.data_type() == &DataType::Int64 {
                    array.as_primitive::<Int64Type>()
                } else {
                    widened = cast(array, &DataType::Int64).map_err(wrong)?;
                    widened.as_primitive::<Int64Type>()
                };
                if values {
                    // Counting first makes the frequency update one entry per
                    // distinct value; the moments read the raw values.
                    let mut counts: CountMap<i64> = count_map(frequency.is_exact(), ints.len());
                    for v in ints.iter().flatten() {
                        *counts.entry(v).or_default() += 1;
                    }
                    frequency.update_counts(counts);
                }
                numeric.update_slice(ints.values(), ints.nulls(), |v| v as f64, quantiles);
            }
            ColumnState::String(state) if values => update_strings(state, array).map_err(wrong)?,
            ColumnState::String(_) => {}
            ColumnState::Bool {
                true_count,
                false_count,
            } => {
                let values: &BooleanArray = array.as_boolean();
                let t = values.true_count() as u64;
                *true_count += t;
                *false_count += values.len() as u64 - values.null_count() as u64 - t;
            }
            ColumnState::Temporal(state)
                if array.data_type() == &DataType::Timestamp(TimeUnit::Microsecond, None) =>
            {
                // The common case needs no cast: read the i64 values in place.
                let micros = array.as_primitive::<TimestampMicrosecondType>();
                state.update_slice(micros.values(), micros.nulls(), |v| v as f64, quantiles);
            }
            ColumnState::Temporal(state) => {
                let target = match array.data_type() {
                    DataType::Date32 | DataType::Date64 => DataType::Date32,
                    _ => DataType::Timestamp(TimeUnit::Microsecond, None),
                };
                let cast_values = cast(array, &target).map_err(wrong)?;
                let cast_values = cast(&cast_values, &DataType::Int64).map_err(wrong)?;
                let ints = cast_values.as_primitive::<Int64Type>();
                state.update_slice(ints.values(), ints.nulls(), |v| v as f64, quantiles);
            }
            ColumnState::List(state) => match array.data_type() {
                DataType::List(_) => update_list_lengths(state, array.as_list::<i32>()),
                DataType::LargeList(_) => update_list_lengths(state, array.as_list::<i64>()),
                _ => {
                    let values =
                        cast(array, &DataType::LargeList(list_field(array))).map_err(wrong)?;
                    update_list_lengths(state, values.as_list::<i64>());
                }
            },
        }
        Ok(())
    }

    pub fn merge(&mut self, other: &ColumnAccumulator) -> Result<(), ProfileError> {
        if self.name != other.name || self.logical_type != other.logical_type {
            return Err(ProfileError::Invalid(format!(
                "cannot merge column `{}` ({}) with column `{}` ({})",
                self.name,
                self.logical_type.as_str(),
                other.name,
                other.logical_type.as_str()
            )));
        }
        self.count += other.count;
        self.null_count += other.null_count;
        match (&mut self.state, &other.state) {
            (ColumnState::Float(a), ColumnState::Float(b))
            | (ColumnState::Temporal(a), ColumnState::Temporal(b))
            | (ColumnState::List(a), ColumnState::List(b)) => a.merge(b),
            (
                ColumnState::Int {
                    numeric: a,
                    frequency: fa,
                },
                ColumnState::Int {
                    numeric: b,
                    frequency: fb,
                },
            ) => {
                a.merge(b);
                fa.merge(fb);
            }
            (ColumnState::String(a), ColumnState::String(b)) => {
                a.frequency.merge(&b.frequency);
                a.empty += b.empty;
                a.total_len += b.total_len;
                a.min_len = min_opt(a.min_len, b.min_len);
                a.max_len = max_opt(a.max_len, b.max_len);
            }
            (
                ColumnState::Bool {
                    true_count: t1,
                    false_count: f1,
                },
                ColumnState::Bool {
                    true_count: t2,
                    false_count: f2,
                },
            ) => {
                *t1 += t2;
                *f1 += f2;
            }
            _ => {
                return Err(ProfileError::Invalid(format!(
                    "column `{}`: the saved state does not match its type {}",
                    self.name,
                    self.logical_type.as_str()
                )));
            }
        }
        Ok(())
    }

    /// Rebuilds the accumulator from a saved profile column.
    pub fn from_profile(column: &ColumnProfile) -> Self {
        Self {
            name: column.name.clone(),
            logical_type: column.logical_type,
            arrow_type: column.arrow_type.clone(),
            role: column.role,
            count: column.count,
            null_count: column.null_count,
            state: column.state.clone(),
            detail: Detail::FULL,
        }
    }

    pub fn finish(&self) -> ColumnProfile {
        let mut p = ColumnProfile {
            name: self.name.clone(),
            logical_type: self.logical_type,
            arrow_type: self.arrow_type.clone(),
            role: self.role,
            count: self.count,
            null_count: self.null_count,
            nan_count: None,
            pos_inf_count: None,
            neg_inf_count: None,
            min: None,
            max: None,
            sum: None,
            mean: None,
            variance: None,
            stddev: None,
            zeros: None,
            negatives: None,
            quantiles: None,
            quantile_rank_error: None,
            histogram: None,
            min_text: None,
            max_text: None,
            distinct: None,
            distinct_exact: None,
            top: None,
            top_exact: None,
            length: None,
            empty_count: None,
            true_count: None,
            false_count: None,
            value_count: None,
            state: self.state.clone(),
        };
        match &self.state {
            ColumnState::Float(n) => finish_numeric(&mut p, n),
            ColumnState::Int { numeric, frequency } => {
                finish_numeric(&mut p, numeric);
                // Ints cannot be NaN or infinite: keep the JSON lean.
                p.nan_count = None;
                p.pos_inf_count = None;
                p.neg_inf_count = None;
                if self.detail.values {
                    finish_frequency(&mut p, frequency);
                }
            }
            ColumnState::String(_) if !self.detail.values => {}
            ColumnState::String(s) => {
                finish_frequency(&mut p, &s.frequency);
                p.empty_count = Some(s.empty);
                if let (Some(min), Some(max)) = (s.min_len, s.max_len) {
                    let mean = s.total_len as f64 / self.count.max(1) as f64;
                    p.length = Some(LengthStats { min, mean, max });
                }
            }
            ColumnState::Bool {
                true_count,
                false_count,
            } => {
                p.true_count = Some(*true_count);
                p.false_count = Some(*false_count);
            }
            ColumnState::Temporal(n) => {
                finish_numeric(&mut p, n);
                p.nan_count = None;
                p.pos_inf_count = None;
                p.neg_inf_count = None;
                p.zeros = None;
                p.negatives = None;
                p.sum = None;
                let days = self.logical_type == LogicalType::Date;
                p.min_text = n.min.and_then(|v| temporal_text(v, days));
                p.max_text = n.max.and_then(|v| temporal_text(v, days));
            }
            ColumnState::List(n) => {
                if let (Some(min), Some(max), Some(mean)) = (n.min, n.max, n.mean()) {
                    p.value_count = Some(LengthStats {
                        min: min as u64,
                        mean,
                        max: max as u64,
                    });
                }
            }
        }
        p
    }
}

fn list_field(array: &ArrayRef) -> arrow::datatypes::FieldRef {
    match array.data_type() {
        DataType::FixedSizeList(f, _) | DataType::ListView(f) | DataType::LargeListView(f) => {
            f.clone()
        }
        _ => std::sync::Arc::new(arrow::datatypes::Field::new("item", DataType::Null, true)),
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn update_list_lengths<O: OffsetSizeTrait>(state: &mut NumericState, list: &GenericListArray<O>) {
    let offsets = list.value_offsets();
    let lengths = (0..list.len())
        .filter(move |&i| list.is_valid(i))
        .map(move |i| (offsets[i + 1] - offsets[i]).as_usize() as f64);
    state.update_values(lengths, true);
}

/// Strings are counted per distinct value: a dictionary array per key
/// (each dictionary value is looked at once, however many rows use it),
/// other string arrays through a batch-local map of borrowed slices.
fn update_strings(
    state: &mut StringState,
    array: &ArrayRef,
) -> Result<(), arrow::error::ArrowError> {
    let mut counts: CountMap<&str> = count_map(state.frequency.is_exact(), array.len());
    let converted;
    match array.data_type() {
        DataType::Dictionary(key, _) if **key == DataType::Int32 => {
            let dict: &DictionaryArray<Int32Type> = array.as_dictionary();
            let mut per_key = vec![0u64; dict.values().len()];
            for k in dict.keys().iter().flatten() {
                if let Some(slot) = per_key.get_mut(k as usize) {
                    *slot += 1;
                }
            }
            converted = cast(dict.values(), &DataType::Utf8)?;
            let values: &StringArray = converted.as_string();
            for (i, c) in per_key.into_iter().enumerate() {
                if c > 0 && values.is_valid(i) {
                    *counts.entry(values.value(i)).or_default() += c;
                }
            }
        }
        DataType::Utf8 => count_strings(&mut counts, array.as_string::<i32>()),
        DataType::LargeUtf8 => count_strings(&mut counts, array.as_string::<i64>()),
        DataType::Utf8View => count_into(&mut counts, array.as_string_view().iter()),
        DataType::Null => {}
        _ => {
            converted = cast(array, &DataType::Utf8)?;
            count_strings(&mut counts, converted.as_string::<i32>());
        }
    }
    for (value, c) in &counts {
        let len = value.chars().count() as u64;
        if len == 0 {
            state.empty += c;
        }
        state.total_len += len * c;
        state.min_len = min_opt(state.min_len, Some(len));
        state.max_len = max_opt(state.max_len, Some(len));
    }
    state
        .frequency
        .update_counts(counts.into_iter().map(|(k, c)| (k.to_string(), c)));
    Ok(())
}

/// A batch-local count map. Once a column has proved high-cardinality
/// (its frequency state is sketched) most rows are new keys, so the map is
/// sized for the batch up front instead of rehashing as it grows (measured:
/// rehashing was 5% of profiling the bench table).
fn count_map<K: std::hash::Hash + Eq>(exact: bool, rows: usize) -> CountMap<K> {
    if exact {
        CountMap::new()
    } else {
        CountMap::with_capacity(rows)
    }
}

fn count_into<'a>(counts: &mut CountMap<&'a str>, values: impl Iterator<Item = Option<&'a str>>) {
    for v in values.flatten() {
        *counts.entry(v).or_default() += 1;
    }
}

fn finish_numeric(p: &mut ColumnProfile, n: &NumericState) {
    p.nan_count = Some(n.nan);
    p.pos_inf_count = Some(n.pos_inf);
    p.neg_inf_count = Some(n.neg_inf);
    p.zeros = Some(n.zeros);
    p.negatives = Some(n.negatives);
    p.min = n.min;
    p.max = n.max;
    p.sum = Some(n.sum);
    p.mean = n.mean();
    p.variance = n.variance();
    p.stddev = n.variance().map(f64::sqrt);
    if n.kll.n() == 0 {
        return;
    }
    let view = n.kll.view();
    let quantiles: BTreeMap<String, f64> = QUANTILE_PROBS
        .iter()
        .filter_map(|&q| view.quantile(q).map(|v| (format!("{q}"), v)))
        .collect();
    p.quantiles = Some(quantiles);
    p.quantile_rank_error = Some(n.kll.rank_error());
    p.histogram = histograms(n, &view);
}

/// Histogram counts are estimated from the KLL sketch's CDF, so they carry
/// its rank error (about 1.65% of the total count per bin edge).
fn histograms(n: &NumericState, view: &KllView) -> Option<Histograms> {
    let (min, max) = (n.min?, n.max?);
    let total = n.kll.n() as f64;
    let bins_from_edges = |edges: &[f64]| -> Vec<HistogramBin> {
        // Inner edges must be strictly increasing for the CDF query.
        let mut inner: Vec<f64> = edges[1..edges.len() - 1].to_vec();
        inner.dedup();
        let cdf = view.cdf(&inner).unwrap_or_default();
        let mut bins = Vec::new();
        let mut prev_rank = 0.0;
        let mut low = min;
        for (i, edge) in inner.iter().enumerate() {
            let rank = cdf.get(i).copied().unwrap_or(prev_rank);
            bins.push(HistogramBin {
                low,
                high: *edge,
                count: (rank - prev_rank) * total,
            });
            prev_rank = rank;
            low = *edge;
        }
        bins.push(HistogramBin {
            low,
            high: max,
            count: (1.0 - prev_rank) * total,
        });
        bins
    };
    let equi_width = if max > min {
        let bins = HISTOGRAM_BINS as f64;
        let width = (max - min) / bins;
        let edges: Vec<f64> = (0..=HISTOGRAM_BINS)
            .map(|i| {
                if width.is_finite() {
                    min + width * i as f64
                } else {
                    // The span of huge finite values overflows: interpolate.
                    let t = i as f64 / bins;
                    min * (1.0 - t) + max * t
                }
            })
            .collect();
        bins_from_edges(&edges)
    } else {
        vec![HistogramBin {
            low: min,
            high: max,
            count: total,
        }]
    };
    let mut edges = vec![min];
    for i in 1..HISTOGRAM_BINS {
        if let Some(q) = view.quantile(i as f64 / HISTOGRAM_BINS as f64)
            && q > *edges.last().unwrap_or(&min)
            && q < max
        {
            edges.push(q);
        }
    }
    edges.push(max);
    let quantile = if max > min {
        bins_from_edges(&edges)
    } else {
        vec![HistogramBin {
            low: min,
            high: max,
            count: total,
        }]
    };
    Some(Histograms {
        equi_width,
        quantile,
    })
}

fn finish_frequency<K: super::frequency::FrequencyKey>(
    p: &mut ColumnProfile,
    f: &FrequencyState<K>,
) {
    p.distinct = Some(f.distinct());
    p.distinct_exact = Some(f.is_exact());
    p.top_exact = Some(f.is_exact());
    p.top = Some(
        f.top(TOP_VALUES)
            .into_iter()
            .map(|(value, count)| ValueCount {
                value: value.to_string(),
                count,
            })
            .collect(),
    );
}

fn temporal_text(v: f64, days: bool) -> Option<String> {
    if days {
        let date = chrono::NaiveDate::from_num_days_from_ce_opt(719_163 + v as i32)?;
        Some(date.format("%Y-%m-%d").to_string())
    } else {
        let t = chrono::DateTime::from_timestamp_micros(v as i64)?;
        Some(t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array};

    use super::*;

    fn profiles(array: ArrayRef, detail: Detail) -> (ColumnProfile, ColumnProfile) {
        let mut full = ColumnAccumulator::new("x", array.data_type(), ColumnRole::Feature).unwrap();
        let mut narrow = full.clone();
        narrow.detail = detail;
        // Two batches, so the narrowed state also goes through a fold.
        for acc in [&mut full, &mut narrow] {
            acc.update(&array).unwrap();
            acc.update(&array.slice(1, 3)).unwrap();
        }
        (full.finish(), narrow.finish())
    }

    #[test]
    fn a_narrowed_number_keeps_its_moments_and_skips_the_sketch() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.5),
            None,
            Some(f64::NAN),
            Some(-4.0),
            Some(0.0),
            Some(10.25),
        ]));
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(3), None, Some(3), Some(-7)]));
        let detail = Detail {
            quantiles: false,
            values: false,
        };
        for array in [floats, ints] {
            let (full, narrow) = profiles(array, detail);
            assert_eq!(
                (full.count, full.null_count, full.nan_count),
                (narrow.count, narrow.null_count, narrow.nan_count)
            );
            assert_eq!(
                (full.min, full.max, full.sum),
                (narrow.min, narrow.max, narrow.sum)
            );
            assert_eq!((full.mean, full.stddev), (narrow.mean, narrow.stddev));
            assert_eq!(
                (full.zeros, full.negatives),
                (narrow.zeros, narrow.negatives)
            );
            assert!(full.quantiles.is_some());
            assert_eq!(narrow.quantiles, None);
        }
    }

    #[test]
    fn a_narrowed_number_can_keep_its_quantiles() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0]));
        let (full, narrow) = profiles(
            floats,
            Detail {
                quantiles: true,
                values: false,
            },
        );
        assert_eq!(full.quantiles, narrow.quantiles);
        assert!(narrow.quantiles.is_some());
    }

    #[test]
    fn a_narrowed_string_counts_without_frequencies() {
        let strings: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            None,
            Some("bb"),
            Some("a"),
        ]));
        let (full, narrow) = profiles(
            strings,
            Detail {
                quantiles: false,
                values: false,
            },
        );
        assert_eq!(
            (full.count, full.null_count),
            (narrow.count, narrow.null_count)
        );
        assert!(full.top.is_some());
        assert_eq!(narrow.top, None);
        assert_eq!(narrow.distinct, None);
    }
}
