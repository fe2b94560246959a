//! The gate's last check: the challenger's holdout predictions against the
//! model's prediction schema, so a model whose outputs the serving side
//! would refuse (a class outside the domain, a score past the range) is
//! never promoted.
//!
//! The schema's `role = "prediction"` features describe the served model's
//! outputs. Each is matched to one of the challenger's output columns:
//! - a feature named like a score column (`score`, `score_CLASS`) → that
//!   column;
//! - else a `float` feature of a classifier → its scores (binary: `score`;
//!   multiclass: every `score_CLASS`), the daemon's own reading of a float
//!   prediction column (`[quality]` takes it as the score);
//! - else → `prediction` (the class, or the regression value).
//!
//! The matched columns, renamed to the feature's name, are profiled and
//! checked with `assay validate`'s rules restricted to those features
//! (type, domain and `min_domain_mass`, range and `range_tolerance`, NaN /
//! infinity, presence). Independently of the schema, every score must be a
//! probability: finite and within [0, 1].

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float32Array, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use serde::Serialize;

use crate::checks::Severity;
use crate::checks::anomalies::schema_anomalies;
use crate::profile::{ColumnRole, LogicalType, ProfileOptions, TableAccumulator};
use crate::quality::Task;
use crate::schema::{Dataset, Schema};
use crate::train::saved::Prediction;

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PredictionSchemaCheck {
    /// `feature ← output column` for every prediction feature checked.
    pub checked: Vec<String>,
    /// One sentence per violation; empty when the predictions conform.
    pub violations: Vec<String>,
}

impl PredictionSchemaCheck {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks `prediction` (the challenger's outputs on the holdout) for a
/// model of `task` against `schema`'s prediction features.
pub fn check_predictions(
    schema: &Schema,
    task: Task,
    prediction: &Prediction,
) -> PredictionSchemaCheck {
    let mut out = PredictionSchemaCheck::default();
    for (name, scores) in &prediction.scores {
        if let Some(problem) = probability_problem(scores) {
            out.violations.push(format!(
                "prediction schema: score column `{name}`: {problem}"
            ));
        }
    }
    let features: Vec<_> = schema
        .features
        .iter()
        .filter(|f| f.role == ColumnRole::Prediction)
        .collect();
    if features.is_empty() {
        return out;
    }
    // One checked batch per output column: a feature may stand for several
    // score columns, and a batch has one column per name.
    for feature in features {
        let sources: Vec<(&str, &ArrayRef)> =
            if let Some((n, a)) = prediction.scores.iter().find(|(n, _)| *n == feature.name) {
                vec![(n.as_str(), a)]
            } else if feature.logical_type == LogicalType::Float
                && task != Task::Regression
                && !prediction.scores.is_empty()
            {
                prediction
                    .scores
                    .iter()
                    .map(|(n, a)| (n.as_str(), a))
                    .collect()
            } else {
                vec![("prediction", &prediction.prediction)]
            };
        let mut only = Schema::new();
        only.features = vec![feature.clone()];
        only.dataset = Dataset::default();
        for (source, array) in sources {
            out.checked.push(format!("{} <- {source}", feature.name));
            match profile_one(&feature.name, array, feature.logical_type) {
                Ok(profile) => {
                    for finding in schema_anomalies(&profile, &only, None) {
                        if finding.severity == Severity::Error && finding.slice.is_none() {
                            out.violations.push(format!(
                                "prediction schema: `{}` (the challenger's `{source}`): {}",
                                feature.name, finding.explanation
                            ));
                        }
                    }
                }
                Err(e) => out.violations.push(format!(
                    "prediction schema: `{}` (the challenger's `{source}`): {e}",
                    feature.name
                )),
            }
        }
    }
    out
}

/// Profiles `array` as one column called `name`. A float output checked
/// against an int or float feature is widened to `Float64` first (scores
/// are `Float32`; the schema's float type is the profile's float type).
fn profile_one(
    name: &str,
    array: &ArrayRef,
    expected: LogicalType,
) -> Result<crate::profile::Profile, String> {
    let array = match (array.data_type(), expected) {
        (DataType::Float32, LogicalType::Float) => {
            cast(array, &DataType::Float64).map_err(|e| e.to_string())?
        }
        _ => array.clone(),
    };
    let schema = Arc::new(ArrowSchema::new(vec![Field::new(
        name,
        array.data_type().clone(),
        true,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![array]).map_err(|e| e.to_string())?;
    let mut acc =
        TableAccumulator::new(&schema, &ProfileOptions::default()).map_err(|e| e.to_string())?;
    acc.update(&batch).map_err(|e| e.to_string())?;
    Ok(acc.finish())
}

/// Why a score column is not a probability, if it is not.
fn probability_problem(array: &ArrayRef) -> Option<String> {
    let values: Vec<f64> = if let Some(a) = array.as_any().downcast_ref::<Float32Array>() {
        a.iter().flatten().map(f64::from).collect()
    } else if let Some(a) = array.as_any().downcast_ref::<Float64Array>() {
        a.iter().flatten().collect()
    } else {
        return Some(format!("is {}, not a float", array.data_type()));
    };
    let bad: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
        .collect();
    let first = bad.first()?;
    Some(format!(
        "{} of {} values are not probabilities in [0, 1] (e.g. {first})",
        bad.len(),
        values.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    fn schema(text: &str) -> Schema {
        crate::schema::parse(
            &format!("format = \"assay.schema/1\"\n{text}"),
            "schema.toml",
        )
        .unwrap()
    }

    fn binary(classes: Vec<i64>, scores: Vec<f32>) -> Prediction {
        Prediction {
            prediction: Arc::new(Int64Array::from(classes)),
            scores: vec![("score".into(), Arc::new(Float32Array::from(scores)))],
        }
    }

    #[test]
    fn a_float_prediction_feature_checks_the_scores_range() {
        let s = schema(
            "[features.prediction]\ntype = \"float\"\nrole = \"prediction\"\nrange = { min = 0, max = 0.5 }\nrange_tolerance = 0\n",
        );
        let p = binary(vec![0, 1, 1], vec![0.1, 0.7, 0.9]);
        let c = check_predictions(&s, Task::Binary, &p);
        assert_eq!(c.checked, vec!["prediction <- score"]);
        assert!(!c.passed());
        assert!(
            c.violations[0].contains("`prediction` (the challenger's `score`)"),
            "{c:?}"
        );
        let ok = binary(vec![0, 0, 0], vec![0.1, 0.2, 0.4]);
        assert!(check_predictions(&s, Task::Binary, &ok).passed());
    }

    #[test]
    fn a_class_outside_the_domain_is_a_violation() {
        let s = schema(
            "[features.predicted_class]\ntype = \"int\"\nrole = \"prediction\"\ncategorical = true\ndomain = [0, 1]\n",
        );
        let p = binary(vec![0, 1, 2], vec![0.1, 0.5, 0.9]);
        let c = check_predictions(&s, Task::Binary, &p);
        assert_eq!(c.checked, vec!["predicted_class <- prediction"]);
        assert_eq!(c.violations.len(), 1, "{c:?}");
        assert!(c.violations[0].contains("domain"), "{c:?}");
        assert!(
            check_predictions(
                &s,
                Task::Binary,
                &binary(vec![0, 1, 1], vec![0.1, 0.5, 0.9])
            )
            .passed()
        );
    }

    #[test]
    fn scores_must_be_probabilities_whatever_the_schema() {
        let p = binary(vec![0, 1], vec![0.5, f32::NAN]);
        let c = check_predictions(&Schema::new(), Task::Binary, &p);
        assert!(
            c.violations[0].contains("not probabilities in [0, 1]"),
            "{c:?}"
        );
        let p = binary(vec![0, 1], vec![-0.1, 1.0]);
        assert!(!check_predictions(&Schema::new(), Task::Binary, &p).passed());
        let p = binary(vec![0, 1], vec![0.0, 1.0]);
        assert!(check_predictions(&Schema::new(), Task::Binary, &p).passed());
    }
}
