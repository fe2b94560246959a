//! `type = "alertmanager"`: Alertmanager's API v2, `POST
//! /api/v2/alerts` with one alert, as Prometheus posts them.
//!
//! Labels: `alertname` (`AssaySkew`, `AssayDrift`, … for a group of one
//! check, `AssayFindings` otherwise), `model`, `check` and `severity`, the
//! route's group labels, `route`, and `feature` or `slice` when the group
//! has exactly one. Together they tell the alerts of different groups
//! apart (Alertmanager identifies an alert by its labels). Annotations:
//! `summary`, `description`, `runbook_url` (when the route sets one);
//! `generatorURL` is the window's report.
//!
//! A firing alert is posted with `endsAt` four `resend_interval`s ahead
//! and posted again every `resend_interval` while it fires, as
//! Alertmanager expects of a client (it resolves an alert nobody re-posts:
//! if the daemon stops, its alerts resolve there). A resolved alert is
//! posted with `endsAt` = when it resolved.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::webhook::{http_client, post};
use super::{DeliveryError, rfc3339};
use crate::alerts::config::AlertmanagerConfig;
use crate::alerts::lifecycle::Status;
use crate::alerts::notification::Notification;
use crate::alerts::outbox::Entry;

/// Findings in an alert's `description`.
const LISTED: usize = 20;

pub struct AlertmanagerReceiver {
    client: reqwest::Client,
    url: String,
    resend_interval: Duration,
}

impl AlertmanagerReceiver {
    pub fn new(config: &AlertmanagerConfig, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            client: http_client(timeout)?,
            url: format!("{}/api/v2/alerts", config.url.trim_end_matches('/')),
            resend_interval: config.resend_interval,
        })
    }

    pub async fn deliver(&self, entry: &Entry, sent_ms: i64) -> Result<(), DeliveryError> {
        let body = json!([alert_json(
            &entry.notification,
            sent_ms,
            self.resend_interval
        )]);
        post(
            self.client
                .post(&self.url)
                .header("Content-Type", "application/json")
                .header("X-Assay-Delivery", &entry.delivery_id)
                .body(serde_json::to_vec(&body).unwrap_or_default()),
        )
        .await
    }
}

/// `AssaySkew`, `AssayPredictionDrift`; `AssayFindings` for several checks.
pub fn alertname(n: &Notification) -> String {
    match n.checks().as_slice() {
        [one] => format!(
            "Assay{}",
            one.split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect::<String>())
                        .unwrap_or_default()
                })
                .collect::<String>()
        ),
        _ => "AssayFindings".to_string(),
    }
}

/// One alert of the API v2 (`postableAlert`).
pub fn alert_json(n: &Notification, sent_ms: i64, resend_interval: Duration) -> Value {
    let mut labels = Map::new();
    for (k, v) in &n.group {
        labels.insert(k.clone(), json!(v));
    }
    labels.insert("alertname".into(), json!(alertname(n)));
    labels.insert("model".into(), json!(n.model));
    labels.insert("route".into(), json!(n.route));
    labels.insert("severity".into(), json!(n.severity().as_str()));
    if let [check] = n.checks().as_slice() {
        labels.insert("check".into(), json!(check));
    }
    if let [feature] = n.features().as_slice() {
        labels.insert("feature".into(), json!(feature));
    }
    if let [slice] = n.slices().as_slice() {
        labels.insert("slice".into(), json!(slice));
    }
    // Alertmanager refuses empty label values: a group label with none
    // (a dataset-level finding's feature) is left out.
    labels.retain(|_, v| v.as_str().is_some_and(|s| !s.is_empty()));
    let mut description = String::new();
    for f in n.findings.iter().take(LISTED) {
        description.push_str(&format!(
            "{} {}{}{}: {}. ",
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
            f.observed_vs_expected()
        ));
    }
    if n.findings.len() > LISTED {
        description.push_str(&format!("… and {} more.", n.findings.len() - LISTED));
    }
    let mut annotations = Map::new();
    annotations.insert("summary".into(), json!(n.subject()));
    annotations.insert(
        "description".into(),
        json!(format!(
            "{} (window {}, {}). {}",
            n.summary(),
            n.window.id,
            n.window_range(),
            description.trim()
        )),
    );
    if let Some(runbook) = &n.runbook_url {
        annotations.insert("runbook_url".into(), json!(runbook));
    }
    let ends_at = match n.status {
        Status::Firing => rfc3339(sent_ms + 4 * resend_interval.as_millis() as i64),
        Status::Resolved => n.ends_at.clone().unwrap_or_else(|| rfc3339(sent_ms)),
    };
    json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": n.starts_at,
        "endsAt": ends_at,
        "generatorURL": n.report_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notification::tests::sample;

    #[test]
    fn labels_name_the_group_and_its_only_feature() {
        let n = sample(&["income"]);
        let a = alert_json(&n, 1_700_000_000_000, Duration::from_secs(60));
        assert_eq!(a["labels"]["alertname"], "AssaySkew");
        assert_eq!(a["labels"]["model"], "credit");
        assert_eq!(a["labels"]["check"], "skew");
        assert_eq!(a["labels"]["severity"], "error");
        assert_eq!(a["labels"]["feature"], "income");
        assert_eq!(a["labels"]["route"], "oncall");
        assert_eq!(a["generatorURL"], n.report_url);
        assert_eq!(
            a["annotations"]["runbook_url"],
            "https://runbooks.example/skew"
        );
        assert_eq!(a["endsAt"], "2023-11-14T22:17:20.000Z");
        let two = alert_json(&sample(&["income", "age"]), 0, Duration::from_secs(60));
        assert!(two["labels"].get("feature").is_none());
        let mut resolved = sample(&["x"]);
        resolved.status = Status::Resolved;
        resolved.ends_at = Some("2024-05-01T11:00:00.000Z".into());
        assert_eq!(
            alert_json(&resolved, 0, Duration::from_secs(60))["endsAt"],
            "2024-05-01T11:00:00.000Z"
        );
    }

    #[test]
    fn alertnames_are_camel_case() {
        let mut n = sample(&["x"]);
        n.findings[0].check = crate::alerts::config::AlertCheck::PredictionDrift;
        assert_eq!(alertname(&n), "AssayPredictionDrift");
        n.findings.push(sample(&["y"]).findings[0].clone());
        assert_eq!(alertname(&n), "AssayFindings");
    }
}
