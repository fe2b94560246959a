//! Checks: pure functions from profiles (and, for row-level expectations,
//! batches) plus a contract (schema, suite, thresholds) to [`Finding`]s.
//! No I/O happens here; the CLI and the daemon read inputs and write reports.

pub mod anomalies;
pub mod compare;
pub mod drift;
pub mod finding;

pub use anomalies::schema_anomalies;
pub use finding::{Finding, FindingKind, Severity};
