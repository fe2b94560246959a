//! Bridge to polars for relational work: `--where` row filters and derived
//! columns (`--slice NAME=EXPRESSION`).
//!
//! arrow-rs `RecordBatch` stays the one in-memory format between modules;
//! polars only sees the columns an expression references, converted through
//! the Arrow C Data Interface without copying values ([`to_polars`] /
//! [`from_polars`]). Expressions are SQL (`age >= 30 AND state IN ('CA','NY')`),
//! compiled once by polars' SQL front end and evaluated per batch.
//!
//! Expressions are evaluated one batch at a time, so aggregate and window
//! functions (which would silently mean "per batch") are rejected.

mod bridge;
mod derive;
mod expr;
mod filter;

pub use bridge::{from_polars, to_polars};
pub use derive::{DerivedColumn, DerivedColumns};
pub use filter::RowFilter;

use thiserror::Error;

/// Errors of the polars bridge and of user-written expressions. Expression
/// errors name the command-line option and the expression as the user wrote
/// them, so the message can be printed as is.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The SQL text does not parse, or uses something polars' SQL front end
    /// or this module does not support.
    #[error("{option} \"{expr}\": invalid SQL expression: {message}")]
    Syntax {
        option: &'static str,
        expr: String,
        message: String,
    },
    #[error("{option} \"{expr}\": unknown column \"{column}\"; available: {available}")]
    UnknownColumn {
        option: &'static str,
        expr: String,
        column: String,
        available: String,
    },
    /// The expression parsed but failed on the data (type mismatch, a filter
    /// that is not boolean, ...).
    #[error("{option} \"{expr}\": {message}")]
    Evaluation {
        option: &'static str,
        expr: String,
        message: String,
    },
    /// A derived column definition that is not `NAME=EXPRESSION`, or whose
    /// name clashes with an existing column.
    #[error("--slice \"{definition}\": {message}")]
    Definition { definition: String, message: String },
    /// A column whose type cannot cross the arrow-rs ⇄ polars boundary.
    #[error(
        "column \"{column}\" of type {data_type} cannot be used in a polars expression: {message}"
    )]
    UnsupportedType {
        column: String,
        data_type: String,
        message: String,
    },
    /// A failure inside the C Data Interface exchange or building a frame.
    #[error("converting column \"{column}\" between arrow and polars failed: {message}")]
    Conversion { column: String, message: String },
}
