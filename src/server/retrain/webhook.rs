//! The retrain webhook: its payload (version 1), and its delivery from the
//! durable outbox — signed like the alerts' webhooks
//! (`alerts::receivers::webhook`: `X-Assay-Timestamp`, `X-Assay-Delivery`,
//! `X-Assay-Signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP.BODY))`),
//! retried with backoff until a 2xx, dead-lettered on a refusal (4xx but
//! 408 and 429) or after [`MAX_AGE`].
//!
//! ```json
//! {"version": 1, "model": "credit", "delivery_id": "…",
//!  "reason": {"trigger": "drift", "detail": "…", "findings": [...]},
//!  "windows": {"from": "…", "to": "…"},
//!  "data": ["/state/models/credit/data/date=2026-03-01/window-credit-000012.parquet", …],
//!  "data_dir": "/state/models/credit/data",
//!  "baseline": "…", "schema": "…", "suites": ["…"],
//!  "champion": {"version": 3, "path": "…", "metrics": {…}, "source": "result"},
//!  "callback_url": "http://…/v1/models/credit/retrain/result",
//!  "created_at": "…"}
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::policy::{Decision, PolicyState};
use super::{RetrainModel, rfc3339};
use crate::alerts::delivery::jittered;
use crate::alerts::outbox::Entry;
use crate::alerts::receivers::webhook::{http_client, post, signature};
use crate::server::model::now_ms;

/// `outcome` of `assay_retrain_webhooks_total`.
pub const OUTCOMES: [&str; 3] = ["sent", "failed_attempt", "dead_lettered"];
/// Retrain requests waiting at most (all models).
pub const MAX_ENTRIES: usize = 1000;
/// An undelivered request is given up after a day.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const TIMEOUT: Duration = Duration::from_secs(10);
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl RetrainModel {
    /// The webhook's body for a fired decision.
    pub(super) fn payload(
        &self,
        d: &Decision,
        delivery_id: &str,
        now: i64,
        state: &PolicyState,
    ) -> Value {
        let artifacts = super::lock(&self.artifacts).clone();
        let since = self.config.lookback_seconds.map(|s| now - s as i64 * 1000);
        let data: Vec<String> = self
            .data
            .as_ref()
            .map(|p| {
                p.paths_since(since)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let windows = match &d.windows {
            Some((first, last)) => json!({"from": first.start, "to": last.end}),
            // Manual and scheduled retrains: the data kept (within the
            // lookback) up to now.
            None => json!({
                "from": self.data.as_ref().and_then(|p| p.list().0.first().map(|p| p.start.clone())),
                "to": rfc3339(now),
            }),
        };
        json!({
            "version": 1,
            "model": self.model,
            "delivery_id": delivery_id,
            "reason": {
                "trigger": d.trigger.as_str(),
                "detail": d.detail,
                "findings": d.findings,
            },
            "windows": windows,
            "data": data,
            "data_dir": self.data.as_ref().map(|p| p.dir().display().to_string()),
            "baseline": artifacts.baseline.display().to_string(),
            "schema": artifacts.schema.as_ref().map(|p| p.display().to_string()),
            "suites": artifacts.suites.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "champion": self.champion(state),
            "callback_url": self.callback_url,
            "created_at": rfc3339(now),
        })
    }
}

impl RetrainModel {
    /// The served model, as far as the daemon knows: the last promotion a
    /// job reported, else the config's `champion`, else null.
    pub(super) fn champion(&self, state: &PolicyState) -> Value {
        if let Some(c) = &state.champion {
            return c.clone();
        }
        match &self.config.champion {
            Some(c) => json!({
                "version": c.version, "path": c.path, "metrics": null, "source": "config",
            }),
            None => Value::Null,
        }
    }
}

/// One model's delivery loop.
pub struct Sender {
    model: Arc<RetrainModel>,
    client: reqwest::Client,
    secret: Vec<u8>,
}

/// Why an attempt failed, and whether retrying can help.
struct Failed {
    message: String,
    permanent: bool,
}

impl Sender {
    pub fn new(model: Arc<RetrainModel>) -> Result<Self, String> {
        let secret = model.config.secret.read()?.into_bytes();
        Ok(Self {
            client: http_client(TIMEOUT)?,
            model,
            secret,
        })
    }

    async fn deliver(&self, entry: &Entry<Value>) -> Result<(), Failed> {
        let body = serde_json::to_vec(&entry.notification).unwrap_or_default();
        let timestamp = (now_ms() / 1000).to_string();
        let request = self
            .client
            .post(&self.model.config.url)
            .header("Content-Type", "application/json")
            .header("X-Assay-Delivery", &entry.delivery_id)
            .header("X-Assay-Timestamp", &timestamp)
            .header(
                "X-Assay-Signature",
                signature(&self.secret, &timestamp, &body),
            )
            .body(body);
        post(request).await.map_err(|e| Failed {
            message: e.message,
            permanent: e.permanent,
        })
    }

    fn count(&self, outcome: &str) {
        self.model
            .metrics
            .deliveries
            .with_label_values(&[&self.model.model, outcome])
            .inc();
    }

    /// Delivers the model's queued retrain requests in order, forever.
    pub async fn run(self) {
        let name = self.model.model.clone();
        let outbox = self.model.outbox.clone();
        let mut head: Option<u64> = None;
        let mut attempts = 0u32;
        let mut backoff = INITIAL_BACKOFF;
        loop {
            let Some(entry) = outbox.head(&name) else {
                self.model.wake.notified().await;
                continue;
            };
            if head != Some(entry.seq) {
                head = Some(entry.seq);
                attempts = 0;
                backoff = INITIAL_BACKOFF;
            }
            attempts += 1;
            match self.deliver(&entry).await {
                Ok(()) => {
                    if let Err(e) = outbox.delivered(&name, entry.seq) {
                        tracing::error!(target: "assay::retrain", model = %name, "removing a delivered retrain request: {e}");
                    }
                    self.count("sent");
                    tracing::info!(target: "assay::retrain", model = %name, delivery = %entry.delivery_id, attempts, "retrain webhook delivered");
                }
                Err(e) => {
                    self.count("failed_attempt");
                    let age = Duration::from_millis((now_ms() - entry.created_ms).max(0) as u64);
                    if e.permanent || age >= MAX_AGE {
                        let kept = outbox.dead_letter(&entry, &e.message, attempts);
                        // No job will answer it: no longer in flight (before
                        // it is counted, so that a reader of the counter sees
                        // the retrain ended).
                        self.model.finished(&entry.delivery_id);
                        self.count("dead_lettered");
                        tracing::error!(target: "assay::retrain", model = %name, delivery = %entry.delivery_id, attempts, kept = ?kept, "retrain webhook given up ({}): {}", if e.permanent { "refused" } else { "undelivered for a day" }, e.message);
                        continue;
                    }
                    let wait = jittered(backoff);
                    tracing::warn!(target: "assay::retrain", model = %name, delivery = %entry.delivery_id, attempts, "retrain webhook failed: {}; retrying in {} ms", e.message, wait.as_millis());
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
