//! The daemon's side of the retraining loop (`[models.NAME.retrain]`):
//! the policy judges every closed window, every window whose quality turns
//! final, the cron schedule and `POST /v1/models/NAME/retrain`
//! ([`policy`]); a fired decision becomes a signed webhook to the retrain
//! job ([`webhook`]), delivered at least once through a durable outbox (the
//! alerts' [`Outbox`], in `STATE/retrain/`); the job's answer
//! (`POST /v1/models/NAME/retrain/result`) ends the retrain in flight
//! ([`http`]).
//!
//! Every decision is logged and counted in
//! `assay_retrain_triggers_total{model,reason,outcome}`. The policy's state
//! (runs of windows, the last retrain, the one in flight, the schedule's
//! clock) is in `models/NAME/retrain/state.json`, written atomically after
//! each decision, so a restart keeps cooldowns. A fired retrain is queued
//! in the outbox before the state is written: a crash in between sends the
//! webhook and may let the next window fire again (a retrain too many
//! rather than one lost).

pub mod http;
pub mod policy;
pub mod webhook;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use serde_json::Value;
use tokio::sync::Notify;

use super::closer::lock;
use super::config::{ModelConfig, RetrainConfig, ServeConfig, Trigger, cron_schedule};
use super::data::Partitions;
use super::labels::{ModelQuality, WindowQuality};
use super::model::{ClosedWindow, now_ms};
use super::state::{window_seq, write_atomic};
use crate::alerts::outbox::{Outbox, Queued};
use policy::{Decision, Evidence, Outcome, PolicyState, WindowSpan};

/// The retrain metrics (closed label sets, every series from 0).
#[derive(Clone)]
pub struct RetrainMetrics {
    pub triggers: IntCounterVec,
    pub deliveries: IntCounterVec,
    pub in_flight: IntGaugeVec,
}

impl RetrainMetrics {
    pub fn register(registry: &Registry) -> Self {
        let triggers = IntCounterVec::new(
            Opts::new(
                "assay_retrain_triggers_total",
                "Retrain policy decisions by model, reason (skew, drift, quality, fairness, schedule, manual) and outcome (fired; suppressed_cooldown; suppressed_in_flight: a retrain was not answered yet; skipped: findings below the policy's conditions).",
            ),
            &["model", "reason", "outcome"],
        )
        .expect("valid metric");
        let deliveries = IntCounterVec::new(
            Opts::new(
                "assay_retrain_webhooks_total",
                "Retrain webhook deliveries by model and outcome (sent; failed_attempt: retried; dead_lettered: refused, or undelivered for a day).",
            ),
            &["model", "outcome"],
        )
        .expect("valid metric");
        let in_flight = IntGaugeVec::new(
            Opts::new(
                "assay_retrain_in_flight",
                "1 while a retrain requested by the model's policy has not been answered (nor timed out).",
            ),
            &["model"],
        )
        .expect("valid metric");
        for m in [&triggers, &deliveries] {
            let _ = registry.register(Box::new(m.clone()));
        }
        let _ = registry.register(Box::new(in_flight.clone()));
        Self {
            triggers,
            deliveries,
            in_flight,
        }
    }

    fn model_configured(&self, model: &str, on: &[Trigger]) {
        for t in on {
            for o in Outcome::ALL {
                self.triggers
                    .with_label_values(&[model, t.as_str(), o.as_str()]);
            }
        }
        for o in webhook::OUTCOMES {
            self.deliveries.with_label_values(&[model, o]);
        }
        self.in_flight.with_label_values(&[model]).set(0);
    }
}

/// The files a retrain job works from (the webhook's `baseline`, `schema`,
/// `suites`).
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub baseline: PathBuf,
    pub schema: Option<PathBuf>,
    pub suites: Vec<PathBuf>,
}

/// One model's policy, its state and its webhook.
pub struct RetrainModel {
    pub model: String,
    pub config: RetrainConfig,
    schedule: Option<cron::Schedule>,
    state: Mutex<PolicyState>,
    state_path: PathBuf,
    outbox: Arc<Outbox<Value>>,
    wake: Arc<Notify>,
    metrics: RetrainMetrics,
    data: Option<Arc<Partitions>>,
    quality: Option<Arc<ModelQuality>>,
    artifacts: Mutex<Artifacts>,
    callback_url: String,
}

/// A fresh delivery id: 128 random bits in hex.
pub fn new_delivery_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        bytes[..8].copy_from_slice(&(now_ms() as u64).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// What a model's policy reads from its runtime: its retraining data and
/// its labels (either may be off).
pub type ModelParts = (Option<Arc<Partitions>>, Option<Arc<ModelQuality>>);

/// The daemon's retrain policies, by model.
pub struct Retrain {
    pub models: BTreeMap<String, Arc<RetrainModel>>,
    pub outbox: Arc<Outbox<Value>>,
}

impl Retrain {
    /// The policies of `config`'s models (`None` when no model has one):
    /// their state read back, the outbox opened (`STATE/retrain/`).
    pub fn start(
        config: &ServeConfig,
        metrics: &RetrainMetrics,
        runtimes: &BTreeMap<String, ModelParts>,
    ) -> Result<Option<Self>, String> {
        let with: Vec<&ModelConfig> = config
            .models
            .iter()
            .filter(|m| m.retrain.is_some())
            .collect();
        if with.is_empty() {
            return Ok(None);
        }
        let names: Vec<String> = with.iter().map(|m| m.name.clone()).collect();
        let (outbox, notes) = Outbox::<Value>::open(
            &config.state_dir.join("retrain"),
            &names,
            webhook::MAX_ENTRIES,
        )?;
        for note in notes {
            tracing::warn!(target: "assay::retrain", "{note}");
        }
        let outbox = Arc::new(outbox);
        let base = format!("http://{}", config.listen);
        let mut models = BTreeMap::new();
        for m in with {
            let Some(retrain) = m.retrain.clone() else {
                continue;
            };
            let schedule = match &retrain.schedule {
                Some(s) => Some(cron_schedule(s).map_err(|e| format!("model `{}`: {e}", m.name))?),
                None => None,
            };
            let dir = config.state_dir.join("models").join(&m.name);
            let state_path = dir.join("retrain").join("state.json");
            let state = match std::fs::read(&state_path) {
                Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    tracing::warn!(target: "assay::retrain", model = %m.name, "{}: damaged ({e}); starting with a fresh policy state", state_path.display());
                    PolicyState::default()
                }),
                Err(_) => PolicyState::default(),
            };
            let (data, quality) = runtimes.get(&m.name).cloned().unwrap_or((None, None));
            let callback_base = retrain
                .callback_base_url
                .clone()
                .unwrap_or_else(|| base.clone());
            metrics.model_configured(&m.name, &retrain.on);
            let model = RetrainModel {
                model: m.name.clone(),
                callback_url: format!("{callback_base}/v1/models/{}/retrain/result", m.name),
                config: retrain,
                schedule,
                state: Mutex::new(state),
                state_path,
                outbox: outbox.clone(),
                wake: Arc::new(Notify::new()),
                metrics: metrics.clone(),
                data,
                quality,
                artifacts: Mutex::new(Artifacts {
                    baseline: super::baseline::current_path(&dir, &m.baseline),
                    schema: m.schema.clone(),
                    suites: m.suites.clone(),
                }),
            };
            model.publish_in_flight(now_ms());
            models.insert(m.name.clone(), Arc::new(model));
        }
        Ok(Some(Self { models, outbox }))
    }

    /// Starts each model's webhook delivery on `runtime`.
    pub fn spawn_deliveries(&self, runtime: &tokio::runtime::Handle) {
        for model in self.models.values() {
            match webhook::Sender::new(model.clone()) {
                Ok(sender) => {
                    runtime.spawn(sender.run());
                }
                Err(e) => {
                    tracing::error!(target: "assay::retrain", model = %model.model, "the retrain webhook cannot be sent: {e}")
                }
            }
        }
    }
}

impl RetrainModel {
    /// Sets `assay_retrain_in_flight`.
    fn publish_in_flight(&self, now: i64) {
        let state = lock(&self.state);
        let flying = policy::in_flight(&self.config, &state, now).is_some();
        self.metrics
            .in_flight
            .with_label_values(&[&self.model])
            .set(i64::from(flying));
    }

    /// Retrain requests waiting for delivery.
    pub fn queued(&self) -> usize {
        self.outbox.depth(&self.model)
    }

    /// The state as it is now (for `GET /v1/models/NAME/retrain`).
    pub fn state(&self) -> PolicyState {
        lock(&self.state).clone()
    }

    /// The baseline the next webhook names (after `POST .../baseline`).
    pub fn set_baseline(&self, path: &Path) {
        lock(&self.artifacts).baseline = path.to_path_buf();
    }

    /// Judges under the policy's lock (`judge` gets the state as it is),
    /// then queues the webhook of a fired decision, saves the state (when
    /// it changed), counts and logs every decision, all before the lock is
    /// released: a webhook delivered and answered at once cannot have its
    /// answer overwritten, and two judgements (a window close, the timer, a
    /// person) cannot both fire from the same state.
    fn decide(
        &self,
        now: i64,
        judge: impl FnOnce(&PolicyState, &str) -> (Vec<Decision>, PolicyState),
    ) -> (Vec<Decision>, String) {
        let delivery_id = new_delivery_id();
        let mut state = lock(&self.state);
        let (decisions, mut new_state) = judge(&state, &delivery_id);
        if let Some(d) = decisions.iter().find(|d| d.outcome == Outcome::Fired) {
            let payload = self.payload(d, &delivery_id, now, &state);
            match self
                .outbox
                .push(&self.model, delivery_id.clone(), now, now, payload)
            {
                Ok((Queued::Queued | Queued::Duplicate, _)) => self.wake.notify_one(),
                Ok((Queued::Full, _)) | Err(_) => {
                    tracing::error!(target: "assay::retrain", model = %self.model, delivery = %delivery_id, "the retrain webhook could not be queued (outbox full or unwritable); the retrain is not in flight");
                    policy::finished(&mut new_state, &delivery_id);
                }
            }
        }
        // Written only when it changed: most windows decide nothing, and
        // this runs on the model's closer thread.
        if *state != new_state
            && let Err(e) = serde_json::to_vec_pretty(&new_state)
                .map_err(|e| e.to_string())
                .and_then(|b| write_atomic(&self.state_path, &b))
        {
            tracing::error!(target: "assay::retrain", model = %self.model, "saving the retrain policy's state: {e}");
        }
        for d in &decisions {
            self.metrics
                .triggers
                .with_label_values(&[&self.model, d.trigger.as_str(), d.outcome.as_str()])
                .inc();
            let window = d
                .windows
                .as_ref()
                .map(|(_, last)| last.id.as_str())
                .unwrap_or("");
            match d.outcome {
                Outcome::Fired => {
                    tracing::warn!(target: "assay::retrain", model = %self.model, reason = d.trigger.as_str(), window, delivery = %delivery_id, findings = d.findings.len(), "retrain fired: {}", d.detail)
                }
                _ => {
                    tracing::info!(target: "assay::retrain", model = %self.model, reason = d.trigger.as_str(), window, outcome = d.outcome.as_str(), "retrain {}: {}", d.outcome.as_str().replace('_', " "), d.detail)
                }
            }
        }
        *state = new_state;
        drop(state);
        self.publish_in_flight(now);
        (decisions, delivery_id)
    }

    /// Judges evidence (a closed window, a final quality report).
    fn judge(&self, evidence: &Evidence, now: i64) -> Vec<Decision> {
        self.decide(now, |state, id| {
            policy::judge_window(&self.config, state, evidence, now, id)
        })
        .0
    }

    /// A final quality window's evidence; the window is marked judged in
    /// the state saved with the decision.
    fn judge_quality(&self, seq: u64, evidence: &Evidence, now: i64) -> Vec<Decision> {
        self.decide(now, |state, id| {
            let (decisions, mut new_state) =
                policy::judge_window(&self.config, state, evidence, now, id);
            new_state.quality_judged = new_state.quality_judged.max(seq);
            (decisions, new_state)
        })
        .0
    }

    /// A closed window's skew and drift (on the closer thread).
    pub fn window_closed(&self, closed: &ClosedWindow) -> Vec<Decision> {
        let mut findings = BTreeMap::new();
        let mut covers = Vec::new();
        for (trigger, report) in [
            (Trigger::Skew, &closed.skew),
            (Trigger::Drift, &closed.drift),
        ] {
            if let Some(r) = report {
                covers.push(trigger);
                findings.insert(trigger, r.findings());
            }
        }
        let evidence = Evidence {
            window: WindowSpan {
                id: closed.info.id.clone(),
                start: closed.info.start.clone(),
                end: closed.info.end.clone().unwrap_or_default(),
            },
            covers,
            findings,
        };
        self.judge(&evidence, now_ms())
    }

    /// Windows whose quality turned final since the last call, oldest
    /// first (the retrain timer).
    pub fn quality_final(&self) -> Vec<Decision> {
        let Some(quality) = &self.quality else {
            return Vec::new();
        };
        let judged = lock(&self.state).quality_judged;
        let mut reports: Vec<(u64, Arc<WindowQuality>)> = quality
            .window_reports()
            .into_iter()
            .filter(|r| r.is_final && !r.reference)
            .filter_map(|r| Some((window_seq(&r.window)?, r)))
            .filter(|(seq, _)| *seq > judged)
            .collect();
        reports.sort_by_key(|(s, _)| *s);
        let mut out = Vec::new();
        for (seq, r) in reports {
            let evidence = Evidence {
                window: WindowSpan {
                    id: r.window.clone(),
                    start: r.start.clone(),
                    end: r.end.clone(),
                },
                covers: vec![Trigger::Quality, Trigger::Fairness],
                findings: [
                    (Trigger::Quality, r.quality.findings.clone()),
                    (
                        Trigger::Fairness,
                        r.fairness
                            .as_ref()
                            .map(|f| f.findings.clone())
                            .unwrap_or_default(),
                    ),
                ]
                .into_iter()
                .collect(),
            };
            out.extend(self.judge_quality(seq, &evidence, now_ms()));
        }
        out
    }

    /// The cron schedule (the retrain timer).
    pub fn tick(&self, now: i64) -> Option<Decision> {
        let schedule = self.schedule.as_ref()?;
        // A tick without a decision may still start the schedule's clock:
        // saved, so that a cron time passed while the daemon was down
        // still counts.
        let (mut decisions, _) = self.decide(now, |state, id| {
            let (decision, new_state) =
                policy::judge_schedule(&self.config, schedule, state, now, id);
            (decision.into_iter().collect(), new_state)
        });
        decisions.pop()
    }

    /// `POST /v1/models/NAME/retrain`; the decision and the delivery id.
    pub fn manual(&self, now: i64) -> (Decision, String) {
        let (mut decisions, id) = self.decide(now, |state, id| {
            let (decision, new_state) = policy::judge_manual(&self.config, state, now, id);
            (vec![decision], new_state)
        });
        // judge_manual always decides once.
        let decision = decisions.pop().unwrap_or(Decision {
            trigger: Trigger::Manual,
            outcome: Outcome::Skipped,
            detail: "no decision".into(),
            findings: Vec::new(),
            windows: None,
        });
        (decision, id)
    }

    /// A job reported a promotion: its model is the champion the next
    /// webhooks name (kept in the policy's state across restarts).
    pub fn promoted(&self, champion: Value) {
        let state = {
            let mut state = lock(&self.state);
            state.champion = Some(champion);
            state.clone()
        };
        if let Err(e) = serde_json::to_vec_pretty(&state)
            .map_err(|e| e.to_string())
            .and_then(|b| write_atomic(&self.state_path, &b))
        {
            tracing::error!(target: "assay::retrain", model = %self.model, "saving the retrain policy's state: {e}");
        }
    }

    /// The job's answer (or a dead-lettered webhook): the retrain is no
    /// longer in flight. Whether it was.
    pub fn finished(&self, delivery_id: &str) -> bool {
        let now = now_ms();
        let (was, state) = {
            let mut state = lock(&self.state);
            (policy::finished(&mut state, delivery_id), state.clone())
        };
        if was {
            if let Err(e) = serde_json::to_vec_pretty(&state)
                .map_err(|e| e.to_string())
                .and_then(|b| write_atomic(&self.state_path, &b))
            {
                tracing::error!(target: "assay::retrain", model = %self.model, "saving the retrain policy's state: {e}");
            }
            self.publish_in_flight(now);
        }
        was
    }
}

/// Runs the quality and schedule judgements every few seconds.
pub async fn timer(retrain: Arc<Retrain>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        let retrain = retrain.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for model in retrain.models.values() {
                model.quality_final();
                model.tick(now_ms());
                model.publish_in_flight(now_ms());
            }
        })
        .await;
    }
}
