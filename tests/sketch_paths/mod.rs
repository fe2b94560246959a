//! What the sketch accuracy suites share: seeded columns of the shapes that
//! stress sketches, and the two ways production turns batches into a
//! profile whose sketches every later number is read from:
//!
//! - **the profiler** ([`profile_file`]): a Parquet file with several row
//!   groups, read by `assay profile`'s own pipeline (`profile_inputs`:
//!   partitions on the rayon pool, each fed the reader's batches, merged);
//! - **the daemon** ([`profile_window`]): each request's batch profiled by
//!   an accumulator of its own, merged into the window's accumulator, the
//!   window finished (what `ModelRuntime::commit` and the close do).
#![allow(dead_code)]

pub mod exact;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal, Pareto, Poisson, Zipf};

use assay::pipeline::{ProfileRequest, profile_inputs};
use assay::profile::{Profile, ProfileOptions, TableAccumulator};

/// Rows per Parquet row group: a file of 10⁶ rows has 16, so the profiler
/// reads it as several partitions and merges them.
pub const ROW_GROUP: usize = 65_536;

/// A numeric column's distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Uniform,
    Normal,
    LogNormal,
    /// 90% zeros, the rest lognormal with σ = 2 (a heavy tail).
    ZeroInflated,
    /// Pareto with tail index 2.5: finite variance, heavy tail.
    Pareto,
    /// Poisson(4) counts, as integers.
    Poisson,
}

pub const FLOAT_SHAPES: [Shape; 5] = [
    Shape::Uniform,
    Shape::Normal,
    Shape::LogNormal,
    Shape::ZeroInflated,
    Shape::Pareto,
];

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Normal => "normal",
            Self::LogNormal => "lognormal",
            Self::ZeroInflated => "zero_inflated",
            Self::Pareto => "pareto",
            Self::Poisson => "poisson",
        }
    }

    /// `n` values drawn from the shape.
    pub fn draw(self, n: usize, rng: &mut StdRng) -> Vec<f64> {
        let normal = Normal::new(0.0, 1.0).unwrap();
        let lognormal = LogNormal::new(0.0, 1.0).unwrap();
        let heavy = LogNormal::new(0.0, 2.0).unwrap();
        let pareto = Pareto::new(1.0, 2.5).unwrap();
        let poisson = Poisson::new(4.0).unwrap();
        (0..n)
            .map(|_| match self {
                Self::Uniform => rng.random(),
                Self::Normal => normal.sample(rng),
                Self::LogNormal => lognormal.sample(rng),
                Self::ZeroInflated => {
                    if rng.random::<f64>() < 0.9 {
                        0.0
                    } else {
                        heavy.sample(rng)
                    }
                }
                Self::Pareto => pareto.sample(rng),
                Self::Poisson => poisson.sample(rng),
            })
            .collect()
    }
}

/// A random stream per (purpose, size, seed), so every column and side is
/// independent of the others.
pub fn rng(purpose: u64, n: usize, seed: u64) -> StdRng {
    StdRng::seed_from_u64(
        purpose
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((n as u64) << 20)
            .wrapping_add(seed),
    )
}

/// Zipf-distributed codes `c0`, `c1`, … over `values` values (a few heavy
/// hitters and a long tail), as text.
pub fn zipf_codes(n: usize, values: u64, exponent: f64, rng: &mut StdRng) -> Vec<String> {
    let zipf = Zipf::new(values as f64, exponent).unwrap();
    (0..n)
        .map(|_| format!("c{}", zipf.sample(rng) as u64 - 1))
        .collect()
}

pub fn float_column(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

pub fn int_column(values: &[f64]) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(
        values.iter().map(|&v| v as i64),
    ))
}

pub fn string_column(values: &[String]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// One table from named columns (nullable fields, as files have them).
pub fn table(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("columns of one length")
}

/// Writes `batch` as Parquet with row groups of [`ROW_GROUP`] rows.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = File::create(path).expect("create parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}

/// `assay profile`'s path: the table written as Parquet in `dir` and read
/// back by the profiling pipeline.
pub fn profile_file(dir: &Path, name: &str, batch: &RecordBatch) -> (PathBuf, Profile) {
    let path = dir.join(format!("{name}.parquet"));
    write_parquet(&path, batch);
    let profile = profile_inputs(
        &[path.display().to_string()],
        &ProfileRequest::default(),
        |_, _| {},
    )
    .expect("profile the file");
    (path, profile)
}

/// The daemon's path: one accumulator per request of `request_rows` rows,
/// each merged into the window's accumulator, the window finished.
pub fn profile_window(batch: &RecordBatch, request_rows: usize) -> Profile {
    let schema = batch.schema();
    let options = ProfileOptions::default();
    let template = TableAccumulator::new(&schema, &options).expect("accumulator");
    let mut window = template.clone();
    let mut start = 0;
    while start < batch.num_rows() {
        let len = request_rows.min(batch.num_rows() - start);
        let mut request = template.clone();
        request.update(&batch.slice(start, len)).expect("update");
        window.merge(&request).expect("merge");
        start += len;
    }
    window.finish()
}

/// How a profile was made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Route {
    /// [`profile_file`].
    Profiler,
    /// [`profile_window`] with requests of this many rows.
    Daemon(usize),
}

/// The requests' size for a window of `n` rows: 1,000-row requests (the load
/// generator's) up to 10⁵ rows, 10,000-row requests above, which keeps the
/// dev-profile run short while the window still merges 100 sketches.
pub fn request_rows(n: usize) -> usize {
    if n > 100_000 { 10_000 } else { 1_000 }
}

/// The profile of `batch` made the `route` way (`dir` holds the file).
pub fn profile(route: Route, dir: &Path, name: &str, batch: &RecordBatch) -> Profile {
    match route {
        Route::Profiler => profile_file(dir, name, batch).1,
        Route::Daemon(rows) => profile_window(batch, rows),
    }
}

/// The values sorted (total order), for exact ranks.
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut out = values.to_vec();
    out.sort_by(f64::total_cmp);
    out
}

/// Whether the column's Arrow type is an integer type.
pub fn is_int(array: &ArrayRef) -> bool {
    matches!(array.data_type(), DataType::Int64)
}
