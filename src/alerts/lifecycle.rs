//! The alert lifecycle, without I/O: closed windows in, alert states and
//! the notifications to send out.
//!
//! An alert is a route's group of findings for one model (its identity:
//! the route and the group's labels, hashed into a fingerprint). When a
//! model's window closes, each route that applies to the model groups the
//! window's matching findings; for each group:
//!
//! - present: `pending` (a new alert) until it has been present in
//!   `for_windows` consecutive windows, then `firing`;
//! - absent: a pending alert is dropped (it never fired); a firing one
//!   resolves after `resolve_after_windows` consecutive windows without it.
//!
//! Notifications follow from the state and from what was last sent: a
//! firing alert that was not notified as firing is (unless silenced), and
//! again every `repeat_interval`; a resolved alert whose firing was
//! notified gets a resolved notification (when the route sends them).
//! Alertmanager receivers also get a firing alert re-posted every
//! `resend_interval` (an Alertmanager resolves an alert its client stops
//! posting). So a flapping finding cannot make a storm: at most one firing
//! and one resolved notification per `for_windows` / `resolve_after_windows`
//! cycle, and a restart, which keeps the states and what was sent, neither
//! re-notifies nor forgets.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::finding::{AlertFinding, FindingStream, WindowFindings, WindowRef};
use super::route::{Labels, Route, fingerprint, fingerprint_of};
use super::silence::Silences;

/// How long a resolved alert stays listed (`GET /v1/alerts`).
pub const RESOLVED_KEPT: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// What a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The alert started firing (or a silence over it ended).
    Fired,
    /// Still firing after `repeat_interval`.
    Repeat,
    /// Re-posted to an Alertmanager (`resend_interval`).
    Refresh,
    Resolved,
    /// `assay alerts test`.
    Test,
}

/// What was last notified for an alert (to all its route's receivers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    pub status: Status,
    pub at_ms: i64,
}

/// The latest delivery of an alert to one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub delivery_id: String,
    pub status: Status,
    /// `queued`, `sent`, `retrying`, `dead_lettered` or `dropped`.
    pub state: String,
    pub attempts: u32,
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub fingerprint: String,
    pub route: String,
    pub model: String,
    pub labels: Labels,
    pub state: AlertState,
    /// When it entered its state (ms since the epoch).
    pub since_ms: i64,
    /// The first window of this incident.
    pub started_ms: i64,
    /// The last window that had the findings.
    pub last_seen_ms: i64,
    /// Shared with the window's other alerts.
    #[serde(with = "shared")]
    pub window: Arc<WindowRef>,
    /// Consecutive windows with, and without, the findings.
    pub present: u32,
    pub absent: u32,
    /// The findings of the last window that had them (shared with the
    /// window's other alerts: a finding may be in many routes' alerts).
    #[serde(with = "shared::list")]
    pub findings: Vec<Arc<AlertFinding>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified: Option<Notified>,
    /// Last post to each Alertmanager receiver.
    #[serde(default)]
    pub refreshed: BTreeMap<String, i64>,
    #[serde(default)]
    pub deliveries: BTreeMap<String, Delivery>,
    /// The evaluations that make it present or absent.
    #[serde(default)]
    pub stream: FindingStream,
}

/// Every alert, and the last window evaluated per model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertBook {
    pub alerts: BTreeMap<String, Alert>,
    pub last_seq: BTreeMap<String, u64>,
}

/// A notification to send: the alert, what it says, to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub fingerprint: String,
    pub status: Status,
    pub reason: Reason,
    pub receivers: Vec<String>,
    /// What makes its delivery ids: the window that caused it, or the time
    /// of a timed one (repeat, refresh).
    pub cause: String,
    /// When what it reports happened (ms): the window's close, or now.
    pub event_ms: i64,
}

/// The routes, and which receivers are Alertmanagers (re-posted every
/// `resend_interval`).
pub struct Engine {
    routes: Vec<Route>,
    by_name: HashMap<String, usize>,
    resend: BTreeMap<String, Duration>,
}

impl Engine {
    pub fn new(routes: Vec<Route>, resend: BTreeMap<String, Duration>) -> Self {
        let by_name = routes
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name().to_string(), i))
            .collect();
        Self {
            routes,
            by_name,
            resend,
        }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn route(&self, name: &str) -> Option<&Route> {
        self.by_name.get(name).map(|&i| &self.routes[i])
    }

    /// Drops alerts whose route is gone from the configuration (names
    /// them, for the log).
    pub fn forget_unrouted(&self, book: &mut AlertBook) -> Vec<String> {
        let gone: Vec<String> = book
            .alerts
            .values()
            .filter(|a| self.route(&a.route).is_none())
            .map(|a| format!("{} (route {})", a.fingerprint, a.route))
            .collect();
        book.alerts
            .retain(|_, a| self.by_name.contains_key(&a.route));
        gone
    }

    /// A closed window: the alerts' new states and the notifications they
    /// call for. A window evaluated before (its sequence number is not
    /// past the model's last) changes nothing.
    pub fn evaluate(
        &self,
        book: &mut AlertBook,
        window: &WindowFindings,
        silences: &Silences,
        now_ms: i64,
    ) -> Vec<Send> {
        let model = window.window.model.as_str();
        // Closed windows come in order, each once (a restart's catch-up may
        // repeat one). Windows turn final out of order; the daemon gives
        // each final window once.
        if window.stream == FindingStream::Windows {
            if book
                .last_seq
                .get(model)
                .is_some_and(|&last| window.seq <= last)
            {
                return Vec::new();
            }
            book.last_seq.insert(model.to_string(), window.seq);
        }
        // The window and each finding copied once, then shared by every
        // alert that has them.
        let window_ref = Arc::new(window.window.clone());
        let shared: Vec<Arc<AlertFinding>> =
            window.findings.iter().cloned().map(Arc::new).collect();
        // Each route's open alerts of this model, before this window: the
        // candidates for being absent from it.
        let mut open: HashMap<&str, Vec<String>> = HashMap::new();
        for a in book.alerts.values() {
            if a.model == model && a.stream == window.stream && a.state != AlertState::Resolved {
                open.entry(a.route.as_str())
                    .or_default()
                    .push(a.fingerprint.clone());
            }
        }
        let mut open: HashMap<String, Vec<String>> = open
            .into_iter()
            .map(|(route, fps)| (route.to_string(), fps))
            .collect();
        let mut touched = Vec::new();
        for route in self.routes.iter().filter(|r| r.applies_to(model)) {
            // The window's groups for this route, in first-seen order.
            let mut groups: foldhash::HashMap<Vec<&str>, Vec<&Arc<AlertFinding>>> =
                foldhash::HashMap::default();
            let mut order: Vec<Vec<&str>> = Vec::new();
            for f in shared.iter().filter(|f| route.matches(f)) {
                let key = route.group_values(model, f);
                match groups.get_mut(&key) {
                    Some(members) => members.push(f),
                    None => {
                        order.push(key.clone());
                        groups.insert(key, vec![f]);
                    }
                }
            }
            let mut present: foldhash::HashSet<String> = foldhash::HashSet::default();
            for key in order {
                let findings: Vec<Arc<AlertFinding>> =
                    groups[&key].iter().map(|f| Arc::clone(f)).collect();
                let fp = self.present(book, route, &key, window, &window_ref, findings);
                present.insert(fp.clone());
                touched.push(fp);
            }
            // The route's alerts of this model without findings now.
            let absent: Vec<String> = open
                .remove(route.name())
                .unwrap_or_default()
                .into_iter()
                .filter(|fp| !present.contains(fp))
                .collect();
            for fp in absent {
                if self.absent(book, route, &fp, window) {
                    touched.push(fp);
                }
            }
        }
        let mut sends = Vec::new();
        for fp in touched {
            sends.extend(self.decide(
                book,
                &fp,
                silences,
                now_ms,
                &window.window.id,
                window.closed_ms,
            ));
        }
        sends
    }

    /// A group present in the window (its values in `group_by` order; the
    /// window closed at `at`): its alert's fingerprint.
    fn present(
        &self,
        book: &mut AlertBook,
        route: &Route,
        values: &[&str],
        window: &WindowFindings,
        window_ref: &Arc<WindowRef>,
        findings: Vec<Arc<AlertFinding>>,
    ) -> String {
        let at = window.closed_ms;
        let stream = window.stream;
        let fp = match stream {
            FindingStream::Windows => fingerprint_of(route, values),
            // Its own alert even where the route's groups do not tell the
            // streams apart (a route grouped by model only).
            FindingStream::Quality => fingerprint(
                &format!("{}\u{0}quality", route.name()),
                &route.labels(values),
            ),
        };
        let alert = book
            .alerts
            .entry(fp.clone())
            .and_modify(|a| {
                if a.state == AlertState::Resolved {
                    // A new incident of the same group.
                    a.state = AlertState::Pending;
                    a.since_ms = at;
                    a.started_ms = at;
                    a.present = 0;
                    a.resolved_ms = None;
                }
            })
            .or_insert_with(|| Alert {
                fingerprint: fp.clone(),
                route: route.name().to_string(),
                model: window_ref.model.clone(),
                labels: route.labels(values),
                state: AlertState::Pending,
                since_ms: at,
                started_ms: at,
                last_seen_ms: at,
                window: Arc::clone(window_ref),
                present: 0,
                absent: 0,
                findings: Vec::new(),
                resolved_ms: None,
                notified: None,
                refreshed: BTreeMap::new(),
                deliveries: BTreeMap::new(),
                stream,
            });
        alert.present = alert.present.saturating_add(1);
        alert.absent = 0;
        alert.last_seen_ms = at;
        alert.window = Arc::clone(window_ref);
        alert.findings = findings;
        if alert.state == AlertState::Pending && alert.present >= route.config.for_windows {
            alert.state = AlertState::Firing;
            alert.since_ms = at;
        }
        fp
    }

    /// A group absent from the window; whether the alert changed in a way
    /// that may call for a notification.
    fn absent(
        &self,
        book: &mut AlertBook,
        route: &Route,
        fp: &str,
        window: &WindowFindings,
    ) -> bool {
        let Some(alert) = book.alerts.get_mut(fp) else {
            return false;
        };
        alert.absent = alert.absent.saturating_add(1);
        alert.present = 0;
        match alert.state {
            AlertState::Pending => {
                // It never fired: forgotten.
                book.alerts.remove(fp);
                false
            }
            AlertState::Firing if alert.absent >= route.config.resolve_after_windows => {
                alert.state = AlertState::Resolved;
                alert.since_ms = window.closed_ms;
                alert.resolved_ms = Some(window.closed_ms);
                true
            }
            _ => false,
        }
    }

    /// The notifications an alert calls for now, recorded as sent.
    fn decide(
        &self,
        book: &mut AlertBook,
        fp: &str,
        silences: &Silences,
        now_ms: i64,
        cause: &str,
        event_ms: i64,
    ) -> Vec<Send> {
        let Some(alert) = book.alerts.get_mut(fp) else {
            return Vec::new();
        };
        let Some(route) = self.route(&alert.route) else {
            return Vec::new();
        };
        let config = &route.config;
        let send = |status, reason, receivers: Vec<String>| Send {
            fingerprint: fp.to_string(),
            status,
            reason,
            receivers,
            cause: cause.to_string(),
            event_ms,
        };
        let notified_firing = alert.notified.is_some_and(|n| n.status == Status::Firing);
        match alert.state {
            AlertState::Pending => Vec::new(),
            AlertState::Firing => {
                if silences.silenced(&alert.labels, &alert.route, now_ms) {
                    return Vec::new();
                }
                let reason = match alert.notified {
                    Some(n) if n.status == Status::Firing => {
                        if now_ms - n.at_ms < config.repeat_interval.as_millis() as i64 {
                            return self.refresh(alert, route, now_ms, cause, event_ms);
                        }
                        Reason::Repeat
                    }
                    _ => Reason::Fired,
                };
                alert.notified = Some(Notified {
                    status: Status::Firing,
                    at_ms: now_ms,
                });
                for receiver in &config.receivers {
                    if self.resend.contains_key(receiver) {
                        alert.refreshed.insert(receiver.clone(), now_ms);
                    }
                }
                vec![send(Status::Firing, reason, config.receivers.clone())]
            }
            AlertState::Resolved if notified_firing => {
                alert.notified = Some(Notified {
                    status: Status::Resolved,
                    at_ms: now_ms,
                });
                alert.refreshed.clear();
                if config.send_resolved {
                    vec![send(
                        Status::Resolved,
                        Reason::Resolved,
                        config.receivers.clone(),
                    )]
                } else {
                    // Alertmanager resolves what it is told has ended, even
                    // when the route sends no resolved message to people.
                    let am: Vec<String> = config
                        .receivers
                        .iter()
                        .filter(|r| self.resend.contains_key(*r))
                        .cloned()
                        .collect();
                    if am.is_empty() {
                        Vec::new()
                    } else {
                        vec![send(Status::Resolved, Reason::Resolved, am)]
                    }
                }
            }
            AlertState::Resolved => Vec::new(),
        }
    }

    /// Re-posts to the route's Alertmanager receivers whose
    /// `resend_interval` has passed.
    fn refresh(
        &self,
        alert: &mut Alert,
        route: &Route,
        now_ms: i64,
        cause: &str,
        event_ms: i64,
    ) -> Vec<Send> {
        let due: Vec<String> = route
            .config
            .receivers
            .iter()
            .filter(|r| {
                self.resend.get(*r).is_some_and(|every| {
                    alert
                        .refreshed
                        .get(*r)
                        .is_none_or(|&at| now_ms - at >= every.as_millis() as i64)
                })
            })
            .cloned()
            .collect();
        if due.is_empty() {
            return Vec::new();
        }
        for r in &due {
            alert.refreshed.insert(r.clone(), now_ms);
        }
        vec![Send {
            fingerprint: alert.fingerprint.clone(),
            status: Status::Firing,
            reason: Reason::Refresh,
            receivers: due,
            cause: cause.to_string(),
            event_ms,
        }]
    }

    /// Timed work: repeats, Alertmanager re-posts, notifications held by a
    /// silence that ended, and forgetting alerts resolved more than
    /// [`RESOLVED_KEPT`] ago.
    pub fn tick(&self, book: &mut AlertBook, silences: &Silences, now_ms: i64) -> Vec<Send> {
        let kept = RESOLVED_KEPT.as_millis() as i64;
        book.alerts.retain(|_, a| {
            a.state != AlertState::Resolved || a.resolved_ms.is_none_or(|r| now_ms - r < kept)
        });
        let firing: Vec<String> = book
            .alerts
            .values()
            .filter(|a| a.state == AlertState::Firing)
            .map(|a| a.fingerprint.clone())
            .collect();
        let cause = format!("t{now_ms}");
        let mut sends = Vec::new();
        for fp in firing {
            sends.extend(self.decide(book, &fp, silences, now_ms, &cause, now_ms));
        }
        sends
    }
}

/// Shared parts of an alert (`Arc`s) on disk and in `GET /v1/alerts`: as
/// the values themselves (the sharing is in memory only).
mod shared {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
        (**value).serialize(s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<T>, D::Error> {
        T::deserialize(d).map(Arc::new)
    }

    pub mod list {
        use super::*;

        pub fn serialize<T: Serialize, S: Serializer>(
            values: &[Arc<T>],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.collect_seq(values.iter().map(|v| &**v))
        }

        pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Arc<T>>, D::Error> {
            Ok(Vec::<T>::deserialize(d)?
                .into_iter()
                .map(Arc::new)
                .collect())
        }
    }
}

#[cfg(test)]
mod tests;
