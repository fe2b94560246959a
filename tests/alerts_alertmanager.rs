//! Alerts to a REAL Alertmanager (Debian's `prometheus-alertmanager`,
//! started by the test with a minimal config): the daemon closes a window
//! with a finding, the alert appears in `GET /api/v2/alerts` with assay's
//! labels and annotations, stays while it fires (re-posted every
//! `resend_interval`), and is resolved after a clean window.
//!
//! Needs prometheus-alertmanager (installed by .ci/run); fails without it
//! unless ASSAY_SKIP_ALERT_SERVERS=1.

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::time::{Duration, Instant};

use alerts::{Alertmanager, toy_batch, toy_model};
use daemon::Daemon;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn assay_alert(alerts: &[Value]) -> Option<&Value> {
    alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "AssaySchema")
}

fn resolved(alerts: &[Value]) -> bool {
    match assay_alert(alerts) {
        None => true,
        Some(a) => {
            let ends = chrono::DateTime::parse_from_rfc3339(a["endsAt"].as_str().unwrap()).unwrap();
            ends <= chrono::Utc::now()
        }
    }
}

#[test]
fn alertmanager_sees_the_alert_firing_then_resolved() {
    if !alerts::require(
        alerts::alertmanager_available(),
        "prometheus-alertmanager",
        "prometheus-alertmanager",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(dir.path());
    let config = dir.path().join("assay.toml");
    std::fs::write(
        &config,
        format!(
            r#"{}
[alerts]
base_url = "http://assay.example:9464"

[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "500ms"

[[alerts.receivers]]
name = "am"
type = "alertmanager"
url = "{}"
resend_interval = "2s"

[[alerts.routes]]
name = "pager"
receivers = ["am"]
runbook_url = "https://runbooks.example/schema"
"#,
            toy_model(dir.path(), 50),
            am.url()
        ),
    )
    .unwrap();
    let d = Daemon::start(&config, &dir.path().join("state"));
    let (status, body) = d.post(
        "/v1/batches",
        "application/json",
        &toy_batch(50, true),
        None,
    );
    assert_eq!(status, 200, "{body}");

    let alerts = am.wait_for(WAIT, |a| assay_alert(a).is_some());
    let alert = assay_alert(&alerts)
        .unwrap_or_else(|| panic!("no alert in Alertmanager: {alerts:?}\n{}", d.log()));
    assert_eq!(alert["status"]["state"], "active");
    let labels = &alert["labels"];
    assert_eq!(labels["model"], "toy");
    assert_eq!(labels["check"], "schema");
    assert_eq!(labels["severity"], "error");
    assert_eq!(labels["feature"], "color");
    assert_eq!(labels["route"], "pager");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("[assay] FIRING toy: schema on color")
    );
    assert!(
        alert["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("out_of_domain")
    );
    assert_eq!(
        alert["annotations"]["runbook_url"],
        "https://runbooks.example/schema"
    );
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap()
            .starts_with("http://assay.example:9464/ui/reports/toy-")
    );
    let first_ends = alert["endsAt"].as_str().unwrap().to_string();

    // Still firing after several resend intervals: re-posted, endsAt moves.
    std::thread::sleep(Duration::from_secs(5));
    let alerts = am.alerts();
    let alert = assay_alert(&alerts).expect("the alert is still there");
    assert_eq!(alert["status"]["state"], "active");
    assert!(
        alert["endsAt"].as_str().unwrap() > first_ends.as_str(),
        "not re-posted"
    );

    // A clean window resolves it.
    let (status, _) = d.post(
        "/v1/batches",
        "application/json",
        &toy_batch(50, false),
        None,
    );
    assert_eq!(status, 200);
    let started = Instant::now();
    let alerts = am.wait_for(WAIT, resolved);
    assert!(
        resolved(&alerts),
        "not resolved in Alertmanager after {:?}: {alerts:?}",
        started.elapsed()
    );
    let (_, metrics) = d.get("/metrics", None);
    assert!(
        metrics.contains("assay_notifications_total{outcome=\"sent\",receiver=\"am\"}"),
        "{metrics}"
    );
}
