use std::sync::Arc;

use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn batch(values: &[i64]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
}

fn header() -> WalHeader {
    WalHeader {
        model: "m".into(),
        window: "m-000001".into(),
        start_ms: 5,
    }
}

/// A log at `open.wal` in a new directory, reset with `header()`.
fn fresh_log() -> (tempfile::TempDir, PathBuf, Wal) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.wal");
    let (mut wal, _) = Wal::open(&path).unwrap();
    wal.reset(&header()).unwrap();
    (dir, path, wal)
}

#[test]
fn appended_batches_come_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.wal");
    let (mut wal, rec) = Wal::open(&path).unwrap();
    assert!(rec.header.is_none() && rec.batches.is_empty());
    wal.reset(&header()).unwrap();
    wal.append(&batch(&[1, 2])).unwrap();
    wal.append(&batch(&[3])).unwrap();
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(header()));
    let rows: usize = rec.batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 3);
    assert!(rec.notes.is_empty());
}

/// Arrays read from one IPC body share its buffer; the frame's buffer
/// is sized from the slices, not once per array from the whole body.
#[test]
fn frames_of_batches_read_from_ipc_are_sized_by_their_slices() {
    let columns: Vec<(String, arrow::array::ArrayRef)> = (0..30)
        .map(|i| {
            let values: Vec<i64> = (0..10_000).map(|v| v * i).collect();
            (format!("f{i}"), Arc::new(Int64Array::from(values)) as _)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let read = decode(&encode_for_test(&batch)).unwrap().remove(0);
    let out = encode_sized(&read).unwrap();
    assert!(
        out.capacity() < 2 * out.len(),
        "capacity {} for a frame of {} bytes",
        out.capacity(),
        out.len()
    );
    let frame = Frame::encode(&read).unwrap();
    let bytes = frame.to_vec();
    let (payloads, _, _) = frames(&bytes).unwrap();
    assert_eq!(decode(payloads[0]).unwrap(), vec![batch]);
}

/// A stream framed as it came (an Arrow body) reads back like the
/// batches encoded around it.
#[test]
fn a_stream_framed_as_it_came_comes_back_after_reopening() {
    let (_dir, path, mut wal) = fresh_log();
    wal.append(&batch(&[1])).unwrap();
    let stream = Bytes::from(encode_for_test(&batch(&[2, 3])));
    wal.write_frame(&Frame::of_stream(stream))
        .unwrap()
        .wait()
        .unwrap();
    wal.append(&batch(&[4])).unwrap();
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.batches, vec![batch(&[1]), batch(&[2, 3]), batch(&[4])]);
    assert!(rec.notes.is_empty(), "{:?}", rec.notes);
}

fn encode_for_test(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(batch, &mut out).unwrap();
    out
}

/// The daemon writes under the model's lock and syncs after it: a
/// frame written before a rotation is synced in the file it went to
/// (now the closing log), whatever order the waits come in, and the
/// next log's first frames sync the rename.
#[test]
fn frames_are_synced_in_the_log_they_were_written_to() {
    let (dir, path, mut wal) = fresh_log();
    let closing = dir.path().join("closing-m-000001.wal");
    let first = wal
        .write_frame(&Frame::encode(&batch(&[1, 2])).unwrap())
        .unwrap();
    let next = WalHeader {
        window: "m-000002".into(),
        ..header()
    };
    wal.rotate(&next, &closing).unwrap();
    let second = wal
        .write_frame(&Frame::encode(&batch(&[3])).unwrap())
        .unwrap();
    let third = wal
        .write_frame(&Frame::encode(&batch(&[4])).unwrap())
        .unwrap();
    assert!(!second.dir_synced.load(Ordering::Acquire));
    third.wait().unwrap();
    // One directory sync vouches for every frame of that log.
    assert!(second.dir_synced.load(Ordering::Acquire));
    second.wait().unwrap();
    first.wait().unwrap();
    let values = |rec: Recovered| -> Vec<i64> {
        rec.batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect()
    };
    let (closed, _) = Wal::read(&closing).unwrap();
    assert_eq!(closed.header, Some(header()));
    assert_eq!(values(closed), vec![1, 2]);
    drop(wal);
    let (_, open) = Wal::open(&path).unwrap();
    assert_eq!(open.header, Some(next));
    assert_eq!(values(open), vec![3, 4]);
}

/// A sync started on its own thread does what a later wait does: the
/// first frame after a rotation leaves the rename synced too.
#[test]
fn a_started_sync_syncs_the_frame_and_the_rename() {
    let (dir, path, mut wal) = fresh_log();
    let next = WalHeader {
        window: "m-000002".into(),
        ..header()
    };
    wal.rotate(&next, &dir.path().join("closing-m-000001.wal"))
        .unwrap();
    let written = wal
        .write_frame(&Frame::encode(&batch(&[5, 6])).unwrap())
        .unwrap();
    let flag = Arc::clone(&written.dir_synced);
    let sync = written.start();
    assert!(matches!(sync, PendingSync::Started { .. }));
    sync.wait().unwrap();
    assert!(flag.load(Ordering::Acquire));
    drop(wal);
    let (_, open) = Wal::open(&path).unwrap();
    assert_eq!(open.header, Some(next));
    assert_eq!(open.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
}

#[test]
fn a_reset_replaces_the_closed_windows_log_with_a_fresh_one() {
    let (dir, path, mut wal) = fresh_log();
    wal.append(&batch(&[1, 2])).unwrap();
    let next = WalHeader {
        window: "m-000002".into(),
        ..header()
    };
    wal.reset(&next).unwrap();
    // The fresh log is in place (header only) before any batch.
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header.as_ref(), Some(&next));
    assert!(rec.batches.is_empty());
    wal.append(&batch(&[7, 8, 9])).unwrap();
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(next));
    let rows: Vec<usize> = rec.batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [3], "only the new window's batch");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["open.wal"], "no fresh file left beside the log");
}

#[test]
fn a_rotation_keeps_the_closed_windows_log_beside_the_fresh_one() {
    let (dir, path, mut wal) = fresh_log();
    let closing = dir.path().join("closing-m-000001.wal");
    wal.append(&batch(&[1, 2])).unwrap();
    let next = WalHeader {
        window: "m-000002".into(),
        ..header()
    };
    wal.rotate(&next, &closing).unwrap();
    wal.append(&batch(&[7, 8, 9])).unwrap();
    drop(wal);
    let (old, _) = Wal::read(&closing).unwrap();
    assert_eq!(old.header, Some(header()));
    let rows: Vec<usize> = old.batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [2], "the closed window's batch stays in its log");
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(next));
    let rows: Vec<usize> = rec.batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [3], "only the new window's batch");
}

#[test]
fn a_cut_tail_is_dropped_and_reported() {
    let (_dir, path, mut wal) = fresh_log();
    wal.append(&batch(&[1, 2])).unwrap();
    wal.append(&batch(&[3])).unwrap();
    drop(wal);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let (mut wal, rec) = Wal::open(&path).unwrap();
    assert_eq!(
        rec.batches.len(),
        1,
        "the acknowledged first batch survives"
    );
    assert_eq!(rec.notes.len(), 1, "{:?}", rec.notes);
    // Appending continues after the valid prefix.
    wal.append(&batch(&[4])).unwrap();
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.batches.len(), 2);
}

#[test]
fn a_damaged_log_is_quarantined_not_fatal() {
    let (dir, path, mut wal) = fresh_log();
    wal.append(&batch(&[1, 2])).unwrap();
    drop(wal);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (_, rec) = Wal::open(&path).unwrap();
    assert!(rec.header.is_none() && rec.batches.is_empty());
    assert!(rec.notes[0].contains("checksum"), "{:?}", rec.notes);
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert_eq!(aside.len(), 1);
}

#[test]
fn a_released_log_is_gone_whatever_its_size() {
    let dir = tempfile::tempdir().unwrap();
    for (name, len) in [("closing-a.wal", 0usize), ("closing-b.wal", 700 << 10)] {
        let log = dir.path().join(name);
        std::fs::write(&log, vec![7u8; len]).unwrap();
        release(&log, 3).unwrap();
        assert!(!log.exists());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Already gone: nothing to do.
    release(&dir.path().join("closing-a.wal"), 0).unwrap();
}

#[test]
fn truncating_in_steps_empties_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let len = RELEASE_STEPS.0 * 3 + 5;
    std::fs::write(&path, vec![1u8; len as usize]).unwrap();
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    truncate_in_steps(&file, len, RELEASE_STEPS.0).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn logs_left_half_released_are_removed_and_noted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "released-closing-m-000001.wal",
        "closing-m-000002.wal",
        "open.wal",
        SPARE,
    ] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    let notes = remove_released(dir.path());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("released-closing-m-000001.wal"),
        "{notes:?}"
    );
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["closing-m-000002.wal", "open.wal"]);
}

fn window(seq: u32) -> WalHeader {
    WalHeader {
        window: format!("m-{seq:06}"),
        ..header()
    }
}

fn rows_of(batches: &[RecordBatch]) -> Vec<usize> {
    batches.iter().map(|b| b.num_rows()).collect()
}

/// A log whose window 1 held three batches, closed and retired; window 2
/// (one batch) closed so that window 3 is written over the spare: the log
/// returned is window 3's, empty, with window 1's frames after its header.
fn recycled_log() -> (tempfile::TempDir, PathBuf, Wal) {
    let (dir, path, mut wal) = fresh_log();
    for n in [300, 200, 100] {
        wal.append(&batch(&vec![1; n])).unwrap();
    }
    let closing_1 = dir.path().join("closing-m-000001.wal");
    wal.rotate(&window(2), &closing_1).unwrap();
    retire(&closing_1, 3).unwrap();
    assert!(!closing_1.exists());
    assert!(dir.path().join(SPARE).exists());
    wal.append(&batch(&[2])).unwrap();
    let closing_2 = dir.path().join("closing-m-000002.wal");
    wal.rotate(&window(3), &closing_2).unwrap();
    assert!(!dir.path().join(SPARE).exists(), "window 3 took the spare");
    assert_ne!(wal.salt, 0);
    (dir, path, wal)
}

#[test]
fn a_recycled_log_reads_back_only_its_own_window() {
    let (_dir, path, mut wal) = recycled_log();
    wal.append(&batch(&[7, 7])).unwrap();
    let end = wal.len();
    drop(wal);
    assert!(
        std::fs::metadata(&path).unwrap().len() > end,
        "window 1's frames are still in the file"
    );
    let (mut wal, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(window(3)));
    assert_eq!(rec.batches, vec![batch(&[7, 7])]);
    assert!(rec.notes.is_empty(), "{:?}", rec.notes);
    // Reopened, the log goes on under the same salt.
    wal.append(&batch(&[8])).unwrap();
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.batches, vec![batch(&[7, 7]), batch(&[8])]);
}

/// Byte offsets of the frames in the log at `path` that pass their check.
fn frame_offsets(path: &Path) -> Vec<usize> {
    let bytes = std::fs::read(path).unwrap();
    let (payloads, _, _) = frames(&bytes).unwrap();
    let mut at = 0;
    payloads
        .iter()
        .map(|p| {
            let here = at;
            at += FRAME_HEAD + p.len();
            here
        })
        .collect()
}

/// A recycled log holding two batches (`[7, 7]` and `[8]`) with a byte
/// of the given batch's payload (0 or 1) flipped.
fn recycled_log_with_a_flipped_batch(which: usize) -> (tempfile::TempDir, PathBuf) {
    let (dir, path, mut wal) = recycled_log();
    wal.append(&batch(&[7, 7])).unwrap();
    wal.append(&batch(&[8])).unwrap();
    drop(wal);
    let offsets = frame_offsets(&path);
    assert_eq!(offsets.len(), 3, "the header and two batches");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offsets[1 + which] + FRAME_HEAD + 10] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    (dir, path)
}

#[test]
fn damage_inside_a_recycled_log_is_still_quarantined() {
    let (dir, path) = recycled_log_with_a_flipped_batch(0);
    let (_, rec) = Wal::open(&path).unwrap();
    assert!(rec.header.is_none() && rec.batches.is_empty());
    assert!(rec.notes[0].contains("checksum"), "{:?}", rec.notes);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("corrupt"))
    );
}

/// The last frame of a recycled log failing its check, with the old
/// window's bytes after it: a write cut short by a stop, never
/// acknowledged. The log ends before it.
#[test]
fn a_write_cut_short_over_a_recycled_log_ends_it() {
    let (_dir, path) = recycled_log_with_a_flipped_batch(1);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(window(3)));
    assert_eq!(rec.batches, vec![batch(&[7, 7])]);
}

/// A stop right after a rotation took the spare, before the window's
/// first batch synced the new header: the log is blank and holds nothing.
#[test]
fn a_blank_log_holds_no_window() {
    let (dir, path, mut wal) = fresh_log();
    wal.append(&batch(&[1, 2, 3])).unwrap();
    drop(wal);
    let closing = dir.path().join("closing-m-000001.wal");
    std::fs::rename(&path, &closing).unwrap();
    retire(&closing, 1).unwrap();
    std::fs::rename(dir.path().join(SPARE), &path).unwrap();
    let (mut wal, rec) = Wal::open(&path).unwrap();
    assert!(rec.header.is_none() && rec.batches.is_empty());
    assert!(rec.notes.is_empty(), "{:?}", rec.notes);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // And the daemon starts a window in it as in an empty log.
    wal.reset(&window(2)).unwrap();
    wal.append(&batch(&[4])).unwrap();
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(window(2)));
    assert_eq!(rec.batches, vec![batch(&[4])]);
}

/// Logs written before recycling (no salt in the header, plain checksums)
/// read as they did.
#[test]
fn a_log_without_a_salt_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.wal");
    let head = serde_json::to_vec(&header()).unwrap();
    let bytes = [frame(&head), frame(&encode_for_test(&batch(&[5, 6])))].concat();
    std::fs::write(&path, bytes).unwrap();
    let (mut wal, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(header()));
    assert_eq!(rec.batches, vec![batch(&[5, 6])]);
    assert_eq!(wal.salt, 0);
    wal.append(&batch(&[7])).unwrap();
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rows_of(&rec.batches), [2, 1]);
}

#[test]
fn one_spare_is_kept_and_later_logs_are_released() {
    let dir = tempfile::tempdir().unwrap();
    let header = frame(&serde_json::to_vec(&header()).unwrap());
    for name in ["closing-a.wal", "closing-b.wal"] {
        std::fs::write(dir.path().join(name), &header).unwrap();
        retire(&dir.path().join(name), 1).unwrap();
    }
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [SPARE]);
    let spare = std::fs::read(dir.path().join(SPARE)).unwrap();
    assert!(is_blank(&spare), "the spare holds no header");
    // Already gone: nothing to do.
    retire(&dir.path().join("closing-a.wal"), 1).unwrap();
}

/// Windows of varying sizes, each written over whatever the spare held
/// (or into a fresh log when the last close's log is not retired yet),
/// read back after every window exactly as written.
#[test]
fn windows_over_recycled_logs_read_back_exactly() {
    let (dir, path, mut wal) = fresh_log();
    let mut pending: Option<PathBuf> = None;
    let mut seed = 7u64;
    let mut next = |bound: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % bound
    };
    for seq in 2..40u32 {
        let sizes: Vec<usize> = (0..next(6)).map(|_| 1 + next(400) as usize).collect();
        for &n in &sizes {
            wal.append(&batch(&vec![seq as i64; n])).unwrap();
        }
        let (rec, _) = Wal::read(&path).unwrap();
        assert_eq!(rows_of(&rec.batches), sizes, "window {}", seq - 1);
        assert!(rec.notes.is_empty(), "{:?}", rec.notes);
        let closing = dir.path().join(format!("closing-{seq}.wal"));
        wal.rotate(&window(seq), &closing).unwrap();
        // Retired at once, one close later, or (every fifth) never: the
        // next rotations then find the spare or start fresh logs.
        if let Some(old) = pending.take() {
            retire(&old, 1).unwrap();
        }
        match next(5) {
            0 => release(&closing, 1).unwrap(),
            1 | 2 => pending = Some(closing),
            _ => retire(&closing, 1).unwrap(),
        }
    }
    drop(wal);
    let (_, rec) = Wal::open(&path).unwrap();
    assert_eq!(rec.header, Some(window(39)));
    assert!(rec.batches.is_empty());
}

/// Every recycled window gets a higher salt than any before it, a reopened
/// log's included, so no frame left in a spare checks under a new salt.
#[test]
fn salts_only_grow_and_skip_zero() {
    let (dir, path, mut wal) = recycled_log();
    retire(&dir.path().join("closing-m-000002.wal"), 1).unwrap();
    let mut last = wal.salt;
    for seq in 4..10u32 {
        wal.append(&batch(&[1])).unwrap();
        let closing = dir.path().join(format!("closing-{seq}.wal"));
        wal.rotate(&window(seq), &closing).unwrap();
        retire(&closing, 1).unwrap();
        // The first rotation after a restart finds no spare: a fresh log.
        if seq != 7 {
            assert!(wal.salt > last, "{} after {last}", wal.salt);
            last = wal.salt;
        }
        if seq == 6 {
            // A restart: the spare is removed, the open log recovered.
            drop(wal);
            std::fs::remove_file(dir.path().join(SPARE)).unwrap();
            wal = Wal::open(&path).unwrap().0;
            assert_eq!((wal.salt, wal.last_salt), (last, last));
        }
    }
    assert_eq!(next_salt(u32::MAX), 1);
}
