//! Rendering of profiles and schemas for people (tables, HTML pages) and
//! machines (JSON).

mod comparison;
mod findings;
pub mod html;
pub mod junit;
mod tables;

pub use comparison::{ComparisonJson, comparison_json, comparison_table};
pub use findings::{
    SchemaReport, SchemaRun, SchemaSummary, findings_junit, findings_table, schema_report,
};
pub use tables::{profile_table, schema_table};

/// Output format of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// A readable table.
    #[default]
    Table,
    /// Machine-readable JSON.
    Json,
    /// JUnit XML, for CI systems (`validate` only).
    Junit,
    /// One self-contained HTML page (`profile`, `validate`, `drift`,
    /// `skew`, `quality`, `fairness`), written to `-o FILE.html` (or stdout
    /// without `-o`).
    Html,
}
