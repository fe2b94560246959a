//! The closer thread: closes off the commit, in order, drift against the
//! immediate predecessor, a bounded queue, and reads that wait for it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::closer::Progress;
use crate::server::config::{ModelConfig, WindowPolicy};
use crate::server::model::ModelRuntime;
use crate::server::state::WindowState;
use crate::server::test_model::{self, batch};

/// A model closing a window every `rows` rows, skew and drift per window.
fn config(dir: &Path, rows: u64) -> ModelConfig {
    test_model::config(
        dir,
        WindowPolicy {
            rows: Some(rows),
            seconds: None,
            keep: 100,
        },
    )
}

fn commit(runtime: &Mutex<ModelRuntime>, rows: usize, shift: f64) {
    let spec = runtime.lock().unwrap().spec();
    let prepared = spec.prepare(&batch(rows, shift), None).unwrap();
    runtime.lock().unwrap().commit(prepared).unwrap();
}

/// Each published close: its window and whether it drifted from the one
/// before (`None`: no drift check).
type Closes = Arc<Mutex<Vec<(String, Option<bool>)>>>;

/// A model whose closes are recorded, in the order they are published,
/// by the hook the daemon uses for its metrics.
fn model(dir: &Path, rows: u64) -> (Arc<Mutex<ModelRuntime>>, Closes) {
    let runtime = ModelRuntime::load(&config(dir, rows), &dir.join("state")).unwrap();
    let closes = Arc::new(Mutex::new(Vec::new()));
    let seen = closes.clone();
    runtime.on_close(Arc::new(move |closed| {
        let drift = closed.drift.as_ref().map(|r| r.drifted());
        seen.lock().unwrap().push((closed.info.id.clone(), drift));
    }));
    (Arc::new(Mutex::new(runtime)), closes)
}

/// Holds the closer before its next close until dropped, so that a failing
/// test releases it while unwinding (dropping the model joins the closer).
struct Held(Arc<Progress>);

fn hold(progress: &Arc<Progress>) -> Held {
    progress.pause(true);
    Held(progress.clone())
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.pause(false);
    }
}

fn ids(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("m-{i:06}")).collect()
}

fn report(dir: &Path, id: &str) -> serde_json::Value {
    let path = dir.join(format!("state/models/m/reports/{id}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_batch_that_fills_a_window_does_not_wait_for_its_close() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, closes) = model(dir.path(), 300);
    let progress = runtime.lock().unwrap().close_progress();
    let held = hold(&progress);
    commit(&runtime, 100, 0.0);
    // The filling commit, on its own thread: it must return while the
    // closer is held before the close.
    let (done, returned) = std::sync::mpsc::channel();
    let filler = runtime.clone();
    std::thread::spawn(move || {
        commit(&filler, 200, 0.0);
        let _ = done.send(());
    });
    returned
        .recv_timeout(Duration::from_secs(20))
        .expect("the commit returned without waiting for the close");
    // A read taken now waits for that close; the model's lock is free.
    let mark = progress.mark();
    let reader = {
        let progress = progress.clone();
        std::thread::spawn(move || progress.wait_for(mark))
    };
    {
        let guard = runtime.lock().unwrap();
        let windows = guard.windows();
        let states: Vec<_> = windows.iter().map(|w| (w.id.as_str(), w.state)).collect();
        assert_eq!(
            states,
            [
                ("m-000001", WindowState::Closing),
                ("m-000002", WindowState::Open)
            ]
        );
        assert_eq!(windows[0].rows, 300);
        assert_eq!(guard.totals().rows, 300, "the closing window's rows count");
        assert_eq!(guard.latest_report_path(), None);
        assert!(
            dir.path()
                .join("state/models/m/closing-m-000001.wal")
                .exists()
        );
    }
    assert!(closes.lock().unwrap().is_empty(), "nothing published yet");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!reader.is_finished(), "the read waits for the close");
    drop(held);
    reader.join().unwrap();
    // The read that waited sees the close published.
    let guard = runtime.lock().unwrap();
    let windows = guard.windows();
    assert_eq!(windows[0].state, WindowState::Closed);
    assert_eq!(guard.totals().rows, 300, "counted once");
    assert!(guard.latest_report_path().unwrap().exists());
    assert_eq!(report(dir.path(), "m-000001")["rows"], 300);
    assert_eq!(closes.lock().unwrap().len(), 1);
}

#[test]
fn queued_closes_drift_against_the_window_just_before_each() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, closes) = model(dir.path(), 300);
    let progress = runtime.lock().unwrap().close_progress();
    // Three windows closed before the closer runs any: the second shifted,
    // the third like the second.
    let held = hold(&progress);
    for shift in [0.0, 50.0, 50.0] {
        commit(&runtime, 300, shift);
    }
    drop(held);
    runtime.lock().unwrap().wait_for_closes();
    let closes = closes.lock().unwrap().clone();
    assert_eq!(
        closes,
        [
            ("m-000001".to_string(), None),
            ("m-000002".to_string(), Some(true)),
            // Against the first window it would have drifted.
            ("m-000003".to_string(), Some(false)),
        ]
    );
    assert!(report(dir.path(), "m-000003")["drift"].is_object());
}

#[test]
fn tiny_windows_closing_back_to_back_are_all_reported_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, closes) = model(dir.path(), 10);
    for _ in 0..40 {
        commit(&runtime, 10, 0.0);
    }
    // The queue is bounded: with the closer idle, then held, one close
    // taken and two queued, the fourth filling commit waits for room.
    runtime.lock().unwrap().wait_for_closes();
    let progress = runtime.lock().unwrap().close_progress();
    let held = hold(&progress);
    let returned = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (runtime, returned) = (runtime.clone(), returned.clone());
        std::thread::spawn(move || {
            for _ in 0..6 {
                commit(&runtime, 10, 0.0);
                returned.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while returned.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(returned.load(Ordering::SeqCst), 3, "the fourth close waits");
    drop(held);
    sender.join().unwrap();
    let guard = runtime.lock().unwrap();
    guard.wait_for_closes();
    let published: Vec<String> = closes.lock().unwrap().iter().map(|c| c.0.clone()).collect();
    assert_eq!(published, ids(46), "every close, in order");
    let windows = guard.windows();
    let closed: Vec<String> = windows
        .iter()
        .filter(|w| w.state == WindowState::Closed)
        .map(|w| w.id.clone())
        .collect();
    assert_eq!(closed, ids(46));
    for id in &closed {
        assert_eq!(report(dir.path(), id)["rows"], 10, "{id}");
    }
    let totals = guard.totals();
    assert_eq!((totals.rows, totals.windows), (460, 46));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn two_closes_pending_at_a_kill_are_settled_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, _) = model(dir.path(), 300);
    let progress = runtime.lock().unwrap().close_progress();
    let held = hold(&progress);
    commit(&runtime, 300, 0.0);
    commit(&runtime, 300, 50.0);
    commit(&runtime, 100, 0.0);
    // The state directory as a `kill -9` now would leave it: two closing
    // logs, neither window in the index.
    let killed = dir.path().join("killed");
    copy_dir(&dir.path().join("state/models/m"), &killed.join("models/m"));
    drop(held);
    runtime.lock().unwrap().finish_background();
    let mut logs: Vec<String> = std::fs::read_dir(killed.join("models/m"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("closing-"))
        .collect();
    logs.sort();
    assert_eq!(logs, ["closing-m-000001.wal", "closing-m-000002.wal"]);

    let restarted = ModelRuntime::load(&config(dir.path(), 300), &killed).unwrap();
    let closed_again = restarted
        .notes
        .iter()
        .filter(|n| n.contains("closed again"))
        .count();
    assert_eq!(closed_again, 2, "{:?}", restarted.notes);
    let windows = restarted.windows();
    let found: Vec<_> = windows
        .iter()
        .map(|w| (w.id.as_str(), w.state, w.rows))
        .collect();
    assert_eq!(
        found,
        [
            ("m-000001", WindowState::Closed, 300),
            ("m-000002", WindowState::Closed, 300),
            ("m-000003", WindowState::Open, 100)
        ]
    );
    assert_eq!(restarted.totals().rows, 700, "every row once");
    // The second window was closed again against the first: the same drift
    // as the uninterrupted close found.
    let again: serde_json::Value = serde_json::from_slice(
        &std::fs::read(killed.join("models/m/reports/m-000002.json")).unwrap(),
    )
    .unwrap();
    assert!(again["drift"].is_object(), "{again}");
    assert_eq!(again["drift"], report(dir.path(), "m-000002")["drift"]);
}
