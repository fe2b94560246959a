//! The open window's write-ahead log: every accepted batch is appended
//! (Arrow IPC stream bytes in a length + CRC-32 frame) and fsynced before the
//! daemon answers 2xx, so a `kill -9` loses nothing acknowledged. On start
//! the log is replayed into the open window.
//!
//! The append is split in two: [`Wal::write_frame`] writes the frame under
//! the model's lock (the log's order is the window's), and the
//! [`Durability`] it returns is waited on after the lock is released, so
//! that one batch's fsync does not hold up the next batches' writes and
//! merges, and concurrent fsyncs of the log share the filesystem's journal
//! commit (group commit). Measured with 4 clients, an fsync under the lock
//! left the daemon waiting on the disk: see BENCHMARKS.md.
//!
//! Layout: frames of `[u32 length LE][u32 crc32 LE][payload]`. The first
//! frame is a JSON header naming the model and the window; the others are
//! batches. A truncated last frame is a write the daemon never acknowledged
//! (it was killed mid-append): it is cut off with a warning. A checksum
//! mismatch or an undecodable frame elsewhere means the file is damaged: it
//! is moved aside (`*.corrupt-<unix time>`) and reported, and the daemon
//! starts a fresh log instead of crashing.
//!
//! Logs are recycled: once a closed window's files are durable its log is
//! blanked (its first frame head zeroed and synced) and kept as
//! `spare.wal`, and the next rotation writes the new window's header over
//! it and the window's frames over the old ones ([`retire`]). Overwriting
//! blocks the file already has spares the filesystem their allocation and
//! freeing, and an fdatasync then has no metadata to commit (measured: a
//! 250 KB frame's sync 0.34-0.38 ms appended, 0.20-0.22 ms overwritten;
//! see BENCHMARKS.md). A recycled log's header carries a non-zero salt,
//! higher than any its file can hold frames of ([`next_salt`]), that is
//! XORed into each of its frames' checksums, so the old window's
//! frames after the new ones fail their check and end the log, as in
//! SQLite's WAL. In a recycled log a frame that fails its check ends the
//! log unless a frame after it (following the lengths) checks: then it is
//! damage, handled as above. A fresh log has salt 0 and keeps the strict
//! reading (a complete frame that fails is damage).

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::Array;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The header frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalHeader {
    pub model: String,
    pub window: String,
    /// Unix milliseconds when the window opened.
    pub start_ms: i64,
}

/// The header frame as stored: a recycled log's salt beside the header
/// (absent, and 0, in a fresh log, as in logs written before recycling).
#[derive(Serialize, Deserialize)]
struct HeaderFrame {
    #[serde(flatten)]
    header: WalHeader,
    #[serde(default, skip_serializing_if = "is_zero")]
    salt: u32,
}

fn is_zero(salt: &u32) -> bool {
    *salt == 0
}

/// What opening a log found.
#[derive(Debug, Default)]
pub struct Recovered {
    pub header: Option<WalHeader>,
    pub batches: Vec<RecordBatch>,
    /// Problems found and handled (a cut tail, a quarantined file).
    pub notes: Vec<String>,
    /// The log's salt (0 for a fresh log).
    salt: u32,
}

pub struct Wal {
    path: PathBuf,
    file: Arc<File>,
    /// XORed into the checksum of each frame written after the header.
    salt: u32,
    /// The highest salt this log has used or recovered (see [`next_salt`]).
    last_salt: u32,
    /// Whether the directory entry of `file` is known durable: false from
    /// a reset or rotation (a rename) until an fsync of the directory.
    /// Shared with the [`Durability`]s of the frames written to `file`.
    dir_synced: Arc<AtomicBool>,
}

/// What makes one written frame durable; [`Durability::wait`] returns once
/// it is (the frame's file fsynced, and its directory entry when a rename
/// made it). Waited on outside the model's lock.
#[must_use = "a written frame is durable only after `wait`"]
#[derive(Clone)]
pub struct Durability {
    path: PathBuf,
    file: Arc<File>,
    dir_synced: Arc<AtomicBool>,
}

impl Durability {
    pub fn wait(self) -> Result<(), String> {
        self.file
            .sync_data()
            .map_err(|e| io_err(&self.path, "syncing the log", e))?;
        if !self.dir_synced.load(Ordering::Acquire) {
            // The first batches after a rename also make it durable:
            // without it a crash could bring back the closed window's log
            // and lose these acknowledged batches. The flag belongs to
            // this file's rename and is set only once a directory sync
            // after it has returned; until then every waiter syncs.
            crate::sinks::sync_parent_dir(&self.path)
                .map_err(|e| io_err(&self.path, "syncing the log's directory", e))?;
            self.dir_synced.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Starts [`Durability::wait`] on a thread of its own, so that the
    /// sync runs while the caller merges the batch into the window under
    /// the model's lock. The daemon asks for this only when a batch is
    /// alone in flight: then nothing else overlaps its sync, and the merge
    /// (about 0.3 ms for 1,000 × 30) was paid before it on the same thread.
    /// A thread is spawned per batch (tens of microseconds) rather than
    /// taken from the rayon pool, whose two threads decode and profile the
    /// batches that arrive meanwhile and must not block on the disk.
    pub fn start(self) -> PendingSync {
        // A failed spawn drops its closure, so a copy is kept to fall back
        // on: the caller then syncs after the lock instead.
        let fallback = self.clone();
        match std::thread::Builder::new()
            .name("log-sync".into())
            .spawn(move || self.wait())
        {
            Ok(handle) => PendingSync::Started {
                path: fallback.path,
                handle,
            },
            Err(_) => PendingSync::Later(fallback),
        }
    }
}

/// A written frame's sync: to run after the model's lock, or already
/// running on its own thread ([`Durability::start`]). The batch may be
/// acknowledged once [`PendingSync::wait`] returns `Ok`.
#[must_use = "a written frame is durable only after `wait`"]
pub enum PendingSync {
    Later(Durability),
    Started {
        path: PathBuf,
        handle: std::thread::JoinHandle<Result<(), String>>,
    },
}

impl PendingSync {
    pub fn wait(self) -> Result<(), String> {
        match self {
            PendingSync::Later(durability) => durability.wait(),
            PendingSync::Started { path, handle } => handle.join().unwrap_or_else(|_| {
                Err(format!(
                    "{}: syncing the log: the sync thread panicked",
                    path.display()
                ))
            }),
        }
    }
}

/// Where [`Wal::reset`] writes the fresh log before renaming it into place.
fn fresh_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".fresh");
    path.with_file_name(name)
}

const FRAME_HEAD: usize = 8;

/// A frame's head: the payload's length and CRC-32.
fn head(payload: &[u8]) -> [u8; FRAME_HEAD] {
    let mut head = [0; FRAME_HEAD];
    head[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    head[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    head
}

fn frame(payload: &[u8]) -> Vec<u8> {
    [&head(payload)[..], payload].concat()
}

/// How a log's valid prefix ends.
#[derive(Debug, PartialEq)]
enum Tail {
    /// At the end of the file.
    Clean,
    /// In a last frame cut short: a write the daemon never acknowledged.
    Cut,
    /// At a frame of a recycled log that fails its check (or is cut) with
    /// nothing after it that passes: the earlier window's frames (or a
    /// write cut short over them).
    Recycled,
}

/// A log's salt, read from its header frame (0 when it has none or the
/// frame is not a header: [`Wal::read`] reports the latter).
fn header_salt(payload: &[u8]) -> u32 {
    serde_json::from_slice::<HeaderFrame>(payload).map_or(0, |h| h.salt)
}

/// The frame at `at` if it is whole: its payload and its stored checksum.
fn frame_at(bytes: &[u8], at: usize) -> Option<(&[u8], u32)> {
    let head = bytes.get(at..at.checked_add(FRAME_HEAD)?)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
    let start = at + FRAME_HEAD;
    Some((bytes.get(start..start.checked_add(len)?)?, crc))
}

/// Whether a frame after the one at `at` (following the stored lengths)
/// passes its check under `salt`: then a failing frame at `at` is damage,
/// not the end of a recycled log.
fn any_later_frame_checks(bytes: &[u8], mut at: usize, salt: u32) -> bool {
    let mut first = true;
    while let Some((payload, crc)) = frame_at(bytes, at) {
        if !first && crc32fast::hash(payload) ^ salt == crc {
            return true;
        }
        first = false;
        at += FRAME_HEAD + payload.len();
    }
    false
}

/// The frames of `bytes`, the offset where the valid prefix ends, and how
/// it ends; `Err` names the first damaged frame. The header frame (the
/// first) is checked without salt, the others under the header's salt.
fn frames(bytes: &[u8]) -> Result<(Vec<&[u8]>, usize, Tail), String> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut salt = 0;
    while at < bytes.len() {
        let Some((payload, crc)) = frame_at(bytes, at) else {
            // In a recycled log, what follows the window's frames is the
            // old window's bytes, whose head may name more than the file
            // holds.
            let tail = if salt == 0 { Tail::Cut } else { Tail::Recycled };
            return Ok((out, at, tail));
        };
        if crc32fast::hash(payload) ^ salt != crc {
            if salt != 0 && !any_later_frame_checks(bytes, at, salt) {
                return Ok((out, at, Tail::Recycled));
            }
            return Err(format!(
                "frame {} at byte {at}: checksum mismatch",
                out.len()
            ));
        }
        if out.is_empty() {
            salt = header_salt(payload);
        }
        out.push(payload);
        at += FRAME_HEAD + payload.len();
    }
    Ok((out, at, Tail::Clean))
}

/// Whether `bytes` is a blanked log ([`retire`]): its first frame head
/// zeroed. Such a log holds no window.
fn is_blank(bytes: &[u8]) -> bool {
    bytes.len() >= FRAME_HEAD && bytes[..FRAME_HEAD] == [0; FRAME_HEAD]
}

/// One batch as the log stores it (length, CRC-32, Arrow IPC), ready to be
/// appended: the head, and the payload written after it in the same
/// (vectored) write.
pub struct Frame {
    head: [u8; FRAME_HEAD],
    payload: Bytes,
}

impl Frame {
    /// Encodes `batch` as an Arrow IPC stream.
    pub fn encode(batch: &RecordBatch) -> Result<Frame, String> {
        Ok(Frame::of_stream(Bytes::from(encode_sized(batch)?)))
    }

    /// Frames an Arrow IPC stream of exactly one batch as it is, without
    /// decoding and encoding it again: the caller vouches that it decodes
    /// to the batch the window took in (the daemon frames an Arrow body
    /// this way when its one batch has the expected schema). Encoding the
    /// batch again was about 5% of the daemon's CPU on Arrow bodies.
    pub fn of_stream(stream: Bytes) -> Frame {
        Frame {
            head: head(&stream),
            payload: stream,
        }
    }

    /// The frame's bytes in one buffer (for tests).
    #[cfg(test)]
    fn to_vec(&self) -> Vec<u8> {
        [&self.head[..], &self.payload].concat()
    }
}

/// Writes all of `bufs` (`Write::write_all_vectored` is not stable).
fn write_all_vectored(mut file: &File, mut bufs: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `batch` as an Arrow IPC stream, in one buffer sized up front. Growing
/// it from empty copied each batch about three times (seen with gdb on the
/// daemon's `memmove`s).
fn encode_sized(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    // The IPC stream adds its schema and alignment to the arrays' bytes.
    // The slices' sizes, not `get_array_memory_size`: arrays read from an
    // IPC or Parquet body share one buffer, which that counts once per
    // array.
    let arrays: usize = batch
        .columns()
        .iter()
        .map(|a| a.to_data().get_slice_memory_size().unwrap_or(0))
        .sum();
    let mut out = Vec::with_capacity(arrays + 4096);
    encode_into(batch, &mut out)?;
    Ok(out)
}

/// Appends `batch` to `out` as an Arrow IPC stream.
fn encode_into(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), String> {
    let mut writer = StreamWriter::try_new(out, &batch.schema())
        .map_err(|e| format!("encoding a batch for the log: {e}"))?;
    writer
        .write(batch)
        .and_then(|_| writer.finish())
        .map_err(|e| format!("encoding a batch for the log: {e}"))
}

fn decode(payload: &[u8]) -> Result<Vec<RecordBatch>, String> {
    let reader = StreamReader::try_new(std::io::Cursor::new(payload), None)
        .map_err(|e| format!("undecodable batch: {e}"))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("undecodable batch: {e}"))
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> String {
    format!("{}: {what}: {e}", path.display())
}

/// Writes the header frame at the start of `file`, leaving the file's
/// position after it (where the window's first batch goes).
fn write_header(file: &mut File, header: &WalHeader, salt: u32) -> std::io::Result<()> {
    let payload = serde_json::to_vec(&HeaderFrame {
        header: header.clone(),
        salt,
    })?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&frame(&payload))
}

/// The salt after `last`: salts only grow (wrapping past 0, which is a
/// fresh log's, after 2^32 - 1 recycled windows), so that none equals the
/// salt of any frame a spare can still hold. A spare holds frames of this
/// process's windows (a start removes the spare) and of the log recovered
/// at the start, which is cut to its own window and whose salt the count
/// starts from.
fn next_salt(last: u32) -> u32 {
    last.checked_add(1).unwrap_or(1)
}

/// Where a model's spare log waits to be recycled (beside its open log).
fn spare_path(log: &Path) -> PathBuf {
    log.with_file_name(SPARE)
}

const SPARE: &str = "spare.wal";

impl Wal {
    /// Reads the log at `path` without opening it for appending (a closed
    /// window's log kept until its files are durable): what it holds, and
    /// where its valid prefix ends. A cut tail is reported; a damaged log
    /// is moved aside and reported, and reads as empty.
    pub fn read(path: &Path) -> Result<(Recovered, usize), String> {
        let mut recovered = Recovered::default();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(path, "reading the log", e)),
        };
        if is_blank(&bytes) {
            // A spare whose new header was never written (a stop right
            // after a rotation, before any batch of the window was synced).
            return Ok((recovered, 0));
        }
        let parsed = frames(&bytes).and_then(|(frames, end, tail)| {
            let mut header = None;
            let mut batches = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                if i == 0 {
                    header = Some(
                        serde_json::from_slice::<HeaderFrame>(f)
                            .map_err(|e| format!("frame 0: not a log header: {e}"))?,
                    );
                } else {
                    batches.extend(decode(f).map_err(|e| format!("frame {i}: {e}"))?);
                }
            }
            Ok((header, batches, end, tail))
        });
        let valid_end = match parsed {
            Ok((header, batches, end, tail)) => {
                if tail == Tail::Cut {
                    recovered.notes.push(format!(
                        "{}: cut off an incomplete last write ({} bytes, never acknowledged)",
                        path.display(),
                        bytes.len() - end
                    ));
                }
                recovered.salt = header.as_ref().map_or(0, |h| h.salt);
                recovered.header = header.map(|h| h.header);
                recovered.batches = batches;
                end
            }
            Err(why) => {
                let aside = super::state::quarantine(path);
                recovered.notes.push(format!(
                    "{}: damaged ({why}); moved to {} and starting a new window",
                    path.display(),
                    aside.display()
                ));
                0
            }
        };
        Ok((recovered, valid_end))
    }

    /// Opens (or creates) the log at `path` and recovers what it holds.
    pub fn open(path: &Path) -> Result<(Wal, Recovered), String> {
        let (recovered, valid_end) = Wal::read(path)?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_err(path, "opening the log", e))?;
        file.set_len(valid_end as u64)
            .map_err(|e| io_err(path, "cutting the log", e))?;
        let mut file = file;
        file.seek(SeekFrom::End(0))
            .map_err(|e| io_err(path, "seeking the log", e))?;
        let wal = Wal {
            path: path.to_path_buf(),
            file: Arc::new(file),
            salt: recovered.salt,
            last_salt: recovered.salt,
            dir_synced: Arc::new(AtomicBool::new(true)),
        };
        Ok((wal, recovered))
    }

    /// Writes a fresh log holding only `header` beside the log, ready to
    /// be renamed into place (salt 0).
    fn fresh(&self, header: &WalHeader) -> Result<(File, PathBuf), String> {
        let fresh_path = fresh_path(&self.path);
        let mut fresh = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(&fresh_path)
            .map_err(|e| io_err(&fresh_path, "starting the log", e))?;
        write_header(&mut fresh, header, 0)
            .map_err(|e| io_err(&fresh_path, "starting the log", e))?;
        Ok((fresh, fresh_path))
    }

    /// The spare log ([`retire`]) with `header` written over its start
    /// under a new salt, ready to be renamed into place; `None` when there
    /// is no spare (or it cannot be written: a fresh log is used instead).
    fn recycled(&mut self, header: &WalHeader) -> Option<(File, PathBuf, u32)> {
        let spare_path = spare_path(&self.path);
        let mut spare = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&spare_path)
            .ok()?;
        let salt = next_salt(self.last_salt);
        write_header(&mut spare, header, salt).ok()?;
        self.last_salt = salt;
        Some((spare, spare_path, salt))
    }

    /// Starts a new window, discarding the old log: a fresh log with its
    /// header replaces it (written beside it, then renamed over it),
    /// without an fsync of its own. Nothing acknowledged depends on it: the
    /// next batch's `sync_data`, followed by an fsync of the directory for
    /// the rename, makes the new log durable with that batch, and a crash
    /// before that leaves either the old log or the fresh one.
    ///
    /// The old log is released on a thread of its own: truncating it in
    /// place (as this did before) made the close wait ~6.5 ms for the
    /// filesystem to free a 10,000-row window's blocks (benches/daemon.rs).
    pub fn reset(&mut self, header: &WalHeader) -> Result<(), String> {
        let (fresh, fresh_path) = self.fresh(header)?;
        std::fs::rename(&fresh_path, &self.path)
            .map_err(|e| io_err(&self.path, "starting the log", e))?;
        let old = std::mem::replace(&mut self.file, Arc::new(fresh));
        self.salt = 0;
        self.dir_synced = Arc::new(AtomicBool::new(false));
        // Should no thread start, the old log is released here instead:
        // slower, the same otherwise.
        let _ = std::thread::Builder::new()
            .name("wal-release".into())
            .spawn(move || drop(old));
        Ok(())
    }

    /// Starts a new window, keeping the closed window's log as `closing`
    /// until the caller has made that window's files durable (and then
    /// retires it: [`retire`]). The new log is the spare when there is one,
    /// else a fresh file. Two renames, no fsync: the next batch's fsync of
    /// the directory makes both durable before it is acknowledged (and its
    /// `sync_data` the new header). A crash in between leaves the old log
    /// in place, or no log and `closing`, or both logs, or a blank log (a
    /// spare whose header was not written yet); [`Wal::open`] and the
    /// model's recovery handle each.
    pub fn rotate(&mut self, header: &WalHeader, closing: &Path) -> Result<(), String> {
        let (fresh, fresh_path, salt) = match self.recycled(header) {
            Some(spare) => spare,
            None => {
                let (fresh, fresh_path) = self.fresh(header)?;
                (fresh, fresh_path, 0)
            }
        };
        std::fs::rename(&self.path, closing)
            .map_err(|e| io_err(&self.path, "keeping the closed window's log", e))?;
        if let Err(e) = std::fs::rename(&fresh_path, &self.path) {
            // Put the old log back: appends still go to its file.
            let _ = std::fs::rename(closing, &self.path);
            return Err(io_err(&self.path, "starting the log", e));
        }
        // The old file stays linked (as `closing`): closing it frees
        // nothing and costs nothing.
        self.file = Arc::new(fresh);
        self.salt = salt;
        self.dir_synced = Arc::new(AtomicBool::new(false));
        Ok(())
    }

    /// Appends a batch and makes it durable (the daemon encodes frames
    /// outside its lock, writes them with [`Wal::write_frame`] and waits
    /// for their durability after the lock).
    #[cfg(test)]
    pub fn append(&mut self, batch: &RecordBatch) -> Result<(), String> {
        self.write_frame(&Frame::encode(batch)?)?.wait()
    }

    /// Writes a frame encoded beforehand; it is durable once the returned
    /// [`Durability`] has been waited on.
    pub fn write_frame(&mut self, frame: &Frame) -> Result<Durability, String> {
        let mut head = frame.head;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) ^ self.salt;
        head[4..].copy_from_slice(&crc.to_le_bytes());
        write_all_vectored(
            &self.file,
            &mut [IoSlice::new(&head), IoSlice::new(&frame.payload)],
        )
        .map_err(|e| io_err(&self.path, "appending to the log", e))?;
        Ok(Durability {
            path: self.path.clone(),
            file: Arc::clone(&self.file),
            dir_synced: Arc::clone(&self.dir_synced),
        })
    }

    /// Bytes in the log (for tests and metrics): where the next frame
    /// goes, which in a recycled log is short of the file's end.
    pub fn len(&mut self) -> u64 {
        (&*self.file).stream_position().unwrap_or(0)
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
}

/// The largest closed log kept as the spare: a spare keeps its disk space
/// until a rotation reuses it, so larger logs are released instead.
const SPARE_MAX: u64 = 1 << 30;

/// Settles a closed window's log once nothing needs it (its window's files
/// are durable): blanked and kept as the model's spare for the next
/// rotation to overwrite (see the module's docs), or released ([`release`])
/// when there is a spare already, the log is larger than [`SPARE_MAX`], or
/// it cannot be blanked. The blank is synced before the rename, so that a
/// spare never holds a header: were the next rotation's header lost in a
/// crash, the log reads as blank, not as this closed window.
pub fn retire(path: &Path, batches: u64) -> Result<(), String> {
    let spare = spare_path(path);
    if !spare.exists() && blank(path).unwrap_or(false) && std::fs::rename(path, &spare).is_ok() {
        return Ok(());
    }
    release(path, batches)
}

/// Zeroes the head of the log's first frame and syncs it; `false` when
/// the log is too small or too large to keep.
fn blank(path: &Path) -> std::io::Result<bool> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    let len = file.metadata()?.len();
    if len < FRAME_HEAD as u64 || len > SPARE_MAX {
        return Ok(false);
    }
    file.write_all(&[0; FRAME_HEAD])?;
    file.sync_data()?;
    Ok(true)
}

/// What a closed log is renamed to while [`release`] frees it.
const RELEASED: &str = "released-";

/// The least and the most of a log [`release`] frees at a time.
const RELEASE_STEPS: (u64, u64) = (256 << 10, 4 << 20);

/// Frees a closed window's log (which held `batches` batches) once nothing
/// needs it: renamed to `released-NAME` (a start after a crash mid-release
/// deletes it, rather than reading a cut log as a closing window),
/// truncated from its end about one batch's frame at a time, then removed.
/// A log already gone is fine.
///
/// Why steps: removing a log frees all its blocks in one filesystem
/// transaction, and the open log's fsyncs wait for that transaction's
/// commit. Measured on this project's ext4 host (mounted with `discard`):
/// removing a 30 MB log (100 batches of 1,000 × 30) stalled a concurrent
/// fdatasync by 15–21 ms, the batch after each window close and so the
/// ingest's p99; a 270 MB log (100 Arrow batches of 10,000 × 30) took
/// 180–190 ms. Freed in 256 KiB steps the worst stall was about 1 ms
/// (1 MiB: 2.2 ms; 4 MiB: 3–5.5 ms), but each step costs system time: 75 ms
/// for 270 MB against 20 ms for one removal. A batch's frame is what its
/// own decoding and profiling take time for, so a step of one frame (256
/// KiB to 4 MiB) stalls the next batch by a fraction of its own time.
pub fn release(path: &Path, batches: u64) -> Result<(), String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let released = path.with_file_name(format!("{RELEASED}{name}"));
    match std::fs::rename(path, &released) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(path, "releasing the log", e)),
    }
    OpenOptions::new()
        .write(true)
        .open(&released)
        .and_then(|file| {
            let len = file.metadata()?.len();
            let step = (len / batches.max(1)).clamp(RELEASE_STEPS.0, RELEASE_STEPS.1);
            truncate_in_steps(&file, len, step)
        })
        .and_then(|()| std::fs::remove_file(&released))
        .map_err(|e| io_err(&released, "releasing the log", e))
}

fn truncate_in_steps(file: &File, mut len: u64, step: u64) -> std::io::Result<()> {
    while len > 0 {
        len = len.saturating_sub(step);
        file.set_len(len)?;
    }
    Ok(())
}

/// Removes the logs a crash left half released in `dir` (their windows'
/// files were durable before their release began); a note for each. The
/// spare goes too, without a note (a clean stop leaves one): a stop in a
/// rotation may have left a header on it.
pub fn remove_released(dir: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == SPARE {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                notes.push(io_err(&entry.path(), "removing the spare log", e));
            }
            continue;
        }
        if name.starts_with(RELEASED) && name.ends_with(".wal") {
            let path = entry.path();
            notes.push(match std::fs::remove_file(&path) {
                Ok(()) => format!(
                    "{}: removed a closed window's log whose release a stop interrupted",
                    path.display()
                ),
                Err(e) => io_err(&path, "removing a released log", e),
            });
        }
    }
    notes
}

#[cfg(test)]
mod tests;
