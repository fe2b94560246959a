//! Assembling a job's training data: the baseline training data, then the
//! daemon's labelled partitions (oldest first), as one table in time order
//! (so the last rows, the holdout, are the most recent).
//!
//! - Each input is read on its own (a partition's columns need not be the
//!   baseline's: the daemon leaves out the label when it joins none).
//! - Columns are the union in order of first appearance, typed as first
//!   seen; a later input's column of another type is cast, and one it lacks
//!   is null.
//! - Rows without a label cannot train or be measured: they are dropped.
//! - With `request_id_column`, a request seen twice keeps its last row (a
//!   partition rewritten as labels arrive, or rows also in the baseline).
//! - Only the schema's features and the label are kept: other columns
//!   (the request id, the daemon's own) would be schema anomalies.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, new_null_array};
use arrow::compute::{cast, concat_batches, filter_record_batch};
use arrow::datatypes::{Field, Schema as ArrowSchema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::Serialize;

use super::RetrainJobError;
use crate::schema::Schema;
use crate::sources::ReadOptions;
use crate::train::{self, Loaded};

/// What assembling did (the report's `assemble` step).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Assembly {
    /// Each input with the rows it gave.
    pub inputs: Vec<InputRows>,
    pub rows_read: usize,
    pub unlabelled_dropped: usize,
    pub duplicates_dropped: usize,
    pub rows: usize,
    pub columns: Vec<String>,
    /// Partitions left out by `lookback`.
    pub outside_lookback: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputRows {
    pub path: String,
    pub rows: usize,
}

fn data_error(message: String) -> RetrainJobError {
    RetrainJobError::Data(message)
}

/// Reads `inputs` in order into one batch (see the module doc).
pub fn assemble(
    inputs: &[String],
    schema: &Schema,
    label: &str,
    request_id: Option<&str>,
) -> Result<(Loaded, Assembly), RetrainJobError> {
    if inputs.is_empty() {
        return Err(data_error(
            "no data: give `baseline` in the config, --data, or a webhook payload with `data`"
                .into(),
        ));
    }
    let mut report = Assembly::default();
    let mut loaded = Vec::new();
    for input in inputs {
        let l = train::load(std::slice::from_ref(input), &ReadOptions::default())
            .map_err(|e| data_error(e.to_string()))?;
        report.inputs.push(InputRows {
            path: input.clone(),
            rows: l.batch.num_rows(),
        });
        report.rows_read += l.batch.num_rows();
        loaded.push(l);
    }
    // The union of columns, typed as first seen.
    let mut fields: Vec<Field> = Vec::new();
    for l in &loaded {
        for f in l.batch.schema().fields() {
            if !fields.iter().any(|g| g.name() == f.name()) {
                fields.push(f.as_ref().clone().with_nullable(true));
            }
        }
    }
    if !fields.iter().any(|f| f.name() == label) {
        return Err(data_error(format!(
            "no input has the label column `{label}`"
        )));
    }
    let target = Arc::new(ArrowSchema::new(fields.clone()));
    let mut batches = Vec::new();
    for (l, input) in loaded.iter().zip(inputs) {
        let b = &l.batch;
        let mut columns: Vec<ArrayRef> = Vec::new();
        for f in &fields {
            let column = match b.column_by_name(f.name()) {
                None => new_null_array(f.data_type(), b.num_rows()),
                Some(c) if c.data_type() == f.data_type() => c.clone(),
                Some(c) => cast(c, f.data_type()).map_err(|e| {
                    data_error(format!(
                        "{input}: column `{}` is {}, the earlier inputs have {}: {e}",
                        f.name(),
                        c.data_type(),
                        f.data_type()
                    ))
                })?,
            };
            columns.push(column);
        }
        batches.push(RecordBatch::try_new(target.clone(), columns)?);
    }
    let mut batch = concat_batches(&target, &batches)?;
    // Rows without a label.
    let labels = batch.column_by_name(label).expect("checked above").clone();
    if labels.null_count() > 0 {
        let keep = BooleanArray::from_iter((0..labels.len()).map(|i| Some(labels.is_valid(i))));
        report.unlabelled_dropped = labels.null_count();
        batch = filter_record_batch(&batch, &keep)?;
    }
    // Duplicated requests: the last row wins.
    if let Some(id) = request_id
        && let Some(ids) = batch.column_by_name(id).cloned()
    {
        let formatter = ArrayFormatter::try_new(ids.as_ref(), &FormatOptions::default())?;
        let mut seen = HashSet::new();
        let mut keep = vec![true; ids.len()];
        for i in (0..ids.len()).rev() {
            if ids.is_valid(i) && !seen.insert(formatter.value(i).to_string()) {
                keep[i] = false;
                report.duplicates_dropped += 1;
            }
        }
        if report.duplicates_dropped > 0 {
            batch = filter_record_batch(&batch, &BooleanArray::from(keep))?;
        }
    }
    // Keep the schema's features and the label.
    let keep: Vec<usize> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name() == label || schema.feature(f.name()).is_some())
        .map(|(i, _)| i)
        .collect();
    let batch = batch.project(&keep)?;
    report.rows = batch.num_rows();
    report.columns = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let files = loaded.into_iter().flat_map(|l| l.files).collect();
    Ok((
        Loaded {
            batch,
            files,
            source_name: "the assembled data".into(),
        },
        report,
    ))
}

/// The partition's day from its Hive path (`…/date=YYYY-MM-DD/…`).
pub fn partition_date(path: &str) -> Option<chrono::NaiveDate> {
    let start = path.find("date=")? + 5;
    let text = path.get(start..start + 10)?;
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Splits partitions into those within `lookback_seconds` of `now` (by
/// their `date=` directory; a path without one is kept) and those outside.
pub fn within_lookback(
    partitions: &[String],
    lookback_seconds: Option<u64>,
    now: chrono::DateTime<chrono::Utc>,
) -> (Vec<String>, Vec<String>) {
    let Some(seconds) = lookback_seconds else {
        return (partitions.to_vec(), Vec::new());
    };
    let oldest = (now - chrono::Duration::seconds(seconds as i64)).date_naive();
    partitions
        .iter()
        .cloned()
        .partition(|p| partition_date(p).is_none_or(|d| d >= oldest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_columns_unlabelled_dropped_last_request_wins() {
        let dir = tempfile::tempdir().unwrap();
        let schema_path = dir.path().join("schema.toml");
        std::fs::write(
            &schema_path,
            "format = \"assay.schema/1\"\n[features.x]\ntype = \"float\"\n\
             [features.y]\ntype = \"int\"\nrole = \"label\"\n",
        )
        .unwrap();
        let schema = crate::schema::load(&schema_path).unwrap();
        let baseline = dir.path().join("baseline.csv");
        std::fs::write(&baseline, "id,x,y\na,1.0,0\nb,2.0,1\n").unwrap();
        // A partition: request `b` again (relabelled), `c` without a label,
        // `d` new, and a column the schema does not know.
        let partition = dir.path().join("part.csv");
        std::fs::write(&partition, "id,x,y,extra\nb,2.5,0,q\nc,3.0,,q\nd,4.0,1,q\n").unwrap();
        let inputs = vec![
            baseline.display().to_string(),
            partition.display().to_string(),
        ];
        let (loaded, report) = assemble(&inputs, &schema, "y", Some("id")).unwrap();
        assert_eq!(report.rows_read, 5);
        assert_eq!(report.unlabelled_dropped, 1);
        assert_eq!(report.duplicates_dropped, 1);
        assert_eq!(report.columns, vec!["x", "y"]);
        let x: Vec<f64> = loaded
            .batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .unwrap()
            .values()
            .to_vec();
        assert_eq!(x, vec![1.0, 2.5, 4.0], "b's later row, in time order");
    }

    #[test]
    fn lookback_by_partition_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .to_utc();
        let parts = vec![
            "/s/data/date=2026-11-01/window-a.parquet".to_string(),
            "/s/data/date=2026-12-06/window-b.parquet".to_string(),
            "/elsewhere/x.parquet".to_string(),
        ];
        let (inside, outside) = within_lookback(&parts, Some(3 * 86400), now);
        assert_eq!(inside, parts[1..].to_vec());
        assert_eq!(outside, parts[..1].to_vec());
        assert_eq!(within_lookback(&parts, None, now).0.len(), 3);
    }
}
