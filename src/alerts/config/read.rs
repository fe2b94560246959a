//! Reading `[alerts]` from the parsed TOML: each receiver and route on its
//! own (a bad one hides nothing in the others), every unknown key reported
//! with the closest known one, every type error located.
//!
//! The daemon's config reader (`server::config`) hands the `alerts` value
//! here and merges the diagnostics with its own.

use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{AlertCheck, GroupLabel, ReceiverType, Starttls, WebhookFormat};
use crate::checks::Severity;
use crate::schema::{Diagnostic, DiagnosticKind, Locator, closest, with_suggestion};

pub(super) const ALERTS_KEYS: &[&str] = &["base_url", "outbox", "receivers", "routes"];
pub(super) const OUTBOX_KEYS: &[&str] =
    &["max_entries", "max_age", "initial_backoff", "max_backoff"];
pub(super) const EMAIL_KEYS: &[&str] = &[
    "name",
    "type",
    "timeout",
    "url",
    "starttls",
    "from",
    "to",
    "user",
    "password_file",
    "password_env",
    "ca_file",
];
pub(super) const WEBHOOK_KEYS: &[&str] = &[
    "name",
    "type",
    "timeout",
    "url",
    "url_file",
    "url_env",
    "format",
    "secret_file",
    "secret_env",
];
pub(super) const ALERTMANAGER_KEYS: &[&str] =
    &["name", "type", "timeout", "url", "resend_interval"];
pub(super) const LOG_KEYS: &[&str] = &["name", "type"];
pub(super) const ROUTE_KEYS: &[&str] = &[
    "name",
    "receivers",
    "models",
    "checks",
    "severities",
    "features",
    "slices",
    "for_windows",
    "resolve_after_windows",
    "group_by",
    "repeat_interval",
    "send_resolved",
    "runbook_url",
];

/// The top of `[alerts]` (its tables are read separately).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    pub(super) base_url: Option<String>,
    #[serde(default, rename = "outbox")]
    pub(super) _outbox: Option<IgnoredAny>,
    #[serde(default, rename = "receivers")]
    pub(super) _receivers: Option<IgnoredAny>,
    #[serde(default, rename = "routes")]
    pub(super) _routes: Option<IgnoredAny>,
}

/// Durations are text (`"4h"`, `"30s"`) and integers are read signed, so
/// that the rules word every bad value the same way.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutbox {
    pub(super) max_entries: Option<i64>,
    pub(super) max_age: Option<String>,
    pub(super) initial_backoff: Option<String>,
    pub(super) max_backoff: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmail {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) _type: IgnoredAny,
    pub(super) timeout: Option<String>,
    pub(super) url: String,
    pub(super) starttls: Option<Starttls>,
    pub(super) from: String,
    pub(super) to: Vec<String>,
    pub(super) user: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) _type: IgnoredAny,
    pub(super) timeout: Option<String>,
    pub(super) url: Option<String>,
    pub(super) url_file: Option<PathBuf>,
    pub(super) url_env: Option<String>,
    #[serde(default)]
    pub(super) format: WebhookFormat,
    pub(super) secret_file: Option<PathBuf>,
    pub(super) secret_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlertmanager {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) _type: IgnoredAny,
    pub(super) timeout: Option<String>,
    pub(super) url: String,
    pub(super) resend_interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) _type: IgnoredAny,
}

pub(crate) enum RawReceiver {
    Email(RawEmail),
    Webhook(RawWebhook),
    Alertmanager(RawAlertmanager),
    Log(RawLog),
}

impl RawReceiver {
    pub(super) fn name(&self) -> &str {
        match self {
            Self::Email(r) => &r.name,
            Self::Webhook(r) => &r.name,
            Self::Alertmanager(r) => &r.name,
            Self::Log(r) => &r.name,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub(super) name: Option<String>,
    pub(super) receivers: Vec<String>,
    pub(super) models: Option<Vec<String>>,
    pub(super) checks: Option<Vec<AlertCheck>>,
    pub(super) severities: Option<Vec<Severity>>,
    pub(super) features: Option<Vec<String>>,
    pub(super) slices: Option<Vec<String>>,
    pub(super) for_windows: Option<i64>,
    pub(super) resolve_after_windows: Option<i64>,
    pub(super) group_by: Option<Vec<GroupLabel>>,
    pub(super) repeat_interval: Option<String>,
    pub(super) send_resolved: Option<bool>,
    pub(super) runbook_url: Option<String>,
}

/// A table as read: absent, present but with a type error (reported), or
/// read.
pub(crate) enum Read<T> {
    Absent,
    Invalid,
    Present(T),
}

impl<T> Read<T> {
    pub(crate) fn present(&self) -> Option<&T> {
        match self {
            Read::Present(t) => Some(t),
            _ => None,
        }
    }
}

/// One receiver: its name (when it is a string, even if the rest could not
/// be read, so that routes naming it are not reported too) and the rest.
pub(crate) struct ReceiverPart {
    pub(super) name: Option<String>,
    pub(super) read: Read<RawReceiver>,
}

/// `[alerts]` as read.
pub(crate) struct AlertsParts {
    pub(super) top: Read<RawAlerts>,
    pub(super) outbox: Read<RawOutbox>,
    pub(super) receivers: Vec<ReceiverPart>,
    pub(super) routes: Vec<Read<RawRoute>>,
}

impl AlertsParts {
    /// No `[alerts]` section.
    pub(crate) fn absent() -> Self {
        Self {
            top: Read::Absent,
            outbox: Read::Absent,
            receivers: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Whether the file has an `[alerts]` section (read or not).
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self.top, Read::Absent)
    }
}

/// Reads the `alerts` value (`key_span`: where its key is).
pub(crate) fn read_alerts(
    value: Spanned<DeValue<'_>>,
    key_span: Range<usize>,
    locate: &Locator<'_>,
) -> (AlertsParts, Vec<Diagnostic>) {
    let mut reader = Reader {
        locate,
        diagnostics: Vec::new(),
    };
    let parts = reader.alerts(value, key_span);
    (parts, reader.diagnostics)
}

struct Reader<'a> {
    locate: &'a Locator<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn alerts(&mut self, value: Spanned<DeValue<'_>>, key_span: Range<usize>) -> AlertsParts {
        let span = value.span();
        let mut table = match value.into_inner() {
            DeValue::Table(table) => table,
            other => {
                let message = format!("`alerts` must be a table, found {}", other.type_str());
                self.type_error(Some(span), &message);
                let mut parts = AlertsParts::absent();
                parts.top = Read::Invalid;
                return parts;
            }
        };
        let unknown = self.drop_unknown_keys(&mut table, ALERTS_KEYS, "alerts");
        let outbox = match table.remove_entry("outbox") {
            None => Read::Absent,
            Some((key, value)) => self.table(value, key.span(), "alerts.outbox", OUTBOX_KEYS),
        };
        let receivers = match table.remove("receivers") {
            None => Vec::new(),
            Some(value) => self
                .array_of_tables(value, "alerts.receivers", "[[alerts.receivers]]")
                .into_iter()
                .map(|(i, span, table)| self.receiver(i, span, table))
                .collect(),
        };
        let routes = match table.remove("routes") {
            None => Vec::new(),
            Some(value) => self
                .array_of_tables(value, "alerts.routes", "[[alerts.routes]]")
                .into_iter()
                .map(|(i, span, table)| match table {
                    None => Read::Invalid,
                    Some(mut table) => {
                        let context = format!("alerts.routes[{i}]");
                        let unknown = self.drop_unknown_keys(&mut table, ROUTE_KEYS, &context);
                        self.deserialize(DeValue::Table(table), span, &context, unknown)
                    }
                })
                .collect(),
        };
        let top = self.deserialize(DeValue::Table(table), key_span, "alerts", unknown);
        AlertsParts {
            top,
            outbox,
            receivers,
            routes,
        }
    }

    /// The items of `[[CONTEXT]]`, each `(index, span, table)`; an item
    /// that is not a table is reported and comes as `None`.
    fn array_of_tables<'de>(
        &mut self,
        value: Spanned<DeValue<'de>>,
        context: &str,
        header: &str,
    ) -> Vec<(usize, Range<usize>, Option<DeTable<'de>>)> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let span = item.span();
                    match item.into_inner() {
                        DeValue::Table(table) => (i, span, Some(table)),
                        other => {
                            let message = format!(
                                "{context}[{i}] must be a table (a {header} section), found {}",
                                other.type_str()
                            );
                            self.type_error(Some(span.clone()), &message);
                            (i, span, None)
                        }
                    }
                })
                .collect(),
            other => {
                let message = format!(
                    "`{context}` must be an array of tables ({header} sections), found {}",
                    other.type_str()
                );
                self.type_error(Some(span), &message);
                Vec::new()
            }
        }
    }

    fn receiver(
        &mut self,
        i: usize,
        span: Range<usize>,
        table: Option<DeTable<'_>>,
    ) -> ReceiverPart {
        let Some(mut table) = table else {
            return ReceiverPart {
                name: None,
                read: Read::Invalid,
            };
        };
        let context = format!("alerts.receivers[{i}]");
        let name = match table.get("name").map(|v| v.get_ref()) {
            Some(DeValue::String(s)) => Some(s.to_string()),
            _ => None,
        };
        let kind = match table.get_key_value("type") {
            None => {
                let message = format!(
                    "{context}: missing key `type`: one of `email`, `webhook`, `alertmanager`, `log`"
                );
                self.type_error(Some(span.clone()), &message);
                None
            }
            Some((_, value)) => {
                let value_span = value.span();
                let value = value.get_ref().clone();
                match ReceiverType::deserialize(ValueDeserializer::from(Spanned::new(
                    value_span.clone(),
                    value,
                ))) {
                    Ok(kind) => Some(kind),
                    Err(e) => {
                        let message =
                            format!("{context}: `type`: {}", with_suggestion(e.message()));
                        self.type_error(e.span().or(Some(value_span)), &message);
                        None
                    }
                }
            }
        };
        let Some(kind) = kind else {
            return ReceiverPart {
                name,
                read: Read::Invalid,
            };
        };
        let known = match kind {
            ReceiverType::Email => EMAIL_KEYS,
            ReceiverType::Webhook => WEBHOOK_KEYS,
            ReceiverType::Alertmanager => ALERTMANAGER_KEYS,
            ReceiverType::Log => LOG_KEYS,
        };
        let unknown = self.drop_unknown_keys(&mut table, known, &context);
        let value = DeValue::Table(table);
        let read = match kind {
            ReceiverType::Email => self.map(value, span, &context, unknown, RawReceiver::Email),
            ReceiverType::Webhook => self.map(value, span, &context, unknown, RawReceiver::Webhook),
            ReceiverType::Alertmanager => {
                self.map(value, span, &context, unknown, RawReceiver::Alertmanager)
            }
            ReceiverType::Log => self.map(value, span, &context, unknown, RawReceiver::Log),
        };
        ReceiverPart { name, read }
    }

    fn map<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: DeValue<'_>,
        span: Range<usize>,
        context: &str,
        after_unknown_keys: bool,
        wrap: impl FnOnce(T) -> RawReceiver,
    ) -> Read<RawReceiver> {
        match self.deserialize(value, span, context, after_unknown_keys) {
            Read::Present(raw) => Read::Present(wrap(raw)),
            Read::Invalid => Read::Invalid,
            Read::Absent => Read::Absent,
        }
    }

    /// A sub-table (`[alerts.outbox]`).
    fn table<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        key_span: Range<usize>,
        context: &str,
        known: &[&str],
    ) -> Read<T> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(mut table) => {
                let unknown = self.drop_unknown_keys(&mut table, known, context);
                self.deserialize(DeValue::Table(table), key_span, context, unknown)
            }
            other => {
                let message = format!("`{context}` must be a table, found {}", other.type_str());
                self.type_error(Some(span), &message);
                Read::Invalid
            }
        }
    }

    /// Reports and removes every key of `table` not in `known` (serde
    /// stops at the first); true if there were any. A key that looks like
    /// a secret written in the file gets the reason it is refused.
    fn drop_unknown_keys(
        &mut self,
        table: &mut DeTable<'_>,
        known: &[&str],
        context: &str,
    ) -> bool {
        let unknown: Vec<(String, Range<usize>)> = table
            .keys()
            .filter(|k| !known.contains(&k.get_ref().as_ref()))
            .map(|k| (k.get_ref().to_string(), k.span()))
            .collect();
        for (key, span) in &unknown {
            table.remove(key.as_str());
            let key = key.as_str();
            let mut message = format!("{context}: unknown key `{key}`");
            let file_key = format!("{key}_file");
            if matches!(key, "password" | "secret") && known.contains(&file_key.as_str()) {
                message.push_str(&format!(
                    "; never write a secret into the config: use `{key}_file` (a file holding it) \
                     or `{key}_env` (an environment variable holding it)"
                ));
            } else if let Some(near) = closest(key, known) {
                message.push_str(&format!("; did you mean `{near}`?"));
            } else {
                let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                message.push_str(&format!("; expected one of {}", known.join(", ")));
            }
            self.type_error(Some(span.clone()), &message);
        }
        !unknown.is_empty()
    }

    /// Deserializes one table; `span` is where a missing key is reported.
    /// After unknown keys were reported, a missing key is most likely one
    /// of them, misspelt: it is not reported again.
    fn deserialize<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: DeValue<'_>,
        span: Range<usize>,
        context: &str,
        after_unknown_keys: bool,
    ) -> Read<T> {
        match T::deserialize(ValueDeserializer::from(Spanned::new(span.clone(), value))) {
            Ok(v) => Read::Present(v),
            Err(e) if after_unknown_keys && e.message().starts_with("missing field") => {
                Read::Invalid
            }
            Err(e) => {
                let message = format!("{context}: {}", with_suggestion(e.message()));
                self.type_error(e.span().or(Some(span)), &message);
                Read::Invalid
            }
        }
    }

    fn type_error(&mut self, span: Option<Range<usize>>, message: &str) {
        self.diagnostics
            .push(self.locate.error(DiagnosticKind::Type, span, message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's list of expected keys, from an unknown-key error.
    fn serde_keys<T: for<'de> Deserialize<'de>>() -> Vec<String> {
        let (tree, errors) = DeTable::parse_recoverable("zzz_unknown = 1");
        assert!(errors.is_empty());
        let span = tree.span();
        let value = DeValue::Table(tree.into_inner());
        let Err(e) = T::deserialize(ValueDeserializer::from(Spanned::new(span, value))) else {
            panic!("unknown key accepted");
        };
        let mut keys: Vec<String> = e
            .message()
            .split('`')
            .skip(1)
            .step_by(2)
            .skip(1)
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn key_lists_match_the_structs() {
        assert_eq!(serde_keys::<RawAlerts>(), sorted(ALERTS_KEYS));
        assert_eq!(serde_keys::<RawOutbox>(), sorted(OUTBOX_KEYS));
        assert_eq!(serde_keys::<RawEmail>(), sorted(EMAIL_KEYS));
        assert_eq!(serde_keys::<RawWebhook>(), sorted(WEBHOOK_KEYS));
        assert_eq!(serde_keys::<RawAlertmanager>(), sorted(ALERTMANAGER_KEYS));
        assert_eq!(serde_keys::<RawLog>(), sorted(LOG_KEYS));
        assert_eq!(serde_keys::<RawRoute>(), sorted(ROUTE_KEYS));
    }
}
