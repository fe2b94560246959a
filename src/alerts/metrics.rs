//! The alerts' Prometheus metrics, registered in the daemon's registry.
//! Closed label sets start at 0 (see `server::metric_labels` for why):
//! every configured receiver's outcomes and queue depth, every state of
//! every (model, route) pair a route applies to.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// `outcome` of `assay_notifications_total`.
pub const OUTCOMES: [&str; 4] = ["sent", "failed_attempt", "dead_lettered", "dropped"];

/// `state` of `assay_alerts`: `silenced` is firing but muted by a silence;
/// `resolved` counts the resolved alerts still listed (a day).
pub const STATES: [&str; 4] = ["pending", "firing", "silenced", "resolved"];

#[derive(Clone)]
pub struct AlertMetrics {
    pub alerts: IntGaugeVec,
    pub notifications: IntCounterVec,
    pub queue_depth: IntGaugeVec,
    pub latency: HistogramVec,
}

impl AlertMetrics {
    /// The metrics, registered in `registry` (a registry that already has
    /// them keeps the first: registration errors are ignored).
    pub fn register(registry: &Registry) -> Self {
        // The definitions are constants: `expect` fails only on a
        // programming error, caught by the tests.
        let alerts = IntGaugeVec::new(
            Opts::new(
                "assay_alerts",
                "Alerts by state (pending, firing, silenced: firing but muted, resolved: in the last day), per model and route.",
            ),
            &["model", "route", "state"],
        )
        .expect("valid metric");
        let notifications = IntCounterVec::new(
            Opts::new(
                "assay_notifications_total",
                "Notifications by receiver and outcome (sent; failed_attempt: one failed delivery attempt, retried; dead_lettered: given up after max_age or refused; dropped: the outbox was full).",
            ),
            &["receiver", "outcome"],
        )
        .expect("valid metric");
        let queue_depth = IntGaugeVec::new(
            Opts::new(
                "assay_notification_queue_depth",
                "Notifications waiting in the outbox, per receiver.",
            ),
            &["receiver"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "assay_notification_latency_seconds",
                "Time from the window close that caused a notification to its delivery, per receiver.",
            )
            .buckets(vec![
                0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
            ]),
            &["receiver"],
        )
        .expect("valid metric");
        let _ = registry.register(Box::new(alerts.clone()));
        let _ = registry.register(Box::new(notifications.clone()));
        let _ = registry.register(Box::new(queue_depth.clone()));
        let _ = registry.register(Box::new(latency.clone()));
        Self {
            alerts,
            notifications,
            queue_depth,
            latency,
        }
    }

    /// The series of the configuration, at 0.
    pub fn configured<'a>(
        &self,
        receivers: impl IntoIterator<Item = &'a str>,
        model_routes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        for receiver in receivers {
            for outcome in OUTCOMES {
                self.notifications.with_label_values(&[receiver, outcome]);
            }
            self.queue_depth.with_label_values(&[receiver]);
            self.latency.with_label_values(&[receiver]);
        }
        for (model, route) in model_routes {
            for state in STATES {
                self.alerts.with_label_values(&[model, route, state]);
            }
        }
    }

    pub fn count(&self, receiver: &str, outcome: &str) {
        self.notifications
            .with_label_values(&[receiver, outcome])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_series_starts_at_zero() {
        let registry = Registry::new();
        let m = AlertMetrics::register(&registry);
        m.configured(["mail", "log"], [("credit", "oncall")]);
        let mut out = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        for outcome in OUTCOMES {
            assert!(text.contains(&format!(
                "assay_notifications_total{{outcome=\"{outcome}\",receiver=\"mail\"}} 0"
            )));
        }
        for state in STATES {
            assert!(text.contains(&format!(
                "assay_alerts{{model=\"credit\",route=\"oncall\",state=\"{state}\"}} 0"
            )));
        }
        assert!(text.contains("assay_notification_queue_depth{receiver=\"log\"} 0"));
        assert!(text.contains("assay_notification_latency_seconds_count{receiver=\"log\"} 0"));
    }
}
