//! `type = "webhook"`: an HTTP POST of JSON, in assay's format or Slack's.
//!
//! assay's body (`format = "assay"`, version 1):
//!
//! ```json
//! {"version": 1, "status": "firing", "reason": "fired",
//!  "fingerprint": "…", "route": "oncall", "model": "credit",
//!  "window": {"id": "…", "start": "…", "end": "…"},
//!  "group": {"model": "credit", "check": "skew"},
//!  "findings": [{"check": "skew", "kind": "feature_skew", "severity": "error",
//!                "feature": "income", "observed": {…}, "expected": {…},
//!                "explanation": "…"}],
//!  "starts_at": "…", "ends_at": null, "report_url": "…", "runbook_url": null,
//!  "summary": "…", "delivery_id": "…", "sent_at": "…"}
//! ```
//!
//! Headers: `X-Assay-Delivery` (the delivery id, the same on every retry),
//! `X-Assay-Timestamp` (Unix seconds) and, with a secret,
//! `X-Assay-Signature: sha256=HEX` where HEX is the HMAC-SHA256, keyed by
//! the secret, of `TIMESTAMP.BODY`. A receiver checks the signature and
//! refuses old timestamps (replays).
//!
//! Slack's (`format = "slack"`): an incoming webhook's `text` (the subject,
//! for notifications) and `blocks` (header, context, findings); Mattermost
//! and Rocket.Chat take it too. The same headers are sent.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{DeliveryError, rfc3339};
use crate::alerts::config::{UrlSource, WebhookConfig, WebhookFormat};
use crate::alerts::notification::Notification;
use crate::alerts::outbox::Entry;
use crate::alerts::route::hex;

/// Findings listed in a Slack message (its blocks are limited in size).
const SLACK_LISTED: usize = 20;

pub struct WebhookReceiver {
    client: reqwest::Client,
    /// May hold a token (Slack's URLs do): never logged, never in an error.
    url: String,
    format: WebhookFormat,
    secret: Option<Vec<u8>>,
}

/// `sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body))`.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

impl WebhookReceiver {
    pub fn new(config: &WebhookConfig, timeout: Duration) -> Result<Self, String> {
        let url = match &config.url {
            UrlSource::Plain(url) => url.clone(),
            UrlSource::Secret(source) => source.read()?,
        };
        let secret = match &config.secret {
            Some(source) => Some(source.read()?.into_bytes()),
            None => None,
        };
        Ok(Self {
            client: http_client(timeout)?,
            url,
            format: config.format,
            secret,
        })
    }

    /// The body this receiver posts for an entry.
    pub fn body(&self, entry: &Entry, sent_ms: i64) -> Vec<u8> {
        let value = match self.format {
            WebhookFormat::Assay => assay_json(entry, sent_ms),
            WebhookFormat::Slack => slack_json(&entry.notification, &entry.delivery_id),
        };
        serde_json::to_vec(&value).unwrap_or_default()
    }

    pub async fn deliver(&self, entry: &Entry, sent_ms: i64) -> Result<(), DeliveryError> {
        let body = self.body(entry, sent_ms);
        let timestamp = (sent_ms / 1000).to_string();
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Assay-Delivery", &entry.delivery_id)
            .header("X-Assay-Timestamp", &timestamp);
        if let Some(secret) = &self.secret {
            request = request.header("X-Assay-Signature", signature(secret, &timestamp, &body));
        }
        post(request.body(body)).await
    }
}

/// The HTTP client of webhooks and Alertmanagers: rustls, a whole-request
/// timeout, no redirects (a signed body is for the URL configured).
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("assay/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Sends a request; a 2xx answer is success. Errors never name the URL.
pub(crate) async fn post(request: reqwest::RequestBuilder) -> Result<(), DeliveryError> {
    let response = request
        .send()
        .await
        .map_err(|e| DeliveryError::retry(describe(e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(DeliveryError::http(status.as_u16(), &body))
}

/// A request error without its URL, with its causes.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// assay's JSON body (version 1).
pub fn assay_json(entry: &Entry, sent_ms: i64) -> Value {
    let n = &entry.notification;
    json!({
        "version": 1,
        "status": n.status,
        "reason": n.reason,
        "fingerprint": n.fingerprint,
        "route": n.route,
        "model": n.model,
        "window": {"id": n.window.id, "start": n.window.start, "end": n.window.end},
        "group": n.group,
        "severity": n.severity().as_str(),
        "findings": n.findings,
        "starts_at": n.starts_at,
        "ends_at": n.ends_at,
        "report_url": n.report_url,
        "runbook_url": n.runbook_url,
        "summary": n.summary(),
        "delivery_id": entry.delivery_id,
        "sent_at": rfc3339(sent_ms),
    })
}

/// A Slack incoming webhook's message.
pub fn slack_json(n: &Notification, delivery_id: &str) -> Value {
    let icon = match n.status {
        crate::alerts::lifecycle::Status::Firing => ":rotating_light:",
        crate::alerts::lifecycle::Status::Resolved => ":white_check_mark:",
    };
    let subject = n.subject();
    let mut context = format!(
        "*Model* {} · *Window* {} ({}) · *Severity* {}\n<{}|Report>",
        n.model,
        n.window.id,
        n.window_range(),
        n.severity().as_str(),
        n.report_url
    );
    if let Some(runbook) = &n.runbook_url {
        context.push_str(&format!(" · <{runbook}|Runbook>"));
    }
    let mut lines = String::new();
    for f in n.findings.iter().take(SLACK_LISTED) {
        lines.push_str(&format!(
            "• *{}* {}{}{}: {}\n",
            f.check,
            f.kind,
            f.feature
                .as_deref()
                .map(|x| format!(" on `{x}`"))
                .unwrap_or_default(),
            f.slice
                .as_deref()
                .map(|s| format!(" (slice {s})"))
                .unwrap_or_default(),
            f.observed_vs_expected()
        ));
    }
    if n.findings.len() > SLACK_LISTED {
        lines.push_str(&format!(
            "… and {} more (see the report)\n",
            n.findings.len() - SLACK_LISTED
        ));
    }
    // Section texts are limited to 3,000 characters.
    let lines: String = lines.chars().take(2900).collect();
    let header: String = format!("{icon} {subject}").chars().take(150).collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{}\n{context}", n.summary())}}),
    ];
    if !lines.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": lines}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
        "text": format!("alert {} · route {} · delivery {delivery_id}", n.fingerprint, n.route)}]}));
    json!({"text": format!("{icon} {subject}"), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notification::tests::sample;

    /// Against Python's `hmac.new(b"secret", b'1700000000.{"a":1}',
    /// hashlib.sha256).hexdigest()`, and RFC 4231's test case 2 for the
    /// HMAC itself.
    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        assert_eq!(
            signature(b"secret", "1700000000", br#"{"a":1}"#),
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn slack_messages_fit_and_link() {
        let many: Vec<String> = (0..100).map(|i| format!("f{i}")).collect();
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        let v = slack_json(&sample(&names), "d1");
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .contains("[assay] FIRING credit: skew on f0 (+99 more)")
        );
        let blocks = v["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= 3000);
            }
        }
        let all = v.to_string();
        assert!(all.contains("<http://assay:9464/ui/reports/credit-000042|Report>"));
        assert!(all.contains("… and 80 more"));
        assert!(all.contains("delivery d1"));
    }
}
