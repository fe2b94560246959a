//! Alarms that mean something: findings from comparing a window's quality
//! and fairness with a labelled reference.
//!
//! # What is tested
//!
//! Quality (check `quality`), for the whole data and each slice both sides
//! have:
//! - `quality_degraded` (error): accuracy, precision and recall (pooled
//!   two-proportion z-test, one-sided: lower now), ROC AUC (z-test with
//!   DeLong's variances from the score histograms, one-sided), log loss,
//!   Brier score, MAE and MSE (Welch's z-test on the per-row losses,
//!   one-sided: higher now). A finding needs the BH-adjusted p-value below
//!   `alpha` *and* a change past the effect floor: an absolute drop of
//!   `min_effect` for rates and AUC, a relative rise of
//!   `min_relative_effect` for losses and errors.
//! - `label_drift` (warning): the base rate (binary), each class's share
//!   (multiclass) or the mean label (regression), two-sided; the floor is
//!   `label_drift_min_effect` (absolute for rates, in reference standard
//!   deviations for the mean label).
//!
//! Fairness (check `fairness`), over the judged groups (at least
//! `min_group_size` labelled rows on both sides):
//! - `label_drift` (warning): each group's base rate, two-sided.
//! - `disparity_changed` (error): for the selection rate, TPR and FPR, the
//!   gap between the two groups that are now furthest apart, against the
//!   gap between the same two groups in the reference (one-sided: wider
//!   now; z-test with unpooled variances); floor `disparity_min_change`.
//! - `disparity_level` (error, opt-in, [`fairness_levels`]): the four-fifths
//!   rule and an absolute limit on the differences. Off by default: a level
//!   test alarms on every sample of a population that sits near its limit.
//!
//! All the p-values of one comparison (metrics × slices, or rates ×
//! groups) are adjusted together with Benjamini–Hochberg
//! ([`crate::checks::compare::benjamini_hochberg`]), so `alpha` is the false
//! discovery rate of the findings.

use serde_json::json;

use super::intervals::{
    Alternative, TestResult, auc_test, difference_change_test, two_proportion_test, welch_test,
};
use super::report::{
    Basis, FairnessReport, GroupEntry, Key, QualityReport, Summary, group_name, names,
};
use super::{QualityError, Task};
use crate::checks::compare::benjamini_hochberg;
use crate::checks::{Finding, FindingKind, Severity};

/// The finding kinds of the `quality` check.
pub const QUALITY_KINDS: [FindingKind; 2] = [FindingKind::QualityDegraded, FindingKind::LabelDrift];
/// The finding kinds of the `fairness` check.
pub const FAIRNESS_KINDS: [FindingKind; 3] = [
    FindingKind::DisparityChanged,
    FindingKind::DisparityLevel,
    FindingKind::LabelDrift,
];

/// Thresholds of the alarms.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AlarmOptions {
    /// False discovery rate of one comparison's findings.
    pub alpha: f64,
    /// Smallest drop of a rate or of ROC AUC that is a finding (absolute).
    pub min_effect: f64,
    /// Smallest rise of a loss or error that is a finding (relative).
    pub min_relative_effect: f64,
    /// Smallest change of a base rate (absolute), or of the mean label (in
    /// reference standard deviations), that is label drift.
    pub label_drift_min_effect: f64,
    /// Smallest widening of a gap between two groups' rates (absolute).
    pub disparity_min_change: f64,
    /// Level alarm (opt-in): the selection rate ratio below 0.8.
    pub four_fifths: bool,
    /// Level alarm (opt-in): any disparity difference above this.
    pub max_disparity: Option<f64>,
}

impl Default for AlarmOptions {
    fn default() -> Self {
        Self {
            alpha: 0.01,
            min_effect: 0.02,
            min_relative_effect: 0.1,
            label_drift_min_effect: 0.02,
            disparity_min_change: 0.05,
            four_fifths: false,
            max_disparity: None,
        }
    }
}

/// One test before the correction.
struct Candidate {
    kind: FindingKind,
    severity: Severity,
    metric: String,
    feature: Option<String>,
    slice: Option<String>,
    reference: f64,
    current: f64,
    result: TestResult,
    /// The effect passes its floor.
    large_enough: bool,
    floor: serde_json::Value,
    extra: serde_json::Value,
    explain: String,
}

/// How a metric is tested.
#[derive(Clone, Copy)]
enum Direction {
    /// Higher is better: a drop is degradation.
    HigherBetter,
    /// Lower is better: a rise is degradation.
    LowerBetter,
    /// Any change is label drift.
    Drift,
}

fn direction(metric: &str) -> Option<Direction> {
    match metric {
        names::ACCURACY | names::PRECISION | names::RECALL | names::ROC_AUC => {
            Some(Direction::HigherBetter)
        }
        names::LOG_LOSS | names::BRIER | names::MAE | names::MSE => Some(Direction::LowerBetter),
        names::BASE_RATE | names::MEAN_LABEL => Some(Direction::Drift),
        m if m.starts_with(names::CLASS_SHARE_PREFIX) => Some(Direction::Drift),
        _ => None,
    }
}

fn value_of(basis: &Basis) -> f64 {
    match basis {
        Basis::Proportion { successes, trials } => *successes as f64 / *trials as f64,
        Basis::Mean { mean, .. } => *mean,
        Basis::Auc { value, .. } => *value,
    }
}

fn test(reference: &Basis, current: &Basis, alternative: Alternative) -> Option<TestResult> {
    match (reference, current) {
        (
            Basis::Proportion {
                successes: s1,
                trials: n1,
            },
            Basis::Proportion {
                successes: s2,
                trials: n2,
            },
        ) => two_proportion_test(*s1, *n1, *s2, *n2, alternative),
        (
            Basis::Mean {
                n: n1,
                mean: m1,
                sd: sd1,
            },
            Basis::Mean {
                n: n2,
                mean: m2,
                sd: sd2,
            },
        ) => welch_test((*n1, *m1, *sd1), (*n2, *m2, *sd2), alternative),
        (
            Basis::Auc {
                value: a1,
                variance: v1,
                ..
            },
            Basis::Auc {
                value: a2,
                variance: v2,
                ..
            },
        ) => auc_test((*a1, *v1), (*a2, *v2), alternative),
        _ => None,
    }
}

fn sd_of(basis: &Basis) -> Option<f64> {
    match basis {
        Basis::Mean { sd, .. } => Some(*sd),
        _ => None,
    }
}

/// The tests of one population of a quality comparison.
fn quality_candidates(
    reference: &Summary,
    current: &Summary,
    label: &str,
    slice: Option<&str>,
    options: &AlarmOptions,
    out: &mut Vec<Candidate>,
) {
    for (metric, cur) in &current.basis {
        let Some(dir) = direction(metric) else {
            continue;
        };
        let Some(refb) = reference.basis.get(metric) else {
            continue;
        };
        let alternative = match dir {
            Direction::HigherBetter => Alternative::Less,
            Direction::LowerBetter => Alternative::Greater,
            Direction::Drift => Alternative::TwoSided,
        };
        let Some(result) = test(refb, cur, alternative) else {
            continue;
        };
        let (r, c) = (value_of(refb), value_of(cur));
        let change = c - r;
        let (large_enough, floor, kind, severity) = match dir {
            Direction::HigherBetter => (
                -change >= options.min_effect,
                json!({"min_drop": options.min_effect}),
                FindingKind::QualityDegraded,
                Severity::Error,
            ),
            Direction::LowerBetter => (
                r > 0.0 && change / r >= options.min_relative_effect,
                json!({"min_relative_rise": options.min_relative_effect}),
                FindingKind::QualityDegraded,
                Severity::Error,
            ),
            Direction::Drift => {
                let effect = if metric == names::MEAN_LABEL {
                    sd_of(refb)
                        .filter(|sd| *sd > 0.0)
                        .map_or(f64::INFINITY * change.abs(), |sd| change.abs() / sd)
                } else {
                    change.abs()
                };
                (
                    effect >= options.label_drift_min_effect,
                    json!({"min_change": options.label_drift_min_effect}),
                    FindingKind::LabelDrift,
                    Severity::Warning,
                )
            }
        };
        let place = slice.map(|s| format!(" in {s}")).unwrap_or_default();
        let explain = match kind {
            FindingKind::LabelDrift => {
                format!("{metric} of `{label}`{place} moved from {r:.4} to {c:.4} ({change:+.4})")
            }
            _ => format!("{metric}{place} degraded from {r:.4} to {c:.4} ({change:+.4})"),
        };
        out.push(Candidate {
            kind,
            severity,
            metric: metric.clone(),
            feature: (kind == FindingKind::LabelDrift).then(|| label.to_string()),
            slice: slice.map(str::to_string),
            reference: r,
            current: c,
            result,
            large_enough,
            floor,
            extra: json!({}),
            explain,
        });
    }
}

/// Adjusts the p-values together and keeps the significant, large enough ones.
fn decide(candidates: Vec<Candidate>, alpha: f64) -> Vec<Finding> {
    let ps: Vec<f64> = candidates.iter().map(|c| c.result.p_value).collect();
    let adjusted = benjamini_hochberg(&ps);
    candidates
        .into_iter()
        .zip(adjusted)
        .filter(|(c, q)| *q < alpha && c.large_enough)
        .map(|(c, q)| {
            let mut observed = json!({
                "metric": c.metric,
                "value": c.current,
                "reference": c.reference,
                "change": c.current - c.reference,
                "z": c.result.z,
                "p_value": c.result.p_value,
                "p_value_adjusted": q,
            });
            if let (Some(o), Some(extra)) = (observed.as_object_mut(), c.extra.as_object()) {
                o.extend(extra.clone());
            }
            let mut expected = json!({"alpha": alpha});
            if let (Some(e), Some(floor)) = (expected.as_object_mut(), c.floor.as_object()) {
                e.extend(floor.clone());
            }
            Finding {
                kind: c.kind,
                severity: c.severity,
                feature: c.feature,
                slice: c.slice,
                observed,
                expected,
                explanation: format!("{} (adjusted p = {})", c.explain, format_p(q)),
            }
        })
        .collect()
}

fn format_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// Findings of `current`'s quality against `reference`'s (see the module
/// docs). An error when the reports are of different tasks or positive
/// classes (their metrics do not compare).
pub fn compare_quality(
    reference: &QualityReport,
    current: &QualityReport,
    options: &AlarmOptions,
) -> Result<Vec<Finding>, QualityError> {
    if reference.task != current.task {
        return Err(QualityError::Spec(format!(
            "the reference is a {} task and the data a {} task",
            reference.task, current.task
        )));
    }
    if reference.task == Task::Binary && reference.positive_class != current.positive_class {
        return Err(QualityError::Spec(format!(
            "the reference's positive class is {:?} and the data's {:?}; name it (positive) on both",
            reference.positive_class, current.positive_class
        )));
    }
    let mut candidates = Vec::new();
    quality_candidates(
        &reference.summary,
        &current.summary,
        &current.label,
        None,
        options,
        &mut candidates,
    );
    for slice in &current.slices {
        if let Some(r) = reference.slices.iter().find(|r| r.slice == slice.slice) {
            quality_candidates(
                &r.summary,
                &slice.summary,
                &current.label,
                Some(&slice.slice),
                options,
                &mut candidates,
            );
        }
    }
    Ok(decide(candidates, options.alpha))
}

fn proportion(entry: &GroupEntry, metric: &str) -> Option<(u64, u64)> {
    match entry.basis.get(metric) {
        Some(Basis::Proportion { successes, trials }) if *trials > 0 => Some((*successes, *trials)),
        _ => None,
    }
}

/// Findings of `current`'s fairness against `reference`'s: label drift per
/// group and disparities that widened (see the module docs). Level alarms
/// are [`fairness_levels`].
pub fn compare_fairness(
    reference: &FairnessReport,
    current: &FairnessReport,
    options: &AlarmOptions,
) -> Result<Vec<Finding>, QualityError> {
    if reference.task != current.task {
        return Err(QualityError::Spec(format!(
            "the reference is a {} task and the data a {} task",
            reference.task, current.task
        )));
    }
    if reference.positive_class != current.positive_class {
        return Err(QualityError::Spec(format!(
            "the reference's positive class is {:?} and the data's {:?}; name it (positive) on both",
            reference.positive_class, current.positive_class
        )));
    }
    let mut candidates = Vec::new();
    let find = |key: &Key| reference.by_group.iter().find(|g| g.group == *key);
    // Label drift per judged group (and overall).
    let pairs = std::iter::once((&reference.overall, &current.overall)).chain(
        current
            .by_group
            .iter()
            .filter_map(|g| find(&g.group).map(|r| (r, g))),
    );
    for (r, c) in pairs {
        if r.insufficient || c.insufficient {
            continue;
        }
        let summary = |g: &GroupEntry| Summary {
            basis: g
                .basis
                .iter()
                .filter(|(k, _)| *k == names::BASE_RATE || *k == names::MEAN_LABEL)
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            ..Summary::default()
        };
        let slice = (!c.group.is_empty()).then(|| group_name(&c.group, &current.sensitive));
        quality_candidates(
            &summary(r),
            &summary(c),
            &current.label,
            slice.as_deref(),
            options,
            &mut candidates,
        );
    }
    // Disparities that widened, per grouping (same set of columns).
    if current.task == Task::Binary && (current.prediction.is_some() || current.threshold.is_some())
    {
        let mut groupings: Vec<Vec<&String>> = current
            .by_group
            .iter()
            .map(|g| g.group.keys().collect::<Vec<_>>())
            .collect();
        groupings.sort();
        groupings.dedup();
        for columns in groupings {
            let judged: Vec<&GroupEntry> = current
                .by_group
                .iter()
                .filter(|g| !g.insufficient && g.group.keys().collect::<Vec<_>>() == columns)
                .collect();
            for (metric, disparity) in [
                (names::SELECTION_RATE, names::DEMOGRAPHIC_PARITY_DIFFERENCE),
                (names::TPR, names::EQUAL_OPPORTUNITY_DIFFERENCE),
                (names::FPR, names::EQUALIZED_ODDS_DIFFERENCE),
            ] {
                let rated: Vec<(&GroupEntry, f64)> = judged
                    .iter()
                    .filter_map(|g| g.metrics.get(metric).map(|v| (*g, v)))
                    .collect();
                if rated.len() < 2 {
                    continue;
                }
                let hi = rated
                    .iter()
                    .fold(rated[0], |a, b| if b.1 > a.1 { *b } else { a });
                let lo = rated
                    .iter()
                    .fold(rated[0], |a, b| if b.1 < a.1 { *b } else { a });
                let (Some(rh), Some(rl)) = (find(&hi.0.group), find(&lo.0.group)) else {
                    continue;
                };
                if rh.insufficient || rl.insufficient {
                    continue;
                }
                let (Some(c1), Some(c2), Some(r1), Some(r2)) = (
                    proportion(hi.0, metric),
                    proportion(lo.0, metric),
                    proportion(rh, metric),
                    proportion(rl, metric),
                ) else {
                    continue;
                };
                let Some(result) = difference_change_test([r1, r2], [c1, c2], Alternative::Greater)
                else {
                    continue;
                };
                let now = hi.1 - lo.1;
                let before = r1.0 as f64 / r1.1 as f64 - r2.0 as f64 / r2.1 as f64;
                let change = now - before;
                let groups = format!(
                    "{} vs {}",
                    group_name(&hi.0.group, &current.sensitive),
                    group_name(&lo.0.group, &current.sensitive)
                );
                candidates.push(Candidate {
                    kind: FindingKind::DisparityChanged,
                    severity: Severity::Error,
                    metric: disparity.to_string(),
                    feature: Some(columns.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")),
                    slice: None,
                    reference: before,
                    current: now,
                    result,
                    large_enough: change >= options.disparity_min_change,
                    floor: json!({"min_change": options.disparity_min_change}),
                    extra: json!({"rate": metric, "groups": {"max": hi.0.group, "min": lo.0.group}}),
                    explain: format!(
                        "the {metric} gap between {groups} widened from {before:.4} to {now:.4} ({change:+.4})"
                    ),
                });
            }
        }
    }
    Ok(decide(candidates, options.alpha))
}

/// Opt-in level alarms on one fairness report: the four-fifths rule and an
/// absolute limit on the disparity differences.
pub fn fairness_levels(current: &FairnessReport, options: &AlarmOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut check = |feature: String, d: &super::report::Disparities| {
        if options.four_fifths
            && let Some(false) = d.four_fifths_rule
        {
            let ratio = d
                .values
                .get(names::DEMOGRAPHIC_PARITY_RATIO)
                .unwrap_or(f64::NAN);
            out.push(Finding {
                kind: FindingKind::DisparityLevel,
                severity: Severity::Error,
                feature: Some(feature.clone()),
                slice: None,
                observed: json!({"metric": names::DEMOGRAPHIC_PARITY_RATIO, "value": ratio}),
                expected: json!({"min": 0.8, "rule": "four_fifths"}),
                explanation: format!(
                    "the selection rate ratio across {feature} is {ratio:.3}, below the four-fifths rule's 0.8"
                ),
            });
        }
        if let Some(limit) = options.max_disparity {
            for (name, value) in d.values.iter() {
                let Some(value) = value else { continue };
                if name.ends_with("_difference") && value > limit {
                    out.push(Finding {
                        kind: FindingKind::DisparityLevel,
                        severity: Severity::Error,
                        feature: Some(feature.clone()),
                        slice: None,
                        observed: json!({"metric": name, "value": value, "interval": d.ci.get(name)}),
                        expected: json!({"max": limit}),
                        explanation: format!(
                            "{name} across {feature} is {value:.4}, above the limit {limit}"
                        ),
                    });
                }
            }
        }
    };
    check(current.sensitive.join(","), &current.disparities);
    for (column, d) in &current.disparities_by_column {
        check(column.clone(), d);
    }
    out
}
