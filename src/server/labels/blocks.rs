//! The pending store's files (`store.rs`): framed blocks — magic, length,
//! CRC32, payload — appended and synced, scanned back with torn tails cut,
//! and a little-endian reader over their payloads.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub(super) const HEADER: u64 = 12;
/// A prediction's label slot when the batch had none.
pub(super) const NO_LABEL: u32 = u32::MAX;

pub(super) fn io(path: &Path, e: std::io::Error) -> String {
    format!("the pending store: {}: {e}", path.display())
}

/// Appends a framed block (magic, length, CRC32, payload) and syncs.
pub(super) fn append_block(
    file: &mut File,
    path: &Path,
    magic: [u8; 4],
    payload: &[u8],
) -> Result<(), String> {
    // Two writes, no copy of the payload: a block torn between them is cut
    // at the next start like any torn append.
    let mut header = [0u8; HEADER as usize];
    header[..4].copy_from_slice(&magic);
    header[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[8..12].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    file.write_all(&header).map_err(|e| io(path, e))?;
    file.write_all(payload).map_err(|e| io(path, e))?;
    file.sync_data().map_err(|e| io(path, e))
}

/// The blocks of a file: (payload offset, payload length), with the CRC of
/// every block checked when `check_all`, else of the last only (a torn
/// append is always the last). A tail that is not a whole, valid block (an
/// append that was never acknowledged) is cut off the file.
pub(super) fn scan_blocks(
    path: &Path,
    magic: [u8; 4],
    check_all: bool,
) -> Result<Vec<(u64, u32)>, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io(path, e))?;
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    let mut out: Vec<(u64, u32)> = Vec::new();
    let mut crcs: Vec<u32> = Vec::new();
    let mut at = 0u64;
    let mut header = [0u8; HEADER as usize];
    while at + HEADER <= len {
        file.read_exact_at(&mut header, at)
            .map_err(|e| io(path, e))?;
        if header[..4] != magic {
            break;
        }
        let n = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if at + HEADER + u64::from(n) > len {
            break;
        }
        out.push((at + HEADER, n));
        crcs.push(crc);
        at += HEADER + u64::from(n);
    }
    let check_from = if check_all {
        0
    } else {
        out.len().saturating_sub(1)
    };
    let mut buf = Vec::new();
    for i in check_from..out.len() {
        let (p, n) = out[i];
        buf.resize(n as usize, 0);
        file.read_exact_at(&mut buf, p).map_err(|e| io(path, e))?;
        if crc32fast::hash(&buf) != crcs[i] {
            out.truncate(i);
            break;
        }
    }
    let valid = out.last().map_or(0, |(p, n)| p + u64::from(*n));
    if valid < len {
        tracing::warn!(
            file = %path.display(),
            "the pending store: cutting {} bytes of an unacknowledged append",
            len - valid
        );
        file.set_len(valid).map_err(|e| io(path, e))?;
        file.sync_all().map_err(|e| io(path, e))?;
    }
    Ok(out)
}

pub(super) fn read_at(path: &Path, at: u64, len: usize) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| io(path, e))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, at).map_err(|e| io(path, e))?;
    Ok(buf)
}

/// A little-endian reader over a payload; `None` past its end.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }
    pub(super) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(super) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A u16-length-prefixed string of bytes.
    pub(super) fn short(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    /// A u32-length-prefixed string of bytes; `Some(None)` for [`NO_LABEL`].
    pub(super) fn long(&mut self) -> Option<Option<&'a [u8]>> {
        let n = self.u32()?;
        if n == NO_LABEL {
            return Some(None);
        }
        Some(Some(self.take(n as usize)?))
    }
}

pub(super) fn corrupt(path: &Path) -> String {
    format!(
        "the pending store: {}: a block does not parse",
        path.display()
    )
}
