//! The finished reports: what `finish()` returns, what the CLI prints with
//! `--format json`, and what a later comparison reads back (a saved report
//! is a valid `--reference`).
//!
//! Every population (the whole data, a slice, a fairness group) carries its
//! `metrics` (name → value; `null` when undefined, e.g. ROC AUC with one
//! class; absent when not applicable), their 95% `intervals`, and the
//! `basis` of the tests a comparison runs: the counts behind each rate and
//! the mean and standard deviation behind each loss. The metric names are
//! the constants of [`names`].

use std::collections::BTreeMap;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Task;
use super::calibration::Calibration;
use super::cbpe::Estimate;
use crate::checks::Finding;

/// `format` of a saved quality report.
pub const QUALITY_FORMAT: &str = "assay.quality/1";
/// `format` of a saved fairness report.
pub const FAIRNESS_FORMAT: &str = "assay.fairness/1";

/// Metric names, as they appear in reports, findings and metrics.
pub mod names {
    pub const ACCURACY: &str = "accuracy";
    pub const BALANCED_ACCURACY: &str = "balanced_accuracy";
    pub const PRECISION: &str = "precision";
    pub const RECALL: &str = "recall";
    pub const F1: &str = "f1";
    pub const PRECISION_MACRO: &str = "precision_macro";
    pub const RECALL_MACRO: &str = "recall_macro";
    pub const F1_MACRO: &str = "f1_macro";
    pub const PRECISION_MICRO: &str = "precision_micro";
    pub const RECALL_MICRO: &str = "recall_micro";
    pub const F1_MICRO: &str = "f1_micro";
    pub const PRECISION_WEIGHTED: &str = "precision_weighted";
    pub const RECALL_WEIGHTED: &str = "recall_weighted";
    pub const F1_WEIGHTED: &str = "f1_weighted";
    pub const ROC_AUC: &str = "roc_auc";
    pub const ROC_AUC_WEIGHTED: &str = "roc_auc_weighted";
    pub const AVERAGE_PRECISION: &str = "average_precision";
    pub const LOG_LOSS: &str = "log_loss";
    pub const BRIER: &str = "brier";
    pub const ECE: &str = "ece";
    pub const BASE_RATE: &str = "base_rate";
    pub const POSITIVE_PREDICTION_RATE: &str = "positive_prediction_rate";
    pub const MAE: &str = "mae";
    pub const MSE: &str = "mse";
    pub const RMSE: &str = "rmse";
    pub const MAPE: &str = "mape";
    pub const R2: &str = "r2";
    pub const MEAN_ERROR: &str = "mean_error";
    pub const MEAN_LABEL: &str = "mean_label";
    pub const MEAN_PREDICTION: &str = "mean_prediction";
    /// Multiclass label drift: the share of one class (`class_share:NAME`).
    pub const CLASS_SHARE_PREFIX: &str = "class_share:";
    // Fairness, per group.
    pub const SELECTION_RATE: &str = "selection_rate";
    pub const TPR: &str = "tpr";
    pub const FPR: &str = "fpr";
    pub const FNR: &str = "fnr";
    // Fairness, disparities (Fairlearn's names).
    pub const DEMOGRAPHIC_PARITY_DIFFERENCE: &str = "demographic_parity_difference";
    pub const DEMOGRAPHIC_PARITY_RATIO: &str = "demographic_parity_ratio";
    pub const EQUALIZED_ODDS_DIFFERENCE: &str = "equalized_odds_difference";
    pub const EQUALIZED_ODDS_RATIO: &str = "equalized_odds_ratio";
    pub const EQUAL_OPPORTUNITY_DIFFERENCE: &str = "equal_opportunity_difference";
    pub const EQUAL_OPPORTUNITY_RATIO: &str = "equal_opportunity_ratio";
    pub const MAE_DIFFERENCE: &str = "mae_difference";
    pub const MEAN_PREDICTION_DIFFERENCE: &str = "mean_prediction_difference";
}

/// Named metric values in a fixed order; serialized as a JSON object.
/// `None` is an undefined value (serialized `null`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics(pub Vec<(String, Option<f64>)>);

impl Metrics {
    pub fn push(&mut self, name: &str, value: Option<f64>) {
        self.0.push((name.to_string(), value));
    }

    /// The value of `name`: `None` when absent or undefined.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).and_then(|(_, v)| *v)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<f64>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), *v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, &v.filter(|x| x.is_finite()))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metrics;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of metric values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metrics, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Option<f64>>()? {
                    out.push((k, v));
                }
                Ok(Metrics(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// What a test of one metric needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// A rate: `successes` of `trials`.
    Proportion { successes: u64, trials: u64 },
    /// A mean of per-row values (a loss, an error) and their sample
    /// standard deviation.
    Mean { n: u64, mean: f64, sd: f64 },
    /// A ROC AUC and its DeLong variance.
    Auc {
        value: f64,
        variance: f64,
        positives: u64,
        negatives: u64,
    },
}

/// A confusion matrix: `matrix[i][j]` rows with label `labels[i]` predicted
/// `labels[j]` (scikit-learn's `confusion_matrix` layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<u64>>,
}

/// How ROC AUC and average precision were computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankingInfo {
    /// From exact scores (else from the binned histogram).
    pub exact: bool,
    /// Upper bounds of the binning error (0 when exact).
    pub roc_auc_error_bound: f64,
    pub average_precision_error_bound: f64,
}

/// A quantile of the residuals (prediction − label).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResidualQuantile {
    pub quantile: f64,
    pub value: f64,
}

/// The quality of one population: the whole data or one slice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Rows seen (labelled or not).
    pub rows: u64,
    /// Rows with a label: the rows every metric is computed on.
    pub labelled: u64,
    pub metrics: Metrics,
    /// 95% intervals: Wilson for rates, DeLong's normal interval for ROC
    /// AUC, a normal interval for mean losses and errors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intervals: BTreeMap<String, [f64; 2]>,
    #[serde(default)]
    pub basis: BTreeMap<String, Basis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<ConfusionMatrix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub residual_quantiles: Vec<ResidualQuantile>,
    /// Undefined metrics and other caveats, one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `assay quality`'s report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub format: String,
    pub task: Task,
    pub label: String,
    #[serde(default)]
    pub prediction: Option<String>,
    #[serde(default)]
    pub scores: Vec<String>,
    /// Binary: the positive class.
    #[serde(default)]
    pub positive_class: Option<String>,
    /// The classes seen or declared, in order (classification).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Binary with scores and no prediction column: the threshold used.
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(flatten)]
    pub summary: Summary,
    #[serde(default)]
    pub slices: Vec<SliceQuality>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Performance estimated from the scores alone (CBPE), beside the
    /// realized metrics above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated: Option<Estimate>,
}

/// A column's value in a slice or group key (`None` for null).
pub type Key = BTreeMap<String, Option<String>>;

/// The quality of one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceQuality {
    /// `sex=F,race=asian` (as profile slices are named).
    pub slice: String,
    pub key: Key,
    #[serde(flatten)]
    pub summary: Summary,
}

/// `slice` of a key: `col=value` joined by commas, `null` for a null.
pub fn key_name(key: &[(String, Option<String>)]) -> String {
    key.iter()
        .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("null")))
        .collect::<Vec<_>>()
        .join(",")
}

/// A group's name with its columns in `order` (the sensitive columns as
/// given), e.g. `sex=F,race=asian`; columns not in `order` follow.
pub fn group_name(key: &Key, order: &[String]) -> String {
    let mut parts: Vec<(String, Option<String>)> = order
        .iter()
        .filter_map(|c| key.get(c).map(|v| (c.clone(), v.clone())))
        .collect();
    parts.extend(
        key.iter()
            .filter(|(c, _)| !order.contains(c))
            .map(|(c, v)| (c.clone(), v.clone())),
    );
    key_name(&parts)
}

/// One group of the sensitive columns (or the whole data as `overall`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupEntry {
    /// `{"sex": "F"}`, or `{"sex": "F", "race": "asian"}` for an
    /// intersection; empty for `overall`.
    pub group: Key,
    /// Labelled rows in the group.
    pub count: u64,
    /// Fewer rows than `min_group_size`: reported, never judged.
    pub insufficient: bool,
    /// Binary: base_rate, and with predictions selection_rate, tpr, fpr,
    /// fnr, precision, accuracy. Regression: mae, mean_prediction,
    /// mean_label. `null` when undefined (a TPR without positives).
    #[serde(flatten)]
    pub metrics: Metrics,
    /// 95% intervals: Wilson for rates, normal for means.
    pub ci: BTreeMap<String, [f64; 2]>,
    pub basis: BTreeMap<String, Basis>,
}

/// Disparities between the judged groups (Fairlearn's definitions, method
/// `between_groups`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Disparities {
    /// Groups judged (at least `min_group_size` rows).
    pub groups: usize,
    /// demographic_parity_difference / _ratio, equalized_odds_difference /
    /// _ratio, equal_opportunity_difference / _ratio (binary with
    /// predictions); mae_difference, mean_prediction_difference (regression).
    #[serde(flatten)]
    pub values: Metrics,
    /// Binary: the selection rate ratio is at least 0.8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub four_fifths_rule: Option<bool>,
    /// Newcombe's hybrid score interval (95%) of each difference, for the
    /// two groups that make it.
    #[serde(default)]
    pub ci: BTreeMap<String, [f64; 2]>,
    /// The groups with the largest and smallest rate of each difference.
    #[serde(default)]
    pub extremes: BTreeMap<String, Extremes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extremes {
    pub max: Key,
    pub min: Key,
}

/// `assay fairness`'s report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport {
    pub format: String,
    pub task: Task,
    pub label: String,
    #[serde(default)]
    pub prediction: Option<String>,
    #[serde(default)]
    pub scores: Vec<String>,
    #[serde(default)]
    pub positive_class: Option<String>,
    #[serde(default)]
    pub threshold: Option<f64>,
    pub sensitive: Vec<String>,
    pub min_group_size: u64,
    pub rows: u64,
    pub labelled: u64,
    /// The whole data as one group (`group` is empty).
    pub overall: GroupEntry,
    /// Each sensitive column's groups, then their intersections.
    pub by_group: Vec<GroupEntry>,
    /// Over the groups of all sensitive columns together (their
    /// intersections when there are several, as Fairlearn's MetricFrame
    /// with several sensitive features).
    pub disparities: Disparities,
    /// Over the groups of each sensitive column alone (several columns only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub disparities_by_column: BTreeMap<String, Disparities>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default)]
    pub findings: Vec<Finding>,
}
