//! Labels joined to a partition's rows on the request id, from the labels
//! store (`server::labels`), and the partitions rewritten as labels
//! arrive.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

use super::parquet_io::{self, PartitionMeta};
use super::{Partitions, Unfinished, lock};
use crate::server::labels::cell;
use crate::server::state::window_seq;

/// A window's label column as joined.
pub(super) struct Joined {
    pub column: String,
    pub values: ArrayRef,
    pub labelled: u64,
    /// The store's count of the window's labelled predictions when joined
    /// (what a later refresh compares with).
    pub store_labelled: u64,
    pub is_final: bool,
}

/// `rows` with the label column `name` set to `values` (replacing it when
/// there).
pub(super) fn with_label(
    rows: &RecordBatch,
    name: &str,
    values: ArrayRef,
) -> Result<RecordBatch, String> {
    let mut fields: Vec<Arc<Field>> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in rows.schema().fields().iter().zip(rows.columns()) {
        if f.name() != name {
            fields.push(f.clone());
            columns.push(c.clone());
        }
    }
    fields.push(Arc::new(Field::new(name, values.data_type().clone(), true)));
    columns.push(values);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())
}

impl Partitions {
    /// The labels of window `id` for `rows`, by their request id; `None`
    /// when the model joins no labels (no `[quality]`, or no request id
    /// column among the window's columns).
    pub(super) fn join_labels(
        &self,
        id: &str,
        rows: &RecordBatch,
        end_ms: i64,
        now_ms: i64,
    ) -> Result<Option<Joined>, String> {
        let (Some(quality), Some(id_column)) = (&self.quality, &self.request_id_column) else {
            return Ok(None);
        };
        let Some(ids) = rows.column_by_name(id_column) else {
            return Ok(None);
        };
        let ids = cell::conform(ids, &DataType::Utf8)?;
        let ids = ids
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or("request ids are not text")?;
        let seq = window_seq(id).ok_or_else(|| format!("{id}: not a window id"))?;
        let (meta, labels) = quality.window_labels(seq)?;
        let labels: HashMap<String, Vec<u8>> = labels.into_iter().collect();
        let mut builder = cell::Builder::new(&quality.label_type);
        let mut labelled = 0;
        let with_ids = ids.len() - ids.null_count();
        for row in 0..ids.len() {
            let cell = if ids.is_null(row) {
                None
            } else {
                labels
                    .get(ids.value(row))
                    .and_then(|bytes| cell::decode(bytes))
            };
            match cell {
                Some((c, _)) if c != cell::Cell::Null => {
                    labelled += 1;
                    builder.push(&c);
                }
                _ => builder.push(&cell::Cell::Null),
            }
        }
        // Final: every prediction labelled, or too late for labels. A
        // window the store does not know is final when its rows have no
        // request id (no label can come) or it left the store (two
        // label_ttls past its end); otherwise its predictions are being
        // stored (the batch that filled it is committed before they are).
        let is_final = match &meta {
            Some(m) => m.labelled >= m.predictions || m.expired(now_ms, quality.ttl_ms()),
            None => with_ids == 0 || now_ms > end_ms.saturating_add(2 * quality.ttl_ms()),
        };
        Ok(Some(Joined {
            column: quality.label_column().to_string(),
            values: builder.finish(),
            labelled,
            store_labelled: meta.as_ref().map_or(0, |m| m.labelled),
            is_final,
        }))
    }

    /// Rewrites the partitions whose labels changed since they were
    /// written, or turned final; off the request path (the daemon's label
    /// timer). Returns the windows rewritten.
    pub fn refresh_labels(&self, now_ms: i64) -> Vec<String> {
        let Some(quality) = &self.quality else {
            return Vec::new();
        };
        let open: Vec<(u64, Unfinished)> = lock(&self.open_labels)
            .iter()
            .map(|(s, v)| (*s, v.clone()))
            .collect();
        if open.is_empty() {
            return Vec::new();
        }
        let metas = match quality.window_metas() {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(model = %self.model, "retraining data: reading the labels store: {e}");
                return Vec::new();
            }
        };
        let mut done = Vec::new();
        for (seq, u) in open {
            let changed = match metas.get(&seq) {
                Some(m) => {
                    m.labelled != u.store_labelled
                        || m.labelled >= m.predictions
                        || m.expired(now_ms, quality.ttl_ms())
                }
                None => now_ms > u.end_ms.saturating_add(2 * quality.ttl_ms()),
            };
            if !changed {
                continue;
            }
            let path = u.path;
            match self.rewrite(seq, &path, now_ms) {
                Ok(Some(window)) => done.push(window),
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    model = %self.model,
                    file = %path.display(),
                    "retraining data: joining labels: {e}"
                ),
            }
        }
        done
    }

    /// One partition rewritten with the labels known now.
    fn rewrite(
        &self,
        seq: u64,
        path: &std::path::Path,
        now_ms: i64,
    ) -> Result<Option<String>, String> {
        let _io = lock(&self.io);
        if !path.exists() {
            // Deleted by retention meanwhile.
            lock(&self.open_labels).remove(&seq);
            return Ok(None);
        }
        let (batch, meta) = parquet_io::read_all(path)?;
        let Some(joined) = self.join_labels(&meta.window, &batch, meta.end_ms, now_ms)? else {
            lock(&self.open_labels).remove(&seq);
            return Ok(None);
        };
        let store_labelled = joined.store_labelled;
        let rows = with_label(&batch, &joined.column, joined.values)?;
        let new_meta = PartitionMeta {
            labelled: Some(joined.labelled),
            label_column: Some(joined.column),
            is_final: joined.is_final,
            ..meta
        };
        parquet_io::write_atomic(path, &rows.schema(), std::slice::from_ref(&rows), &new_meta)?;
        let mut open = lock(&self.open_labels);
        if new_meta.is_final {
            open.remove(&seq);
        } else {
            open.insert(
                seq,
                Unfinished {
                    path: path.to_path_buf(),
                    store_labelled,
                    end_ms: new_meta.end_ms,
                },
            );
        }
        Ok(Some(new_meta.window))
    }
}
