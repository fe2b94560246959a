//! Profiling throughput.
//!
//! Four groups:
//! - `accumulate`: `TableAccumulator::update` on in-memory batches of each
//!   column kind (no I/O), in rows per second — the hot path of every command
//!   and of the daemon's windows.
//! - `moments`: the moments and counts of a 10,000-value float column
//!   (`NumericState::update_slice` without the quantile sketch).
//! - `kll_batch`: a fresh KLL sketch taking a column at once.
//! - `profile_file`: the whole `assay profile` pipeline (read, decode, profile
//!   in parallel, merge, finish) on the file named by `ASSAY_BENCH_FILE`,
//!   e.g. the 10M-row table from
//!   `cargo run --release --example generate_bench_data`. Skipped when the
//!   variable is unset, so `cargo test --all-targets` only runs `accumulate`
//!   once on small batches.
//!
//! ```text
//! cargo bench --bench profile
//! ASSAY_BENCH_FILE=/tmp/assay-bench/bench_10m.parquet cargo bench --bench profile -- profile_file
//! ```
//!
//! `scripts/bench.sh` compares the release binary against Python polars and
//! whylogs as whole processes; see BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use assay::pipeline::{ProfileRequest, profile_inputs};
use assay::profile::kll::Kll;
use assay::profile::numeric::NumericState;
use assay::profile::table::{ProfileOptions, TableAccumulator};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Rows per synthetic batch: one read batch of the sources.
const BATCH_ROWS: usize = 65_536;

fn column_batches() -> Vec<(&'static str, RecordBatch)> {
    let mut rng = SmallRng::seed_from_u64(7);
    let n = BATCH_ROWS;
    let floats: ArrayRef = Arc::new(Float64Array::from_iter((0..n).map(|_| {
        let x: f64 = rng.random::<f64>() * 1e4 - 100.0;
        (rng.random::<f64>() > 0.05).then_some(x)
    })));
    let ints: ArrayRef = Arc::new(Int64Array::from_iter(
        (0..n).map(|_| Some(rng.random_range(0..1_000_000i64))),
    ));
    let codes: ArrayRef = Arc::new(Int64Array::from_iter(
        (0..n).map(|_| Some(rng.random_range(0..5i64))),
    ));
    let words: Vec<String> = (0..1000).map(|i| format!("category_{i:04}")).collect();
    let strings: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|_| Some(words[rng.random_range(0..words.len())].as_str())),
    ));
    let unique: ArrayRef =
        Arc::new(StringArray::from_iter((0..n).map(|i| {
            Some(format!("session-{i:08x}-{}", rng.random::<u32>()))
        })));
    let keys = arrow::array::Int32Array::from_iter_values(
        (0..n).map(|_| rng.random_range(0..words.len() as i32)),
    );
    let dictionary: ArrayRef = Arc::new(
        DictionaryArray::<Int32Type>::try_new(
            keys,
            Arc::new(StringArray::from_iter_values(&words)),
        )
        .expect("valid dictionary"),
    );
    let bools: ArrayRef = Arc::new(BooleanArray::from_iter(
        (0..n).map(|_| Some(rng.random::<bool>())),
    ));
    let times: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values(
        (0..n).map(|_| 1_700_000_000_000_000 + rng.random_range(0..86_400_000_000i64)),
    ));
    let one = |name: &str, array: ArrayRef| {
        RecordBatch::try_from_iter([(name, array)]).expect("one-column batch")
    };
    vec![
        ("float", one("amount", floats)),
        ("int_wide", one("count", ints)),
        ("int_code", one("code", codes)),
        ("string_1k", one("city", strings)),
        ("string_dict_1k", one("city", dictionary)),
        ("string_unique", one("session", unique)),
        ("bool", one("flag", bools)),
        ("timestamp", one("ts", times)),
    ]
}

fn accumulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("accumulate");
    group.throughput(Throughput::Elements(BATCH_ROWS as u64));
    for (kind, batch) in column_batches() {
        let schema: &Schema = &batch.schema();
        group.bench_with_input(BenchmarkId::from_parameter(kind), &batch, |b, batch| {
            b.iter(|| {
                let mut acc =
                    TableAccumulator::new(schema, &ProfileOptions::default()).expect("accumulator");
                acc.update(black_box(batch)).expect("update");
                black_box(acc.finish())
            })
        });
    }
    group.finish();
}

/// The moments and counts of one daemon batch's float column, with and
/// without nulls (no quantile sketch: `kll_batch` measures that).
fn moments(c: &mut Criterion) {
    let mut group = c.benchmark_group("moments");
    let mut rng = SmallRng::seed_from_u64(7);
    let rows = 10_000;
    let values: Vec<f64> = (0..rows)
        .map(|_| rng.random::<f64>() * 1e4 - 100.0)
        .collect();
    let nulls = NullBuffer::from_iter((0..rows).map(|_| rng.random::<f64>() > 0.05));
    group.throughput(Throughput::Elements(rows as u64));
    for (name, nulls) in [("dense", None), ("nulls", Some(&nulls))] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut state = NumericState::default();
                state.update_slice(black_box(&values), nulls, |v| v, false);
                black_box(state)
            })
        });
    }
    group.finish();
}

/// A fresh KLL sketch taking one batch's column at once, as the daemon
/// sketches every batch before merging it into the window.
fn kll_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("kll_batch");
    let mut rng = SmallRng::seed_from_u64(7);
    for rows in [1_000usize, 10_000] {
        let values: Vec<f64> = (0..rows)
            .map(|_| rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>())
            .collect();
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::from_parameter(rows), &values, |b, values| {
            b.iter(|| {
                let mut sketch = Kll::default();
                sketch.update_batch(black_box(values).iter().copied());
                black_box(sketch)
            })
        });
    }
    group.finish();
}

fn profile_file(c: &mut Criterion) {
    let Some(path) = std::env::var_os("ASSAY_BENCH_FILE") else {
        eprintln!("profile_file: ASSAY_BENCH_FILE is not set; skipped");
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let mut group = c.benchmark_group("profile_file");
    group.sample_size(10);
    let request = ProfileRequest::default();
    let mut rows = 0;
    group.bench_function("profile", |b| {
        b.iter(|| {
            let profile = profile_inputs(std::slice::from_ref(&path), &request, |_, _| {})
                .expect("profile the bench file");
            rows = profile.rows;
            black_box(profile)
        })
    });
    group.finish();
    eprintln!("profile_file: {rows} rows in {path}");
}

criterion_group!(benches, accumulate, moments, kll_batch, profile_file);
criterion_main!(benches);
