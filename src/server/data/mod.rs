//! The data kept for retraining (`[models.NAME.data]`): each closed
//! window's rows as one Parquet file (zstd) in Hive-style partitions,
//! `models/NAME/data/date=YYYY-MM-DD/window-ID.parquet`, which polars,
//! DuckDB and Spark read as one table with a `date` column.
//!
//! - **When.** On the model's state-writer thread (`server::durable`),
//!   after the close and before the window's log is retired: the rows are
//!   read back from the closing log, so ingest never waits for Parquet and
//!   no copy of the window is kept in memory. A crash before the file is
//!   written leaves the log, and the next start writes the file while it
//!   settles the close (`model::close::settle`).
//! - **Atomic.** Written to `window-ID.tmp-assay`, fsynced, renamed, the
//!   directory fsynced (`crate::sinks::write_atomic`): a reader globbing
//!   `*.parquet` sees the whole file or none, also after a `kill -9`.
//! - **Labels.** With `[models.NAME.quality]` the file has the label column
//!   too, joined on the request id from the labels store, and is rewritten
//!   (atomically, the same way) as labels arrive, until the window's labels
//!   are final (full coverage, or `label_ttl` past its last prediction).
//!   Why rewrite rather than a labels file beside it: a partition that is
//!   one self-contained file is what the readers above (and the retrain
//!   job) read with a glob, without a join they would have to know about;
//!   and a window is rewritten only while its labels come in (each refresh
//!   reads its rows back, as `labels::ModelQuality::refresh` does), after
//!   which it never changes again. The file's key-value metadata says how
//!   far it got (`assay.labelled`, `assay.final`).
//! - **Retention.** Partitions older than `keep_days` (by their date) are
//!   deleted, then the oldest until the total is under `max_bytes` (the
//!   newest file always stays).

pub mod http;
mod labels;
mod parquet_io;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use serde::Serialize;

use super::closer::lock;
use super::config::DataConfig;
use super::labels::ModelQuality;
use super::state::window_seq;
pub use parquet_io::{FileMeta, PartitionMeta, read_meta};

/// One partition file, as `GET /v1/models/NAME/data` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partition {
    /// Relative to the data directory: `date=YYYY-MM-DD/window-ID.parquet`.
    pub path: String,
    pub date: String,
    pub window: String,
    pub start: String,
    pub end: String,
    pub rows: u64,
    pub bytes: u64,
    /// Rows with a label, and their share (`null` without `[quality]`).
    pub labelled: Option<u64>,
    pub label_coverage: Option<f64>,
    /// No label will change the file any more.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// A model's retraining data.
pub struct Partitions {
    model: String,
    dir: PathBuf,
    config: DataConfig,
    /// The window's columns (the closing log's batches are conformed to it).
    expected: SchemaRef,
    request_id_column: Option<String>,
    quality: Option<Arc<ModelQuality>>,
    /// Serializes writes, label rewrites and retention: a rewrite must not
    /// bring back a file retention just deleted.
    io: Mutex<()>,
    /// Windows whose labels may still change, by sequence number.
    open_labels: Mutex<BTreeMap<u64, Unfinished>>,
}

/// A partition whose labels may still change.
#[derive(Debug, Clone)]
struct Unfinished {
    path: PathBuf,
    /// The store's count of the window's labelled predictions when the
    /// file was written.
    store_labelled: u64,
    end_ms: i64,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `YYYY-MM-DD` (UTC) of a time in ms since the epoch.
fn date_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

impl Partitions {
    /// The model's data directory (`models/NAME/data`), or `None` when
    /// `enabled = false`. Finds the files whose labels are not final yet.
    pub fn open(
        model: &str,
        model_dir: &Path,
        config: &DataConfig,
        expected: SchemaRef,
        request_id_column: Option<String>,
        quality: Option<Arc<ModelQuality>>,
    ) -> Option<Arc<Self>> {
        if !config.enabled {
            return None;
        }
        let out = Self {
            model: model.to_string(),
            dir: model_dir.join("data"),
            config: config.clone(),
            expected,
            request_id_column,
            quality,
            io: Mutex::new(()),
            open_labels: Mutex::new(BTreeMap::new()),
        };
        if out.quality.is_some() {
            let mut open = lock(&out.open_labels);
            for (path, meta) in out.files() {
                if let Ok(meta) = meta
                    && !meta.meta.is_final
                    && let Some(seq) = window_seq(&meta.meta.window)
                {
                    open.insert(
                        seq,
                        Unfinished {
                            path,
                            store_labelled: meta.meta.labelled.unwrap_or(0),
                            end_ms: meta.meta.end_ms,
                        },
                    );
                }
            }
        }
        Some(Arc::new(out))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of window `id`, started at `start_ms`.
    pub fn path_of(&self, id: &str, start_ms: i64) -> PathBuf {
        self.dir
            .join(format!("date={}", date_of(start_ms)))
            .join(format!("window-{id}.parquet"))
    }

    /// Writes window `id`'s rows (`batches`, as its log holds them) with
    /// the labels known so far, atomically and durably, then applies the
    /// retention. Called on the state writer (and by a start's settle).
    pub fn write_window(
        &self,
        id: &str,
        start_ms: i64,
        end_ms: i64,
        batches: &[RecordBatch],
        now_ms: i64,
    ) -> Result<PathBuf, String> {
        let path = self.path_of(id, start_ms);
        // Batch by batch, never the window concatenated: a window can hold
        // millions of rows, and only the request ids are needed whole.
        let rows: Vec<RecordBatch> = batches
            .iter()
            .map(|b| parquet_io::conform(&self.expected, b))
            .collect::<Result<_, _>>()?;
        let joined = match self.request_id_column.as_deref() {
            Some(column) if self.quality.is_some() => {
                let ids = request_ids(&self.expected, &rows, column)?;
                self.join_labels(id, &ids, end_ms, now_ms)?
            }
            _ => None,
        };
        let meta = PartitionMeta {
            window: id.to_string(),
            start_ms,
            end_ms,
            labelled: joined.as_ref().map(|j| j.labelled),
            label_column: joined.as_ref().map(|j| j.column.clone()),
            is_final: joined.as_ref().is_none_or(|j| j.is_final),
        };
        {
            let _io = lock(&self.io);
            let (schema, rows) = match &joined {
                Some(j) => {
                    let mut offset = 0;
                    let labelled: Vec<RecordBatch> = rows
                        .iter()
                        .map(|b| {
                            let values = j.values.slice(offset, b.num_rows());
                            offset += b.num_rows();
                            labels::with_label(b, &j.column, values)
                        })
                        .collect::<Result<_, _>>()?;
                    let schema = match labelled.first() {
                        Some(b) => b.schema(),
                        None => labels::with_label(
                            &RecordBatch::new_empty(self.expected.clone()),
                            &j.column,
                            j.values.slice(0, 0),
                        )?
                        .schema(),
                    };
                    (schema, labelled)
                }
                None => (self.expected.clone(), rows),
            };
            parquet_io::write_atomic(&path, &schema, &rows, &meta)?;
            if !meta.is_final
                && let Some(seq) = window_seq(id)
            {
                let store_labelled = joined.as_ref().map_or(0, |j| j.store_labelled);
                lock(&self.open_labels).insert(
                    seq,
                    Unfinished {
                        path: path.clone(),
                        store_labelled,
                        end_ms,
                    },
                );
            }
        }
        self.enforce_retention(now_ms, Some(&path));
        Ok(path)
    }

    /// [`Partitions::write_window`] from a closed window's log (on the
    /// state writer); errors are logged: the window itself is durable.
    pub fn write_from_log(&self, id: &str, start_ms: i64, end_ms: i64, log: &Path) {
        let started = std::time::Instant::now();
        let written = super::wal::Wal::read(log).and_then(|(recovered, _)| {
            self.write_window(
                id,
                start_ms,
                end_ms,
                &recovered.batches,
                super::model::now_ms(),
            )
        });
        match written {
            Ok(path) => tracing::debug!(
                model = %self.model,
                window = id,
                file = %path.display(),
                ms = started.elapsed().as_millis() as u64,
                "retraining data written"
            ),
            Err(e) => tracing::error!(
                model = %self.model,
                window = id,
                "retraining data: the window's partition was not written: {e}"
            ),
        }
    }

    /// Every partition file and what its footer says, oldest date first,
    /// then by window.
    fn files(&self) -> Vec<(PathBuf, Result<FileMeta, String>)> {
        let mut out = Vec::new();
        let Ok(dates) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        let mut dates: Vec<PathBuf> = dates
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("date="))
            })
            .collect();
        dates.sort();
        for date in dates {
            let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&date)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .map(|p| {
                    let seq = p
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(window_seq)
                        .unwrap_or(0);
                    (seq, p)
                })
                .collect();
            files.sort();
            out.extend(files.into_iter().map(|(_, p)| {
                let meta = read_meta(&p);
                (p, meta)
            }));
        }
        out
    }

    /// The partitions, oldest first (`GET /v1/models/NAME/data`). A file
    /// whose footer cannot be read is listed with an error note instead.
    pub fn list(&self) -> (Vec<Partition>, Vec<String>) {
        let mut partitions = Vec::new();
        let mut problems = Vec::new();
        for (path, meta) in self.files() {
            let relative = path
                .strip_prefix(&self.dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            match meta {
                Ok(m) => {
                    let rows = m.rows;
                    partitions.push(Partition {
                        date: relative
                            .strip_prefix("date=")
                            .and_then(|r| r.split('/').next())
                            .unwrap_or_default()
                            .to_string(),
                        path: relative,
                        window: m.meta.window.clone(),
                        start: rfc3339(m.meta.start_ms),
                        end: rfc3339(m.meta.end_ms),
                        rows,
                        bytes: std::fs::metadata(&path).map_or(0, |f| f.len()),
                        labelled: m.meta.labelled,
                        label_coverage: m.meta.labelled.map(|l| {
                            if rows == 0 {
                                0.0
                            } else {
                                l as f64 / rows as f64
                            }
                        }),
                        is_final: m.meta.is_final,
                    });
                }
                Err(e) => problems.push(format!("{relative}: {e}")),
            }
        }
        (partitions, problems)
    }

    /// Deletes partitions older than `keep_days`, then the oldest while the
    /// total is over `max_bytes`; `keep` (the file just written) stays.
    /// Returns the files deleted.
    pub fn enforce_retention(&self, now_ms: i64, keep: Option<&Path>) -> Vec<PathBuf> {
        let _io = lock(&self.io);
        let cutoff = date_of(now_ms - self.config.keep_days as i64 * 86_400_000);
        let mut files: Vec<(PathBuf, String, u64)> = Vec::new();
        let Ok(dates) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut dates: Vec<(String, PathBuf)> = dates
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.strip_prefix("date=")?.to_string();
                Some((name, e.path()))
            })
            .collect();
        dates.sort();
        for (date, dir) in &dates {
            let mut in_dir: Vec<(u64, PathBuf, u64)> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
                .map(|e| {
                    let seq = e
                        .path()
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(window_seq)
                        .unwrap_or(0);
                    (seq, e.path(), e.metadata().map_or(0, |m| m.len()))
                })
                .collect();
            in_dir.sort();
            files.extend(in_dir.into_iter().map(|(_, p, b)| (p, date.clone(), b)));
        }
        let mut total: u64 = files.iter().map(|f| f.2).sum();
        let mut deleted = Vec::new();
        for (path, date, bytes) in &files {
            if Some(path.as_path()) == keep {
                continue;
            }
            let too_old = date.as_str() < cutoff.as_str();
            if !too_old && total <= self.config.max_bytes {
                continue;
            }
            match std::fs::remove_file(path) {
                Ok(()) => {
                    total -= bytes;
                    deleted.push(path.clone());
                }
                Err(e) => tracing::warn!(model = %self.model, "retention: {}: {e}", path.display()),
            }
        }
        if !deleted.is_empty() {
            let gone: std::collections::BTreeSet<&Path> =
                deleted.iter().map(PathBuf::as_path).collect();
            lock(&self.open_labels).retain(|_, u| !gone.contains(u.path.as_path()));
            for (_, dir) in &dates {
                // Only empty ones go.
                let _ = std::fs::remove_dir(dir);
            }
            tracing::info!(
                model = %self.model,
                deleted = deleted.len(),
                "retraining data: partitions past keep_days or max_bytes deleted"
            );
        }
        deleted
    }

    /// The paths of the partitions whose window started at or after
    /// `since_ms` (the webhook's `data`), oldest first.
    pub fn paths_since(&self, since_ms: Option<i64>) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|(_, meta)| match (meta, since_ms) {
                (Ok(m), Some(since)) => m.meta.start_ms >= since,
                (Ok(_), None) => true,
                (Err(_), _) => false,
            })
            .map(|(p, _)| p)
            .collect()
    }
}

#[cfg(test)]
mod tests;

/// The window's request ids as one batch of one column (what
/// [`Partitions::join_labels`] reads), concatenated from its batches.
fn request_ids(
    expected: &SchemaRef,
    rows: &[RecordBatch],
    column: &str,
) -> Result<RecordBatch, String> {
    let Ok(index) = expected.index_of(column) else {
        // No id column among the window's columns: nothing joins.
        return Ok(RecordBatch::new_empty(Arc::new(
            arrow::datatypes::Schema::empty(),
        )));
    };
    let parts: Vec<RecordBatch> = rows
        .iter()
        .map(|b| b.project(&[index]))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let schema = Arc::new(expected.project(&[index]).map_err(|e| e.to_string())?);
    arrow::compute::concat_batches(&schema, &parts).map_err(|e| e.to_string())
}
