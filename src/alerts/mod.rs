//! Alerts to on-call engineers: closed windows' findings become alerts
//! (grouped, pending → firing → resolved, silenced on demand) and
//! notifications, delivered at least once through a durable outbox to
//! email, signed webhooks (assay's JSON or Slack's), Alertmanager or the
//! log. docs/alerts.md is the reference.
//!
//! - [`config`]: the `[alerts]` section of the daemon's configuration.
//! - [`finding`]: what alerts consume (findings of closed windows).
//! - [`route`]: matchers, groups, fingerprints.
//! - [`lifecycle`]: the alert states and when to notify, without I/O.
//! - [`silence`]: silences, which mute matching alerts.
//! - [`notification`]: what every message says.
//! - [`outbox`]: the durable queue; [`delivery`]: retries, dead letters.
//! - [`receivers`]: email, webhook, alertmanager, log.
//! - [`service`]: the running alerts of a daemon; [`probe`]: `assay
//!   alerts test`.
//!
//! Alerts consume findings and never reach back into the checks; the
//! daemon (`server`) only wires them together.

pub mod config;
pub mod delivery;
pub mod finding;
pub mod lifecycle;
pub mod metrics;
pub mod notification;
pub mod outbox;
pub mod probe;
pub mod receivers;
pub mod route;
pub mod service;
pub mod silence;

pub use config::AlertsConfig;
pub use finding::{AlertFinding, WindowFindings, WindowRef};
pub use metrics::AlertMetrics;
pub use service::{AlertService, ClosedRef};

/// What the alerts can fail at.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The state directory could not be read or written.
    #[error("alerts: {0}")]
    State(String),
    /// A receiver could not be set up (a secret could not be read).
    #[error("alerts: {0}")]
    Receiver(String),
    /// A bad request (a silence).
    #[error("{0}")]
    BadRequest(String),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
