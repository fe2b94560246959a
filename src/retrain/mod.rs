//! The retrain job runner: what `assay retrain run` does in the foreground
//! and `assay retrain serve` does for each signed webhook the daemon sends.
//!
//! - [`config`]: `retrain.toml`, every problem located;
//! - [`assemble`]: baseline data plus the daemon's partitions, in time order;
//! - [`gate`]: challenger against champion on the same holdout;
//! - [`prediction_schema`]: the challenger's outputs against the schema's
//!   prediction features;
//! - [`registry`]: `REGISTRY/models/M/versions/N` and the `champion` pointer;
//! - [`job`]: the steps, each recorded in the job's `report.json`;
//! - [`store`]: the receiver's durable jobs (`REGISTRY/jobs/ID/job.json`);
//! - [`serve`]: the signed webhook receiver and its one worker.
//!
//! docs/retrain.md ("The job runner") documents the files and exit codes.

pub mod assemble;
pub mod config;
pub mod gate;
pub mod job;
pub mod prediction_schema;
pub mod registry;
pub mod serve;
pub mod store;

pub use config::JobConfig;
pub use job::{JobRequest, JobResult, Outcome};

use thiserror::Error;

/// Why a job could not run to a decision.
#[derive(Debug, Error)]
pub enum RetrainJobError {
    /// `retrain.toml` has problems (every one, located).
    #[error("{}", diagnostics.join("\n"))]
    Config { diagnostics: Vec<String> },
    /// The data cannot be assembled or read.
    #[error("{0}")]
    Data(String),
    /// Training or evaluation failed.
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    /// The registry holds something unexpected.
    #[error("registry: {0}")]
    Registry(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Assay(#[from] crate::AssayError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}
