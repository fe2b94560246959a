//! The pending store: every prediction that may still get its label, and
//! the labels joined so far, in `models/NAME/labels.redb`.
//!
//! Why redb: predictions wait days for their labels (`label_ttl`, 7 days by
//! default) and there may be tens of millions of them, so they live on
//! disk, not in memory; every acknowledged prediction and label must
//! survive a `kill -9`. redb is a pure-Rust embedded key-value store with
//! ACID transactions (a copy-on-write B-tree whose commit is one fsync),
//! a stable file format, a page cache of a size we set (so RSS does not
//! grow with the pending predictions), and it is actively maintained.
//! SQLite would do as well but brings a C library and SQL for four
//! key-value tables; an LSM store (fjall) favours write-heavy loads with
//! background compaction threads we do not need; Parquet segments with an
//! index would be ours to make crash-safe.
//!
//! Tables:
//! - `ids`: request id → window sequence number (where its prediction is);
//! - `rows`: (window, request id) → the prediction's quality columns
//!   ([`super::cell`]);
//! - `labels`: (window, request id) → the label (one cell);
//! - `windows`: window → [`WindowMeta`] (JSON);
//! - `classes`: every label or predicted class stored (a binary model's
//!   two classes, remembered across restarts: [`super::classes`]).
//!
//! A window's rows and labels are adjacent in key order, so recomputing a
//! window's quality is two range scans.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::server::config::Duplicates;

const IDS: TableDefinition<&str, u64> = TableDefinition::new("ids");
const ROWS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("rows");
const LABELS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("labels");
const WINDOWS: TableDefinition<u64, &[u8]> = TableDefinition::new("windows");
const CLASSES: TableDefinition<&str, u8> = TableDefinition::new("classes");

/// The page cache: redb keeps at most this much of the file in memory.
const CACHE_BYTES: usize = 16 << 20;

/// What the store knows of a window's predictions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowMeta {
    /// The window's id (`MODEL-000012`).
    pub id: String,
    /// When its first and its last prediction were stored (ms since the
    /// epoch).
    pub first_ms: i64,
    pub last_ms: i64,
    /// Predictions with a request id, and how many of them have a label.
    pub predictions: u64,
    pub labelled: u64,
}

impl WindowMeta {
    /// Whether labels for this window come too late: `label_ttl` after its
    /// last prediction.
    pub fn expired(&self, now_ms: i64, ttl_ms: i64) -> bool {
        now_ms > self.last_ms.saturating_add(ttl_ms)
    }
}

/// What one request's labels did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinCounts {
    /// Labels for predictions that had none.
    pub joined: u64,
    /// Labels that replaced an earlier one (`duplicates = "last"`).
    pub replaced: u64,
    /// Labels ignored because the prediction had one (`duplicates = "first"`).
    pub duplicate: u64,
    /// Labels for request ids the store does not know.
    pub unknown: u64,
    /// Labels that came after `label_ttl`.
    pub expired: u64,
    /// The windows whose labels changed.
    pub windows: BTreeSet<u64>,
    /// The classes of the labels applied.
    pub classes: Vec<String>,
}

/// The classes of a transaction's items, remembered with them: `names`,
/// and for each item the index of its class in `names` (`u32::MAX` or no
/// entry: none).
#[derive(Debug, Default, Clone, Copy)]
pub struct ItemClasses<'a> {
    pub names: &'a [String],
    pub of_item: &'a [u32],
}

/// A prediction to store: its request id, its quality cells, and its label
/// when the batch carried one.
pub struct Prediction {
    pub id: String,
    pub row: Vec<u8>,
    pub label: Option<Vec<u8>>,
}

/// A window's labels: (request id, the label's cell).
pub type WindowLabels = Vec<(String, Vec<u8>)>;

/// A stored prediction's cells and its label's cell, if labelled.
pub type StoredRow = (Vec<u8>, Option<Vec<u8>>);

pub struct PendingStore {
    db: Database,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("the pending store: {e}")
}

impl PendingStore {
    /// Opens (or creates) the store; after a crash redb recovers to its
    /// last committed transaction.
    pub fn open(path: &Path) -> Result<Self, String> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(err)?;
        {
            txn.open_table(IDS).map_err(err)?;
            txn.open_table(ROWS).map_err(err)?;
            txn.open_table(LABELS).map_err(err)?;
            txn.open_table(WINDOWS).map_err(err)?;
            txn.open_table(CLASSES).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(Self { db })
    }

    /// Stores a batch's predictions in window `seq` (durably: the commit
    /// syncs). A request id seen before moves to this window, its old
    /// prediction and label dropped. Returns whether any prediction came
    /// with its label.
    pub fn add_predictions(
        &self,
        seq: u64,
        window: &str,
        now_ms: i64,
        predictions: &[Prediction],
        classes: &[String],
    ) -> Result<bool, String> {
        let txn = self.db.begin_write().map_err(err)?;
        let mut labelled_any = false;
        {
            let mut ids = txn.open_table(IDS).map_err(err)?;
            let mut rows = txn.open_table(ROWS).map_err(err)?;
            let mut labels = txn.open_table(LABELS).map_err(err)?;
            let mut windows = txn.open_table(WINDOWS).map_err(err)?;
            let mut metas: BTreeMap<u64, WindowMeta> = BTreeMap::new();
            let meta_of = |windows: &redb::Table<u64, &[u8]>,
                           metas: &mut BTreeMap<u64, WindowMeta>,
                           s: u64|
             -> Result<(), String> {
                #[allow(clippy::map_entry)] // the insert needs `?` on a read first
                if !metas.contains_key(&s) {
                    let meta = match windows.get(s).map_err(err)? {
                        Some(v) => serde_json::from_slice(v.value()).map_err(err)?,
                        None => WindowMeta {
                            id: window.to_string(),
                            first_ms: now_ms,
                            last_ms: now_ms,
                            ..WindowMeta::default()
                        },
                    };
                    metas.insert(s, meta);
                }
                Ok(())
            };
            meta_of(&windows, &mut metas, seq)?;
            for p in predictions {
                let previous = ids
                    .insert(p.id.as_str(), seq)
                    .map_err(err)?
                    .map(|v| v.value());
                if let Some(old) = previous {
                    meta_of(&windows, &mut metas, old)?;
                    let had_row = rows.remove((old, p.id.as_str())).map_err(err)?.is_some();
                    let had_label = labels.remove((old, p.id.as_str())).map_err(err)?.is_some();
                    if let Some(m) = metas.get_mut(&old) {
                        m.predictions -= u64::from(had_row && m.predictions > 0);
                        m.labelled -= u64::from(had_label && m.labelled > 0);
                    }
                }
                rows.insert((seq, p.id.as_str()), p.row.as_slice())
                    .map_err(err)?;
                let meta = metas.get_mut(&seq).expect("loaded above");
                meta.predictions += 1;
                if let Some(label) = &p.label {
                    labels
                        .insert((seq, p.id.as_str()), label.as_slice())
                        .map_err(err)?;
                    meta.labelled += 1;
                    labelled_any = true;
                }
            }
            if let Some(meta) = metas.get_mut(&seq) {
                meta.last_ms = meta.last_ms.max(now_ms);
            }
            for (s, meta) in &metas {
                let bytes = serde_json::to_vec(meta).map_err(err)?;
                windows.insert(*s, bytes.as_slice()).map_err(err)?;
            }
            remember(&txn, classes.iter().map(String::as_str))?;
        }
        txn.commit().map_err(err)?;
        Ok(labelled_any)
    }

    /// Joins labels (request id, label cell) in order, in one durable
    /// transaction: all of them or, on an error, none.
    pub fn join<S: AsRef<str>>(
        &self,
        items: &[(S, Vec<u8>)],
        now_ms: i64,
        ttl_ms: i64,
        duplicates: Duplicates,
        classes: ItemClasses<'_>,
    ) -> Result<JoinCounts, String> {
        let mut counts = JoinCounts::default();
        let mut used = vec![false; classes.names.len()];
        let txn = self.db.begin_write().map_err(err)?;
        {
            let ids = txn.open_table(IDS).map_err(err)?;
            let mut labels = txn.open_table(LABELS).map_err(err)?;
            let mut windows = txn.open_table(WINDOWS).map_err(err)?;
            let mut metas: BTreeMap<u64, Option<WindowMeta>> = BTreeMap::new();
            // In key order, not body order: each page of the B-trees is then
            // read (and written) once per body instead of once per label,
            // which made random-order bodies several times slower. The sorts
            // are stable, so labels of one id keep their body order (the
            // last still wins).
            let mut by_id: Vec<usize> = (0..items.len()).collect();
            by_id.sort_by(|&a, &b| items[a].0.as_ref().cmp(items[b].0.as_ref()));
            let mut found: Vec<(u64, usize)> = Vec::with_capacity(items.len());
            for item in by_id {
                match ids.get(items[item].0.as_ref()).map_err(err)? {
                    Some(v) => found.push((v.value(), item)),
                    None => counts.unknown += 1,
                }
            }
            found.sort_by_key(|&(seq, _)| seq);
            for (seq, item) in found {
                let (id, label) = &items[item];
                let id = &id.as_ref();
                #[allow(clippy::map_entry)] // the insert needs `?` on a read first
                if !metas.contains_key(&seq) {
                    let meta = match windows.get(seq).map_err(err)? {
                        Some(v) => Some(serde_json::from_slice(v.value()).map_err(err)?),
                        None => None,
                    };
                    metas.insert(seq, meta);
                }
                let Some(meta) = metas.get_mut(&seq).and_then(|m| m.as_mut()) else {
                    counts.unknown += 1;
                    continue;
                };
                if meta.expired(now_ms, ttl_ms) {
                    counts.expired += 1;
                    continue;
                }
                if duplicates == Duplicates::First && labels.get((seq, *id)).map_err(err)?.is_some()
                {
                    counts.duplicate += 1;
                    continue;
                }
                let had = labels
                    .insert((seq, *id), label.as_slice())
                    .map_err(err)?
                    .is_some();
                if had {
                    counts.replaced += 1;
                } else {
                    counts.joined += 1;
                    meta.labelled += 1;
                }
                counts.windows.insert(seq);
                if let Some(u) = classes
                    .of_item
                    .get(item)
                    .and_then(|&c| used.get_mut(c as usize))
                {
                    *u = true;
                }
            }
            for seq in &counts.windows {
                if let Some(Some(meta)) = metas.get(seq) {
                    let bytes = serde_json::to_vec(meta).map_err(err)?;
                    windows.insert(*seq, bytes.as_slice()).map_err(err)?;
                }
            }
            counts.classes = classes
                .names
                .iter()
                .zip(&used)
                .filter(|(_, u)| **u)
                .map(|(n, _)| n.clone())
                .collect();
            remember(&txn, counts.classes.iter().map(String::as_str))?;
        }
        txn.commit().map_err(err)?;
        Ok(counts)
    }

    /// Every class stored (labels and predicted classes).
    pub fn classes(&self) -> Result<Vec<String>, String> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(CLASSES).map_err(err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(err)? {
            out.push(entry.map_err(err)?.0.value().to_string());
        }
        Ok(out)
    }

    /// Every window the store holds.
    pub fn windows(&self) -> Result<BTreeMap<u64, WindowMeta>, String> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(WINDOWS).map_err(err)?;
        let mut out = BTreeMap::new();
        for entry in table.iter().map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            out.insert(k.value(), serde_json::from_slice(v.value()).map_err(err)?);
        }
        Ok(out)
    }

    /// A window's predictions in request id order, each with its label if
    /// it has one (all at once: for tests).
    #[cfg(test)]
    pub fn window_rows(&self, seq: u64) -> Result<Vec<StoredRow>, String> {
        let mut out = Vec::new();
        self.window_chunks(seq, usize::MAX, |rows| {
            out.extend(rows);
            Ok(())
        })?;
        Ok(out)
    }

    /// A window's predictions (as [`Self::window_rows`]) given to `each`
    /// `chunk` at a time, so that reading a window back takes memory for a
    /// chunk, not for the window.
    pub fn window_chunks(
        &self,
        seq: u64,
        chunk: usize,
        mut each: impl FnMut(Vec<StoredRow>) -> Result<(), String>,
    ) -> Result<(), String> {
        let txn = self.db.begin_read().map_err(err)?;
        let rows = txn.open_table(ROWS).map_err(err)?;
        let labels = txn.open_table(LABELS).map_err(err)?;
        let mut out = Vec::new();
        let mut label_iter = labels
            .range((seq, "")..(seq + 1, ""))
            .map_err(err)?
            .peekable();
        for entry in rows.range((seq, "")..(seq + 1, "")).map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            let id = k.value().1;
            // Both scans are in id order: skip labels of ids without a row.
            let mut label = None;
            while let Some(Ok((lk, _))) = label_iter.peek() {
                let lid = lk.value().1;
                if lid < id {
                    label_iter.next();
                } else {
                    if lid == id
                        && let Some(Ok((_, lv))) = label_iter.next()
                    {
                        label = Some(lv.value().to_vec());
                    }
                    break;
                }
            }
            out.push((v.value().to_vec(), label));
            if out.len() >= chunk {
                each(std::mem::take(&mut out))?;
            }
        }
        if !out.is_empty() {
            each(out)?;
        }
        Ok(())
    }

    /// A window's labels by request id (for the retraining data,
    /// `server::data`, which joins them to the window's rows).
    pub fn window_labels(&self, seq: u64) -> Result<WindowLabels, String> {
        let txn = self.db.begin_read().map_err(err)?;
        let labels = txn.open_table(LABELS).map_err(err)?;
        let mut out = Vec::new();
        for entry in labels.range((seq, "")..(seq + 1, "")).map_err(err)? {
            let (k, v) = entry.map_err(err)?;
            out.push((k.value().1.to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Drops windows more than two `label_ttl`s past their last prediction
    /// (labels for them were `expired` for one `label_ttl`; later they are
    /// `unknown`). Returns the windows dropped.
    pub fn sweep(&self, now_ms: i64, ttl_ms: i64) -> Result<Vec<u64>, String> {
        let old: Vec<u64> = self
            .windows()?
            .into_iter()
            .filter(|(_, m)| m.expired(now_ms, ttl_ms.saturating_mul(2)))
            .map(|(s, _)| s)
            .collect();
        if old.is_empty() {
            return Ok(old);
        }
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut ids = txn.open_table(IDS).map_err(err)?;
            let mut rows = txn.open_table(ROWS).map_err(err)?;
            let mut labels = txn.open_table(LABELS).map_err(err)?;
            let mut windows = txn.open_table(WINDOWS).map_err(err)?;
            for seq in &old {
                let mut gone = Vec::new();
                rows.retain_in((*seq, "")..(*seq + 1, ""), |k, _| {
                    gone.push(k.1.to_string());
                    false
                })
                .map_err(err)?;
                labels
                    .retain_in((*seq, "")..(*seq + 1, ""), |_, _| false)
                    .map_err(err)?;
                for id in gone {
                    // Only if the id has not moved to a newer window since.
                    let here = ids.get(id.as_str()).map_err(err)?.map(|v| v.value()) == Some(*seq);
                    if here {
                        ids.remove(id.as_str()).map_err(err)?;
                    }
                }
                windows.remove(*seq).map_err(err)?;
            }
        }
        txn.commit().map_err(err)?;
        Ok(old)
    }
}

/// Adds classes to the `classes` table within a write transaction.
fn remember<'a>(
    txn: &redb::WriteTransaction,
    classes: impl Iterator<Item = &'a str>,
) -> Result<(), String> {
    let mut table = txn.open_table(CLASSES).map_err(err)?;
    for c in classes {
        if table.get(c).map_err(err)?.is_none() {
            table.insert(c, 0).map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(id: &str, row: u8, label: Option<u8>) -> Prediction {
        Prediction {
            id: id.into(),
            row: vec![row],
            label: label.map(|l| vec![l]),
        }
    }

    #[test]
    fn joins_counts_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let store = PendingStore::open(&dir.path().join("p.redb")).unwrap();
        store
            .add_predictions(
                1,
                "m-000001",
                1000,
                &[prediction("a", 1, None), prediction("b", 2, None)],
                &[],
            )
            .unwrap();
        store
            .add_predictions(2, "m-000002", 5000, &[prediction("c", 3, Some(7))], &[])
            .unwrap();
        let items: Vec<(&str, Vec<u8>)> = vec![
            ("a", vec![0]),
            ("a", vec![1]),
            ("zz", vec![1]),
            ("c", vec![9]),
        ];
        let counts = store
            .join(
                &items,
                2000,
                10_000,
                Duplicates::Last,
                ItemClasses::default(),
            )
            .unwrap();
        assert_eq!((counts.joined, counts.replaced, counts.unknown), (1, 2, 1));
        let rows = store.window_rows(1).unwrap();
        assert_eq!(rows, vec![(vec![1], Some(vec![1])), (vec![2], None)]);
        assert_eq!(
            store.window_rows(2).unwrap(),
            vec![(vec![3], Some(vec![9]))]
        );
        let metas = store.windows().unwrap();
        assert_eq!((metas[&1].predictions, metas[&1].labelled), (2, 1));
        // First wins.
        let counts = store
            .join(
                &[("a", vec![5]), ("b", vec![6])],
                2000,
                10_000,
                Duplicates::First,
                ItemClasses::default(),
            )
            .unwrap();
        assert_eq!((counts.joined, counts.duplicate), (1, 1));
        assert_eq!(store.window_rows(1).unwrap()[0].1, Some(vec![1]));
        // Window 1 expires at 1000 + ttl; window 2 is still open.
        let counts = store
            .join(
                &[("b", vec![0]), ("c", vec![0])],
                11_500,
                10_000,
                Duplicates::Last,
                ItemClasses::default(),
            )
            .unwrap();
        assert_eq!((counts.expired, counts.replaced), (1, 1));
        // Dropped after two ttls: its ids are unknown then.
        assert_eq!(store.sweep(21_500, 10_000).unwrap(), vec![1]);
        let counts = store
            .join(
                &[("a", vec![0])],
                21_500,
                10_000,
                Duplicates::Last,
                ItemClasses::default(),
            )
            .unwrap();
        assert_eq!(counts.unknown, 1);
        // A request id seen again moves to the newer window.
        store
            .add_predictions(3, "m-000003", 22_000, &[prediction("c", 4, None)], &[])
            .unwrap();
        assert!(store.window_rows(2).unwrap().is_empty());
        assert_eq!(store.windows().unwrap()[&2].predictions, 0);
        assert_eq!(store.window_rows(3).unwrap(), vec![(vec![4], None)]);
    }

    #[test]
    fn classes_of_applied_labels_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.redb");
        let store = PendingStore::open(&path).unwrap();
        let class_names = ["0".to_string()];
        store
            .add_predictions(
                1,
                "m-000001",
                1000,
                &[prediction("a", 1, None)],
                &class_names,
            )
            .unwrap();
        // "1" labels a known id, "7" only an unknown one: only "1" is kept.
        let names = ["1".to_string(), "7".to_string()];
        let counts = store
            .join(
                &[("a", vec![1]), ("zz", vec![7])],
                1000,
                10_000,
                Duplicates::Last,
                ItemClasses {
                    names: &names,
                    of_item: &[0, 1],
                },
            )
            .unwrap();
        assert_eq!(counts.classes, vec!["1".to_string()]);
        drop(store);
        let store = PendingStore::open(&path).unwrap();
        assert_eq!(store.classes().unwrap(), vec!["0", "1"]);
    }
}
