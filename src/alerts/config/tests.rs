use std::time::Duration;

use super::*;
use crate::server::config::{ServeConfig, parse};

/// A daemon config with one model (its baseline in a temporary
/// directory) and `alerts`.
fn load(alerts: &str) -> Result<ServeConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.csv"), "a\n1\n").unwrap();
    std::fs::write(dir.path().join("pw"), "secret\n").unwrap();
    let text = format!("[models.credit]\nbaseline = \"train.csv\"\n{alerts}");
    parse(&text, &dir.path().join("assay.toml")).map_err(|e| e.to_string())
}

#[test]
fn the_issue_example_reads_as_written() {
    // SAFETY: only this test reads the variable.
    unsafe { std::env::set_var("ASSAY_TEST_CONFIG_SECRET", "x") };
    let c = load(
        r#"
[alerts]
base_url = "http://assay.internal:9464/"

[[alerts.receivers]]
name = "oncall-email"
type = "email"
url = "smtp://127.0.0.1:2525"
starttls = "opportunistic"
from = "assay@example.com"
to = ["oncall@example.com"]
user = "bob"
password_file = "pw"

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9000/assay"
format = "slack"
secret_env = "ASSAY_TEST_CONFIG_SECRET"

[[alerts.receivers]]
name = "am"
type = "alertmanager"
url = "http://127.0.0.1:9093/"

[[alerts.receivers]]
name = "log"
type = "log"

[[alerts.routes]]
receivers = ["oncall-email", "hook", "am"]
models = ["credit"]
checks = ["skew", "drift"]
severities = ["error"]
features = ["income*"]
for_windows = 1
resolve_after_windows = 2
group_by = ["model", "check"]
repeat_interval = "4h"
send_resolved = true
"#,
    )
    .unwrap();
    let a = c.alerts.unwrap();
    assert_eq!(a.base_url.as_deref(), Some("http://assay.internal:9464"));
    assert_eq!(a.outbox, OutboxConfig::default());
    let ReceiverKind::Email(email) = &a.receivers[0].kind else {
        panic!("{:?}", a.receivers[0]);
    };
    assert_eq!(
        (email.host.as_str(), email.port, email.implicit_tls),
        ("127.0.0.1", 2525, false)
    );
    assert_eq!(email.starttls, Starttls::Opportunistic);
    assert!(matches!(&email.password, Some(SecretSource::File(p)) if p.ends_with("pw")));
    let ReceiverKind::Webhook(hook) = &a.receivers[1].kind else {
        panic!();
    };
    assert_eq!(hook.format, WebhookFormat::Slack);
    assert_eq!(
        hook.secret,
        Some(SecretSource::Env("ASSAY_TEST_CONFIG_SECRET".into()))
    );
    let ReceiverKind::Alertmanager(am) = &a.receivers[2].kind else {
        panic!();
    };
    assert_eq!(am.url, "http://127.0.0.1:9093");
    assert_eq!(am.resend_interval, DEFAULT_RESEND_INTERVAL);
    assert_eq!(a.receivers[3].kind, ReceiverKind::Log);
    assert_eq!(a.receivers[0].timeout, DEFAULT_TIMEOUT);
    let r = &a.routes[0];
    assert_eq!(r.name, "route-1");
    assert_eq!(r.checks, [AlertCheck::Skew, AlertCheck::Drift]);
    assert_eq!(r.severities, [Severity::Error]);
    assert_eq!(r.features, ["income*"]);
    assert_eq!((r.for_windows, r.resolve_after_windows), (1, 2));
    assert_eq!(r.repeat_interval, Duration::from_secs(4 * 3600));
    assert!(r.send_resolved);
}

#[test]
fn defaults_and_model_always_grouped() {
    let c = load(
        r#"
[alerts]
[alerts.outbox]
max_entries = 5
max_backoff = "2s"
initial_backoff = "250ms"
[[alerts.receivers]]
name = "log"
type = "log"
[[alerts.routes]]
name = "all"
receivers = ["log"]
group_by = ["feature"]
"#,
    )
    .unwrap();
    let a = c.alerts.unwrap();
    assert_eq!(a.base_url, None);
    assert_eq!(a.outbox.max_entries, 5);
    assert_eq!(a.outbox.max_backoff, Duration::from_secs(2));
    assert_eq!(a.outbox.initial_backoff, Duration::from_millis(250));
    assert_eq!(a.outbox.max_age, DEFAULT_MAX_AGE);
    let r = &a.routes[0];
    assert_eq!(r.group_by, [GroupLabel::Model, GroupLabel::Feature]);
    assert!(r.models.is_empty() && r.checks.is_empty() && r.features.is_empty());
    assert_eq!((r.for_windows, r.resolve_after_windows), (1, 1));
    assert_eq!(r.repeat_interval, DEFAULT_REPEAT_INTERVAL);
    // Without [alerts], none.
    assert_eq!(load("").unwrap().alerts, None);
}

#[test]
fn smtps_and_smtp_default_ports() {
    assert_eq!(
        rules::smtp_url("smtps://mail.example").unwrap(),
        ("mail.example".into(), 465, true)
    );
    assert_eq!(
        rules::smtp_url("smtp://[::1]").unwrap(),
        ("::1".into(), 25, false)
    );
    assert!(
        rules::smtp_url("smtp://user:pw@mail.example")
            .unwrap_err()
            .contains("credentials")
    );
    assert!(rules::smtp_url("http://mail.example").is_err());
}

#[test]
fn a_secret_is_never_shown() {
    let pasted = SecretSource::Env("xoxb-123-secret-token".into());
    assert!(!format!("{pasted:?}").contains("xoxb"));
    let e = SecretSource::Env("ASSAY_TEST_NEVER_SET_VARIABLE".into())
        .read()
        .unwrap_err();
    assert_eq!(
        e,
        "the environment variable ASSAY_TEST_NEVER_SET_VARIABLE is not set"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    std::fs::write(&path, "  hunter2 \n").unwrap();
    assert_eq!(SecretSource::File(path.clone()).read().unwrap(), "hunter2");
    std::fs::write(&path, " \n").unwrap();
    assert!(
        SecretSource::File(path)
            .read()
            .unwrap_err()
            .ends_with("is empty")
    );
}

#[test]
fn a_secret_in_the_file_is_refused_without_being_echoed() {
    let e = load(
        r#"
[alerts]
[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "http://x.example/hook"
secret = "hunter2"
[[alerts.routes]]
receivers = ["hook"]
"#,
    )
    .unwrap_err();
    assert!(
        e.contains("unknown key `secret`; never write a secret into the config: use `secret_file`"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
}
