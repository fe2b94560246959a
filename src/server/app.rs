//! The HTTP layer: routes, authentication, limits, and the timer that closes
//! windows by time. Model work runs on blocking threads (decoding and
//! profiling are CPU-bound) behind one mutex per model, held only to commit;
//! window closes run on each model's closer thread, and reads wait for the
//! closes submitted before them ([`settled`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::body::{BodyPool, GatherError};
use super::closer::Progress;
use super::labels;
use super::metric_labels;
use super::metrics::Metrics;
use super::model::{BatchOutcome, ClosedWindow, ModelRuntime, ServerError, now_ms};
use crate::sources::payload;

/// Shared state of the running daemon.
pub struct AppState {
    /// Filled once every model is loaded and its state recovered (`/readyz`
    /// turns ready; until then reads of recovered state answer 503).
    pub models: OnceLock<BTreeMap<String, Arc<Mutex<ModelRuntime>>>>,
    pub default_model: String,
    /// The models of the configuration (known before they are loaded).
    pub model_names: Vec<String>,
    pub metrics: Metrics,
    pub limiter: Arc<Semaphore>,
    pub queue_depth: usize,
    pub max_batch_rows: usize,
    pub token: Option<String>,
    pub protect_metrics: bool,
    /// Buffers for ingest bodies, kept between requests.
    pub bodies: BodyPool,
    pub max_body_bytes: usize,
    /// Set once the server has stopped accepting requests: background work
    /// started at ready (the demo's replayer) stops.
    pub stopping: std::sync::atomic::AtomicBool,
    /// The alerts (`[alerts]`), when configured.
    pub alerts: Option<Arc<crate::alerts::AlertService>>,
    /// The retrain policies (`[models.NAME.retrain]`), set once the models
    /// are loaded.
    pub retrain: OnceLock<Arc<super::retrain::Retrain>>,
}

impl AppState {
    /// The model's runtime; 503 (with `Retry-After`) while the daemon is
    /// still recovering, 404 for a model it does not watch.
    fn model(&self, name: &str) -> Result<Arc<Mutex<ModelRuntime>>, Box<Response>> {
        let Some(models) = self.models.get() else {
            return Err(Box::new(recovering()));
        };
        models.get(name).cloned().ok_or_else(|| {
            Box::new(error(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown model `{name}`; this daemon watches {}",
                    models.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ))
        })
    }

    /// [`AppState::model`], for the label and quality routes.
    pub(crate) fn model_runtime(
        &self,
        name: &str,
    ) -> Result<Arc<Mutex<ModelRuntime>>, Box<Response>> {
        self.model(name)
    }

    pub(crate) fn all_runtimes(&self) -> Vec<Arc<Mutex<ModelRuntime>>> {
        every_model(self)
    }

    fn all_models(&self) -> impl Iterator<Item = (&String, &Arc<Mutex<ModelRuntime>>)> {
        self.models.get().into_iter().flatten()
    }

    /// Every model, once recovery is done; until then the 503 to answer.
    /// Reads of recovered state (windows, reports) go through here: before
    /// the logs are replayed they would see nothing, or part of it.
    fn recovered_models(&self) -> Result<Vec<Arc<Mutex<ModelRuntime>>>, Box<Response>> {
        match self.models.get() {
            Some(models) => Ok(models.values().cloned().collect()),
            None => Err(Box::new(recovering())),
        }
    }

    /// The `model` label to count a rejection under: the name asked for
    /// when this daemon watches it, else [`metric_labels::UNKNOWN_MODEL`]
    /// (clients must not be able to create series at will).
    fn model_label<'a>(&self, name: &'a str) -> &'a str {
        if self.model_names.iter().any(|m| m == name) {
            name
        } else {
            metric_labels::UNKNOWN_MODEL
        }
    }
}

/// 503 with `Retry-After` while the daemon loads its baselines and
/// recovers its state: never a partial answer.
fn recovering() -> Response {
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the daemon is recovering its state (loading baselines, replaying its logs); retry shortly",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Waits until every window close of `models` submitted before this call
/// is published, so that a read never sees a close half done (a client
/// that posts the batch filling a window and then asks for the latest
/// report gets the new one). On a blocking thread, and without holding a
/// model's lock while waiting: ingest goes on meanwhile. Closes submitted
/// after the call are not waited for, so steady ingest cannot starve a read.
async fn settled(models: Vec<Arc<Mutex<ModelRuntime>>>) {
    let _ = tokio::task::spawn_blocking(move || {
        let marks: Vec<(Arc<Progress>, u64)> = models
            .iter()
            .filter_map(|m| {
                let progress = m.lock().ok()?.close_progress();
                let mark = progress.mark();
                Some((progress, mark))
            })
            .collect();
        for (progress, mark) in marks {
            progress.wait_for(mark);
        }
    })
    .await;
}

fn every_model(state: &AppState) -> Vec<Arc<Mutex<ModelRuntime>>> {
    state.all_models().map(|(_, m)| m.clone()).collect()
}

type Shared = Arc<AppState>;

/// The router with every route and the body limit (the state's).
pub fn router(state: Shared) -> Router {
    let max_body_bytes = state.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/batches", post(ingest_default))
        .route("/v1/models/{model}/batches", post(ingest_model))
        .route("/v1/labels", post(labels::http::post_labels))
        .route(
            "/v1/models/{model}/labels",
            post(labels::http::post_model_labels),
        )
        .route("/v1/models/{model}/quality", get(labels::http::get_quality))
        .route("/v1/models/{model}/data", get(super::data::http::list))
        .route(
            "/v1/models/{model}/retrain",
            get(super::retrain::http::status).post(super::retrain::http::trigger),
        )
        .route(
            "/v1/models/{model}/retrain/result",
            post(super::retrain::http::result),
        )
        .route("/v1/models/{model}/baseline", post(super::baseline::post))
        .route("/v1/windows", get(windows))
        .route("/v1/reports/latest", get(latest_report))
        .route("/v1/reports/{id}", get(report))
        .route("/v1/alerts", get(super::alerting::alerts))
        .route(
            "/v1/silences",
            get(super::alerting::silences).post(super::alerting::add_silence),
        )
        .route("/v1/silences/{id}", delete(super::alerting::delete_silence))
        .route("/", get(ui::index))
        .route("/ui/reports/{id}", get(ui::report_page))
        .route("/ui/models/{model}", get(ui::model_page))
        .route(
            "/ui/login",
            get(ui::login_page)
                .post(ui::login)
                .layer(DefaultBodyLimit::max(ui::LOGIN_BODY_BYTES)),
        )
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

pub(crate) use super::bearer::{same, unauthorized};

pub(crate) fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    super::bearer::matches(state.token.as_deref(), headers)
}

async fn readyz(State(state): State<Shared>) -> Response {
    if state.models.get().is_some() {
        "ready\n".into_response()
    } else {
        error(StatusCode::SERVICE_UNAVAILABLE, "baselines are loading")
    }
}

async fn metrics(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if state.protect_metrics && !authorized(&state, &headers) {
        return unauthorized();
    }
    // Closes are counted by the closer: the ones submitted before this
    // scrape are in it.
    settled(every_model(&state)).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn ingest_default(State(state): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let model = state.default_model.clone();
    ingest(state, model, headers, body).await
}

async fn ingest_model(
    State(state): State<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(state, model, headers, body).await
}

async fn ingest(state: Shared, model: String, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let label = state.model_label(&model).to_string();
    let reject = |reason: &str| {
        state
            .metrics
            .batches_rejected
            .with_label_values(&[&label, reason])
            .inc();
    };
    if !authorized(&state, &headers) {
        reject("unauthorized");
        return unauthorized();
    }
    let runtime = match state.model(&model) {
        Ok(r) => r,
        Err(response) => {
            reject(if state.models.get().is_none() {
                "not_ready"
            } else {
                "unknown_model"
            });
            return *response;
        }
    };
    let body = match state.bodies.gather(body, state.max_body_bytes).await {
        Ok(body) => body,
        Err(GatherError::TooLarge { limit }) => {
            reject("too_large");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is over the limit of {limit} bytes ([limits] max_body_bytes)"),
            );
        }
        Err(GatherError::Read(e)) => {
            reject("malformed");
            return error(StatusCode::BAD_REQUEST, format!("reading the body: {e}"));
        }
    };
    // A full queue answers 429 instead of growing memory.
    let Ok(permit) = state.limiter.clone().try_acquire_owned() else {
        reject("queue_full");
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{} batches in flight; retry shortly", state.queue_depth),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let in_flight = state.queue_depth - state.limiter.available_permits();
    state.metrics.queue_depth.set(in_flight as i64);
    // A batch alone on the daemon may decode on two cores: its client
    // waits less, and no other batch is kept waiting for a core.
    let cores = if in_flight * 2 <= rayon::current_num_threads() {
        payload::Cores::Two
    } else {
        payload::Cores::One
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let max_rows = state.max_batch_rows;
    let work = tokio::task::spawn_blocking(move || {
        let result = ingest_bytes(&runtime, &content_type, &body, max_rows, cores);
        (result, body)
    })
    .await
    .map(|(result, body)| {
        state.bodies.give_back(body);
        result
    });
    drop(permit);
    state
        .metrics
        .queue_depth
        .set((state.queue_depth - state.limiter.available_permits()) as i64);
    match work {
        Ok(Ok((outcome, open_rows))) => {
            record_batch(&state, &model, &outcome, open_rows);
            let m = &state.metrics;
            m.ingest_latency
                .with_label_values(&[&model])
                .observe(started.elapsed().as_secs_f64());
            let mut body = outcome.report;
            if let Value::Object(map) = &mut body {
                map.insert(
                    "batch".into(),
                    json!({"model": model, "window": outcome.window, "rows": outcome.rows}),
                );
            }
            (StatusCode::OK, Json(body)).into_response()
        }
        Ok(Err(e)) => {
            reject(e.reason());
            match e {
                IngestError::Payload(e) => {
                    let mut body = serde_json::to_value(&e).unwrap_or_else(|_| json!({}));
                    if let Value::Object(map) = &mut body {
                        map.insert("error".into(), Value::String(e.to_string()));
                    }
                    (StatusCode::BAD_REQUEST, Json(body)).into_response()
                }
                IngestError::Server(ServerError::BadRequest(e)) => {
                    error(StatusCode::BAD_REQUEST, e)
                }
                IngestError::Server(e) => {
                    tracing::error!(model = %model, "ingest failed: {e}");
                    error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                }
            }
        }
        Err(join) => {
            reject("internal");
            tracing::error!(model = %model, "ingest task failed: {join}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[derive(Debug)]
pub enum IngestError {
    Payload(payload::PayloadError),
    Server(ServerError),
}

impl IngestError {
    /// The `reason` label of the rejection.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Payload(_) | Self::Server(ServerError::BadRequest(_)) => "malformed",
            Self::Server(_) => "internal",
        }
    }
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Payload(e) => e.fmt(f),
            Self::Server(e) => e.fmt(f),
        }
    }
}

/// Decodes, checks and commits one body: the work behind the HTTP route
/// and the spool directory. Decoding and checking run outside the model's
/// lock (in parallel across requests); the lock is held only to commit.
pub fn ingest_bytes(
    runtime: &Mutex<ModelRuntime>,
    content_type: &str,
    body: &Bytes,
    max_rows: usize,
    cores: payload::Cores,
) -> Result<(BatchOutcome, u64), IngestError> {
    let spec = runtime.lock().map_err(|_| poisoned())?.spec();
    let decoded = payload::decode_shared(
        content_type,
        body,
        Some(spec.expected_schema()),
        spec.request_id_column(),
        cores,
    )
    .map_err(IngestError::Payload)?;
    if decoded.batch.num_rows() > max_rows {
        return Err(IngestError::Server(ServerError::BadRequest(format!(
            "{} rows in one batch; the limit is {max_rows} ([limits] max_batch_rows)",
            decoded.batch.num_rows()
        ))));
    }
    // Predictions awaiting their labels, checked before anything is
    // committed (a bad score is a 400 like any bad row).
    let quality = runtime.lock().map_err(|_| poisoned())?.quality();
    let pending = match &quality {
        Some(q) => q.predictions(&decoded.batch).map_err(|e| {
            IngestError::Payload(payload::PayloadError {
                row: Some(e.row),
                column: Some(e.column),
                expected: None,
                message: e.message,
            })
        })?,
        None => Default::default(),
    };
    let prepared = spec
        .prepare(&decoded.batch, decoded.ipc_stream)
        .map_err(IngestError::Server)?;
    let (outcome, sync, open_rows) = {
        let mut guard = runtime.lock().map_err(|_| poisoned())?;
        // A batch alone in flight also overlaps its sync with its merge.
        let (outcome, sync) = guard
            .commit_deferred(prepared, cores == payload::Cores::Two)
            .map_err(IngestError::Server)?;
        (outcome, sync, guard.open_window_rows())
    };
    // The fsync is waited on without the lock: the next batches write and
    // merge meanwhile, and concurrent syncs of the log share a journal
    // commit.
    sync.wait()
        .map_err(|e| IngestError::Server(ServerError::State(e)))?;
    // Stored (and synced) before the batch is acknowledged.
    if let Some(q) = &quality {
        q.store_predictions(&outcome.window, &pending)
            .map_err(|e| IngestError::Server(ServerError::State(e)))?;
    }
    Ok((outcome, open_rows))
}

/// Counts an accepted batch in the metrics (a window it closed is counted
/// by the closer thread, through [`record_close`]).
pub fn record_batch(state: &AppState, model: &str, outcome: &BatchOutcome, open_rows: u64) {
    let m = &state.metrics;
    m.rows_ingested
        .with_label_values(&[model])
        .inc_by(outcome.rows as u64);
    m.batches_ingested.with_label_values(&[model]).inc();
    m.window_rows
        .with_label_values(&[model])
        .set(open_rows as i64);
    count_batch_findings(m, model, &outcome.report);
}

fn poisoned() -> IngestError {
    IngestError::Server(ServerError::State(
        "the model's state lock is poisoned; restart the daemon".into(),
    ))
}

fn count_batch_findings(m: &Metrics, model: &str, report: &Value) {
    if let Some(findings) = report["schema_findings"].as_array() {
        for f in findings {
            if let (Some(kind), Some(sev)) = (f["kind"].as_str(), f["severity"].as_str()) {
                m.findings
                    .with_label_values(&[model, "batch_schema", kind, sev])
                    .inc();
            }
        }
    }
    if let Some(results) = report["results"].as_array() {
        m.count_failed_expectations(
            model,
            "batch_expectations",
            results.iter().filter(|r| r["success"] == false).map(|r| {
                r["expectation_config"]["type"]
                    .as_str()
                    .unwrap_or("expectation")
            }),
        );
    }
}

/// Metrics and logs of a closed window.
pub fn record_close(state: &AppState, model: &str, closed: &ClosedWindow) {
    let m = &state.metrics;
    m.window_closes.with_label_values(&[model]).inc();
    m.window_close_duration
        .with_label_values(&[model])
        .observe(closed.duration.as_secs_f64());
    if let Some(schema) = &closed.validation.schema {
        m.count_findings(model, "window_schema", &schema.findings);
    }
    if let Some(suite) = &closed.validation.suite {
        m.count_failed_expectations(
            model,
            "window_expectations",
            suite
                .results
                .iter()
                .filter(|r| !r.success)
                .map(|r| r.expectation_config.type_name.as_str()),
        );
    }
    for (check, report) in [("skew", &closed.skew), ("drift", &closed.drift)] {
        if let Some(r) = report {
            m.comparison(model, check, r);
            m.count_findings(model, check, &r.findings());
        }
    }
    m.window_quality(model, &closed.profile, closed.schema.as_ref());
    tracing::info!(
        model = %model,
        window = %closed.info.id,
        rows = closed.info.rows,
        alerts = closed.info.alerts,
        "window closed"
    );
    if closed.info.alerts {
        for (check, report) in [("skew", &closed.skew), ("drift", &closed.drift)] {
            // The whole dataset's findings; per-slice ones are in the report.
            for f in report
                .iter()
                .flat_map(|r| r.findings())
                .filter(|f| f.slice.is_none())
            {
                tracing::warn!(model = %model, check, "{}: {}", f.feature.as_deref().unwrap_or("dataset"), f.explanation);
            }
        }
    }
}

/// Starts closing windows whose time is up; runs every second. The close
/// itself, and its metrics, happen on the model's closer thread.
pub async fn window_timer(state: Shared) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for (name, runtime) in state.all_models() {
            let runtime = runtime.clone();
            let started = tokio::task::spawn_blocking(move || {
                let mut guard = runtime.lock().ok()?;
                guard.due(now_ms()).then(|| guard.start_close())
            })
            .await;
            if let Ok(Some(Err(e))) = started {
                tracing::error!(model = %name, "closing a window: {e}");
            }
        }
    }
}

/// Appends label lines (NDJSON: `request_id`, `label`, `received_ms`) to
/// the model's labels file, durably: the work behind `/v1/labels`.
pub fn store_labels(runtime: &Mutex<ModelRuntime>, lines: &str) -> Result<(), String> {
    use std::io::Write;
    let path = runtime
        .lock()
        .map_err(|_| "poisoned".to_string())?
        .labels_path();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(lines.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| format!("{}: {e}", path.display()))
}

async fn windows(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let models = match state.recovered_models() {
        Ok(m) => m,
        Err(response) => return *response,
    };
    settled(models.clone()).await;
    let mut all = Vec::new();
    for runtime in &models {
        if let Ok(guard) = runtime.lock() {
            all.extend(guard.windows());
        }
    }
    Json(json!({"windows": all})).into_response()
}

async fn latest_report(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let model = match state.model(&state.default_model) {
        Ok(m) => m,
        Err(response) => return *response,
    };
    settled(vec![model.clone()]).await;
    let path = model.lock().ok().and_then(|g| g.latest_report_path());
    serve_report(path).await
}

async fn report(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let models = match state.recovered_models() {
        Ok(m) => m,
        Err(response) => return *response,
    };
    settled(models.clone()).await;
    let path = models
        .iter()
        .find_map(|r| r.lock().ok().and_then(|g| g.report_path(&id)));
    serve_report(path).await
}

async fn serve_report(path: Option<std::path::PathBuf>) -> Response {
    let Some(path) = path else {
        return error(
            StatusCode::NOT_FOUND,
            "no such report (no window has closed yet?)",
        );
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {e}", path.display()),
        ),
    }
}

#[cfg(test)]
mod tests;
mod ui;
