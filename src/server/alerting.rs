//! The daemon's wiring of the alerts (`crate::alerts`): starting them with
//! the configuration, telling them of every closed window (from the
//! closer thread, without waiting), the windows closed while they were not
//! told (at start), and the routes `GET /v1/alerts`, `GET/POST
//! /v1/silences` and `DELETE /v1/silences/{id}` (behind the bearer token
//! when one is set).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::app::{AppState, authorized, error, unauthorized};
use super::config::ServeConfig;
use super::metrics::Metrics;
use super::model::{ClosedWindow, ModelRuntime, ServerError};
use super::state::{WindowState, window_seq};
use crate::alerts::{AlertError, AlertMetrics, AlertService, ClosedRef, WindowFindings, WindowRef};

/// Starts the alerts of `config` (`None` without `[alerts]`). Links in
/// messages point to `base_url`, or to the listen address.
pub fn start(
    config: &ServeConfig,
    metrics: &Metrics,
    runtime: &tokio::runtime::Handle,
) -> Result<Option<Arc<AlertService>>, ServerError> {
    let Some(alerts) = &config.alerts else {
        return Ok(None);
    };
    let base_url = alerts
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let models: Vec<String> = config.models.iter().map(|m| m.name.clone()).collect();
    let (service, notes) = AlertService::start(
        alerts,
        &config.state_dir,
        &base_url,
        &models,
        AlertMetrics::register(metrics.registry()),
        runtime,
    )
    .map_err(|e| ServerError::State(e.to_string()))?;
    for note in notes {
        tracing::warn!(target: "assay::alerts", "{note}");
    }
    tracing::info!(
        target: "assay::alerts",
        receivers = alerts.receivers.len(),
        routes = alerts.routes.len(),
        "alerts on; links point to {base_url}"
    );
    Ok(Some(Arc::new(service)))
}

/// At start, before any window closes: the model's closed windows, for
/// those the alerts have not evaluated.
pub fn catch_up(alerts: &AlertService, model: &str, runtime: &Mutex<ModelRuntime>) {
    let Ok(runtime) = runtime.lock() else { return };
    let windows = runtime
        .windows()
        .into_iter()
        .filter(|w| w.state == WindowState::Closed)
        .filter_map(|w| {
            Some(ClosedRef {
                seq: window_seq(&w.id)?,
                report: runtime.report_path(&w.id)?,
                closed_ms: end_ms(w.end.as_deref()),
            })
        })
        .collect();
    alerts.catch_up(model, windows);
}

fn end_ms(end: Option<&str>) -> i64 {
    end.and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .map_or_else(crate::alerts::now_ms, |t| t.timestamp_millis())
}

/// A published close (on the closer thread): its findings to the alerts.
pub fn window_closed(alerts: &AlertService, closed: &ClosedWindow) {
    let info = &closed.info;
    let Some(seq) = window_seq(&info.id) else {
        return;
    };
    let window = WindowRef {
        model: info.model.clone(),
        id: info.id.clone(),
        start: info.start.clone(),
        end: info.end.clone().unwrap_or_default(),
    };
    alerts.window_closed(WindowFindings::from_reports(
        window,
        seq,
        end_ms(info.end.as_deref()),
        &closed.validation,
        closed.skew.as_ref(),
        closed.drift.as_ref(),
    ));
}

type Shared = Arc<AppState>;

/// The alerts, or the answer to give (boxed: a `Response` is large).
fn configured(state: &AppState, headers: &HeaderMap) -> Result<Arc<AlertService>, Box<Response>> {
    if !authorized(state, headers) {
        return Err(Box::new(unauthorized()));
    }
    state.alerts.clone().ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            "alerts are not configured: add an [alerts] section (docs/alerts.md)",
        ))
    })
}

/// `GET /v1/alerts`.
pub async fn alerts(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match configured(&state, &headers) {
        Ok(alerts) => Json(alerts.alerts_json()).into_response(),
        Err(r) => *r,
    }
}

/// `GET /v1/silences`.
pub async fn silences(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match configured(&state, &headers) {
        Ok(alerts) => Json(alerts.silences_json()).into_response(),
        Err(r) => *r,
    }
}

/// `POST /v1/silences`: `{"matchers": [{"name": "model", "value":
/// "credit"}], "ends_at": "RFC 3339", "comment": "…"}`.
pub async fn add_silence(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let alerts = match configured(&state, &headers) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected {{\"matchers\": [{{\"name\": \"model\", \"value\": \"credit\"}}], \
                     \"ends_at\": \"2030-01-01T00:00:00Z\", \"comment\": \"why\"}}: {e}"
                ),
            );
        }
    };
    match tokio::task::spawn_blocking(move || alerts.add_silence(request)).await {
        Ok(Ok(silence)) => (
            StatusCode::CREATED,
            Json(json!({"id": silence.id, "silence": silence})),
        )
            .into_response(),
        Ok(Err(AlertError::BadRequest(e))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `DELETE /v1/silences/{id}`.
pub async fn delete_silence(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let alerts = match configured(&state, &headers) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let key = id.clone();
    match tokio::task::spawn_blocking(move || alerts.delete_silence(&key)).await {
        Ok(Ok(true)) => Json(json!({"id": id, "deleted": true})).into_response(),
        Ok(Ok(false)) => error(StatusCode::NOT_FOUND, format!("no silence {id:?}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
