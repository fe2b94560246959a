//! `POST /v1/models/{model}/baseline`: the training profile a retrain job
//! promoted becomes the model's baseline (what skew compares windows
//! with). The body is a profile as `assay profile --format json` writes
//! it. It must describe every column of the model's windows with the same
//! type; otherwise 400 and the old baseline stays. Accepted, it is written
//! atomically to `models/NAME/baseline.profile.json` (a start prefers that
//! file to the configured `baseline`, until it is deleted), then swapped
//! in: the next closed window's skew uses it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::app::{AppState, authorized, error, unauthorized};
use super::model::ModelSpec;
use crate::profile::{Profile, io as profile_io};

/// Where a posted baseline is kept.
pub fn posted_path(model_dir: &Path) -> PathBuf {
    model_dir.join("baseline.profile.json")
}

/// The baseline in use: the posted one, else the configured one.
pub fn current_path(model_dir: &Path, configured: &Path) -> PathBuf {
    let posted = posted_path(model_dir);
    if posted.exists() {
        posted
    } else {
        configured.to_path_buf()
    }
}

/// Whether `profile` describes every column of the model's windows with
/// the type the window has.
fn check(profile: &Profile, spec: &ModelSpec) -> Result<(), String> {
    let mut problems = Vec::new();
    for field in spec.window_schema().fields() {
        match profile.columns.iter().find(|c| c.name == *field.name()) {
            None => problems.push(format!("no column `{}`", field.name())),
            Some(c) => {
                if super::model::arrow_type(c.logical_type).as_ref() != Some(field.data_type()) {
                    problems.push(format!(
                        "column `{}` is {:?}, the model's windows have {}",
                        field.name(),
                        c.logical_type,
                        field.data_type()
                    ));
                }
            }
        }
    }
    if profile.rows == 0 {
        problems.push("the profile has no rows".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the profile does not fit the model's windows: {}",
            problems.join("; ")
        ))
    }
}

/// Checks, writes and swaps in a posted profile; the file written. Not
/// under the model's lock: ingest goes on, and the next window close
/// takes the new baseline.
pub fn replace(
    spec: &ModelSpec,
    model_dir: &Path,
    body: &[u8],
) -> Result<(PathBuf, Arc<Profile>), (StatusCode, String)> {
    // One replacement at a time: the file and the profile in memory are
    // the same one.
    static REPLACING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = REPLACING.lock().unwrap_or_else(|e| e.into_inner());
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8 JSON".into()))?;
    let profile = profile_io::parse(text, "the request body").map_err(|e| bad(e.to_string()))?;
    check(&profile, spec).map_err(bad)?;
    let path = posted_path(model_dir);
    super::state::write_atomic(&path, profile_io::to_json(&profile).as_bytes())
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    spec.swap_baseline(profile);
    Ok((path, spec.baseline()))
}

pub async fn post(
    State(state): State<Arc<AppState>>,
    UrlPath(model): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let runtime = match state.model_runtime(&model) {
        Ok(r) => r,
        Err(response) => return *response,
    };
    let done = tokio::task::spawn_blocking(move || {
        let (spec, dir) = {
            let guard = runtime.lock().map_err(|_| {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the model's lock is poisoned".to_string(),
                )
            })?;
            (guard.spec(), guard.dir().to_path_buf())
        };
        replace(&spec, &dir, &body)
    })
    .await;
    match done {
        Ok(Ok((path, profile))) => {
            if let Some(r) = state
                .retrain
                .get()
                .and_then(|r| r.models.get(&model).cloned())
            {
                r.set_baseline(&path);
            }
            tracing::warn!(
                model = %model,
                file = %path.display(),
                rows = profile.rows,
                columns = profile.columns.len(),
                "baseline replaced by a posted training profile; skew now compares with it"
            );
            Json(json!({
                "model": model,
                "baseline": path.display().to_string(),
                "rows": profile.rows,
                "columns": profile.columns.len(),
            }))
            .into_response()
        }
        Ok(Err((status, message))) => {
            tracing::warn!(model = %model, "a posted baseline was refused: {message}");
            error(status, message)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
