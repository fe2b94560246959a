//! The profile of one batch as it came, for the per-batch schema check.
//!
//! The window's accumulator has just profiled the batch's columns, conformed
//! to the expected schema. Profiling the whole batch a second time for the
//! schema check cost about a fifth of the daemon's throughput under the
//! default checks (load generator with `--schema-check`, figures in
//! BENCHMARKS.md). A column that reached the window unchanged — same name,
//! same Arrow type, the role a plain profile gives it — has the profile a
//! plain profile would give it, so it is taken from there. Only the rest
//! (columns the window does not track, columns cast to the expected type,
//! columns with a configured role) is profiled here.

use std::collections::HashMap;

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::profile::table::{ProfileOptions, TableAccumulator, default_role};
use crate::profile::{ColumnAccumulator, ColumnProfile, Profile, ProfileError};

/// `window_part` must have been updated with exactly `batch`'s columns that
/// it tracks (the conformed batch), and with nothing else.
pub fn batch_profile(
    batch: &RecordBatch,
    window_part: &TableAccumulator,
) -> Result<Profile, ProfileError> {
    let schema = batch.schema();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for f in schema.fields() {
        *seen.entry(f.name().as_str()).or_default() += 1;
    }
    // The window's accumulator of each column it profiled unchanged.
    let reusable: Vec<Option<&ColumnAccumulator>> = schema
        .fields()
        .iter()
        .map(|f| {
            // A repeated name is profiled afresh: the window saw only the first.
            let c = window_part.column(f.name())?;
            (seen[f.name().as_str()] == 1
                && c.arrow_type == f.data_type().to_string()
                && c.role == default_role(f.name(), f.data_type()))
            .then_some(c)
        })
        .collect();
    let rest: Vec<usize> = (0..reusable.len())
        .filter(|&i| reusable[i].is_none())
        .collect();
    let rest_batch = batch
        .project(&rest)
        .map_err(|e| ProfileError::Invalid(e.to_string()))?;
    let mut fresh = TableAccumulator::new(&rest_batch.schema(), &ProfileOptions::default())?;
    fresh.update(&rest_batch)?;
    let mut fresh = fresh.finish();
    let reused: Vec<Option<ColumnProfile>> = reusable
        .par_iter()
        .map(|c| c.map(ColumnAccumulator::finish))
        .collect();
    let mut fresh_columns = std::mem::take(&mut fresh.columns).into_iter();
    let mut columns = Vec::with_capacity(reused.len());
    for column in reused {
        match column {
            Some(c) => columns.push(c),
            None => columns.extend(fresh_columns.next()),
        }
    }
    fresh.columns = columns;
    fresh.rows = batch.num_rows() as u64;
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, new_null_array};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::profile::ColumnRole;

    fn batch(rows: usize) -> RecordBatch {
        let ints: ArrayRef = Arc::new(Int64Array::from_iter(
            (0..rows as i64).map(|i| (i % 7 != 0).then_some(i * 37 % 1001)),
        ));
        let text: ArrayRef = Arc::new(StringArray::from_iter(
            (0..rows).map(|i| (i % 5 != 0).then(|| format!("v{}", i % 13))),
        ));
        let floats: ArrayRef = Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|i| i as f64 * 0.25),
        ));
        RecordBatch::try_from_iter([
            ("amount", ints.clone()),
            ("city", text),
            // Expected as Int64: cast on the way into the window.
            ("visits", floats.clone()),
            // Not tracked by the window.
            ("extra", floats),
            // Tracked with a configured role.
            ("segment", ints),
        ])
        .unwrap()
    }

    /// The window's part of a batch, as the daemon builds it: the expected
    /// columns, converted or filled with nulls.
    fn window_part(batch: &RecordBatch) -> TableAccumulator {
        let expected = Arc::new(Schema::new(vec![
            Field::new("amount", DataType::Int64, true),
            Field::new("city", DataType::Utf8, true),
            Field::new("visits", DataType::Int64, true),
            Field::new("segment", DataType::Int64, true),
            // Absent from the batch.
            Field::new("age", DataType::Float64, true),
        ]));
        let options = ProfileOptions {
            roles: vec![("segment".into(), ColumnRole::Label)],
            slices: vec![vec!["city".into()]],
            ..ProfileOptions::default()
        };
        let columns: Vec<ArrayRef> = expected
            .fields()
            .iter()
            .map(|f| match batch.column_by_name(f.name()) {
                Some(c) => cast(c, f.data_type()).unwrap(),
                None => new_null_array(f.data_type(), batch.num_rows()),
            })
            .collect();
        let conformed = RecordBatch::try_new(expected.clone(), columns).unwrap();
        let mut acc = TableAccumulator::new(&expected, &options).unwrap();
        acc.update(&conformed).unwrap();
        acc
    }

    fn plain_profile(batch: &RecordBatch) -> Profile {
        let mut acc = TableAccumulator::new(&batch.schema(), &ProfileOptions::default()).unwrap();
        acc.update(batch).unwrap();
        acc.finish()
    }

    #[test]
    fn is_the_profile_of_the_batch_as_it_came() {
        for rows in [0, 1, 999, 5000] {
            let batch = batch(rows);
            let got = batch_profile(&batch, &window_part(&batch)).unwrap();
            assert_eq!(got, plain_profile(&batch), "{rows} rows");
        }
    }

    #[test]
    fn reads_only_the_columns_the_window_did_not_profile_unchanged() {
        let batch = batch(100);
        // An empty window part: reused columns would be empty, so the
        // counts tell which columns were taken from it.
        let empty = window_part(&batch.slice(0, 0));
        let got = batch_profile(&batch, &empty).unwrap();
        let counts: Vec<(&str, u64)> = got
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.count + c.null_count))
            .collect();
        assert_eq!(
            counts,
            [
                ("amount", 0),
                ("city", 0),
                ("visits", 100),
                ("extra", 100),
                ("segment", 100)
            ]
        );
    }

    #[test]
    fn a_repeated_column_name_is_profiled_afresh() {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![7, 8]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("amount", DataType::Int64, true),
            Field::new("amount", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(schema, vec![a.clone(), a]).unwrap();
        let other = RecordBatch::try_from_iter([("amount", b)]).unwrap();
        let got = batch_profile(&batch, &window_part(&other)).unwrap();
        assert_eq!(got, plain_profile(&batch));
    }
}
