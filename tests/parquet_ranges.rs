//! A Parquet file with fewer row groups than partitions wanted is split into
//! row ranges of one group; the ranges must cover every row exactly once, in
//! order, so profiles and row positions are the same as an unsplit read.

use std::sync::Arc;

use arrow::array::{Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use assay::pipeline::{ProfileRequest, profile_inputs};
use assay::sources::{self, ReadOptions};

const ROWS: i64 = 5_000;

/// One row group of ROWS rows, with small data pages so a page index has
/// something to skip.
fn single_group_file(dir: &std::path::Path) -> String {
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("s", DataType::Utf8, true),
    ]));
    let n = Int64Array::from_iter_values(0..ROWS);
    let s = StringArray::from_iter((0..ROWS).map(|i| (i % 7 != 0).then(|| format!("v{}", i % 13))));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(n), Arc::new(s)]).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROWS as usize))
        .set_data_page_row_count_limit(256)
        .set_write_batch_size(256)
        .build();
    let path = dir.join("one_group.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema,
        Some(props),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path.display().to_string()
}

fn small_batches() -> ReadOptions {
    ReadOptions {
        batch_size: 100,
        ..ReadOptions::default()
    }
}

#[test]
fn row_ranges_cover_every_row_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = single_group_file(dir.path());
    let dataset = sources::open(std::slice::from_ref(&file), &small_batches()).unwrap();
    let threads = rayon::current_num_threads();
    if threads > 1 {
        assert!(
            dataset.partitions.len() > 1,
            "one group of {ROWS} rows with 100-row batches is split ({} partitions)",
            dataset.partitions.len()
        );
    }
    let mut seen = Vec::new();
    for partition in dataset.partitions {
        for batch in (partition.open)().unwrap() {
            let batch = batch.unwrap();
            let n = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            seen.extend(n.values().iter().copied());
        }
    }
    assert_eq!(seen, (0..ROWS).collect::<Vec<_>>());
}

#[test]
fn a_split_read_profiles_like_a_whole_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = single_group_file(dir.path());
    let split = profile_inputs(
        std::slice::from_ref(&file),
        &ProfileRequest {
            read: small_batches(),
            ..ProfileRequest::default()
        },
        |_, _| {},
    )
    .unwrap();
    // Default batches (65,536 rows) are larger than the file: no split.
    let whole = profile_inputs(
        std::slice::from_ref(&file),
        &ProfileRequest::default(),
        |_, _| {},
    )
    .unwrap();
    assert_eq!(split.rows, ROWS as u64);
    for (a, b) in split.columns.iter().zip(&whole.columns) {
        assert_eq!(a.count, b.count, "{}", a.name);
        assert_eq!(a.null_count, b.null_count, "{}", a.name);
        assert_eq!(a.min, b.min, "{}", a.name);
        assert_eq!(a.max, b.max, "{}", a.name);
        // Past 4,096 values distinct counts are HLL estimates, and a union
        // of sketches estimates differently from one sketch (within bounds).
        let (da, db) = (a.distinct.unwrap_or(0.0), b.distinct.unwrap_or(0.0));
        assert!((da - db).abs() <= 0.05 * db, "{}: {da} vs {db}", a.name);
        if a.distinct_exact == Some(true) {
            assert_eq!(a.top, b.top, "{}", a.name);
        }
    }
    let (a, b) = (
        split.columns[0].mean.unwrap(),
        whole.columns[0].mean.unwrap(),
    );
    assert!((a - b).abs() <= 1e-9 * b.abs());
}

#[test]
fn row_positions_of_unexpected_values_survive_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let file = single_group_file(dir.path());
    let suite = assay::expectations::parse_toml(
        "name = \"s\"\nresult_format = \"COMPLETE\"\n\
         [[expectations]]\ntype = \"expect_column_values_to_not_be_null\"\ncolumn = \"s\"\n",
        "s.toml",
    )
    .unwrap();
    let result =
        assay::expectations::validate_suite(std::slice::from_ref(&file), &small_batches(), &suite)
            .unwrap();
    let indices: Vec<u64> = result.results[0].result["unexpected_index_list"]
        .as_array()
        .expect("COMPLETE lists indices")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..ROWS as u64).filter(|i| i % 7 == 0).collect();
    assert_eq!(indices, expected);
}
