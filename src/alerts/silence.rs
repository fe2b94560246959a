//! Silences: matchers on an alert's labels, until a time. A silenced
//! alert keeps its lifecycle (pending, firing, resolved) but is not
//! notified while the silence lasts; if it is still firing when the
//! silence ends, it is notified then. A resolved notification for a
//! firing notification already sent is still sent, so that no incident is
//! left open at a receiver.
//!
//! `POST /v1/silences`, `GET /v1/silences`, `DELETE /v1/silences/{id}`;
//! kept in the state directory (`alerts/silences.json`).

use serde::{Deserialize, Serialize};

use super::route::{Labels, hex};

/// The labels a matcher may name: an alert's group labels, and its route.
pub const MATCHER_NAMES: [&str; 7] = [
    "model", "route", "check", "severity", "kind", "feature", "slice",
];

/// How long an expired silence stays listed.
const EXPIRED_KEPT_MS: i64 = 24 * 3600 * 1000;

/// One matcher, in Alertmanager's shape: `name` (a label), `value`, and
/// whether `value` is a regular expression (anchored) and whether the
/// match is negated (`isEqual = false`). A label an alert does not have
/// has the value `""`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(default, rename = "isRegex")]
    pub is_regex: bool,
    #[serde(default = "yes", rename = "isEqual")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl Matcher {
    fn matches(&self, labels: &Labels, route: &str) -> bool {
        let value = if self.name == "route" {
            route
        } else {
            labels.get(&self.name).map_or("", String::as_str)
        };
        let hit = if self.is_regex {
            regex::Regex::new(&format!("^(?:{})$", self.value)).is_ok_and(|r| r.is_match(value))
        } else {
            value == self.value
        };
        hit == self.is_equal
    }
}

/// A silence as stored and listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    /// RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
    pub comment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub starts_ms: i64,
    pub ends_ms: i64,
}

impl Silence {
    pub fn active(&self, now_ms: i64) -> bool {
        self.starts_ms <= now_ms && now_ms < self.ends_ms
    }

    pub fn matches(&self, labels: &Labels, route: &str) -> bool {
        self.matchers.iter().all(|m| m.matches(labels, route))
    }

    /// `active`, `pending` (starts later) or `expired`.
    pub fn state(&self, now_ms: i64) -> &'static str {
        if now_ms < self.starts_ms {
            "pending"
        } else if now_ms < self.ends_ms {
            "active"
        } else {
            "expired"
        }
    }
}

/// The body of `POST /v1/silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub matchers: Vec<Matcher>,
    /// RFC 3339; default: now.
    pub starts_at: Option<String>,
    pub ends_at: String,
    pub comment: String,
    pub created_by: Option<String>,
}

impl NewSilence {
    /// Checks the request; the silence, or every problem in one message.
    pub fn into_silence(self, now_ms: i64) -> Result<Silence, String> {
        let mut problems = Vec::new();
        if self.matchers.is_empty() {
            problems.push(
                "`matchers` is empty: a silence needs at least one matcher \
                 (e.g. {\"name\": \"model\", \"value\": \"credit\"})"
                    .to_string(),
            );
        }
        for (i, m) in self.matchers.iter().enumerate() {
            if !MATCHER_NAMES.contains(&m.name.as_str()) {
                problems.push(format!(
                    "matchers[{i}]: unknown label {:?}; expected one of {}",
                    m.name,
                    MATCHER_NAMES.join(", ")
                ));
            }
            if m.is_regex
                && let Err(e) = regex::Regex::new(&format!("^(?:{})$", m.value))
            {
                problems.push(format!("matchers[{i}]: invalid regular expression: {e}"));
            }
        }
        if self.comment.trim().is_empty() {
            problems.push("`comment` is empty: say why the alerts are silenced".into());
        }
        let time = |key: &str, text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis())
                .map_err(|e| format!("`{key}`: not an RFC 3339 time ({e}): {text:?}"))
        };
        let starts_ms = match &self.starts_at {
            None => Ok(now_ms),
            Some(text) => time("starts_at", text),
        };
        let ends_ms = time("ends_at", &self.ends_at);
        if let (Ok(starts), Ok(ends)) = (&starts_ms, &ends_ms) {
            if *ends <= now_ms {
                problems.push("`ends_at` is in the past".into());
            } else if ends <= starts {
                problems.push("`ends_at` is not after `starts_at`".into());
            }
        }
        for e in [&starts_ms, &ends_ms]
            .into_iter()
            .filter_map(|r| r.as_ref().err())
        {
            problems.push(e.clone());
        }
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let (starts_ms, ends_ms) = (starts_ms.unwrap_or(now_ms), ends_ms.unwrap_or(now_ms));
        Ok(Silence {
            id: new_id(),
            matchers: self.matchers,
            starts_at: rfc3339(starts_ms),
            ends_at: rfc3339(ends_ms),
            comment: self.comment,
            created_by: self.created_by,
            starts_ms,
            ends_ms,
        })
    }
}

/// Every silence, as kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Silences {
    pub silences: Vec<Silence>,
}

impl Silences {
    /// The ids of the active silences matching an alert.
    pub fn matching(&self, labels: &Labels, route: &str, now_ms: i64) -> Vec<String> {
        self.silences
            .iter()
            .filter(|s| s.active(now_ms) && s.matches(labels, route))
            .map(|s| s.id.clone())
            .collect()
    }

    pub fn silenced(&self, labels: &Labels, route: &str, now_ms: i64) -> bool {
        self.silences
            .iter()
            .any(|s| s.active(now_ms) && s.matches(labels, route))
    }

    /// Forgets silences expired more than a day ago; whether any were.
    pub fn prune(&mut self, now_ms: i64) -> bool {
        let before = self.silences.len();
        self.silences
            .retain(|s| now_ms - s.ends_ms < EXPIRED_KEPT_MS);
        self.silences.len() != before
    }
}

/// A random silence id (32 hex digits).
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: time and a counter still make ids unique here.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&super::now_ms().to_le_bytes());
        bytes[8..].copy_from_slice(&n.to_le_bytes());
    }
    hex(&bytes)
}

pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn new(matchers: Vec<Matcher>, ends_at: &str) -> NewSilence {
        NewSilence {
            matchers,
            starts_at: None,
            ends_at: ends_at.into(),
            comment: "maintenance".into(),
            created_by: None,
        }
    }

    fn m(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.into(),
            value: value.into(),
            is_regex: false,
            is_equal: true,
        }
    }

    #[test]
    fn matchers_equal_regex_and_negated() {
        let now = 1_700_000_000_000;
        let s = new(
            vec![
                m("model", "credit"),
                Matcher {
                    is_regex: true,
                    ..m("check", "skew|drift")
                },
                Matcher {
                    is_equal: false,
                    ..m("route", "pager")
                },
            ],
            "2100-01-01T00:00:00Z",
        )
        .into_silence(now)
        .unwrap();
        let a = labels(&[("model", "credit"), ("check", "skew")]);
        assert!(s.matches(&a, "email"));
        assert!(!s.matches(&a, "pager"));
        assert!(!s.matches(&labels(&[("model", "credit"), ("check", "schema")]), "x"));
        // A label the alert does not have is "".
        assert!(!s.matches(&labels(&[("model", "credit")]), "x"));
        let set = Silences {
            silences: vec![s.clone()],
        };
        assert_eq!(set.matching(&a, "email", now), vec![s.id.clone()]);
        assert!(!set.silenced(&a, "email", s.ends_ms));
    }

    #[test]
    fn bad_requests_list_every_problem() {
        let e = NewSilence {
            matchers: vec![
                m("modle", "x"),
                Matcher {
                    is_regex: true,
                    ..m("check", "(")
                },
            ],
            starts_at: None,
            ends_at: "yesterday".into(),
            comment: " ".into(),
            created_by: None,
        }
        .into_silence(0)
        .unwrap_err();
        for want in [
            "unknown label \"modle\"",
            "invalid regular expression",
            "`comment`",
            "`ends_at`",
        ] {
            assert!(e.contains(want), "{want} not in {e}");
        }
        let past = new(vec![m("model", "x")], "2000-01-01T00:00:00Z")
            .into_silence(1_700_000_000_000)
            .unwrap_err();
        assert!(past.contains("in the past"), "{past}");
        assert!(new(vec![], "2100-01-01T00:00:00Z").into_silence(0).is_err());
    }

    #[test]
    fn expired_silences_are_forgotten_after_a_day() {
        let s = new(vec![m("model", "x")], "2100-01-01T00:00:00Z")
            .into_silence(0)
            .unwrap();
        let mut set = Silences {
            silences: vec![s.clone()],
        };
        assert_eq!(s.state(s.ends_ms - 1), "active");
        assert_eq!(s.state(s.ends_ms), "expired");
        assert!(!set.prune(s.ends_ms + 1000));
        assert!(set.prune(s.ends_ms + EXPIRED_KEPT_MS));
        assert!(set.silences.is_empty());
    }
}
