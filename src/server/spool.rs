//! The spool directory: files dropped into it (written elsewhere or under
//! a dot-name / `.tmp` name, then renamed in) are ingested like HTTP bodies
//! and moved to `done/`, or to `failed/` with `NAME.error.txt` beside them.
//! The format comes from the file extension.
//!
//! Labels come the same way, in the `labels/` subdirectory of the spool
//! (for the spool's model; its own `done/` and `failed/`): each file is a
//! label body as `POST /v1/labels` takes it, checked whole and accepted
//! (appended to the label log, synced) or refused whole. A subdirectory rather than a
//! configuration key: the spool already names one model, labels for it
//! need nothing more, and each tick ingests the batch files before the
//! label files, so labels dropped with their predictions find them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::app::{AppState, ingest_bytes, record_batch};
use super::config::SpoolConfig;
use super::labels::http::accept_body;
use crate::sources::payload::Cores;

/// The Content-Type a spool file's extension stands for.
fn content_type(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let ext = name.rsplit('.').next()?;
    Some(match ext {
        "json" => "application/json",
        "ndjson" | "jsonl" => "application/x-ndjson",
        "csv" => "text/csv",
        "arrow" | "arrows" | "ipc" => "application/vnd.apache.arrow.stream",
        "parquet" => "application/vnd.apache.parquet",
        _ => return None,
    })
}

/// Files ready to ingest, oldest name first (skips dot-files, `.tmp`
/// files still being written, and directories).
fn ready_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            !name.starts_with('.') && !name.ends_with(".tmp")
        })
        .collect();
    files.sort();
    files
}

fn move_into(file: &Path, sub: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(sub).map_err(|e| format!("{}: {e}", sub.display()))?;
    let target = sub.join(file.file_name().unwrap_or_default());
    std::fs::rename(file, &target).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(target)
}

/// Moves a processed file to `done/`, or to `failed/` with the reason in
/// `NAME.error.txt` beside it.
fn settle(file: &Path, dir: &Path, failed: Option<&String>) -> Result<PathBuf, String> {
    match failed {
        None => move_into(file, &dir.join("done")),
        Some(why) => move_into(file, &dir.join("failed")).inspect(|target| {
            let note = target.with_file_name(format!(
                "{}.error.txt",
                target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("file")
            ));
            let _ = std::fs::write(note, format!("{why}\n"));
        }),
    }
}

/// The extension error, for both kinds of files.
const UNKNOWN_TYPE: &str =
    "unknown file type; expected .json, .ndjson, .jsonl, .csv, .arrow/.arrows/.ipc or .parquet";

/// Joins the label files of `labels/` (after the batch files of the tick).
async fn labels_tick(state: &Arc<AppState>, model: &str, dir: &Path) {
    for file in ready_files(dir) {
        let (state2, model2, dir2) = (state.clone(), model.to_string(), dir.to_path_buf());
        let result = tokio::task::spawn_blocking(move || {
            let quality = state2
                .models
                .get()
                .and_then(|m| m.get(&model2))
                .and_then(|r| r.lock().ok().and_then(|g| g.quality()));
            let outcome = match (quality, content_type(&file)) {
                (None, _) => Err(format!(
                    "model `{model2}` has no [models.{model2}.quality] section: labels are not joined"
                )),
                (_, None) => Err(UNKNOWN_TYPE.to_string()),
                (Some(q), Some(ct)) => std::fs::read(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|body| accept_body(&state2, &model2, &q, ct, &body)),
            };
            let moved = settle(&file, &dir2, outcome.as_ref().err());
            (file, outcome, moved)
        })
        .await;
        let Ok((file, outcome, moved)) = result else {
            continue;
        };
        if let Err(e) = moved {
            tracing::error!("spool: cannot move {}: {e}", file.display());
        }
        let status = match outcome {
            Ok(accepted) => {
                tracing::debug!("spool: {}: {accepted} labels accepted", file.display());
                "done"
            }
            Err(why) => {
                tracing::warn!("spool: {} failed: {why}", file.display());
                "failed"
            }
        };
        state
            .metrics
            .spool_files
            .with_label_values(&[model, status])
            .inc();
    }
}

/// Polls the spool directory until the daemon stops.
pub async fn watch(state: Arc<AppState>, spool: SpoolConfig, default_model: String) {
    let model = spool.model.clone().unwrap_or(default_model);
    let labels_dir = spool.dir.join("labels");
    if let Err(e) = std::fs::create_dir_all(&labels_dir) {
        tracing::error!(dir = %labels_dir.display(), "cannot create the spool directory: {e}");
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(spool.poll_interval_ms.max(10)));
    loop {
        tick.tick().await;
        let Some(runtime) = state.models.get().and_then(|m| m.get(&model)).cloned() else {
            continue;
        };
        let max_rows = state.max_batch_rows;
        for file in ready_files(&spool.dir) {
            let runtime = runtime.clone();
            let dir = spool.dir.clone();
            let result = tokio::task::spawn_blocking(move || {
                let outcome = match content_type(&file) {
                    None => Err(UNKNOWN_TYPE.to_string()),
                    Some(ct) => std::fs::read(&file)
                        .map_err(|e| e.to_string())
                        .and_then(|body| {
                            ingest_bytes(&runtime, ct, &body.into(), max_rows, Cores::One)
                                .map_err(|e| e.to_string())
                        }),
                };
                let moved = settle(&file, &dir, outcome.as_ref().err());
                (file, outcome, moved)
            })
            .await;
            let Ok((file, outcome, moved)) = result else {
                continue;
            };
            if let Err(e) = moved {
                tracing::error!("spool: cannot move {}: {e}", file.display());
            }
            match outcome {
                Ok((batch, open_rows)) => {
                    record_batch(&state, &model, &batch, open_rows);
                    state
                        .metrics
                        .spool_files
                        .with_label_values(&[&model, "done"])
                        .inc();
                }
                Err(why) => {
                    tracing::warn!("spool: {} failed: {why}", file.display());
                    state
                        .metrics
                        .spool_files
                        .with_label_values(&[&model, "failed"])
                        .inc();
                }
            }
        }
        labels_tick(&state, &model, &labels_dir).await;
    }
}
