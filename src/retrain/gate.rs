//! The promotion gate: the challenger replaces the champion only if it is
//! no worse beyond a tolerance on every gated metric and disparity, both
//! measured on the same holdout.

use serde::Serialize;

use super::config::Gated;
use super::prediction_schema::PredictionSchemaCheck;
use crate::quality::report::names;

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherBetter,
    LowerBetter,
    /// A disparity difference: closer to 0 (in absolute value) is better.
    SmallerMagnitude,
}

/// The metrics a gate can compare, and their direction.
pub fn metric_direction(name: &str) -> Option<Direction> {
    use names::*;
    match name {
        ACCURACY | BALANCED_ACCURACY | PRECISION | RECALL | F1 | PRECISION_MACRO | RECALL_MACRO
        | F1_MACRO | PRECISION_MICRO | RECALL_MICRO | F1_MICRO | PRECISION_WEIGHTED
        | RECALL_WEIGHTED | F1_WEIGHTED | ROC_AUC | ROC_AUC_WEIGHTED | AVERAGE_PRECISION | R2 => {
            Some(Direction::HigherBetter)
        }
        LOG_LOSS | BRIER | ECE | MAE | MSE | RMSE | MAPE => Some(Direction::LowerBetter),
        _ => None,
    }
}

/// The fairness disparities a gate can compare (Fairlearn's names).
pub fn disparity_direction(name: &str) -> Option<Direction> {
    use names::*;
    match name {
        DEMOGRAPHIC_PARITY_DIFFERENCE
        | EQUALIZED_ODDS_DIFFERENCE
        | EQUAL_OPPORTUNITY_DIFFERENCE
        | MAE_DIFFERENCE
        | MEAN_PREDICTION_DIFFERENCE => Some(Direction::SmallerMagnitude),
        DEMOGRAPHIC_PARITY_RATIO | EQUALIZED_ODDS_RATIO | EQUAL_OPPORTUNITY_RATIO => {
            Some(Direction::HigherBetter)
        }
        _ => None,
    }
}

/// One gated comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    /// `metric` or `disparity`.
    pub kind: &'static str,
    pub direction: Direction,
    pub tolerance: f64,
    pub challenger: Option<f64>,
    pub champion: Option<f64>,
    pub passed: bool,
    pub reason: String,
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub promote: bool,
    /// One sentence per failed check (or why it promoted).
    pub reasons: Vec<String>,
    pub checks: Vec<Check>,
    /// The challenger's holdout predictions against the prediction schema.
    pub prediction_schema: Option<PredictionSchemaCheck>,
}

impl Decision {
    /// Adds the prediction-schema check: any violation blocks promotion
    /// and is a reason.
    pub fn with_prediction_schema(mut self, check: PredictionSchemaCheck) -> Self {
        if !check.passed() {
            if self.promote {
                self.reasons.clear();
            }
            self.promote = false;
            self.reasons.extend(check.violations.iter().cloned());
        }
        self.prediction_schema = Some(check);
        self
    }
}

/// Compares one value. `champion` is `None` when there is no champion.
pub fn check(
    gated: &Gated,
    kind: &'static str,
    challenger: Option<f64>,
    champion: Option<f64>,
    has_champion: bool,
) -> Check {
    let (passed, reason) = match (challenger, champion) {
        (None, _) if has_champion => (
            false,
            format!("{kind} {}: undefined for the challenger", gated.name),
        ),
        (_, None) if !has_champion => (true, format!("{kind} {}: no champion", gated.name)),
        (None, None) => (true, format!("{kind} {}: undefined for both", gated.name)),
        (Some(c), None) => (
            true,
            format!("{kind} {}: {c:.6}, undefined for the champion", gated.name),
        ),
        (None, Some(_)) => (
            false,
            format!("{kind} {}: undefined for the challenger", gated.name),
        ),
        (Some(c), Some(h)) => {
            let t = gated.tolerance;
            let (ok, worse) = match gated.direction {
                Direction::HigherBetter => (c >= h - t, "lower"),
                Direction::LowerBetter => (c <= h + t, "higher"),
                Direction::SmallerMagnitude => (c.abs() <= h.abs() + t, "larger"),
            };
            let reason = if ok {
                format!(
                    "{kind} {}: challenger {c:.6}, champion {h:.6} (tolerance {t})",
                    gated.name
                )
            } else {
                format!(
                    "{kind} {}: challenger {c:.6} is {worse} than champion {h:.6} beyond tolerance {t}",
                    gated.name
                )
            };
            (ok, reason)
        }
    };
    Check {
        name: gated.name.clone(),
        kind,
        direction: gated.direction,
        tolerance: gated.tolerance,
        challenger,
        champion,
        passed,
        reason,
    }
}

/// The decision over every check.
pub fn decide(checks: Vec<Check>, has_champion: bool) -> Decision {
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.reason.clone())
        .collect();
    let promote = failed.is_empty();
    let reasons = if !promote {
        failed
    } else if !has_champion {
        vec!["no champion yet: the first model that passed validation is promoted".into()]
    } else {
        vec!["no worse than the champion beyond tolerance on every gated metric".into()]
    };
    Decision {
        promote,
        reasons,
        checks,
        prediction_schema: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gated(name: &str, tolerance: f64) -> Gated {
        Gated {
            name: name.into(),
            tolerance,
            direction: metric_direction(name)
                .or_else(|| disparity_direction(name))
                .unwrap(),
        }
    }

    #[test]
    fn directions_and_tolerances() {
        let auc = gated("roc_auc", 0.0);
        assert!(check(&auc, "metric", Some(0.9), Some(0.9), true).passed);
        assert!(!check(&auc, "metric", Some(0.899), Some(0.9), true).passed);
        let auc = gated("roc_auc", 0.01);
        assert!(check(&auc, "metric", Some(0.895), Some(0.9), true).passed);
        let ll = gated("log_loss", 0.0);
        assert!(check(&ll, "metric", Some(0.3), Some(0.4), true).passed);
        assert!(!check(&ll, "metric", Some(0.41), Some(0.4), true).passed);
        let dp = gated("demographic_parity_difference", 0.01);
        assert!(check(&dp, "disparity", Some(-0.105), Some(0.1), true).passed);
        assert!(!check(&dp, "disparity", Some(0.12), Some(0.1), true).passed);
        assert!(!check(&auc, "metric", None, Some(0.9), true).passed);
        assert!(check(&auc, "metric", Some(0.5), None, false).passed);
    }

    #[test]
    fn one_failed_check_blocks_promotion_with_its_reason() {
        let checks = vec![
            check(
                &gated("roc_auc", 0.0),
                "metric",
                Some(0.95),
                Some(0.9),
                true,
            ),
            check(
                &gated("log_loss", 0.0),
                "metric",
                Some(0.5),
                Some(0.4),
                true,
            ),
        ];
        let d = decide(checks, true);
        assert!(!d.promote);
        assert_eq!(d.reasons.len(), 1);
        assert!(d.reasons[0].contains("log_loss"), "{:?}", d.reasons);
        assert!(decide(vec![], false).promote);
    }

    #[test]
    fn a_prediction_schema_violation_blocks_promotion() {
        let bad = PredictionSchemaCheck {
            checked: vec!["prediction <- score".into()],
            violations: vec!["prediction schema: `prediction`: out of range".into()],
        };
        let d = decide(vec![], false).with_prediction_schema(bad.clone());
        assert!(!d.promote);
        assert_eq!(
            d.reasons, bad.violations,
            "the promotion reason is replaced"
        );
        let good = PredictionSchemaCheck {
            checked: bad.checked.clone(),
            violations: vec![],
        };
        assert!(decide(vec![], false).with_prediction_schema(good).promote);
    }
}
