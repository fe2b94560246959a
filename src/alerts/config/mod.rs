//! The `[alerts]` section of the daemon's configuration: receivers, routes
//! and the outbox, as read and checked by `assay check-config` together
//! with the rest of the file (every problem at once, `file:line:column`).
//!
//! ```toml
//! [alerts]
//! base_url = "http://assay.internal:9464"   # links in messages
//!
//! [alerts.outbox]
//! max_entries = 10000        # notifications waiting, all receivers together
//! max_age = "24h"            # then dead-lettered
//! initial_backoff = "1s"     # first retry; doubles, with jitter,
//! max_backoff = "5m"         # up to this
//!
//! [[alerts.receivers]]
//! name = "oncall-email"
//! type = "email"             # email | webhook | alertmanager | log
//! url = "smtp://127.0.0.1:2525"
//! starttls = "opportunistic" # required (default) | opportunistic | never
//! from = "assay@example.com"
//! to = ["oncall@example.com"]
//!
//! [[alerts.routes]]
//! receivers = ["oncall-email"]
//! checks = ["skew", "drift"]
//! group_by = ["model", "check"]
//! ```
//!
//! Secrets (SMTP passwords, webhook signing secrets, webhook URLs that
//! carry a token, as Slack's do) are named by `*_file` or `*_env`, never
//! written in the file: [`SecretSource`] holds where a secret is, and its
//! `Debug` never shows a value. docs/alerts.md lists every key.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::checks::Severity;

mod read;
mod rules;

pub(crate) use read::{AlertsParts, read_alerts};
pub use rules::parse_duration;
pub(crate) use rules::{build, check};

/// `[alerts.outbox] max_entries` when absent.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// `[alerts.outbox] max_age` when absent.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// `[alerts.outbox] initial_backoff` when absent.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// `[alerts.outbox] max_backoff` when absent.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A receiver's `timeout` (one delivery attempt) when absent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// An Alertmanager receiver's `resend_interval` when absent.
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);
/// A route's `repeat_interval` when absent.
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// The whole `[alerts]` section, checked and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// Where links in messages point (`base_url`); `None`: the daemon's
    /// listen address (the server fills it in).
    pub base_url: Option<String>,
    pub receivers: Vec<ReceiverConfig>,
    pub routes: Vec<RouteConfig>,
    pub outbox: OutboxConfig,
}

impl AlertsConfig {
    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

/// `[alerts.outbox]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Notifications waiting for delivery, all receivers together; past
    /// it, new ones are dropped (counted and logged).
    pub max_entries: usize,
    /// A notification not delivered after this long is dead-lettered.
    pub max_age: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_age: DEFAULT_MAX_AGE,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}

/// One `[[alerts.receivers]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// `[A-Za-z0-9_.-]+`: it names outbox directories and metric labels.
    pub name: String,
    /// One delivery attempt's limit.
    pub timeout: Duration,
    pub kind: ReceiverKind,
}

/// What a receiver is (`type`), with its own keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverKind {
    Email(EmailConfig),
    Webhook(WebhookConfig),
    Alertmanager(AlertmanagerConfig),
    Log,
}

impl ReceiverKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Webhook(_) => "webhook",
            Self::Alertmanager(_) => "alertmanager",
            Self::Log => "log",
        }
    }
}

/// The receiver types (`type = "..."`): a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverType {
    Email,
    Webhook,
    Alertmanager,
    Log,
}

/// `type = "email"`: mail over SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    /// `smtps://`: TLS from the first byte (implicit TLS, port 465).
    pub implicit_tls: bool,
    /// For `smtp://`.
    pub starttls: Starttls,
    pub from: String,
    pub to: Vec<String>,
    pub user: Option<String>,
    pub password: Option<SecretSource>,
    /// A PEM file of extra root certificates (a private CA).
    pub ca_file: Option<PathBuf>,
}

/// `starttls`: whether `smtp://` upgrades the connection to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Starttls {
    /// Fail when the server does not offer STARTTLS (the default).
    #[default]
    Required,
    /// Upgrade when offered, else send in the clear.
    Opportunistic,
    /// Never upgrade.
    Never,
}

/// `type = "webhook"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: UrlSource,
    pub format: WebhookFormat,
    /// HMAC-SHA256 signing secret; `None`: unsigned.
    pub secret: Option<SecretSource>,
}

/// `format` of a webhook's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// assay's JSON (version 1).
    #[default]
    Assay,
    /// A Slack incoming webhook's `text` and `blocks` (Mattermost and
    /// Rocket.Chat accept it too).
    Slack,
}

/// Where a webhook's URL comes from: the file, or (for URLs that carry a
/// token, like Slack's) a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    Plain(String),
    Secret(SecretSource),
}

/// `type = "alertmanager"`: Alertmanager's API v2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerConfig {
    /// The base URL (`http://127.0.0.1:9093`); alerts go to
    /// `/api/v2/alerts` under it.
    pub url: String,
    /// How often a firing alert is posted again (Alertmanager resolves an
    /// alert a client stops re-posting).
    pub resend_interval: Duration,
}

/// Where a secret is read from. Holds the place, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file holding the secret (surrounding whitespace is ignored).
    File(PathBuf),
    /// An environment variable holding it.
    Env(String),
}

impl SecretSource {
    /// Reads the secret, trimmed. Errors name the file or the variable,
    /// never the value.
    pub fn read(&self) -> Result<String, String> {
        use crate::server::config::{SecretPlace, read_secret};
        let place = match self {
            Self::File(path) => SecretPlace::File(path),
            Self::Env(name) => SecretPlace::Env(name),
        };
        read_secret(place, "secret file", "environment variable")
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Env(name) if crate::server::config::is_env_name(name) => {
                f.debug_tuple("Env").field(name).finish()
            }
            // Not a variable name: maybe a pasted secret.
            Self::Env(_) => f.write_str("Env(<not a variable name>)"),
        }
    }
}

/// Which check a finding comes from (a route's `checks`). Closed; later
/// checks (`quality`, `fairness`, `retrain`) are added here as variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertCheck {
    /// The window against the schema.
    Schema,
    /// The window's expectation suite.
    Expectations,
    /// Feature skew against the training baseline (and the dataset's).
    Skew,
    /// Feature drift against the previous window (and the dataset's).
    Drift,
    /// The model's outputs moved (prediction skew or drift).
    PredictionDrift,
    /// The model's quality against its labels (a window's, once final).
    Quality,
    /// The model's fairness across groups (a window's, once final).
    Fairness,
}

impl AlertCheck {
    pub const ALL: [AlertCheck; 7] = [
        Self::Schema,
        Self::Expectations,
        Self::Skew,
        Self::Drift,
        Self::PredictionDrift,
        Self::Quality,
        Self::Fairness,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "schema",
            Self::Expectations => "expectations",
            Self::Skew => "skew",
            Self::Drift => "drift",
            Self::PredictionDrift => "prediction_drift",
            Self::Quality => "quality",
            Self::Fairness => "fairness",
        }
    }
}

impl fmt::Display for AlertCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A label a route groups by (`group_by`). `model` is always part of an
/// alert's group: windows, and so alerts, are per model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupLabel {
    Model,
    Check,
    Severity,
    Kind,
    Feature,
    Slice,
}

impl GroupLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Check => "check",
            Self::Severity => "severity",
            Self::Kind => "kind",
            Self::Feature => "feature",
            Self::Slice => "slice",
        }
    }
}

/// One `[[alerts.routes]]`: which findings (every matcher that is set must
/// match; a list matches when any of its entries does), how they are
/// grouped into alerts, when those fire, repeat and resolve, and who is
/// told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// `name`, or `route-N` (N counted from 1 in file order). Part of each
    /// alert's identity and the `route` metric label.
    pub name: String,
    pub receivers: Vec<String>,
    /// Empty: any.
    pub models: Vec<String>,
    pub checks: Vec<AlertCheck>,
    pub severities: Vec<Severity>,
    /// Globs on the feature (`income*`); a dataset-level finding has no
    /// feature and matches only when this is empty.
    pub features: Vec<String>,
    /// Globs on the slice (`sex=F`); a whole-dataset finding has no slice
    /// and matches only when this is empty.
    pub slices: Vec<String>,
    pub for_windows: u32,
    pub resolve_after_windows: u32,
    /// Always holds `model`.
    pub group_by: Vec<GroupLabel>,
    pub repeat_interval: Duration,
    pub send_resolved: bool,
    pub runbook_url: Option<String>,
}

#[cfg(test)]
mod tests;
