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

/// What opening a log found.
#[derive(Debug, Default)]
pub struct Recovered {
    pub header: Option<WalHeader>,
    pub batches: Vec<RecordBatch>,
    /// Problems found and handled (a cut tail, a quarantined file).
    pub notes: Vec<String>,
}

pub struct Wal {
    path: PathBuf,
    file: Arc<File>,
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

/// The frames of `bytes`, and the offset where the valid prefix ends; `Err`
/// names the first damaged frame (a damaged frame that is the last one and
/// is short is a cut tail, not damage).
fn frames(bytes: &[u8]) -> Result<(Vec<&[u8]>, usize, bool), String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes.len() - at < FRAME_HEAD {
            return Ok((out, at, true));
        }
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap_or([0; 4]));
        let start = at + FRAME_HEAD;
        if bytes.len() - start < len {
            return Ok((out, at, true));
        }
        let payload = &bytes[start..start + len];
        if crc32fast::hash(payload) != crc {
            return Err(format!(
                "frame {} at byte {at}: checksum mismatch",
                out.len()
            ));
        }
        out.push(payload);
        at = start + len;
    }
    Ok((out, at, false))
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
        let parsed = frames(&bytes).and_then(|(frames, end, cut)| {
            let mut header = None;
            let mut batches = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                if i == 0 {
                    header = Some(
                        serde_json::from_slice::<WalHeader>(f)
                            .map_err(|e| format!("frame 0: not a log header: {e}"))?,
                    );
                } else {
                    batches.extend(decode(f).map_err(|e| format!("frame {i}: {e}"))?);
                }
            }
            Ok((header, batches, end, cut))
        });
        let valid_end = match parsed {
            Ok((header, batches, end, cut)) => {
                if cut {
                    recovered.notes.push(format!(
                        "{}: cut off an incomplete last write ({} bytes, never acknowledged)",
                        path.display(),
                        bytes.len() - end
                    ));
                }
                recovered.header = header;
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
            dir_synced: Arc::new(AtomicBool::new(true)),
        };
        Ok((wal, recovered))
    }

    /// Writes a fresh log holding only `header` beside the log, ready to
    /// be renamed into place.
    fn fresh(&self, header: &WalHeader) -> Result<(File, PathBuf), String> {
        let payload = serde_json::to_vec(header).map_err(|e| e.to_string())?;
        let fresh_path = fresh_path(&self.path);
        let mut fresh = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(&fresh_path)
            .map_err(|e| io_err(&fresh_path, "starting the log", e))?;
        fresh
            .write_all(&frame(&payload))
            .map_err(|e| io_err(&fresh_path, "starting the log", e))?;
        Ok((fresh, fresh_path))
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
    /// removes it). Two renames, no fsync: the next batch's fsync of the
    /// directory makes both durable before it is acknowledged. A crash in
    /// between leaves the old log in place, or no log and `closing`, or
    /// both logs; [`Wal::open`] and the model's recovery handle each.
    pub fn rotate(&mut self, header: &WalHeader, closing: &Path) -> Result<(), String> {
        let (fresh, fresh_path) = self.fresh(header)?;
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
        write_all_vectored(
            &self.file,
            &mut [IoSlice::new(&frame.head), IoSlice::new(&frame.payload)],
        )
        .map_err(|e| io_err(&self.path, "appending to the log", e))?;
        Ok(Durability {
            path: self.path.clone(),
            file: Arc::clone(&self.file),
            dir_synced: Arc::clone(&self.dir_synced),
        })
    }

    /// Bytes in the log (for tests and metrics).
    pub fn len(&mut self) -> u64 {
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
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
/// files were durable before their release began); a note for each.
pub fn remove_released(dir: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
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
