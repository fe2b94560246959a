use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;

use super::*;

const DAY: i64 = 86_400_000;
/// 2026-03-01T12:00:00Z.
const NOON: i64 = 1_772_366_400_000;

fn expected() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("x", DataType::Float64, true),
        Field::new("n", DataType::Int64, true),
    ]))
}

fn batch(ids: &[&str], x: &[f64]) -> RecordBatch {
    RecordBatch::try_new(
        expected(),
        vec![
            Arc::new(StringArray::from(ids.to_vec())),
            Arc::new(Float64Array::from(x.to_vec())),
            Arc::new(Int64Array::from(
                (0..ids.len() as i64).collect::<Vec<i64>>(),
            )),
        ],
    )
    .unwrap()
}

fn partitions(dir: &Path, config: DataConfig) -> Arc<Partitions> {
    Partitions::open("m", dir, &config, expected(), Some("id".into()), None).unwrap()
}

#[test]
fn a_window_is_one_hive_partition_of_zstd_parquet_that_readers_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = partitions(dir.path(), DataConfig::default());
    // A log written from an Arrow body holds the batch as it came: other
    // column order, an Int64 `x`, a column the window does not keep.
    let odd = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("extra", DataType::Utf8, true),
            Field::new("x", DataType::Int64, true),
            Field::new("id", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(StringArray::from(vec!["e"])),
            Arc::new(Int64Array::from(vec![7])),
            Arc::new(StringArray::from(vec!["r3"])),
        ],
    )
    .unwrap();
    let batches = [batch(&["r1", "r2"], &[0.5, 1.5]), odd];
    let path = data
        .write_window("m-000001", NOON, NOON + 60_000, &batches, NOON + 60_000)
        .unwrap();
    assert_eq!(
        path,
        dir.path()
            .join("data/date=2026-03-01/window-m-000001.parquet")
    );
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    for rg in builder.metadata().row_groups() {
        for c in rg.columns() {
            assert!(matches!(c.compression(), Compression::ZSTD(_)), "{c:?}");
        }
    }
    let rows: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let all = arrow::compute::concat_batches(&rows[0].schema(), &rows).unwrap();
    assert_eq!(all.num_rows(), 3);
    assert_eq!(
        all.schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        ["id", "x", "n"]
    );
    let x = all.column(1).as_primitive::<Float64Type>();
    assert_eq!(x.values().to_vec(), [0.5, 1.5, 7.0]);
    let n = all.column(2).as_primitive::<Int64Type>();
    assert!(n.is_null(2), "a column the batch lacked is null");

    // The footer, and the listing.
    let meta = read_meta(&path).unwrap();
    assert_eq!(meta.rows, 3);
    assert_eq!(meta.meta.window, "m-000001");
    assert!(meta.meta.is_final, "no labels to wait for");
    let (listed, problems) = data.list();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, "date=2026-03-01/window-m-000001.parquet");
    assert_eq!(listed[0].date, "2026-03-01");
    assert_eq!(listed[0].rows, 3);
    assert_eq!(listed[0].labelled, None);
    assert_eq!(listed[0].bytes, std::fs::metadata(&path).unwrap().len());

    // assay's own reader takes the partitions by glob, as a retrain job
    // would.
    let glob = format!("{}/data/date=*/*.parquet", dir.path().display());
    let profile = crate::pipeline::profile_inputs(
        &[glob],
        &crate::pipeline::ProfileRequest::default(),
        |_, _| {},
    )
    .unwrap();
    assert_eq!(profile.rows, 3);
}

#[test]
fn a_write_cut_short_is_never_seen_by_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let data = partitions(dir.path(), DataConfig::default());
    let path = data
        .write_window("m-000001", NOON, NOON, &[batch(&["a"], &[1.0])], NOON)
        .unwrap();
    // What a kill -9 in the middle of a write leaves: the temporary file,
    // half written, beside the partitions (the rename never happened).
    let partial = path.with_file_name("window-m-000002.tmp-assay");
    let whole = std::fs::read(&path).unwrap();
    std::fs::write(&partial, &whole[..whole.len() / 2]).unwrap();
    let (listed, problems) = data.list();
    assert_eq!(listed.len(), 1, "only the renamed file is a partition");
    assert!(problems.is_empty(), "{problems:?}");
    let glob = format!("{}/data/date=*/*.parquet", dir.path().display());
    let found: Vec<_> = glob::glob(&glob).unwrap().map(Result::unwrap).collect();
    assert_eq!(found, std::slice::from_ref(&path));
    // A rewrite replaces the file whole: a reader holding the old one
    // keeps reading it.
    let old = std::fs::File::open(&path).unwrap();
    data.write_window(
        "m-000001",
        NOON,
        NOON,
        &[batch(&["a", "b"], &[1.0, 2.0])],
        NOON,
    )
    .unwrap();
    let old_rows = ParquetRecordBatchReaderBuilder::try_new(old)
        .unwrap()
        .metadata()
        .file_metadata()
        .num_rows();
    assert_eq!(old_rows, 1);
    assert_eq!(read_meta(&path).unwrap().rows, 2);
}

#[test]
fn retention_drops_partitions_past_keep_days_then_the_oldest_past_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let keep = |days: u64, max_bytes: u64| {
        let config = DataConfig {
            enabled: true,
            keep_days: days,
            max_bytes,
        };
        partitions(dir.path(), config)
    };
    let now = NOON + 10 * DAY;
    // One window a day for ten days, kept a year.
    let data = keep(365, u64::MAX);
    let mut paths = Vec::new();
    for day in 0..10 {
        let at = NOON + day * DAY;
        let id = format!("m-{:06}", day + 1);
        paths.push(
            data.write_window(&id, at, at, &[batch(&["a", "b"], &[1.0, 2.0])], at)
                .unwrap(),
        );
    }
    let data = keep(3, u64::MAX);
    let deleted = data.enforce_retention(now, None);
    // keep_days = 3 on 2026-03-11: 2026-03-08 and later stay.
    assert_eq!(deleted, paths[..7].to_vec());
    let (listed, _) = data.list();
    let dates: Vec<&str> = listed.iter().map(|p| p.date.as_str()).collect();
    assert_eq!(dates, ["2026-03-08", "2026-03-09", "2026-03-10"]);
    assert!(
        !dir.path().join("data/date=2026-03-01").exists(),
        "empty date directories go"
    );

    // Over max_bytes: the oldest go first, the newest always stays.
    let size = listed[0].bytes;
    let small = keep(3, size * 2);
    let deleted = small.enforce_retention(now, None);
    assert_eq!(deleted, vec![paths[7].clone()]);
    let tiny = keep(3, 1);
    tiny.enforce_retention(now, Some(&paths[9]));
    let (left, _) = tiny.list();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].window, "m-000010");
}

#[test]
fn disabled_data_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let off = DataConfig {
        enabled: false,
        ..DataConfig::default()
    };
    assert!(Partitions::open("m", dir.path(), &off, expected(), None, None).is_none());
}

#[test]
fn a_label_column_is_added_or_replaced() {
    let rows = batch(&["a", "b"], &[1.0, 2.0]);
    let labels: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
    let with = labels::with_label(&rows, "label", labels).unwrap();
    assert_eq!(with.num_columns(), 4);
    let again: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(0)]));
    let replaced = labels::with_label(&with, "label", again).unwrap();
    assert_eq!(replaced.num_columns(), 4);
    assert_eq!(
        replaced
            .column_by_name("label")
            .unwrap()
            .as_primitive::<Int64Type>()
            .null_count(),
        0
    );
}
