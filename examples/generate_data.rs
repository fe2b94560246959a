//! Generates the example credit-scoring data in `examples/data/`.
//!
//! ```text
//! cargo run --example generate_data                        # the committed data (seed 42)
//! cargo run --example generate_data -- --help
//! ```
//!
//! Writes, into `--out-dir` (default `examples/data`):
//! - `train.parquet` and `train.csv`: the same ~20,000 labelled loan applications;
//! - `serving.parquet`: ~10,000 later applications, as a model server logs
//!   them: features and `prediction`, but no `label` (labels arrive later).
//!
//! Columns: `application_id` (unique string id), `customer_id` (int id; returning
//! customers repeat), `applied_at` (timestamp, µs, UTC wall-clock time without a time zone; training January–March
//! 2024, serving April–May 2024), `age` (right-skewed int, ~1% null), `income`
//! (log-normal float, ~5% null, more often missing for the self-employed),
//! `loan_amount`, `loan_term_months` (12/24/36/48/60: an int that is really
//! categorical), `credit_score` (300–850), `num_open_accounts` (Poisson),
//! `debt_to_income` (a few NaN), `employment_status`, `home_ownership`,
//! `purpose` (Zipf-like over 10 values), `state` (51 codes), `sex` (F/M, ~2%
//! null), `race` (5 skewed values), `has_cosigner`, `is_first_loan`,
//! `employer_title` (free text: composed job titles, inconsistent casing,
//! empty strings and nulls), `prediction` (the model's default probability)
//! and `label` (1 = the loan defaulted), drawn from the features plus
//! unobserved noise so that the model is good but not perfect.
//!
//! Faults and drift for later scenarios (applied to the serving set unless
//! `--apply-to` says otherwise; every flag but `--only` is repeatable):
//! - `--drift COL=FACTOR`: multiply a numeric column (`--drift income=0.001`:
//!   a unit bug);
//! - `--shift COL=DELTA`: add to a numeric column (`--shift age=5`);
//! - `--null-rate COL=P`: make a share P of the values null;
//! - `--new-category COL=VALUE:P`: replace a share P of a categorical (string
//!   or int) column's values with a value training never saw;
//! - `--drop-column COL`: remove a column;
//! - `--only serving|train`: write only one of the sets.
//!
//! Faults hit the features before the model scores them, so `prediction`
//! reacts to them as a deployed model would, while `label` follows the
//! unfaulted features: a broken pipeline degrades the model's quality. Faults
//! use their own random stream, so the rows they do not touch are identical
//! to the unfaulted run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use clap::{Parser, ValueEnum};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, LogNormal, Normal, Poisson};

#[path = "generate_data/population.rs"]
mod population;
use population::{
    PURPOSES, RACES, STATES, employer_title, employment_for, home_for, latent_income, pick,
    term_for,
};

/// Generate the example credit-scoring training and serving data.
#[derive(Debug, Parser)]
#[command(after_help = "Examples:\n  \
    cargo run --example generate_data\n  \
    cargo run --example generate_data -- --only serving --out-dir /tmp/drifted \\\n      \
    --drift income=0.001 --null-rate age=0.3 --new-category purpose=crypto:0.2")]
struct Args {
    /// Directory to write train.parquet, train.csv and serving.parquet into.
    #[arg(long, default_value = "examples/data")]
    out_dir: PathBuf,
    /// Random seed; the same seed and flags give byte-identical files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rows in the training set.
    #[arg(long, default_value_t = 20_000)]
    rows_train: usize,
    /// Rows in the serving set.
    #[arg(long, default_value_t = 10_000)]
    rows_serving: usize,
    /// Write only one of the two sets.
    #[arg(long, value_enum)]
    only: Option<Set>,
    /// Which set the fault flags below apply to.
    #[arg(long, value_enum, default_value_t = ApplyTo::Serving)]
    apply_to: ApplyTo,
    /// Multiply a numeric column by FACTOR, e.g. `income=1.3`.
    #[arg(long, value_name = "COL=FACTOR", value_parser = parse_col_f64)]
    drift: Vec<(String, f64)>,
    /// Add DELTA to a numeric column, e.g. `age=5`.
    #[arg(long, value_name = "COL=DELTA", value_parser = parse_col_f64)]
    shift: Vec<(String, f64)>,
    /// Make a share P (0..=1) of a column's values null, e.g. `income=0.4`.
    #[arg(long, value_name = "COL=P", value_parser = parse_col_share)]
    null_rate: Vec<(String, f64)>,
    /// Replace a share P of a categorical column with an unseen VALUE, e.g. `state=XX:0.1`.
    #[arg(long, value_name = "COL=VALUE:P", value_parser = parse_new_category)]
    new_category: Vec<NewCategory>,
    /// Remove a column from the output.
    #[arg(long, value_name = "COL")]
    drop_column: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Set {
    Train,
    Serving,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ApplyTo {
    Train,
    Serving,
    Both,
}

#[derive(Debug, Clone)]
struct NewCategory {
    column: String,
    value: String,
    share: f64,
}

fn parse_col_f64(text: &str) -> Result<(String, f64), String> {
    let (col, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected COL=NUMBER, got `{text}`"))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number (in `{text}`)"))?;
    if col.trim().is_empty() || !value.is_finite() {
        return Err(format!(
            "expected COL=NUMBER with a finite number, got `{text}`"
        ));
    }
    Ok((col.trim().to_string(), value))
}

fn parse_col_share(text: &str) -> Result<(String, f64), String> {
    let (col, share) = parse_col_f64(text)?;
    if !(0.0..=1.0).contains(&share) {
        return Err(format!("the share in `{text}` must be between 0 and 1"));
    }
    Ok((col, share))
}

fn parse_new_category(text: &str) -> Result<NewCategory, String> {
    let (col, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("expected COL=VALUE:P, got `{text}`"))?;
    let (value, share) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("expected COL=VALUE:P, got `{text}`"))?;
    let share: f64 = share
        .trim()
        .parse()
        .map_err(|_| format!("`{share}` is not a share in `{text}`"))?;
    if !(0.0..=1.0).contains(&share) {
        return Err(format!("the share in `{text}` must be between 0 and 1"));
    }
    Ok(NewCategory {
        column: col.trim().to_string(),
        value: value.to_string(),
        share,
    })
}

/// One column of the generated table. Nullable everywhere so that
/// `--null-rate` can reach any column.
#[derive(Debug, Clone)]
enum Data {
    Str(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    /// Microseconds since the Unix epoch, UTC.
    Time(Vec<Option<i64>>),
}

#[derive(Debug, Clone)]
struct Column {
    name: &'static str,
    data: Data,
}

#[derive(Debug, Clone, Default)]
struct Table {
    columns: Vec<Column>,
}

impl Table {
    fn push(&mut self, name: &'static str, data: Data) {
        self.columns.push(Column { name, data });
    }

    fn get(&self, name: &str) -> Option<&Data> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.data)
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut Data> {
        let known: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        self.columns
            .iter_mut()
            .find(|c| c.name == name)
            .map(|c| &mut c.data)
            .with_context(|| format!("unknown column `{name}`; columns: {}", known.join(", ")))
    }

    /// A numeric value as the model reads it (ints widened); None when the
    /// column is missing, null, NaN or not numeric.
    fn num(&self, name: &str, row: usize) -> Option<f64> {
        let v = match self.get(name)? {
            Data::Int(v) => v.get(row).copied().flatten().map(|x| x as f64),
            Data::Float(v) => v.get(row).copied().flatten(),
            _ => None,
        };
        v.filter(|x| x.is_finite())
    }

    fn text(&self, name: &str, row: usize) -> Option<&str> {
        match self.get(name)? {
            Data::Str(v) => v.get(row).and_then(|s| s.as_deref()),
            _ => None,
        }
    }

    fn flag(&self, name: &str, row: usize) -> Option<bool> {
        match self.get(name)? {
            Data::Bool(v) => v.get(row).copied().flatten(),
            _ => None,
        }
    }
}

/// SplitMix64: derives independent seeds for the sets and fault streams.
fn sub_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A random-looking but unique id: multiplying by an odd constant and xoring
/// are bijections on 48-bit integers, so distinct inputs give distinct ids.
fn application_id(n: u64) -> String {
    const MASK: u64 = (1 << 48) - 1;
    let x = (n.wrapping_mul(0x5DEE_CE66_D1B5) ^ 0x3A5F_0C2B_9E17) & MASK;
    format!("app-{x:012x}")
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

struct Window {
    /// First microsecond of the window (UTC).
    start_us: i64,
    days: i64,
}

/// Generates the features of `rows` applications (everything but
/// `prediction` and `label`).
fn generate_features(rows: usize, seed: u64, id_base: u64, window: &Window) -> Result<Table> {
    let mut rng = StdRng::seed_from_u64(seed);
    let purpose_weights: Vec<f64> = (1..=PURPOSES.len())
        .map(|r| (r as f64).powf(-1.1))
        .collect();
    let purpose_index = WeightedIndex::new(&purpose_weights)?;
    let age_extra: Gamma<f64> = Gamma::new(2.2, 9.0)?;
    let dti_dist: Gamma<f64> = Gamma::new(2.2, 0.12)?;
    let noise: Normal<f64> = Normal::new(0.0, 1.0)?;

    // Applications arrive more during the day; sorted so the file reads like a log.
    let hour_weights: Vec<f64> = (0..24)
        .map(|h: i32| 0.3 + (-(((h - 14) as f64) / 4.5).powi(2)).exp())
        .collect();
    let hour_index = WeightedIndex::new(&hour_weights)?;
    let mut times: Vec<i64> = (0..rows)
        .map(|_| {
            let day = rng.random_range(0..window.days.max(1));
            let second = hour_index.sample(&mut rng) as i64 * 3600 + rng.random_range(0..3600);
            window.start_us + (day * 86_400 + second) * 1_000_000
        })
        .collect();
    times.sort_unstable();

    let mut cols = Cols::with_capacity(rows);
    // About 15% of applications come from returning customers.
    let customers = (rows as f64 * 0.85).max(1.0) as i64;
    for (i, time) in times.into_iter().enumerate() {
        let age = (18.0 + age_extra.sample(&mut rng)).min(90.0_f64).round() as i64;
        let employment = employment_for(&mut rng, age);
        let race = pick(&mut rng, &RACES);
        let sex = match rng.random::<f64>() {
            x if x < 0.49 => Some("F"),
            x if x < 0.98 => Some("M"),
            _ => None,
        };
        let income = latent_income(&mut rng, age, employment, race, &noise);
        let home = home_for(&mut rng, age);
        let purpose = PURPOSES[purpose_index.sample(&mut rng)];
        let purpose_effect = match purpose {
            "home_improvement" => 0.4,
            "small_business" => 0.6,
            "car" => 0.3,
            "vacation" => -0.5,
            "medical" => -0.4,
            "wedding" => -0.1,
            _ => 0.0,
        };
        let loan = LogNormal::new(
            8_000f64.ln() + 0.5 * (income / 50_000.0).ln() + purpose_effect,
            0.6,
        )?
        .sample(&mut rng)
        .clamp(500.0, 100_000.0);
        let loan = (loan / 50.0).round() * 50.0;
        let term = term_for(&mut rng, loan);
        let score = 690.0 + 0.9 * (age as f64 - 40.0) + 20.0 * (income / 50_000.0).ln()
            - if employment == "unemployed" {
                35.0
            } else {
                0.0
            }
            + 60.0 * noise.sample(&mut rng);
        let score = score.clamp(300.0, 850.0).round() as i64;
        let mortgage_accounts = if home == "mortgage" { 1.0 } else { 0.0 };
        let lambda = (2.0 + 0.06 * (age as f64 - 18.0) + mortgage_accounts).max(0.5_f64);
        let accounts = Poisson::new(lambda)?.sample(&mut rng) as i64;
        let dti = dti_dist.sample(&mut rng) * (1.0 + (700.0 - score as f64).max(0.0) / 400.0);
        let dti = if rng.random_bool(0.004) {
            f64::NAN
        } else {
            (dti * 1e4).round() / 1e4
        };
        let cosigner = rng.random_bool(
            0.05 + if score < 600 { 0.15 } else { 0.0 } + if age < 23 { 0.10 } else { 0.0 },
        );
        let first_loan = rng.random_bool(match age {
            ..25 => 0.6,
            25..35 => 0.35,
            _ => 0.15,
        });
        // Self-employed applicants leave income blank more often: missing
        // not at random, as in real application forms.
        let income_missing = rng.random_bool(if employment == "self_employed" {
            0.14
        } else {
            0.04
        });
        let title = employer_title(&mut rng, employment);

        cols.application_id
            .push(Some(application_id(id_base + i as u64)));
        cols.customer_id
            .push(Some(1_000_000 + rng.random_range(0..customers)));
        cols.applied_at.push(Some(time));
        cols.age.push((!rng.random_bool(0.01)).then_some(age));
        cols.income
            .push((!income_missing).then_some((income * 100.0).round() / 100.0));
        cols.loan_amount.push(Some(loan));
        cols.loan_term_months.push(Some(term));
        cols.credit_score.push(Some(score));
        cols.num_open_accounts.push(Some(accounts));
        cols.debt_to_income.push(Some(dti));
        cols.employment_status.push(Some(employment.to_string()));
        cols.home_ownership.push(Some(home.to_string()));
        cols.purpose.push(Some(purpose.to_string()));
        cols.state.push(Some(pick(&mut rng, &STATES).to_string()));
        cols.sex.push(sex.map(str::to_string));
        cols.race.push(Some(race.to_string()));
        cols.has_cosigner.push(Some(cosigner));
        cols.is_first_loan.push(Some(first_loan));
        cols.employer_title.push(title);
    }
    Ok(cols.into_table())
}

/// Typed column builders, turned into a [`Table`] in schema order.
#[derive(Default)]
struct Cols {
    application_id: Vec<Option<String>>,
    customer_id: Vec<Option<i64>>,
    applied_at: Vec<Option<i64>>,
    age: Vec<Option<i64>>,
    income: Vec<Option<f64>>,
    loan_amount: Vec<Option<f64>>,
    loan_term_months: Vec<Option<i64>>,
    credit_score: Vec<Option<i64>>,
    num_open_accounts: Vec<Option<i64>>,
    debt_to_income: Vec<Option<f64>>,
    employment_status: Vec<Option<String>>,
    home_ownership: Vec<Option<String>>,
    purpose: Vec<Option<String>>,
    state: Vec<Option<String>>,
    sex: Vec<Option<String>>,
    race: Vec<Option<String>>,
    has_cosigner: Vec<Option<bool>>,
    is_first_loan: Vec<Option<bool>>,
    employer_title: Vec<Option<String>>,
}

impl Cols {
    fn with_capacity(rows: usize) -> Self {
        let mut c = Self::default();
        c.application_id.reserve(rows);
        c.employer_title.reserve(rows);
        c
    }

    fn into_table(self) -> Table {
        let mut t = Table::default();
        t.push("application_id", Data::Str(self.application_id));
        t.push("customer_id", Data::Int(self.customer_id));
        t.push("applied_at", Data::Time(self.applied_at));
        t.push("age", Data::Int(self.age));
        t.push("income", Data::Float(self.income));
        t.push("loan_amount", Data::Float(self.loan_amount));
        t.push("loan_term_months", Data::Int(self.loan_term_months));
        t.push("credit_score", Data::Int(self.credit_score));
        t.push("num_open_accounts", Data::Int(self.num_open_accounts));
        t.push("debt_to_income", Data::Float(self.debt_to_income));
        t.push("employment_status", Data::Str(self.employment_status));
        t.push("home_ownership", Data::Str(self.home_ownership));
        t.push("purpose", Data::Str(self.purpose));
        t.push("state", Data::Str(self.state));
        t.push("sex", Data::Str(self.sex));
        t.push("race", Data::Str(self.race));
        t.push("has_cosigner", Data::Bool(self.has_cosigner));
        t.push("is_first_loan", Data::Bool(self.is_first_loan));
        t.push("employer_title", Data::Str(self.employer_title));
        t
    }
}

/// Log-odds of default given the recorded features. Missing values are
/// imputed the way a simple production model would; a missing income is
/// itself a (weak) risk signal.
fn risk_logit(t: &Table, row: usize) -> f64 {
    let score = t.num("credit_score", row).unwrap_or(680.0);
    let dti = t.num("debt_to_income", row).unwrap_or(0.35);
    let income = t.num("income", row).filter(|x| *x > 0.0);
    let loan = t
        .num("loan_amount", row)
        .filter(|x| *x > 0.0)
        .unwrap_or(10_000.0);
    let term = t.num("loan_term_months", row).unwrap_or(36.0);
    let age = t.num("age", row).unwrap_or(40.0).clamp(18.0, 90.0);
    let accounts = t.num("num_open_accounts", row).unwrap_or(4.0);
    let mut z = -2.4 - 0.012 * (score - 680.0)
        + 1.8 * (dti - 0.3)
        + 0.25 * (loan / 10_000.0).ln()
        + 0.01 * (term - 36.0)
        - 0.015 * (age - 40.0)
        + 0.05 * (accounts - 4.0);
    z += match income {
        Some(income) => -0.35 * (income / 50_000.0).ln(),
        None => 0.15,
    };
    z += match t.text("employment_status", row) {
        Some("unemployed") => 0.9,
        Some("student") => 0.4,
        Some("self_employed") => 0.2,
        Some("retired") => -0.1,
        _ => 0.0,
    };
    z += match t.text("home_ownership", row) {
        Some("rent") => 0.2,
        Some("own") => -0.2,
        _ => 0.0,
    };
    z += match t.text("purpose", row) {
        Some("small_business") => 0.5,
        Some("medical") => 0.3,
        Some("debt_consolidation") => 0.1,
        _ => 0.0,
    };
    if t.flag("has_cosigner", row) == Some(true) {
        z -= 0.4;
    }
    if t.flag("is_first_loan", row) == Some(true) {
        z += 0.2;
    }
    z
}

/// The faults requested on the command line.
struct Faults<'a> {
    args: &'a Args,
}

impl Faults<'_> {
    fn is_prediction_or_label(column: &str) -> bool {
        matches!(column, "prediction" | "label")
    }

    /// Applies every fault whose column satisfies `select`, in flag order
    /// per kind: drift, shift, new categories, nulls, then drops.
    fn apply(&self, t: &mut Table, rng: &mut StdRng, select: impl Fn(&str) -> bool) -> Result<()> {
        for (col, factor) in self.args.drift.iter().filter(|(c, _)| select(c)) {
            map_numeric(t.get_mut(col)?, col, |x| x * factor)?;
        }
        for (col, delta) in self.args.shift.iter().filter(|(c, _)| select(c)) {
            map_numeric(t.get_mut(col)?, col, |x| x + delta)?;
        }
        for cat in self.args.new_category.iter().filter(|c| select(&c.column)) {
            let (col, share) = (&cat.column, cat.share);
            match t.get_mut(col)? {
                Data::Str(v) => v.iter_mut().flatten().for_each(|s| {
                    if rng.random_bool(share) {
                        s.clone_from(&cat.value);
                    }
                }),
                Data::Int(v) => {
                    let value: i64 = cat.value.parse().with_context(|| {
                        format!(
                            "`{col}` is an int column; `{}` is not an integer",
                            cat.value
                        )
                    })?;
                    v.iter_mut().flatten().for_each(|x| {
                        if rng.random_bool(share) {
                            *x = value;
                        }
                    });
                }
                _ => bail!("--new-category needs a string or int column; `{col}` is neither"),
            }
        }
        for (col, p) in self.args.null_rate.iter().filter(|(c, _)| select(c)) {
            let mask: Vec<bool> = (0..row_count(t)).map(|_| rng.random_bool(*p)).collect();
            set_nulls(t.get_mut(col)?, &mask);
        }
        for col in self.args.drop_column.iter().filter(|c| select(c)) {
            t.get_mut(col)?; // an unknown column is an error, not a no-op
            t.columns.retain(|c| c.name != col.as_str());
        }
        Ok(())
    }
}

fn row_count(t: &Table) -> usize {
    t.columns.first().map_or(0, |c| match &c.data {
        Data::Str(v) => v.len(),
        Data::Int(v) | Data::Time(v) => v.len(),
        Data::Float(v) => v.len(),
        Data::Bool(v) => v.len(),
    })
}

fn map_numeric(data: &mut Data, col: &str, f: impl Fn(f64) -> f64) -> Result<()> {
    match data {
        Data::Float(v) => v.iter_mut().flatten().for_each(|x| *x = f(*x)),
        Data::Int(v) => v
            .iter_mut()
            .flatten()
            .for_each(|x| *x = f(*x as f64).round() as i64),
        _ => bail!("--drift/--shift need a numeric column; `{col}` is not numeric"),
    }
    Ok(())
}

fn set_nulls(data: &mut Data, mask: &[bool]) {
    fn clear<T>(v: &mut [Option<T>], mask: &[bool]) {
        v.iter_mut()
            .zip(mask)
            .filter(|(_, m)| **m)
            .for_each(|(x, _)| *x = None);
    }
    match data {
        Data::Str(v) => clear(v, mask),
        Data::Int(v) | Data::Time(v) => clear(v, mask),
        Data::Float(v) => clear(v, mask),
        Data::Bool(v) => clear(v, mask),
    }
}

/// Builds one set: features, faults on features, model score, label, faults
/// on score and label.
fn build_set(args: &Args, set: Set) -> Result<Table> {
    let (rows, stream, id_base, window) = match set {
        // 2024-01-01 00:00:00 UTC and 2024-04-01 00:00:00 UTC.
        Set::Train => (
            args.rows_train,
            1,
            0,
            Window {
                start_us: 1_704_067_200_000_000,
                days: 91,
            },
        ),
        Set::Serving => (
            args.rows_serving,
            2,
            1 << 40,
            Window {
                start_us: 1_711_929_600_000_000,
                days: 61,
            },
        ),
    };
    let mut table = generate_features(rows, sub_seed(args.seed, stream), id_base, &window)?;
    let mut outcome_rng = StdRng::seed_from_u64(sub_seed(args.seed, stream + 10));
    let mut fault_rng = StdRng::seed_from_u64(sub_seed(args.seed, stream + 20));
    let faulty = matches!(
        (args.apply_to, set),
        (ApplyTo::Both, _) | (ApplyTo::Train, Set::Train) | (ApplyTo::Serving, Set::Serving)
    );
    let faults = Faults { args };

    // The world's outcome follows the true features plus what no model sees.
    let hidden = Normal::new(0.0, 0.8)?;
    let truth: Vec<f64> = (0..rows)
        .map(|i| risk_logit(&table, i) + hidden.sample(&mut outcome_rng))
        .collect();
    if faulty {
        faults.apply(&mut table, &mut fault_rng, |c| {
            !Faults::is_prediction_or_label(c)
        })?;
    }
    // The deployed model: a slightly shrunk, miscalibrated fit of the risk,
    // logged with six decimals as model servers usually do.
    let prediction: Vec<Option<f64>> = (0..rows)
        .map(|i| Some((sigmoid(0.9 * risk_logit(&table, i) - 0.1) * 1e6).round() / 1e6))
        .collect();
    let label: Vec<Option<i64>> = truth
        .iter()
        .map(|z| Some(i64::from(outcome_rng.random_bool(sigmoid(*z)))))
        .collect();
    table.push("prediction", Data::Float(prediction));
    table.push("label", Data::Int(label));
    if faulty {
        faults.apply(&mut table, &mut fault_rng, Faults::is_prediction_or_label)?;
    }
    if set == Set::Serving {
        // Labels arrive later, keyed by application_id.
        table.columns.retain(|c| c.name != "label");
    }
    Ok(table)
}

fn to_batch(t: &Table) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(t.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(t.columns.len());
    for c in &t.columns {
        let (dtype, array): (DataType, ArrayRef) = match &c.data {
            Data::Str(v) => (DataType::Utf8, Arc::new(StringArray::from(v.clone()))),
            Data::Int(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Data::Float(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Data::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
            Data::Time(v) => {
                // Naive timestamps holding UTC wall-clock time: the common
                // convention in feature logs, readable without a tz database.
                let a = TimestampMicrosecondArray::from(v.clone());
                (arrow::array::Array::data_type(&a).clone(), Arc::new(a))
            }
        };
        fields.push(Field::new(c.name, dtype, true));
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(6)?))
        // Several row groups, so readers' per-row-group paths get exercised.
        .set_max_row_group_row_count(Some(5_000))
        .set_created_by("assay examples/generate_data.rs".to_string())
        .build();
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(())
}

fn write_csv(batch: &RecordBatch, path: &Path) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .with_timestamp_format("%Y-%m-%dT%H:%M:%S".to_string())
        .build(file);
    writer.write(batch)?;
    Ok(())
}

/// Rejects unknown columns, wrong column types and bad shares before any
/// file is written, by applying every fault to an empty table.
fn check_faults(args: &Args) -> Result<()> {
    let mut empty = Cols::default().into_table();
    empty.push("prediction", Data::Float(Vec::new()));
    empty.push("label", Data::Int(Vec::new()));
    let mut rng = StdRng::seed_from_u64(0);
    Faults { args }.apply(&mut empty, &mut rng, |_| true)
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

fn run(args: Args) -> Result<()> {
    check_faults(&args)?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    for set in [Set::Train, Set::Serving] {
        if args.only.is_some_and(|only| only != set) {
            continue;
        }
        let table = build_set(&args, set)?;
        let batch = to_batch(&table)?;
        let name = match set {
            Set::Train => "train",
            Set::Serving => "serving",
        };
        let parquet = args.out_dir.join(format!("{name}.parquet"));
        write_parquet(&batch, &parquet)?;
        println!("wrote {} ({} rows)", parquet.display(), batch.num_rows());
        if set == Set::Train {
            let csv = args.out_dir.join("train.csv");
            write_csv(&batch, &csv)?;
            println!("wrote {} ({} rows)", csv.display(), batch.num_rows());
        }
        if let Some(Data::Int(labels)) = table.get("label") {
            let positives = labels.iter().flatten().filter(|l| **l == 1).count();
            println!(
                "  default rate {:.3}",
                positives as f64 / labels.len().max(1) as f64
            );
        }
    }
    Ok(())
}
