//! Training: the models a retrain job fits on data assay validated, with
//! features encoded from the reviewed schema, on the CPU with candle.
//!
//! # The flow
//!
//! ```text
//! let data = load(&inputs, &read_options)?;                 // one RecordBatch, file order
//! let job = TrainOptions { label, positive, model, .. };
//! let model = train(&schema, &schema_sha256, &data, &job)?;  // fit + holdout metrics
//! model.save(dir)?;                                          // model.safetensors + model.json
//! let model = SavedModel::load(dir)?;
//! let out = model.predict(&batch)?;                          // prediction + score columns
//! ```
//!
//! # Files
//!
//! - [`features`]: the feature spec: which columns, how each is encoded
//!   (standardised numbers with a missing indicator, one-hot categories with
//!   an out-of-vocabulary bucket), fitted on the training rows;
//! - [`target`]: the label: binary (positive class as `assay quality`
//!   decides it), multiclass, regression;
//! - [`data`]: reading files into one batch, the time-ordered holdout split;
//! - [`lbfgs`]: the L-BFGS minimiser of the linear models;
//! - [`linear`]: logistic (and softmax, least-squares) regression, L2 as
//!   scikit-learn's `C`;
//! - [`mlp`]: the multilayer perceptron: AdamW, mini-batches, dropout,
//!   early stopping on a validation split;
//! - [`network`]: the weights of either model and their forward pass;
//! - [`saved`]: the model directory (`model.safetensors`, `model.json`);
//! - [`evaluate`]: holdout metrics through [`crate::quality`];
//! - [`job`]: [`train`], the whole fit from a batch to a [`SavedModel`].
//!
//! Every random choice (weight initialisation, validation split, batch
//! order, dropout masks) comes from one seeded generator, and candle's CPU
//! kernels are deterministic, so the same data, options and seed give the
//! same weights bit for bit.

pub mod data;
pub mod evaluate;
pub mod features;
pub mod job;
pub mod lbfgs;
pub mod linear;
pub mod mlp;
pub mod network;
pub mod saved;
pub mod target;

pub use data::{Loaded, load};
pub use features::{EncodedFeature, FeatureSpec, Matrix};
pub use job::{ClassWeights, ModelKind, TrainOptions, train};
pub use saved::{MODEL_FORMAT, ModelCard, Prediction, RetrainRecord, SavedModel, sha256_hex};
pub use target::{Target, TargetSpec};

use thiserror::Error;

/// Why training or prediction failed.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A column the schema, the label or the model needs is not in the data.
    #[error("{source_name}: no column `{column}` ({what}); columns: {available}")]
    MissingColumn {
        source_name: String,
        column: String,
        what: String,
        available: String,
    },
    /// A column has a type the encoding cannot read.
    #[error("{source_name}: column `{column}` is {found}, expected {expected}")]
    ColumnType {
        source_name: String,
        column: String,
        expected: String,
        found: String,
    },
    /// A bad label value.
    #[error("{source_name}: label column `{column}`, row {row}: {message}")]
    Label {
        source_name: String,
        column: String,
        /// 1-based data row (the header not counted).
        row: usize,
        message: String,
    },
    /// The label cannot make the task asked for.
    #[error("{source_name}: label column `{column}`: {message}")]
    Task {
        source_name: String,
        column: String,
        message: String,
    },
    /// The schema does not describe what training needs.
    #[error("schema: {0}")]
    Schema(String),
    /// Not enough rows to train, validate or evaluate.
    #[error("{0}")]
    TooFewRows(String),
    /// An option out of range.
    #[error("{0}")]
    Options(String),
    /// A model directory that cannot be read.
    #[error("model directory {dir}: {message}")]
    ModelDir { dir: String, message: String },
    /// Reading data.
    #[error(transparent)]
    Source(#[from] crate::sources::SourceError),
    /// Writing the model or predictions.
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A tensor operation failed (a bug or out of memory, not bad input).
    #[error("tensor computation: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The quality library rejected the holdout predictions.
    #[error("evaluating the holdout: {0}")]
    Quality(#[from] crate::quality::QualityError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}
