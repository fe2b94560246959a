//! `assay quality` and `assay fairness`: read labelled predictions, fill the
//! accumulators of `assay::quality`, compare with a reference, print.
//!
//! Data is read partition by partition in file order, so a bad value is
//! reported with its file and its 1-based data row (the header not counted).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use clap::Args;

use assay::AssayError;
use assay::checks::{Finding, Severity};
use assay::quality::cbpe::{Estimator, scores_of};
use assay::quality::report::{FAIRNESS_FORMAT, QUALITY_FORMAT};
use assay::quality::table::{fairness_table, quality_table};
use assay::quality::{
    AlarmOptions, FairnessAccumulator, FairnessReport, QualityAccumulator, QualityError,
    QualityReport, QualitySpec, ScoreColumns, Task, TaskEvidence, UnlabelledRows, compare_fairness,
    compare_quality, fairness_levels,
};
use assay::query::{DerivedColumn, DerivedColumns};
use assay::report::OutputFormat;
use assay::sources::{self, ReadOptions};

use crate::{Common, input_format, slice_specs, usage, write_file};

/// What both commands share: the data, the columns and the alarms.
#[derive(Args)]
pub struct ModelArgs {
    /// Labelled predictions: files, globs or directories (CSV, Parquet,
    /// NDJSON, Arrow IPC).
    #[arg(required = true, value_name = "DATA")]
    pub inputs: Vec<String>,
    /// The ground-truth column.
    #[arg(long, value_name = "COL")]
    pub label: String,
    /// The predicted class (classification) or value (regression).
    #[arg(long, value_name = "COL")]
    pub prediction: Option<String>,
    /// Binary: the probability of the positive class. Multiclass: one
    /// `CLASS=COL` per class (repeat the option), or one list column.
    #[arg(long = "score", value_name = "COL")]
    pub scores: Vec<String>,
    /// Binary: a score at or above it predicts the positive class.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Binary: the positive class (default: 1, true, or the last of the two
    /// classes in sort order).
    #[arg(long, value_name = "VALUE")]
    pub positive: Option<String>,
    /// The label's classes, comma-separated (a label outside them is an
    /// error; they name a list score column's items).
    #[arg(long, value_delimiter = ',', value_name = "CLASSES")]
    pub classes: Option<Vec<String>>,
    /// binary, multiclass or regression (default: inferred from the columns).
    #[arg(long)]
    pub task: Option<String>,
    /// A labelled reference: data, or a report saved with `-o`. Findings
    /// are significant changes against it.
    #[arg(long, value_name = "REF")]
    pub reference: Option<String>,
    /// Count rows without a label in `rows` and leave them out of the
    /// metrics (default: a missing label is an error).
    #[arg(long)]
    pub skip_unlabelled: bool,
    /// False discovery rate of the findings (Benjamini–Hochberg).
    #[arg(long, default_value_t = AlarmOptions::default().alpha)]
    pub alpha: f64,
    /// Smallest drop of a rate or ROC AUC that is a finding (absolute).
    #[arg(long, default_value_t = AlarmOptions::default().min_effect)]
    pub min_effect: f64,
    /// Input format, when the file name does not tell (csv, tsv, parquet, ndjson, ipc, ipc-stream).
    #[arg(long)]
    pub input_format: Option<String>,
    /// Write the JSON report here (the table, or JSON with --format json, still goes to stdout);
    /// with --format html, the HTML page instead.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args)]
pub struct QualityArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Quality per slice too: a comma-separated column list, or `NAME=SQL`
    /// for a derived column. Repeatable.
    #[arg(long = "slice", value_name = "SPEC")]
    pub slices: Vec<String>,
    /// Stop with an error when slicing would make more slices than this.
    #[arg(long, default_value_t = 1000)]
    pub max_slices: usize,
}

#[derive(Args)]
pub struct FairnessArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The sensitive columns, comma-separated; their intersections are
    /// groups too.
    #[arg(long, value_delimiter = ',', required = true, value_name = "COL[,COL]")]
    pub sensitive: Vec<String>,
    /// Groups with fewer labelled rows are reported as insufficient and
    /// never judged.
    #[arg(long, default_value_t = assay::quality::DEFAULT_MIN_GROUP_SIZE)]
    pub min_group_size: u64,
    /// Level alarm: the selection rate ratio below 0.8 (off by default).
    #[arg(long)]
    pub four_fifths: bool,
    /// Level alarm: any disparity difference above this (off by default).
    #[arg(long, value_name = "X")]
    pub max_disparity: Option<f64>,
}

/// The spec from the arguments (scores resolved against the data's schema).
fn spec_of(args: &ModelArgs, schema: &arrow::datatypes::Schema) -> Result<QualitySpec> {
    let scores = match args.scores.as_slice() {
        [] => ScoreColumns::None,
        [one] if !one.contains('=') => match schema.field_with_name(one).map(|f| f.data_type()) {
            Ok(DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)) => {
                ScoreColumns::List(one.clone())
            }
            _ => ScoreColumns::Single(one.clone()),
        },
        many => ScoreColumns::PerClass(
            many.iter()
                .map(|s| {
                    s.split_once('=')
                        .map(|(c, col)| (c.trim().to_string(), col.trim().to_string()))
                        .ok_or_else(|| {
                            usage(format!(
                                "--score {s}: with several score columns each is CLASS=COLUMN"
                            ))
                        })
                })
                .collect::<Result<_>>()?,
        ),
    };
    Ok(QualitySpec {
        prediction: args.prediction.clone(),
        scores,
        threshold: args.threshold,
        positive: args.positive.clone(),
        classes: args.classes.clone(),
        unlabelled: if args.skip_unlabelled {
            UnlabelledRows::Skip
        } else {
            UnlabelledRows::Error
        },
        ..QualitySpec::new(args.label.clone())
    })
}

/// Data opened for reading, with derived slice columns.
struct Source {
    inputs: Vec<String>,
    read: ReadOptions,
    derived: Option<DerivedColumns>,
}

impl Source {
    fn new(inputs: &[String], args: &ModelArgs, derived: &[String]) -> Result<Self> {
        let read = ReadOptions {
            format: input_format(args.input_format.as_deref())?,
            ..ReadOptions::default()
        };
        let derived = if derived.is_empty() {
            None
        } else {
            let columns = derived
                .iter()
                .map(|d| DerivedColumn::parse(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(AssayError::from)?;
            Some(DerivedColumns::new(columns).map_err(AssayError::from)?)
        };
        Ok(Self {
            inputs: inputs.to_vec(),
            read,
            derived,
        })
    }

    fn schema(&self) -> Result<arrow::datatypes::SchemaRef> {
        let dataset = sources::open(&self.inputs, &self.read).map_err(AssayError::from)?;
        if let Some(d) = &self.derived {
            return Ok(std::sync::Arc::new(
                d.check(&dataset.schema).map_err(AssayError::from)?,
            ));
        }
        Ok(dataset.schema)
    }

    /// Calls `f` on every batch in file order; a row error names its file
    /// and 1-based data row.
    fn each(&self, mut f: impl FnMut(&RecordBatch) -> Result<(), QualityError>) -> Result<()> {
        let dataset = sources::open(&self.inputs, &self.read).map_err(AssayError::from)?;
        let files = dataset.files.clone();
        let mut rows_in_file: Vec<usize> = vec![0; files.len()];
        for partition in dataset.partitions {
            // Every partition's description starts with its file's name.
            let file = files
                .iter()
                .enumerate()
                .filter(|(_, name)| partition.description.starts_with(name.as_str()))
                .max_by_key(|(_, name)| name.len())
                .map_or(0, |(i, _)| i);
            for batch in (partition.open)().map_err(AssayError::from)? {
                let batch = batch.map_err(AssayError::from)?;
                let batch = match &self.derived {
                    Some(d) => d.apply(&batch).map_err(AssayError::from)?,
                    None => batch,
                };
                let base = rows_in_file[file];
                f(&batch).map_err(|e| match e.offset_rows(base + 1) {
                    e @ QualityError::Row { .. } => usage(format!(
                        "{}: {e}",
                        files.get(file).map_or("", |s| s.as_str())
                    )),
                    e => usage(format!("{}: {e}", self.inputs.join(" "))),
                })?;
                rows_in_file[file] += batch.num_rows();
            }
        }
        Ok(())
    }
}

/// The task: `--task`, or inferred from the label and prediction columns.
fn task_of(args: &ModelArgs, spec: &QualitySpec, source: &Source) -> Result<Task> {
    if let Some(text) = &args.task {
        return Task::parse(text).ok_or_else(|| {
            usage(format!(
                "--task {text}: expected binary, multiclass or regression"
            ))
        });
    }
    let mut evidence = TaskEvidence::default();
    source.each(|batch| evidence.update(batch, spec))?;
    Ok(evidence.decide(spec))
}

fn check_options(args: &ModelArgs) -> Result<AlarmOptions> {
    if args.common.format == OutputFormat::Junit {
        return Err(usage(
            "--format junit is not available here; use table, json or html".into(),
        ));
    }
    if !(0.0..1.0).contains(&args.alpha) || args.alpha == 0.0 {
        return Err(usage(format!(
            "--alpha {}: expected a number in (0, 1)",
            args.alpha
        )));
    }
    if args.min_effect.is_nan() || args.min_effect < 0.0 {
        return Err(usage(format!(
            "--min-effect {}: expected a number ≥ 0",
            args.min_effect
        )));
    }
    Ok(AlarmOptions {
        alpha: args.alpha,
        min_effect: args.min_effect,
        ..AlarmOptions::default()
    })
}

fn quality_error(context: &str) -> impl Fn(QualityError) -> anyhow::Error + '_ {
    move |e| usage(format!("{context}: {e}"))
}

/// A saved report of `format`, when `path` is one.
fn saved_report<T: serde::de::DeserializeOwned>(path: &str, format: &str) -> Result<Option<T>> {
    let p = Path::new(path);
    if p.extension().and_then(|e| e.to_str()) != Some("json") || !p.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {path}"))?;
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None); // NDJSON data, not a report
    };
    if value.get("format").and_then(|f| f.as_str()) != Some(format) {
        return Ok(None);
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| usage(format!("{path}: not a valid {format} report: {e}")))
}

fn exit_code(findings: &[Finding]) -> u8 {
    u8::from(findings.iter().any(|f| f.severity == Severity::Error))
}

fn emit<T: serde::Serialize>(report: &T, table: String, args: &ModelArgs) -> Result<()> {
    let json = serde_json::to_string_pretty(report).context("serializing the report")?;
    if let Some(path) = &args.output {
        write_file(path, &json)?;
    }
    if !args.common.quiet {
        match args.common.format {
            OutputFormat::Json => println!("{json}"),
            _ => print!("{table}"),
        }
    }
    Ok(())
}

/// `assay quality`.
pub fn run_quality(args: QualityArgs) -> Result<u8> {
    let options = check_options(&args.model)?;
    let (specs, derived) = slice_specs(&args.slices);
    let source = Source::new(&args.model.inputs, &args.model, &derived)?;
    let schema = source.schema()?;
    let mut spec = spec_of(&args.model, &schema)?;
    spec.slices = specs;
    spec.max_slices = args.max_slices;
    let task = task_of(&args.model, &spec, &source)?;
    let data = args.model.inputs.join(" ");
    let accumulate = |source: &Source| -> Result<QualityAccumulator> {
        let mut acc = QualityAccumulator::new(&spec, task).map_err(quality_error("quality"))?;
        source.each(|batch| acc.update(batch))?;
        Ok(acc)
    };
    let current = accumulate(&source)?;
    let mut report = current.finish();
    if let Some(reference) = &args.model.reference {
        let (reference_report, reference_acc) =
            match saved_report::<QualityReport>(reference, QUALITY_FORMAT)? {
                Some(saved) => (saved, None),
                None => {
                    let source =
                        Source::new(std::slice::from_ref(reference), &args.model, &derived)?;
                    let acc = accumulate(&source)?;
                    (acc.finish(), Some(acc))
                }
            };
        report.findings = compare_quality(&reference_report, &report, &options)
            .map_err(quality_error(&format!("--reference {reference}")))?;
        // Performance estimated from the scores alone, beside the realized.
        if let Some(acc) = reference_acc
            && task == Task::Binary
            && matches!(spec.scores, ScoreColumns::Single(_))
            && let Ok(estimator) = Estimator::fit(&acc)
        {
            report.estimated = Some(estimator.estimate(&scores_of(&current)));
        }
    }
    if args.model.common.format == OutputFormat::Html {
        let html = assay::report::html::quality_html(&report, &data);
        crate::cli::html::emit(&html, args.model.output.as_deref())?;
        return Ok(exit_code(&report.findings));
    }
    let table = quality_table(&report, &data);
    emit(&report, table, &args.model)?;
    Ok(exit_code(&report.findings))
}

/// `assay fairness`.
pub fn run_fairness(args: FairnessArgs) -> Result<u8> {
    let mut options = check_options(&args.model)?;
    options.four_fifths = args.four_fifths;
    options.max_disparity = args.max_disparity;
    let source = Source::new(&args.model.inputs, &args.model, &[])?;
    let schema = source.schema()?;
    for column in &args.sensitive {
        if schema.field_with_name(column).is_err() {
            return Err(usage(format!(
                "--sensitive {column}: {} has no column `{column}`",
                args.model.inputs.join(" ")
            )));
        }
    }
    let mut spec = spec_of(&args.model, &schema)?;
    spec.sensitive = args.sensitive.clone();
    spec.min_group_size = args.min_group_size;
    let task = task_of(&args.model, &spec, &source)?;
    let accumulate = |source: &Source| -> Result<FairnessAccumulator> {
        let mut acc = FairnessAccumulator::new(&spec, task).map_err(quality_error("fairness"))?;
        source.each(|batch| acc.update(batch))?;
        Ok(acc)
    };
    let mut report = accumulate(&source)?.finish();
    let mut findings = Vec::new();
    if let Some(reference) = &args.model.reference {
        let reference_report = match saved_report::<FairnessReport>(reference, FAIRNESS_FORMAT)? {
            Some(saved) => saved,
            None => {
                let source = Source::new(std::slice::from_ref(reference), &args.model, &[])?;
                accumulate(&source)?.finish()
            }
        };
        findings = compare_fairness(&reference_report, &report, &options)
            .map_err(quality_error(&format!("--reference {reference}")))?;
    }
    findings.extend(fairness_levels(&report, &options));
    report.findings = findings;
    if args.model.common.format == OutputFormat::Html {
        let html = assay::report::html::fairness_html(&report, &args.model.inputs.join(" "));
        crate::cli::html::emit(&html, args.model.output.as_deref())?;
        return Ok(exit_code(&report.findings));
    }
    let table = fairness_table(&report, &args.model.inputs.join(" "));
    emit(&report, table, &args.model)?;
    Ok(exit_code(&report.findings))
}
