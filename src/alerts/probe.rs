//! `assay alerts test`: a test notification to each receiver (or one),
//! through the same outbox and delivery loop as real alerts (in a
//! temporary outbox, so that a running daemon's is not touched), retried
//! until delivered or `timeout` has passed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::config::{AlertsConfig, OutboxConfig};
use super::delivery::{DeliveryEvent, Events, Worker};
use super::metrics::AlertMetrics;
use super::now_ms;
use super::outbox::{Outbox, Queued};
use super::receivers::Receiver;
use super::route::hex;
use super::service::test_notification;

/// One receiver's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub receiver: String,
    pub kind: &'static str,
    /// The delivery id sent (when one was queued).
    pub delivery_id: Option<String>,
    pub attempts: u32,
    /// `None`: delivered.
    pub error: Option<String>,
}

/// Sends a test notification to every receiver of `config` (or only
/// `only`) and waits for each outcome, at most `timeout`.
pub fn run(
    config: &AlertsConfig,
    only: Option<&str>,
    base_url: &str,
    timeout: Duration,
) -> Result<Vec<ProbeOutcome>, String> {
    let receivers: Vec<_> = config
        .receivers
        .iter()
        .filter(|r| only.is_none_or(|name| r.name == name))
        .collect();
    if receivers.is_empty() {
        return Err(match only {
            Some(name) => {
                let names: Vec<&str> = config.receivers.iter().map(|r| r.name.as_str()).collect();
                format!(
                    "no receiver {name:?}; the config defines {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            }
            None => "the config defines no [[alerts.receivers]]".to_string(),
        });
    }
    let dir = std::env::temp_dir().join(format!(
        "assay-alerts-test-{}-{}",
        std::process::id(),
        now_ms()
    ));
    let names: Vec<String> = receivers.iter().map(|r| r.name.clone()).collect();
    let result = run_in(&dir, config, &receivers, &names, base_url, timeout);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    dir: &std::path::Path,
    config: &AlertsConfig,
    receivers: &[&super::config::ReceiverConfig],
    names: &[String],
    base_url: &str,
    timeout: Duration,
) -> Result<Vec<ProbeOutcome>, String> {
    let (outbox, _) = Outbox::open(dir, names, names.len().max(1))?;
    let outbox = Arc::new(outbox);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let events: Arc<Mutex<Vec<DeliveryEvent>>> = Arc::default();
    let done = Arc::new(Notify::new());
    let on_event: Events = {
        let (events, done) = (events.clone(), done.clone());
        Arc::new(move |e: DeliveryEvent| {
            let last = e.state != "retrying";
            events.lock().unwrap_or_else(|p| p.into_inner()).push(e);
            if last {
                done.notify_one();
            }
        })
    };
    let settings = OutboxConfig {
        max_age: timeout,
        max_backoff: Duration::from_secs(5).min(config.outbox.max_backoff),
        ..config.outbox
    };
    let metrics = AlertMetrics::register(&prometheus::Registry::new());
    let (stop, stopped) = watch::channel(false);
    let now = now_ms();
    let mut outcomes = Vec::new();
    let mut waiting = 0;
    for config in receivers {
        let kind = config.kind.type_name();
        let receiver = match Receiver::build(config) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                outcomes.push(ProbeOutcome {
                    receiver: config.name.clone(),
                    kind,
                    delivery_id: None,
                    attempts: 0,
                    error: Some(e),
                });
                continue;
            }
        };
        let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("test|{now}|{}", config.name));
        let id = hex(&digest.as_slice()[..16]);
        match outbox.push(
            &config.name,
            id.clone(),
            now,
            now,
            test_notification(base_url, now),
        )? {
            (Queued::Queued, _) => {}
            (other, _) => return Err(format!("queuing the test notification: {other:?}")),
        }
        let worker = Worker {
            receiver,
            outbox: outbox.clone(),
            config: settings,
            metrics: metrics.clone(),
            events: on_event.clone(),
        };
        let wake = Arc::new(Notify::new());
        // No window to catch up with: deliver at once.
        let (_, released) = watch::channel(true);
        runtime.spawn(worker.run(wake, released, stopped.clone()));
        outcomes.push(ProbeOutcome {
            receiver: config.name.clone(),
            kind,
            delivery_id: Some(id),
            attempts: 0,
            error: None,
        });
        waiting += 1;
    }
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(30);
        loop {
            let finished = events
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|e| e.state != "retrying")
                .count();
            if finished >= waiting {
                break;
            }
            tokio::select! {
                _ = done.notified() => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    });
    let _ = stop.send(true);
    runtime.shutdown_timeout(Duration::from_secs(1));
    let events = events.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for outcome in outcomes.iter_mut().filter(|o| o.delivery_id.is_some()) {
        let mine: Vec<&DeliveryEvent> = events
            .iter()
            .filter(|e| e.receiver == outcome.receiver)
            .collect();
        outcome.attempts = mine.iter().map(|e| e.attempts).max().unwrap_or(0);
        outcome.error = match mine.iter().rfind(|e| e.state != "retrying") {
            Some(e) if e.state == "sent" => None,
            Some(e) => e.error.clone(),
            None => Some(format!(
                "no outcome within {}",
                humantime::format_duration(timeout)
            )),
        };
    }
    Ok(outcomes)
}
