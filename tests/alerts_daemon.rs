//! Alerts through the real daemon (`assay serve`): batches in, windows
//! closed, findings alerted to a real webhook server, the log receiver,
//! `GET /v1/alerts`, silences, a `kill -9` with notifications in the
//! outbox, a receiver that takes 30 s to answer, an SMTP server down when
//! the daemon starts.

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alerts::{Hook, Smtp, SmtpMode, toy_batch, toy_model};
use daemon::Daemon;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const WINDOW: usize = 50;

/// `assay.toml` for the toy model (windows of 50 rows: one batch each)
/// with `alerts` appended; `top` goes first (e.g. `[auth]`).
fn write_config(dir: &Path, top: &str, alerts: &str) -> PathBuf {
    let path = dir.join("assay.toml");
    std::fs::write(
        &path,
        format!("{top}\n{}\n{alerts}\n", toy_model(dir, WINDOW as u64)),
    )
    .unwrap();
    path
}

fn hook_alerts(url: &str) -> String {
    format!(
        r#"
[alerts]
base_url = "http://assay.example:9464"

[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "500ms"

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "{url}"

[[alerts.receivers]]
name = "log"
type = "log"

[[alerts.routes]]
name = "oncall"
receivers = ["hook", "log"]
checks = ["schema"]
group_by = ["model", "check", "feature"]
runbook_url = "https://runbooks.example/toy"
"#
    )
}

fn post_batch(d: &Daemon, bad: bool, token: Option<&str>) -> Duration {
    let started = Instant::now();
    let (status, body) = d.post(
        "/v1/batches",
        "application/json",
        &toy_batch(WINDOW, bad),
        token,
    );
    assert_eq!(status, 200, "{body}");
    started.elapsed()
}

fn get_json(d: &Daemon, path: &str, token: Option<&str>) -> Value {
    let (status, text) = d.get(path, token);
    assert_eq!(status, 200, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn metric(d: &Daemon, series: &str) -> f64 {
    let (_, text) = d.get("/metrics", None);
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Waits until `/v1/alerts` satisfies `done`.
fn wait_alerts(d: &Daemon, token: Option<&str>, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = get_json(d, "/v1/alerts", token);
        let alerts = v["alerts"].as_array().cloned().unwrap_or_default();
        if done(&alerts) || Instant::now() > deadline {
            return alerts;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_finding_fires_and_resolves_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, None);
    let config = write_config(dir.path(), "", &hook_alerts(&hook.url()));
    let d = Daemon::start(&config, &dir.path().join("state"));
    // Every configured series exists at 0 before anything happens.
    for series in [
        "assay_notifications_total{outcome=\"sent\",receiver=\"hook\"} ",
        "assay_notifications_total{outcome=\"dropped\",receiver=\"log\"} ",
        "assay_notification_queue_depth{receiver=\"hook\"} ",
        "assay_alerts{model=\"toy\",route=\"oncall\",state=\"firing\"} ",
    ] {
        assert_eq!(metric(&d, series.trim_end()), 0.0, "{series}");
    }
    post_batch(&d, true, None);
    let got = hook.wait_for(WAIT, |r| !r.is_empty());
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let firing = &got[0].body;
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["model"], "toy");
    assert_eq!(firing["group"]["feature"], "color");
    assert_eq!(firing["findings"][0]["kind"], "out_of_domain");
    assert_eq!(firing["runbook_url"], "https://runbooks.example/toy");
    let window = firing["window"]["id"].as_str().unwrap();
    assert_eq!(
        firing["report_url"],
        format!("http://assay.example:9464/ui/reports/{window}")
    );
    // The page it links to exists, as does the JSON report.
    let (status, page) = d.get(&format!("/ui/reports/{window}"), None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(window), "{page}");
    let report = get_json(&d, &format!("/v1/reports/{window}"), None);
    assert_eq!(report["id"], window);

    let alerts = wait_alerts(&d, None, |a| {
        a.len() == 1 && a[0]["deliveries"]["hook"]["state"] == "sent"
    });
    assert_eq!(alerts[0]["state"], "firing");
    assert_eq!(alerts[0]["labels"]["feature"], "color");
    assert_eq!(alerts[0]["deliveries"]["log"]["state"], "sent");
    assert_eq!(
        metric(
            &d,
            "assay_alerts{model=\"toy\",route=\"oncall\",state=\"firing\"}"
        ),
        1.0
    );

    // A clean window: resolved.
    post_batch(&d, false, None);
    let got = hook.wait_for(WAIT, |r| r.len() >= 2);
    assert_eq!(got[1].body["status"], "resolved");
    assert_eq!(got[1].body["fingerprint"], got[0].body["fingerprint"]);
    let alerts = wait_alerts(&d, None, |a| a[0]["state"] == "resolved");
    assert_eq!(alerts[0]["state"], "resolved");
    // The log receiver's lines.
    let deadline = Instant::now() + WAIT;
    while !d.log().contains("[assay] RESOLVED toy: schema on color") {
        assert!(
            Instant::now() < deadline,
            "no resolved log line:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(d.log().contains("[assay] FIRING toy: schema on color"));
    // Counted once the receiver has answered: a moment after it received.
    let sent = "assay_notifications_total{outcome=\"sent\",receiver=\"hook\"}";
    let deadline = Instant::now() + WAIT;
    while metric(&d, sent) < 2.0 {
        assert!(Instant::now() < deadline, "not counted as sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(metric(&d, sent), 2.0);
    assert!(
        metric(
            &d,
            "assay_notification_latency_seconds_count{receiver=\"hook\"}"
        ) >= 2.0
    );
}

#[test]
fn silences_hold_notifications_and_the_routes_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "t0ken-for-alerts\n").unwrap();
    let hook = Hook::start(0, None);
    let config = write_config(
        dir.path(),
        "[auth]\ntoken_file = \"token\"\n",
        &hook_alerts(&hook.url()),
    );
    let d = Daemon::start(&config, &dir.path().join("state"));
    let token = Some("t0ken-for-alerts");
    for path in ["/v1/alerts", "/v1/silences"] {
        assert_eq!(d.get(path, None).0, 401, "{path} without the token");
        assert_eq!(d.get(path, Some("wrong")).0, 401);
    }
    let silence = json!({
        "matchers": [{"name": "model", "value": "toy"}, {"name": "check", "value": "sch.*", "isRegex": true}],
        "ends_at": "2100-01-01T00:00:00Z",
        "comment": "planned maintenance",
        "created_by": "the test"
    });
    let (status, _) = d.post(
        "/v1/silences",
        "application/json",
        silence.to_string().as_bytes(),
        None,
    );
    assert_eq!(status, 401);
    let (status, created) = d.post(
        "/v1/silences",
        "application/json",
        silence.to_string().as_bytes(),
        token,
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    // Every problem of a bad silence at once.
    let bad =
        json!({"matchers": [{"name": "colour", "value": "x"}], "ends_at": "soon", "comment": ""});
    let (status, e) = d.post(
        "/v1/silences",
        "application/json",
        bad.to_string().as_bytes(),
        token,
    );
    assert_eq!(status, 400);
    let e = e["error"].as_str().unwrap();
    for want in ["unknown label \"colour\"", "`comment`", "`ends_at`"] {
        assert!(e.contains(want), "{want} not in {e}");
    }
    let listed = get_json(&d, "/v1/silences", token);
    assert_eq!(listed["silences"][0]["id"], id.as_str());
    assert_eq!(listed["silences"][0]["state"], "active");

    post_batch(&d, true, token);
    let alerts = wait_alerts(&d, token, |a| a.len() == 1);
    assert_eq!(alerts[0]["state"], "silenced");
    assert_eq!(alerts[0]["silenced_by"][0], id.as_str());
    std::thread::sleep(Duration::from_secs(2));
    assert!(hook.received().is_empty(), "silenced, yet notified");
    assert_eq!(
        metric(
            &d,
            "assay_alerts{model=\"toy\",route=\"oncall\",state=\"silenced\"}"
        ),
        1.0
    );

    // Deleting the silence lets the still-firing alert through.
    let mut req = daemon::agent().delete(format!("{}/v1/silences/{id}", d.base));
    req = req.header("Authorization", "Bearer t0ken-for-alerts");
    assert_eq!(req.call().unwrap().status(), 200);
    let got = hook.wait_for(WAIT, |r| !r.is_empty());
    assert_eq!(got[0].body["status"], "firing");
    let again = daemon::agent()
        .delete(format!("{}/v1/silences/{id}", d.base))
        .header("Authorization", "Bearer t0ken-for-alerts")
        .call()
        .unwrap();
    assert_eq!(again.status(), 404);
}

#[test]
fn kill_9_with_notifications_in_the_outbox_delivers_them_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let port = daemon::free_port();
    let config = write_config(
        dir.path(),
        "",
        &hook_alerts(&format!("http://127.0.0.1:{port}/hook")),
    );
    let mut d = Daemon::start(&config, &state);
    post_batch(&d, true, None);
    let outbox = state.join("alerts/outbox/hook");
    let deadline = Instant::now() + WAIT;
    while std::fs::read_dir(&outbox).map_or(0, |d| d.count()) == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing in the outbox:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let queued: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    d.kill9();

    let hook = Hook::start(port, None);
    let d = Daemon::start(&config, &state);
    let got = hook.wait_for(WAIT, |r| !r.is_empty());
    assert_eq!(got.len(), 1, "{:?}", d.log());
    assert_eq!(got[0].body["status"], "firing");
    assert!(
        queued[0].contains(&got[0].delivery_id),
        "the same delivery id: {queued:?} vs {}",
        got[0].delivery_id
    );
    // The alert's state survived: still firing, not notified again.
    let alerts = wait_alerts(&d, None, |a| a.len() == 1);
    assert_eq!(alerts[0]["state"], "firing");
    post_batch(&d, true, None);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hook.received().len(), 1, "re-notified after the restart");
    post_batch(&d, false, None);
    let got = hook.wait_for(WAIT, |r| r.len() >= 2);
    assert_eq!(got[1].body["status"], "resolved");
}

#[test]
fn windows_closed_while_the_alerts_were_not_told_are_alerted_at_the_next_start() {
    // The alerts learn of a close through a channel: a kill -9 right after
    // a close can beat them, and a daemon run without [alerts] closes
    // windows they never see. At start they evaluate, from the reports,
    // the closed windows after the last they evaluated.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let hook = Hook::start(0, None);
    let config = write_config(dir.path(), "", &hook_alerts(&hook.url()));
    let mut d = Daemon::start(&config, &state);
    post_batch(&d, false, None);
    wait_alerts(&d, None, |_| true);
    d.kill9();
    // Window 2 (with the finding) closes without the alerts.
    let sub = dir.path().join("no-alerts");
    std::fs::create_dir_all(&sub).unwrap();
    let plain = write_config(&sub, "", "");
    let mut d = Daemon::start(&plain, &state);
    post_batch(&d, true, None);
    let deadline = Instant::now() + WAIT;
    while get_json(&d, "/v1/windows", None)["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "closed")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "window 2 did not close");
        std::thread::sleep(Duration::from_millis(50));
    }
    d.kill9();
    assert!(hook.received().is_empty());
    let d = Daemon::start(&config, &state);
    let got = hook.wait_for(WAIT, |r| !r.is_empty());
    assert_eq!(
        got.len(),
        1,
        "window 2 not alerted after the restart:\n{}",
        d.log()
    );
    assert_eq!(got[0].body["status"], "firing");
    assert_eq!(got[0].body["window"]["id"], "toy-000002");
    assert!(
        d.log()
            .contains("evaluating a window closed before the restart")
    );
}

#[test]
fn a_receiver_answering_after_30_s_does_not_slow_ingest() {
    // The same batches, against a daemon without alerts and one whose
    // webhook answers after 30 s; every window alternately fires and
    // resolves an alert.
    let latencies = |alerts: &str, dir: &Path| -> Vec<Duration> {
        let config = write_config(dir, "", alerts);
        let d = Daemon::start(&config, &dir.join("state"));
        for _ in 0..3 {
            post_batch(&d, false, None);
        }
        (0..40).map(|i| post_batch(&d, i % 2 == 0, None)).collect()
    };
    let slow = Hook::start(0, None);
    *slow.state.delay.lock().unwrap() = Duration::from_secs(30);
    let with_alerts = hook_alerts(&slow.url()).replace(
        "type = \"webhook\"",
        "type = \"webhook\"\ntimeout = \"60s\"",
    );
    let base_dir = tempfile::tempdir().unwrap();
    let alert_dir = tempfile::tempdir().unwrap();
    let mut base = latencies("", base_dir.path());
    let mut alerted = latencies(&with_alerts, alert_dir.path());
    assert!(
        !slow.received().is_empty(),
        "the slow receiver was not called"
    );
    base.sort();
    alerted.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    let (b, a) = (median(&base), median(&alerted));
    eprintln!(
        "ingest median without alerts {b:?}, with a 30 s receiver {a:?}; max {:?} / {:?}",
        base.last().unwrap(),
        alerted.last().unwrap()
    );
    assert!(
        *alerted.last().unwrap() < Duration::from_secs(5),
        "a batch waited for the receiver: {:?}",
        alerted.last()
    );
    assert!(
        a <= b * 3 + Duration::from_millis(20),
        "ingest slowed: median {a:?} with alerts vs {b:?} without"
    );
}

#[test]
fn an_smtp_server_down_at_start_does_not_stop_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    if !alerts::require(
        alerts::aiosmtpd_available(),
        "aiosmtpd (python3-aiosmtpd)",
        "python3-aiosmtpd",
    ) {
        return;
    }
    let port = daemon::free_port();
    let config = write_config(
        dir.path(),
        "",
        &format!(
            r#"
[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "500ms"

[[alerts.receivers]]
name = "mail"
type = "email"
url = "smtp://127.0.0.1:{port}"
starttls = "never"
from = "assay@example.com"
to = ["oncall@example.com"]

[[alerts.routes]]
receivers = ["mail"]
"#
        ),
    );
    let d = Daemon::start(&config, &dir.path().join("state"));
    post_batch(&d, true, None);
    let deadline = Instant::now() + WAIT;
    while metric(
        &d,
        "assay_notifications_total{outcome=\"failed_attempt\",receiver=\"mail\"}",
    ) < 1.0
    {
        assert!(Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        metric(&d, "assay_notification_queue_depth{receiver=\"mail\"}"),
        1.0
    );
    // Ingest still works meanwhile.
    post_batch(&d, true, None);
    let smtp = Smtp::start(dir.path(), port, SmtpMode::Plain, None);
    let mails = smtp.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1, "{}", smtp.log());
    assert!(mails[0].raw.contains("[assay] FIRING toy: schema on color"));
}
