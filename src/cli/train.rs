//! `assay train` and `assay predict`: the training core of the retrain job
//! (`assay::train`) on files, so a model can be trained, inspected and run
//! without a server. docs/train.md documents both.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use assay::AssayError;
use assay::quality::Task;
use assay::quality::table::quality_table;
use assay::report::OutputFormat;
use assay::sources::{self, ReadOptions};
use assay::train::job::ClassWeights;
use assay::train::mlp::MlpOptions;
use assay::train::{self as training, ModelKind, SavedModel, TrainError, TrainOptions};

use crate::{Common, input_format, usage};

#[derive(Args)]
pub struct TrainArgs {
    /// Labelled training data: files, globs or directories (CSV, Parquet,
    /// NDJSON, Arrow IPC), rows in time order (the last rows are the holdout).
    #[arg(required = true, value_name = "DATA")]
    pub inputs: Vec<String>,
    /// The schema (`schema.toml`) whose features the model reads.
    #[arg(long, value_name = "FILE")]
    pub schema: PathBuf,
    /// The label column.
    #[arg(long, value_name = "COL")]
    pub label: String,
    /// Binary: the positive class (default as `assay quality`: 1, true, or
    /// the last of the two classes in sort order).
    #[arg(long, value_name = "VALUE")]
    pub positive: Option<String>,
    /// binary, multiclass or regression (default: inferred from the label).
    #[arg(long)]
    pub task: Option<String>,
    /// logistic (linear, L-BFGS) or mlp.
    #[arg(long, default_value = "logistic")]
    pub model: String,
    /// Write the model directory here (model.safetensors, model.json).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Share of the last rows held out to measure the model (0: none).
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// Seed of every random choice (same data, options and seed: same weights).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Logistic: inverse L2 strength, as scikit-learn's C.
    #[arg(long = "c", default_value_t = 1.0, value_name = "C")]
    pub c: f64,
    /// `balanced` (scikit-learn's rule) or one weight per class,
    /// comma-separated in class order (default: every row weighs 1).
    #[arg(long, value_name = "WEIGHTS")]
    pub class_weight: Option<String>,
    /// MLP: hidden layer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "SIZES")]
    pub hidden: Option<Vec<usize>>,
    /// MLP: dropout probability of hidden units.
    #[arg(long)]
    pub dropout: Option<f32>,
    /// MLP: most epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// MLP: rows per mini-batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// MLP: AdamW's learning rate.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// MLP: epochs without a better validation loss before stopping.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Input format, when the file name does not tell (csv, tsv, parquet, ndjson, ipc, ipc-stream).
    #[arg(long)]
    pub input_format: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args)]
pub struct PredictArgs {
    /// A model directory written by `assay train`.
    #[arg(value_name = "MODEL_DIR")]
    pub model: PathBuf,
    /// Data to score: files, globs or directories.
    #[arg(required = true, value_name = "DATA")]
    pub inputs: Vec<String>,
    /// The predictions (Parquet, zstd): the input rows in order with
    /// `prediction` and the score column(s).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Input format, when the file name does not tell (csv, tsv, parquet, ndjson, ipc, ipc-stream).
    #[arg(long)]
    pub input_format: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

fn train_error(e: TrainError) -> anyhow::Error {
    match e {
        TrainError::Source(s) => AssayError::from(s).into(),
        other => usage(other.to_string()),
    }
}

fn mlp_options(args: &TrainArgs) -> MlpOptions {
    let d = MlpOptions::default();
    MlpOptions {
        hidden: args.hidden.clone().unwrap_or(d.hidden),
        dropout: args.dropout.unwrap_or(d.dropout),
        learning_rate: args.learning_rate.unwrap_or(d.learning_rate),
        batch_size: args.batch_size.unwrap_or(d.batch_size),
        max_epochs: args.epochs.unwrap_or(d.max_epochs),
        patience: args.patience.unwrap_or(d.patience),
        ..d
    }
}

/// `assay train`.
pub fn run_train(args: TrainArgs) -> Result<u8> {
    if args.common.format == OutputFormat::Junit {
        return Err(usage(
            "--format junit is not available here; use table or json".into(),
        ));
    }
    let model = match args.model.as_str() {
        "logistic" => ModelKind::Logistic,
        "mlp" => ModelKind::Mlp,
        other => return Err(usage(format!("--model {other}: expected logistic or mlp"))),
    };
    let task = args
        .task
        .as_deref()
        .map(|t| {
            Task::parse(t).ok_or_else(|| {
                usage(format!(
                    "--task {t}: expected binary, multiclass or regression"
                ))
            })
        })
        .transpose()?;
    let class_weights = match args.class_weight.as_deref() {
        None => ClassWeights::None,
        Some("balanced") => ClassWeights::Balanced,
        Some(list) => ClassWeights::Given(
            list.split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    usage(format!(
                        "--class-weight {list}: expected `balanced` or comma-separated numbers"
                    ))
                })?,
        ),
    };
    let schema_bytes = std::fs::read(&args.schema).map_err(|e| {
        usage(format!(
            "cannot read schema file {}: {e}",
            args.schema.display()
        ))
    })?;
    let schema = assay::schema::load(&args.schema).map_err(AssayError::from)?;
    let read = ReadOptions {
        format: input_format(args.input_format.as_deref())?,
        ..ReadOptions::default()
    };
    let data = training::load(&args.inputs, &read).map_err(train_error)?;
    let options = TrainOptions {
        positive: args.positive.clone(),
        task,
        model,
        holdout_share: args.holdout,
        seed: args.seed,
        class_weights,
        linear: training::linear::LinearOptions {
            c: args.c,
            ..Default::default()
        },
        mlp: mlp_options(&args),
        ..TrainOptions::new(args.label.clone())
    };
    let trained = training::train(
        &schema,
        &training::sha256_hex(&schema_bytes),
        &data,
        &options,
    )
    .map_err(train_error)?;
    trained.save(&args.output).map_err(train_error)?;
    if !args.common.quiet {
        let card = &trained.card;
        match args.common.format {
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(card).context("serializing the model card")?
            ),
            _ => {
                println!(
                    "trained {} ({} task, {} features → {} columns) on {} rows in {:.2} s; wrote {}",
                    card.model,
                    card.target.task(),
                    card.features.features.len(),
                    card.features.width(),
                    card.lineage.train_rows,
                    card.training.seconds,
                    args.output.display()
                );
                match &card.holdout {
                    Some(report) => print!(
                        "{}",
                        quality_table(
                            report,
                            &format!("the holdout (last {} rows)", card.lineage.holdout_rows)
                        )
                    ),
                    None => println!("no holdout (--holdout 0): no metrics"),
                }
            }
        }
    }
    Ok(0)
}

/// `assay predict`.
pub fn run_predict(args: PredictArgs) -> Result<u8> {
    let model = SavedModel::load(&args.model).map_err(train_error)?;
    let read = ReadOptions {
        format: input_format(args.input_format.as_deref())?,
        ..ReadOptions::default()
    };
    let dataset = sources::open(&args.inputs, &read).map_err(AssayError::from)?;
    let mut batches = Vec::new();
    let mut rows = 0usize;
    for partition in dataset.partitions {
        let name = partition.description.clone();
        for batch in (partition.open)().map_err(AssayError::from)? {
            let batch = batch.map_err(AssayError::from)?;
            let prediction = model.predict(&batch, &name).map_err(train_error)?;
            rows += batch.num_rows();
            batches.push(prediction.append_to(&batch).map_err(train_error)?);
        }
    }
    let Some(first) = batches.first() else {
        return Err(usage(format!(
            "{}: no rows to predict",
            args.inputs.join(" ")
        )));
    };
    write_parquet(&args.output, first.schema(), &batches)?;
    if !args.common.quiet {
        println!(
            "predicted {rows} rows with {} ({}); wrote {}",
            args.model.display(),
            model.card.model,
            args.output.display()
        );
    }
    Ok(0)
}

fn write_parquet(
    path: &Path,
    schema: arrow::datatypes::SchemaRef,
    batches: &[arrow::array::RecordBatch],
) -> Result<()> {
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, Some(props))
        .context("writing predictions")?;
    for b in batches {
        writer.write(b).context("writing predictions")?;
    }
    writer.close().context("writing predictions")?;
    crate::write_file_bytes(path, &bytes)
}
