//! Decoding the daemon's JSON ingest bodies (`assay::sources::payload::decode`)
//! into Arrow record batches, in rows per second.
//!
//! The body is the load generator's (examples/loadgen.rs): 1,000 rows × 30
//! features, two thirds floats and one third strings of 20 categories, as a
//! JSON array of row objects and as columnar JSON. Each is decoded with the
//! expected schema (as the daemon does: it knows the baseline's) and without
//! it (types inferred); and the rows body with the schema in two halves on
//! two cores, as the daemon decodes a body that arrives alone.
//!
//! ```text
//! cargo bench --bench payload
//! ```

use std::hint::black_box;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use assay::sources::payload::{Cores, decode, decode_on};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;

#[path = "common/load.rs"]
mod load;

use load::{batch, schema};

const ROWS: usize = 1000;
const FEATURES: usize = 30;

/// A JSON array of row objects, written as the load generator writes it.
fn rows_body(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = arrow::json::ArrayWriter::new(&mut out);
    w.write(batch).expect("rows written");
    w.finish().expect("rows finished");
    out
}

/// `{"columns": {"f0": [...], ...}}` holding the same values.
fn columns_body(batch: &RecordBatch) -> Vec<u8> {
    let mut columns = serde_json::Map::new();
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let values: Vec<serde_json::Value> = match array.data_type() {
            DataType::Utf8 => array
                .as_string::<i32>()
                .iter()
                .map(|v| serde_json::Value::from(v.expect("no nulls")))
                .collect(),
            _ => array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| serde_json::Value::from(v.expect("no nulls")))
                .collect(),
        };
        columns.insert(field.name().clone(), serde_json::Value::Array(values));
    }
    serde_json::to_vec(&serde_json::json!({ "columns": columns })).expect("columns body")
}

fn bench(c: &mut Criterion) {
    let schema = schema(FEATURES);
    let batch = batch(&schema, ROWS, &mut StdRng::seed_from_u64(2));
    let bodies = [
        ("json_rows", rows_body(&batch)),
        ("json_columns", columns_body(&batch)),
    ];
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (format, body) in &bodies {
        for (with, expected) in [("schema", Some(schema.as_ref())), ("inferred", None)] {
            let decoded = decode("application/json", body, expected, None).expect("decodes");
            assert_eq!(decoded.batch.num_rows(), ROWS);
            assert_eq!(decoded.batch.num_columns(), FEATURES);
            group.bench_with_input(BenchmarkId::new(*format, with), body, |b, body| {
                b.iter(|| decode("application/json", black_box(body), expected, None))
            });
        }
    }
    // The daemon's decoding of a body alone on it: in two halves on the
    // rayon pool (`decode_on(.., Cores::Two)`).
    let body = &bodies[0].1;
    group.bench_with_input(
        BenchmarkId::new("json_rows", "schema_two_cores"),
        body,
        |b, body| {
            b.iter(|| {
                decode_on(
                    "application/json",
                    black_box(body),
                    Some(schema.as_ref()),
                    None,
                    Cores::Two,
                )
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
