//! assay — data validation and monitoring for machine learning.
//!
//! Data flows one way: [`sources`] turn files into Arrow `RecordBatch`es,
//! [`profile`] accumulators turn batches into mergeable statistics, the
//! [`schema`] is inferred from (and later checked against) those statistics,
//! and [`report`] renders them for people and machines. [`query`] is the
//! bridge to polars for relational work (row filters, derived slice columns).
//! [`quality`] measures model quality and fairness from labelled predictions;
//! [`train`] fits models (candle, CPU) on features encoded from the schema.

pub mod alerts;
pub mod checks;
pub mod error;
pub mod expectations;
pub mod pipeline;
pub mod profile;
pub mod quality;
pub mod query;
pub mod report;
pub mod retrain;
pub mod schema;
pub mod server;
pub mod sinks;
pub mod sources;
pub mod train;
pub mod validation;

pub use error::AssayError;
