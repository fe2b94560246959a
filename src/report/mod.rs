//! Rendering of profiles and schemas for people (tables) and machines (JSON).

mod tables;

pub use tables::{profile_table, schema_table};

/// Output format of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// A readable table.
    #[default]
    Table,
    /// Machine-readable JSON.
    Json,
}
