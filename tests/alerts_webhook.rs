//! Alerts to a REAL HTTP server on loopback (axum, in the test): signed
//! webhooks in assay's format and Slack's, and what the outbox promises —
//! nothing lost through a receiver outage, one notification per group,
//! no storm from a flapping finding, dead letters kept, a full outbox
//! counted. The alerts run as the daemon runs them (`AlertService`: the
//! engine thread, the outbox on disk, a delivery task per receiver); the
//! windows' findings are handed over directly.

#[path = "common/alert_service.rs"]
mod alert_service;
#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::time::Duration;

use alert_service::{Service, skew};
use alerts::Hook;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn webhook(url: &str, extra: &str) -> String {
    format!(
        r#"
[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "300ms"

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "{url}"
secret_env = "ASSAY_TEST_WEBHOOK_SECRET"
{extra}

[[alerts.routes]]
receivers = ["hook"]
"#
    )
}

fn set_secret() {
    // SAFETY: every test of this file sets the same value.
    unsafe { std::env::set_var("ASSAY_TEST_WEBHOOK_SECRET", "s3cr3t-hook-key") };
}

#[test]
fn signed_webhooks_say_firing_then_resolved_with_everything_in_them() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some("s3cr3t-hook-key"));
    let s = Service::start(dir.path(), &webhook(&hook.url(), ""));
    s.window(1, vec![skew("income"), skew("age")]);
    s.window(2, vec![]);
    let got = hook.wait_for(WAIT, |r| r.len() >= 2);
    assert_eq!(got.len(), 2, "{got:?}");
    let now = assay::alerts::now_ms() / 1000;
    for r in &got {
        assert!(r.signature_ok, "bad signature {:?}", r.signature);
        let ts: i64 = r.timestamp.parse().unwrap();
        assert!((now - ts).abs() < 60, "timestamp {ts} vs now {now}");
        assert_eq!(r.body["delivery_id"], r.delivery_id.as_str());
        assert_eq!(r.body["version"], 1);
        assert_eq!(r.body["model"], "toy");
        assert_eq!(r.body["group"]["model"], "toy");
        assert_eq!(r.body["group"]["check"], "skew");
        assert!(r.body["sent_at"].as_str().unwrap().ends_with('Z'));
    }
    let (firing, resolved) = (&got[0].body, &got[1].body);
    assert_eq!(firing["status"], "firing");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(firing["fingerprint"], resolved["fingerprint"]);
    assert_ne!(got[0].delivery_id, got[1].delivery_id);
    assert_eq!(firing["window"]["id"], "toy-000001");
    assert_eq!(
        firing["report_url"],
        "http://assay.test:9464/ui/reports/toy-000001"
    );
    let features: Vec<&str> = firing["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(features, ["income", "age"]);
    assert_eq!(firing["findings"][0]["expected"]["threshold"], 0.1);
    assert_eq!(firing["findings"][0]["check"], "skew");
    assert!(resolved["ends_at"].is_string());
    // The receiver answered before the sender counted and told the
    // engine: wait for the count, then for the engine.
    let sent = "assay_notifications_total{outcome=\"sent\",receiver=\"hook\"}";
    let deadline = std::time::Instant::now() + WAIT;
    while s.metric(sent) < 2.0 {
        assert!(std::time::Instant::now() < deadline, "not counted as sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.service.flush();
    // The alert lists both deliveries' receiver status.
    let listed = s.service.alerts_json();
    let alert = &listed["alerts"][0];
    assert_eq!(alert["state"], "resolved");
    let deliveries = &alert["deliveries"]["hook"];
    assert_eq!(deliveries["delivery_id"], got[1].delivery_id.as_str());
    assert_eq!(s.metric(sent), 2.0);
}

#[test]
fn slack_format_has_text_and_blocks() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some("s3cr3t-hook-key"));
    let s = Service::start(dir.path(), &webhook(&hook.url(), "format = \"slack\""));
    s.window(1, vec![skew("income")]);
    let got = hook.wait_for(WAIT, |r| !r.is_empty());
    let body = &got[0].body;
    assert!(got[0].signature_ok);
    assert_eq!(
        body["text"],
        ":rotating_light: [assay] FIRING toy: skew on income"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        body.to_string()
            .contains("<http://assay.test:9464/ui/reports/toy-000001|Report>")
    );
}

#[test]
fn a_receiver_down_while_an_alert_fires_and_resolves_gets_everything_after() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let port = daemon::free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let s = Service::start(dir.path(), &webhook(&url, ""));
    // Fires, resolves, fires again and resolves while nothing listens.
    s.window(1, vec![skew("income")]);
    s.window(2, vec![]);
    s.window(3, vec![skew("age")]);
    s.window(4, vec![]);
    assert_eq!(s.service.queue_depth("hook"), 4);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        s.metric("assay_notifications_total{outcome=\"failed_attempt\",receiver=\"hook\"}") >= 2.0
    );
    let waiting: Vec<_> = std::fs::read_dir(s.state.join("alerts/outbox/hook"))
        .unwrap()
        .collect();
    assert_eq!(waiting.len(), 4, "the outbox holds them on disk");
    // The receiver comes back on its port.
    let back_unix = alerts::unix_now();
    let hook = Hook::start(port, Some("s3cr3t-hook-key"));
    let got = hook.wait_for(WAIT, |r| r.len() >= 4);
    let statuses: Vec<&str> = got
        .iter()
        .map(|r| r.body["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["firing", "resolved", "firing", "resolved"],
        "in order"
    );
    let counts = hook.counts();
    assert_eq!(counts.len(), 4, "four distinct delivery ids: {counts:?}");
    assert!(got.iter().all(|r| r.signature_ok));
    // Each attempt is signed with its own time, not the time it was
    // queued (1.5 s before): a receiver refusing old timestamps (replays)
    // still takes notifications held through an outage.
    for r in &got {
        let ts: i64 = r.timestamp.parse().unwrap();
        assert!(
            ts >= back_unix && ts <= r.received_unix,
            "X-Assay-Timestamp {ts}: not the attempt's time (receiver back at {back_unix}, received at {})",
            r.received_unix
        );
    }
    assert_eq!(got[0].body["findings"][0]["feature"], "income");
    assert_eq!(got[2].body["findings"][0]["feature"], "age");
    assert!(
        hook.wait_for(Duration::from_secs(2), |_| false).len() == 4,
        "nothing more"
    );
    assert_eq!(s.service.queue_depth("hook"), 0);
    assert_eq!(
        s.metric("assay_notifications_total{outcome=\"sent\",receiver=\"hook\"}"),
        4.0
    );
    assert_eq!(
        s.metric("assay_notifications_total{outcome=\"dead_lettered\",receiver=\"hook\"}"),
        0.0
    );
}

#[test]
fn a_thousand_features_drifting_at_once_make_one_notification_per_group() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some("s3cr3t-hook-key"));
    let s = Service::start(dir.path(), &webhook(&hook.url(), ""));
    let findings = (0..1000)
        .map(|i| skew(&format!("feature_{i:04}")))
        .collect();
    s.window(1, findings);
    let got = hook.wait_for(WAIT, |r| !r.is_empty());
    std::thread::sleep(Duration::from_secs(1));
    let got = if got.len() == 1 { hook.received() } else { got };
    assert_eq!(
        got.len(),
        1,
        "one notification for the group (model, check)"
    );
    assert_eq!(got[0].body["findings"].as_array().unwrap().len(), 1000);
    assert!(got[0].signature_ok);
}

#[test]
fn a_flapping_finding_makes_no_storm() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some("s3cr3t-hook-key"));
    let routes = r#"
[[alerts.routes]]
name = "steady"
receivers = ["hook"]
for_windows = 2
resolve_after_windows = 2
"#;
    let config =
        webhook(&hook.url(), "").replace("[[alerts.routes]]\nreceivers = [\"hook\"]\n", routes);
    let s = Service::start(dir.path(), &config);
    // Present, absent, present, … for 30 windows: never 2 in a row.
    for seq in 1..=30 {
        let findings = if seq % 2 == 1 {
            vec![skew("income")]
        } else {
            vec![]
        };
        s.window(seq, findings);
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(hook.received().is_empty(), "{:?}", hook.received());
    // Then steadily present: one firing; then steadily absent: one resolved.
    for seq in 31..=40 {
        s.window(seq, vec![skew("income")]);
    }
    for seq in 41..=50 {
        s.window(seq, vec![]);
    }
    let got = hook.wait_for(WAIT, |r| r.len() >= 2);
    std::thread::sleep(Duration::from_secs(1));
    let statuses: Vec<String> = hook
        .received()
        .iter()
        .map(|r| r.body["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"], "{got:?}");
}

#[test]
fn refused_and_expired_notifications_are_dead_lettered_and_kept() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some("s3cr3t-hook-key"));
    hook.state
        .status
        .store(400, std::sync::atomic::Ordering::SeqCst);
    let config = webhook(&hook.url(), "").replace(
        "max_backoff = \"300ms\"",
        "max_backoff = \"300ms\"\nmax_age = \"2s\"",
    );
    let s = Service::start(dir.path(), &config);
    // 400: refused, dead at once.
    s.window(1, vec![skew("income")]);
    hook.wait_for(WAIT, |r| !r.is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hook.received().len(), 1, "a 400 is not retried");
    // 503: retried until max_age, then dead.
    hook.state
        .status
        .store(503, std::sync::atomic::Ordering::SeqCst);
    s.window(2, vec![]);
    let deadline = std::time::Instant::now() + WAIT;
    while s.metric("assay_notifications_total{outcome=\"dead_lettered\",receiver=\"hook\"}") < 2.0 {
        assert!(std::time::Instant::now() < deadline, "not dead-lettered");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(hook.received().len() >= 3, "the 503 was retried");
    let dead: Vec<Value> = std::fs::read_dir(s.state.join("alerts/dead/hook"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(dead.len(), 2);
    let errors: Vec<&str> = dead.iter().map(|d| d["error"].as_str().unwrap()).collect();
    assert!(
        errors.iter().any(|e| e.starts_with("HTTP 400")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("HTTP 503")),
        "{errors:?}"
    );
    assert_eq!(s.service.queue_depth("hook"), 0);
    // The engine records a delivery's state from an event: wait for it.
    s.service.flush();
    let alert = &s.service.alerts_json()["alerts"][0];
    assert_eq!(alert["deliveries"]["hook"]["state"], "dead_lettered");
}

#[test]
fn a_full_outbox_drops_what_does_not_fit_and_counts_it() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let port = daemon::free_port();
    let config = webhook(&format!("http://127.0.0.1:{port}/hook"), "")
        .replace("[alerts.outbox]", "[alerts.outbox]\nmax_entries = 2");
    let s = Service::start(dir.path(), &config);
    s.window(1, vec![skew("a")]);
    s.window(2, vec![]);
    s.window(3, vec![skew("a")]);
    assert_eq!(s.service.queue_depth("hook"), 2);
    assert_eq!(
        s.metric("assay_notifications_total{outcome=\"dropped\",receiver=\"hook\"}"),
        1.0
    );
    let alert = &s.service.alerts_json()["alerts"][0];
    assert_eq!(alert["deliveries"]["hook"]["state"], "dropped");
}

#[test]
fn the_outbox_and_the_alerts_survive_a_restart_without_renotifying() {
    set_secret();
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some("s3cr3t-hook-key"));
    let config = webhook(&hook.url(), "");
    let s = Service::start(dir.path(), &config);
    s.window(1, vec![skew("income")]);
    hook.wait_for(WAIT, |r| !r.is_empty());
    let state = s.state.clone();
    let cfg = s.config.clone();
    s.stop();
    let s = Service::start_with(cfg, &state);
    // Still firing: not notified again; the next windows keep it firing.
    s.window(2, vec![skew("income")]);
    s.service.window_closed(alert_service::window(2, vec![]));
    s.service.flush();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(hook.received().len(), 1, "{:?}", hook.received());
    assert_eq!(s.service.alerts_json()["alerts"][0]["state"], "firing");
    s.window(3, vec![]);
    let got = hook.wait_for(WAIT, |r| r.len() >= 2);
    assert_eq!(got[1].body["status"], "resolved");
}
