//! Files in the state directory: written atomically (write to a temporary
//! file, fsync, rename, fsync the directory), so a crash leaves either the
//! old or the new version, never half of one. Damaged JSON state is moved
//! aside and reported rather than crashing the daemon.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Writes `bytes` to `path` atomically ([`crate::sinks::write_atomic`]),
/// with the path in the error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::sinks::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes `bytes` to `path` without an fsync
/// ([`crate::sinks::replace_unsynced`]), with the path in the error.
pub fn replace_unsynced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::sinks::replace_unsynced(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// One window as `GET /v1/windows` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub id: String,
    pub model: String,
    /// RFC 3339.
    pub start: String,
    pub end: Option<String>,
    pub rows: u64,
    pub batches: u64,
    pub state: WindowState,
    /// The report file name (closed windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Whether this window had skew, drift or failed validation.
    #[serde(default)]
    pub alerts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    Open,
    /// Rotated out of the open window, its close not yet published by the
    /// model's closer thread (never in the index file).
    Closing,
    Closed,
}

/// The kept closed windows of one model, oldest first (`windows.json`),
/// the sequence number of the next window, and what every window ever
/// closed added up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowIndex {
    pub next_seq: u64,
    pub closed: Vec<WindowInfo>,
    #[serde(default)]
    pub totals: Totals,
}

/// Rows, batches and windows of every closed window, including those no
/// longer kept: with the open window's log they give counters that survive
/// restarts (`assay_rows_ingested_total` does not fall back to 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub rows: u64,
    pub batches: u64,
    pub windows: u64,
}

impl WindowIndex {
    /// Loads the index; a damaged file is moved aside (note returned) and
    /// an empty index used.
    pub fn load(path: &Path) -> (WindowIndex, Option<String>) {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(_) => return (WindowIndex::default(), None),
        };
        match serde_json::from_slice::<WindowIndex>(&text) {
            Ok(mut index) => {
                if index.totals == Totals::default() && !index.closed.is_empty() {
                    // An index written before totals were kept.
                    index.totals = Totals {
                        rows: index.closed.iter().map(|w| w.rows).sum(),
                        batches: index.closed.iter().map(|w| w.batches).sum(),
                        windows: index.closed.len() as u64,
                    };
                }
                (index, None)
            }
            Err(e) => {
                let aside = quarantine(path);
                (
                    WindowIndex::default(),
                    Some(format!(
                        "{}: damaged ({e}); moved to {} and starting a new index",
                        path.display(),
                        aside.display()
                    )),
                )
            }
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        write_atomic(path, &self.bytes()?)
    }

    /// The index as its file holds it.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        serde_json::to_vec(self).map_err(|e| e.to_string())
    }

    pub fn is_closed(&self, id: &str) -> bool {
        self.closed.iter().any(|w| w.id == id)
    }

    /// Adds a closed window to the index and the totals.
    pub fn push_closed(&mut self, info: WindowInfo) {
        self.totals.rows += info.rows;
        self.totals.batches += info.batches;
        self.totals.windows += 1;
        self.closed.push(info);
    }

    /// Takes a closed window out of the index and the totals (to close it
    /// again from its log): its position and entry.
    pub fn remove_closed(&mut self, id: &str) -> Option<(usize, WindowInfo)> {
        let at = self.closed.iter().position(|w| w.id == id)?;
        let info = self.closed.remove(at);
        self.totals.rows -= info.rows.min(self.totals.rows);
        self.totals.batches -= info.batches.min(self.totals.batches);
        self.totals.windows = self.totals.windows.saturating_sub(1);
        Some((at, info))
    }

    /// Puts a closed window back at `at` (see [`WindowIndex::remove_closed`])
    /// and counts it; `next_seq` stays past its sequence number.
    pub fn insert_closed(&mut self, at: usize, info: WindowInfo) {
        if let Some(seq) = window_seq(&info.id) {
            self.next_seq = self.next_seq.max(seq);
        }
        self.totals.rows += info.rows;
        self.totals.batches += info.batches;
        self.totals.windows += 1;
        self.closed.insert(at.min(self.closed.len()), info);
    }

    /// Drops all but the newest `keep` closed windows from the index and
    /// returns the dropped ones (whose files the caller deletes).
    pub fn retain_newest(&mut self, keep: usize) -> Vec<WindowInfo> {
        let excess = self.closed.len().saturating_sub(keep.max(1));
        self.closed.drain(..excess).collect()
    }
}

/// The sequence number at the end of a window id (`credit-000042` → 42).
pub fn window_seq(id: &str) -> Option<u64> {
    id.rsplit('-').next()?.parse().ok()
}

/// Moves a damaged file aside as `NAME.corrupt-<unix seconds>`.
pub fn quarantine(path: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let aside = path.with_extension(format!("corrupt-{stamp}"));
    let _ = std::fs::rename(path, &aside);
    aside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_damaged_index_is_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/windows.json");
        let index = WindowIndex {
            next_seq: 3,
            ..WindowIndex::default()
        };
        index.save(&path).unwrap();
        assert_eq!(WindowIndex::load(&path), (index, None));
        std::fs::write(&path, b"{\"next_seq\": 3, \"clo").unwrap();
        let (loaded, note) = WindowIndex::load(&path);
        assert_eq!(loaded, WindowIndex::default());
        assert!(note.unwrap().contains("damaged"));
        assert!(!path.exists(), "moved aside");
    }

    fn window(seq: u64, rows: u64) -> WindowInfo {
        WindowInfo {
            id: format!("m-{seq:06}"),
            model: "m".into(),
            start: String::new(),
            end: None,
            rows,
            batches: 2,
            state: WindowState::Closed,
            report: None,
            alerts: false,
        }
    }

    #[test]
    fn a_window_taken_out_and_put_back_is_counted_once() {
        let mut index = WindowIndex::default();
        for seq in 1..=3 {
            index.push_closed(window(seq, 10 * seq));
        }
        index.next_seq = 1; // as if the index lagged behind its windows
        let before = index.totals;
        let (at, info) = index.remove_closed("m-000002").unwrap();
        assert_eq!((at, info.rows), (1, 20));
        assert_eq!(index.totals.rows, 40);
        assert_eq!(index.remove_closed("m-000002"), None);
        index.insert_closed(at, info);
        assert_eq!(index.totals, before);
        let ids: Vec<_> = index.closed.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["m-000001", "m-000002", "m-000003"]);
        assert_eq!(
            index.next_seq, 2,
            "never hands out a closed window's id again"
        );
        assert_eq!(window_seq("credit-eu-000042"), Some(42));
        assert_eq!(window_seq("credit"), None);
    }

    #[test]
    fn totals_outlive_retention_and_old_indexes_get_them() {
        let mut index = WindowIndex::default();
        for seq in 1..=5 {
            index.push_closed(window(seq, 10 * seq));
        }
        let dropped = index.retain_newest(2);
        let ids = |ws: &[WindowInfo]| ws.iter().map(|w| w.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&dropped), ["m-000001", "m-000002", "m-000003"]);
        assert_eq!(ids(&index.closed), ["m-000004", "m-000005"]);
        let all = Totals {
            rows: 150,
            batches: 10,
            windows: 5,
        };
        assert_eq!(index.totals, all);

        // An index from before totals existed: summed from its windows.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("windows.json");
        let old = serde_json::json!({"next_seq": 5, "closed": [window(4, 40), window(5, 50)]});
        std::fs::write(&path, old.to_string()).unwrap();
        let (loaded, note) = WindowIndex::load(&path);
        assert_eq!(note, None);
        assert_eq!(
            loaded.totals,
            Totals {
                rows: 90,
                batches: 4,
                windows: 2
            }
        );
    }
}
