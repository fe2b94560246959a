//! `[alerts]` through the binary: `assay check-config` lists every problem
//! (file:line:column, exit 2) and never shows a secret; secrets never
//! reach the daemon's log; `assay alerts test` reports each receiver's
//! outcome through the outbox (exit 1 if any failed).

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use alerts::{Hook, toy_batch, toy_model};

fn assay(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_assay"));
    cmd.args(args).env_remove("ASSAY_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run assay")
}

fn write(dir: &Path, alerts: &str) -> String {
    let path = dir.join("assay.toml");
    std::fs::write(&path, format!("{}\n{alerts}", toy_model(dir, 50))).unwrap();
    path.display().to_string()
}

#[test]
fn check_config_lists_every_alert_problem_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        r#"
[alerts]
base_url = "ftp://assay"

[alerts.outbox]
max_age = "forever"
initial_backoff = "10m"

[[alerts.receivers]]
name = "mail"
type = "email"
url = "smtp://127.0.0.1:2525"
from = "not an address"
to = []
password = "hunter2-secret"
user = "bob"

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9000/assay"
secret_file = "missing-secret"
formatt = "slack"

[[alerts.receivers]]
name = "slack"
type = "webhook"
url_env = "ASSAY_TEST_UNSET_VARIABLE"

[[alerts.receivers]]
name = "am"
type = "alertmanagr"
url = "http://127.0.0.1:9093"

[[alerts.receivers]]
name = "bad url"
type = "alertmanager"
url = "not a url"

[[alerts.routes]]
receivers = ["mail", "hoook", "pager"]
models = ["credit"]
features = ["income[*"]
for_windows = 0
repeat_interval = "sometimes"

[[alerts.routes]]
receivers = ["hook"]
checks = ["skew", "drfit"]
"#,
    );
    let out = assay(&["check-config", &config], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let text = std::fs::read_to_string(&config).unwrap();
    // Where a piece of the config is (1-based line).
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in the config"))
            + 1
    };
    let expected = [
        // (where, a piece of the message)
        (
            "ftp://assay",
            "alerts.base_url: expected an http:// or https:// URL, found scheme `ftp`",
        ),
        ("\"forever\"", "alerts.outbox.max_age: expected a duration"),
        (
            "\"10m\"",
            "alerts.outbox.initial_backoff: is longer than `max_backoff`",
        ),
        (
            "not an address",
            "alerts.receivers[0].from: not an email address",
        ),
        (
            "to = []",
            "alerts.receivers[0].to: needs at least one address",
        ),
        (
            "hunter2",
            "unknown key `password`; never write a secret into the config: use `password_file`",
        ),
        (
            "user = \"bob\"",
            "alerts.receivers[0].user: `user` needs a password",
        ),
        ("missing-secret", "secret file not found"),
        ("formatt", "unknown key `formatt`; did you mean `format`?"),
        (
            "ASSAY_TEST_UNSET_VARIABLE",
            "the environment variable ASSAY_TEST_UNSET_VARIABLE is not set",
        ),
        ("alertmanagr", "unknown variant `alertmanagr`"),
        ("\"bad url\"", "receiver name \"bad url\" may only contain"),
        ("not a url", "not a URL"),
        (
            "hoook",
            "unknown receiver \"hoook\"; did you mean \"hook\"?",
        ),
        ("hoook", "unknown receiver \"pager\""),
        ("models = [\"credit\"]", "unknown model \"credit\""),
        ("drfit", "unknown variant `drfit`"),
        ("income[*", "invalid glob \"income[*\""),
        (
            "for_windows = 0",
            "for_windows: must be at least 1, found 0",
        ),
        ("sometimes", "repeat_interval: expected a duration"),
    ];
    let mut missing = Vec::new();
    for (needle, message) in expected {
        let line = line_of(needle);
        let found = stderr
            .lines()
            .any(|l| l.contains(&format!("assay.toml:{line}:")) && l.contains(message));
        if !found {
            missing.push(format!("line {line}: {message}"));
        }
    }
    assert!(
        missing.is_empty(),
        "missing:\n{}\n\nstderr:\n{stderr}",
        missing.join("\n")
    );
    assert!(
        !stderr.contains("hunter2"),
        "a secret was echoed:\n{stderr}"
    );
    // Every line is located.
    for l in stderr.lines().filter(|l| l.contains("assay.toml")) {
        let rest = l.split("assay.toml:").nth(1).unwrap();
        let mut parts = rest.splitn(3, ':');
        assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{l}");
        assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{l}");
    }
}

#[test]
fn a_good_config_checks_and_names_its_alerts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "x").unwrap();
    let config = write(
        dir.path(),
        r#"
[alerts]
[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "https://hooks.example/assay"
secret_file = "secret"
[[alerts.receivers]]
name = "log"
type = "log"
[[alerts.routes]]
receivers = ["hook", "log"]
features = ["income*"]
"#,
    );
    let out = assay(&["check-config", &config], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("alerts: 2 receivers, 1 route"), "{stdout}");
}

#[test]
fn secrets_never_reach_the_log() {
    // A webhook URL with a token (from a variable), a signing secret (from
    // a file) and an SMTP password (from a file), every receiver failing,
    // the daemon logging everything at debug: no secret in the log.
    let dir = tempfile::tempdir().unwrap();
    let url_token = "T0KEN-in-the-url-9f8e7d";
    let signing = "s1gning-secret-4b3a";
    let password = "smtp-passw0rd-7c6d";
    std::fs::write(dir.path().join("signing"), signing).unwrap();
    std::fs::write(dir.path().join("password"), password).unwrap();
    let port = daemon::free_port();
    let config = write(
        dir.path(),
        &format!(
            r#"
[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "200ms"

[[alerts.receivers]]
name = "slack"
type = "webhook"
format = "slack"
url_env = "ASSAY_TEST_SLACK_URL"
secret_file = "signing"

[[alerts.receivers]]
name = "mail"
type = "email"
url = "smtp://127.0.0.1:{port}"
starttls = "never"
user = "alerts"
password_file = "password"
from = "assay@example.com"
to = ["oncall@example.com"]

[[alerts.routes]]
receivers = ["slack", "mail"]
"#
        ),
    );
    let slack_url = format!("http://127.0.0.1:{port}/services/{url_token}");
    let env = [("ASSAY_TEST_SLACK_URL", slack_url.as_str())];
    let out = assay(&["check-config", &config], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = dir.path().join("state");
    let port2 = daemon::free_port();
    let log_path = dir.path().join("daemon.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args([
            "serve",
            "--config",
            &config,
            "--listen",
            &format!("127.0.0.1:{port2}"),
            "--state-dir",
        ])
        .arg(&state)
        .env("ASSAY_LOG", "debug")
        .env("ASSAY_TEST_SLACK_URL", &slack_url)
        .stderr(std::fs::File::create(&log_path).unwrap())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port2}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !daemon::agent()
        .get(format!("{base}/readyz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = daemon::post(
        &base,
        "/v1/batches",
        "application/json",
        &toy_batch(50, true),
        None,
    );
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.matches("delivery failed").count() >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed deliveries logged:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    for secret in [url_token, signing, password] {
        assert!(!log.contains(secret), "`{secret}` is in the log:\n{log}");
    }
    // The GET /v1/alerts errors do not hold them either (they name the
    // receiver and the failure only).
    assert!(
        log.contains("receiver=slack") || log.contains("receiver=\"slack\""),
        "{log}"
    );
}

#[test]
fn alerts_test_reports_each_receiver_and_fails_if_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(0, Some("probe-secret"));
    std::fs::write(dir.path().join("secret"), "probe-secret").unwrap();
    let dead_port = daemon::free_port();
    let config = write(
        dir.path(),
        &format!(
            r#"
[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "200ms"

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "{}"
secret_file = "secret"

[[alerts.receivers]]
name = "log"
type = "log"

[[alerts.receivers]]
name = "am"
type = "alertmanager"
url = "http://127.0.0.1:{dead_port}"

[[alerts.routes]]
receivers = ["hook", "log", "am"]
"#,
            hook.url()
        ),
    );
    let started = Instant::now();
    let out = assay(
        &["alerts", "test", "--config", &config, "--timeout", "2s"],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("hook (webhook): delivered (1 attempt"),
        "{stdout}"
    );
    assert!(stdout.contains("log (log): delivered"), "{stdout}");
    assert!(stdout.contains("am (alertmanager): FAILED"), "{stdout}");
    assert!(stdout.contains("2 of 3 receivers delivered"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // The log receiver's line.
    assert!(stderr.contains("[assay] FIRING (test) test"), "{stderr}");
    let got = hook.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].signature_ok);
    assert_eq!(got[0].body["reason"], "test");
    assert!(stdout.contains(&got[0].delivery_id), "{stdout}");

    let out = assay(
        &["alerts", "test", "--config", &config, "--receiver", "hook"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = assay(
        &["alerts", "test", "--config", &config, "--receiver", "nope"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no receiver \"nope\""));
}
