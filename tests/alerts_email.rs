//! Mail to a REAL SMTP server on loopback: Debian's aiosmtpd, started by
//! the test (tests/fixtures/alerts/smtp_server.py), with STARTTLS or
//! implicit TLS on a certificate the test makes (rcgen: a CA and a
//! certificate for 127.0.0.1 signed by it; assay trusts the CA through
//! `ca_file`), and AUTH with a password read from `password_file`. Each
//! mail is read back and parsed by Python's `email` package: headers,
//! the plain-text and HTML parts, the delivery id.
//!
//! Needs python3-aiosmtpd (Debian, installed by .ci/run); fails without it
//! unless ASSAY_SKIP_ALERT_SERVERS=1.

#[path = "common/alert_service.rs"]
mod alert_service;
#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::path::Path;
use std::time::Duration;

use alert_service::{Service, skew};
use alerts::{Smtp, SmtpMode, certificates, parse_mail};

const WAIT: Duration = Duration::from_secs(30);

fn available() -> bool {
    alerts::require(
        alerts::aiosmtpd_available(),
        "aiosmtpd (python3-aiosmtpd)",
        "python3-aiosmtpd",
    )
}

fn email(url: &str, extra: &str) -> String {
    format!(
        r#"
[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "300ms"

[[alerts.receivers]]
name = "mail"
type = "email"
url = "{url}"
from = "assay <assay@example.com>"
to = ["oncall@example.com", "second@example.org"]
{extra}

[[alerts.routes]]
receivers = ["mail"]
runbook_url = "https://runbooks.example/skew"
"#
    )
}

fn tls_and_auth(dir: &Path, ca: &Path) -> String {
    let password = dir.join("smtp-password");
    std::fs::write(&password, "pa55-w0rd-smtp\n").unwrap();
    format!(
        "user = \"alerts\"\npassword_file = \"{}\"\nca_file = \"{}\"",
        password.display(),
        ca.display()
    )
}

/// Checks a received mail against the notification it carries.
fn check_mail(mail: &alerts::Mail, status: &str) -> serde_json::Value {
    let parsed = parse_mail(&mail.raw);
    let h = &parsed["headers"];
    assert_eq!(parsed["multipart"], "multipart/alternative");
    assert_eq!(h["From"], "assay <assay@example.com>");
    assert_eq!(h["To"], "oncall@example.com, second@example.org");
    let id = h["X-Assay-Delivery"].as_str().expect("X-Assay-Delivery");
    assert_eq!(id.len(), 32);
    assert_eq!(h["Message-ID"], format!("<{id}@example.com>"));
    let subject = h["Subject"].as_str().unwrap();
    assert_eq!(
        subject,
        format!("[assay] {status} toy: skew on income (+1 more)")
    );
    let text = parsed["parts"]["text/plain"]
        .as_str()
        .expect("a plain-text part");
    let html = parsed["parts"]["text/html"].as_str().expect("an HTML part");
    for part in [text, html] {
        for want in [
            "toy-000001",
            "income",
            "age",
            "http://assay.test:9464/ui/reports/toy-000001",
            "https://runbooks.example/skew",
            "wasserstein: 0.5200 (threshold 0.1000)",
        ] {
            assert!(part.contains(want), "{want} not in\n{part}");
        }
    }
    assert!(html.contains("<table"), "{html}");
    assert_eq!(
        mail.meta["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "second@example.org"])
    );
    parsed
}

#[test]
fn mail_over_starttls_with_auth_says_firing_then_resolved() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let port = daemon::free_port();
    let smtp = Smtp::start(
        dir.path(),
        port,
        SmtpMode::Starttls {
            cert: &cert,
            key: &key,
        },
        Some(("alerts", &{
            let p = dir.path().join("server-password");
            std::fs::write(&p, "pa55-w0rd-smtp").unwrap();
            p
        })),
    );
    let extra = format!("starttls = \"required\"\n{}", tls_and_auth(dir.path(), &ca));
    let s = Service::start(
        dir.path(),
        &email(&format!("smtp://127.0.0.1:{port}"), &extra),
    );
    s.window(1, vec![skew("income"), skew("age")]);
    s.window(2, vec![]);
    let mails = smtp.wait_for(2, WAIT);
    assert_eq!(mails.len(), 2, "{}", smtp.log());
    for mail in &mails {
        assert_eq!(mail.meta["tls"], true, "STARTTLS was not used");
        assert_eq!(mail.meta["authenticated"], true);
        assert_eq!(mail.meta["login"], "alerts");
    }
    let firing = check_mail(&mails[0], "FIRING");
    let resolved = check_mail(&mails[1], "RESOLVED");
    assert_ne!(
        firing["headers"]["Message-ID"],
        resolved["headers"]["Message-ID"]
    );
    // The delivery id is the one the alert lists.
    let alert = &s.service.alerts_json()["alerts"][0];
    assert_eq!(
        alert["deliveries"]["mail"]["delivery_id"],
        resolved["headers"]["X-Assay-Delivery"]
    );
}

#[test]
fn mail_over_implicit_tls() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let port = daemon::free_port();
    let password = dir.path().join("server-password");
    std::fs::write(&password, "pa55-w0rd-smtp").unwrap();
    let smtp = Smtp::start(
        dir.path(),
        port,
        SmtpMode::Implicit {
            cert: &cert,
            key: &key,
        },
        Some(("alerts", &password)),
    );
    let extra = tls_and_auth(dir.path(), &ca);
    let s = Service::start(
        dir.path(),
        &email(&format!("smtps://127.0.0.1:{port}"), &extra),
    );
    s.window(1, vec![skew("income"), skew("age")]);
    let mails = smtp.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1, "{}", smtp.log());
    assert_eq!(mails[0].meta["tls"], true);
    assert_eq!(mails[0].meta["authenticated"], true);
    check_mail(&mails[0], "FIRING");
}

#[test]
fn required_starttls_refuses_a_server_without_it_and_an_untrusted_certificate() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A plain-text server: `required` must not send in the clear.
    let plain_port = daemon::free_port();
    let plain = Smtp::start(dir.path(), plain_port, SmtpMode::Plain, None);
    // A STARTTLS server whose CA assay is not told of.
    let (_, cert, key) = certificates(dir.path());
    let tls_port = daemon::free_port();
    let untrusted = Smtp::start(
        dir.path(),
        tls_port,
        SmtpMode::Starttls {
            cert: &cert,
            key: &key,
        },
        None,
    );
    let config = format!(
        r#"
[alerts.outbox]
initial_backoff = "100ms"
max_backoff = "200ms"
max_age = "2s"

[[alerts.receivers]]
name = "plain"
type = "email"
url = "smtp://127.0.0.1:{plain_port}"
starttls = "required"
from = "assay@example.com"
to = ["oncall@example.com"]

[[alerts.receivers]]
name = "untrusted"
type = "email"
url = "smtp://127.0.0.1:{tls_port}"
from = "assay@example.com"
to = ["oncall@example.com"]

[[alerts.receivers]]
name = "opportunistic"
type = "email"
url = "smtp://127.0.0.1:{plain_port}"
starttls = "opportunistic"
from = "assay@example.com"
to = ["oncall@example.com"]

[[alerts.routes]]
receivers = ["plain", "untrusted", "opportunistic"]
"#
    );
    let s = Service::start(dir.path(), &config);
    s.window(1, vec![skew("income")]);
    let deadline = std::time::Instant::now() + WAIT;
    while s.metric("assay_notifications_total{outcome=\"dead_lettered\",receiver=\"plain\"}") < 1.0
        || s.metric("assay_notifications_total{outcome=\"dead_lettered\",receiver=\"untrusted\"}")
            < 1.0
    {
        assert!(std::time::Instant::now() < deadline, "not dead-lettered");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Only the opportunistic receiver's mail reached the plain server.
    let mails = plain.wait_for(1, WAIT);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(plain.mails().len(), 1);
    assert_eq!(mails[0].meta["tls"], false);
    assert!(untrusted.mails().is_empty());
    let alert = &s.service.alerts_json()["alerts"][0];
    let error = alert["deliveries"]["untrusted"]["error"].as_str().unwrap();
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("tls"),
        "{error}"
    );
}
