//! The receiver's durable job store: one `REGISTRY/jobs/ID/job.json` per
//! job, written atomically (temporary file, fsync, rename) at every change
//! of state. A job is stored before the webhook is answered, so an accepted
//! job survives `kill -9`; a job found `running` at start was cut off and
//! is queued again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RetrainJobError;
use crate::sinks::write_atomic;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Promoted,
    Rejected,
    Failed,
}

impl JobState {
    pub fn finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// `job.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredJob {
    /// The delivery id (the job's id: a redelivery is the same job).
    pub id: String,
    pub model: String,
    pub state: JobState,
    pub received_at: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Runs started (more than 1: cut off and run again).
    #[serde(default)]
    pub attempts: u32,
    /// The webhook's body.
    pub payload: Value,
    #[serde(default)]
    pub log: Vec<String>,
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The challenger's and champion's holdout metrics.
    #[serde(default)]
    pub metrics: Value,
    #[serde(default)]
    pub gate: Value,
    /// What the callback and the baseline post answered.
    #[serde(default)]
    pub callback: Value,
}

/// Job ids become directory names: the delivery id's 32 hex digits, or
/// letters, digits, `-` and `_`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Debug, Clone)]
pub struct JobStore {
    pub dir: PathBuf,
}

impl JobStore {
    pub fn new(registry: &Path) -> Self {
        Self {
            dir: registry.join("jobs"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("job.json")
    }

    pub fn get(&self, id: &str) -> Result<Option<StoredJob>, RetrainJobError> {
        if !valid_id(id) {
            return Ok(None);
        }
        let path = self.path(id);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                RetrainJobError::Registry(format!("{}: not a stored job: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RetrainJobError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    pub fn put(&self, job: &StoredJob) -> Result<(), RetrainJobError> {
        let path = self.path(&job.id);
        let text = serde_json::to_string_pretty(job).expect("serialisable");
        write_atomic(&path, text.as_bytes()).map_err(|source| RetrainJobError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Every stored job, oldest received first.
    pub fn all(&self) -> Result<Vec<StoredJob>, RetrainJobError> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(source) => {
                return Err(RetrainJobError::Io {
                    path: self.dir.display().to_string(),
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            if let Some(id) = entry.file_name().to_str()
                && let Some(job) = self.get(id)?
            {
                out.push(job);
            }
        }
        out.sort_by(|a, b| (&a.received_at, &a.id).cmp(&(&b.received_at, &b.id)));
        Ok(out)
    }

    /// The next job to run: one cut off while running (after a restart),
    /// else the oldest queued.
    pub fn next(&self) -> Result<Option<StoredJob>, RetrainJobError> {
        let all = self.all()?;
        Ok(all
            .iter()
            .find(|j| j.state == JobState::Running)
            .or_else(|| all.iter().find(|j| j.state == JobState::Queued))
            .cloned())
    }
}
