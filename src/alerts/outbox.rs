//! The durable outbox: every notification is a file in the state directory,
//! written and fsynced before its first delivery attempt, removed once
//! delivered. Per receiver, notifications go out in the order they were
//! queued (`outbox/RECEIVER/SEQ-DELIVERY_ID.json`); a restart, even after a
//! `kill -9`, finds them there and delivers them.
//!
//! - Delivery ids are fixed when a notification is queued and stay the same
//!   through retries and restarts; queuing a delivery id that is already
//!   waiting does nothing (a window evaluated again after a crash queues
//!   the same notifications under the same ids).
//! - An undeliverable notification older than `max_age` is dead-lettered:
//!   moved to `dead/RECEIVER/` with its last error, kept there.
//! - The outbox holds at most `max_entries` notifications; past that, a
//!   new one is dropped, and the caller counts and logs it.
//!
//! What it carries is generic (`M`, the alerts' [`Notification`] by
//! default): the retrain webhooks (`server::retrain`) queue their payloads
//! in an outbox of their own with the same guarantees.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::notification::Notification;
use crate::sinks::write_atomic;

/// One queued notification for one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry<M = Notification> {
    /// Its place in the receiver's queue (increasing, also across
    /// restarts).
    pub seq: u64,
    pub delivery_id: String,
    pub receiver: String,
    /// When it was queued (ms since the epoch); `max_age` counts from here.
    pub created_ms: i64,
    /// When what it reports happened (the window's close): the delivery
    /// latency counts from here.
    pub event_ms: i64,
    pub notification: M,
}

/// A dead letter: the entry and why it could not be delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter<M = Notification> {
    pub entry: Entry<M>,
    pub error: String,
    pub attempts: u32,
    pub dead_ms: i64,
}

/// What queuing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    Queued,
    /// The delivery id is already waiting.
    Duplicate,
    /// The outbox is full: dropped.
    Full,
}

/// An entry waiting, as the queue keeps it (the notification stays on
/// disk until it is attempted).
#[derive(Debug, Clone)]
struct Waiting {
    seq: u64,
    delivery_id: String,
    path: PathBuf,
}

#[derive(Default)]
struct Queues {
    by_receiver: BTreeMap<String, VecDeque<Waiting>>,
    ids: HashSet<String>,
    total: usize,
    next_seq: u64,
}

pub struct Outbox<M = Notification> {
    dir: PathBuf,
    max_entries: usize,
    queues: Mutex<Queues>,
    message: std::marker::PhantomData<fn() -> M>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `SEQ-ID.json`: the sequence number and the delivery id.
fn parse_name(name: &str) -> Option<(u64, String)> {
    let stem = name.strip_suffix(".json")?;
    let (seq, id) = stem.split_once('-')?;
    Some((seq.parse().ok()?, id.to_string()))
}

impl<M: Serialize + DeserializeOwned + Clone> Outbox<M> {
    /// Opens the outbox in `dir` (`STATE/alerts`) for these receivers,
    /// finding the notifications a previous run left. Notes say what was
    /// found that cannot be delivered (files of receivers no longer
    /// configured, unreadable files).
    pub fn open(
        dir: &Path,
        receivers: &[String],
        max_entries: usize,
    ) -> Result<(Self, Vec<String>), String> {
        let pending = dir.join("outbox");
        std::fs::create_dir_all(&pending).map_err(|e| format!("{}: {e}", pending.display()))?;
        let mut queues = Queues {
            next_seq: (super::now_ms().max(0) as u64) * 1000,
            ..Queues::default()
        };
        let mut notes = Vec::new();
        for receiver in receivers {
            queues.by_receiver.insert(receiver.clone(), VecDeque::new());
        }
        for dir_entry in std::fs::read_dir(&pending)
            .map_err(|e| format!("{}: {e}", pending.display()))?
            .flatten()
        {
            let name = dir_entry.file_name().to_string_lossy().into_owned();
            let Some(queue) = queues.by_receiver.get_mut(&name) else {
                let count = std::fs::read_dir(dir_entry.path()).map_or(0, |d| d.count());
                if count > 0 {
                    notes.push(format!(
                        "{count} notification(s) wait in {} for receiver `{name}`, which is no longer configured; they stay there",
                        dir_entry.path().display()
                    ));
                }
                continue;
            };
            let mut found: Vec<Waiting> = Vec::new();
            for file in std::fs::read_dir(dir_entry.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let file_name = file.file_name().to_string_lossy().into_owned();
                if file_name.ends_with(".tmp-assay") {
                    // A write cut short before its rename: never queued.
                    let _ = std::fs::remove_file(file.path());
                    continue;
                }
                match parse_name(&file_name) {
                    Some((seq, delivery_id)) => found.push(Waiting {
                        seq,
                        delivery_id,
                        path: file.path(),
                    }),
                    None => notes.push(format!(
                        "{}: not an outbox file name; left alone",
                        file.path().display()
                    )),
                }
            }
            found.sort_by_key(|w| w.seq);
            for w in found {
                queues.next_seq = queues.next_seq.max(w.seq + 1);
                queues.ids.insert(w.delivery_id.clone());
                queues.total += 1;
                queue.push_back(w);
            }
        }
        Ok((
            Self {
                dir: dir.to_path_buf(),
                max_entries,
                queues: Mutex::new(queues),
                message: std::marker::PhantomData,
            },
            notes,
        ))
    }

    fn receiver_dir(&self, receiver: &str) -> PathBuf {
        self.dir.join("outbox").join(receiver)
    }

    /// Queues a notification for `receiver`: written and fsynced (file and
    /// directory) before this returns. The entry as queued (its sequence
    /// number set) comes back with what was done.
    pub fn push(
        &self,
        receiver: &str,
        delivery_id: String,
        created_ms: i64,
        event_ms: i64,
        notification: M,
    ) -> Result<(Queued, Option<Entry<M>>), String> {
        let mut q = lock(&self.queues);
        if q.ids.contains(&delivery_id) {
            return Ok((Queued::Duplicate, None));
        }
        if q.total >= self.max_entries {
            return Ok((Queued::Full, None));
        }
        let seq = q.next_seq;
        let entry = Entry {
            seq,
            delivery_id: delivery_id.clone(),
            receiver: receiver.to_string(),
            created_ms,
            event_ms,
            notification,
        };
        let path = self
            .receiver_dir(receiver)
            .join(format!("{seq:020}-{delivery_id}.json"));
        let bytes = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
        // Under the lock: the queue's order is the files' order.
        write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        q.next_seq += 1;
        q.ids.insert(delivery_id.clone());
        q.total += 1;
        q.by_receiver
            .entry(receiver.to_string())
            .or_default()
            .push_back(Waiting {
                seq,
                delivery_id,
                path,
            });
        Ok((Queued::Queued, Some(entry)))
    }

    /// The next notification for `receiver`, read from its file. A file
    /// that cannot be read is moved aside (`dead/RECEIVER/`) and the next
    /// one tried.
    pub fn head(&self, receiver: &str) -> Option<Entry<M>> {
        loop {
            let waiting = lock(&self.queues)
                .by_receiver
                .get(receiver)
                .and_then(|q| q.front().cloned())?;
            let read = std::fs::read(&waiting.path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Entry<M>>(&b).map_err(|e| e.to_string()));
            match read {
                Ok(entry) => return Some(entry),
                Err(e) => {
                    tracing::error!(
                        receiver,
                        file = %waiting.path.display(),
                        "an outbox file cannot be read ({e}); moved to the dead letters"
                    );
                    let aside = self.dead_dir(receiver).join(
                        waiting
                            .path
                            .file_name()
                            .map(|n| n.to_os_string())
                            .unwrap_or_default(),
                    );
                    let _ = std::fs::create_dir_all(self.dead_dir(receiver));
                    let _ = std::fs::rename(&waiting.path, aside);
                    self.forget(receiver, waiting.seq);
                }
            }
        }
    }

    fn forget(&self, receiver: &str, seq: u64) -> Option<Waiting> {
        let mut q = lock(&self.queues);
        let queue = q.by_receiver.get_mut(receiver)?;
        let at = queue.iter().position(|w| w.seq == seq)?;
        let waiting = queue.remove(at)?;
        q.ids.remove(&waiting.delivery_id);
        q.total -= 1;
        Some(waiting)
    }

    /// A notification was delivered: its file is removed.
    pub fn delivered(&self, receiver: &str, seq: u64) -> Result<(), String> {
        if let Some(waiting) = self.forget(receiver, seq) {
            std::fs::remove_file(&waiting.path)
                .map_err(|e| format!("{}: {e}", waiting.path.display()))?;
        }
        Ok(())
    }

    fn dead_dir(&self, receiver: &str) -> PathBuf {
        self.dir.join("dead").join(receiver)
    }

    /// A notification could not be delivered in time: kept in
    /// `dead/RECEIVER/` with its error, out of the queue.
    pub fn dead_letter(
        &self,
        entry: &Entry<M>,
        error: &str,
        attempts: u32,
    ) -> Result<PathBuf, String> {
        let path = self
            .dead_dir(&entry.receiver)
            .join(format!("{:020}-{}.json", entry.seq, entry.delivery_id));
        let letter = DeadLetter {
            entry: entry.clone(),
            error: error.to_string(),
            attempts,
            dead_ms: super::now_ms(),
        };
        let bytes = serde_json::to_vec_pretty(&letter).map_err(|e| e.to_string())?;
        write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        self.delivered(&entry.receiver, entry.seq)?;
        Ok(path)
    }

    /// Notifications waiting for `receiver`.
    pub fn depth(&self, receiver: &str) -> usize {
        lock(&self.queues)
            .by_receiver
            .get(receiver)
            .map_or(0, VecDeque::len)
    }

    /// Notifications waiting, all receivers.
    pub fn total(&self) -> usize {
        lock(&self.queues).total
    }

    /// The dead letters kept for `receiver`.
    pub fn dead_letters(&self, receiver: &str) -> Vec<DeadLetter<M>> {
        let mut out: Vec<(PathBuf, DeadLetter<M>)> = std::fs::read_dir(self.dead_dir(receiver))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|f| {
                let bytes = std::fs::read(f.path()).ok()?;
                Some((f.path(), serde_json::from_slice(&bytes).ok()?))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, d)| d).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notification::tests::sample;

    #[test]
    fn entries_survive_a_reopen_in_order_and_ids_are_not_queued_twice() {
        let dir = tempfile::tempdir().unwrap();
        let receivers = vec!["a".to_string(), "b".to_string()];
        let (outbox, notes) = Outbox::open(dir.path(), &receivers, 100).unwrap();
        assert!(notes.is_empty());
        for i in 0..5 {
            let (q, e) = outbox
                .push("a", format!("id{i}"), 1, 1, sample(&["x"]))
                .unwrap();
            assert_eq!(q, Queued::Queued);
            assert!(e.is_some());
        }
        assert_eq!(
            outbox
                .push("a", "id3".into(), 1, 1, sample(&["x"]))
                .unwrap()
                .0,
            Queued::Duplicate
        );
        outbox
            .push("b", "other".into(), 1, 1, sample(&["y"]))
            .unwrap();
        let first = outbox.head("a").unwrap();
        assert_eq!(first.delivery_id, "id0");
        outbox.delivered("a", first.seq).unwrap();
        drop(outbox);

        let (outbox, _) = Outbox::open(dir.path(), &receivers, 100).unwrap();
        assert_eq!(outbox.depth("a"), 4);
        assert_eq!(outbox.depth("b"), 1);
        let mut ids = Vec::new();
        while let Some(e) = outbox.head("a") {
            ids.push(e.delivery_id.clone());
            outbox.delivered("a", e.seq).unwrap();
        }
        assert_eq!(ids, ["id1", "id2", "id3", "id4"]);
        // New entries still come after the old ones.
        let (_, e) = outbox
            .push("b", "later".into(), 1, 1, sample(&["y"]))
            .unwrap();
        assert_eq!(outbox.head("b").unwrap().delivery_id, "other");
        assert!(e.unwrap().seq > outbox.head("b").unwrap().seq);
    }

    #[test]
    fn a_full_outbox_drops_and_dead_letters_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = Outbox::open(dir.path(), &["a".to_string()], 2).unwrap();
        outbox.push("a", "1".into(), 1, 1, sample(&["x"])).unwrap();
        outbox.push("a", "2".into(), 1, 1, sample(&["x"])).unwrap();
        assert_eq!(
            outbox
                .push("a", "3".into(), 1, 1, sample(&["x"]))
                .unwrap()
                .0,
            Queued::Full
        );
        let head = outbox.head("a").unwrap();
        let path = outbox.dead_letter(&head, "connection refused", 7).unwrap();
        assert!(path.exists());
        assert_eq!(outbox.depth("a"), 1);
        let dead = outbox.dead_letters("a");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].entry.delivery_id, "1");
        assert_eq!(dead[0].attempts, 7);
        // Room again.
        assert_eq!(
            outbox
                .push("a", "3".into(), 1, 1, sample(&["x"]))
                .unwrap()
                .0,
            Queued::Queued
        );
    }

    #[test]
    fn leftovers_of_a_crash_and_unknown_receivers_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("outbox/a");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(a.join("00000000000000000001-x.tmp-assay"), b"half").unwrap();
        std::fs::write(a.join("00000000000000000002-y.json"), b"{not json").unwrap();
        let gone = dir.path().join("outbox/gone");
        std::fs::create_dir_all(&gone).unwrap();
        std::fs::write(gone.join("00000000000000000003-z.json"), b"{}").unwrap();
        let (outbox, notes) =
            Outbox::<Notification>::open(dir.path(), &["a".to_string()], 10).unwrap();
        assert!(!a.join("00000000000000000001-x.tmp-assay").exists());
        assert!(notes.iter().any(|n| n.contains("`gone`")), "{notes:?}");
        assert_eq!(outbox.depth("a"), 1);
        // The damaged file is moved aside, not retried forever.
        assert!(outbox.head("a").is_none());
        assert_eq!(outbox.depth("a"), 0);
        assert!(
            dir.path()
                .join("dead/a/00000000000000000002-y.json")
                .exists()
        );
    }
}
