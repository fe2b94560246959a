//! Closing a window: a fresh window and log under the model's lock, then,
//! on the model's closer thread (`server::closer`), its checks (skew,
//! drift, schema, window suite) and its report; and, on start, settling
//! the closes a crash interrupted.
//!
//! The close writes only the report (renamed into place, so readers never
//! see half of it) and moves the closed window's log aside as
//! `closing-ID.wal`; the model's state writer (`server::durable`) then
//! writes the window's profile and the index and syncs all three, and only
//! then removes the log. A crash before that leaves the log: [`settle`]
//! syncs the files when the index names the window and they are whole, and
//! otherwise closes the window again from the log, so an acknowledged row
//! is never lost and never counted twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::{ClosedWindow, ModelRuntime, ModelSpec, OpenWindow, ServerError, new_window, now_ms};
use super::{rfc3339, window_header};
use crate::checks::compare::{self, CompareOptions, Comparison, Side};
use crate::checks::schema_anomalies;
use crate::expectations;
use crate::profile::table::TableAccumulator;
use crate::profile::{Profile, io as profile_io};
use crate::report::{ComparisonJson, comparison_json};
use crate::server::closer::{CloseJob, Reply, lock};
use crate::server::config::Check;
use crate::server::data::Partitions;
use crate::server::durable::{DurableJob, sync_files};
use crate::server::state::{
    WindowIndex, WindowInfo, WindowState, replace_unsynced, window_seq, write_atomic,
};
use crate::server::wal::WalHeader;
use crate::validation::{SchemaOutcome, ValidationReport};

/// What a window close's checks found, before anything is written.
pub(super) struct WindowChecks {
    skew: Option<compare::ComparisonReport>,
    drift: Option<compare::ComparisonReport>,
    validation: ValidationReport,
    info: WindowInfo,
}

/// A closed window's report file (`reports/ID.json`, `GET /v1/reports/ID`).
#[derive(Serialize)]
struct WindowReport<'a> {
    id: &'a str,
    model: &'a str,
    start: &'a str,
    end: Option<&'a str>,
    rows: u64,
    batches: u64,
    alerts: bool,
    validation: Value,
    skew: Option<ComparisonJson<'a>>,
    drift: Option<ComparisonJson<'a>>,
}

impl WindowChecks {
    fn report_bytes(&self) -> Vec<u8> {
        let info = &self.info;
        let report = WindowReport {
            id: &info.id,
            model: &info.model,
            start: &info.start,
            end: info.end.as_deref(),
            rows: info.rows,
            batches: info.batches,
            alerts: info.alerts,
            validation: self.validation.to_json(),
            skew: self.skew.as_ref().map(comparison_json),
            drift: self.drift.as_ref().map(comparison_json),
        };
        serde_json::to_vec_pretty(&report).unwrap_or_default()
    }
}

pub(super) fn report_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("reports").join(format!("{id}.json"))
}

pub(super) fn profile_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("windows").join(format!("{id}.profile.json"))
}

pub(super) fn index_path(dir: &Path) -> PathBuf {
    dir.join("windows.json")
}

fn closing_log_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("closing-{id}.wal"))
}

/// The closed windows' logs a crash left in `dir`, oldest window first.
pub(super) fn closing_logs(dir: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_prefix("closing-")?.strip_suffix(".wal")?;
            Some((window_seq(id).unwrap_or(0), e.path()))
        })
        .collect();
    logs.sort();
    logs.into_iter().map(|(_, p)| p).collect()
}

impl ModelRuntime {
    /// Starts closing the open window (if it has rows) and returns without
    /// waiting for the close: see [`ModelRuntime::begin_close`]. Whether a
    /// close was started.
    pub fn start_close(&mut self) -> Result<bool, ServerError> {
        self.begin_close(None)
    }

    /// Closes the open window (if it has rows) and waits for the closer
    /// thread to publish it: for tests, the bench and tools. It waits
    /// holding `&mut self`, so the daemon (whose requests share the model
    /// behind a lock) uses [`ModelRuntime::start_close`].
    pub fn close_window(&mut self) -> Result<Option<ClosedWindow>, ServerError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        if !self.begin_close(Some(reply))? {
            return Ok(None);
        }
        match answer.recv() {
            Ok(closed) => closed.map(Some).map_err(ServerError::State),
            Err(_) => Err(ServerError::State(
                "the closer thread has stopped; the window's log is kept and the next start closes it"
                    .into(),
            )),
        }
    }

    /// The part of a close that must be atomic with ingest, under the
    /// model's lock: the next window's id, the log rotated (the closed
    /// window's log kept as `closing-ID.wal` until the state writer has
    /// made its files durable, so a crash from here on finds it and
    /// `settle` closes the window), the new window swapped in, the closed
    /// one listed as closing. Its checks, report and publishing run on the
    /// closer thread (`server::closer`), in order.
    fn begin_close(&mut self, reply: Option<Reply>) -> Result<bool, ServerError> {
        if self.window.rows == 0 {
            return Ok(false);
        }
        let end_ms = now_ms();
        let next = new_window(
            &self.name,
            &mut lock(&self.ledger).index,
            &self.spec.template,
        );
        // On an error the window stays open (appends still go to its log);
        // the id just handed out is skipped, never reused.
        self.wal
            .rotate(
                &window_header(&self.name, &next),
                &closing_log_path(&self.dir, &self.window.id),
            )
            .map_err(ServerError::State)?;
        let window = std::mem::replace(&mut self.window, next);
        lock(&self.ledger).closing.push(WindowInfo {
            id: window.id.clone(),
            model: self.name.clone(),
            start: rfc3339(window.start_ms),
            end: Some(rfc3339(end_ms)),
            rows: window.rows,
            batches: window.batches,
            state: WindowState::Closing,
            report: None,
            alerts: false,
        });
        // Waits while the closer's queue is full (backpressure).
        self.closer.submit(CloseJob {
            window,
            end_ms,
            reply,
        });
        Ok(true)
    }
}

/// What the closer made of a closed window.
pub(in crate::server) struct Finished {
    pub closed: ClosedWindow,
    /// Whether its report was written.
    pub report: Result<(), String>,
    /// The window's accumulator, for the rollups.
    pub acc: TableAccumulator,
}

/// The work of a close off the model's lock (on the closer thread): the
/// window's profile, its checks against the baseline and `previous` (the
/// closed window before it), and its report, renamed into place unsynced
/// (the state writer syncs it).
pub(in crate::server) fn finish_window(
    spec: &ModelSpec,
    dir: &Path,
    window: OpenWindow,
    previous: Option<&Profile>,
    end_ms: i64,
) -> Finished {
    let started = std::time::Instant::now();
    let mut profile = window.acc.finish();
    profile.sources = vec![format!("window {}", window.id)];
    let profile = Arc::new(profile);
    let checked = window_checks(spec, &window, previous, &profile, end_ms);
    let report = replace_unsynced(&report_path(dir, &window.id), &checked.report_bytes());
    let WindowChecks {
        skew,
        drift,
        validation,
        info,
    } = checked;
    Finished {
        closed: ClosedWindow {
            info,
            profile,
            skew,
            drift,
            validation,
            schema: spec.schema.clone(),
            duration: started.elapsed(),
        },
        report,
        acc: window.acc,
    }
}

/// The state writer's job for a published window: its profile and the
/// `index` (serialised and written there, in close order), synced with
/// its report; then its closing log is released (a batch's worth at a
/// time: `wal::release`) and the `expired` windows' files are removed.
/// The profile the window replaced as the reference for drift (`retired`)
/// is freed there too: freeing a 100-feature profile took up to 1.7 ms.
pub(in crate::server) fn durable_job(
    dir: &Path,
    id: &str,
    profile: Arc<Profile>,
    retired: Option<Arc<Profile>>,
    index: WindowIndex,
    expired: &[WindowInfo],
) -> DurableJob {
    let closing_batches = index
        .closed
        .iter()
        .rfind(|w| w.id == id)
        .map_or(1, |w| w.batches);
    DurableJob {
        written: vec![report_path(dir, id)],
        to_write: vec![
            (
                profile_path(dir, id),
                Box::new(move || {
                    drop(retired);
                    serde_json::to_vec(&*profile).map_err(|e| e.to_string())
                }),
            ),
            (index_path(dir), Box::new(move || index.bytes())),
        ],
        closing_log: closing_log_path(dir, id),
        closing_batches,
        expired: expired
            .iter()
            .flat_map(|w| [report_path(dir, &w.id), profile_path(dir, &w.id)])
            .collect(),
        data: None,
    }
}

/// Whether a closed window's report and profile files are whole.
fn files_whole(dir: &Path, id: &str) -> bool {
    let report = std::fs::read(report_path(dir, id))
        .ok()
        .is_some_and(|b| serde_json::from_slice::<serde::de::IgnoredAny>(&b).is_ok());
    report && profile_io::load(&profile_path(dir, id)).is_ok()
}

/// Settles a window whose close a crash may have interrupted (its log
/// `header` and `batches` survived): when the index names it closed and its
/// files are whole, they are synced; otherwise the window is closed again
/// from the log, its files and index entry written and synced. The note
/// says what was done.
pub(super) fn settle(
    spec: &ModelSpec,
    dir: &Path,
    index: &mut WindowIndex,
    header: &WalHeader,
    batches: &[arrow::record_batch::RecordBatch],
    data: Option<&Partitions>,
) -> Result<String, String> {
    let id = &header.window;
    if index.is_closed(id) && files_whole(dir, id) {
        sync_files(&[report_path(dir, id), profile_path(dir, id), index_path(dir)])?;
        let end_ms = index
            .closed
            .iter()
            .rfind(|w| &w.id == id)
            .and_then(|w| w.end.as_deref())
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .map_or_else(now_ms, |t| t.timestamp_millis());
        settle_data(data, header, batches, end_ms);
        return Ok(format!(
            "window {id} had closed; its files are now synced and its log removed"
        ));
    }
    let removed = index.remove_closed(id);
    let at = removed.as_ref().map_or(index.closed.len(), |(at, _)| *at);
    let end_ms = removed
        .as_ref()
        .and_then(|(_, w)| w.end.as_deref())
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .map_or_else(now_ms, |t| t.timestamp_millis());
    let previous = at
        .checked_sub(1)
        .and_then(|p| profile_io::load(&profile_path(dir, &index.closed[p].id)).ok());
    let window = OpenWindow::replay(header, batches, &spec.template)?;
    let mut profile = window.acc.finish();
    profile.sources = vec![format!("window {id}")];
    let checked = window_checks(spec, &window, previous.as_ref(), &profile, end_ms);
    let bytes = serde_json::to_vec(&profile).map_err(|e| e.to_string())?;
    write_atomic(&profile_path(dir, id), &bytes)?;
    write_atomic(&report_path(dir, id), &checked.report_bytes())?;
    index.insert_closed(at, checked.info);
    index.save(&index_path(dir))?;
    settle_data(data, header, batches, end_ms);
    Ok(format!(
        "window {id}: its files were incomplete after a crash; closed again from its log ({} rows)",
        window.rows
    ))
}

/// The retraining data of a window a crash interrupted, unless its
/// partition was written before the crash.
fn settle_data(
    data: Option<&Partitions>,
    header: &WalHeader,
    batches: &[arrow::record_batch::RecordBatch],
    end_ms: i64,
) {
    let Some(data) = data else { return };
    if data.path_of(&header.window, header.start_ms).exists() {
        return;
    }
    if let Err(e) = data.write_window(&header.window, header.start_ms, end_ms, batches, now_ms()) {
        tracing::error!(window = %header.window, "retraining data: {e}");
    }
}

/// The window's checks (skew, drift, schema, window suite) and its entry
/// in the index.
fn window_checks(
    spec: &ModelSpec,
    window: &OpenWindow,
    previous: Option<&Profile>,
    profile: &Profile,
    end_ms: i64,
) -> WindowChecks {
    let checks = &spec.config.checks.per_window;
    let run = |comparison: Comparison, reference: &Profile| {
        let options = CompareOptions::new(comparison);
        compare::plan(reference, profile, spec.schema.as_ref(), &options)
            .and_then(|plan| {
                compare::compare(
                    &plan,
                    Side {
                        label: "reference",
                        profile: reference,
                        exact: None,
                    },
                    Side {
                        label: &window.id,
                        profile,
                        exact: None,
                    },
                )
            })
            .ok()
    };
    let skew = checks
        .contains(&Check::Skew)
        .then(|| run(Comparison::Skew, &spec.baseline()))
        .flatten();
    let drift = match (previous, checks.contains(&Check::Drift)) {
        (Some(previous), true) => run(Comparison::Drift, previous),
        _ => None,
    };
    let mut validation = ValidationReport::default();
    if checks.contains(&Check::Schema)
        && let Some(schema) = &spec.schema
    {
        validation.schema = Some(SchemaOutcome {
            file: "schema".into(),
            environment: spec.environment.clone(),
            rows: profile.rows,
            findings: schema_anomalies(profile, schema, spec.environment.as_deref()),
        });
    }
    if checks.contains(&Check::Expectations)
        && let Some(suite) = &spec.window_suite
    {
        validation.suite = Some(expectations::evaluate_profile(suite, profile));
    }
    let id = &window.id;
    let alerts = !validation.success()
        || skew.as_ref().is_some_and(|r| r.drifted())
        || drift.as_ref().is_some_and(|r| r.drifted());
    let info = WindowInfo {
        id: id.clone(),
        model: spec.name.clone(),
        start: rfc3339(window.start_ms),
        end: Some(rfc3339(end_ms)),
        rows: window.rows,
        batches: window.batches,
        state: WindowState::Closed,
        report: Some(format!("{id}.json")),
        alerts,
    };
    WindowChecks {
        skew,
        drift,
        validation,
        info,
    }
}

#[cfg(test)]
mod tests;
