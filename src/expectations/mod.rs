//! Expectation suites, compatible with Great Expectations.
//!
//! A [`Suite`] is read from native TOML (`expectations/*.toml`) or from a GE
//! JSON suite (1.x or 0.x form) by [`load`]; every problem in it is
//! reported at once, each naming the file, the expectation (1-based number
//! and type), the argument, and — for TOML — the line and column.
//!
//! [`validate_suite`] runs a suite over files; [`evaluate_batches`] over
//! in-memory batches; [`evaluate_profile`] answers what a saved profile can
//! (table and column-aggregate expectations). Results serialize exactly as
//! GE's validation result ([`SuiteResult`]); [`to_junit`] and [`to_table`]
//! render them for CI systems and people.
//!
//! # How expectations are computed
//! - Table expectations read the schema and the row count.
//! - Column aggregates (min, max, mean, stdev, sum, proportion of non-null)
//!   read an exact profile of the column built during the pass; median and
//!   quantiles come from its KLL sketch (normalized rank error about 1.65%
//!   at 99% confidence). Distinct-value expectations (sets, unique count and
//!   proportion, most common value, categorical KL divergence) use exact
//!   value counts collected during the pass.
//! - Map (row-level) and multi-column expectations stream over the batches
//!   in one pass shared by all of them; z-scores need the column's mean and
//!   standard deviation first and take a second pass.
//! - NaN counts as missing, as in GE's pandas backend.

mod aggregate;
mod args;
mod compare;
mod exact;
mod kinds;
mod kl;
mod matcher;
mod pandas_query;
mod params;
mod parse;
mod render;
mod result;
mod rowcheck;
mod run;
mod suggest;
mod suite;
mod tally;
mod types;
mod unique;
mod values;

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use thiserror::Error;

pub use kinds::SUPPORTED;
pub use parse::{SUITE_FORMAT, load, parse_json, parse_toml};
pub use render::{junit_name, junit_suite, to_junit, to_table};
pub use result::{ExceptionInfo, ExpectationConfig, ExpectationResult, Statistics, SuiteResult};
pub use run::evaluate_profile;
pub use suggest::{SuggestOptions, suggest_suite};
pub use suite::*;
pub use types::type_matches;

use crate::sources::{self, BatchIter, ReadOptions, SourceError};

/// One problem in a suite file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based, TOML suites and JSON syntax errors only.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, Error)]
pub enum ExpectationError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Every problem of the suite, one per line.
    #[error("{}", .diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { diagnostics: Vec<Diagnostic> },
    #[error(transparent)]
    Source(#[from] crate::sources::SourceError),
    /// An expectation with `catch_exceptions = false` failed to evaluate.
    #[error("expectation #{index} ({type_name}): {message}")]
    Evaluation {
        index: usize,
        type_name: String,
        message: String,
    },
    /// The data could not be processed (e.g. profiling a batch failed).
    #[error("{0}")]
    Data(String),
}

/// Validates the data in `inputs` (files, globs, directories) against `suite`.
pub fn validate_suite(
    inputs: &[String],
    read: &ReadOptions,
    suite: &Suite,
) -> Result<SuiteResult, ExpectationError> {
    let dataset = sources::open(inputs, read)?;
    let schema = dataset.schema.clone();
    let files = dataset.files.clone();
    // The first pass over all columns uses the dataset already opened; a
    // pass over some columns, or a second pass (for z-scores), opens the
    // inputs again (footers and headers only: data is read by the openers).
    let first = std::sync::Mutex::new(Some(dataset));
    let open = |columns: Option<&[String]>| {
        let dataset = match (columns, first.lock().ok().and_then(|mut d| d.take())) {
            (None, Some(d)) => d,
            (None, None) => sources::open(inputs, read)?,
            (Some(columns), _) => {
                let projected = ReadOptions {
                    columns: Some(columns.to_vec()),
                    ..read.clone()
                };
                sources::open(inputs, &projected)?
            }
        };
        let openers = dataset.partitions.into_iter().map(|p| p.open).collect();
        Ok((dataset.schema, openers))
    };
    run::run(suite, schema, &open, &files)
}

/// Validates in-memory batches (all with the same schema) against `suite`.
pub fn evaluate_batches(
    suite: &Suite,
    batches: &[RecordBatch],
) -> Result<SuiteResult, ExpectationError> {
    let Some(first) = batches.first() else {
        return Err(ExpectationError::Data("no batches to validate".into()));
    };
    evaluate_batches_with_schema(suite, first.schema(), batches)
}

/// Like [`evaluate_batches`], with an explicit schema (allows no batches).
pub fn evaluate_batches_with_schema(
    suite: &Suite,
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<SuiteResult, ExpectationError> {
    let batches: Arc<Vec<RecordBatch>> = Arc::new(batches.to_vec());
    let open = |columns: Option<&[String]>| {
        let indices: Option<Vec<usize>> = columns
            .map(|names| names.iter().map(|n| schema.index_of(n)).collect())
            .transpose()
            .map_err(|e| ExpectationError::Data(e.to_string()))?;
        let read_schema = match &indices {
            Some(indices) => Arc::new(
                schema
                    .project(indices)
                    .map_err(|e| ExpectationError::Data(e.to_string()))?,
            ),
            None => schema.clone(),
        };
        let batches = batches.clone();
        let opener: run::Opener = Box::new(move || {
            let iter: BatchIter = Box::new((0..batches.len()).map(move |i| match &indices {
                Some(indices) => batches[i].project(indices).map_err(|e| SourceError::Other {
                    path: "<memory>".to_string(),
                    message: e.to_string(),
                }),
                None => Ok(batches[i].clone()),
            }));
            Ok(iter)
        });
        Ok((read_schema, vec![opener]))
    };
    run::run(suite, schema.clone(), &open, &["<memory>".to_string()])
}
