//! The retrain routes (behind the bearer token):
//! - `POST /v1/models/{model}/retrain`: a retrain by hand. 202 with the
//!   delivery id when it fired; 409 while one is in flight (or when
//!   `manual` is not in the policy's `on`).
//! - `POST /v1/models/{model}/retrain/result`: the job's answer
//!   (`{"delivery_id": "…", "outcome": "promoted" | "rejected" | "failed", …}`,
//!   the webhook's `callback_url`): the retrain is no longer in flight.
//! - `GET /v1/models/{model}/retrain`: the policy and its state.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::RetrainModel;
use super::policy::{self, Outcome};
use crate::server::app::{AppState, authorized, error, unauthorized};
use crate::server::model::now_ms;

fn policy_of(state: &AppState, model: &str) -> Result<Arc<RetrainModel>, Box<Response>> {
    state.model_runtime(model)?;
    state
        .retrain
        .get()
        .and_then(|r| r.models.get(model).cloned())
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::NOT_FOUND,
                format!("model `{model}` has no retrain policy ([models.{model}.retrain])"),
            ))
        })
}

pub async fn trigger(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let policy = match policy_of(&state, &model) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let judged = tokio::task::spawn_blocking(move || policy.manual(now_ms())).await;
    let Ok((decision, delivery_id)) = judged else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the retrain request failed",
        );
    };
    let status = match decision.outcome {
        Outcome::Fired => StatusCode::ACCEPTED,
        _ => StatusCode::CONFLICT,
    };
    let mut body = json!({
        "model": model,
        "outcome": decision.outcome.as_str(),
        "detail": decision.detail,
    });
    if decision.outcome == Outcome::Fired {
        body["delivery_id"] = json!(delivery_id);
    }
    (status, Json(body)).into_response()
}

/// The job's answer.
#[derive(Deserialize)]
struct JobResult {
    delivery_id: String,
    #[serde(default)]
    outcome: Option<String>,
    /// The registered version (a promoted one becomes the champion).
    #[serde(default)]
    version: Option<Value>,
    /// Where the version is (`assay retrain serve` sends its directory).
    #[serde(default)]
    model_dir: Option<String>,
    /// The version's holdout metrics.
    #[serde(default)]
    metrics: Option<Value>,
}

pub async fn result(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let policy = match policy_of(&state, &model) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let answer: JobResult = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"delivery_id\": \"…\", \"outcome\": \"…\"}}: {e}"),
            );
        }
    };
    let id = answer.delivery_id.clone();
    let champion = match (&answer.outcome, &answer.version) {
        (Some(o), Some(v)) if o == "promoted" && !v.is_null() => Some(json!({
            "version": v, "path": answer.model_dir, "metrics": answer.metrics,
            "delivery_id": answer.delivery_id,
            "promoted_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "source": "result",
        })),
        _ => None,
    };
    let was = tokio::task::spawn_blocking(move || {
        if let Some(c) = champion {
            policy.promoted(c);
        }
        policy.finished(&id)
    })
    .await
    .unwrap_or(false);
    tracing::info!(
        target: "assay::retrain",
        model = %model,
        delivery = %answer.delivery_id,
        outcome = answer.outcome.as_deref().unwrap_or("unknown"),
        in_flight = was,
        "retrain job answered"
    );
    Json(json!({
        "model": model,
        "delivery_id": answer.delivery_id,
        "was_in_flight": was,
    }))
    .into_response()
}

pub async fn status(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let policy = match policy_of(&state, &model) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let s = policy.state();
    let now = now_ms();
    Json(json!({
        "model": model,
        "on": policy.config.on.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "cooldown_seconds": policy.config.cooldown_seconds,
        "in_flight": policy::in_flight(&policy.config, &s, now),
        "last_fired_ms": s.last_fired_ms,
        "consecutive": s.consecutive.iter().map(|(t, n)| (t.as_str(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
        "queued": policy.queued(),
        "champion": policy.champion(&s),
    }))
    .into_response()
}
