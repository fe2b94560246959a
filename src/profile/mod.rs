//! Profiles: mergeable statistics of a dataset, per column and per slice.
//!
//! Every accumulator follows one contract: create, `update(batch)`, `merge`,
//! `finish`. Merge is associative and commutative, so partitions, windows and
//! files can be profiled independently and combined.

pub mod column;
pub mod frequency;
pub mod io;
pub mod kll;
pub mod model;
pub mod numeric;
pub mod sketch;
pub mod string_counts;
pub mod table;

pub use column::ColumnAccumulator;
pub use model::*;
pub use table::{ProfileOptions, TableAccumulator};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("column `{column}` has type {data_type}, which cannot be profiled{hint}")]
    UnsupportedType {
        column: String,
        data_type: String,
        hint: String,
    },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(
        "more than {max} slices (while slicing by `{spec}`); slice by fewer or coarser columns, or raise --max-slices"
    )]
    TooManySlices { spec: String, max: usize },
    #[error("{0}")]
    Invalid(String),
}
