//! The profile file model (`"format": "assay.profile/1"`).
//!
//! A [`Profile`] is what `assay profile` writes and every later stage reads.
//! Each column carries two things: the summary statistics people and tools
//! read (`count`, `mean`, `quantiles`, `top`, ...) and, under `state`, the
//! exact accumulator state (moments and serialized DataSketches) from which
//! the summary is derived. Saving and loading keeps `state` bit-for-bit, so
//! saved profiles merge exactly as in-memory ones do; the summary is
//! recomputed after every merge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const PROFILE_FORMAT: &str = "assay.profile/1";

/// The logical kind of a column, independent of its physical Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum LogicalType {
    Int,
    Float,
    String,
    Bool,
    Timestamp,
    Date,
    List,
}

impl LogicalType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::Float => "float",
            Self::String => "string",
            Self::Bool => "bool",
            Self::Timestamp => "timestamp",
            Self::Date => "date",
            Self::List => "list",
        }
    }
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Int | Self::Float)
    }
}

/// What a column is for. Later stages treat roles differently: drift ignores
/// ids, fairness reads labels and predictions, etc.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum ColumnRole {
    #[default]
    Feature,
    Prediction,
    Label,
    Id,
    Timestamp,
    Weight,
}

impl ColumnRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feature => "feature",
            Self::Prediction => "prediction",
            Self::Label => "label",
            Self::Id => "id",
            Self::Timestamp => "timestamp",
            Self::Weight => "weight",
        }
    }
}

/// A whole profile: the dataset and each of its slices.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Always [`PROFILE_FORMAT`].
    pub format: String,
    /// `assay <version>` that wrote the file.
    pub created_by: String,
    /// The inputs that were profiled (after merges: all of them).
    pub sources: Vec<String>,
    /// Total rows (nulls included).
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
    /// The slice specifications requested, e.g. `[["sex"], ["sex", "race"]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slice_specs: Vec<Vec<String>>,
    /// One entry per slice value (combination), in a stable order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SliceProfile>,
}

/// The profile of the rows where the slice columns take the given values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SliceProfile {
    /// `sex=F,race=asian`: the stable name later stages use as a label value.
    pub name: String,
    /// The slice columns and their values (`null` for a missing value).
    pub key: Vec<SliceKeyPart>,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct SliceKeyPart {
    pub column: String,
    pub value: Option<String>,
}

/// Statistics of one column. Which optional groups are present depends on
/// `type`; absent groups are omitted from the JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnProfile {
    pub name: String,
    #[serde(rename = "type")]
    pub logical_type: LogicalType,
    /// The Arrow data type the column was read as, e.g. `Int64`, `Utf8View`.
    pub arrow_type: String,
    pub role: ColumnRole,
    /// Non-null values.
    pub count: u64,
    pub null_count: u64,

    // ---- numeric (int, float; timestamps and dates use min/max/quantiles too) ----
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nan_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos_inf_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neg_inf_count: Option<u64>,
    /// Smallest value (for timestamps: ISO 8601 text in `min_text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Sample variance (ddof = 1) over finite values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variance: Option<f64>,
    /// Sample standard deviation (ddof = 1) over finite values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stddev: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zeros: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negatives: Option<u64>,
    /// Quantiles from the KLL sketch, keyed by probability ("0.01" ... "0.99").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantiles: Option<BTreeMap<String, f64>>,
    /// Normalized rank error of `quantiles` (KLL, 99% confidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile_rank_error: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histograms>,
    /// Timestamps and dates: `min`/`max` as ISO 8601 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_text: Option<String>,

    // ---- strings, and ints (ints also get distinct/top: many are categorical) ----
    /// Distinct non-null values: exact when `distinct_exact`, else an HLL estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_exact: Option<bool>,
    /// Most frequent values, most frequent first. Exact counts when
    /// `top_exact`; otherwise frequent-items sketch estimates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<Vec<ValueCount>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_exact: Option<bool>,
    /// String lengths in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<LengthStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_count: Option<u64>,

    // ---- bool ----
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_count: Option<u64>,

    // ---- list ----
    /// Number of values per (non-null) list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_count: Option<LengthStats>,

    /// The mergeable accumulator state this summary was derived from.
    pub state: crate::profile::column::ColumnState,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LengthStats {
    pub min: u64,
    pub mean: f64,
    pub max: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Histograms {
    /// Equal-width bins between min and max; counts estimated from the KLL sketch.
    pub equi_width: Vec<HistogramBin>,
    /// Bins whose edges are the deciles; each holds about a tenth of the values.
    pub quantile: Vec<HistogramBin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HistogramBin {
    pub low: f64,
    pub high: f64,
    pub count: f64,
}

impl Profile {
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}
