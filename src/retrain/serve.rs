//! `assay retrain serve`: the receiver of the daemon's signed retrain
//! webhooks, and the worker that runs their jobs one at a time.
//!
//! - `POST /v1/webhook`: checks `X-Assay-Timestamp` (at most 5 minutes
//!   off) and `X-Assay-Signature` (HMAC-SHA256 of `TIMESTAMP.BODY`, the
//!   computation of the alerts' webhook receiver), then stores the job
//!   under its delivery id before answering 202; a delivery already stored
//!   answers 200 and starts nothing.
//! - The worker takes stored jobs in order (a job found running at start
//!   was cut off: it runs again; registration is idempotent per job), and
//!   on completion posts the result to the payload's `callback_url` and, on
//!   promotion, the new training profile to the daemon's baseline route.
//! - `GET /v1/jobs`, `GET /v1/jobs/{id}`, `GET /metrics`: behind the
//!   bearer token `[serve] api_token_*` when one is set (required to bind
//!   off loopback, as the daemon requires its own); `/healthz` is open and
//!   the webhook is authenticated by its signature.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::RetrainJobError;
use super::config::JobConfig;
use super::job::{self, JobRequest, Outcome};
use super::registry::ModelRegistry;
use super::store::{JobState, JobStore, StoredJob, valid_id};
use crate::alerts::receivers::webhook::signature;
use crate::server::bearer::{self, same, unauthorized};

/// Deliveries older (or further in the future) than this are replays.
pub const MAX_AGE_SECONDS: i64 = 300;

struct Shared {
    config: JobConfig,
    secret: Vec<u8>,
    token: Option<String>,
    /// The bearer token clients of this receiver send (never logged).
    api_token: Option<String>,
    store: JobStore,
    wake: Notify,
    /// Serialises the check-then-store of a delivery.
    accept: tokio::sync::Mutex<()>,
    registry: Registry,
    jobs_total: IntCounterVec,
    model_version: IntGaugeVec,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs the receiver until the process is stopped.
pub fn run(config: JobConfig, listen: Option<SocketAddr>) -> Result<(), RetrainJobError> {
    let serve_error = |m: String| RetrainJobError::Data(m);
    let listen = listen.unwrap_or(config.serve.listen);
    config
        .serve
        .check_exposure(listen)
        .map_err(|m| serve_error(format!("{}: {m}", config.file.display())))?;
    let secret = config
        .serve
        .secret
        .as_ref()
        .ok_or_else(|| {
            serve_error(format!(
                "{}: serving needs [serve] secret_file or secret_env (the webhook's HMAC key)",
                config.file.display()
            ))
        })?
        .read()
        .map_err(serve_error)?;
    let token = config
        .serve
        .token
        .as_ref()
        .map(|t| t.read())
        .transpose()
        .map_err(serve_error)?;
    let api_token = config
        .serve
        .api_token
        .as_ref()
        .map(|t| t.read())
        .transpose()
        .map_err(serve_error)?;
    let registry = Registry::new();
    let jobs_total = IntCounterVec::new(
        Opts::new(
            "assay_retrain_jobs_total",
            "Retrain jobs finished, by outcome",
        ),
        &["model", "outcome"],
    )
    .expect("valid metric");
    let model_version = IntGaugeVec::new(
        Opts::new("assay_model_version", "The champion's version (0: none)"),
        &["model"],
    )
    .expect("valid metric");
    registry
        .register(Box::new(jobs_total.clone()))
        .expect("unique");
    registry
        .register(Box::new(model_version.clone()))
        .expect("unique");
    for outcome in ["promoted", "rejected", "failed"] {
        jobs_total.with_label_values(&[&config.model, outcome]);
    }
    let champion = ModelRegistry::new(&config.registry, &config.model).champion()?;
    model_version
        .with_label_values(&[&config.model])
        .set(champion.map_or(0, |c| c.version as i64));
    let store = JobStore::new(&config.registry);
    std::fs::create_dir_all(&store.dir).map_err(|source| RetrainJobError::Io {
        path: store.dir.display().to_string(),
        source,
    })?;
    let shared = Arc::new(Shared {
        config,
        secret: secret.into_bytes(),
        token,
        api_token,
        store,
        wake: Notify::new(),
        accept: tokio::sync::Mutex::new(()),
        registry,
        jobs_total,
        model_version,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| serve_error(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| serve_error(format!("cannot listen on {listen}: {e}")))?;
        tracing::info!(%listen, model = %shared.config.model, "retrain receiver listening");
        tokio::spawn(worker(shared.clone()));
        let app = Router::new()
            .route("/v1/webhook", post(webhook))
            .route("/v1/jobs", get(list_jobs))
            .route("/v1/jobs/{id}", get(get_job))
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(shared);
        axum::serve(listener, app)
            .await
            .map_err(|e| serve_error(format!("server: {e}")))
    })
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Whether the request carries this receiver's bearer token (or none is set).
fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    bearer::matches(s.api_token.as_deref(), headers)
}

/// Checks timestamp and signature; `Err` is the 401's message.
pub fn verify(secret: &[u8], headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), String> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| format!("missing header {name}"))
    };
    let timestamp = text("X-Assay-Timestamp")?;
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| "X-Assay-Timestamp is not Unix seconds".to_string())?;
    if (now - sent).abs() > MAX_AGE_SECONDS {
        return Err(format!(
            "X-Assay-Timestamp is {}s from now (at most {MAX_AGE_SECONDS}s): a replay or a wrong clock",
            now - sent
        ));
    }
    let given = text("X-Assay-Signature")?;
    let want = signature(secret, &timestamp, body);
    if !same(want.as_bytes(), given.trim().as_bytes()) {
        return Err("bad X-Assay-Signature: check the shared secret".into());
    }
    Ok(())
}

async fn webhook(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = verify(&s.secret, &headers, &body, chrono::Utc::now().timestamp()) {
        tracing::warn!("webhook refused: {why}");
        return answer(StatusCode::UNAUTHORIZED, json!({"error": why}));
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "the body is not a JSON object"}),
            );
        }
    };
    let id = headers
        .get("X-Assay-Delivery")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| payload["delivery_id"].as_str().map(str::to_string))
        .unwrap_or_default();
    if !valid_id(&id) {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "X-Assay-Delivery (or delivery_id) must be letters, digits, - or _"}),
        );
    }
    if payload["model"].as_str() != Some(s.config.model.as_str()) {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": format!("this receiver retrains model `{}`, the payload names {}",
                                    s.config.model, payload["model"])}),
        );
    }
    let _guard = s.accept.lock().await;
    match s.store.get(&id) {
        Ok(Some(job)) => {
            return answer(
                StatusCode::OK,
                json!({"job": id, "state": job.state, "duplicate": true}),
            );
        }
        Ok(None) => {}
        Err(e) => {
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": e.to_string()}),
            );
        }
    }
    let job = StoredJob {
        id: id.clone(),
        model: s.config.model.clone(),
        state: JobState::Queued,
        received_at: now_rfc3339(),
        started_at: None,
        finished_at: None,
        attempts: 0,
        payload,
        log: Vec::new(),
        version: None,
        reasons: Vec::new(),
        metrics: Value::Null,
        gate: Value::Null,
        callback: Value::Null,
    };
    if let Err(e) = s.store.put(&job) {
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        );
    }
    tracing::info!(job = %id, "retrain job stored");
    s.wake.notify_one();
    answer(StatusCode::ACCEPTED, json!({"job": id, "state": "queued"}))
}

async fn list_jobs(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    match s.store.all() {
        Ok(jobs) => answer(
            StatusCode::OK,
            json!({"jobs": jobs.iter().map(|j| json!({
                "id": j.id, "model": j.model, "state": j.state, "received_at": j.received_at,
                "started_at": j.started_at, "finished_at": j.finished_at,
                "attempts": j.attempts, "version": j.version})).collect::<Vec<_>>()}),
        ),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        ),
    }
}

async fn get_job(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    match s.store.get(&id) {
        Ok(Some(job)) => answer(
            StatusCode::OK,
            serde_json::to_value(job).unwrap_or_default(),
        ),
        Ok(None) => answer(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no job {id}")}),
        ),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        ),
    }
}

async fn metrics(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&s.registry.gather(), &mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Runs stored jobs one at a time, forever.
async fn worker(s: Arc<Shared>) {
    loop {
        let next = match s.store.next() {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("job store: {e}");
                None
            }
        };
        match next {
            Some(job) => run_one(&s, job).await,
            None => {
                let _ = tokio::time::timeout(Duration::from_secs(2), s.wake.notified()).await;
            }
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn run_one(s: &Arc<Shared>, mut job: StoredJob) {
    if job.state == JobState::Running {
        tracing::warn!(job = %job.id, "job was cut off while running: running it again");
        job.log.push(format!(
            "{}: cut off while running; run again",
            now_rfc3339()
        ));
    }
    job.state = JobState::Running;
    job.attempts += 1;
    job.started_at = Some(now_rfc3339());
    if let Err(e) = s.store.put(&job) {
        tracing::error!("job store: {e}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        return;
    }
    // The partitions the payload names (a window's partition written after
    // the webhook was sent is not in it: the job trains on what was named).
    // Without a configured baseline, the daemon's (when it is training
    // data, not a posted profile) is the first input.
    let mut data = Vec::new();
    if s.config.baseline.is_empty()
        && let Some(baseline) = job.payload["baseline"].as_str()
        && !baseline.ends_with(".json")
    {
        data.push(baseline.to_string());
    }
    data.extend(strings(&job.payload["data"]));
    let request = JobRequest {
        id: job.id.clone(),
        data,
        trigger: job.payload["reason"].clone(),
        windows: job.payload["windows"].clone(),
    };
    let shared = s.clone();
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let result = tokio::task::spawn_blocking(move || {
        job::run(
            &shared.config,
            &request,
            Box::new(move |line| {
                tracing::info!("{line}");
                if let Ok(mut l) = sink.lock() {
                    l.push(format!("{}: {line}", now_rfc3339()));
                }
            }),
        )
    })
    .await;
    job.log
        .extend(lines.lock().map(|l| l.clone()).unwrap_or_default());
    let (outcome, report) = match result {
        Ok(Ok(r)) => {
            job.version = r.version;
            job.reasons = r.reasons.clone();
            (r.outcome, Some(r))
        }
        Ok(Err(e)) => {
            job.reasons = vec![e.to_string()];
            (Outcome::Failed, None)
        }
        Err(e) => {
            job.reasons = vec![format!("the job panicked: {e}")];
            (Outcome::Failed, None)
        }
    };
    if let Some(r) = &report {
        job.gate = r.report["gate"].clone();
        job.metrics = r.report["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|st| st["step"] == "evaluate"))
            .map(|st| st["detail"].clone())
            .unwrap_or(Value::Null);
    }
    job.state = match outcome {
        Outcome::Promoted => JobState::Promoted,
        Outcome::Rejected => JobState::Rejected,
        Outcome::Failed => JobState::Failed,
    };
    job.finished_at = Some(now_rfc3339());
    s.jobs_total
        .with_label_values(&[&s.config.model, outcome.as_str()])
        .inc();
    if let Ok(Some(c)) = ModelRegistry::new(&s.config.registry, &s.config.model).champion() {
        s.model_version
            .with_label_values(&[&s.config.model])
            .set(c.version as i64);
    }
    let version = job.version.map(|v| format!(" v{v}")).unwrap_or_default();
    tracing::info!("retrain job {} {}{version}", job.id, outcome.as_str());
    // Stored finished before the callbacks: a crash now does not rerun it.
    if let Err(e) = s.store.put(&job) {
        tracing::error!("job store: {e}");
    }
    job.callback = close_the_loop(
        s,
        &job,
        outcome,
        report.as_ref().and_then(|r| r.profile_path.clone()),
    )
    .await;
    if let Err(e) = s.store.put(&job) {
        tracing::error!("job store: {e}");
    }
}

/// Posts the result to `callback_url` and, on promotion, the training
/// profile to the daemon's baseline route. Returns what each answered.
async fn close_the_loop(
    s: &Arc<Shared>,
    job: &StoredJob,
    outcome: Outcome,
    profile: Option<std::path::PathBuf>,
) -> Value {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let auth = |r: reqwest::RequestBuilder| match &s.token {
        Some(t) => r.bearer_auth(t),
        None => r,
    };
    let mut out = json!({});
    if s.config.callback
        && let Some(url) = job.payload["callback_url"].as_str()
    {
        let body = json!({
            "delivery_id": job.id, "model": job.model, "outcome": outcome.as_str(),
            "version": job.version, "reasons": job.reasons, "gate": job.gate,
            "model_dir": job.version.map(|v| ModelRegistry::new(&s.config.registry, &s.config.model)
                .version_dir(v).display().to_string()),
            "metrics": job.metrics["challenger"]["metrics"],
            "report": s.config.registry.join("jobs").join(&job.id).join("report.json"),
        });
        out["callback"] = send(
            auth(client.post(url))
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
        )
        .await;
        tracing::info!(job = %job.id, answer = %out["callback"], "callback posted");
    }
    if let (Some(base), Some(profile)) = (&s.config.serve.daemon_url, profile) {
        let url = format!("{base}/v1/models/{}/baseline", s.config.model);
        out["baseline"] = match tokio::fs::read(&profile).await {
            Ok(bytes) => {
                send(
                    auth(client.post(&url))
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(bytes),
                )
                .await
            }
            Err(e) => json!({"error": format!("{}: {e}", profile.display())}),
        };
        tracing::info!(job = %job.id, answer = %out["baseline"], "training profile posted as the daemon's baseline");
    }
    out
}

async fn send(request: reqwest::RequestBuilder) -> Value {
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            json!({"status": status, "body": body})
        }
        Err(e) => json!({"error": e.to_string()}),
    }
}
