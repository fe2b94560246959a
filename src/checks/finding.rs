//! A finding: one failed check, in the shape every report, metric and alert
//! uses. Kind names are stable (they are metric label values and what users
//! grep for), so they are a closed enum serialized in snake_case.

use serde::{Deserialize, Serialize};

/// How bad a finding is. `Error` fails the run (exit 1); `Warning` is
/// reported but does not fail it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// What went wrong. Schema anomalies mirror TensorFlow Data Validation's
/// anomaly types under readable names; later checks (skew, drift) add theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A feature the schema expects in this environment is not in the data.
    MissingColumn,
    /// The data has a column the schema does not know.
    NewColumn,
    /// The column's type differs from the schema's.
    UnexpectedType,
    /// Fewer rows have a value than `presence` requires (fraction or count).
    FeatureTooFewPresent,
    /// Every value of a feature is missing.
    FeatureAllMissing,
    /// String (or categorical int) values outside the domain.
    OutOfDomain,
    /// A string feature whose values are all booleans.
    StringValuesAreBooleans,
    /// A string feature whose values are all numbers.
    StringValuesAreNumbers,
    /// NaN in a float feature that does not allow it.
    UnexpectedNan,
    /// ±infinity in a float feature that does not allow it.
    UnexpectedInfinity,
    /// Values below the range's minimum.
    ValueTooSmall,
    /// Values above the range's maximum.
    ValueTooLarge,
    /// Lists with fewer values than `value_count.min`.
    ValueCountTooSmall,
    /// Lists with more values than `value_count.max`.
    ValueCountTooLarge,
    /// Fewer rows than `[dataset] min_rows`.
    TooFewRows,
    /// More rows than `[dataset] max_rows`.
    TooManyRows,
    /// A feature present in an environment where the schema says it must not be.
    FeatureInWrongEnvironment,
    /// Fewer distinct values than `distinct.min`.
    TooFewDistinctValues,
    /// More distinct values than `distinct.max`.
    TooManyDistinctValues,
    /// A feature's serving distribution differs from training (`assay skew`).
    FeatureSkew,
    /// A feature's distribution moved between datasets or windows.
    FeatureDrift,
    /// The model's output distribution differs from training.
    PredictionSkew,
    /// The model's output distribution moved.
    PredictionDrift,
    /// More than `max_drifted_share` of the features are skewed.
    DatasetSkew,
    /// More than `max_drifted_share` of the features drifted.
    DatasetDrift,
    /// A feature's share of missing values moved (reported apart from the
    /// distribution tests, which leave missing values out).
    MissingShareChanged,
    /// A model quality metric got significantly worse than the reference's,
    /// by more than its effect floor (`quality` check).
    QualityDegraded,
    /// The labels' distribution (a base rate, a class share, the mean label)
    /// moved against the reference's, overall or in a slice or group.
    LabelDrift,
    /// The gap between two groups' rates widened significantly against the
    /// reference (`fairness` check).
    DisparityChanged,
    /// A disparity is past an absolute level (the four-fifths rule, a
    /// configured limit): opt-in (`fairness` check).
    DisparityLevel,
}

impl FindingKind {
    /// The stable snake_case name (the serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingColumn => "missing_column",
            Self::NewColumn => "new_column",
            Self::UnexpectedType => "unexpected_type",
            Self::FeatureTooFewPresent => "feature_too_few_present",
            Self::FeatureAllMissing => "feature_all_missing",
            Self::OutOfDomain => "out_of_domain",
            Self::StringValuesAreBooleans => "string_values_are_booleans",
            Self::StringValuesAreNumbers => "string_values_are_numbers",
            Self::UnexpectedNan => "unexpected_nan",
            Self::UnexpectedInfinity => "unexpected_infinity",
            Self::ValueTooSmall => "value_too_small",
            Self::ValueTooLarge => "value_too_large",
            Self::ValueCountTooSmall => "value_count_too_small",
            Self::ValueCountTooLarge => "value_count_too_large",
            Self::TooFewRows => "too_few_rows",
            Self::TooManyRows => "too_many_rows",
            Self::FeatureInWrongEnvironment => "feature_in_wrong_environment",
            Self::TooFewDistinctValues => "too_few_distinct_values",
            Self::TooManyDistinctValues => "too_many_distinct_values",
            Self::FeatureSkew => "feature_skew",
            Self::FeatureDrift => "feature_drift",
            Self::PredictionSkew => "prediction_skew",
            Self::PredictionDrift => "prediction_drift",
            Self::DatasetSkew => "dataset_skew",
            Self::DatasetDrift => "dataset_drift",
            Self::MissingShareChanged => "missing_share_changed",
            Self::QualityDegraded => "quality_degraded",
            Self::LabelDrift => "label_drift",
            Self::DisparityChanged => "disparity_changed",
            Self::DisparityLevel => "disparity_level",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// The feature (column) concerned; `None` for dataset-level findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// The slice (`sex=F,race=asian`); `None` for the whole dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
    /// What the data showed (a number, a list of values, a type name...).
    pub observed: serde_json::Value,
    /// What the contract asked for.
    pub expected: serde_json::Value,
    /// One line a person reads, e.g. "12.5% of values (1,250 of 10,000) are
    /// outside the domain; most common: \"crypto\" (1,100)".
    pub explanation: String,
}
