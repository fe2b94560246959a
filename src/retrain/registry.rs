//! The model registry on disk:
//!
//! ```text
//! REGISTRY/models/M/versions/N/{model.safetensors, model.json, train.profile.json, report.json, job}
//! REGISTRY/models/M/champion          {"version": N, "job": ID, "promoted_at": …}
//! REGISTRY/jobs/ID/…                   the receiver's job store and each job's work files
//! ```
//!
//! A version is written whole into `versions/.tmp-JOB` and renamed to the
//! next free number (a rename onto an existing, non-empty directory fails,
//! so two writers never share a number). The file `job` in each version
//! names the job that registered it: a job run again after a crash finds
//! its version instead of registering a second one. The champion pointer is
//! replaced atomically (temporary file, fsync, rename, directory fsync).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RetrainJobError;
use crate::sinks::write_atomic;

/// The `champion` pointer file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Champion {
    pub version: u64,
    pub job: String,
    pub promoted_at: String,
}

/// One model's part of the registry.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    pub dir: PathBuf,
}

fn io(path: &Path, source: std::io::Error) -> RetrainJobError {
    RetrainJobError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl ModelRegistry {
    pub fn new(registry: &Path, model: &str) -> Self {
        Self {
            dir: registry.join("models").join(model),
        }
    }

    pub fn versions_dir(&self) -> PathBuf {
        self.dir.join("versions")
    }

    pub fn version_dir(&self, version: u64) -> PathBuf {
        self.versions_dir().join(version.to_string())
    }

    /// The current champion, if any.
    pub fn champion(&self) -> Result<Option<Champion>, RetrainJobError> {
        let path = self.dir.join("champion");
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                RetrainJobError::Registry(format!(
                    "{}: not a champion pointer: {e}",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// Points `champion` at `version`, atomically.
    pub fn set_champion(&self, champion: &Champion) -> Result<(), RetrainJobError> {
        let path = self.dir.join("champion");
        let json = serde_json::to_string_pretty(champion).expect("serialisable");
        write_atomic(&path, format!("{json}\n").as_bytes()).map_err(|e| io(&path, e))
    }

    /// The registered version numbers, ascending.
    pub fn versions(&self) -> Result<Vec<u64>, RetrainJobError> {
        let dir = self.versions_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir, e)),
        };
        let mut out: Vec<u64> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The version registered by `job`, if it registered one.
    pub fn version_of_job(&self, job: &str) -> Result<Option<u64>, RetrainJobError> {
        for v in self.versions()? {
            if std::fs::read_to_string(self.version_dir(v).join("job"))
                .is_ok_and(|j| j.trim() == job)
            {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// Registers the files of `staged` (a directory this job filled) as the
    /// next version; returns its number. Idempotent per job.
    pub fn register(&self, job: &str, staged: &Path) -> Result<u64, RetrainJobError> {
        if let Some(v) = self.version_of_job(job)? {
            let _ = std::fs::remove_dir_all(staged);
            return Ok(v);
        }
        std::fs::write(staged.join("job"), format!("{job}\n"))
            .map_err(|e| io(&staged.join("job"), e))?;
        sync_dir(staged)?;
        let versions = self.versions_dir();
        std::fs::create_dir_all(&versions).map_err(|e| io(&versions, e))?;
        let mut next = self.versions()?.last().copied().unwrap_or(0) + 1;
        loop {
            let target = self.version_dir(next);
            match std::fs::rename(staged, &target) {
                Ok(()) => {
                    sync_dir(&versions)?;
                    return Ok(next);
                }
                Err(_) if target.exists() => next += 1,
                Err(e) => return Err(io(&target, e)),
            }
        }
    }

    /// A fresh staging directory for `job`'s version.
    pub fn staging(&self, job: &str) -> Result<PathBuf, RetrainJobError> {
        let dir = self.versions_dir().join(format!(".tmp-{job}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        Ok(dir)
    }
}

/// fsyncs a directory (its entries' names are durable after a rename).
pub fn sync_dir(dir: &Path) -> Result<(), RetrainJobError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_and_a_job_registers_once() {
        let dir = tempfile::tempdir().unwrap();
        let reg = ModelRegistry::new(dir.path(), "m");
        assert_eq!(reg.champion().unwrap(), None);
        let s = reg.staging("a").unwrap();
        std::fs::write(s.join("model.json"), "{}").unwrap();
        assert_eq!(reg.register("a", &s).unwrap(), 1);
        let s = reg.staging("a").unwrap();
        assert_eq!(reg.register("a", &s).unwrap(), 1, "same job, same version");
        let s = reg.staging("b").unwrap();
        assert_eq!(reg.register("b", &s).unwrap(), 2);
        assert_eq!(reg.versions().unwrap(), vec![1, 2]);
        assert!(reg.version_dir(1).join("model.json").is_file());
        let c = Champion {
            version: 2,
            job: "b".into(),
            promoted_at: "now".into(),
        };
        reg.set_champion(&c).unwrap();
        assert_eq!(reg.champion().unwrap(), Some(c));
    }
}
