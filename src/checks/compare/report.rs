//! The comparison report: per feature, what was compared how, and the
//! verdict; per dataset and slice, the share of drifted features. The JSON
//! form is this structure serialized; findings in the validation report's
//! shape are derived from it ([`ComparisonReport::findings`]).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::feature::FeatureKind;
use super::{Comparison, MISSING_SHARE_CHANGE, Mode};
use crate::checks::drift::{Method, MethodResult};
use crate::checks::{Finding, FindingKind, Severity};
use crate::profile::ColumnRole;

/// A feature's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Drift,
    NoDrift,
    /// Too few values on a side for a verdict.
    InsufficientData,
    /// The method could not be computed (the reason is in `error`).
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Drift => "drift",
            Self::NoDrift => "no drift",
            Self::InsufficientData => "insufficient data",
            Self::Error => "error",
        }
    }
}

/// The share of missing values (null, and NaN for floats) on each side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MissingShare {
    pub reference: f64,
    pub current: f64,
}

impl MissingShare {
    pub fn changed(&self) -> bool {
        (self.current - self.reference).abs() >= MISSING_SHARE_CHANGE
    }
}

/// A category or bin and its share on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contributor {
    /// The category, or the bin as `[low, high)`.
    pub value: String,
    pub reference: f64,
    pub current: f64,
}

/// The effect size a test's verdict is gated on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub method: Method,
    pub statistic: f64,
    /// The floor (`min_effect`).
    pub min: f64,
}

/// The test a distance's verdict is gated on (`ks` for numeric features,
/// `chi2_contingency` for categorical ones): a distance past its threshold
/// is drift only when this test also says the difference is not sampling
/// noise (nor, in profile mode, sketch error).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Significance {
    pub method: Method,
    pub p_value: f64,
    /// After the multiple-testing correction across the comparison's features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value_adjusted: Option<f64>,
    /// Significant below this (the tests' default p-value threshold).
    pub threshold: f64,
}

impl Significance {
    /// Whether the difference counts as real (adjusted p below the threshold).
    pub fn significant(&self) -> bool {
        self.p_value_adjusted.unwrap_or(self.p_value) < self.threshold
    }
}

/// One feature's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureComparison {
    pub name: String,
    pub kind: FeatureKind,
    pub role: ColumnRole,
    pub method: Method,
    /// Whether `method` came from the default rule.
    pub default_method: bool,
    /// The test statistic or distance (`null` without a verdict).
    pub statistic: Option<f64>,
    /// `null` for distances.
    pub p_value: Option<f64>,
    /// The p-value after the multiple-testing correction (tests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value_adjusted: Option<f64>,
    pub threshold: f64,
    pub drifted: bool,
    pub verdict: Verdict,
    /// Whether the statistic is a sketch estimate.
    pub approximate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// Distances only: the test the verdict is gated on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub significance: Option<Significance>,
    /// Non-null values compared on each side.
    pub reference_count: u64,
    pub current_count: u64,
    pub missing: MissingShare,
    /// The categories or bins whose share moved most, largest move first.
    pub contributors: Vec<Contributor>,
    /// With `--all-methods`: every applicable method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<MethodOutcome>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One method's result (or why it failed), for `--all-methods`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodOutcome {
    pub method: Method,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub approximate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MethodOutcome {
    pub fn from_result(method: Method, result: &Result<MethodResult, String>) -> Self {
        match result {
            Ok(r) => Self {
                method,
                statistic: Some(r.statistic),
                p_value: r.p_value,
                approximate: r.approximate,
                error: None,
            },
            Err(e) => Self {
                method,
                statistic: None,
                p_value: None,
                approximate: false,
                error: Some(e.clone()),
            },
        }
    }
}

/// A column that was not compared, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedFeature {
    pub name: String,
    pub reason: String,
}

/// The share of drifted features and the dataset-level verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetVerdict {
    /// Features (and predictions) with a verdict.
    pub checked: usize,
    pub drifted: usize,
    pub insufficient_data: usize,
    pub share: f64,
    pub max_drifted_share: f64,
    /// More than `max_drifted_share` of the checked features drifted.
    pub dataset_drifted: bool,
}

/// The comparison of one slice present on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceComparison {
    pub slice: String,
    pub reference_rows: u64,
    pub current_rows: u64,
    pub features: Vec<FeatureComparison>,
    pub predictions: Vec<FeatureComparison>,
    pub dataset: DatasetVerdict,
}

/// The whole report of `assay drift` / `assay skew`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonReport {
    pub comparison: Comparison,
    pub mode: Mode,
    pub reference: String,
    pub current: String,
    pub reference_rows: u64,
    pub current_rows: u64,
    /// Input features (and labels), most severe first.
    pub features: Vec<FeatureComparison>,
    /// Model outputs (`role = "prediction"`): prediction drift.
    pub predictions: Vec<FeatureComparison>,
    pub dataset: DatasetVerdict,
    pub slices: Vec<SliceComparison>,
    pub skipped: Vec<SkippedFeature>,
    pub missing_in_current: Vec<String>,
    pub missing_in_reference: Vec<String>,
    /// Slices of one side that the other side does not have.
    pub unmatched_slices: Vec<String>,
}

impl ComparisonReport {
    /// Whether any feature, prediction, dataset or slice drifted.
    pub fn drifted(&self) -> bool {
        let any = |fs: &[FeatureComparison]| fs.iter().any(|f| f.drifted);
        any(&self.features)
            || any(&self.predictions)
            || self.dataset.dataset_drifted
            || self
                .slices
                .iter()
                .any(|s| any(&s.features) || any(&s.predictions) || s.dataset.dataset_drifted)
    }

    /// The report as findings in the validation report's shape: one per
    /// drifted feature (error), per dataset or slice over its drifted share
    /// (error), and per feature whose missing share moved (warning).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let groups = std::iter::once((None, &self.features, &self.predictions, &self.dataset))
            .chain(
                self.slices
                    .iter()
                    .map(|s| (Some(&s.slice), &s.features, &s.predictions, &s.dataset)),
            );
        for (slice, features, predictions, dataset) in groups {
            for f in features.iter().chain(predictions.iter()) {
                if f.drifted {
                    out.push(self.feature_finding(f, slice));
                }
                if f.missing.changed() {
                    out.push(missing_finding(f, slice));
                }
            }
            if dataset.dataset_drifted {
                out.push(Finding {
                    kind: match self.comparison {
                        Comparison::Skew => FindingKind::DatasetSkew,
                        Comparison::Drift => FindingKind::DatasetDrift,
                    },
                    severity: Severity::Error,
                    feature: None,
                    slice: slice.cloned(),
                    observed: json!({"drifted": dataset.drifted, "checked": dataset.checked, "share": dataset.share}),
                    expected: json!({"max_drifted_share": dataset.max_drifted_share}),
                    explanation: format!(
                        "{} of {} features {} ({:.0}%), more than the allowed {:.0}%",
                        dataset.drifted,
                        dataset.checked,
                        self.verb(),
                        dataset.share * 100.0,
                        dataset.max_drifted_share * 100.0
                    ),
                });
            }
        }
        out
    }

    fn verb(&self) -> &'static str {
        match self.comparison {
            Comparison::Skew => "are skewed",
            Comparison::Drift => "drifted",
        }
    }

    fn feature_finding(&self, f: &FeatureComparison, slice: Option<&String>) -> Finding {
        let kind = match (self.comparison, f.role) {
            (Comparison::Skew, ColumnRole::Prediction) => FindingKind::PredictionSkew,
            (Comparison::Skew, _) => FindingKind::FeatureSkew,
            (Comparison::Drift, ColumnRole::Prediction) => FindingKind::PredictionDrift,
            (Comparison::Drift, _) => FindingKind::FeatureDrift,
        };
        let moved = f
            .contributors
            .first()
            .map(|c| {
                format!(
                    "; most moved: {} ({:.1}% → {:.1}%)",
                    c.value,
                    c.reference * 100.0,
                    c.current * 100.0
                )
            })
            .unwrap_or_default();
        Finding {
            kind,
            severity: Severity::Error,
            feature: Some(f.name.clone()),
            slice: slice.cloned(),
            observed: json!({
                "method": f.method,
                "statistic": f.statistic,
                "p_value": f.p_value,
                "p_value_adjusted": f.p_value_adjusted,
                "significance": f.significance,
                "approximate": f.approximate,
                "contributors": f.contributors,
            }),
            expected: json!({"method": f.method, "threshold": f.threshold}),
            explanation: format!("{}{moved}", describe(f)),
        }
    }
}

/// "wasserstein 0.52 >= 0.1 (ks p = 1.2e-8 < 0.05)" /
/// "ks statistic 0.31, p = 0.001, adjusted 0.004 < 0.05".
pub fn describe(f: &FeatureComparison) -> String {
    let Some(statistic) = f.statistic else {
        return f.error.clone().unwrap_or_else(|| f.verdict.as_str().into());
    };
    let approx = if f.approximate { "≈" } else { "" };
    match f.p_value {
        Some(p) => {
            let used = f.p_value_adjusted.unwrap_or(p);
            let cmp = if used < f.threshold { "<" } else { ">=" };
            let adjusted = f
                .p_value_adjusted
                .map(|a| format!(", adjusted {}", short(a)))
                .unwrap_or_default();
            format!(
                "{} statistic {approx}{}, p = {}{adjusted} {cmp} {}",
                f.method,
                short(statistic),
                short(p),
                f.threshold
            )
        }
        None => {
            let cmp = if statistic >= f.threshold { ">=" } else { "<" };
            let gate = f
                .significance
                .map(|s| {
                    let used = s.p_value_adjusted.unwrap_or(s.p_value);
                    let cmp = if s.significant() { "<" } else { ">=" };
                    format!(" ({} p = {} {cmp} {})", s.method, short(used), s.threshold)
                })
                .unwrap_or_default();
            format!(
                "{} {approx}{} {cmp} {}{gate}",
                f.method,
                short(statistic),
                f.threshold
            )
        }
    }
}

/// A number with 4 significant digits, scientific when tiny.
pub fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        format!("{x}")
    } else if x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else {
        let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.digits$}")
    }
}

fn missing_finding(f: &FeatureComparison, slice: Option<&String>) -> Finding {
    Finding {
        kind: FindingKind::MissingShareChanged,
        severity: Severity::Warning,
        feature: Some(f.name.clone()),
        slice: slice.cloned(),
        observed: json!(f.missing.current),
        expected: json!(f.missing.reference),
        explanation: format!(
            "the share of missing values moved from {:.1}% to {:.1}% (drift tests leave missing values out)",
            f.missing.reference * 100.0,
            f.missing.current * 100.0
        ),
    }
}
