//! Rollups: closed windows merged into minute, hour and day profiles
//! (`rollups/minute-YYYYMMDDHHMM.profile.json`, `hour-YYYYMMDDHH…`,
//! `day-YYYYMMDD…`), so a day of one-minute windows can be asked about as a
//! whole without re-reading its windows. Merging is the accumulators' own
//! (associative, commutative), so a rollup equals the profile of all its
//! rows. The current rollup of each level is held in memory; it is read back
//! from its file after a restart in the same period.
//!
//! The work (one merge per window into the windows pending since the last
//! write, folded into the three levels when written; three profiles written
//! and fsynced at most once a second) runs on the model's own rollup thread, off the window
//! close and the model's lock: ingest does not wait for it. Closing the
//! queue (SIGTERM) lets the thread finish what is queued and write; a
//! `kill -9` can lose the last second's windows' share of the rollups (their
//! own profiles and reports are already on disk).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::state::write_atomic;
use crate::profile::io as profile_io;
use crate::profile::table::TableAccumulator;

/// One level: how its period is named and how long its files are kept.
struct Level {
    prefix: &'static str,
    format: &'static str,
    /// Files of periods older than this are deleted when a new period
    /// starts; `None` keeps them.
    keep: Option<chrono::Duration>,
}

const LEVELS: [Level; 3] = [
    Level {
        prefix: "minute",
        format: "%Y%m%d%H%M",
        keep: Some(chrono::Duration::days(1)),
    },
    Level {
        prefix: "hour",
        format: "%Y%m%d%H",
        keep: Some(chrono::Duration::days(31)),
    },
    Level {
        prefix: "day",
        format: "%Y%m%d",
        keep: None,
    },
];

/// The period being filled at one level.
struct Current {
    name: String,
    acc: TableAccumulator,
    /// Merged into since its file was last written.
    dirty: bool,
}

/// Windows waiting for the rollup thread; when full, a window close waits
/// (bounded memory rather than a growing queue).
const QUEUE: usize = 16;

/// The rollup thread writes its files at most this often (and when it
/// stops); merges happen as windows arrive.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// The handle of a model's rollup thread.
pub struct RollupWorker {
    queue: Option<SyncSender<(TableAccumulator, i64)>>,
    thread: Option<JoinHandle<()>>,
}

impl RollupWorker {
    pub fn start(model: &str, model_dir: &Path) -> Self {
        let (queue, windows): (_, Receiver<(TableAccumulator, i64)>) = sync_channel(QUEUE);
        let mut rollups = Rollups::new(model_dir);
        let model = model.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("rollup-{model}"))
            .spawn(move || {
                super::priority::background_thread();
                // Windows are merged as they come; the files are written
                // WRITE_EVERY after the last write (at most that often),
                // and when the queue closes. When windows close back to back (small row
                // windows, the bench), three rollup files per close were a
                // core's worth of work competing with ingest and closes.
                let mut written = Instant::now();
                let mut pending = false;
                loop {
                    let wait = WRITE_EVERY.saturating_sub(written.elapsed());
                    let next = if pending {
                        windows.recv_timeout(wait)
                    } else {
                        windows.recv().map_err(|_| RecvTimeoutError::Disconnected)
                    };
                    let closed = match next {
                        Ok((window, end_ms)) => {
                            if let Err(e) = rollups.merge(window, end_ms) {
                                tracing::warn!(model = %model, "rollup not merged: {e}");
                            }
                            pending = true;
                            false
                        }
                        Err(RecvTimeoutError::Timeout) => false,
                        Err(RecvTimeoutError::Disconnected) => true,
                    };
                    if pending && (closed || written.elapsed() >= WRITE_EVERY) {
                        if let Err(e) = rollups.flush() {
                            tracing::warn!(model = %model, "rollup not written: {e}");
                        }
                        written = Instant::now();
                        pending = false;
                    }
                    if closed {
                        break;
                    }
                }
            })
            .ok();
        if thread.is_none() {
            tracing::warn!("no rollup thread could be started; rollups are off");
        }
        Self {
            queue: thread.as_ref().map(|_| queue),
            thread,
        }
    }

    /// Queues a closed window for its minute, hour and day.
    pub fn add(&self, window: TableAccumulator, end_ms: i64) {
        if let Some(queue) = &self.queue
            && queue.send((window, end_ms)).is_err()
        {
            tracing::warn!("the rollup thread has stopped; a window is not rolled up");
        }
    }

    /// Waits until every queued window is rolled up and stops the thread.
    pub fn finish(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RollupWorker {
    fn drop(&mut self) {
        self.finish();
    }
}

fn rollup_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.profile.json"))
}

/// Windows merged since the last fold, all of the same minute (hence hour
/// and day).
struct Pending {
    /// The period of each level.
    names: [String; 3],
    /// When the first of them ended.
    end_ms: i64,
    acc: TableAccumulator,
}

/// The rollups of one model.
pub struct Rollups {
    dir: PathBuf,
    current: [Option<Current>; 3],
    /// Back-to-back windows are merged here once each and folded into the
    /// three levels when their minute ends or the files are written: one
    /// merge per window instead of three (with 10,000-row windows closing
    /// back to back, benches/daemon.rs, three merges per window were more
    /// than the rollup thread kept up with, and closes waited on its
    /// queue).
    pending: Option<Pending>,
}

impl Rollups {
    pub fn new(model_dir: &Path) -> Self {
        Self {
            dir: model_dir.join("rollups"),
            current: [None, None, None],
            pending: None,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        rollup_path(&self.dir, name)
    }

    /// Merges a closed window (ending at `end_ms`) into its minute, hour and
    /// day and writes the three files atomically.
    #[cfg(test)]
    pub fn add(&mut self, window: &TableAccumulator, end_ms: i64) -> Result<(), String> {
        self.merge(window.clone(), end_ms)?;
        self.flush()
    }

    /// Merges a closed window into its minute, hour and day (see
    /// `pending`); a period that ends is written before the next one
    /// replaces it, the current ones wait for [`Rollups::flush`].
    pub fn merge(&mut self, window: TableAccumulator, end_ms: i64) -> Result<(), String> {
        let Some(t) = chrono::DateTime::from_timestamp_millis(end_ms) else {
            return Ok(());
        };
        let names = LEVELS
            .each_ref()
            .map(|l| format!("{}-{}", l.prefix, t.format(l.format)));
        if let Some(pending) = self.pending.as_mut().filter(|p| p.names == names) {
            return pending.acc.merge(&window).map_err(|e| e.to_string());
        }
        self.fold()?;
        self.pending = Some(Pending {
            names,
            end_ms,
            acc: window,
        });
        Ok(())
    }

    /// Merges the pending windows into their minute, hour and day.
    fn fold(&mut self) -> Result<(), String> {
        let Some(Pending { names, end_ms, acc }) = self.pending.take() else {
            return Ok(());
        };
        let Some(t) = chrono::DateTime::from_timestamp_millis(end_ms) else {
            return Ok(());
        };
        for ((level, name), slot) in LEVELS.iter().zip(names).zip(0..) {
            let same_period = self.current[slot].as_ref().is_some_and(|c| c.name == name);
            if !same_period {
                self.write(slot)?;
                let acc = self.resume(&name, &acc)?;
                self.current[slot] = Some(Current {
                    name,
                    acc,
                    dirty: true,
                });
                if let Some(keep) = level.keep {
                    self.prune(level, &(t - keep).format(level.format).to_string());
                }
            } else if let Some(current) = &mut self.current[slot] {
                current.acc.merge(&acc).map_err(|e| e.to_string())?;
                current.dirty = true;
            }
        }
        Ok(())
    }

    /// Writes every level merged into since its last write.
    pub fn flush(&mut self) -> Result<(), String> {
        self.fold()?;
        (0..LEVELS.len()).try_for_each(|slot| self.write(slot))
    }

    fn write(&mut self, slot: usize) -> Result<(), String> {
        let dir = &self.dir;
        let Some(current) = self.current[slot].as_mut().filter(|c| c.dirty) else {
            return Ok(());
        };
        let mut profile = current.acc.finish();
        profile.sources = vec![current.name.clone()];
        write_atomic(
            &rollup_path(dir, &current.name),
            profile_io::to_json(&profile).as_bytes(),
        )?;
        current.dirty = false;
        Ok(())
    }

    /// A new period's accumulator: the window, merged with what an earlier
    /// run of the daemon wrote for the same period.
    fn resume(&self, name: &str, window: &TableAccumulator) -> Result<TableAccumulator, String> {
        let mut acc = window.clone();
        if let Ok(existing) = profile_io::load(&self.path(name)) {
            let earlier =
                TableAccumulator::from_profile(&existing, usize::MAX).map_err(|e| e.to_string())?;
            // A rollup of another column set (the baseline changed between
            // runs) is replaced rather than mixed in.
            if acc.check_compatible(&earlier).is_ok() {
                acc.merge(&earlier).map_err(|e| e.to_string())?;
            }
        }
        Ok(acc)
    }

    /// Deletes the level's files of periods before `cutoff` (names of one
    /// level have a fixed width, so they order as text).
    fn prune(&self, level: &Level, cutoff: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{}-", level.prefix);
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(period) = file
                .to_str()
                .and_then(|f| f.strip_prefix(&prefix))
                .and_then(|f| f.strip_suffix(".profile.json"))
            else {
                continue;
            };
            if period < cutoff {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::table::ProfileOptions;
    use arrow::array::{Float64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn window(values: &[f64]) -> TableAccumulator {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Float64Array::from(values.to_vec()))],
        )
        .unwrap();
        let mut acc = TableAccumulator::new(&schema, &ProfileOptions::default()).unwrap();
        acc.update(&batch).unwrap();
        acc
    }

    fn rows(dir: &Path, name: &str) -> u64 {
        profile_io::load(&dir.join(format!("rollups/{name}.profile.json")))
            .unwrap()
            .rows
    }

    #[test]
    fn windows_merge_into_minute_hour_and_day_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        // 2026-12-01 13:05:10 and :40, then 13:06:05 UTC.
        let t = 1_796_130_310_000_i64;
        let mut rollups = Rollups::new(dir.path());
        rollups.add(&window(&[1.0, 2.0]), t).unwrap();
        rollups.add(&window(&[3.0]), t + 30_000).unwrap();
        assert_eq!(rows(dir.path(), "minute-202612011305"), 3);
        // A restart in the same hour picks the files up again.
        let mut rollups = Rollups::new(dir.path());
        rollups
            .add(&window(&[4.0, 5.0, 6.0, 7.0]), t + 55_000)
            .unwrap();
        assert_eq!(rows(dir.path(), "minute-202612011305"), 3);
        assert_eq!(rows(dir.path(), "minute-202612011306"), 4);
        assert_eq!(rows(dir.path(), "hour-2026120113"), 7);
        assert_eq!(rows(dir.path(), "day-20261201"), 7);
        let day = profile_io::load(&dir.path().join("rollups/day-20261201.profile.json")).unwrap();
        let x = &day.columns[0];
        assert_eq!(x.max, Some(7.0));
        assert_eq!(x.min, Some(1.0));
    }

    #[test]
    fn windows_merged_between_writes_land_in_their_own_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let t = 1_796_130_310_000_i64;
        let mut rollups = Rollups::new(dir.path());
        rollups.merge(window(&[1.0, 2.0]), t).unwrap();
        rollups.merge(window(&[3.0]), t + 30_000).unwrap();
        // Nothing written until a flush.
        assert!(!dir.path().join("rollups").exists());
        rollups
            .merge(window(&[4.0, 5.0, 6.0, 7.0]), t + 55_000)
            .unwrap();
        rollups.merge(window(&[8.0]), t + 60_000).unwrap();
        rollups.flush().unwrap();
        assert_eq!(rows(dir.path(), "minute-202612011305"), 3);
        assert_eq!(rows(dir.path(), "minute-202612011306"), 5);
        assert_eq!(rows(dir.path(), "hour-2026120113"), 8);
        assert_eq!(rows(dir.path(), "day-20261201"), 8);
    }

    #[test]
    fn the_worker_rolls_up_everything_queued_before_it_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let t = 1_796_130_310_000_i64;
        let mut worker = RollupWorker::start("m", dir.path());
        for i in 0..40 {
            worker.add(window(&[f64::from(i)]), t);
        }
        worker.finish();
        assert_eq!(rows(dir.path(), "day-20261201"), 40);
    }

    #[test]
    fn the_worker_writes_what_it_merged_without_being_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let t = 1_796_130_310_000_i64;
        let worker = RollupWorker::start("m", dir.path());
        worker.add(window(&[1.0, 2.0]), t);
        worker.add(window(&[3.0]), t);
        let day = dir.path().join("rollups/day-20261201.profile.json");
        let deadline = Instant::now() + WRITE_EVERY * 10;
        while profile_io::load(&day).ok().map(|p| p.rows) != Some(3) {
            assert!(Instant::now() < deadline, "no rollup written while running");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(worker);
    }

    #[test]
    fn old_minutes_are_pruned_when_a_new_minute_starts() {
        let dir = tempfile::tempdir().unwrap();
        let t = 1_796_130_310_000_i64;
        let mut rollups = Rollups::new(dir.path());
        rollups.add(&window(&[1.0]), t).unwrap();
        let next_day = t + 86_400_000 + 60_000;
        rollups.add(&window(&[2.0]), next_day).unwrap();
        let rollup_dir = dir.path().join("rollups");
        assert!(!rollup_dir.join("minute-202612011305.profile.json").exists());
        assert!(rollup_dir.join("hour-2026120113.profile.json").exists());
        assert!(rollup_dir.join("day-20261201.profile.json").exists());
        assert!(rollup_dir.join("day-20261202.profile.json").exists());
    }
}
