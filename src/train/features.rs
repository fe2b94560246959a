//! The feature spec: which schema features a model reads and how each is
//! turned into numbers, fitted on the training rows and saved with the model
//! so that prediction encodes exactly as training did.
//!
//! # Encoding (documented for users in docs/train.md)
//!
//! Only columns whose schema role is `feature` are read; the label is never
//! a feature even when the schema calls it one.
//! - `int`, `float` (not categorical) and `bool` (`true` = 1): standardised
//!   with the training rows' mean and population standard deviation (as
//!   scikit-learn's `StandardScaler`; a constant column is only centred).
//!   A missing value (null, NaN, ±infinity) becomes the mean, i.e. 0 after
//!   standardisation, and, unless the schema says `presence.required`, an
//!   indicator column `NAME__missing` is 1 on such rows.
//! - string features with a `domain`, and `categorical` int features with a
//!   `domain`: one column per domain value (`NAME=VALUE`, in domain order)
//!   plus `NAME=__oov__` for a value outside the domain; a null is all zeros.
//! - everything else is skipped, with the reason in [`FeatureSpec::skipped`]:
//!   free text (a string without a domain), timestamps, dates, lists, and
//!   columns whose role is not `feature` (ids, predictions, weights).

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use serde::{Deserialize, Serialize};

use super::TrainError;
use crate::schema::{ColumnRole, Domain, LogicalType, Schema};

/// The suffix of a missing-value indicator column.
pub const MISSING_SUFFIX: &str = "__missing";
/// The out-of-vocabulary bucket of a one-hot block.
pub const OOV: &str = "__oov__";

/// Encoded rows: `rows × cols` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

/// One schema feature and its fitted encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum EncodedFeature {
    /// `(x − mean) / std`; missing → 0 (the mean), plus an indicator column
    /// when `missing_indicator`.
    Standardised {
        name: String,
        #[serde(rename = "type")]
        logical_type: LogicalType,
        mean: f64,
        std: f64,
        missing_indicator: bool,
    },
    /// One column per domain value, then the out-of-vocabulary bucket.
    OneHot {
        name: String,
        #[serde(rename = "type")]
        logical_type: LogicalType,
        domain: Domain,
    },
}

impl EncodedFeature {
    pub fn name(&self) -> &str {
        match self {
            Self::Standardised { name, .. } | Self::OneHot { name, .. } => name,
        }
    }

    /// How many matrix columns it makes.
    pub fn width(&self) -> usize {
        match self {
            Self::Standardised {
                missing_indicator, ..
            } => 1 + usize::from(*missing_indicator),
            Self::OneHot { domain, .. } => domain.len() + 1,
        }
    }

    /// The names of its matrix columns.
    pub fn column_names(&self) -> Vec<String> {
        match self {
            Self::Standardised {
                name,
                missing_indicator,
                ..
            } => {
                let mut v = vec![name.clone()];
                if *missing_indicator {
                    v.push(format!("{name}{MISSING_SUFFIX}"));
                }
                v
            }
            Self::OneHot { name, domain, .. } => {
                let mut v: Vec<String> = match domain {
                    Domain::Strings(d) => d.iter().map(|x| format!("{name}={x}")).collect(),
                    Domain::Ints(d) => d.iter().map(|x| format!("{name}={x}")).collect(),
                };
                v.push(format!("{name}={OOV}"));
                v
            }
        }
    }
}

/// A schema column the model does not read, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedColumn {
    pub name: String,
    pub reason: String,
}

/// The fitted encoding of every feature, in schema order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub features: Vec<EncodedFeature>,
    pub skipped: Vec<SkippedColumn>,
    /// The matrix's column names, in order.
    pub columns: Vec<String>,
}

/// What a schema feature becomes, before fitting.
enum Plan {
    Numeric { required: bool },
    OneHot(Domain),
    Skip(String),
}

fn plan(schema: &Schema, name: &str, label: &str) -> Plan {
    let Some(f) = schema.feature(name) else {
        return Plan::Skip("not in the schema".into());
    };
    if name == label {
        return Plan::Skip("the label".into());
    }
    if f.role != ColumnRole::Feature {
        return Plan::Skip(format!("role {}", f.role.as_str()));
    }
    let required = f.presence.required;
    match (f.logical_type, &f.domain) {
        (LogicalType::String, Some(d)) => Plan::OneHot(d.clone()),
        (LogicalType::String, None) => Plan::Skip("free text: a string without a domain".into()),
        (LogicalType::Int, Some(d @ Domain::Ints(_))) if f.categorical => Plan::OneHot(d.clone()),
        (LogicalType::Int | LogicalType::Float | LogicalType::Bool, _) => {
            Plan::Numeric { required }
        }
        (t, _) => Plan::Skip(format!("type {}", t.as_str())),
    }
}

/// The source's name in errors: the data files, or `data` when unknown.
fn missing_column(source_name: &str, batch: &RecordBatch, column: &str) -> TrainError {
    TrainError::MissingColumn {
        source_name: source_name.to_string(),
        column: column.to_string(),
        what: "a feature of the schema".into(),
        available: batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn column<'a>(
    source_name: &str,
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a ArrayRef, TrainError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| missing_column(source_name, batch, name))
}

/// A numeric or boolean column as `f64`, missing (null, NaN, ±inf) as NaN.
fn numbers(source_name: &str, name: &str, array: &ArrayRef) -> Result<Vec<f64>, TrainError> {
    let ok = matches!(array.data_type(), DataType::Boolean | DataType::Null)
        || array.data_type().is_numeric();
    if !ok {
        return Err(TrainError::ColumnType {
            source_name: source_name.to_string(),
            column: name.to_string(),
            expected: "a number or a boolean (the schema's type)".into(),
            found: array.data_type().to_string(),
        });
    }
    let a = cast(array, &DataType::Float64)?;
    let a = a.as_primitive::<Float64Type>();
    Ok((0..a.len())
        .map(|i| {
            let v = a.value(i);
            if a.is_null(i) || !v.is_finite() {
                f64::NAN
            } else {
                v
            }
        })
        .collect())
}

/// Each row's index in the domain, `domain.len()` outside it, `None` for null.
fn categories(
    source_name: &str,
    name: &str,
    array: &ArrayRef,
    domain: &Domain,
) -> Result<Vec<Option<usize>>, TrainError> {
    let mismatch = |expected: &str| TrainError::ColumnType {
        source_name: source_name.to_string(),
        column: name.to_string(),
        expected: expected.to_string(),
        found: array.data_type().to_string(),
    };
    match domain {
        Domain::Strings(d) => {
            let is_text = |t: &DataType| {
                matches!(
                    t,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
                )
            };
            let ok = match array.data_type() {
                DataType::Dictionary(_, v) => is_text(v),
                t => is_text(t),
            };
            if !ok {
                return Err(mismatch("text (a string feature with a domain)"));
            }
            let index: std::collections::HashMap<&str, usize> =
                d.iter().enumerate().map(|(i, v)| (v.as_str(), i)).collect();
            let a = cast(array, &DataType::Utf8)?;
            let a = a.as_string::<i32>();
            Ok((0..a.len())
                .map(|i| {
                    a.is_valid(i)
                        .then(|| index.get(a.value(i)).copied().unwrap_or(d.len()))
                })
                .collect())
        }
        Domain::Ints(d) => {
            if !(array.data_type().is_integer() || matches!(array.data_type(), DataType::Null)) {
                return Err(mismatch("integers (a categorical int feature)"));
            }
            let index: std::collections::HashMap<i64, usize> =
                d.iter().enumerate().map(|(i, v)| (*v, i)).collect();
            let a = cast(array, &DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            Ok((0..a.len())
                .map(|i| {
                    a.is_valid(i)
                        .then(|| index.get(&a.value(i)).copied().unwrap_or(d.len()))
                })
                .collect())
        }
    }
}

impl FeatureSpec {
    /// Fits the encoding of `schema`'s features on `train` (the training
    /// rows only: the holdout's statistics never leak into the model).
    /// Every schema feature must be a column of `train`.
    pub fn fit(
        schema: &Schema,
        label: &str,
        train: &RecordBatch,
        source_name: &str,
    ) -> Result<Self, TrainError> {
        let mut features = Vec::new();
        let mut skipped = Vec::new();
        for f in &schema.features {
            match plan(schema, &f.name, label) {
                Plan::Skip(reason) => skipped.push(SkippedColumn {
                    name: f.name.clone(),
                    reason,
                }),
                Plan::OneHot(domain) => {
                    // Checks presence and type now, so a bad column fails
                    // before any training.
                    categories(
                        source_name,
                        &f.name,
                        column(source_name, train, &f.name)?,
                        &domain,
                    )?;
                    features.push(EncodedFeature::OneHot {
                        name: f.name.clone(),
                        logical_type: f.logical_type,
                        domain,
                    });
                }
                Plan::Numeric { required } => {
                    let values =
                        numbers(source_name, &f.name, column(source_name, train, &f.name)?)?;
                    let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
                    for v in values.iter().filter(|v| !v.is_nan()) {
                        // Welford: no cancellation on large, offset values.
                        n += 1.0;
                        let d = v - mean;
                        mean += d / n;
                        m2 += d * (v - mean);
                    }
                    let std = if n > 0.0 { (m2 / n).sqrt() } else { 0.0 };
                    features.push(EncodedFeature::Standardised {
                        name: f.name.clone(),
                        logical_type: f.logical_type,
                        mean,
                        std: if std > 0.0 { std } else { 1.0 },
                        missing_indicator: !required,
                    });
                }
            }
        }
        if features.is_empty() {
            return Err(TrainError::Schema(
                "no feature to train on: the schema has no int, float, bool or categorical \
                 feature with role `feature` besides the label"
                    .into(),
            ));
        }
        let columns = features.iter().flat_map(|f| f.column_names()).collect();
        Ok(Self {
            features,
            skipped,
            columns,
        })
    }

    /// Matrix width.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Encodes `batch`'s rows. Missing feature columns and wrong types are
    /// errors naming the column and `source_name`.
    pub fn encode(&self, batch: &RecordBatch, source_name: &str) -> Result<Matrix, TrainError> {
        let rows = batch.num_rows();
        let cols = self.width();
        let mut values = vec![0.0f32; rows * cols];
        let mut offset = 0;
        for f in &self.features {
            let array = column(source_name, batch, f.name())?;
            match f {
                EncodedFeature::Standardised {
                    name,
                    mean,
                    std,
                    missing_indicator,
                    ..
                } => {
                    let xs = numbers(source_name, name, array)?;
                    for (r, x) in xs.iter().enumerate() {
                        let row = &mut values[r * cols + offset..];
                        if x.is_nan() {
                            if *missing_indicator {
                                row[1] = 1.0;
                            }
                        } else {
                            row[0] = ((x - mean) / std) as f32;
                        }
                    }
                }
                EncodedFeature::OneHot { name, domain, .. } => {
                    for (r, c) in categories(source_name, name, array, domain)?
                        .into_iter()
                        .enumerate()
                    {
                        if let Some(c) = c {
                            values[r * cols + offset + c] = 1.0;
                        }
                    }
                }
            }
            offset += f.width();
        }
        Ok(Matrix { rows, cols, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    fn schema() -> Schema {
        crate::schema::parse(
            r#"
format = "assay.schema/1"
[features.x]
type = "float"
[features.n]
type = "int"
presence = { required = true }
[features.color]
type = "string"
domain = ["red", "green"]
[features.code]
type = "int"
categorical = true
domain = [3, 7]
[features.flag]
type = "bool"
[features.note]
type = "string"
[features.id]
type = "string"
role = "id"
[features.y]
type = "int"
role = "label"
"#,
            "schema.toml",
        )
        .unwrap()
    }

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "x",
                Arc::new(Float64Array::from(vec![
                    Some(1.0),
                    None,
                    Some(3.0),
                    Some(f64::NAN),
                ])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            (
                "color",
                Arc::new(StringArray::from(vec![
                    Some("red"),
                    Some("blue"),
                    None,
                    Some("green"),
                ])) as ArrayRef,
            ),
            (
                "code",
                Arc::new(Int64Array::from(vec![7, 3, 9, 7])) as ArrayRef,
            ),
            (
                "flag",
                Arc::new(BooleanArray::from(vec![true, false, true, true])) as ArrayRef,
            ),
            (
                "note",
                Arc::new(StringArray::from(vec!["a", "b", "c", "d"])) as ArrayRef,
            ),
            (
                "id",
                Arc::new(StringArray::from(vec!["1", "2", "3", "4"])) as ArrayRef,
            ),
            (
                "y",
                Arc::new(Int64Array::from(vec![0, 1, 0, 1])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn encodes_every_kind_as_documented() {
        let spec = FeatureSpec::fit(&schema(), "y", &batch(), "t.csv").unwrap();
        assert_eq!(
            spec.columns,
            [
                "x",
                "x__missing",
                "n",
                "color=red",
                "color=green",
                "color=__oov__",
                "code=3",
                "code=7",
                "code=__oov__",
                "flag",
                "flag__missing"
            ]
        );
        let skipped: Vec<&str> = spec.skipped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(skipped, ["note", "id", "y"]);
        let m = spec.encode(&batch(), "t.csv").unwrap();
        let row = |r: usize| &m.values[r * m.cols..(r + 1) * m.cols];
        // x: mean 2, population std 1 over {1, 3}.
        assert_eq!(row(0)[..2], [-1.0, 0.0]);
        assert_eq!(row(1)[..2], [0.0, 1.0]);
        assert_eq!(row(3)[..2], [0.0, 1.0], "NaN is missing");
        // n: mean 2.5, std sqrt(1.25); required, so no indicator.
        let z = ((1.0 - 2.5) / 1.25f64.sqrt()) as f32;
        assert_eq!(row(0)[2], z);
        assert_eq!(row(0)[3..6], [1.0, 0.0, 0.0]);
        assert_eq!(row(1)[3..6], [0.0, 0.0, 1.0], "blue is out of vocabulary");
        assert_eq!(row(2)[3..6], [0.0, 0.0, 0.0], "null is all zeros");
        assert_eq!(row(2)[6..9], [0.0, 0.0, 1.0], "9 is out of vocabulary");
        assert_eq!(row(1)[6..9], [1.0, 0.0, 0.0]);
        // flag: mean 0.75, std sqrt(0.1875).
        let t = (0.25 / 0.1875f64.sqrt()) as f32;
        assert_eq!(row(0)[9..], [t, 0.0]);
    }

    #[test]
    fn spec_round_trips_through_json() {
        let spec = FeatureSpec::fit(&schema(), "y", &batch(), "t.csv").unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        let back: FeatureSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn a_missing_or_mistyped_column_names_it() {
        let b = batch();
        let without = b.project(&[1, 2, 3, 4, 5, 6, 7]).unwrap();
        let e = FeatureSpec::fit(&schema(), "y", &without, "t.csv").unwrap_err();
        assert!(e.to_string().contains("t.csv: no column `x`"), "{e}");
        let spec = FeatureSpec::fit(&schema(), "y", &b, "t.csv").unwrap();
        let mut columns = b.columns().to_vec();
        columns[2] = Arc::new(Int64Array::from(vec![1, 2, 3, 4]));
        let wrong = RecordBatch::try_new(b.schema(), columns);
        // The batch's schema says string: build one whose field is int.
        assert!(wrong.is_err());
        let fields: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == 2 {
                    arrow::datatypes::Field::new("color", DataType::Int64, true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        let mut columns = b.columns().to_vec();
        columns[2] = Arc::new(Int64Array::from(vec![1, 2, 3, 4]));
        let wrong =
            RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap();
        let e = spec.encode(&wrong, "s.parquet").unwrap_err();
        assert!(
            e.to_string().contains("s.parquet: column `color` is Int64"),
            "{e}"
        );
    }
}
