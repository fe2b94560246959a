//! The pending store: every prediction that may still get its label, and
//! the labels, in `models/NAME/quality/pending/` — append-only files,
//! joined by merging sorted runs.
//!
//! Why append-only runs, not a key-value store: predictions wait days for
//! their labels (`label_ttl`, 7 days by default) and there may be tens of
//! millions of them, so they live on disk; every acknowledged prediction
//! and label must survive a `kill -9`; and labels must be accepted at
//! hundreds of thousands a second per core. A B-tree store (redb, what
//! this was) pays a random lookup of the request id and an insert per
//! label — with random ids each touches a different leaf page, about
//! 19 µs a label — and three inserts per prediction. An LSM store (fjall)
//! would make the writes blind but still answers the join with a point
//! lookup per label (or per prediction), brings background compaction
//! threads and a new dependency, and we need none of its generality: the
//! join only ever asks "which pending prediction has this id", and it can
//! wait until a window's quality is recomputed. So:
//!
//! - a batch's predictions are one *block* appended to its window's file
//!   (`wSEQ.pred`), sorted by request id, with the request ids in a section
//!   of their own so that the join reads only those;
//! - a label body is one block appended to the label log
//!   (`labels-N.log`): no lookup at all;
//! - every append is followed by `fdatasync` before the request is
//!   acknowledged, and a block carries its length and a CRC32, so a torn
//!   tail (never acknowledged) is cut at the next start;
//! - the *join* ([`PendingStore::join`], run before windows are
//!   recomputed: every second by the timer, and by `GET /quality`) takes
//!   the log's finished segments, sorts their labels by id, and merges them
//!   with each pending block's sorted ids — sequential reads, no random
//!   lookup. Each label is matched to the newest prediction of its id
//!   stored before the label was accepted (a logical clock stamps every
//!   block, so a label that came before its prediction is `unknown`,
//!   whatever the timing of the join); the matched labels are appended to
//!   their window's `wSEQ.lab` as (block, position, label), sorted, and
//!   the segments are then marked joined (`joined`, replaced atomically)
//!   and deleted. A crash in between: the `.lab` blocks of segments not
//!   marked joined are cut at the next start, and the segments joined
//!   again.
//!
//! In memory: per window its metadata, its blocks' offsets, and one bit
//! per prediction (labelled or not: what `duplicates = "first"` and
//! `label_coverage` need): 10,000,000 pending predictions are 1.25 MB.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::blocks::{HEADER, NO_LABEL, Reader, append_block, corrupt, io, read_at, scan_blocks};
use crate::server::config::Duplicates;

const PRED: [u8; 4] = *b"APR1";
const LOG: [u8; 4] = *b"ALG1";
const JOINED: [u8; 4] = *b"AJN1";
/// Label log bytes joined in one step (bounds the join's memory).
const JOIN_STEP_BYTES: u64 = 16 << 20;

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

/// What a join did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinCounts {
    /// Labels for predictions that had none.
    pub joined: u64,
    /// Labels that replaced an earlier one (`duplicates = "last"`).
    pub replaced: u64,
    /// Labels ignored because the prediction had one (`duplicates = "first"`).
    pub duplicate: u64,
    /// Labels for request ids the store does not know (or whose
    /// prediction came after the label).
    pub unknown: u64,
    /// Labels that came after `label_ttl`.
    pub expired: u64,
    /// The windows whose labels changed.
    pub windows: BTreeSet<u64>,
}

impl JoinCounts {
    pub fn add(&mut self, other: &JoinCounts) {
        self.joined += other.joined;
        self.replaced += other.replaced;
        self.duplicate += other.duplicate;
        self.unknown += other.unknown;
        self.expired += other.expired;
        self.windows.extend(other.windows.iter().copied());
    }
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

fn err(e: impl std::fmt::Display) -> String {
    format!("the pending store: {e}")
}

/// One block of a window's predictions, as located in its file.
#[derive(Debug, Clone)]
struct PredBlock {
    /// The block's logical time (see [`PendingStore::clock`]).
    stamp: u64,
    /// Where its payload starts, and its length.
    payload_at: u64,
    payload_len: u32,
    /// Where its id section starts (absolute), and its length.
    ids_at: u64,
    ids_len: u32,
    rows: u32,
    /// One bit per prediction: labelled.
    labelled: Vec<u64>,
}

impl PredBlock {
    fn is_labelled(&self, pos: u32) -> bool {
        self.labelled[(pos / 64) as usize] & (1 << (pos % 64)) != 0
    }
    /// Sets the bit; whether it was clear.
    fn label(&mut self, pos: u32) -> bool {
        let word = &mut self.labelled[(pos / 64) as usize];
        let bit = 1 << (pos % 64);
        let was_clear = *word & bit == 0;
        *word |= bit;
        was_clear
    }
}

#[derive(Debug, Clone)]
struct Window {
    meta: WindowMeta,
    blocks: Vec<PredBlock>,
    /// The valid length of `wSEQ.lab` (what readers may read).
    lab_len: u64,
}

/// The label log: the segment being appended to.
struct LabelLog {
    segment: u64,
    file: Option<File>,
}

pub struct PendingStore {
    dir: PathBuf,
    windows: Mutex<BTreeMap<u64, Window>>,
    log: Mutex<LabelLog>,
    /// The last label segment joined (what `joined` holds).
    joined: Mutex<u64>,
    /// Logical time: every appended block takes the next value, so that a
    /// label is joined only to predictions stored before it was accepted.
    clock: AtomicU64,
    classes: Mutex<BTreeSet<String>>,
}

/// The first eight bytes of an id as a big-endian number (zero-padded):
/// ordered as the ids are, where it differs.
fn prefix(id: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = id.len().min(8);
    b[..n].copy_from_slice(&id[..n]);
    u64::from_be_bytes(b)
}

/// The head of a prediction block's payload.
struct PredHead {
    stamp: u64,
    stored_ms: i64,
    rows: u32,
    /// Rows that came with their label.
    inline: u32,
    window: String,
    ids_len: u32,
    /// The head's length.
    len: usize,
}

fn pred_head(payload: &[u8]) -> Option<PredHead> {
    let mut r = Reader { bytes: payload };
    let stamp = r.u64()?;
    let stored_ms = r.i64()?;
    let rows = r.u32()?;
    let inline = r.u32()?;
    let window = String::from_utf8(r.short()?.to_vec()).ok()?;
    let ids_len = r.u32()?;
    let len = payload.len() - r.bytes.len();
    Some(PredHead {
        stamp,
        stored_ms,
        rows,
        inline,
        window,
        ids_len,
        len,
    })
}

/// Labels joined to a window: (block, position) → label, sorted, the last
/// written of each position kept.
struct JoinedLabels {
    entries: Vec<(u32, u32, u32, u32)>,
    arena: Vec<u8>,
}

impl JoinedLabels {
    fn label(&self, i: usize) -> &[u8] {
        let (_, _, at, len) = self.entries[i];
        &self.arena[at as usize..(at + len) as usize]
    }
}

impl PendingStore {
    /// Opens (or creates) the store in `dir`; after a crash the torn tails
    /// (appends never acknowledged) are cut.
    pub fn open(dir: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let joined: u64 = match std::fs::read_to_string(dir.join("joined")) {
            Ok(t) => t.trim().parse().map_err(|_| corrupt(&dir.join("joined")))?,
            Err(_) => 0,
        };
        let classes: BTreeSet<String> = match std::fs::read(dir.join("classes.json")) {
            Ok(t) => serde_json::from_slice(&t).map_err(err)?,
            Err(_) => BTreeSet::new(),
        };
        let mut max_stamp = 0u64;
        let mut windows = BTreeMap::new();
        let mut segments = Vec::new();
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in &names {
            if let Some(seq) = name
                .strip_prefix('w')
                .and_then(|s| s.strip_suffix(".pred"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                let w = Self::load_window(dir, seq, joined)?;
                if let Some(w) = w {
                    max_stamp = max_stamp.max(w.blocks.iter().map(|b| b.stamp).max().unwrap_or(0));
                    windows.insert(seq, w);
                }
            } else if let Some(n) = name
                .strip_prefix("labels-")
                .and_then(|s| s.strip_suffix(".log"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                segments.push(n);
            }
        }
        let mut last_segment = joined;
        for n in segments {
            let path = dir.join(format!("labels-{n:010}.log"));
            if n <= joined {
                // Joined before a crash, not yet deleted.
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                continue;
            }
            last_segment = last_segment.max(n);
            for (at, len) in scan_blocks(&path, LOG, true)? {
                let head = read_at(&path, at, 8.min(len as usize))?;
                if let Ok(b) = <[u8; 8]>::try_from(head.as_slice()) {
                    max_stamp = max_stamp.max(u64::from_le_bytes(b));
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            windows: Mutex::new(windows),
            log: Mutex::new(LabelLog {
                segment: last_segment + 1,
                file: None,
            }),
            joined: Mutex::new(joined),
            clock: AtomicU64::new(max_stamp + 1),
            classes: Mutex::new(classes),
        })
    }

    fn pred_path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("w{seq:010}.pred"))
    }

    fn lab_path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("w{seq:010}.lab"))
    }

    /// A window's blocks and labelled bits from its files.
    fn load_window(dir: &Path, seq: u64, joined: u64) -> Result<Option<Window>, String> {
        let path = dir.join(format!("w{seq:010}.pred"));
        let mut meta = WindowMeta::default();
        let mut blocks = Vec::new();
        for (at, len) in scan_blocks(&path, PRED, false)? {
            let head = read_at(&path, at, (len as usize).min(4096))?;
            let h = pred_head(&head).ok_or_else(|| corrupt(&path))?;
            if blocks.is_empty() {
                meta.id = h.window.clone();
                meta.first_ms = h.stored_ms;
            }
            meta.last_ms = meta.last_ms.max(h.stored_ms);
            meta.predictions += u64::from(h.rows);
            let mut block = PredBlock {
                stamp: h.stamp,
                payload_at: at,
                payload_len: len,
                ids_at: at + h.len as u64,
                ids_len: h.ids_len,
                rows: h.rows,
                labelled: vec![0; (h.rows as usize).div_ceil(64)],
            };
            if h.inline > 0 {
                // Which rows came with their label.
                let payload = read_at(&path, at, len as usize)?;
                let mut r = Reader {
                    bytes: payload
                        .get(h.len + h.ids_len as usize..)
                        .ok_or_else(|| corrupt(&path))?,
                };
                for pos in 0..h.rows {
                    r.long().ok_or_else(|| corrupt(&path))?;
                    if r.long().ok_or_else(|| corrupt(&path))?.is_some() && block.label(pos) {
                        meta.labelled += 1;
                    }
                }
            }
            blocks.push(block);
        }
        if blocks.is_empty() {
            return Ok(None);
        }
        let mut window = Window {
            meta,
            blocks,
            lab_len: 0,
        };
        let lab = dir.join(format!("w{seq:010}.lab"));
        if lab.exists() {
            let found = scan_blocks(&lab, JOINED, true)?;
            let mut keep = 0;
            for (at, len) in found {
                let payload = read_at(&lab, at, len as usize)?;
                let mut r = Reader { bytes: &payload };
                let segment = r.u64().ok_or_else(|| corrupt(&lab))?;
                if segment > joined {
                    // Written by a join that did not finish: joined again.
                    break;
                }
                let n = r.u32().ok_or_else(|| corrupt(&lab))?;
                for _ in 0..n {
                    let block = r.u32().ok_or_else(|| corrupt(&lab))?;
                    let pos = r.u32().ok_or_else(|| corrupt(&lab))?;
                    r.long().ok_or_else(|| corrupt(&lab))?;
                    let b = window
                        .blocks
                        .get_mut(block as usize)
                        .filter(|b| pos < b.rows)
                        .ok_or_else(|| corrupt(&lab))?;
                    if b.label(pos) {
                        window.meta.labelled += 1;
                    }
                }
                keep = at + u64::from(len);
            }
            let file = OpenOptions::new()
                .write(true)
                .open(&lab)
                .map_err(|e| io(&lab, e))?;
            if file.metadata().map_err(|e| io(&lab, e))?.len() > keep {
                file.set_len(keep).map_err(|e| io(&lab, e))?;
                file.sync_all().map_err(|e| io(&lab, e))?;
            }
            window.lab_len = keep;
        }
        Ok(Some(window))
    }

    /// Syncs the directory (a file created in it survives a crash).
    fn sync_dir(&self) -> Result<(), String> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&self.dir, e))
    }

    /// Remembers classes (labels and predicted classes), durably.
    pub fn remember(&self, classes: &[String]) -> Result<(), String> {
        let mut known = self.classes.lock().map_err(|_| err("poisoned"))?;
        if classes.iter().all(|c| known.contains(c)) {
            return Ok(());
        }
        known.extend(classes.iter().cloned());
        let text = serde_json::to_vec(&*known).map_err(err)?;
        let path = self.dir.join("classes.json");
        crate::server::state::replace_unsynced(&path, &text)?;
        File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&path, e))?;
        self.sync_dir()
    }

    /// Every class stored (labels and predicted classes).
    pub fn classes(&self) -> Result<Vec<String>, String> {
        Ok(self
            .classes
            .lock()
            .map_err(|_| err("poisoned"))?
            .iter()
            .cloned()
            .collect())
    }

    /// Stores a batch's predictions in window `seq`: one block appended to
    /// the window's file, sorted by request id, synced before this returns.
    pub fn add_predictions(
        &self,
        seq: u64,
        window: &str,
        now_ms: i64,
        predictions: &[Prediction],
        classes: &[String],
    ) -> Result<(), String> {
        if predictions.is_empty() {
            return Ok(());
        }
        self.remember(classes)?;
        let mut keyed: Vec<(u64, u32)> = predictions
            .iter()
            .enumerate()
            .map(|(k, p)| (prefix(p.id.as_bytes()), k as u32))
            .collect();
        keyed.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                predictions[a.1 as usize]
                    .id
                    .cmp(&predictions[b.1 as usize].id)
            })
        });
        let order: Vec<u32> = keyed.into_iter().map(|(_, k)| k).collect();
        fn short_id(p: &Prediction) -> &[u8] {
            let id = p.id.as_bytes();
            &id[..id.len().min(u16::MAX as usize)]
        }
        // The payload built in place (head, ids, rows): one buffer.
        let window_id = &window.as_bytes()[..window.len().min(u16::MAX as usize)];
        let ids_len: usize = predictions.iter().map(|p| 2 + short_id(p).len()).sum();
        let data_len: usize = predictions
            .iter()
            .map(|p| 8 + p.row.len() + p.label.as_ref().map_or(0, Vec::len))
            .sum();
        let inline = predictions.iter().filter(|p| p.label.is_some()).count() as u64;
        let mut payload = Vec::with_capacity(34 + window_id.len() + ids_len + data_len);
        payload.extend_from_slice(&[0; 8]); // the stamp, below
        payload.extend_from_slice(&now_ms.to_le_bytes());
        payload.extend_from_slice(&(predictions.len() as u32).to_le_bytes());
        payload.extend_from_slice(&(inline as u32).to_le_bytes());
        payload.extend_from_slice(&(window_id.len() as u16).to_le_bytes());
        payload.extend_from_slice(window_id);
        payload.extend_from_slice(&(ids_len as u32).to_le_bytes());
        let head = payload.len() as u64;
        for &i in &order {
            let id = short_id(&predictions[i as usize]);
            payload.extend_from_slice(&(id.len() as u16).to_le_bytes());
            payload.extend_from_slice(id);
        }
        let mut labelled = vec![0u64; predictions.len().div_ceil(64)];
        for (pos, &i) in order.iter().enumerate() {
            let p = &predictions[i as usize];
            payload.extend_from_slice(&(p.row.len() as u32).to_le_bytes());
            payload.extend_from_slice(&p.row);
            match &p.label {
                Some(l) => {
                    payload.extend_from_slice(&(l.len() as u32).to_le_bytes());
                    payload.extend_from_slice(l);
                    labelled[pos / 64] |= 1 << (pos % 64);
                }
                None => payload.extend_from_slice(&NO_LABEL.to_le_bytes()),
            }
        }
        let mut windows = self.windows.lock().map_err(|_| err("poisoned"))?;
        let stamp = self.clock.fetch_add(1, Ordering::SeqCst);
        payload[..8].copy_from_slice(&stamp.to_le_bytes());
        let path = self.pred_path(seq);
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let at = file.metadata().map_err(|e| io(&path, e))?.len();
        append_block(&mut file, &path, PRED, &payload)?;
        if created {
            self.sync_dir()?;
        }
        let w = windows.entry(seq).or_insert_with(|| Window {
            meta: WindowMeta {
                id: window.to_string(),
                first_ms: now_ms,
                last_ms: now_ms,
                ..WindowMeta::default()
            },
            blocks: Vec::new(),
            lab_len: 0,
        });
        w.meta.last_ms = w.meta.last_ms.max(now_ms);
        w.meta.predictions += predictions.len() as u64;
        w.meta.labelled += inline;
        w.blocks.push(PredBlock {
            stamp,
            payload_at: at + HEADER,
            payload_len: payload.len() as u32,
            ids_at: at + HEADER + head,
            ids_len: ids_len as u32,
            rows: predictions.len() as u32,
            labelled,
        });
        Ok(())
    }

    /// Accepts labels (request id, label cell): one block appended to the
    /// label log and synced; no lookup. They are joined by [`Self::join`].
    pub fn add_labels<S: AsRef<str>>(
        &self,
        items: &[(S, Vec<u8>)],
        now_ms: i64,
        classes: &[String],
    ) -> Result<(), String> {
        if items.is_empty() {
            return Ok(());
        }
        self.remember(classes)?;
        let size: usize = items
            .iter()
            .map(|(i, l)| 6 + i.as_ref().len() + l.len())
            .sum();
        let mut payload = Vec::with_capacity(20 + size);
        payload.extend_from_slice(&[0; 8]);
        payload.extend_from_slice(&now_ms.to_le_bytes());
        payload.extend_from_slice(&(items.len() as u32).to_le_bytes());
        for (id, label) in items {
            let id = id.as_ref().as_bytes();
            let id = &id[..id.len().min(u16::MAX as usize)];
            payload.extend_from_slice(&(id.len() as u16).to_le_bytes());
            payload.extend_from_slice(id);
            payload.extend_from_slice(&(label.len() as u32).to_le_bytes());
            payload.extend_from_slice(label);
        }
        let mut log = self.log.lock().map_err(|_| err("poisoned"))?;
        let stamp = self.clock.fetch_add(1, Ordering::SeqCst);
        payload[..8].copy_from_slice(&stamp.to_le_bytes());
        let path = self.dir.join(format!("labels-{:010}.log", log.segment));
        if log.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            self.sync_dir()?;
            log.file = Some(file);
        }
        let file = log.file.as_mut().expect("opened above");
        append_block(file, &path, LOG, &payload)
    }

    /// Joins the labels accepted so far to their predictions (see the
    /// module's comment), durably; what they did.
    pub fn join(&self, ttl_ms: i64, duplicates: Duplicates) -> Result<JoinCounts, String> {
        let mut joined_mark = self.joined.lock().map_err(|_| err("poisoned"))?;
        // The finished segments: the log moves on to a new one.
        let last = {
            let mut log = self.log.lock().map_err(|_| err("poisoned"))?;
            if log.file.is_some() {
                log.file = None;
                log.segment += 1;
            }
            log.segment - 1
        };
        let mut counts = JoinCounts::default();
        let mut from = *joined_mark + 1;
        while from <= last {
            // A step: segments up to JOIN_STEP_BYTES (at least one).
            let mut step = Vec::new();
            let mut bytes = 0;
            let mut upto = from;
            while upto <= last && (step.is_empty() || bytes < JOIN_STEP_BYTES) {
                let path = self.dir.join(format!("labels-{upto:010}.log"));
                if path.exists() {
                    bytes += std::fs::metadata(&path).map_err(|e| io(&path, e))?.len();
                    step.push(path);
                }
                upto += 1;
            }
            let c = self.join_step(&step, upto - 1, ttl_ms, duplicates)?;
            counts.add(&c);
            // The step's labels are in the windows' files: mark, then delete.
            let mark = self.dir.join("joined");
            crate::server::state::replace_unsynced(&mark, (upto - 1).to_string().as_bytes())?;
            File::open(&mark)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(&mark, e))?;
            self.sync_dir()?;
            *joined_mark = upto - 1;
            for path in step {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            }
            from = upto;
        }
        Ok(counts)
    }

    /// One join step: the labels of `segments` (tagged `tag` in the
    /// windows' files) merged with the pending predictions.
    fn join_step(
        &self,
        segments: &[PathBuf],
        tag: u64,
        ttl_ms: i64,
        duplicates: Duplicates,
    ) -> Result<JoinCounts, String> {
        // The labels, in the order they were accepted.
        struct Item {
            id_at: u32,
            id_len: u16,
            label_at: u32,
            label_len: u32,
            stamp: u64,
            received_ms: i64,
        }
        let mut items: Vec<Item> = Vec::new();
        let mut ids: Vec<u8> = Vec::new();
        let mut labels: Vec<u8> = Vec::new();
        for path in segments {
            for (at, len) in scan_blocks(path, LOG, false)? {
                let payload = read_at(path, at, len as usize)?;
                let mut r = Reader { bytes: &payload };
                let parsed = (|| {
                    let stamp = r.u64()?;
                    let ms = r.i64()?;
                    let n = r.u32()?;
                    for _ in 0..n {
                        let id = r.short()?;
                        let label = r.long()??;
                        items.push(Item {
                            id_at: ids.len() as u32,
                            id_len: id.len() as u16,
                            label_at: labels.len() as u32,
                            label_len: label.len() as u32,
                            stamp,
                            received_ms: ms,
                        });
                        ids.extend_from_slice(id);
                        labels.extend_from_slice(label);
                    }
                    Some(())
                })();
                parsed.ok_or_else(|| corrupt(path))?;
            }
        }
        let id_of = |i: &Item| &ids[i.id_at as usize..i.id_at as usize + i.id_len as usize];
        // The distinct ids, sorted (by their first eight bytes, then whole:
        // the sort stays in cache), copied in order so that the merges
        // below read them sequentially.
        let mut order: Vec<(u64, u32)> = items
            .iter()
            .enumerate()
            .map(|(k, i)| (prefix(id_of(i)), k as u32))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| id_of(&items[a.1 as usize]).cmp(id_of(&items[b.1 as usize])))
        });
        let mut distinct: Vec<(u64, u32, u16)> = Vec::new(); // prefix, at, len
        let mut distinct_ids: Vec<u8> = Vec::new();
        let mut id_index: Vec<u32> = vec![0; items.len()]; // item → distinct
        for &(p, i) in &order {
            let id = id_of(&items[i as usize]);
            let same = distinct.last().is_some_and(|&(dp, at, len)| {
                dp == p && &distinct_ids[at as usize..at as usize + len as usize] == id
            });
            if !same {
                distinct.push((p, distinct_ids.len() as u32, id.len() as u16));
                distinct_ids.extend_from_slice(id);
            }
            id_index[i as usize] = distinct.len() as u32 - 1;
        }
        drop(order);
        // Merge each pending block's sorted ids with them: every prediction
        // of each id (stamp, window, block, position).
        let mut windows = self.windows.lock().map_err(|_| err("poisoned"))?;
        let mut found: Vec<(u32, u64, u64, u32, u32)> = Vec::new();
        let newest_label = items.iter().map(|i| i.stamp).max().unwrap_or(0);
        let mut buf = Vec::new();
        for (seq, w) in windows.iter() {
            let path = self.pred_path(*seq);
            let file = File::open(&path).map_err(|e| io(&path, e))?;
            for (b, block) in w.blocks.iter().enumerate() {
                if block.stamp > newest_label || distinct.is_empty() {
                    continue;
                }
                buf.resize(block.ids_len as usize, 0);
                file.read_exact_at(&mut buf, block.ids_at)
                    .map_err(|e| io(&path, e))?;
                let mut r = Reader { bytes: &buf };
                let mut d = 0usize;
                let mut pos = 0u32;
                while d < distinct.len() {
                    let Some(id) = r.short() else { break };
                    let p = prefix(id);
                    loop {
                        let (dp, at, len) = distinct[d];
                        let cmp = p.cmp(&dp).then_with(|| {
                            id.cmp(&distinct_ids[at as usize..at as usize + len as usize])
                        });
                        match cmp {
                            std::cmp::Ordering::Less => break,
                            std::cmp::Ordering::Equal => {
                                found.push((d as u32, block.stamp, *seq, b as u32, pos));
                                break;
                            }
                            std::cmp::Ordering::Greater => {
                                d += 1;
                                if d == distinct.len() {
                                    break;
                                }
                            }
                        }
                    }
                    pos += 1;
                }
            }
        }
        // Sorted by id, then newest last: an item's match is the last of its
        // id stored before it.
        found.sort_unstable_by_key(|&(d, stamp, _, _, pos)| (d, stamp, pos));
        let first_found: Vec<usize> = {
            let mut v = vec![usize::MAX; distinct.len()];
            for (k, f) in found.iter().enumerate().rev() {
                v[f.0 as usize] = k;
            }
            v
        };
        let mut counts = JoinCounts::default();
        let mut written: BTreeMap<u64, Vec<(u32, u32, u32)>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let d = id_index[i] as usize;
            let mut best = None;
            let mut k = first_found[d];
            while k < found.len() && found[k].0 as usize == d {
                if found[k].1 < item.stamp {
                    best = Some(found[k]);
                }
                k += 1;
            }
            let Some((_, _, seq, block, pos)) = best else {
                counts.unknown += 1;
                continue;
            };
            let w = windows.get_mut(&seq).expect("found in it");
            if w.meta.expired(item.received_ms, ttl_ms) {
                counts.expired += 1;
                continue;
            }
            let b = &mut w.blocks[block as usize];
            if b.is_labelled(pos) {
                if duplicates == Duplicates::First {
                    counts.duplicate += 1;
                    continue;
                }
                counts.replaced += 1;
            } else {
                b.label(pos);
                w.meta.labelled += 1;
                counts.joined += 1;
            }
            counts.windows.insert(seq);
            written.entry(seq).or_default().push((block, pos, i as u32));
        }
        for (seq, mut entries) in written {
            // Sorted by position; of one position the last accepted wins.
            entries.sort_by_key(|&(b, p, _)| (b, p));
            let mut payload = Vec::with_capacity(12 + entries.len() * 20);
            payload.extend_from_slice(&tag.to_le_bytes());
            payload.extend_from_slice(&[0; 4]);
            let mut n = 0u32;
            for (k, &(b, p, i)) in entries.iter().enumerate() {
                if entries
                    .get(k + 1)
                    .is_some_and(|&(b2, p2, _)| (b2, p2) == (b, p))
                {
                    continue;
                }
                let item = &items[i as usize];
                payload.extend_from_slice(&b.to_le_bytes());
                payload.extend_from_slice(&p.to_le_bytes());
                payload.extend_from_slice(&item.label_len.to_le_bytes());
                payload.extend_from_slice(
                    &labels[item.label_at as usize..(item.label_at + item.label_len) as usize],
                );
                n += 1;
            }
            payload[8..12].copy_from_slice(&n.to_le_bytes());
            let path = self.lab_path(seq);
            let created = !path.exists();
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            append_block(&mut file, &path, JOINED, &payload)?;
            if created {
                self.sync_dir()?;
            }
            if let Some(w) = windows.get_mut(&seq) {
                w.lab_len += HEADER + payload.len() as u64;
            }
        }
        Ok(counts)
    }

    /// Every window the store holds.
    pub fn windows(&self) -> Result<BTreeMap<u64, WindowMeta>, String> {
        Ok(self
            .windows
            .lock()
            .map_err(|_| err("poisoned"))?
            .iter()
            .map(|(s, w)| (*s, w.meta.clone()))
            .collect())
    }

    fn window(&self, seq: u64) -> Result<Option<Window>, String> {
        Ok(self
            .windows
            .lock()
            .map_err(|_| err("poisoned"))?
            .get(&seq)
            .cloned())
    }

    /// The labels joined to a window (not those its batches brought).
    fn joined_labels(&self, seq: u64, lab_len: u64) -> Result<JoinedLabels, String> {
        let mut out = JoinedLabels {
            entries: Vec::new(),
            arena: Vec::new(),
        };
        if lab_len == 0 {
            return Ok(out);
        }
        let path = self.lab_path(seq);
        let bytes = read_at(&path, 0, lab_len as usize)?;
        let mut at = 0usize;
        let mut run = 0u32;
        let mut keyed: Vec<(u32, u32, u32, u32, u32)> = Vec::new();
        while at + HEADER as usize <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4")) as usize;
            let payload = bytes
                .get(at + HEADER as usize..at + HEADER as usize + len)
                .ok_or_else(|| corrupt(&path))?;
            let mut r = Reader { bytes: payload };
            r.u64().ok_or_else(|| corrupt(&path))?;
            let n = r.u32().ok_or_else(|| corrupt(&path))?;
            for _ in 0..n {
                let parsed = (|| Some((r.u32()?, r.u32()?, r.long()??)))();
                let (b, p, label) = parsed.ok_or_else(|| corrupt(&path))?;
                keyed.push((b, p, run, out.arena.len() as u32, label.len() as u32));
                out.arena.extend_from_slice(label);
            }
            at += HEADER as usize + len;
            run += 1;
        }
        // Of one position, the latest run wins.
        keyed.sort_unstable_by_key(|&(b, p, run, _, _)| (b, p, run));
        for (k, &(b, p, _, a, l)) in keyed.iter().enumerate() {
            if keyed.get(k + 1).is_some_and(|x| (x.0, x.1) == (b, p)) {
                continue;
            }
            out.entries.push((b, p, a, l));
        }
        Ok(out)
    }

    /// Each of a window's blocks read back: (id, row, label) per
    /// prediction, joined labels over inline ones.
    fn each_block(
        &self,
        seq: u64,
        mut each: impl FnMut(
            &mut dyn Iterator<Item = (&[u8], &[u8], Option<&[u8]>)>,
        ) -> Result<(), String>,
    ) -> Result<(), String> {
        let Some(w) = self.window(seq)? else {
            return Ok(());
        };
        let joined = self.joined_labels(seq, w.lab_len)?;
        let path = self.pred_path(seq);
        let file = File::open(&path).map_err(|e| io(&path, e))?;
        let mut next = 0usize;
        let mut buf = Vec::new();
        for (b, block) in w.blocks.iter().enumerate() {
            let b = b as u32;
            buf.resize(block.payload_len as usize, 0);
            file.read_exact_at(&mut buf, block.payload_at)
                .map_err(|e| io(&path, e))?;
            let ids_from = (block.ids_at - block.payload_at) as usize;
            let mut ids = Reader {
                bytes: &buf[ids_from..ids_from + block.ids_len as usize],
            };
            let mut data = Reader {
                bytes: &buf[ids_from + block.ids_len as usize..],
            };
            let mut bad = false;
            let mut rows = (0..block.rows).map_while(|pos| {
                let parsed = (|| Some((ids.short()?, data.long()??, data.long()?)))();
                let Some((id, row, inline)) = parsed else {
                    bad = true;
                    return None;
                };
                while next < joined.entries.len()
                    && (joined.entries[next].0, joined.entries[next].1) < (b, pos)
                {
                    next += 1;
                }
                let label = if next < joined.entries.len()
                    && (joined.entries[next].0, joined.entries[next].1) == (b, pos)
                {
                    Some(joined.label(next))
                } else {
                    inline
                };
                Some((id, row, label))
            });
            each(&mut rows)?;
            drop(rows);
            if bad {
                return Err(corrupt(&path));
            }
        }
        Ok(())
    }

    /// A window's predictions, each with its label if it has one (all at
    /// once: for tests).
    #[cfg(test)]
    pub fn window_rows(&self, seq: u64) -> Result<Vec<StoredRow>, String> {
        let mut out = Vec::new();
        self.window_chunks(seq, usize::MAX, |rows| {
            out.extend(rows);
            Ok(())
        })?;
        Ok(out)
    }

    /// A window's predictions (block by block, each in request id order)
    /// given to `each` `chunk` at a time, so that reading a window back
    /// takes memory for a chunk, not for the window.
    pub fn window_chunks(
        &self,
        seq: u64,
        chunk: usize,
        mut each: impl FnMut(Vec<StoredRow>) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut out: Vec<StoredRow> = Vec::new();
        self.each_block(seq, |rows| {
            for (_, row, label) in rows {
                out.push((row.to_vec(), label.map(<[u8]>::to_vec)));
                if out.len() >= chunk {
                    each(std::mem::take(&mut out))?;
                }
            }
            Ok(())
        })?;
        if !out.is_empty() {
            each(out)?;
        }
        Ok(())
    }

    /// A window's labels by request id (for the retraining data,
    /// `server::data`, which joins them to the window's rows).
    pub fn window_labels(&self, seq: u64) -> Result<WindowLabels, String> {
        let mut out = Vec::new();
        self.each_block(seq, |rows| {
            for (id, _, label) in rows {
                if let Some(l) = label {
                    out.push((String::from_utf8_lossy(id).into_owned(), l.to_vec()));
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Drops windows more than two `label_ttl`s past their last prediction
    /// (labels for them were `expired` for one `label_ttl`; later they are
    /// `unknown`). Returns the windows dropped.
    pub fn sweep(&self, now_ms: i64, ttl_ms: i64) -> Result<Vec<u64>, String> {
        let mut windows = self.windows.lock().map_err(|_| err("poisoned"))?;
        let old: Vec<u64> = windows
            .iter()
            .filter(|(_, w)| w.meta.expired(now_ms, ttl_ms.saturating_mul(2)))
            .map(|(s, _)| *s)
            .collect();
        for seq in &old {
            for path in [self.lab_path(*seq), self.pred_path(*seq)] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path, e)),
                }
            }
            windows.remove(seq);
        }
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn prediction(id: &str, row: u8, label: Option<u8>) -> Prediction {
        Prediction {
            id: id.into(),
            row: vec![row],
            label: label.map(|l| vec![l]),
        }
    }

    fn add(store: &PendingStore, items: &[(&str, u8)], now: i64) {
        let items: Vec<(&str, Vec<u8>)> = items.iter().map(|(i, l)| (*i, vec![*l])).collect();
        store.add_labels(&items, now, &[]).unwrap();
    }

    fn counts(c: &JoinCounts) -> [u64; 5] {
        [c.joined, c.replaced, c.duplicate, c.unknown, c.expired]
    }

    #[test]
    fn joins_counts_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let store = PendingStore::open(dir.path()).unwrap();
        store
            .add_predictions(
                1,
                "m-000001",
                1000,
                &[prediction("b", 2, None), prediction("a", 1, None)],
                &[],
            )
            .unwrap();
        store
            .add_predictions(2, "m-000002", 5000, &[prediction("c", 3, Some(7))], &[])
            .unwrap();
        add(&store, &[("a", 0), ("a", 1), ("zz", 1), ("c", 9)], 2000);
        let c = store.join(10_000, Duplicates::Last).unwrap();
        // "a" twice: joined, then replaced; "c" had its inline label.
        assert_eq!(counts(&c), [1, 2, 0, 1, 0]);
        assert_eq!(
            store.window_rows(1).unwrap(),
            vec![(vec![1], Some(vec![1])), (vec![2], None)]
        );
        assert_eq!(
            store.window_rows(2).unwrap(),
            vec![(vec![3], Some(vec![9]))]
        );
        let metas = store.windows().unwrap();
        assert_eq!((metas[&1].predictions, metas[&1].labelled), (2, 1));
        // Nothing new: nothing joined again.
        assert_eq!(
            counts(&store.join(10_000, Duplicates::Last).unwrap()),
            [0; 5]
        );
        // First wins.
        add(&store, &[("a", 5), ("b", 6)], 2000);
        let c = store.join(10_000, Duplicates::First).unwrap();
        assert_eq!(counts(&c), [1, 0, 1, 0, 0]);
        assert_eq!(store.window_rows(1).unwrap()[0].1, Some(vec![1]));
        // Window 1 expires at 1000 + ttl; window 2 is still open.
        add(&store, &[("b", 0), ("c", 0)], 11_500);
        let c = store.join(10_000, Duplicates::Last).unwrap();
        assert_eq!(counts(&c), [0, 1, 0, 0, 1]);
        // Dropped after two ttls: its ids are unknown then.
        assert_eq!(store.sweep(21_500, 10_000).unwrap(), vec![1]);
        add(&store, &[("a", 0)], 21_500);
        assert_eq!(counts(&store.join(10_000, Duplicates::Last).unwrap())[3], 1);
        // A request id seen again: its label joins the newer prediction.
        store
            .add_predictions(3, "m-000003", 22_000, &[prediction("c", 4, None)], &[])
            .unwrap();
        add(&store, &[("c", 8)], 22_000);
        let c = store.join(10_000, Duplicates::First).unwrap();
        assert_eq!(
            (c.joined, c.windows.iter().copied().collect::<Vec<_>>()),
            (1, vec![3])
        );
        assert_eq!(
            store.window_rows(3).unwrap(),
            vec![(vec![4], Some(vec![8]))]
        );
    }

    #[test]
    fn a_label_before_its_prediction_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let store = PendingStore::open(dir.path()).unwrap();
        add(&store, &[("a", 1)], 1000);
        store
            .add_predictions(1, "m-000001", 1000, &[prediction("a", 1, None)], &[])
            .unwrap();
        let c = store.join(10_000, Duplicates::Last).unwrap();
        assert_eq!(counts(&c), [0, 0, 0, 1, 0]);
    }

    #[test]
    fn everything_acknowledged_survives_a_reopen_and_torn_tails_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = PendingStore::open(dir.path()).unwrap();
            let preds: Vec<Prediction> = (0..1000)
                .map(|i| prediction(&format!("r{i}"), (i % 200) as u8, None))
                .collect();
            store
                .add_predictions(1, "m-000001", 1000, &preds, &["0".into()])
                .unwrap();
            add(&store, &[("r1", 1), ("r2", 0)], 1000);
            store.join(10_000, Duplicates::Last).unwrap();
            // Accepted, not yet joined.
            add(&store, &[("r3", 1), ("r1", 0)], 1000);
        }
        // A torn append at the end of the log and of the window's file.
        for name in ["labels-0000000002.log", "w0000000001.pred"] {
            let mut f = OpenOptions::new()
                .append(true)
                .open(dir.path().join(name))
                .unwrap();
            f.write_all(b"APR1\xff\xff\x00\x00garbage").unwrap();
            f.write_all(b"ALG1\xff\xff\x00\x00garbage").unwrap();
        }
        let store = PendingStore::open(dir.path()).unwrap();
        assert_eq!(store.classes().unwrap(), vec!["0"]);
        assert_eq!(store.windows().unwrap()[&1].labelled, 2);
        let c = store.join(10_000, Duplicates::Last).unwrap();
        assert_eq!(counts(&c), [1, 1, 0, 0, 0]);
        let labels: BTreeMap<String, Vec<u8>> =
            store.window_labels(1).unwrap().into_iter().collect();
        assert_eq!(labels.len(), 3);
        assert_eq!(labels["r1"], vec![0]);
        assert_eq!(labels["r2"], vec![0]);
        assert_eq!(labels["r3"], vec![1]);
        // The store takes appends again after the cut.
        store
            .add_predictions(1, "m-000001", 1000, &[prediction("s", 1, None)], &[])
            .unwrap();
        assert_eq!(store.window_rows(1).unwrap().len(), 1001);
    }

    #[test]
    fn a_join_cut_short_is_done_again_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = PendingStore::open(dir.path()).unwrap();
            store
                .add_predictions(1, "m-000001", 1000, &[prediction("a", 1, None)], &[])
                .unwrap();
            add(&store, &[("a", 1)], 1000);
            store.join(10_000, Duplicates::Last).unwrap();
        }
        // As if the crash came after the window's file was written and
        // before the segment was marked joined.
        std::fs::write(dir.path().join("joined"), "0").unwrap();
        std::fs::write(dir.path().join("labels-0000000001.log"), b"").unwrap();
        let mut log = OpenOptions::new()
            .append(true)
            .open(dir.path().join("labels-0000000001.log"))
            .unwrap();
        let mut payload = Vec::new();
        payload.extend_from_slice(&5u64.to_le_bytes());
        payload.extend_from_slice(&1000i64.to_le_bytes());
        payload.extend_from_slice(&1u32.to_le_bytes());
        payload.extend_from_slice(&1u16.to_le_bytes());
        payload.extend_from_slice(b"a");
        payload.extend_from_slice(&1u32.to_le_bytes());
        payload.push(1);
        append_block(&mut log, Path::new("log"), LOG, &payload).unwrap();
        drop(log);
        let store = PendingStore::open(dir.path()).unwrap();
        assert_eq!(store.windows().unwrap()[&1].labelled, 0);
        let c = store.join(10_000, Duplicates::First).unwrap();
        assert_eq!(counts(&c), [1, 0, 0, 0, 0]);
        assert_eq!(
            store.window_rows(1).unwrap(),
            vec![(vec![1], Some(vec![1]))]
        );
    }
}
