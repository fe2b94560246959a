//! Uniqueness expectations on 1M rows, through the library's public path
//! (`evaluate_batches` with a one-expectation suite, batches of 16,384 rows
//! as the file readers yield them), and the exact-duplicate strategies the
//! implementation chose between.
//!
//! ```text
//! cargo bench --bench unique                       # everything
//! cargo bench --bench unique -- unique_1m          # the expectations only
//! cargo bench --profile perf --bench unique        # quicker to build
//! ```
//!
//! `unique_1m/*`: `expect_column_values_to_be_unique` on int64 ids (a random
//! permutation, and sorted), on ids with 1% of the rows repeating a value,
//! on 16-character hex strings (unique, and 1% repeated);
//! `expect_compound_columns_to_be_unique` on (int64, string) and
//! `expect_select_column_values_to_be_unique_within_record` on three int64
//! and three string columns. Goals (issue 31): ≤ 50 ms for int64, ≤ 150 ms
//! for short strings.
//!
//! `dedup_strategies/*`: finding the repeated values among 1M random u64
//! prints with rayon's parallel sort (what `unique.rs` does), the standard
//! library's sort, and counting in a foldhash map.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use assay::expectations::{evaluate_batches, parse_toml};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

const ROWS: usize = 1_000_000;
const BATCH: usize = 16_384;

/// `ROWS` ids: a random permutation of 0..ROWS, or sorted; with `repeat`,
/// that share of the rows takes another row's value.
fn ids(seed: u64, sorted: bool, repeat: f64) -> Vec<i64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut v: Vec<i64> = (0..ROWS as i64).collect();
    if !sorted {
        v.shuffle(&mut rng);
    }
    for i in 0..ROWS {
        if rng.random_bool(repeat) {
            v[i] = v[rng.random_range(0..ROWS)];
        }
    }
    v
}

fn hex(values: &[i64], seed: u64) -> Vec<String> {
    // A fixed bijection of the id, so that repeats stay repeats.
    let mix = |x: u64| {
        let x = (x ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    };
    values
        .iter()
        .map(|v| format!("{:016x}", mix(*v as u64)))
        .collect()
}

fn batches(columns: &[(&str, ArrayRef)]) -> Vec<RecordBatch> {
    (0..ROWS)
        .step_by(BATCH)
        .map(|start| {
            let len = BATCH.min(ROWS - start);
            RecordBatch::try_from_iter(
                columns
                    .iter()
                    .map(|(name, a)| (name.to_string(), a.slice(start, len))),
            )
            .expect("batch")
        })
        .collect()
}

fn int_column(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}

fn text_column(v: &[String]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

fn expectations(c: &mut Criterion) {
    let unique_ids = ids(1, false, 0.0);
    let cases: Vec<(&str, &str, Vec<RecordBatch>)> = vec![
        (
            "int64_unique",
            "type = \"expect_column_values_to_be_unique\"\ncolumn = \"a\"",
            batches(&[("a", int_column(unique_ids.clone()))]),
        ),
        (
            "int64_sorted",
            "type = \"expect_column_values_to_be_unique\"\ncolumn = \"a\"",
            batches(&[("a", int_column(ids(1, true, 0.0)))]),
        ),
        (
            "int64_1pct_repeated",
            "type = \"expect_column_values_to_be_unique\"\ncolumn = \"a\"",
            batches(&[("a", int_column(ids(2, false, 0.01)))]),
        ),
        (
            "str16_unique",
            "type = \"expect_column_values_to_be_unique\"\ncolumn = \"s\"",
            batches(&[("s", text_column(&hex(&unique_ids, 7)))]),
        ),
        (
            "str16_1pct_repeated",
            "type = \"expect_column_values_to_be_unique\"\ncolumn = \"s\"",
            batches(&[("s", text_column(&hex(&ids(3, false, 0.01), 7)))]),
        ),
        (
            "compound_int64_str16",
            "type = \"expect_compound_columns_to_be_unique\"\ncolumn_list = [\"a\", \"s\"]",
            batches(&[
                ("a", int_column(ids(4, false, 0.0))),
                ("s", text_column(&hex(&ids(5, false, 0.0), 7))),
            ]),
        ),
        (
            "within_record_3_int64",
            "type = \"expect_select_column_values_to_be_unique_within_record\"\ncolumn_list = [\"a\", \"b\", \"c\"]",
            batches(&[
                ("a", int_column(ids(6, false, 0.0))),
                ("b", int_column(ids(7, false, 0.0))),
                ("c", int_column(ids(8, false, 0.0))),
            ]),
        ),
        (
            "within_record_3_str16",
            "type = \"expect_select_column_values_to_be_unique_within_record\"\ncolumn_list = [\"a\", \"b\", \"c\"]",
            batches(&[
                ("a", text_column(&hex(&ids(6, false, 0.0), 1))),
                ("b", text_column(&hex(&ids(7, false, 0.0), 1))),
                ("c", text_column(&hex(&ids(8, false, 0.0), 1))),
            ]),
        ),
    ];
    let mut group = c.benchmark_group("unique_1m");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(6));
    for (name, body, data) in &cases {
        let suite = parse_toml(&format!("[[expectations]]\n{body}\n"), "bench.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(*name, |b| {
            b.iter(|| black_box(evaluate_batches(&suite, data).expect("evaluate")))
        });
    }
    group.finish();
}

/// Values occurring more than once: sort, then compare neighbours.
fn repeated_sorted(mut v: Vec<u64>, parallel: bool) -> usize {
    if parallel {
        v.par_sort_unstable();
    } else {
        v.sort_unstable();
    }
    v.windows(2).filter(|w| w[0] == w[1]).count()
}

/// Values occurring more than once: count in a hash map.
fn repeated_hashed(v: &[u64]) -> usize {
    let mut counts: foldhash::HashMap<u64, u32> =
        foldhash::HashMap::with_capacity_and_hasher(v.len(), Default::default());
    for x in v {
        *counts.entry(*x).or_default() += 1;
    }
    counts.values().filter(|c| **c > 1).count()
}

fn strategies(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(9);
    let prints: Vec<u64> = (0..ROWS).map(|_| rng.random()).collect();
    let mut group = c.benchmark_group("dedup_strategies");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("par_sort_unstable", |b| {
        b.iter(|| black_box(repeated_sorted(prints.clone(), true)))
    });
    group.bench_function("sort_unstable", |b| {
        b.iter(|| black_box(repeated_sorted(prints.clone(), false)))
    });
    group.bench_function("foldhash_map", |b| {
        b.iter(|| black_box(repeated_hashed(&prints)))
    });
    group.finish();
}

criterion_group!(benches, expectations, strategies);
criterion_main!(benches);
