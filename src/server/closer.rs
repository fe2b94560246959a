//! A model's closer thread: the work of a window close, off the request
//! path and the model's lock.
//!
//! Under the model's lock a close does only what must be atomic with
//! ingest (`ModelRuntime::start_close`, `model::close`): the next window
//! gets its id, the log is rotated (the closed window's log kept as
//! `closing-ID.wal`) and the new window swapped in. The closed window comes
//! here, in close order: its profile is finished, skew, drift (against the
//! previous closed window, which only this thread holds) and the window
//! suite are checked and the report is written; then the close is
//! published: the index names the window, the state writer makes its files
//! durable, the rollups get its accumulator, and the close is reported
//! (metrics and log, through the hook the server installs).
//!
//! Why: the close (8–11 ms with 100 features) was the p99 of
//! single-client ingest. The request whose batch filled the window waited
//! for it, and every other request waited for the model's lock.
//!
//! Crash safety does not change: the closing log exists from the rotation
//! (before the filling batch is acknowledged) until the state writer has
//! synced the window's files, and a start settles every closing log,
//! oldest first (`close::settle`), so an acknowledged row is counted once
//! however many closes were pending at a `kill -9`.
//!
//! Locks, always in this order: the model's lock, then the [`Ledger`]'s
//! (the index), then [`Progress`]'s. This thread takes only the ledger's
//! and the progress's, never the model's: a commit that holds the model's
//! lock while it waits for room in the queue cannot deadlock with it, and
//! the close hook must not take a model's lock either.
//!
//! Reads (`GET /v1/windows`, reports, `/metrics`) first wait, on a blocking
//! thread and without the model's lock, until every close submitted before
//! they began is published ([`Progress::wait_for`]): a client that posts
//! the batch filling a window and then asks for the latest report gets the
//! new one.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;

use super::data::Partitions;
use super::durable::StateWriter;
use super::model::{ClosedWindow, ModelSpec, OpenWindow, durable_job, finish_window};
use super::rollup::RollupWorker;
use super::state::{Totals, WindowIndex, WindowInfo};
use crate::profile::Profile;

/// Closes waiting for the closer thread. Bounded on purpose: when closes
/// fall behind ingest (tiny windows), the commit that fills a window waits
/// briefly for room, holding the model's lock — backpressure, instead of
/// closed windows (each a whole accumulator) piling up in memory.
const QUEUE: usize = 2;

/// Called on the closer thread for every published close (metrics, log).
/// It must not take a model's lock (see the lock order above).
pub type CloseHook = Arc<dyn Fn(&ClosedWindow) + Send + Sync>;

/// Where a synchronous close ([`super::ModelRuntime::close_window`]) gets
/// its result.
pub type Reply = SyncSender<Result<ClosedWindow, String>>;

/// Locks a mutex, also after a panic elsewhere poisoned it: the ledger and
/// the progress are updated in single steps that a panic cannot leave
/// half done.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The index, shared by the model (which hands out window ids and reads
/// it) and its closer (which publishes closed windows into it), and the
/// windows rotated out but not yet published: counted in the totals and
/// listed as `closing`, so that no read loses their rows in between.
pub struct Ledger {
    pub index: WindowIndex,
    pub closing: Vec<WindowInfo>,
}

impl Ledger {
    /// Every closed or closing window's rows, batches and count.
    pub fn totals(&self) -> Totals {
        let mut totals = self.index.totals;
        for w in &self.closing {
            totals.rows += w.rows;
            totals.batches += w.batches;
            totals.windows += 1;
        }
        totals
    }
}

/// One close for the closer thread.
pub struct CloseJob {
    pub window: OpenWindow,
    pub end_ms: i64,
    /// For a synchronous close: where its result goes.
    pub reply: Option<Reply>,
}

#[derive(Default)]
struct Counts {
    /// Closes handed to the thread, and those published (in order).
    submitted: u64,
    done: u64,
    /// The thread has ended: nothing more will be published.
    stopped: bool,
    /// Tests hold the thread before each close.
    #[cfg(test)]
    paused: bool,
}

/// How far the closer has got, for reads that must not observe a close
/// half done.
#[derive(Default)]
pub struct Progress {
    counts: Mutex<Counts>,
    changed: Condvar,
}

impl Progress {
    /// The closes submitted so far: what a read beginning now waits for.
    pub fn mark(&self) -> u64 {
        lock(&self.counts).submitted
    }

    /// Waits until the first `mark` closes are published (or the thread has
    /// stopped). Closes submitted after the mark are not waited for, so a
    /// read is not starved by steady ingest.
    pub fn wait_for(&self, mark: u64) {
        let mut counts = lock(&self.counts);
        while counts.done < mark && !counts.stopped {
            counts = self.changed.wait(counts).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn update(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut lock(&self.counts));
        self.changed.notify_all();
    }

    /// Holds (or releases) the closer thread before its next close. On the
    /// progress, not the model: a commit waiting for room in the queue
    /// holds the model's lock.
    #[cfg(test)]
    pub fn pause(&self, paused: bool) {
        self.update(|c| c.paused = paused);
    }

    #[cfg(test)]
    fn wait_unpaused(&self) {
        let mut counts = lock(&self.counts);
        while counts.paused {
            counts = self.changed.wait(counts).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Marks the progress stopped when the thread ends, also by a panic, so
/// that no read waits for a close that will never be published.
struct Stopped(Arc<Progress>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.update(|c| c.stopped = true);
    }
}

/// The handle of a model's closer thread.
pub struct Closer {
    model: String,
    queue: Option<SyncSender<CloseJob>>,
    thread: Option<JoinHandle<()>>,
    progress: Arc<Progress>,
    hook: Arc<OnceLock<CloseHook>>,
}

/// What the closer thread owns: the previous window's profile (the
/// reference for drift), the state writer and the rollups.
struct Core {
    spec: Arc<ModelSpec>,
    dir: PathBuf,
    ledger: Arc<Mutex<Ledger>>,
    previous: Option<Arc<Profile>>,
    writer: StateWriter,
    rollups: RollupWorker,
    /// The retraining data (`[models.NAME.data]`), written by the state
    /// writer from each closed window's log.
    data: Option<Arc<Partitions>>,
}

impl Closer {
    /// Starts the thread (with the model's state writer and rollups).
    /// `previous` is the newest closed window's profile.
    pub fn start(
        spec: Arc<ModelSpec>,
        dir: &Path,
        ledger: Arc<Mutex<Ledger>>,
        previous: Option<Arc<Profile>>,
        data: Option<Arc<Partitions>>,
    ) -> Result<Self, String> {
        let model = spec.name.clone();
        let (queue, jobs) = sync_channel::<CloseJob>(QUEUE);
        let progress = Arc::new(Progress::default());
        let hook: Arc<OnceLock<CloseHook>> = Arc::new(OnceLock::new());
        let mut core = Core {
            writer: StateWriter::start(&model),
            rollups: RollupWorker::start(&model, dir),
            spec,
            dir: dir.to_path_buf(),
            ledger,
            previous,
            data,
        };
        let thread = {
            let (progress, hook, name) = (progress.clone(), hook.clone(), model.clone());
            std::thread::Builder::new()
                .name(format!("close-{model}"))
                .spawn(move || {
                    super::priority::background_thread();
                    let _stopped = Stopped(progress.clone());
                    for job in jobs {
                        #[cfg(test)]
                        progress.wait_unpaused();
                        let reply = job.reply.clone();
                        let result = core.close(job);
                        match &result {
                            Ok(closed) => {
                                if let Some(hook) = hook.get() {
                                    hook(closed);
                                }
                            }
                            Err(e) => tracing::error!(model = %name, "closing a window: {e}"),
                        }
                        if let Some(reply) = reply {
                            let _ = reply.send(result);
                        }
                        progress.update(|c| c.done += 1);
                    }
                    // The queue is closed and drained (shutdown): then the
                    // state writer, then the rollups, which both got their
                    // last jobs from the closes above.
                    core.writer.finish();
                    core.rollups.finish();
                })
                .map_err(|e| format!("starting the closer thread of `{model}`: {e}"))?
        };
        Ok(Self {
            model,
            queue: Some(queue),
            thread: Some(thread),
            progress,
            hook,
        })
    }

    /// Hands a close to the thread, in order; waits while the queue is
    /// full (backpressure).
    pub fn submit(&self, job: CloseJob) {
        let sent = match &self.queue {
            Some(queue) => queue.send(job).is_ok(),
            None => false,
        };
        if sent {
            self.progress.update(|c| c.submitted += 1);
        } else {
            // Its log stays as `closing-ID.wal`: the next start closes it.
            tracing::error!(model = %self.model, "the closer has stopped; a closed window waits for the next start");
        }
    }

    /// Installs the hook told of every published close (once).
    pub fn on_close(&self, hook: CloseHook) {
        let _ = self.hook.set(hook);
    }

    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// Publishes every queued close, then lets the state writer and the
    /// rollups finish theirs, and stops the thread (at shutdown).
    pub fn finish(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Core {
    /// One close: profile, checks and report, then published. A report
    /// that could not be written is an error, but the window is published
    /// all the same, in its place: the state writer then cannot sync its
    /// files, keeps its log, and the next start closes it again from the
    /// log (`close::settle`), counted once.
    fn close(&mut self, job: CloseJob) -> Result<ClosedWindow, String> {
        let finished = finish_window(
            &self.spec,
            &self.dir,
            job.window,
            self.previous.as_deref(),
            job.end_ms,
        );
        let closed = finished.closed;
        let id = closed.info.id.clone();
        let (index, expired) = {
            let mut ledger = lock(&self.ledger);
            ledger.closing.retain(|w| w.id != id);
            ledger.index.push_closed(closed.info.clone());
            let expired = ledger.index.retain_newest(self.spec.keep_windows());
            (ledger.index.clone(), expired)
        };
        let retired = self.previous.replace(closed.profile.clone());
        let mut durable = durable_job(
            &self.dir,
            &id,
            closed.profile.clone(),
            retired,
            index,
            &expired,
        );
        if let Some(data) = &self.data {
            let (data, id) = (data.clone(), id.clone());
            let start_ms = chrono::DateTime::parse_from_rfc3339(&closed.info.start)
                .map_or(job.end_ms, |t| t.timestamp_millis());
            let end_ms = job.end_ms;
            durable.data = Some(Box::new(move |log: &Path| {
                data.write_from_log(&id, start_ms, end_ms, log);
            }));
        }
        self.writer.submit(durable);
        self.rollups.add(finished.acc, job.end_ms);
        finished.report.map(|()| closed)
    }
}

#[cfg(test)]
mod tests;
