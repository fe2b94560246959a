//! A notification's content, the same for every receiver: the model, the
//! window (id and time range), the check(s), the features and slices,
//! observed against expected for each finding, severity, the report link
//! and the route's runbook. Each receiver renders it its own way
//! (`receivers`); the wording shared by all of them is here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::finding::{AlertFinding, WindowRef};
use super::lifecycle::{Alert, Reason, Status};
use crate::checks::Severity;

/// One notification, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub status: Status,
    pub reason: Reason,
    pub fingerprint: String,
    pub route: String,
    pub model: String,
    pub window: WindowRef,
    /// The group's labels (`model` and the route's `group_by`).
    pub group: BTreeMap<String, String>,
    pub findings: Vec<AlertFinding>,
    /// When the alert started firing (its first window), RFC 3339.
    pub starts_at: String,
    /// When it resolved (resolved notifications), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    pub report_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
}

impl Notification {
    /// The notification of `alert` saying `status`.
    pub fn of(
        alert: &Alert,
        status: Status,
        reason: Reason,
        base_url: &str,
        runbook_url: Option<&str>,
    ) -> Self {
        Self {
            status,
            reason,
            fingerprint: alert.fingerprint.clone(),
            route: alert.route.clone(),
            model: alert.model.clone(),
            window: (*alert.window).clone(),
            group: alert.labels.clone(),
            findings: alert.findings.iter().map(|f| (**f).clone()).collect(),
            starts_at: super::silence::rfc3339(alert.started_ms),
            ends_at: alert.resolved_ms.map(super::silence::rfc3339),
            report_url: report_url(base_url, &alert.window.id),
            runbook_url: runbook_url.map(str::to_string),
        }
    }

    /// The highest severity among the findings.
    pub fn severity(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Warning)
    }

    /// The distinct values of a finding field, in first-seen order.
    fn distinct<'a>(&'a self, get: impl Fn(&'a AlertFinding) -> Option<&'a str>) -> Vec<&'a str> {
        let mut seen = BTreeSet::new();
        self.findings
            .iter()
            .filter_map(get)
            .filter(|v| seen.insert(*v))
            .collect()
    }

    /// The checks of the findings (one, usually: routes group by check by
    /// default).
    pub fn checks(&self) -> Vec<&str> {
        self.distinct(|f| Some(f.check.as_str()))
    }

    pub fn features(&self) -> Vec<&str> {
        self.distinct(|f| f.feature.as_deref())
    }

    pub fn slices(&self) -> Vec<&str> {
        self.distinct(|f| f.slice.as_deref())
    }

    /// What the findings are about: `income (+2 more)`, `the dataset`.
    pub fn subject_target(&self) -> String {
        let features = self.features();
        match features.split_first() {
            None => match self.slices().first() {
                Some(slice) => format!("slice {slice}"),
                None => "the dataset".to_string(),
            },
            Some((first, [])) => (*first).to_string(),
            Some((first, rest)) => format!("{first} (+{} more)", rest.len()),
        }
    }

    /// `[assay] FIRING credit: skew on income (+2 more)`.
    pub fn subject(&self) -> String {
        let status = match self.status {
            Status::Firing => "FIRING",
            Status::Resolved => "RESOLVED",
        };
        let test = if self.reason == Reason::Test {
            " (test)"
        } else {
            ""
        };
        format!(
            "[assay] {status}{test} {}: {} on {}",
            self.model,
            self.checks().join(", "),
            self.subject_target()
        )
    }

    /// One sentence: what, where, since when.
    pub fn summary(&self) -> String {
        let n = self.findings.len();
        match self.status {
            Status::Firing => format!(
                "{n} finding{} of {} on model {} in window {}",
                if n == 1 { "" } else { "s" },
                self.checks().join(", "),
                self.model,
                self.window.id
            ),
            Status::Resolved => format!(
                "{} on model {} resolved (last seen in window {})",
                self.checks().join(", "),
                self.model,
                self.window.id
            ),
        }
    }

    /// The window's time range: `2024-05-01T10:00:00.000Z – 10:01:00.000Z`.
    pub fn window_range(&self) -> String {
        format!("{} – {}", self.window.start, self.window.end)
    }

    /// The plain-text body: a header, then one block per finding.
    pub fn text(&self, limit: usize) -> String {
        let mut out = String::new();
        out.push_str(&format!("{}\n\n", self.summary()));
        out.push_str(&format!("Model:     {}\n", self.model));
        out.push_str(&format!(
            "Window:    {} ({})\n",
            self.window.id,
            self.window_range()
        ));
        out.push_str(&format!("Route:     {}\n", self.route));
        out.push_str(&format!("Severity:  {}\n", self.severity().as_str()));
        out.push_str(&format!("Since:     {}\n", self.starts_at));
        if let Some(ends) = &self.ends_at {
            out.push_str(&format!("Resolved:  {ends}\n"));
        }
        out.push_str(&format!("Report:    {}\n", self.report_url));
        if let Some(runbook) = &self.runbook_url {
            out.push_str(&format!("Runbook:   {runbook}\n"));
        }
        out.push_str(&format!("Alert:     {}\n", self.fingerprint));
        let label = match self.status {
            Status::Firing => "Findings",
            Status::Resolved => "Findings when last seen",
        };
        out.push_str(&format!("\n{label} ({}):\n", self.findings.len()));
        for f in self.findings.iter().take(limit) {
            out.push_str(&format!(
                "- [{}] {} {}{}{}: {}\n  {}\n",
                f.severity.as_str(),
                f.check,
                f.kind,
                f.feature
                    .as_deref()
                    .map(|x| format!(" on {x}"))
                    .unwrap_or_default(),
                f.slice
                    .as_deref()
                    .map(|s| format!(" (slice {s})"))
                    .unwrap_or_default(),
                f.observed_vs_expected(),
                f.explanation
            ));
        }
        if self.findings.len() > limit {
            out.push_str(&format!(
                "… and {} more (see the report)\n",
                self.findings.len() - limit
            ));
        }
        out
    }

    /// The HTML body: the same, with a table of the findings.
    pub fn html(&self, limit: usize) -> String {
        let e = escape;
        let colour = match self.status {
            Status::Firing => "#b00020",
            Status::Resolved => "#1b5e20",
        };
        let mut out = String::from(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\
             <body style=\"font-family: sans-serif\">\n",
        );
        out.push_str(&format!(
            "<h2 style=\"color: {colour}\">{}</h2>\n<p>{}</p>\n<table cellpadding=\"4\">\n",
            e(&self.subject()),
            e(&self.summary())
        ));
        let mut row = |k: &str, v: String| {
            out.push_str(&format!(
                "<tr><th align=\"left\">{k}</th><td>{v}</td></tr>\n"
            ));
        };
        row("Model", e(&self.model));
        row(
            "Window",
            format!("{} ({})", e(&self.window.id), e(&self.window_range())),
        );
        row("Route", e(&self.route));
        row("Severity", e(self.severity().as_str()));
        row("Since", e(&self.starts_at));
        if let Some(ends) = &self.ends_at {
            row("Resolved", e(ends));
        }
        row(
            "Report",
            format!(
                "<a href=\"{}\">{}</a>",
                e(&self.report_url),
                e(&self.report_url)
            ),
        );
        if let Some(runbook) = &self.runbook_url {
            row(
                "Runbook",
                format!("<a href=\"{}\">{}</a>", e(runbook), e(runbook)),
            );
        }
        row("Alert", e(&self.fingerprint));
        out.push_str("</table>\n");
        out.push_str(&format!(
            "<h3>Findings ({})</h3>\n<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">\n\
             <tr><th>Severity</th><th>Check</th><th>Kind</th><th>Feature</th><th>Slice</th>\
             <th>Observed vs expected</th><th>Explanation</th></tr>\n",
            self.findings.len()
        ));
        for f in self.findings.iter().take(limit) {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                e(f.severity.as_str()),
                e(f.check.as_str()),
                e(&f.kind),
                e(f.feature.as_deref().unwrap_or("—")),
                e(f.slice.as_deref().unwrap_or("—")),
                e(&f.observed_vs_expected()),
                e(&f.explanation)
            ));
        }
        out.push_str("</table>\n");
        if self.findings.len() > limit {
            out.push_str(&format!(
                "<p>… and {} more: see the report.</p>\n",
                self.findings.len() - limit
            ));
        }
        out.push_str("</body></html>\n");
        out
    }
}

/// The page of a window's report (`BASE/ui/reports/ID`): what a person
/// following the link wants; the JSON stays at `/v1/reports/ID`.
pub fn report_url(base_url: &str, window: &str) -> String {
    format!("{}/ui/reports/{window}", base_url.trim_end_matches('/'))
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alerts::config::AlertCheck;
    use serde_json::json;

    pub(crate) fn sample(features: &[&str]) -> Notification {
        Notification {
            status: Status::Firing,
            reason: Reason::Fired,
            fingerprint: "0123456789abcdef".into(),
            route: "oncall".into(),
            model: "credit".into(),
            window: WindowRef {
                model: "credit".into(),
                id: "credit-000042".into(),
                start: "2024-05-01T10:00:00.000Z".into(),
                end: "2024-05-01T10:01:00.000Z".into(),
            },
            group: [("model", "credit"), ("check", "skew")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            findings: features
                .iter()
                .map(|f| AlertFinding {
                    check: AlertCheck::Skew,
                    kind: "feature_skew".into(),
                    severity: Severity::Error,
                    feature: Some(f.to_string()),
                    slice: None,
                    observed: json!({"method": "wasserstein", "statistic": 0.52}),
                    expected: json!({"method": "wasserstein", "threshold": 0.1}),
                    explanation: format!("{f} <moved> & more"),
                })
                .collect(),
            starts_at: "2024-05-01T10:01:00.000Z".into(),
            ends_at: None,
            report_url: "http://assay:9464/ui/reports/credit-000042".into(),
            runbook_url: Some("https://runbooks.example/skew".into()),
        }
    }

    #[test]
    fn subject_names_status_model_check_and_features() {
        let n = sample(&["income", "age", "debt"]);
        assert_eq!(
            n.subject(),
            "[assay] FIRING credit: skew on income (+2 more)"
        );
        let one = sample(&["income"]);
        assert_eq!(one.subject(), "[assay] FIRING credit: skew on income");
        let mut none = sample(&[]);
        none.status = Status::Resolved;
        assert_eq!(none.subject(), "[assay] RESOLVED credit:  on the dataset");
    }

    #[test]
    fn bodies_hold_everything_and_html_is_escaped() {
        let n = sample(&["income", "age"]);
        let text = n.text(50);
        for want in [
            "credit-000042",
            "2024-05-01T10:00:00.000Z – 2024-05-01T10:01:00.000Z",
            "wasserstein: 0.5200 (threshold 0.1000)",
            "on income",
            "http://assay:9464/ui/reports/credit-000042",
            "https://runbooks.example/skew",
            "Severity:  error",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        let html = n.html(50);
        assert!(html.contains("income &lt;moved&gt; &amp; more"));
        assert!(!html.contains("<moved>"));
        assert!(html.contains("<a href=\"http://assay:9464/ui/reports/credit-000042\">"));
        let long = sample(&["a", "b", "c"]).text(2);
        assert!(long.contains("… and 1 more"));
    }
}
