//! The library's error type. Every module has its own typed error; this enum
//! gathers them so callers (the CLI, the daemon) can map a failure to an exit
//! code without string matching.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AssayError {
    #[error(transparent)]
    Source(#[from] crate::sources::SourceError),
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    #[error(transparent)]
    Expectation(#[from] crate::expectations::ExpectationError),
    #[error(transparent)]
    Compare(#[from] crate::checks::compare::CompareError),
    #[error(transparent)]
    Quality(#[from] crate::quality::QualityError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl AssayError {
    /// Exit code for the CLI: every error the library reports is a usage or
    /// input error (2); "a check failed" (1) is a result, not an error.
    pub fn exit_code(&self) -> i32 {
        2
    }
}
