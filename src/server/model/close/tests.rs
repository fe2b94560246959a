//! Crashes around a window close, staged from copies of the state files
//! taken at the moments a `kill -9` or a power cut could hit.

use super::super::ModelRuntime;
use super::{closing_logs, profile_path, report_path};
use crate::server::config::{ModelConfig, WindowPolicy};
use crate::server::test_model::{self, batch};
use std::path::{Path, PathBuf};

/// A model with a baseline profile in `dir`, skew and drift per window.
fn config(dir: &Path) -> ModelConfig {
    test_model::config(
        dir,
        WindowPolicy {
            rows: None,
            seconds: Some(3600),
            keep: 10,
        },
    )
}

fn commit(runtime: &mut ModelRuntime, rows: usize) {
    let prepared = runtime.spec().prepare(&batch(rows, 0.0), None).unwrap();
    runtime.commit(prepared).unwrap();
}

struct Staged {
    config: ModelConfig,
    state: PathBuf,
    model: PathBuf,
    /// The first window's log and the index as they were just before its
    /// close.
    log_before: Vec<u8>,
    index_before: Vec<u8>,
}

/// One window of 300 rows, closed; the state writer has finished.
fn closed_once(dir: &Path) -> Staged {
    let config = config(dir);
    let state = dir.join("state");
    let model = state.join("models/m");
    let mut runtime = ModelRuntime::load(&config, &state).unwrap();
    commit(&mut runtime, 100);
    commit(&mut runtime, 200);
    let log_before = std::fs::read(model.join("open.wal")).unwrap();
    let index_before = std::fs::read(model.join("windows.json")).unwrap();
    let closed = runtime.close_window().unwrap().unwrap();
    assert_eq!(closed.info.id, "m-000001");
    runtime.finish_background();
    assert!(closing_logs(&model).is_empty(), "removed once synced");
    Staged {
        config,
        state,
        model,
        log_before,
        index_before,
    }
}

fn assert_noted(runtime: &ModelRuntime, what: &str) {
    assert!(
        runtime.notes.iter().any(|n| n.contains(what)),
        "no note saying {what:?}: {:?}",
        runtime.notes
    );
}

fn reload(staged: &Staged) -> ModelRuntime {
    ModelRuntime::load(&staged.config, &staged.state).unwrap()
}

#[test]
fn a_close_killed_before_its_files_were_synced_is_settled_once() {
    let dir = tempfile::tempdir().unwrap();
    let staged = closed_once(dir.path());
    // Killed before the state writer ran: the closed window's log is
    // still there beside the next window's.
    let log = staged.model.join("closing-m-000001.wal");
    std::fs::write(&log, &staged.log_before).unwrap();
    let runtime = reload(&staged);
    assert_noted(&runtime, "m-000001 had closed");
    assert!(!log.exists());
    let windows = runtime.windows();
    let ids: Vec<_> = windows.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["m-000001", "m-000002"]);
    assert_eq!(windows[0].rows, 300);
    assert_eq!(runtime.totals().rows, 300, "counted once");
}

#[test]
fn a_close_whose_files_a_power_cut_lost_is_closed_again_from_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let staged = closed_once(dir.path());
    // A power cut before the sync: the index is back to before the close,
    // the report is gone, the profile is empty; the logs survived.
    std::fs::write(
        staged.model.join("closing-m-000001.wal"),
        &staged.log_before,
    )
    .unwrap();
    std::fs::write(staged.model.join("windows.json"), &staged.index_before).unwrap();
    std::fs::remove_file(report_path(&staged.model, "m-000001")).unwrap();
    std::fs::write(profile_path(&staged.model, "m-000001"), b"").unwrap();
    let mut runtime = reload(&staged);
    assert_noted(&runtime, "closed again");
    assert!(closing_logs(&staged.model).is_empty());
    let windows = runtime.windows();
    let ids: Vec<_> = windows.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(
        ids,
        ["m-000001", "m-000002"],
        "the open window's id is kept"
    );
    assert_eq!((windows[0].rows, windows[0].batches), (300, 2));
    assert_eq!(runtime.totals().rows, 300);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_path(&staged.model, "m-000001")).unwrap())
            .unwrap();
    assert_eq!(report["rows"], 300);
    assert!(report["skew"].is_object());
    // The next close drifts against the window closed again, and its id
    // does not collide with the open window's.
    commit(&mut runtime, 50);
    let next = runtime.close_window().unwrap().unwrap();
    assert_eq!(next.info.id, "m-000002");
    assert!(next.drift.is_some());
    assert_eq!(runtime.windows().last().unwrap().id, "m-000003");
}

#[test]
fn a_close_killed_before_its_log_was_moved_aside_discards_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let staged = closed_once(dir.path());
    // Killed after the index named the window closed, before the rotation:
    // the open log is still the closed window's.
    std::fs::write(staged.model.join("open.wal"), &staged.log_before).unwrap();
    let runtime = reload(&staged);
    assert_noted(&runtime, "m-000001 had closed");
    let windows = runtime.windows();
    assert_eq!(windows.len(), 2);
    assert_eq!(windows[0].id, "m-000001");
    // A fresh window (the index had already handed out m-000002: an id is
    // skipped, never reused).
    assert_eq!(windows[1].id, "m-000003");
    assert_eq!(
        windows[1].rows, 0,
        "the closed window's rows are not replayed"
    );
    assert_eq!(runtime.totals().rows, 300);
}

#[test]
fn a_damaged_closing_log_is_quarantined_and_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let staged = closed_once(dir.path());
    let mut bytes = staged.log_before.clone();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(staged.model.join("closing-m-000001.wal"), &bytes).unwrap();
    let runtime = reload(&staged);
    assert_noted(&runtime, "checksum mismatch");
    assert!(closing_logs(&staged.model).is_empty());
    let aside = std::fs::read_dir(&staged.model)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .count();
    assert_eq!(aside, 1, "moved aside, not deleted");
    // The window's close had finished: it stays counted once.
    assert_eq!(runtime.totals().rows, 300);
}
