//! The running alerts: an engine thread that evaluates closed windows in
//! order, keeps the alerts and silences in the state directory and queues
//! notifications in the outbox, and one delivery task per receiver on the
//! daemon's runtime. Nothing here runs on the ingest path: a window close
//! hands its findings over a channel and returns.
//!
//! State directory (`STATE/alerts/`): `alerts.json` (the alerts, what was
//! notified, the last window evaluated per model), `silences.json`,
//! `outbox/RECEIVER/`, `dead/RECEIVER/`. The order of writes keeps a crash
//! from losing a notification: a window's notifications are in the outbox
//! (fsynced) before `alerts.json` records the window as evaluated; after a
//! crash in between, the window is evaluated again and queues the same
//! delivery ids, which the outbox already holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver as Inbox, RecvTimeoutError, Sender, SyncSender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

use super::config::{AlertsConfig, ReceiverKind};
use super::delivery::{DeliveryEvent, Events, Worker};
use super::finding::WindowFindings;
use super::lifecycle::{AlertBook, AlertState, Delivery, Engine, Reason, Send, Status};
use super::metrics::AlertMetrics;
use super::notification::Notification;
use super::outbox::{Outbox, Queued};
use super::receivers::Receiver;
use super::route::{Route, hex};
use super::silence::{NewSilence, Silence, Silences};
use super::{AlertError, now_ms};
use crate::sinks::write_atomic;

/// How often timed work runs (repeats, re-posts, pruning).
const TICK: Duration = Duration::from_secs(1);
/// Delivery statuses are saved at most this often (window evaluations are
/// saved at once).
const SAVE_EVERY: Duration = Duration::from_secs(2);

/// A closed window of a model, as the server's index lists it: for
/// evaluating, after a restart, the windows that closed while the alerts
/// were not told.
#[derive(Debug, Clone)]
pub struct ClosedRef {
    pub seq: u64,
    pub report: PathBuf,
    pub closed_ms: i64,
}

enum Event {
    Window(Box<WindowFindings>),
    CatchUp {
        model: String,
        windows: Vec<ClosedRef>,
    },
    Delivery(DeliveryEvent),
    Flush(SyncSender<()>),
    /// Every catch-up is sent: deliveries may begin.
    Recovered,
    /// Handle everything sent before, save, and end the thread (the
    /// delivery tasks hold senders too: the channel stays open).
    Stop,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Inner {
    dir: PathBuf,
    engine: Engine,
    book: Mutex<AlertBook>,
    silences: Mutex<Silences>,
    outbox: Arc<Outbox>,
    wakes: BTreeMap<String, Arc<Notify>>,
    metrics: AlertMetrics,
    base_url: String,
    /// Every (model, route) the gauges report.
    model_routes: Vec<(String, String)>,
    /// Turns true once the windows closed before the start are evaluated:
    /// the delivery tasks wait for it. Delivering first would forget a
    /// queued notification's id (the outbox knows the ids it holds), and
    /// the catch-up, evaluating its window again, would queue it anew.
    release: watch::Sender<bool>,
}

/// The alerts of a running daemon.
pub struct AlertService {
    inner: Arc<Inner>,
    events: Mutex<Option<Sender<Event>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

/// A delivery id: the same for the same alert, status, cause and
/// receiver (so that a window evaluated twice queues nothing new).
pub fn delivery_id(send: &Send, receiver: &str) -> String {
    let mut hash = Sha256::new();
    for part in [
        send.fingerprint.as_str(),
        send.status.as_str(),
        &format!("{:?}", send.reason),
        &send.cause,
        receiver,
    ] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hex(&hash.finalize()[..16])
}

impl AlertService {
    /// Starts the alerts for `models`: loads the alerts, silences and
    /// outbox from `state_dir/alerts`, builds the receivers (reading their
    /// secrets; no connection is made), registers the metrics, and starts
    /// the engine thread and, on `runtime`, the delivery tasks. Notes say
    /// what was found and set aside.
    pub fn start(
        config: &AlertsConfig,
        state_dir: &Path,
        base_url: &str,
        models: &[String],
        metrics: AlertMetrics,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(Self, Vec<String>), AlertError> {
        let dir = state_dir.join("alerts");
        std::fs::create_dir_all(&dir)
            .map_err(|e| AlertError::State(format!("{}: {e}", dir.display())))?;
        let mut notes = Vec::new();
        let receivers = config
            .receivers
            .iter()
            .map(|r| Receiver::build(r).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(AlertError::Receiver)?;
        let names: Vec<String> = config.receivers.iter().map(|r| r.name.clone()).collect();
        let (outbox, outbox_notes) =
            Outbox::open(&dir, &names, config.outbox.max_entries).map_err(AlertError::State)?;
        notes.extend(outbox_notes);
        let outbox = Arc::new(outbox);
        let resend = config
            .receivers
            .iter()
            .filter_map(|r| match &r.kind {
                ReceiverKind::Alertmanager(am) => Some((r.name.clone(), am.resend_interval)),
                _ => None,
            })
            .collect();
        let engine = Engine::new(
            config.routes.iter().cloned().map(Route::new).collect(),
            resend,
        );
        let (mut book, note) = load_json::<AlertBook>(&dir.join("alerts.json"));
        notes.extend(note);
        for gone in engine.forget_unrouted(&mut book) {
            notes.push(format!(
                "alert {gone} dropped: its route is no longer configured"
            ));
        }
        let (silences, note) = load_json::<Silences>(&dir.join("silences.json"));
        notes.extend(note);
        let model_routes: Vec<(String, String)> = models
            .iter()
            .flat_map(|m| {
                engine
                    .routes()
                    .iter()
                    .filter(|r| r.applies_to(m))
                    .map(move |r| (m.clone(), r.name().to_string()))
            })
            .collect();
        metrics.configured(
            names.iter().map(String::as_str),
            model_routes.iter().map(|(m, r)| (m.as_str(), r.as_str())),
        );
        let wakes: BTreeMap<String, Arc<Notify>> = names
            .iter()
            .map(|n| (n.clone(), Arc::new(Notify::new())))
            .collect();
        let (release, released) = watch::channel(false);
        let inner = Arc::new(Inner {
            release,
            dir,
            engine,
            book: Mutex::new(book),
            silences: Mutex::new(silences),
            outbox: outbox.clone(),
            wakes: wakes.clone(),
            metrics: metrics.clone(),
            base_url: base_url.trim_end_matches('/').to_string(),
            model_routes,
        });
        inner.update_gauges(now_ms());
        let (events, inbox) = channel::<Event>();
        let thread = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("alerts".into())
                .spawn(move || inner.run(inbox))
                .map_err(|e| AlertError::State(format!("starting the alerts thread: {e}")))?
        };
        let (stop, stopped) = watch::channel(false);
        let to_engine: Events = {
            let events = Mutex::new(events.clone());
            Arc::new(move |e| {
                let _ = lock(&events).send(Event::Delivery(e));
            })
        };
        let workers = receivers
            .into_iter()
            .map(|receiver| {
                let wake = wakes[receiver.name()].clone();
                let worker = Worker {
                    receiver,
                    outbox: outbox.clone(),
                    config: config.outbox,
                    metrics: metrics.clone(),
                    events: to_engine.clone(),
                };
                runtime.spawn(worker.run(wake, released.clone(), stopped.clone()))
            })
            .collect();
        Ok((
            Self {
                inner,
                events: Mutex::new(Some(events)),
                thread: Mutex::new(Some(thread)),
                workers: Mutex::new(workers),
                stop,
            },
            notes,
        ))
    }

    fn send(&self, event: Event) {
        if let Some(events) = lock(&self.events).as_ref() {
            let _ = events.send(event);
        }
    }

    /// A closed window's findings (returns at once; evaluated in order on
    /// the alerts thread).
    pub fn window_closed(&self, window: WindowFindings) {
        self.send(Event::Window(Box::new(window)));
    }

    /// The closed windows of `model` (oldest first), at start: those the
    /// alerts have not evaluated are, from their reports. On the first
    /// start with alerts, none is: the alerts begin with the next window.
    pub fn catch_up(&self, model: &str, windows: Vec<ClosedRef>) {
        self.send(Event::CatchUp {
            model: model.to_string(),
            windows,
        });
    }

    /// Called once every model's [`AlertService::catch_up`] is sent:
    /// deliveries begin after the engine has handled them (until then the
    /// outbox's queued notifications wait).
    pub fn recovered(&self) {
        self.send(Event::Recovered);
    }

    /// Waits until every event sent so far is handled and the state saved
    /// (tests, shutdown).
    pub fn flush(&self) {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.send(Event::Flush(reply));
        let _ = answer.recv_timeout(Duration::from_secs(60));
    }

    /// `GET /v1/alerts`.
    pub fn alerts_json(&self) -> Value {
        let now = now_ms();
        let book = lock(&self.inner.book);
        let silences = lock(&self.inner.silences);
        let alerts: Vec<Value> = book
            .alerts
            .values()
            .map(|a| {
                let silenced_by = silences.matching(&a.labels, &a.route, now);
                let state = match a.state {
                    AlertState::Firing if !silenced_by.is_empty() => "silenced",
                    s => s.as_str(),
                };
                json!({
                    "fingerprint": a.fingerprint,
                    "route": a.route,
                    "model": a.model,
                    "labels": a.labels,
                    "state": state,
                    "since": rfc3339(a.since_ms),
                    "started_at": rfc3339(a.started_ms),
                    "last_seen": rfc3339(a.last_seen_ms),
                    "resolved_at": a.resolved_ms.map(rfc3339),
                    "window": *a.window,
                    "windows_present": a.present,
                    "windows_absent": a.absent,
                    "silenced_by": silenced_by,
                    "findings": a.findings,
                    "report_url": super::notification::report_url(&self.inner.base_url, &a.window.id),
                    "notified": a.notified.map(|n| json!({"status": n.status, "at": rfc3339(n.at_ms)})),
                    "deliveries": a.deliveries.iter().map(|(r, d)| (r.clone(), json!({
                        "delivery_id": d.delivery_id,
                        "status": d.status,
                        "state": d.state,
                        "attempts": d.attempts,
                        "updated": rfc3339(d.updated_ms),
                        "error": d.error,
                    }))).collect::<serde_json::Map<String, Value>>(),
                })
            })
            .collect();
        json!({"alerts": alerts})
    }

    /// `GET /v1/silences`.
    pub fn silences_json(&self) -> Value {
        let now = now_ms();
        let silences = lock(&self.inner.silences);
        let list: Vec<Value> = silences
            .silences
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let Value::Object(map) = &mut v {
                    map.remove("starts_ms");
                    map.remove("ends_ms");
                    map.insert("state".into(), json!(s.state(now)));
                }
                v
            })
            .collect();
        json!({"silences": list})
    }

    /// `POST /v1/silences`: the silence, saved.
    pub fn add_silence(&self, request: NewSilence) -> Result<Silence, AlertError> {
        let silence = request
            .into_silence(now_ms())
            .map_err(AlertError::BadRequest)?;
        {
            let mut silences = lock(&self.inner.silences);
            silences.silences.push(silence.clone());
            self.inner.save_silences(&silences)?;
        }
        self.inner.update_gauges(now_ms());
        Ok(silence)
    }

    /// `DELETE /v1/silences/{id}`: whether it existed. Alerts it held that
    /// still fire are notified at the next tick.
    pub fn delete_silence(&self, id: &str) -> Result<bool, AlertError> {
        let found = {
            let mut silences = lock(&self.inner.silences);
            let before = silences.silences.len();
            silences.silences.retain(|s| s.id != id);
            let found = silences.silences.len() != before;
            if found {
                self.inner.save_silences(&silences)?;
            }
            found
        };
        self.inner.update_gauges(now_ms());
        Ok(found)
    }

    /// Stops: every event sent so far is handled and saved, the delivery
    /// tasks stop (what they had not delivered waits in the outbox).
    pub fn shutdown(&self) {
        if let Some(events) = lock(&self.events).take() {
            let _ = events.send(Event::Stop);
        }
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
        let _ = self.stop.send(true);
        for worker in lock(&self.workers).drain(..) {
            worker.abort();
        }
    }

    /// Notifications waiting in the outbox for `receiver`.
    pub fn queue_depth(&self, receiver: &str) -> usize {
        self.inner.outbox.depth(receiver)
    }
}

impl Drop for AlertService {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn rfc3339(ms: i64) -> String {
    super::silence::rfc3339(ms)
}

/// Loads a JSON state file; a damaged one is moved aside (the note says
/// where) and the default used.
fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> (T, Option<String>) {
    let Ok(bytes) = std::fs::read(path) else {
        return (T::default(), None);
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => (v, None),
        Err(e) => {
            let stamp = now_ms() / 1000;
            let aside = path.with_extension(format!("corrupt-{stamp}"));
            let _ = std::fs::rename(path, &aside);
            (
                T::default(),
                Some(format!(
                    "{}: damaged ({e}); moved to {} and starting afresh",
                    path.display(),
                    aside.display()
                )),
            )
        }
    }
}

impl Inner {
    /// The engine thread: events in order, timed work every second.
    fn run(&self, inbox: Inbox<Event>) {
        let mut last_tick = Instant::now();
        let mut dirty = false;
        let mut last_save = Instant::now();
        loop {
            match inbox.recv_timeout(TICK) {
                Ok(Event::Window(window)) => {
                    self.on_window(&window);
                }
                Ok(Event::CatchUp { model, windows }) => self.catch_up(&model, &windows),
                Ok(Event::Delivery(event)) => {
                    self.on_delivery(event);
                    dirty = true;
                }
                Ok(Event::Flush(reply)) => {
                    self.tick();
                    self.save_book();
                    dirty = false;
                    let _ = reply.send(());
                }
                Ok(Event::Recovered) => {
                    self.release.send_replace(true);
                }
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    self.save_book();
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                if self.tick() {
                    dirty = true;
                }
            }
            if dirty && last_save.elapsed() >= SAVE_EVERY {
                self.save_book();
                dirty = false;
                last_save = Instant::now();
            }
        }
    }

    fn on_window(&self, window: &WindowFindings) {
        let now = now_ms();
        let sends = {
            let mut book = lock(&self.book);
            let silences = lock(&self.silences);
            self.engine.evaluate(&mut book, window, &silences, now)
        };
        self.dispatch(&sends, now);
        // After the outbox: a crash before this evaluates the window again.
        self.save_book();
        self.update_gauges(now);
    }

    fn catch_up(&self, model: &str, windows: &[ClosedRef]) {
        let last = lock(&self.book).last_seq.get(model).copied();
        let Some(last) = last else {
            // The first start with alerts: begin with the next window.
            let newest = windows.iter().map(|w| w.seq).max().unwrap_or(0);
            lock(&self.book).last_seq.insert(model.to_string(), newest);
            self.save_book();
            return;
        };
        let mut behind: Vec<&ClosedRef> = windows.iter().filter(|w| w.seq > last).collect();
        behind.sort_by_key(|w| w.seq);
        for w in behind {
            let read = std::fs::read(&w.report)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
                .and_then(|report| WindowFindings::from_report_json(&report, w.seq, w.closed_ms));
            match read {
                Ok(findings) => {
                    tracing::info!(
                        target: "assay::alerts",
                        model,
                        window = %findings.window.id,
                        "evaluating a window closed before the restart"
                    );
                    self.on_window(&findings);
                }
                Err(e) => tracing::error!(
                    target: "assay::alerts",
                    model,
                    report = %w.report.display(),
                    "cannot evaluate a window closed before the restart: {e}"
                ),
            }
        }
    }

    /// Queues the notifications of `sends` (fsynced) and wakes their
    /// receivers.
    fn dispatch(&self, sends: &[Send], now: i64) {
        for send in sends {
            let notification = {
                let book = lock(&self.book);
                let Some(alert) = book.alerts.get(&send.fingerprint) else {
                    continue;
                };
                let runbook = self
                    .engine
                    .route(&alert.route)
                    .and_then(|r| r.config.runbook_url.clone());
                Notification::of(
                    alert,
                    send.status,
                    send.reason,
                    &self.base_url,
                    runbook.as_deref(),
                )
            };
            for receiver in &send.receivers {
                let id = delivery_id(send, receiver);
                let state = match self.outbox.push(
                    receiver,
                    id.clone(),
                    now,
                    send.event_ms,
                    notification.clone(),
                ) {
                    Ok((Queued::Queued, _)) => {
                        if let Some(wake) = self.wakes.get(receiver) {
                            wake.notify_one();
                        }
                        self.metrics
                            .queue_depth
                            .with_label_values(&[receiver])
                            .set(self.outbox.depth(receiver) as i64);
                        "queued"
                    }
                    Ok((Queued::Duplicate, _)) => continue,
                    Ok((Queued::Full, _)) => {
                        self.metrics.count(receiver, "dropped");
                        tracing::error!(
                            target: "assay::alerts",
                            receiver = %receiver,
                            alert = %send.fingerprint,
                            status = send.status.as_str(),
                            waiting = self.outbox.total(),
                            "the outbox is full ([alerts.outbox] max_entries): notification dropped"
                        );
                        "dropped"
                    }
                    Err(e) => {
                        self.metrics.count(receiver, "dropped");
                        tracing::error!(
                            target: "assay::alerts",
                            receiver = %receiver,
                            alert = %send.fingerprint,
                            "cannot write a notification to the outbox ({e}): dropped"
                        );
                        "dropped"
                    }
                };
                let mut book = lock(&self.book);
                if let Some(alert) = book.alerts.get_mut(&send.fingerprint) {
                    alert.deliveries.insert(
                        receiver.clone(),
                        Delivery {
                            delivery_id: id,
                            status: send.status,
                            state: state.to_string(),
                            attempts: 0,
                            updated_ms: now,
                            error: None,
                        },
                    );
                }
            }
        }
    }

    fn on_delivery(&self, e: DeliveryEvent) {
        let mut book = lock(&self.book);
        if let Some(alert) = book.alerts.get_mut(&e.fingerprint) {
            // Only the latest notification's delivery is listed: events
            // of an older one do not overwrite a newer one's.
            let latest = alert
                .deliveries
                .get(&e.receiver)
                .is_none_or(|d| d.delivery_id == e.delivery_id);
            if latest {
                alert.deliveries.insert(
                    e.receiver.clone(),
                    Delivery {
                        delivery_id: e.delivery_id,
                        status: e.status,
                        state: e.state.to_string(),
                        attempts: e.attempts,
                        updated_ms: now_ms(),
                        error: e.error,
                    },
                );
            }
        }
    }

    /// Timed work; whether anything changed.
    fn tick(&self) -> bool {
        let now = now_ms();
        let (sends, changed) = {
            let mut book = lock(&self.book);
            let before = book.alerts.len();
            let mut silences = lock(&self.silences);
            if silences.prune(now) {
                let _ = self.save_silences(&silences);
            }
            let sends = self.engine.tick(&mut book, &silences, now);
            let changed = before != book.alerts.len() || !sends.is_empty();
            (sends, changed)
        };
        self.dispatch(&sends, now);
        if !sends.is_empty() {
            self.save_book();
        }
        self.update_gauges(now);
        changed
    }

    fn save_book(&self) {
        let bytes = {
            let book = lock(&self.book);
            serde_json::to_vec(&*book)
        };
        let path = self.dir.join("alerts.json");
        let result = bytes
            .map_err(|e| e.to_string())
            .and_then(|b| write_atomic(&path, &b).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::error!(target: "assay::alerts", "saving {}: {e}", path.display());
        }
    }

    fn save_silences(&self, silences: &Silences) -> Result<(), AlertError> {
        let path = self.dir.join("silences.json");
        let bytes = serde_json::to_vec(silences).map_err(|e| AlertError::State(e.to_string()))?;
        write_atomic(&path, &bytes)
            .map_err(|e| AlertError::State(format!("{}: {e}", path.display())))
    }

    /// `assay_alerts{model,route,state}` from the alerts.
    fn update_gauges(&self, now: i64) {
        let mut counts: BTreeMap<(String, String, &'static str), i64> = BTreeMap::new();
        for (model, route) in &self.model_routes {
            for state in super::metrics::STATES {
                counts.insert((model.clone(), route.clone(), state), 0);
            }
        }
        {
            let book = lock(&self.book);
            let silences = lock(&self.silences);
            for a in book.alerts.values() {
                let state = match a.state {
                    AlertState::Pending => "pending",
                    AlertState::Firing if silences.silenced(&a.labels, &a.route, now) => "silenced",
                    AlertState::Firing => "firing",
                    AlertState::Resolved => "resolved",
                };
                *counts
                    .entry((a.model.clone(), a.route.clone(), state))
                    .or_default() += 1;
            }
        }
        for ((model, route, state), n) in counts {
            self.metrics
                .alerts
                .with_label_values(&[&model, &route, state])
                .set(n);
        }
    }
}

/// A test notification's alert: every receiver gets one, through the
/// outbox like any other.
pub fn test_notification(base_url: &str, now: i64) -> Notification {
    use super::config::AlertCheck;
    use super::finding::{AlertFinding, WindowRef};
    let stamp = rfc3339(now);
    Notification {
        status: Status::Firing,
        reason: Reason::Test,
        fingerprint: "test".into(),
        route: "test".into(),
        model: "test".into(),
        window: WindowRef {
            model: "test".into(),
            id: "test-000000".into(),
            start: stamp.clone(),
            end: stamp.clone(),
        },
        group: [("model".to_string(), "test".to_string())]
            .into_iter()
            .collect(),
        findings: vec![AlertFinding {
            check: AlertCheck::Schema,
            kind: "test".into(),
            severity: crate::checks::Severity::Warning,
            feature: Some("example".into()),
            slice: None,
            observed: json!("a test notification"),
            expected: json!("delivery"),
            explanation: "assay alerts test: if you read this, this receiver works".into(),
        }],
        starts_at: stamp,
        ends_at: None,
        report_url: super::notification::report_url(base_url, "test-000000"),
        runbook_url: None,
    }
}
