//! Files in the state directory: written atomically (write to a temporary
//! file, fsync, rename, fsync the directory), so a crash leaves either the
//! old or the new version, never half of one. Damaged JSON state is moved
//! aside and reported rather than crashing the daemon.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let err = |what: &str, e: std::io::Error| format!("{}: {what}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err("creating the directory", e))?;
    }
    let tmp = path.with_extension("tmp-assay");
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| err("creating", e))?;
        f.write_all(bytes).map_err(|e| err("writing", e))?;
        f.sync_all().map_err(|e| err("syncing", e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err("renaming into place", e))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        // Makes the rename itself durable; not supported everywhere.
        let _ = d.sync_all();
    }
    Ok(())
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
    Closed,
}

/// The closed windows of one model, oldest first (`windows.json`), and the
/// sequence number of the next window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowIndex {
    pub next_seq: u64,
    pub closed: Vec<WindowInfo>,
}

impl WindowIndex {
    /// Loads the index; a damaged file is moved aside (note returned) and
    /// an empty index used.
    pub fn load(path: &Path) -> (WindowIndex, Option<String>) {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(_) => return (WindowIndex::default(), None),
        };
        match serde_json::from_slice(&text) {
            Ok(index) => (index, None),
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
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        write_atomic(path, &bytes)
    }

    pub fn is_closed(&self, id: &str) -> bool {
        self.closed.iter().any(|w| w.id == id)
    }
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
}
