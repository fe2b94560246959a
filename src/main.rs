//! The `assay` command line: a thin shell over the library.
//!
//! Exit codes: 0 all good, 1 a check failed, 2 usage or input error.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use assay::AssayError;
use assay::checks::anomalies::{applicable_slices, check_environment};
use assay::checks::compare::Comparison;
use assay::checks::schema_anomalies;
use assay::expectations::{self, ResultLevel, SuggestOptions, suggest_suite};
use assay::pipeline::{ProfileRequest, merge_profiles, profile_inputs};
use assay::profile::{ColumnRole, Profile, ProfileOptions, io as profile_io};
use assay::report::{OutputFormat, profile_table, schema_table};
use assay::schema::{self, InferOptions, infer_with_notes, to_toml_string_with_notes};
use assay::sources::{self, CsvOptions, Format, ReadOptions};
use assay::validation::{SchemaOutcome, ValidationReport};

mod cli;
use cli::compare::CompareArgs;
use cli::quality::{FairnessArgs, QualityArgs};
use cli::train::{PredictArgs, TrainArgs};

#[derive(Parser)]
#[command(
    name = "assay",
    version,
    about = "Data validation and monitoring for machine learning",
    long_about = "assay profiles datasets into mergeable statistics, infers a schema for review, \
                  validates data against the schema and Great Expectations-style suites, \
                  measures training/serving skew and drift, and monitors a model's data in \
                  production as a daemon with Prometheus metrics.\n\n\
                  Exit codes: 0 all good, 1 a check failed, 2 usage or input error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
pub(crate) struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub(crate) format: OutputFormat,
    /// Print nothing but errors (the output file is still written).
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Profile data: per-column (and per-slice) statistics, saved as a mergeable profile.
    Profile(ProfileArgs),
    /// Merge saved profiles (e.g. daily profiles into a weekly one).
    Merge(MergeArgs),
    /// Infer a schema for human review from a profile.
    Infer(InferArgs),
    /// Propose an expectation suite (commented TOML) from a profile.
    Suggest(SuggestArgs),
    /// Validate data (or a saved profile) against a schema (TFDV-style anomalies) and/or an expectation suite.
    Validate(ValidateArgs),
    /// Drift between two datasets or windows (each data or a saved profile):
    /// per-feature statistical tests and distances, verdicts, what moved.
    /// Exit 1 when drift is found.
    Drift(CompareArgs),
    /// Training/serving skew: serving data (or profile) against the training
    /// baseline, with thresholds from the schema's `[features.NAME.skew]`.
    /// Exit 1 when skew is found.
    Skew(CompareArgs),
    /// Model quality from labelled predictions (per slice, against a
    /// reference). Exit 1 on a significant degradation.
    Quality(QualityArgs),
    /// Fairness: rates per group of sensitive columns with intervals,
    /// disparities, changes against a reference.
    Fairness(FairnessArgs),
    /// Train a model (logistic regression or MLP, candle on the CPU) on
    /// labelled data with features from a schema; prints holdout metrics.
    Train(TrainArgs),
    /// Score data with a model directory from `assay train`: the rows in
    /// order with `prediction` and `score` columns, as Parquet.
    Predict(PredictArgs),
    /// Run the monitoring daemon: HTTP ingest, windows, checks, Prometheus metrics.
    Serve(ServeArgs),
    /// The daemon with examples/demo/assay.toml, fed by a built-in replayer of
    /// the example serving data that injects drift, a new category and an empty
    /// column halfway through each round; the first drift fires a retrain to a
    /// built-in receiver, whose promoted v1 becomes the new baseline (run from
    /// the repository root).
    Demo(DemoArgs),
    /// Check a daemon configuration file, or a retrain job runner's
    /// `retrain.toml`, and report every problem at once.
    CheckConfig(CheckConfigArgs),
    /// Alerts of a daemon configuration (`assay alerts test`).
    #[command(subcommand)]
    Alerts(cli::alerts::AlertsCommand),
    /// Work with schema files (import a TFDV schema.pbtxt).
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Retrain jobs: `run` one now, or `serve` the daemon's signed webhooks.
    #[command(subcommand)]
    Retrain(cli::retrain::RetrainCommand),
}

#[derive(Args)]
struct ProfileArgs {
    /// Files, globs or directories (CSV, Parquet, NDJSON, Arrow IPC; .gz, .zst or .zstd compressed CSV, NDJSON and IPC streams).
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Write the profile (JSON) to this file; the table (or JSON with --format json) still goes to stdout.
    /// With --format html, the HTML page instead.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Profile slices too: a comma-separated column list (`sex` or `sex,race`), or `NAME=SQL`
    /// for a derived column (`age_band=CASE WHEN age < 30 THEN 'young' ELSE 'older' END`). Repeatable.
    #[arg(long = "slice", value_name = "SPEC")]
    slices: Vec<String>,
    /// Stop with an error when slicing would make more slices than this.
    #[arg(long, default_value_t = 1000)]
    max_slices: usize,
    /// Profile only rows where this SQL predicate holds (e.g. "age >= 18 AND state = 'CA'").
    #[arg(long = "where", value_name = "SQL")]
    where_sql: Option<String>,
    /// Read and profile only these columns (comma-separated).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Set a column's role: ROLE=COLUMN with ROLE one of feature, prediction, label, id, timestamp, weight.
    #[arg(long = "role", value_name = "ROLE=COLUMN")]
    roles: Vec<String>,
    /// Input format, when the file name does not tell (csv, tsv, parquet, ndjson, ipc, ipc-stream).
    #[arg(long)]
    input_format: Option<String>,
    /// CSV field delimiter (one character; `\t` for tab).
    #[arg(long)]
    delimiter: Option<String>,
    /// CSV files have no header row (columns are named column_1, column_2, ...).
    #[arg(long)]
    no_header: bool,
    /// CSV column type override: COLUMN=TYPE (int, float, string, bool, timestamp, date). Repeatable.
    #[arg(long = "csv-type", value_name = "COLUMN=TYPE")]
    csv_types: Vec<String>,
    /// Extra CSV null markers besides the empty field (default: NA, null, NULL; `NaN` in a float column is a NaN, not a null).
    #[arg(long = "null-value", value_name = "TEXT")]
    null_values: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct MergeArgs {
    /// Profile files to merge (same columns and slices).
    #[arg(required = true)]
    profiles: Vec<PathBuf>,
    /// Write the merged profile here.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct InferArgs {
    /// A profile written by `assay profile`.
    profile: PathBuf,
    /// Write the schema (TOML, with explanatory comments) here.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Infer tight ranges (observed min/max, 10% margin) for int and float
    /// columns, instead of the wide sanity ranges int columns get by default.
    #[arg(long)]
    ranges: bool,
    /// Most distinct values a string column may have to get a domain.
    #[arg(long, default_value_t = InferOptions::default().max_domain_size)]
    max_domain_size: usize,
    /// Most distinct values an int column may have to count as categorical.
    #[arg(long, default_value_t = InferOptions::default().max_int_categories)]
    max_int_categories: usize,
    /// Treat this int column as categorical (codes, ratings, flags) even when
    /// some of its values are rare. Repeatable.
    #[arg(long = "categorical", value_name = "COLUMN")]
    categorical: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct SuggestArgs {
    /// A saved profile (`assay profile DATA -o P`).
    profile: PathBuf,
    /// Write the suite here (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The suite's name (default: the output file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Share of values that must fall in suggested sets and ranges (GE's `mostly`).
    #[arg(long, default_value_t = SuggestOptions::default().mostly)]
    mostly: f64,
    /// Most distinct values a column may have to get a value set.
    #[arg(long, default_value_t = SuggestOptions::default().max_set_size)]
    max_set_size: usize,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ValidateArgs {
    /// Files, globs or directories to validate (or give --profile instead).
    #[arg(required_unless_present = "profile")]
    inputs: Vec<String>,
    /// The schema (`schema.toml`) to check against: TFDV-style anomalies.
    #[arg(long, value_name = "FILE", required_unless_present = "suite")]
    schema: Option<PathBuf>,
    /// An expectation suite: native TOML (`expectations/*.toml`) or a Great
    /// Expectations JSON suite (1.x or 0.x).
    #[arg(long, value_name = "FILE")]
    suite: Option<PathBuf>,
    /// The environment the data comes from (e.g. `serving`): features are
    /// expected, optional or forbidden according to their `environments`.
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// Validate a saved profile instead of data (suites: only table and
    /// aggregate expectations can be answered from a profile).
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    profile: Option<PathBuf>,
    /// Result format of expectations that do not set their own:
    /// BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE (GE's names).
    #[arg(long, value_name = "LEVEL")]
    result_format: Option<String>,
    /// Input format, when the file name does not tell (csv, tsv, parquet, ndjson, ipc, ipc-stream).
    #[arg(long)]
    input_format: Option<String>,
    /// Write the JSON report here (the table, or JSON with --format json, still goes to stdout);
    /// with --format html, the HTML page instead.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // The daemon's log is how an operator sees windows close and what they
    // found: it logs at `info` unless ASSAY_LOG says otherwise. One-shot
    // commands print their results and log only errors.
    let default_level = match cli.command {
        Command::Serve(_) | Command::Demo(_) => "info",
        Command::Retrain(cli::retrain::RetrainCommand::Serve(_)) => "info",
        // The log receiver's test line and the retries are warnings.
        Command::Alerts(_) => "warn",
        _ => "error",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ASSAY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, not in a log file or journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = e
                .downcast_ref::<AssayError>()
                .map_or(2, AssayError::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Profile(args) => table_or_json(&args.common, true).and_then(|_| profile(args)),
        Command::Merge(args) => table_or_json(&args.common, false).and_then(|_| merge(args)),
        Command::Infer(args) => table_or_json(&args.common, false).and_then(|_| infer(args)),
        Command::Suggest(args) => suggest(args),
        Command::Validate(args) => validate(args),
        Command::Drift(args) => cli::compare::run(args, Comparison::Drift),
        Command::Skew(args) => cli::compare::run(args, Comparison::Skew),
        Command::Quality(args) => cli::quality::run_quality(args),
        Command::Fairness(args) => cli::quality::run_fairness(args),
        Command::Train(args) => cli::train::run_train(args),
        Command::Predict(args) => cli::train::run_predict(args),
        Command::Serve(args) => serve(args),
        Command::Demo(args) => {
            assay::server::run_demo(args.listen, args.state_dir)
                .map_err(|e| usage(e.to_string()))?;
            Ok(0)
        }
        Command::CheckConfig(args) => check_config(args),
        Command::Alerts(command) => cli::alerts::run(command),
        Command::Schema(SchemaCommand::Import(args)) => schema_import(args),
        Command::Retrain(command) => cli::retrain::run(command),
    }
}

#[derive(Args)]
struct ServeArgs {
    /// The daemon's configuration (TOML); see examples/assay.toml.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Listen on this address instead of the config's `listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// Keep state here instead of the config's `state_dir`.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Args)]
struct DemoArgs {
    /// Listen here instead of 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// Keep state here (a new or empty directory) instead of
    /// target/assay-demo-state, which the demo empties first.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Args)]
struct CheckConfigArgs {
    /// The configuration file to check: the daemon's, or a `retrain.toml`
    /// (told apart by its top-level `registry`).
    config: PathBuf,
}

fn load_config(path: &Path) -> Result<assay::server::config::ServeConfig> {
    assay::server::config::load(path).map_err(|e| usage(e.to_string()))
}

fn serve(args: ServeArgs) -> Result<u8> {
    let mut config = load_config(&args.config)?;
    if let Some(listen) = args.listen {
        assay::server::config::ServeConfig::check_listen(listen, &config.auth)
            .map_err(|e| usage(format!("--listen {listen}: {e}")))?;
        config.listen = listen;
    }
    if let Some(dir) = args.state_dir {
        config.state_dir = dir;
    }
    assay::server::run(config).map_err(|e| usage(e.to_string()))?;
    Ok(0)
}

fn check_config(args: CheckConfigArgs) -> Result<u8> {
    // `retrain.toml` (the job runner's) or the daemon's config.
    if std::fs::read_to_string(&args.config)
        .is_ok_and(|text| assay::retrain::config::is_job_config(&text))
    {
        return cli::retrain::check_config(&args.config);
    }
    let config = load_config(&args.config)?;
    let alerts = match &config.alerts {
        Some(a) => format!(
            ", alerts: {} receiver{}, {} route{}",
            a.receivers.len(),
            if a.receivers.len() == 1 { "" } else { "s" },
            a.routes.len(),
            if a.routes.len() == 1 { "" } else { "s" }
        ),
        None => String::new(),
    };
    println!(
        "{}: ok ({} model{}, listening on {}{alerts})",
        args.config.display(),
        config.models.len(),
        if config.models.len() == 1 { "" } else { "s" },
        config.listen
    );
    Ok(0)
}

/// JUnit output is for checks (`validate`); other commands print tables or
/// JSON, and `profile` also writes HTML (`html`).
fn table_or_json(common: &Common, html: bool) -> Result<()> {
    match common.format {
        OutputFormat::Junit => Err(usage(
            "--format junit is only for `assay validate`; use table or json".into(),
        )),
        OutputFormat::Html if !html => Err(usage(
            "--format html is for profile, validate, drift, skew, quality and fairness; use table or json".into(),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn usage(message: String) -> anyhow::Error {
    AssayError::Usage(message).into()
}

fn parse_role(text: &str) -> Result<(String, ColumnRole)> {
    let (role, column) = text
        .split_once('=')
        .ok_or_else(|| usage(format!("--role {text}: expected ROLE=COLUMN")))?;
    let role = match role {
        "feature" => ColumnRole::Feature,
        "prediction" => ColumnRole::Prediction,
        "label" => ColumnRole::Label,
        "id" => ColumnRole::Id,
        "timestamp" => ColumnRole::Timestamp,
        "weight" => ColumnRole::Weight,
        other => {
            return Err(usage(format!(
                "--role {text}: unknown role `{other}`; expected feature, prediction, label, id, timestamp or weight"
            )));
        }
    };
    Ok((column.to_string(), role))
}

fn read_options(args: &ProfileArgs) -> Result<ReadOptions> {
    let mut csv = CsvOptions::default();
    if let Some(d) = &args.delimiter {
        let d = if d == "\\t" { "\t" } else { d.as_str() };
        csv.delimiter = match d.as_bytes() {
            [b] => *b,
            _ => {
                return Err(usage(format!(
                    "--delimiter `{d}`: expected a single ASCII character"
                )));
            }
        };
    }
    csv.has_header = !args.no_header;
    for t in &args.csv_types {
        let (column, ty) = t
            .split_once('=')
            .ok_or_else(|| usage(format!("--csv-type {t}: expected COLUMN=TYPE")))?;
        csv.type_overrides
            .push((column.to_string(), ty.to_string()));
    }
    csv.null_values.extend(args.null_values.iter().cloned());
    read_options_for(
        args.input_format.as_deref(),
        args.delimiter.is_some(),
        ReadOptions {
            csv,
            columns: args.columns.clone(),
            ..ReadOptions::default()
        },
    )
}

/// `base` with the format `--input-format` names. `tsv` also means a tab
/// delimiter, unless `--delimiter` was given (the file's name cannot tell
/// the reader, as `.tsv` would).
pub(crate) fn read_options_for(
    format: Option<&str>,
    delimiter_given: bool,
    mut base: ReadOptions,
) -> Result<ReadOptions> {
    base.format = input_format(format)?;
    if format.is_some_and(|f| f.eq_ignore_ascii_case("tsv")) && !delimiter_given {
        base.csv.delimiter = b'\t';
    }
    Ok(base)
}

pub(crate) fn input_format(text: Option<&str>) -> Result<Option<Format>> {
    text.map(|f| {
        f.parse::<Format>().map_err(|_| {
            usage(format!(
                "--input-format {f}: expected csv, tsv, parquet, ndjson, ipc or ipc-stream"
            ))
        })
    })
    .transpose()
}

/// Splits `--slice` values into column-list specs and derived columns.
pub(crate) fn slice_specs(slices: &[String]) -> (Vec<Vec<String>>, Vec<String>) {
    let mut specs = Vec::new();
    let mut derived = Vec::new();
    for s in slices {
        // A derived definition may contain commas (IN lists), so it is never split.
        if let Some((name, _)) = s.split_once('=') {
            derived.push(s.clone());
            specs.push(vec![name.trim().to_string()]);
        } else {
            specs.push(s.split(',').map(|c| c.trim().to_string()).collect());
        }
    }
    (specs, derived)
}

fn profile(args: ProfileArgs) -> Result<u8> {
    let (slices, derived) = slice_specs(&args.slices);
    let roles = args
        .roles
        .iter()
        .map(|r| parse_role(r))
        .collect::<Result<Vec<_>>>()?;
    let request = ProfileRequest {
        read: read_options(&args)?,
        profile: ProfileOptions {
            roles,
            slices,
            max_slices: args.max_slices,
        },
        where_sql: args.where_sql.clone(),
        derived,
    };
    let profile = profile_with_progress(&args.inputs, &request, args.common.quiet)?;
    emit_profile(&profile, args.output.as_deref(), &args.common)?;
    Ok(0)
}

/// Profiles `inputs`, with a progress bar on a terminal.
pub(crate) fn profile_with_progress(
    inputs: &[String],
    request: &ProfileRequest,
    quiet: bool,
) -> Result<Profile> {
    let show_progress = !quiet && std::io::stderr().is_terminal();
    let progress_bar: std::sync::Mutex<Option<ProgressHandle>> = std::sync::Mutex::new(None);
    let result = profile_inputs(inputs, request, |total, read| {
        if show_progress && let Ok(mut slot) = progress_bar.lock() {
            *slot = Some(ProgressHandle::start(total, read));
        }
    });
    if let Some(handle) = progress_bar.lock().ok().and_then(|mut s| s.take()) {
        handle.stop();
    }
    Ok(result?)
}

fn emit_profile(profile: &Profile, output: Option<&Path>, common: &Common) -> Result<()> {
    if common.format == OutputFormat::Html {
        return cli::html::emit(&assay::report::html::profile_html(profile), output);
    }
    let json = profile_io::to_json(profile);
    if let Some(path) = output {
        write_file(path, &json)?;
    }
    if !common.quiet {
        match common.format {
            OutputFormat::Json => println!("{json}"),
            OutputFormat::Table | OutputFormat::Junit | OutputFormat::Html => {
                print!("{}", profile_table(profile))
            }
        }
    }
    Ok(())
}

fn merge(args: MergeArgs) -> Result<u8> {
    let profiles = args
        .profiles
        .iter()
        .map(|p| {
            Ok((
                p.display().to_string(),
                profile_io::load(p).map_err(AssayError::from)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let merged = merge_profiles(&profiles)?;
    emit_profile(&merged, args.output.as_deref(), &args.common)?;
    Ok(0)
}

fn infer(args: InferArgs) -> Result<u8> {
    let profile = profile_io::load(&args.profile).map_err(AssayError::from)?;
    let options = InferOptions {
        ranges: args.ranges,
        max_domain_size: args.max_domain_size,
        max_int_categories: args.max_int_categories,
        categorical: args.categorical.clone(),
        ..InferOptions::default()
    };
    schema::infer::check_hints(&profile, &options)
        .map_err(|e| usage(format!("--categorical: {e}")))?;
    let inferred = infer_with_notes(&profile, &options);
    let toml = to_toml_string_with_notes(&inferred.schema, &inferred.notes);
    if let Some(path) = &args.output {
        write_file(path, &toml)?;
    }
    if !args.common.quiet {
        match args.common.format {
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&inferred.schema).context("serializing the schema")?
            ),
            OutputFormat::Table if args.output.is_none() => print!("{toml}"),
            OutputFormat::Table | OutputFormat::Junit | OutputFormat::Html => {
                print!("{}", schema_table(&inferred.schema))
            }
        }
    }
    Ok(0)
}

fn suggest(args: SuggestArgs) -> Result<u8> {
    if !(0.0..=1.0).contains(&args.mostly) {
        return Err(usage(format!(
            "--mostly {}: expected a share between 0 and 1",
            args.mostly
        )));
    }
    let profile = profile_io::load(&args.profile).map_err(AssayError::from)?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.output
            .as_deref()
            .and_then(|p| p.file_stem())
            .map_or_else(|| "suggested".into(), |s| s.to_string_lossy().into_owned())
    });
    let options = SuggestOptions {
        name,
        mostly: args.mostly,
        max_set_size: args.max_set_size,
        ..SuggestOptions::default()
    };
    let toml = suggest_suite(&profile, &options);
    // What is written must load: a suggestion that cannot be read back is a bug.
    let suite = expectations::parse_toml(&toml, "suggested suite")
        .context("the suggested suite does not parse (a bug in assay suggest)")?;
    match &args.output {
        Some(path) => {
            write_file(path, &toml)?;
            if !args.common.quiet {
                eprintln!(
                    "wrote {} expectations to {}",
                    suite.expectations.len(),
                    path.display()
                );
            }
        }
        None => print!("{toml}"),
    }
    Ok(0)
}

fn validate(args: ValidateArgs) -> Result<u8> {
    let schema = match &args.schema {
        Some(path) => Some(schema::load(path).map_err(AssayError::from)?),
        None => None,
    };
    let suite = match &args.suite {
        Some(path) => {
            let mut suite = expectations::load(path).map_err(AssayError::from)?;
            if let Some(text) = &args.result_format {
                let level = ResultLevel::parse(text).ok_or_else(|| {
                    usage(format!(
                        "--result-format {text}: expected BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE"
                    ))
                })?;
                suite.set_default_result_format(level);
            }
            Some(suite)
        }
        None => None,
    };
    let environment = args.environment.as_deref();
    if let (Some(env), Some(schema)) = (environment, &schema) {
        check_environment(schema, env).map_err(|e| usage(format!("--environment {env}: {e}")))?;
    }
    let read = read_options_for(args.input_format.as_deref(), false, ReadOptions::default())?;
    let saved = match &args.profile {
        Some(path) => Some(profile_io::load(path).map_err(AssayError::from)?),
        None => None,
    };
    let mut report = ValidationReport::default();
    if let (Some(schema), Some(schema_path)) = (&schema, &args.schema) {
        let profile = match &saved {
            Some(profile) => profile.clone(),
            None => profile_for_schema(&args.inputs, read.clone(), schema, args.common.quiet)?,
        };
        report.schema = Some(SchemaOutcome {
            file: schema_path.display().to_string(),
            environment: args.environment.clone(),
            rows: profile.rows,
            findings: schema_anomalies(&profile, schema, environment),
        });
    }
    if let Some(suite) = &suite {
        report.suite = Some(match &saved {
            Some(profile) => expectations::evaluate_profile(suite, profile),
            None => expectations::validate_suite(&args.inputs, &read, suite)
                .map_err(AssayError::from)?,
        });
    }
    if args.common.format == OutputFormat::Html {
        let html = assay::report::html::validation_html(&report);
        cli::html::emit(&html, args.output.as_deref())?;
        return Ok(u8::from(!report.success()));
    }
    let json = serde_json::to_string_pretty(&report.to_json()).context("serializing the report")?;
    if let Some(path) = &args.output {
        write_file(path, &json)?;
    }
    if !args.common.quiet {
        match args.common.format {
            OutputFormat::Json => println!("{json}"),
            OutputFormat::Table => print!("{}", report.to_table()),
            OutputFormat::Junit => print!("{}", report.to_junit()),
            // Written above, in place of the JSON.
            OutputFormat::Html => {}
        }
    }
    Ok(u8::from(!report.success()))
}

/// Profiles `inputs` with the schema's slices, skipping slices on columns the
/// data lacks: a missing slice column is a finding (missing_column), not a
/// reason to stop.
fn profile_for_schema(
    inputs: &[String],
    read: ReadOptions,
    schema: &schema::Schema,
    quiet: bool,
) -> Result<Profile> {
    let request = ProfileRequest {
        profile: ProfileOptions {
            slices: schema_slices(inputs, &read, schema)?,
            ..ProfileOptions::default()
        },
        read,
        ..ProfileRequest::default()
    };
    profile_with_progress(inputs, &request, quiet)
}

/// The schema's slices whose columns the data at `inputs` has: a missing
/// slice column is a finding (missing_column), not a reason to stop.
pub(crate) fn schema_slices(
    inputs: &[String],
    read: &ReadOptions,
    schema: &schema::Schema,
) -> Result<Vec<Vec<String>>> {
    let dataset = sources::open(inputs, read).map_err(AssayError::from)?;
    let columns: Vec<&str> = dataset
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    Ok(applicable_slices(schema, &columns))
}

/// Writes via a temporary file and a rename, so a crash never leaves half a file.
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<()> {
    write_file_bytes(path, contents.as_bytes())
}

pub(crate) fn write_file_bytes(path: &Path, contents: &[u8]) -> Result<()> {
    assay::sinks::write_atomic(path, contents).map_err(|source| AssayError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(())
}

/// An indicatif progress bar fed by the sources' byte counter.
struct ProgressHandle {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl ProgressHandle {
    fn start(total: u64, read: Arc<AtomicU64>) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            while !flag.load(Ordering::Relaxed) {
                bar.set_position(read.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Self { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Import a TensorFlow Data Validation schema (schema.pbtxt) as assay TOML.
    ///
    /// What assay cannot represent is printed as warnings and listed in the
    /// header of the written file.
    Import(SchemaImportArgs),
}

#[derive(Args)]
struct SchemaImportArgs {
    /// The TFDV schema: a TFMD Schema message in protobuf text format.
    input: PathBuf,
    /// Write the schema (TOML) here; without it the TOML goes to stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn schema_import(args: SchemaImportArgs) -> Result<u8> {
    let imported = assay::schema::tfdv::import_file(&args.input).map_err(AssayError::from)?;
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    let toml = imported.to_toml();
    match &args.output {
        Some(path) => write_file(path, &toml)?,
        None => print!("{toml}"),
    }
    Ok(0)
}
