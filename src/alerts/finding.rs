//! What alerts consume: a closed window's findings, each with the check it
//! came from. Built from the checks' own reports (`checks::Finding`s of the
//! schema, skew and drift, failed expectations of the window's suite), live
//! from the closed window or, after a restart, from its report file, the
//! same way. Nothing here reaches back into the checks.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::config::AlertCheck;
use crate::checks::compare::ComparisonReport;
use crate::checks::{Finding, FindingKind, Severity};
use crate::expectations::SuiteResult;
use crate::validation::ValidationReport;

/// A closed window, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRef {
    pub model: String,
    pub id: String,
    /// RFC 3339.
    pub start: String,
    pub end: String,
}

/// One finding, in the shape every receiver renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertFinding {
    pub check: AlertCheck,
    /// The finding kind (`out_of_domain`, `feature_skew`) or, for a failed
    /// expectation, its type (`expect_column_mean_to_be_between`).
    pub kind: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
    pub observed: Value,
    pub expected: Value,
    /// One line a person reads.
    pub explanation: String,
}

impl AlertFinding {
    /// The finding's value of a group label (`""` when it has none: a
    /// dataset-level finding has no feature).
    pub fn label(&self, label: super::config::GroupLabel) -> &str {
        use super::config::GroupLabel::*;
        match label {
            Model => "",
            Check => self.check.as_str(),
            Severity => self.severity.as_str(),
            Kind => &self.kind,
            Feature => self.feature.as_deref().unwrap_or(""),
            Slice => self.slice.as_deref().unwrap_or(""),
        }
    }

    /// Observed against expected, as one short phrase:
    /// "wasserstein 0.52 ≥ threshold 0.1", "12.5% outside the domain".
    pub fn observed_vs_expected(&self) -> String {
        let method = self.observed["method"]
            .as_str()
            .or(self.expected["method"].as_str());
        let statistic = self.observed["statistic"].as_f64();
        let threshold = self.expected["threshold"].as_f64();
        if let (Some(method), Some(statistic), Some(threshold)) = (method, statistic, threshold) {
            let p = self.observed["p_value_adjusted"]
                .as_f64()
                .or(self.observed["p_value"].as_f64());
            return match p {
                Some(p) => format!(
                    "{method}: p = {} (threshold {}), statistic {}",
                    short(p),
                    short(threshold),
                    short(statistic)
                ),
                None => format!(
                    "{method}: {} (threshold {})",
                    short(statistic),
                    short(threshold)
                ),
            };
        }
        let text = |v: &Value| match v {
            Value::Null => "—".to_string(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), short),
            other => {
                let s = other.to_string();
                if s.chars().count() > 80 {
                    format!("{}…", s.chars().take(80).collect::<String>())
                } else {
                    s
                }
            }
        };
        format!(
            "observed {}, expected {}",
            text(&self.observed),
            text(&self.expected)
        )
    }
}

/// A number with about 4 significant digits.
fn short(x: f64) -> String {
    crate::checks::compare::short(x)
}

/// Which evaluations a set of findings belongs to. A model's closed
/// windows are evaluated in order, each once; the quality and fairness of
/// a window come later, when its labels make it final (windows turn final
/// out of order), and are evaluated as a stream of their own: an alert of
/// one stream is present or absent only by the evaluations of its stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStream {
    /// Closed windows: schema, expectations, skew, drift.
    #[default]
    Windows,
    /// Windows whose quality turned final: quality, fairness.
    Quality,
}

/// A closed window's findings for the alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowFindings {
    pub window: WindowRef,
    /// The window's sequence number within its model (windows are
    /// evaluated in this order, each once).
    pub seq: u64,
    /// When the window closed (ms since the epoch): the notifications'
    /// latency is counted from here.
    pub closed_ms: i64,
    pub findings: Vec<AlertFinding>,
    #[serde(default)]
    pub stream: FindingStream,
}

impl WindowFindings {
    /// From the checks' reports of a closed window.
    pub fn from_reports(
        window: WindowRef,
        seq: u64,
        closed_ms: i64,
        validation: &ValidationReport,
        skew: Option<&ComparisonReport>,
        drift: Option<&ComparisonReport>,
    ) -> Self {
        let mut findings = Vec::new();
        if let Some(schema) = &validation.schema {
            findings.extend(
                schema
                    .findings
                    .iter()
                    .map(|f| from_finding(AlertCheck::Schema, f)),
            );
        }
        if let Some(suite) = &validation.suite {
            findings.extend(suite_findings(suite));
        }
        for (check, report) in [(AlertCheck::Skew, skew), (AlertCheck::Drift, drift)] {
            if let Some(report) = report {
                findings.extend(report.findings().iter().map(|f| from_finding(check, f)));
            }
        }
        Self {
            window,
            seq,
            closed_ms,
            findings,
            stream: FindingStream::Windows,
        }
    }

    /// A window whose quality turned final (at `final_ms`): its quality
    /// and fairness findings (`quality::compare`'s), checks `quality` and
    /// `fairness`.
    pub fn from_quality(
        window: WindowRef,
        seq: u64,
        final_ms: i64,
        quality: &[Finding],
        fairness: &[Finding],
    ) -> Self {
        let findings = quality
            .iter()
            .map(|f| from_finding(AlertCheck::Quality, f))
            .chain(
                fairness
                    .iter()
                    .map(|f| from_finding(AlertCheck::Fairness, f)),
            )
            .collect();
        Self {
            window,
            seq,
            closed_ms: final_ms,
            findings,
            stream: FindingStream::Quality,
        }
    }

    /// From a window's report file (`reports/ID.json`, the daemon's
    /// `WindowReport`): the same findings [`WindowFindings::from_reports`]
    /// gives for the window, for windows closed while the alerts were not
    /// told (a crash between the close and their evaluation).
    pub fn from_report_json(report: &Value, seq: u64, closed_ms: i64) -> Result<Self, String> {
        let text = |key: &str| {
            report[key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("the report has no `{key}`"))
        };
        let window = WindowRef {
            model: text("model")?,
            id: text("id")?,
            start: text("start")?,
            end: report["end"].as_str().unwrap_or_default().to_string(),
        };
        let parse = |value: &Value| -> Result<Vec<Finding>, String> {
            match value {
                Value::Null => Ok(Vec::new()),
                v => serde_json::from_value(v.clone()).map_err(|e| e.to_string()),
            }
        };
        let validation = &report["validation"];
        let mut findings: Vec<AlertFinding> = parse(&validation["schema_findings"])?
            .iter()
            .map(|f| from_finding(AlertCheck::Schema, f))
            .collect();
        if validation["results"].is_array() {
            let suite: SuiteResult =
                serde_json::from_value(validation.clone()).map_err(|e| e.to_string())?;
            findings.extend(suite_findings(&suite));
        }
        for (check, key) in [(AlertCheck::Skew, "skew"), (AlertCheck::Drift, "drift")] {
            findings.extend(
                parse(&report[key]["findings"])?
                    .iter()
                    .map(|f| from_finding(check, f)),
            );
        }
        Ok(Self {
            window,
            seq,
            closed_ms,
            findings,
            stream: FindingStream::Windows,
        })
    }
}

/// The alert check of a `checks::Finding` reported by `check` (schema,
/// skew or drift): the model's outputs moving is `prediction_drift`.
fn from_finding(check: AlertCheck, f: &Finding) -> AlertFinding {
    let check = match f.kind {
        FindingKind::PredictionSkew | FindingKind::PredictionDrift => AlertCheck::PredictionDrift,
        _ => check,
    };
    AlertFinding {
        check,
        kind: f.kind.as_str().to_string(),
        severity: f.severity,
        feature: f.feature.clone(),
        slice: f.slice.clone(),
        observed: f.observed.clone(),
        expected: f.expected.clone(),
        explanation: f.explanation.clone(),
    }
}

/// Failed expectations as findings (severity `error`, as the metrics count
/// them): the column it is about, what was observed, the expectation's
/// arguments as what was expected.
fn suite_findings(suite: &SuiteResult) -> Vec<AlertFinding> {
    suite
        .results
        .iter()
        .filter(|r| !r.success)
        .map(|r| {
            let config = &r.expectation_config;
            let feature = config.kwargs.get("column").and_then(Value::as_str);
            let mut expected = config.kwargs.clone();
            expected.remove("column");
            expected.remove("result_format");
            let observed = r
                .result
                .get("observed_value")
                .cloned()
                .or_else(|| {
                    r.result
                        .get("unexpected_percent")
                        .map(|p| json!({"unexpected_percent": p}))
                })
                .unwrap_or(Value::Null);
            let explanation = if r.exception_info.raised_exception {
                format!(
                    "{} raised: {}",
                    config.type_name,
                    r.exception_info
                        .exception_message
                        .as_deref()
                        .unwrap_or("an error")
                )
            } else {
                format!(
                    "{} failed{}",
                    config.type_name,
                    feature.map(|c| format!(" on {c}")).unwrap_or_default()
                )
            };
            AlertFinding {
                check: AlertCheck::Expectations,
                kind: config.type_name.clone(),
                severity: Severity::Error,
                feature: feature.map(str::to_string),
                slice: None,
                observed,
                expected: Value::Object(expected),
                explanation,
            }
        })
        .collect()
}
