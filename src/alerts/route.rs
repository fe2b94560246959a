//! Routes, compiled: which findings a route takes (its matchers), the
//! group each goes to, and the fingerprint that names an alert.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::config::{GroupLabel, RouteConfig};
use super::finding::AlertFinding;

/// An alert's labels: its route's `group_by` labels and their values
/// (`model` always among them).
pub type Labels = BTreeMap<String, String>;

/// A route with its globs compiled.
#[derive(Debug, Clone)]
pub struct Route {
    pub config: RouteConfig,
    features: Vec<glob::Pattern>,
    slices: Vec<glob::Pattern>,
}

impl Route {
    /// Compiles the route's globs; the config was checked, so a glob that
    /// does not compile cannot happen, and matches nothing if it did.
    /// `model` joins the group labels if missing: windows, and so alerts,
    /// are per model.
    pub fn new(mut config: RouteConfig) -> Self {
        if !config.group_by.contains(&GroupLabel::Model) {
            config.group_by.insert(0, GroupLabel::Model);
        }
        let compile = |globs: &[String]| {
            globs
                .iter()
                .map(|g| glob::Pattern::new(g).unwrap_or_else(|_| never()))
                .collect()
        };
        Self {
            features: compile(&config.features),
            slices: compile(&config.slices),
            config,
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether the route takes findings of `model` at all.
    pub fn applies_to(&self, model: &str) -> bool {
        self.config.models.is_empty() || self.config.models.iter().any(|m| m == model)
    }

    /// Whether the route takes this finding (of a model it applies to):
    /// every matcher that is set matches. Cheap tests first.
    pub fn matches(&self, f: &AlertFinding) -> bool {
        let c = &self.config;
        (c.checks.is_empty() || c.checks.contains(&f.check))
            && (c.severities.is_empty() || c.severities.contains(&f.severity))
            && globs_match(&self.features, f.feature.as_deref())
            && globs_match(&self.slices, f.slice.as_deref())
    }

    /// The label values that make a finding's group, in `group_by` order
    /// (the model's value is `model`).
    pub fn group_values<'a>(&self, model: &'a str, f: &'a AlertFinding) -> Vec<&'a str> {
        self.config
            .group_by
            .iter()
            .map(|label| match label {
                GroupLabel::Model => model,
                other => f.label(*other),
            })
            .collect()
    }

    /// The labels of a group from its values.
    pub fn labels(&self, values: &[&str]) -> Labels {
        self.config
            .group_by
            .iter()
            .zip(values)
            .map(|(label, value)| (label.as_str().to_string(), value.to_string()))
            .collect()
    }
}

/// A pattern that matches nothing (a glob that failed to compile).
fn never() -> glob::Pattern {
    glob::Pattern::new("[!\u{0}-\u{10FFFF}]").unwrap_or_default()
}

/// An empty list matches anything; otherwise the value must be there and
/// match one of the globs.
fn globs_match(globs: &[glob::Pattern], value: Option<&str>) -> bool {
    if globs.is_empty() {
        return true;
    }
    value.is_some_and(|v| globs.iter().any(|g| g.matches(v)))
}

/// An alert's identity: its route and its group's labels, hashed (hex, 16
/// characters). Stable across restarts and releases.
pub fn fingerprint(route: &str, labels: &Labels) -> String {
    let mut hash = Sha256::new();
    hash.update(route.as_bytes());
    for (name, value) in labels {
        hash.update([0u8]);
        hash.update(name.as_bytes());
        hash.update([1u8]);
        hash.update(value.as_bytes());
    }
    hex(&hash.finalize()[..8])
}

/// [`fingerprint`] of a route's group from its values in `group_by`
/// order, without building its labels (the evaluation of every window
/// computes one per group).
pub fn fingerprint_of(route: &Route, values: &[&str]) -> String {
    let mut pairs: Vec<(&str, &str)> = route
        .config
        .group_by
        .iter()
        .map(|l| l.as_str())
        .zip(values.iter().copied())
        .collect();
    // As the labels' map orders and dedups them.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs.dedup_by(|later, first| later.0 == first.0);
    let mut hash = Sha256::new();
    hash.update(route.name().as_bytes());
    for (name, value) in pairs {
        hash.update([0u8]);
        hash.update(name.as_bytes());
        hash.update([1u8]);
        hash.update(value.as_bytes());
    }
    hex(&hash.finalize()[..8])
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::config::AlertCheck;
    use crate::checks::Severity;
    use serde_json::json;

    pub(crate) fn route(group_by: &[GroupLabel]) -> RouteConfig {
        RouteConfig {
            name: "r".into(),
            receivers: vec!["log".into()],
            models: vec![],
            checks: vec![],
            severities: vec![],
            features: vec![],
            slices: vec![],
            for_windows: 1,
            resolve_after_windows: 1,
            group_by: group_by.to_vec(),
            repeat_interval: std::time::Duration::from_secs(3600),
            send_resolved: true,
            runbook_url: None,
        }
    }

    fn finding(check: AlertCheck, feature: Option<&str>, slice: Option<&str>) -> AlertFinding {
        AlertFinding {
            check,
            kind: "feature_skew".into(),
            severity: Severity::Error,
            feature: feature.map(str::to_string),
            slice: slice.map(str::to_string),
            observed: json!(null),
            expected: json!(null),
            explanation: String::new(),
        }
    }

    #[test]
    fn matchers_are_anded_and_lists_ored() {
        let mut config = route(&[GroupLabel::Model]);
        config.checks = vec![AlertCheck::Skew, AlertCheck::Drift];
        config.features = vec!["income*".into(), "age".into()];
        let r = Route::new(config);
        assert!(r.matches(&finding(AlertCheck::Skew, Some("income_k"), None)));
        assert!(r.matches(&finding(AlertCheck::Drift, Some("age"), Some("sex=F"))));
        assert!(!r.matches(&finding(AlertCheck::Drift, Some("agency"), None)));
        assert!(!r.matches(&finding(AlertCheck::Schema, Some("income"), None)));
        // A dataset-level finding has no feature: only routes without
        // `features` take it.
        assert!(!r.matches(&finding(AlertCheck::Skew, None, None)));
        let mut config = route(&[GroupLabel::Model]);
        config.slices = vec!["sex=*".into()];
        config.severities = vec![Severity::Warning];
        let r = Route::new(config);
        let mut f = finding(AlertCheck::Skew, Some("x"), Some("sex=F"));
        assert!(!r.matches(&f));
        f.severity = Severity::Warning;
        assert!(r.matches(&f));
        f.slice = None;
        assert!(!r.matches(&f));
    }

    #[test]
    fn models_restrict_the_route() {
        let mut config = route(&[GroupLabel::Model]);
        assert!(Route::new(config.clone()).applies_to("any"));
        config.models = vec!["credit".into()];
        let r = Route::new(config);
        assert!(r.applies_to("credit"));
        assert!(!r.applies_to("fraud"));
    }

    #[test]
    fn fingerprints_depend_on_route_and_every_label() {
        let r = Route::new(route(&[GroupLabel::Model, GroupLabel::Check]));
        let f = finding(AlertCheck::Skew, Some("a"), None);
        let values = r.group_values("credit", &f);
        assert_eq!(values, ["credit", "skew"]);
        let labels = r.labels(&values);
        let a = fingerprint("r", &labels);
        assert_eq!(a, fingerprint_of(&r, &values));
        assert_eq!(a.len(), 16);
        assert_eq!(a, fingerprint("r", &labels.clone()));
        assert_ne!(a, fingerprint("other", &labels));
        let mut changed = labels.clone();
        changed.insert("check".into(), "drift".into());
        assert_ne!(a, fingerprint("r", &changed));
        // Names and values cannot run into each other.
        let mut x = Labels::new();
        x.insert("ab".into(), "c".into());
        let mut y = Labels::new();
        y.insert("a".into(), "bc".into());
        assert_ne!(fingerprint("r", &x), fingerprint("r", &y));
    }
}
