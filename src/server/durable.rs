//! Making a closed window's files durable, off the window close.
//!
//! A window close writes the window's report (renamed into place, so
//! readers never see half a file) and rotates the log, keeping the closed
//! window's log as `closing-ID.wal`. The window's profile and the index are
//! serialised and written here, on the model's state-writer thread, and the
//! fsyncs that make all three survive a power cut happen here too; only
//! then is the closing log retired (`wal::retire`: kept as the spare, or
//! released). Until then the log holds every row of the window, so a crash
//! at any point loses nothing acknowledged: on start, the model settles
//! each closing log it finds (`model::close`), syncing files that are whole
//! and closing the window again from its log when they are not.
//!
//! Why a thread: the fsyncs (three files, their directories) were about
//! 6 ms of a 17 ms close (benches/daemon.rs), and serialising the profile
//! competed with the checks for the CPU: time that held the model's lock
//! and the request that filled the window.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::state::replace_unsynced;

/// Makes the bytes of a file (serialising off the close).
pub type Contents = Box<dyn FnOnce() -> Result<Vec<u8>, String> + Send>;

/// One closed window's files to write and make durable.
pub struct DurableJob {
    /// Files already renamed into place without an fsync.
    pub written: Vec<PathBuf>,
    /// Files to write here (renamed into place, then synced with the
    /// others): the window's profile and the index.
    pub to_write: Vec<(PathBuf, Contents)>,
    /// The closed window's log, released once the files are durable.
    pub closing_log: PathBuf,
    /// How many batches that log holds (it is freed a batch at a time).
    pub closing_batches: u64,
    /// Files of windows the index no longer names, deleted once it is
    /// durable (a crash before leaves files, never a dangling entry).
    pub expired: Vec<PathBuf>,
    /// Writes the window's retraining data (`server::data`) from its
    /// closing log, once the window's files are durable and before the log
    /// goes: a crash in between leaves the log, and the next start writes
    /// the partition while it settles the close.
    pub data: Option<DataJob>,
}

/// Writes a closed window's partition from its closing log (the path);
/// reports its own errors (a window's data that cannot be written does not
/// keep its log: the window itself is durable).
pub type DataJob = Box<dyn FnOnce(&Path) + Send>;

/// Fsyncs `files` and their directories.
pub fn sync_files(files: &[PathBuf]) -> Result<(), String> {
    let mut dirs: Vec<&Path> = Vec::new();
    for path in files {
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("{}: syncing: {e}", path.display()))?;
        if let Some(dir) = path.parent()
            && !dirs.contains(&dir)
        {
            dirs.push(dir);
        }
    }
    for dir in dirs {
        // The files' names are entries of `dir`: syncing it makes their
        // renames durable.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("{}: syncing the directory: {e}", dir.display()))?;
    }
    Ok(())
}

/// Writes and syncs the job's files, then releases the closing log and
/// removes the expired files. On an error before the files are durable the
/// closing log stays, and the next start settles it; a release cut short
/// leaves a `released-` log, which the next start removes.
pub fn run(job: DurableJob) -> Result<(), String> {
    let mut files = job.written;
    for (path, contents) in job.to_write {
        replace_unsynced(&path, &contents()?)?;
        files.push(path);
    }
    sync_files(&files)?;
    if let Some(data) = job.data {
        data(&job.closing_log);
    }
    // Kept as the spare log, or freed in steps, so that the open log's
    // fsyncs do not wait for all its blocks to be freed at once (see
    // `wal::retire`). The window is durable by now, so a release that
    // fails only leaves disk space taken.
    if let Err(e) = super::wal::retire(&job.closing_log, job.closing_batches) {
        tracing::warn!("{e}; the window's files are durable, and the next start removes the log");
    }
    for path in &job.expired {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Closed windows waiting for the state writer; when full, a close waits
/// for it (bounded memory, and never more than this many logs kept).
const QUEUE: usize = 16;

/// The handle of a model's state-writer thread.
pub struct StateWriter {
    model: String,
    queue: Option<SyncSender<DurableJob>>,
    thread: Option<JoinHandle<()>>,
}

impl StateWriter {
    pub fn start(model: &str) -> Self {
        let (queue, jobs) = sync_channel::<DurableJob>(QUEUE);
        let name = model.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("state-{model}"))
            .spawn(move || {
                super::priority::background_thread();
                for job in jobs {
                    if let Err(e) = run(job) {
                        tracing::error!(model = %name, "a closed window's files are not durable yet ({e}); its log is kept and the next start settles it");
                    }
                }
            })
            .ok();
        if thread.is_none() {
            tracing::warn!(
                model,
                "no state-writer thread; window closes sync their files themselves"
            );
        }
        Self {
            model: model.to_string(),
            queue: thread.as_ref().map(|_| queue),
            thread,
        }
    }

    /// Queues a job (or runs it here when there is no thread).
    pub fn submit(&self, job: DurableJob) {
        let job = match &self.queue {
            Some(queue) => match queue.send(job) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => job,
        };
        if let Err(e) = run(job) {
            tracing::error!(model = %self.model, "a closed window's files are not durable yet ({e}); its log is kept and the next start settles it");
        }
    }

    /// Waits until every queued job is done and stops the thread.
    pub fn finish(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_log_goes_only_after_the_files_are_written_and_synced() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("reports/w-1.json");
        std::fs::create_dir_all(report.parent().unwrap()).unwrap();
        std::fs::write(&report, b"{}").unwrap();
        let profile = dir.path().join("windows/w-1.profile.json");
        let log = dir.path().join("closing-w-1.wal");
        let expired = dir.path().join("reports/w-0.json");
        std::fs::write(&log, b"log").unwrap();
        std::fs::write(&expired, b"{}").unwrap();
        let mut writer = StateWriter::start("m");
        writer.submit(DurableJob {
            written: vec![report.clone()],
            to_write: vec![(profile.clone(), Box::new(|| Ok(b"{\"p\": 1}".to_vec())))],
            closing_log: log.clone(),
            closing_batches: 1,
            expired: vec![expired.clone()],
            data: None,
        });
        writer.finish();
        assert!(report.exists());
        assert_eq!(std::fs::read(&profile).unwrap(), b"{\"p\": 1}");
        assert!(!log.exists() && !expired.exists());
        assert!(
            !dir.path().join("released-closing-w-1.wal").exists(),
            "released, not left aside"
        );

        // A file that cannot be synced (it is gone), or contents that
        // cannot be made, keep the log.
        std::fs::write(&log, b"log").unwrap();
        let missing = DurableJob {
            written: vec![dir.path().join("reports/w-2.json")],
            to_write: Vec::new(),
            closing_log: log.clone(),
            closing_batches: 1,
            expired: Vec::new(),
            data: None,
        };
        let err = run(missing).unwrap_err();
        assert!(err.contains("w-2.json"), "{err}");
        assert!(log.exists(), "kept for the next start");
        let failing = DurableJob {
            written: Vec::new(),
            to_write: vec![(profile, Box::new(|| Err("no bytes".to_string())))],
            closing_log: log.clone(),
            closing_batches: 1,
            expired: Vec::new(),
            data: None,
        };
        assert_eq!(run(failing).unwrap_err(), "no bytes");
        assert!(log.exists());
    }
}
