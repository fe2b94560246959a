//! `POST /v1/labels`, `POST /v1/models/{model}/labels`,
//! `GET /v1/models/{model}/quality`, and the timer that recomputes the
//! quality of windows whose labels changed.
//!
//! A label body is any ingest format (JSON rows, NDJSON, CSV, Arrow IPC,
//! Parquet), one row per label with the request id (`request_id`, or the
//! model's `request_id_column`) and the label (`label`, or the model's label
//! column); the older `{"labels": [...], "model": ...}` JSON shape is read
//! too. The whole body is checked before anything is accepted: a bad row is
//! a 400 naming the row and the column, and nothing of the body is applied.
//! An accepted body is appended to the label log and synced before the
//! 200, which says how many labels were accepted; they are joined to their
//! predictions (and counted: joined, unmatched by reason) off the request
//! path, and `GET /quality` reports the counts (`labels`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ingest::{JoinError, LabelBody};
use super::{ModelQuality, cell};
use crate::server::app::{AppState, error};
use crate::server::model::ModelRuntime;
use crate::sources::payload::{self, PayloadError};

/// Most labels in one request.
pub const MAX_LABELS_PER_REQUEST: usize = 1_000_000;

type Shared = Arc<AppState>;

#[derive(Deserialize, Default)]
pub struct LabelsQuery {
    model: Option<String>,
}

pub async fn post_labels(
    State(state): State<Shared>,
    Query(query): Query<LabelsQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    labels(state, query.model, headers, body).await
}

pub async fn post_model_labels(
    State(state): State<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    labels(state, Some(model), headers, body).await
}

fn bad(e: PayloadError) -> Response {
    (StatusCode::BAD_REQUEST, Json(e)).into_response()
}

fn row_error(row: usize, column: &str, message: impl Into<String>) -> PayloadError {
    PayloadError {
        row: Some(row),
        column: Some(column.to_string()),
        expected: None,
        message: message.into(),
    }
}

/// A wrapped body's model (if named) and its rows as a JSON array.
type Unwrapped = (Option<String>, Vec<u8>);

/// The older wrapped JSON shape: its model and its rows.
fn unwrap_legacy(body: &[u8]) -> Result<Option<Unwrapped>, PayloadError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Ok(None);
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|e| PayloadError {
        row: None,
        column: None,
        expected: None,
        message: format!(
            "the body is not valid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    let Some(items) = parsed.get("labels").and_then(|l| l.as_array()) else {
        return Err(PayloadError {
            row: None,
            column: None,
            expected: Some("{\"labels\": [{\"request_id\": ..., \"label\": ...}, ...]} or rows".into()),
            message: "expected {\"labels\": [{\"request_id\": \"...\", \"label\": ...}, ...]} or a JSON array of rows".into(),
        });
    };
    let model = parsed
        .get("model")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    let rows = serde_json::to_vec(items).unwrap_or_default();
    Ok(Some((model, rows)))
}

/// The label rows of a body, checked whole: `(request id, label cell)` in
/// order, and the labels' classes.
pub fn decode_labels(
    quality: &ModelQuality,
    content_type: &str,
    body: &[u8],
) -> Result<LabelBody, PayloadError> {
    let id_names: Vec<&str> = dedup(["request_id", quality.id_column()]);
    let label_names: Vec<&str> = dedup(["label", quality.label_column()]);
    let mut fields: Vec<Field> = id_names
        .iter()
        .map(|n| Field::new(*n, DataType::Utf8, true))
        .collect();
    fields.extend(
        label_names
            .iter()
            .map(|n| Field::new(*n, quality.label_type.clone(), true)),
    );
    let expected = Schema::new(fields);
    let decoded = payload::decode(content_type, body, Some(&expected), None)?;
    let batch = decoded.batch;
    if batch.num_rows() > MAX_LABELS_PER_REQUEST {
        return Err(PayloadError {
            row: None,
            column: None,
            expected: None,
            message: format!(
                "{} labels in one request; the limit is {MAX_LABELS_PER_REQUEST}",
                batch.num_rows()
            ),
        });
    }
    let pick = |names: &[&str], what: &str| -> Result<(String, Arc<dyn Array>), PayloadError> {
        names
            .iter()
            .find_map(|n| batch.column_by_name(n).map(|c| (n.to_string(), c.clone())))
            .ok_or_else(|| PayloadError {
                row: None,
                column: Some(names[0].to_string()),
                expected: Some(names.join(" or ")),
                message: format!(
                    "the labels have no {what} column (`{}`)",
                    names.join("` or `")
                ),
            })
    };
    let (id_name, ids) = pick(&id_names, "request id")?;
    let (label_name, labels) = pick(&label_names, "label")?;
    let ids = cell::conform(&ids, &DataType::Utf8).map_err(|m| PayloadError {
        row: None,
        column: Some(id_name.clone()),
        expected: Some("text".into()),
        message: m,
    })?;
    let ids = ids
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    let labels = cell::conform(&labels, &quality.label_type).map_err(|m| PayloadError {
        row: None,
        column: Some(label_name.clone()),
        expected: Some(quality.label_type.to_string()),
        message: m,
    })?;
    let mut items = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        if ids.is_null(row) || ids.value(row).is_empty() {
            return Err(row_error(row, &id_name, "the request id is missing"));
        }
        if labels.is_null(row) {
            return Err(row_error(row, &label_name, "the label is missing"));
        }
        let mut cell_bytes = Vec::with_capacity(9);
        cell::encode(labels.as_ref(), row, &mut cell_bytes);
        items.push((ids.value(row).to_string(), cell_bytes));
    }
    // The values: the schema's domain, a number for regression, a class
    // for classification.
    let classes = quality
        .classes()
        .check_values(labels.as_ref(), &label_name, |_| false)
        .map_err(|e| row_error(e.row, &e.column, e.message))?;
    Ok(LabelBody {
        items,
        classes,
        label_column: label_name,
    })
}

fn dedup(names: [&str; 2]) -> Vec<&str> {
    if names[0] == names[1] {
        vec![names[0]]
    } else {
        names.to_vec()
    }
}

async fn labels(state: Shared, model: Option<String>, headers: HeaderMap, body: Bytes) -> Response {
    if !crate::server::app::authorized(&state, &headers) {
        return crate::server::app::unauthorized();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let is_json = content_type.trim_start().starts_with("application/json");
    let (model, body) = match is_json.then(|| unwrap_legacy(&body)) {
        Some(Err(e)) => return bad(e),
        Some(Ok(Some((m, rows)))) => (model.or(m), Bytes::from(rows)),
        _ => (model, body),
    };
    let model = model.unwrap_or_else(|| state.default_model.clone());
    let runtime = match state.model_runtime(&model) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let quality = runtime.lock().ok().and_then(|g| g.quality());
    let Some(quality) = quality else {
        return legacy_labels(state, model, runtime, content_type, body).await;
    };
    let work = tokio::task::spawn_blocking(move || {
        let body = decode_labels(&quality, &content_type, &body).map_err(Err)?;
        match quality.accept(&body) {
            Ok(n) => Ok(n),
            Err(JoinError::Bad(e)) => Err(Err(row_error(e.row, &e.column, e.message))),
            Err(JoinError::Store(e)) => Err(Ok(e)),
        }
    })
    .await;
    match work {
        Ok(Ok(n)) => {
            record_received(&state, &model, n);
            Json(json!({"model": model, "labels": n, "accepted": n})).into_response()
        }
        Ok(Err(Err(e))) => bad(e),
        Ok(Err(Ok(e))) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Counts an accepted body in the metrics (its labels are counted again,
/// by outcome, when they are joined).
pub fn record_received(state: &AppState, model: &str, n: usize) {
    state
        .metrics
        .labels_received
        .with_label_values(&[model])
        .inc_by(n as u64);
}

/// Decodes and accepts a label body (the route's work, for the demo and
/// the spool): how many labels were accepted.
pub fn accept_body(
    state: &AppState,
    model: &str,
    quality: &ModelQuality,
    content_type: &str,
    body: &[u8],
) -> Result<usize, String> {
    let body = decode_labels(quality, content_type, body).map_err(|e| e.to_string())?;
    let n = quality.accept(&body).map_err(|e| e.to_string())?;
    record_received(state, model, n);
    Ok(n)
}

/// A model without `[quality]`: labels appended to `labels.ndjson`, as
/// before quality existed (JSON only).
async fn legacy_labels(
    state: Shared,
    model: String,
    runtime: Arc<Mutex<ModelRuntime>>,
    content_type: String,
    body: Bytes,
) -> Response {
    let decoded = match payload::decode(&content_type, &body, None, None) {
        Ok(d) => d,
        Err(e) => return bad(e),
    };
    let batch = decoded.batch;
    let Some(ids) = batch.column_by_name("request_id") else {
        return bad(PayloadError {
            row: None,
            column: Some("request_id".into()),
            expected: Some("a string `request_id`".into()),
            message: "the labels have no `request_id`".into(),
        });
    };
    let Some(labels) = batch.column_by_name("label") else {
        return bad(PayloadError {
            row: None,
            column: Some("label".into()),
            expected: Some("a `label`".into()),
            message: "the labels have no `label`".into(),
        });
    };
    let ids = match cell::conform(ids, &DataType::Utf8) {
        Ok(i) => i,
        Err(m) => return bad(row_error(0, "request_id", m)),
    };
    let ids = ids.as_any().downcast_ref::<StringArray>().expect("Utf8");
    // The formatter is not Send: the lines are made before any await.
    let lines = {
        let formatter = arrow::util::display::ArrayFormatter::try_new(
            labels.as_ref(),
            &arrow::util::display::FormatOptions::default(),
        );
        let Ok(formatter) = formatter else {
            return bad(row_error(0, "label", "labels must be scalars"));
        };
        let now = crate::server::model::now_ms();
        let mut lines = String::new();
        for row in 0..batch.num_rows() {
            if ids.is_null(row) {
                return bad(row_error(
                    row,
                    "request_id",
                    "expected a string `request_id`",
                ));
            }
            if labels.is_null(row) {
                return bad(row_error(row, "label", "expected a `label`"));
            }
            let label = match labels.data_type() {
                DataType::Utf8 => Value::String(formatter.value(row).to_string()),
                _ => serde_json::from_str(&formatter.value(row).to_string())
                    .unwrap_or_else(|_| Value::String(formatter.value(row).to_string())),
            };
            lines.push_str(
                &json!({"request_id": ids.value(row), "label": label, "received_ms": now})
                    .to_string(),
            );
            lines.push('\n');
        }
        lines
    };
    let count = batch.num_rows();
    let stored =
        tokio::task::spawn_blocking(move || crate::server::app::store_labels(&runtime, &lines))
            .await;
    match stored {
        Ok(Ok(())) => {
            state
                .metrics
                .labels_received
                .with_label_values(&[&model])
                .inc_by(count as u64);
            Json(json!({"model": model, "labels": count})).into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize, Default)]
pub struct QualityQuery {
    from: Option<String>,
    to: Option<String>,
    slice: Option<String>,
}

/// `2026-01-02T03:04:05Z`, a date, or milliseconds since the epoch.
fn parse_time(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// `GET /v1/models/{model}/quality?from=&to=&slice=`: each window's quality
/// in the range (by its first prediction) and their rollup.
pub async fn get_quality(
    State(state): State<Shared>,
    Path(model): Path<String>,
    Query(query): Query<QualityQuery>,
    headers: HeaderMap,
) -> Response {
    if !crate::server::app::authorized(&state, &headers) {
        return crate::server::app::unauthorized();
    }
    let runtime = match state.model_runtime(&model) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let Some(quality) = runtime.lock().ok().and_then(|g| g.quality()) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("model `{model}` has no [models.{model}.quality] section"),
        );
    };
    let mut range = [i64::MIN, i64::MAX];
    for (i, (name, value)) in [("from", &query.from), ("to", &query.to)]
        .into_iter()
        .enumerate()
    {
        if let Some(text) = value {
            match parse_time(text) {
                Some(t) => range[i] = t,
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "{name}={text}: expected RFC 3339 (2026-01-02T03:04:05Z), a date or milliseconds since the epoch"
                        ),
                    );
                }
            }
        }
    }
    let slice = query.slice.clone();
    let state2 = state.clone();
    let work = tokio::task::spawn_blocking(move || {
        // Acknowledged labels are in the answer.
        quality.refresh(&state2.metrics, state2.alerts.as_deref())?;
        let windows: Vec<Value> = quality
            .window_reports()
            .into_iter()
            .filter(|w| w.start_ms >= range[0] && w.start_ms < range[1])
            .map(|w| window_summary(&w, slice.as_deref()))
            .collect();
        let rollup = quality.rollup(range[0], range[1])?;
        Ok::<_, String>((
            windows,
            rollup,
            quality.join_totals(),
            quality.cpu_seconds(),
        ))
    })
    .await;
    match work {
        Ok(Ok((windows, rollup, totals, (join_cpu, recompute_cpu)))) => {
            let mut rollup = serde_json::to_value(rollup).unwrap_or(Value::Null);
            if let (Some(s), Value::Object(map)) = (&query.slice, &mut rollup)
                && let Some(q) = map.get("quality").cloned()
            {
                map.insert("slice".into(), slice_of(&q, s));
            }
            let labels = json!({
                "joined": totals.joined,
                "replaced": totals.replaced,
                "unmatched": {
                    "unknown": totals.unknown,
                    "expired": totals.expired,
                    "duplicate": totals.duplicate,
                },
                "join_cpu_seconds": join_cpu,
                "recompute_cpu_seconds": recompute_cpu,
            });
            Json(json!({"model": model, "windows": windows, "rollup": rollup, "labels": labels}))
                .into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The slice `name` of a quality report (JSON), or null.
fn slice_of(quality: &Value, name: &str) -> Value {
    quality["slices"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["slice"] == name))
        .cloned()
        .unwrap_or(Value::Null)
}

fn window_summary(w: &super::WindowQuality, slice: Option<&str>) -> Value {
    let quality = serde_json::to_value(&w.quality).unwrap_or(Value::Null);
    let mut out = json!({
        "window": w.window,
        "start": w.start,
        "end": w.end,
        "predictions": w.predictions,
        "labelled": w.labelled,
        "label_coverage": w.label_coverage,
        "final": w.is_final,
        "reference": w.reference,
        "metrics": quality["metrics"],
        "intervals": quality["intervals"],
        "findings": quality["findings"],
    });
    if let Some(e) = &w.estimated {
        out["estimated"] = serde_json::to_value(e).unwrap_or(Value::Null);
    }
    if let Some(f) = &w.fairness {
        out["fairness"] = json!({
            "by_group": f.by_group,
            "disparities": f.disparities,
            "findings": f.findings,
        });
    }
    if let Some(s) = slice {
        out["slice"] = slice_of(&quality, s);
    }
    out
}

/// Recomputes, every second, the quality of the windows whose labels
/// changed, for every model with `[quality]`.
pub async fn refresh_timer(state: Shared) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let models: Vec<Arc<ModelQuality>> = state
            .all_runtimes()
            .into_iter()
            .filter_map(|r| r.lock().ok().and_then(|g| g.quality()))
            .collect();
        for quality in models {
            let state = state.clone();
            let done = tokio::task::spawn_blocking(move || {
                quality
                    .refresh_paced(&state.metrics, state.alerts.as_deref())
                    .map_err(|e| (quality.model.clone(), e))
            })
            .await;
            if let Ok(Err((model, e))) = done {
                tracing::error!(model = %model, "refreshing model quality: {e}");
            }
        }
    }
}
