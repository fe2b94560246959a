//! Delivery: one task per receiver takes the receiver's notifications from
//! the outbox in order and delivers each, retrying with exponential backoff
//! (doubling from `initial_backoff`, capped at `max_backoff`, with jitter:
//! each wait is drawn between half and all of the current backoff) until it
//! is delivered or older than `max_age`, when it is dead-lettered. A
//! refusal that retrying cannot change (an HTTP 4xx other than 408 and 429,
//! a permanent SMTP answer) is dead-lettered at once.
//!
//! The head of a receiver's queue blocks the rest: notifications reach a
//! receiver in order (a resolved message never overtakes its firing one).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::config::OutboxConfig;
use super::lifecycle::Status;
use super::metrics::AlertMetrics;
use super::now_ms;
use super::outbox::{Entry, Outbox};
use super::receivers::Receiver;

/// What happened to a delivery, for the alert's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    pub receiver: String,
    pub fingerprint: String,
    pub delivery_id: String,
    pub status: Status,
    /// `sent`, `retrying` or `dead_lettered`.
    pub state: &'static str,
    pub attempts: u32,
    pub error: Option<String>,
}

/// Where delivery events go (the alert engine, or `assay alerts test`).
pub type Events = Arc<dyn Fn(DeliveryEvent) + Send + Sync>;

/// One receiver's delivery loop.
pub struct Worker {
    pub receiver: Arc<Receiver>,
    pub outbox: Arc<Outbox>,
    pub config: OutboxConfig,
    pub metrics: AlertMetrics,
    pub events: Events,
}

/// A wait between half and all of `backoff`.
pub fn jittered(backoff: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    let r = if getrandom::fill(&mut bytes).is_ok() {
        u64::from_le_bytes(bytes)
    } else {
        now_ms() as u64
    };
    let fraction = 0.5 + 0.5 * (r as f64 / u64::MAX as f64);
    backoff.mul_f64(fraction)
}

impl Worker {
    /// Runs until `stop` turns true, delivering once `release` is true.
    /// `wake` is notified when a notification is queued for this receiver.
    pub async fn run(
        self,
        wake: Arc<Notify>,
        mut release: watch::Receiver<bool>,
        mut stop: watch::Receiver<bool>,
    ) {
        while !*release.borrow_and_update() {
            tokio::select! {
                changed = release.changed() => if changed.is_err() { return },
                _ = stop.changed() => return,
            }
        }
        let name = self.receiver.name().to_string();
        let mut head: Option<u64> = None;
        let mut attempts = 0u32;
        let mut backoff = self.config.initial_backoff;
        loop {
            if *stop.borrow() {
                return;
            }
            self.metrics
                .queue_depth
                .with_label_values(&[&name])
                .set(self.outbox.depth(&name) as i64);
            let Some(entry) = self.outbox.head(&name) else {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = stop.changed() => return,
                }
                continue;
            };
            if head != Some(entry.seq) {
                head = Some(entry.seq);
                attempts = 0;
                backoff = self.config.initial_backoff;
            }
            attempts += 1;
            let result = tokio::select! {
                r = self.receiver.deliver(&entry, now_ms()) => r,
                _ = stop.changed() => return,
            };
            match result {
                Ok(()) => self.sent(&entry, attempts),
                Err(e) => {
                    self.metrics.count(&name, "failed_attempt");
                    let age = Duration::from_millis((now_ms() - entry.created_ms).max(0) as u64);
                    if e.permanent || age >= self.config.max_age {
                        self.dead(&entry, &e.message, attempts, e.permanent);
                        continue;
                    }
                    let wait = jittered(backoff);
                    tracing::warn!(
                        target: "assay::alerts",
                        receiver = %name,
                        delivery = %entry.delivery_id,
                        attempts,
                        retry_in = %humantime::format_duration(Duration::from_millis(wait.as_millis() as u64)),
                        "delivery failed: {}",
                        e.message
                    );
                    (self.events)(DeliveryEvent {
                        receiver: name.clone(),
                        fingerprint: entry.notification.fingerprint.clone(),
                        delivery_id: entry.delivery_id.clone(),
                        status: entry.notification.status,
                        state: "retrying",
                        attempts,
                        error: Some(e.message.clone()),
                    });
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }

    fn sent(&self, entry: &Entry, attempts: u32) {
        let name = self.receiver.name();
        if let Err(e) = self.outbox.delivered(name, entry.seq) {
            // Delivered, but the file stays: it is sent again after a
            // restart, under the same delivery id.
            tracing::error!(target: "assay::alerts", receiver = %name, "removing a delivered notification: {e}");
        }
        (self.events)(DeliveryEvent {
            receiver: name.to_string(),
            fingerprint: entry.notification.fingerprint.clone(),
            delivery_id: entry.delivery_id.clone(),
            status: entry.notification.status,
            state: "sent",
            attempts,
            error: None,
        });
        // Counted after the engine is told (as for dead letters).
        self.metrics.count(name, "sent");
        let latency = (now_ms() - entry.event_ms).max(0) as f64 / 1000.0;
        self.metrics
            .latency
            .with_label_values(&[name])
            .observe(latency);
    }

    fn dead(&self, entry: &Entry, error: &str, attempts: u32, refused: bool) {
        let name = self.receiver.name();
        let why = if refused {
            "refused by the receiver"
        } else {
            "undelivered past max_age"
        };
        match self.outbox.dead_letter(entry, error, attempts) {
            Ok(path) => tracing::error!(
                target: "assay::alerts",
                receiver = %name,
                delivery = %entry.delivery_id,
                alert = %entry.notification.fingerprint,
                attempts,
                kept = %path.display(),
                "notification dead-lettered ({why}): {error}"
            ),
            Err(e) => tracing::error!(
                target: "assay::alerts",
                receiver = %name,
                delivery = %entry.delivery_id,
                "notification dead-lettered ({why}: {error}), but keeping it failed: {e}"
            ),
        }
        (self.events)(DeliveryEvent {
            receiver: name.to_string(),
            fingerprint: entry.notification.fingerprint.clone(),
            delivery_id: entry.delivery_id.clone(),
            status: entry.notification.status,
            state: "dead_lettered",
            attempts,
            error: Some(error.to_string()),
        });
        // Counted after the engine is told: whoever sees the count and then
        // flushes the engine sees the alert's delivery state too.
        self.metrics.count(name, "dead_lettered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all() {
        let b = Duration::from_secs(10);
        for _ in 0..1000 {
            let j = jittered(b);
            assert!(j >= Duration::from_secs(5) && j <= b, "{j:?}");
        }
    }
}
