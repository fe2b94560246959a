//! Generates the benchmark table: a wide, seeded, synthetic table of any
//! length, written batch by batch so memory stays bounded.
//!
//! ```text
//! cargo run --release --example generate_bench_data -- --rows 10000000 -o /tmp/assay-bench/bench_10m.parquet
//! cargo run --release --example generate_bench_data -- --rows 1000000 --format csv -o /tmp/assay-bench/bench_1m.csv
//! ```
//!
//! 22 columns covering what a profile has to handle: floats (normal,
//! log-normal, uniform, with nulls, NaN, ±inf, zeros and negatives), ints
//! (ids, Poisson counts, a wide range, a 5-valued code), strings of low
//! (4–8 values), medium (~1,000 and ~5,000 values, Zipf-like) and high
//! cardinality (unique session ids, composed free text), booleans and a
//! timestamp. Parquet output is snappy-compressed with row groups of
//! `--row-group-size` rows (1,000,000 by default).
//!
//! Each batch has its own random stream derived from `--seed` and the batch
//! number, so batches are generated in parallel and the output is the same
//! for any number of threads.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use clap::{Parser, ValueEnum};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal, Poisson};
use rayon::prelude::*;

/// Generate the synthetic benchmark table (Parquet or CSV).
#[derive(Debug, Parser)]
struct Args {
    /// Number of rows.
    #[arg(long, default_value_t = 10_000_000)]
    rows: u64,
    /// Output file; parent directories are created.
    #[arg(short, long, default_value = "/tmp/assay-bench/bench_10m.parquet")]
    output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = 1_000_000)]
    row_group_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Parquet,
    Csv,
}

/// Rows per generated batch. Batches are generated a row group at a time
/// in parallel; this size keeps that working set near 200 MB.
const BATCH_ROWS: usize = 125_000;

const COUNTRIES: [(&str, f64); 8] = [
    ("US", 0.42),
    ("GB", 0.12),
    ("DE", 0.11),
    ("FR", 0.09),
    ("IN", 0.1),
    ("BR", 0.07),
    ("JP", 0.06),
    ("CA", 0.03),
];
const STATUSES: [(&str, f64); 4] = [
    ("active", 0.7),
    ("pending", 0.15),
    ("suspended", 0.1),
    ("closed", 0.05),
];
const ADJECTIVES: [&str; 12] = [
    "quick", "lazy", "red", "blue", "silent", "bright", "tiny", "giant", "happy", "odd", "green",
    "old",
];
const NOUNS: [&str; 12] = [
    "fox", "dog", "river", "mountain", "engine", "garden", "window", "signal", "paper", "market",
    "cloud", "stone",
];

fn schema() -> SchemaRef {
    let f = |name: &str, dt: DataType| Field::new(name, dt, true);
    Arc::new(Schema::new(vec![
        f("id", DataType::Int64),
        f(
            "event_time",
            DataType::Timestamp(TimeUnit::Microsecond, None),
        ),
        f("user_id", DataType::Int64),
        f("amount", DataType::Float64),
        f("score", DataType::Float64),
        f("temperature", DataType::Float64),
        f("ratio", DataType::Float64),
        f("balance", DataType::Float64),
        f("age", DataType::Int32),
        f("visits", DataType::Int64),
        f("category_code", DataType::Int64),
        f("big_int", DataType::Int64),
        f("country", DataType::Utf8),
        f("status", DataType::Utf8),
        f("city", DataType::Utf8),
        f("product", DataType::Utf8),
        f("session_id", DataType::Utf8),
        f("comment", DataType::Utf8),
        f("is_active", DataType::Boolean),
        f("clicked", DataType::Boolean),
        f("price", DataType::Float64),
        f("label", DataType::Int64),
    ]))
}

/// Precomputed distributions and vocabularies shared by all batches.
struct Generator {
    schema: SchemaRef,
    seed: u64,
    cities: Vec<String>,
    /// Products in popularity order; index drawn with a Zipf-like power law.
    products: Vec<String>,
    amount: LogNormal<f64>,
    temperature: Normal<f64>,
    balance: Normal<f64>,
    visits: Poisson<f64>,
}

/// Picks from a small weighted table by linear scan.
fn pick<R: Rng>(rng: &mut R, items: &[(&'static str, f64)]) -> &'static str {
    let mut x: f64 = rng.random();
    for (item, w) in items {
        if x < *w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// A power-law index in 0..n: small indexes are much more frequent.
fn zipf_index<R: Rng>(rng: &mut R, n: usize) -> usize {
    let u: f64 = rng.random();
    ((u.powi(3) * n as f64) as usize).min(n - 1)
}

impl Generator {
    fn new(seed: u64) -> Result<Self> {
        Ok(Self {
            schema: schema(),
            seed,
            cities: (0..1_000).map(|i| format!("city_{i:04}")).collect(),
            products: (0..5_000)
                .map(|i| format!("SKU-{:05}-{}", i * 7 + 13, NOUNS[i % 12]))
                .collect(),
            amount: LogNormal::new(3.5, 1.1)?,
            temperature: Normal::new(20.0, 6.0)?,
            balance: Normal::new(150.0, 900.0)?,
            visits: Poisson::new(3.0)?,
        })
    }

    /// Rows `start..start + len` of the table.
    fn batch(&self, index: u64, start: u64, len: usize) -> Result<RecordBatch> {
        // SplitMix-style mixing so neighbouring batches get unrelated streams.
        let stream = (self.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)).rotate_left(17);
        let mut rng = SmallRng::seed_from_u64(stream);
        let mut id = Int64Builder::with_capacity(len);
        let mut event_time = TimestampMicrosecondBuilder::with_capacity(len);
        let mut user_id = Int64Builder::with_capacity(len);
        let mut amount = Float64Builder::with_capacity(len);
        let mut score = Float64Builder::with_capacity(len);
        let mut temperature = Float64Builder::with_capacity(len);
        let mut ratio = Float64Builder::with_capacity(len);
        let mut balance = Float64Builder::with_capacity(len);
        let mut age = Int32Builder::with_capacity(len);
        let mut visits = Int64Builder::with_capacity(len);
        let mut category_code = Int64Builder::with_capacity(len);
        let mut big_int = Int64Builder::with_capacity(len);
        let mut country = StringBuilder::with_capacity(len, len * 2);
        let mut status = StringBuilder::with_capacity(len, len * 7);
        let mut city = StringBuilder::with_capacity(len, len * 9);
        let mut product = StringBuilder::with_capacity(len, len * 16);
        let mut session_id = StringBuilder::with_capacity(len, len * 16);
        let mut comment = StringBuilder::with_capacity(len, len * 20);
        let mut is_active = BooleanBuilder::with_capacity(len);
        let mut clicked = BooleanBuilder::with_capacity(len);
        let mut price = Float64Builder::with_capacity(len);
        let mut label = Int64Builder::with_capacity(len);

        // 2024-01-01T00:00:00 plus ~3 s per row: 10M rows span about a year.
        const EPOCH_US: i64 = 1_704_067_200_000_000;
        for offset in 0..len as u64 {
            let row = start + offset;
            id.append_value(row as i64);
            event_time
                .append_value(EPOCH_US + row as i64 * 3_000_000 + rng.random_range(0..3_000_000));
            user_id.append_value(rng.random_range(0..1_000_000));
            let a = self.amount.sample(&mut rng);
            amount.append_value(a);
            let s: f64 = rng.random();
            score.append_value(s);
            if rng.random_bool(0.02) {
                temperature.append_null();
            } else {
                temperature.append_value(self.temperature.sample(&mut rng));
            }
            match rng.random_range(0..10_000u32) {
                0..100 => ratio.append_value(f64::NAN),
                100..200 => ratio.append_null(),
                200 => ratio.append_value(f64::INFINITY),
                201 => ratio.append_value(f64::NEG_INFINITY),
                _ => ratio.append_value(rng.random::<f64>() * 2.0 - 0.5),
            }
            if rng.random_bool(0.05) {
                balance.append_value(0.0);
            } else {
                balance.append_value((self.balance.sample(&mut rng) * 100.0).round() / 100.0);
            }
            if rng.random_bool(0.01) {
                age.append_null();
            } else {
                age.append_value(18 + (rng.random::<f64>().powi(2) * 72.0) as i32);
            }
            visits.append_value(self.visits.sample(&mut rng) as i64);
            category_code.append_value([100, 200, 300, 400, 500][zipf_index(&mut rng, 5)]);
            big_int.append_value(rng.random_range(-1_000_000_000_000i64..1_000_000_000_000));
            country.append_value(pick(&mut rng, &COUNTRIES));
            if rng.random_bool(0.05) {
                status.append_null();
            } else {
                status.append_value(pick(&mut rng, &STATUSES));
            }
            city.append_value(&self.cities[zipf_index(&mut rng, self.cities.len())]);
            product.append_value(&self.products[zipf_index(&mut rng, self.products.len())]);
            session_id.append_value(format!("{:016x}", rng.random::<u64>()));
            match rng.random_range(0..100u32) {
                0..5 => comment.append_null(),
                5..15 => comment.append_value(""),
                _ => {
                    let adj = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
                    let noun = NOUNS[rng.random_range(0..NOUNS.len())];
                    comment.append_value(format!("{adj} {noun} #{}", rng.random_range(0..1000)));
                }
            }
            is_active.append_value(rng.random_bool(0.8));
            if rng.random_bool(0.03) {
                clicked.append_null();
            } else {
                clicked.append_value(rng.random_bool(0.1 + 0.3 * s));
            }
            price.append_value((a * 3.0).round() / 100.0);
            label.append_value(i64::from(rng.random_bool(0.05 + 0.5 * s * s)));
        }

        let columns: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(event_time.finish()),
            Arc::new(user_id.finish()),
            Arc::new(amount.finish()),
            Arc::new(score.finish()),
            Arc::new(temperature.finish()),
            Arc::new(ratio.finish()),
            Arc::new(balance.finish()),
            Arc::new(age.finish()),
            Arc::new(visits.finish()),
            Arc::new(category_code.finish()),
            Arc::new(big_int.finish()),
            Arc::new(country.finish()),
            Arc::new(status.finish()),
            Arc::new(city.finish()),
            Arc::new(product.finish()),
            Arc::new(session_id.finish()),
            Arc::new(comment.finish()),
            Arc::new(is_active.finish()),
            Arc::new(clicked.finish()),
            Arc::new(price.finish()),
            Arc::new(label.finish()),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// Where batches go.
enum Sink {
    Parquet(ArrowWriter<BufWriter<File>>),
    Csv(arrow::csv::Writer<BufWriter<File>>),
}

impl Sink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Self::Parquet(w) => w.write(batch)?,
            Self::Csv(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Self::Parquet(w) => {
                w.close()?;
            }
            Self::Csv(w) => {
                w.into_inner().flush()?;
            }
        }
        Ok(())
    }
}

fn run(args: Args) -> Result<()> {
    if args.row_group_size == 0 {
        anyhow::bail!("--row-group-size must be at least 1");
    }
    let generator = Generator::new(args.seed)?;
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = File::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let mut sink = match args.format {
        Format::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(args.row_group_size))
                .build();
            Sink::Parquet(ArrowWriter::try_new(
                out,
                generator.schema.clone(),
                Some(props),
            )?)
        }
        Format::Csv => Sink::Csv(
            arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out),
        ),
    };

    let started = Instant::now();
    let batches = args.rows.div_ceil(BATCH_ROWS as u64);
    // Generate a row group's worth of batches in parallel, then write them in
    // order; at most one group is held in memory.
    let per_group = (args.row_group_size.div_ceil(BATCH_ROWS)).max(1) as u64;
    let mut next = 0u64;
    while next < batches {
        let end = (next + per_group).min(batches);
        let group: Vec<RecordBatch> = (next..end)
            .into_par_iter()
            .map(|b| {
                let start = b * BATCH_ROWS as u64;
                let len = (args.rows - start).min(BATCH_ROWS as u64) as usize;
                generator.batch(b, start, len)
            })
            .collect::<Result<_>>()?;
        for batch in &group {
            sink.write(batch)?;
        }
        next = end;
        let done = (next * BATCH_ROWS as u64).min(args.rows);
        eprint!(
            "\r{done} / {} rows ({:.1} s)",
            args.rows,
            started.elapsed().as_secs_f64()
        );
    }
    sink.finish()?;
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "\nwrote {} ({} rows, {:.1} MB) in {:.1} s",
        args.output.display(),
        args.rows,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
