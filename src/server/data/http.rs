//! `GET /v1/models/{model}/data` (the partitions, their rows and label
//! coverage) and the timer that joins maturing labels into them.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::server::app::{AppState, authorized, error, unauthorized};
use crate::server::model::now_ms;

/// How often partitions whose labels are not final are checked against
/// the labels store.
const LABEL_REFRESH: Duration = Duration::from_secs(2);

pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let runtime = match state.model_runtime(&model) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let Some(data) = runtime.lock().ok().and_then(|g| g.data()) else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "model `{model}` keeps no retraining data (`[models.{model}.data] enabled = false`)"
            ),
        );
    };
    let listed = tokio::task::spawn_blocking(move || {
        let (partitions, problems) = data.list();
        (data.dir().display().to_string(), partitions, problems)
    })
    .await;
    match listed {
        Ok((dir, partitions, problems)) => {
            let rows: u64 = partitions.iter().map(|p| p.rows).sum();
            let bytes: u64 = partitions.iter().map(|p| p.bytes).sum();
            let labelled: Option<u64> = partitions
                .iter()
                .map(|p| p.labelled)
                .try_fold(0u64, |acc, l| l.map(|l| acc + l));
            Json(json!({
                "model": model,
                "dir": dir,
                "rows": rows,
                "bytes": bytes,
                "labelled": labelled,
                "label_coverage": labelled.map(|l| if rows == 0 { 0.0 } else { l as f64 / rows as f64 }),
                "partitions": partitions,
                "problems": problems,
            }))
            .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Rewrites the partitions whose labels changed, every [`LABEL_REFRESH`],
/// on a blocking thread.
pub async fn label_timer(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(LABEL_REFRESH);
    loop {
        tick.tick().await;
        let all: Vec<_> = state
            .all_runtimes()
            .into_iter()
            .filter_map(|r| r.lock().ok().and_then(|g| g.data()))
            .collect();
        for data in all {
            let _ = tokio::task::spawn_blocking(move || {
                let done = data.refresh_labels(now_ms());
                if !done.is_empty() {
                    tracing::debug!(windows = ?done, "retraining data: labels joined");
                }
            })
            .await;
        }
    }
}
