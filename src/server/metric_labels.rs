//! The closed label sets of the daemon's counters: every value a label can
//! take for a model, known when the model is loaded, so that each series
//! exists at 0 from the first scrape.
//!
//! Why: Prometheus only sees a counter once it exists. A series that first
//! appears at 1 has no earlier sample, so `increase()` and `rate()` miss
//! that first event (an alert on the first rejected batch never fires),
//! and a dashboard panel over it shows "no data" instead of 0.
//!
//! Open label sets (a feature seen only in served data, a slice value)
//! are not initialised: their series appear with their first event.

use crate::checks::{FindingKind, Severity};

use super::model::CheckPlan;

/// `reason` of `assay_batches_rejected_total` for a model the daemon
/// watches. (A request naming any other model is counted under the model
/// label [`UNKNOWN_MODEL`], so that clients cannot create series at will.)
pub const REJECT_REASONS: [&str; 6] = [
    "malformed",
    "too_large",
    "queue_full",
    "unauthorized",
    "not_ready",
    "internal",
];

/// The `model` label of rejections for a model this daemon does not watch
/// (an empty label value: the series has no `model` label).
pub const UNKNOWN_MODEL: &str = "";

/// `reason`s counted under [`UNKNOWN_MODEL`].
pub const UNKNOWN_MODEL_REASONS: [&str; 3] = ["unknown_model", "unauthorized", "not_ready"];

/// `outcome` of `assay_spool_files_total`.
pub const SPOOL_OUTCOMES: [&str; 2] = ["done", "failed"];

/// Every finding kind a schema check can report.
pub const SCHEMA_KINDS: [FindingKind; 19] = [
    FindingKind::MissingColumn,
    FindingKind::NewColumn,
    FindingKind::UnexpectedType,
    FindingKind::FeatureTooFewPresent,
    FindingKind::FeatureAllMissing,
    FindingKind::OutOfDomain,
    FindingKind::StringValuesAreBooleans,
    FindingKind::StringValuesAreNumbers,
    FindingKind::UnexpectedNan,
    FindingKind::UnexpectedInfinity,
    FindingKind::ValueTooSmall,
    FindingKind::ValueTooLarge,
    FindingKind::ValueCountTooSmall,
    FindingKind::ValueCountTooLarge,
    FindingKind::TooFewRows,
    FindingKind::TooManyRows,
    FindingKind::FeatureInWrongEnvironment,
    FindingKind::TooFewDistinctValues,
    FindingKind::TooManyDistinctValues,
];

/// Finding kinds of a skew check (`SKEW_KINDS`) and a drift check.
pub const SKEW_KINDS: [FindingKind; 4] = [
    FindingKind::FeatureSkew,
    FindingKind::PredictionSkew,
    FindingKind::DatasetSkew,
    FindingKind::MissingShareChanged,
];
pub const DRIFT_KINDS: [FindingKind; 4] = [
    FindingKind::FeatureDrift,
    FindingKind::PredictionDrift,
    FindingKind::DatasetDrift,
    FindingKind::MissingShareChanged,
];

/// The severities a finding of `kind` can have (`checks::anomalies` and
/// `checks::compare::report` decide them). Exhaustive on purpose: a new
/// kind does not compile until it is placed here and in one of the lists
/// above.
pub fn severities(kind: FindingKind) -> &'static [Severity] {
    use FindingKind::*;
    match kind {
        // A warning within the schema's allowance (`min_domain_mass`,
        // `range_tolerance`), an error past it.
        OutOfDomain | ValueTooSmall | ValueTooLarge => &[Severity::Warning, Severity::Error],
        MissingShareChanged | LabelDrift => &[Severity::Warning],
        MissingColumn
        | NewColumn
        | UnexpectedType
        | FeatureTooFewPresent
        | FeatureAllMissing
        | StringValuesAreBooleans
        | StringValuesAreNumbers
        | UnexpectedNan
        | UnexpectedInfinity
        | ValueCountTooSmall
        | ValueCountTooLarge
        | TooFewRows
        | TooManyRows
        | FeatureInWrongEnvironment
        | TooFewDistinctValues
        | TooManyDistinctValues
        | FeatureSkew
        | FeatureDrift
        | PredictionSkew
        | PredictionDrift
        | DatasetSkew
        | DatasetDrift
        | QualityDegraded
        | DisparityChanged
        | DisparityLevel => &[Severity::Error],
    }
}

/// One series of `assay_findings_total` (without the model):
/// `check`, `kind`, `severity`.
pub type FindingLabels = (&'static str, String, &'static str);

/// Every `(check, kind, severity)` a model with this plan can count.
/// Failed expectations are counted under their expectation type with
/// severity `error`.
pub fn finding_labels(plan: &CheckPlan) -> Vec<FindingLabels> {
    let mut out = Vec::new();
    let mut kinds = |check: &'static str, kinds: &[FindingKind]| {
        for &kind in kinds {
            for severity in severities(kind) {
                out.push((check, kind.as_str().to_string(), severity.as_str()));
            }
        }
    };
    if plan.batch_schema {
        kinds("batch_schema", &SCHEMA_KINDS);
    }
    if plan.window_schema {
        kinds("window_schema", &SCHEMA_KINDS);
    }
    if plan.skew {
        kinds("skew", &SKEW_KINDS);
    }
    if plan.drift {
        kinds("drift", &DRIFT_KINDS);
    }
    for (check, types) in [
        ("batch_expectations", &plan.batch_expectations),
        ("window_expectations", &plan.window_expectations),
    ] {
        for t in types {
            out.push((check, t.clone(), Severity::Error.as_str()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finding_kind_is_in_exactly_one_check_family() {
        // `MissingShareChanged` belongs to both comparisons.
        let mut seen: Vec<FindingKind> = SCHEMA_KINDS
            .iter()
            .chain(&SKEW_KINDS)
            .chain(DRIFT_KINDS.iter().filter(|k| !SKEW_KINDS.contains(k)))
            .copied()
            .collect();
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n, "a kind is listed twice");
        // Every kind round-trips through its serialized name, and the
        // lists hold all 26 of them (update when the enum grows: the match
        // in `severities` will not compile until then).
        for k in &seen {
            let back: FindingKind = serde_json::from_value(serde_json::json!(k.as_str())).unwrap();
            assert_eq!(back, *k);
        }
        assert_eq!(seen.len(), 26);
    }

    #[test]
    fn a_plan_names_each_check_it_runs_and_no_other() {
        let plan = CheckPlan {
            batch_schema: false,
            batch_expectations: vec!["expect_column_values_to_be_in_set".into()],
            window_schema: true,
            window_expectations: vec!["expect_column_mean_to_be_between".into()],
            skew: true,
            drift: false,
        };
        let labels = finding_labels(&plan);
        let checks: std::collections::BTreeSet<&str> = labels.iter().map(|l| l.0).collect();
        assert_eq!(
            checks.into_iter().collect::<Vec<_>>(),
            [
                "batch_expectations",
                "skew",
                "window_expectations",
                "window_schema"
            ]
        );
        // 19 schema kinds, 3 of them with both severities.
        assert_eq!(labels.iter().filter(|l| l.0 == "window_schema").count(), 22);
        assert!(labels.contains(&("skew", "missing_share_changed".into(), "warning")));
        assert!(!labels.contains(&("skew", "missing_share_changed".into(), "error")));
        assert!(labels.contains(&(
            "batch_expectations",
            "expect_column_values_to_be_in_set".into(),
            "error"
        )));
    }
}
