//! Receivers: where notifications go. A closed set, one file each; each
//! renders a [`Notification`](super::notification::Notification) its own
//! way and delivers it once (the outbox's workers retry).
//!
//! Secrets (SMTP passwords, signing secrets, webhook URLs read from a
//! `*_file` / `*_env`) are read when the receiver is built and never
//! appear in an error or a log line: errors name the receiver.

use std::time::Duration;

use super::config::{ReceiverConfig, ReceiverKind};
use super::outbox::Entry;

pub mod alertmanager;
pub mod email;
pub mod log;
pub mod webhook;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    pub message: String,
    /// Retrying cannot help (the receiver refused the notification itself,
    /// a 4xx other than 408 and 429): it is dead-lettered at once.
    pub permanent: bool,
}

impl DeliveryError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }

    /// An HTTP status that is not success: 4xx other than 408 and 429 are
    /// permanent.
    pub fn http(status: u16, body: &str) -> Self {
        let body: String = body.trim().chars().take(200).collect();
        let message = if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {body}")
        };
        if (400..500).contains(&status) && status != 408 && status != 429 {
            Self::permanent(message)
        } else {
            Self::retry(message)
        }
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

enum Kind {
    // Boxed: lettre's transport is several times the others' size.
    Email(Box<email::EmailReceiver>),
    Webhook(webhook::WebhookReceiver),
    Alertmanager(alertmanager::AlertmanagerReceiver),
    Log,
}

/// A receiver, ready to deliver.
pub struct Receiver {
    name: String,
    timeout: Duration,
    kind: Kind,
}

impl Receiver {
    /// Builds the receiver: reads its secrets and sets up its client (no
    /// connection is made: a server that is down does not stop the
    /// daemon, its notifications wait in the outbox).
    pub fn build(config: &ReceiverConfig) -> Result<Self, String> {
        let fail = |e: String| format!("receiver `{}`: {e}", config.name);
        let kind = match &config.kind {
            ReceiverKind::Email(c) => Kind::Email(Box::new(
                email::EmailReceiver::new(c, config.timeout).map_err(fail)?,
            )),
            ReceiverKind::Webhook(c) => {
                Kind::Webhook(webhook::WebhookReceiver::new(c, config.timeout).map_err(fail)?)
            }
            ReceiverKind::Alertmanager(c) => Kind::Alertmanager(
                alertmanager::AlertmanagerReceiver::new(c, config.timeout).map_err(fail)?,
            ),
            ReceiverKind::Log => Kind::Log,
        };
        Ok(Self {
            name: config.name.clone(),
            timeout: config.timeout,
            kind,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// One attempt's limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Delivers one notification, once.
    pub async fn deliver(&self, entry: &Entry, sent_ms: i64) -> Result<(), DeliveryError> {
        let attempt = async {
            match &self.kind {
                Kind::Email(r) => r.deliver(entry).await,
                Kind::Webhook(r) => r.deliver(entry, sent_ms).await,
                Kind::Alertmanager(r) => r.deliver(entry, sent_ms).await,
                Kind::Log => {
                    log::deliver(&self.name, entry);
                    Ok(())
                }
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::retry(format!(
                "no answer within {} (the receiver's `timeout`)",
                humantime::format_duration(self.timeout)
            ))),
        }
    }
}

/// RFC 3339 with milliseconds.
pub(crate) fn rfc3339(ms: i64) -> String {
    super::silence::rfc3339(ms)
}
