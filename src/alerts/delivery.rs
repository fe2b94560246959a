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
//!
//! The loop itself ([`deliver_in_order`]) is generic over the outbox's
//! message and its [`Destination`]: the daemon's retrain webhook uses it
//! too.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::config::OutboxConfig;
use super::lifecycle::Status;
use super::metrics::AlertMetrics;
use super::notification::Notification;
use super::now_ms;
use super::outbox::{Entry, Outbox};
use super::receivers::{DeliveryError, Receiver};

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

/// The retry policy of a delivery loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// An entry older than this is dead-lettered instead of retried.
    pub max_age: Duration,
}

/// One queue's destination in the outbox, and what it reports of each
/// delivery: the alerts' receivers ([`Worker`]) and the daemon's retrain
/// webhook (`server::retrain::webhook`) share [`deliver_in_order`].
pub trait Destination<M>: Send + Sync {
    /// The outbox queue's name (the receiver, or the model).
    fn queue(&self) -> &str;
    /// One attempt.
    fn deliver(
        &self,
        entry: &Entry<M>,
    ) -> impl std::future::Future<Output = Result<(), DeliveryError>> + Send;
    /// Before each look at the queue (e.g. a depth gauge).
    fn polling(&self) {}
    /// Delivered and removed from the outbox (`removed` says whether the
    /// removal worked: if not, it is sent again after a restart).
    fn sent(&self, entry: &Entry<M>, attempts: u32, removed: Result<(), String>);
    /// An attempt failed and will be retried after `wait`.
    fn retrying(&self, entry: &Entry<M>, attempts: u32, error: &str, wait: Duration);
    /// Given up: refused (`refused`) or too old; `kept` is where the dead
    /// letter was written.
    fn dead_lettered(
        &self,
        entry: &Entry<M>,
        attempts: u32,
        error: &str,
        refused: bool,
        kept: Result<std::path::PathBuf, String>,
    );
}

/// Delivers `destination`'s queue from `outbox` in order, until `stop`
/// turns true (or forever without one): the head is retried with
/// exponential backoff (jittered) until delivered, refused (a permanent
/// error) or older than `max_age`, when it is dead-lettered; the next
/// entry waits for it. `wake` is notified when an entry is queued.
pub async fn deliver_in_order<M, D>(
    destination: &D,
    outbox: &Outbox<M>,
    backoff: Backoff,
    wake: &Notify,
    mut stop: Option<watch::Receiver<bool>>,
) where
    M: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync,
    D: Destination<M>,
{
    // A future that completes when `stop` changes, or never without one.
    async fn stopped(stop: &mut Option<watch::Receiver<bool>>) {
        match stop {
            Some(s) => {
                let _ = s.changed().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    let name = destination.queue().to_string();
    let mut head: Option<u64> = None;
    let mut attempts = 0u32;
    let mut wait_next = backoff.initial;
    loop {
        if stop.as_ref().is_some_and(|s| *s.borrow()) {
            return;
        }
        destination.polling();
        let Some(entry) = outbox.head(&name) else {
            tokio::select! {
                _ = wake.notified() => {}
                _ = stopped(&mut stop) => return,
            }
            continue;
        };
        if head != Some(entry.seq) {
            head = Some(entry.seq);
            attempts = 0;
            wait_next = backoff.initial;
        }
        attempts += 1;
        let result = tokio::select! {
            r = destination.deliver(&entry) => r,
            _ = stopped(&mut stop) => return,
        };
        match result {
            Ok(()) => {
                let removed = outbox.delivered(&name, entry.seq);
                destination.sent(&entry, attempts, removed);
            }
            Err(e) => {
                let age = Duration::from_millis((now_ms() - entry.created_ms).max(0) as u64);
                if e.permanent || age >= backoff.max_age {
                    let kept = outbox.dead_letter(&entry, &e.message, attempts);
                    destination.dead_lettered(&entry, attempts, &e.message, e.permanent, kept);
                    continue;
                }
                let wait = jittered(wait_next);
                destination.retrying(&entry, attempts, &e.message, wait);
                wait_next = (wait_next * 2).min(backoff.max);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped(&mut stop) => return,
                }
            }
        }
    }
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
        let backoff = Backoff {
            initial: self.config.initial_backoff,
            max: self.config.max_backoff,
            max_age: self.config.max_age,
        };
        let outbox = self.outbox.clone();
        deliver_in_order(&self, &outbox, backoff, &wake, Some(stop)).await;
    }

    fn event(&self, entry: &Entry, state: &'static str, attempts: u32, error: Option<&str>) {
        (self.events)(DeliveryEvent {
            receiver: self.receiver.name().to_string(),
            fingerprint: entry.notification.fingerprint.clone(),
            delivery_id: entry.delivery_id.clone(),
            status: entry.notification.status,
            state,
            attempts,
            error: error.map(str::to_string),
        });
    }
}

impl Destination<Notification> for Worker {
    fn queue(&self) -> &str {
        self.receiver.name()
    }

    fn deliver(
        &self,
        entry: &Entry,
    ) -> impl std::future::Future<Output = Result<(), DeliveryError>> + Send {
        self.receiver.deliver(entry, now_ms())
    }

    fn polling(&self) {
        let name = self.receiver.name();
        self.metrics
            .queue_depth
            .with_label_values(&[name])
            .set(self.outbox.depth(name) as i64);
    }

    fn sent(&self, entry: &Entry, attempts: u32, removed: Result<(), String>) {
        let name = self.receiver.name();
        if let Err(e) = removed {
            // Delivered, but the file stays: it is sent again after a
            // restart, under the same delivery id.
            tracing::error!(target: "assay::alerts", receiver = %name, "removing a delivered notification: {e}");
        }
        self.event(entry, "sent", attempts, None);
        // Counted after the engine is told (as for dead letters).
        self.metrics.count(name, "sent");
        let latency = (now_ms() - entry.event_ms).max(0) as f64 / 1000.0;
        self.metrics
            .latency
            .with_label_values(&[name])
            .observe(latency);
    }

    fn retrying(&self, entry: &Entry, attempts: u32, error: &str, wait: Duration) {
        let name = self.receiver.name();
        self.metrics.count(name, "failed_attempt");
        tracing::warn!(
            target: "assay::alerts",
            receiver = %name,
            delivery = %entry.delivery_id,
            attempts,
            retry_in = %humantime::format_duration(Duration::from_millis(wait.as_millis() as u64)),
            "delivery failed: {}",
            error
        );
        self.event(entry, "retrying", attempts, Some(error));
    }

    fn dead_lettered(
        &self,
        entry: &Entry,
        attempts: u32,
        error: &str,
        refused: bool,
        kept: Result<std::path::PathBuf, String>,
    ) {
        let name = self.receiver.name();
        self.metrics.count(name, "failed_attempt");
        let why = if refused {
            "refused by the receiver"
        } else {
            "undelivered past max_age"
        };
        match kept {
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
        self.event(entry, "dead_lettered", attempts, Some(error));
        // Counted after the engine is told: whoever sees the count and then
        // flushes the engine sees the alert's delivery state too.
        self.metrics.count(name, "dead_lettered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Mutex;

    /// Answers each attempt from a script (`Ok`, or an error and whether
    /// it is permanent) and records what the loop reported.
    struct Scripted {
        answers: Mutex<std::collections::VecDeque<Result<(), bool>>>,
        log: Mutex<Vec<String>>,
    }

    impl Destination<String> for Scripted {
        fn queue(&self) -> &str {
            "q"
        }

        async fn deliver(&self, entry: &Entry<String>) -> Result<(), DeliveryError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("try {}", entry.notification));
            match self.answers.lock().unwrap().pop_front().unwrap_or(Ok(())) {
                Ok(()) => Ok(()),
                Err(true) => Err(DeliveryError::permanent("refused")),
                Err(false) => Err(DeliveryError::retry("down")),
            }
        }

        fn sent(&self, entry: &Entry<String>, attempts: u32, removed: Result<(), String>) {
            assert!(removed.is_ok());
            let line = format!("sent {} after {attempts}", entry.notification);
            self.log.lock().unwrap().push(line);
        }

        fn retrying(&self, entry: &Entry<String>, attempts: u32, error: &str, wait: Duration) {
            assert!(wait <= Duration::from_millis(8), "capped: {wait:?}");
            let line = format!("retry {} ({error}) {attempts}", entry.notification);
            self.log.lock().unwrap().push(line);
        }

        fn dead_lettered(
            &self,
            entry: &Entry<String>,
            attempts: u32,
            error: &str,
            refused: bool,
            kept: Result<std::path::PathBuf, String>,
        ) {
            assert!(kept.unwrap().is_file());
            let line = format!(
                "dead {} ({error}, refused {refused}) {attempts}",
                entry.notification
            );
            self.log.lock().unwrap().push(line);
        }
    }

    #[test]
    fn in_order_retried_until_sent_and_a_refusal_dead_lettered() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = Outbox::<String>::open(dir.path(), &["q".to_string()], 10).unwrap();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            outbox
                .push("q", format!("id-{m}"), now_ms(), i as i64, m.to_string())
                .unwrap();
        }
        let destination = Scripted {
            // a: down twice, then sent; b: refused; c: sent at once.
            answers: Mutex::new([Err(false), Err(false), Ok(()), Err(true), Ok(())].into()),
            log: Mutex::new(Vec::new()),
        };
        let backoff = Backoff {
            initial: Duration::from_millis(2),
            max: Duration::from_millis(8),
            max_age: Duration::from_secs(3600),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (stop_tx, stop) = watch::channel(false);
        let wake = Notify::new();
        runtime.block_on(async {
            let run = deliver_in_order(&destination, &outbox, backoff, &wake, Some(stop));
            let watch_done = async {
                while outbox.depth("q") > 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                stop_tx.send(true).unwrap();
            };
            tokio::join!(run, watch_done);
        });
        let log = destination.log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "try a",
                "retry a (down) 1",
                "try a",
                "retry a (down) 2",
                "try a",
                "sent a after 3",
                "try b",
                "dead b (refused, refused true) 1",
                "try c",
                "sent c after 1",
            ]
        );
        assert_eq!(outbox.dead_letters("q").len(), 1);
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let b = Duration::from_secs(10);
        for _ in 0..1000 {
            let j = jittered(b);
            assert!(j >= Duration::from_secs(5) && j <= b, "{j:?}");
        }
    }
}
