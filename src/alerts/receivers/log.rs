//! `type = "log"`: one structured log line per notification (`warn` when
//! firing, `info` when resolved), on the daemon's log. What `assay demo`
//! routes its findings to.

use crate::alerts::lifecycle::Status;
use crate::alerts::outbox::Entry;

/// Features named in the line (the notification lists them all).
const NAMED: usize = 10;

pub fn deliver(receiver: &str, entry: &Entry) {
    let n = &entry.notification;
    let features = n.features();
    let mut named = features
        .iter()
        .take(NAMED)
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    if features.len() > NAMED {
        named.push_str(&format!(",+{}", features.len() - NAMED));
    }
    match n.status {
        Status::Firing => tracing::warn!(
            target: "assay::alerts",
            receiver,
            status = "firing",
            reason = ?n.reason,
            model = %n.model,
            route = %n.route,
            alert = %n.fingerprint,
            window = %n.window.id,
            findings = n.findings.len(),
            features = %named,
            report = %n.report_url,
            delivery = %entry.delivery_id,
            "{}",
            n.subject()
        ),
        Status::Resolved => tracing::info!(
            target: "assay::alerts",
            receiver,
            status = "resolved",
            model = %n.model,
            route = %n.route,
            alert = %n.fingerprint,
            window = %n.window.id,
            findings = n.findings.len(),
            features = %named,
            report = %n.report_url,
            delivery = %entry.delivery_id,
            "{}",
            n.subject()
        ),
    }
}
