//! The daemon's configuration file (`assay serve --config assay.toml`,
//! `assay check-config assay.toml`).
//!
//! # The file
//!
//! ```toml
//! listen = "127.0.0.1:9464"          # ADDR:PORT, loopback by default
//! state_dir = "assay-state"          # relative to this file's directory
//! default_model = "credit"           # needed when there are several models
//!
//! [auth]
//! token_file = "/run/secrets/assay-token"   # or token_env = "ASSAY_TOKEN"
//! protect_metrics = false
//!
//! [limits]
//! max_body_bytes = 16777216
//! queue_depth = 64
//! max_batch_rows = 1000000
//!
//! [spool]
//! dir = "spool"
//! poll_interval_ms = 500
//! model = "credit"
//!
//! [models.credit]
//! baseline = "data/train.parquet"    # training data or a saved profile (.json)
//! schema = "schema.toml"
//! suites = ["expectations/credit.toml"]
//! environment = "serving"
//! slices = [["sex"]]
//! request_id_column = "application_id"
//!
//! [models.credit.window]
//! rows = 10000
//! seconds = 60
//!
//! [models.credit.checks]
//! per_batch = ["schema", "expectations"]
//! per_window = ["schema", "expectations", "skew", "drift"]
//! ```
//!
//! `examples/assay.toml` documents every key.
//!
//! # Reading
//! Like `schema.toml` and expectation suites, the file is checked as a
//! whole, and every problem is reported at once as `file:line:column:
//! message`: TOML syntax errors (all of them; nothing else is checked then),
//! then type errors (every unknown key, with the closest known one; the
//! first wrong type or unknown check name of each table), then rule
//! violations (all of them). Each table is read on its own, so a bad table
//! hides nothing in the others, and the rules are checked on every table
//! that could be read.
//!
//! The files the config names (baselines, schemas, suites, the token file)
//! must exist, but they are not read here: the server loads them.
//!
//! # Defaults
//! - `listen`: [`DEFAULT_LISTEN`]; `state_dir`: [`DEFAULT_STATE_DIR`].
//! - `default_model`: the only model, when there is one.
//! - `[limits]`: [`Limits::default`]; `[spool]`: no spool directory;
//!   `poll_interval_ms` [`DEFAULT_POLL_INTERVAL_MS`], `model` the default
//!   model.
//! - `[models.NAME.window]`, when the table is absent:
//!   [`WindowPolicy::default`] (10,000 rows or 60 seconds, whichever comes
//!   first).
//! - `[models.NAME.checks]`, for a list that is absent: per batch `schema`
//!   and `expectations`, per window those and `skew` and `drift`, leaving
//!   out `schema` when the model has no `schema` and `expectations` when it
//!   has no `suites`. A list given explicitly must be satisfiable: naming
//!   `schema` without a schema is an error.
//!
//! Relative paths are resolved against the directory of the config file,
//! so a config works from any working directory.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;
use thiserror::Error;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::alerts::config::{AlertsConfig, AlertsParts, read_alerts};
use crate::schema::{
    Diagnostic, DiagnosticKind, Locator, PathSegment, closest, dotted_path, span_of, toml_key,
    with_suggestion,
};

/// `listen` when the key is absent: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9464);
/// `state_dir` when the key is absent (relative to the config's directory).
pub const DEFAULT_STATE_DIR: &str = "assay-state";
/// `limits.max_body_bytes` when absent: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// `limits.queue_depth` when absent.
pub const DEFAULT_QUEUE_DEPTH: usize = 64;
/// `limits.max_batch_rows` when absent.
pub const DEFAULT_MAX_BATCH_ROWS: usize = 1_000_000;
/// `spool.poll_interval_ms` when absent.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 500;
/// Window rows when `[models.NAME.window]` is absent.
pub const DEFAULT_WINDOW_ROWS: u64 = 10_000;
/// Window seconds when `[models.NAME.window]` is absent.
pub const DEFAULT_WINDOW_SECONDS: u64 = 60;
/// Closed windows kept (index entry, report, profile) when
/// `[models.NAME.window] keep` is absent: a day of one-minute windows.
pub const DEFAULT_KEEP_WINDOWS: u64 = 1_440;

// ------------------------------------------------------------------ model

/// The daemon's whole configuration, paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Resolved against the config file's directory.
    pub state_dir: PathBuf,
    /// After [`load`] / [`parse`], always set: the configured name, or the
    /// only model's.
    pub default_model: Option<String>,
    pub auth: AuthConfig,
    pub limits: Limits,
    pub spool: Option<SpoolConfig>,
    /// In file order; at least one.
    pub models: Vec<ModelConfig>,
    /// `[alerts]` (see `alerts::config`); `None` without the section.
    pub alerts: Option<AlertsConfig>,
    /// The config file (for messages).
    pub source: PathBuf,
}

impl ServeConfig {
    /// The model called `name`.
    pub fn model(&self, name: &str) -> Option<&ModelConfig> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Checks the security rule for a listen address given on the command
    /// line (`--listen`), which overrides the file's: a non-loopback address
    /// needs a token.
    pub fn check_listen(listen: SocketAddr, auth: &AuthConfig) -> Result<(), String> {
        if listen.ip().is_loopback() || auth.token.is_some() {
            Ok(())
        } else {
            Err(format!(
                "binding to a non-loopback address ({listen}) needs [auth] token_file or token_env"
            ))
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthConfig {
    /// Where the bearer token is read from; `None`: no authentication.
    pub token: Option<TokenSource>,
    /// Whether `/metrics` needs the token too (`/healthz` never does).
    pub protect_metrics: bool,
}

/// Where a secret is read from, for [`read_secret`].
pub(crate) enum SecretPlace<'a> {
    File(&'a std::path::Path),
    Env(&'a str),
}

/// Reads a secret (the bearer token, an alert receiver's password or
/// signing key), trimmed. Errors name the place — "the {file_noun} PATH",
/// "the {var_noun} NAME" — never the value.
pub(crate) fn read_secret(
    place: SecretPlace<'_>,
    file_noun: &str,
    var_noun: &str,
) -> Result<String, String> {
    let (raw, place) = match place {
        SecretPlace::File(path) => {
            let raw = std::fs::read(path)
                .map_err(|e| format!("cannot read the {file_noun} {}: {e}", path.display()))?;
            let raw = String::from_utf8(raw)
                .map_err(|_| format!("the {file_noun} {} is not valid UTF-8", path.display()))?;
            (raw, format!("the {file_noun} {}", path.display()))
        }
        SecretPlace::Env(name) => {
            let raw = std::env::var(name).map_err(|e| match e {
                std::env::VarError::NotPresent => format!("the {var_noun} {name} is not set"),
                std::env::VarError::NotUnicode(_) => {
                    format!("the {var_noun} {name} is not valid UTF-8")
                }
            })?;
            (raw, format!("the {var_noun} {name}"))
        }
    };
    let secret = raw.trim();
    if secret.is_empty() {
        return Err(format!("{place} is empty"));
    }
    Ok(secret.to_string())
}

/// Where the bearer token comes from. Holds the place, never the token.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `token_file`: a file holding the token (surrounding whitespace is
    /// ignored), resolved against the config's directory.
    File(PathBuf),
    /// `token_env`: the name of an environment variable holding the token.
    Env(String),
}

impl TokenSource {
    /// Reads the token, trimmed. Errors name the file or variable, never
    /// the token.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Self::File(path) => {
                read_secret(SecretPlace::File(path), "token file", "token variable")
            }
            Self::Env(name) => read_secret(SecretPlace::Env(name), "token file", "token variable"),
        }
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            // A name that is not a variable name may be a pasted token.
            Self::Env(name) if is_env_name(name) => f.debug_tuple("Env").field(name).finish(),
            Self::Env(_) => f.write_str("Env(<not a variable name>)"),
        }
    }
}

/// `[limits]`; every limit is greater than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// Batches waiting to be processed; a full queue answers 429.
    pub queue_depth: usize,
    /// Larger batches are rejected.
    pub max_batch_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            max_batch_rows: DEFAULT_MAX_BATCH_ROWS,
        }
    }
}

/// `[spool]`: a directory watched for dropped files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Resolved against the config file's directory.
    pub dir: PathBuf,
    pub poll_interval_ms: u64,
    /// The model the files are for; after [`load`] / [`parse`], always set
    /// (the default model when the key is absent).
    pub model: Option<String>,
}

/// `[models.NAME]`: one watched model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// The table key: `[A-Za-z0-9_.-]+`.
    pub name: String,
    /// Training data (any input assay reads: a file, a glob, a directory) or
    /// a saved profile (`.json`); resolved against the config's directory.
    pub baseline: PathBuf,
    pub schema: Option<PathBuf>,
    /// Expectation suites (TOML or Great Expectations JSON).
    pub suites: Vec<PathBuf>,
    /// The schema environment of served data; `None`: `serving` when the
    /// schema declares it (the server decides, having read the schema).
    pub environment: Option<String>,
    /// Column combinations reported separately, like the schema's `slices`.
    pub slices: Vec<Vec<String>>,
    pub request_id_column: Option<String>,
    pub window: WindowPolicy,
    pub checks: Checks,
    /// `[models.NAME.quality]`: labels joined to predictions.
    pub quality: Option<QualityConfig>,
    /// `[models.NAME.data]`: closed windows' rows kept as Parquet (on by
    /// default).
    pub data: DataConfig,
    /// `[models.NAME.retrain]`: when to call the retrain webhook.
    pub retrain: Option<RetrainConfig>,
}

/// `[models.NAME.window]`: tumbling windows that close when either limit is
/// reached; at least one is set, each greater than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPolicy {
    pub rows: Option<u64>,
    pub seconds: Option<u64>,
    /// Closed windows kept: older ones leave the index and their report and
    /// profile files are deleted (the rollups still hold their data).
    pub keep: u64,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        Self {
            rows: Some(DEFAULT_WINDOW_ROWS),
            seconds: Some(DEFAULT_WINDOW_SECONDS),
            keep: DEFAULT_KEEP_WINDOWS,
        }
    }
}

/// `[models.NAME.checks]`: which checks run on each batch and when a window
/// closes. No check is listed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checks {
    pub per_batch: Vec<Check>,
    pub per_window: Vec<Check>,
}

impl Checks {
    /// The defaults for a model with or without a schema and suites.
    pub fn defaults(has_schema: bool, has_suites: bool) -> Self {
        let available = |c: &Check| match c {
            Check::Schema => has_schema,
            Check::Expectations => has_suites,
            Check::Skew | Check::Drift => true,
        };
        Self {
            per_batch: [Check::Schema, Check::Expectations]
                .into_iter()
                .filter(available)
                .collect(),
            per_window: Check::ALL.into_iter().filter(available).collect(),
        }
    }
}

/// One kind of check (`snake_case` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Validation against the model's schema.
    Schema,
    /// The model's expectation suites.
    Expectations,
    /// A closed window against the training baseline (per window only).
    Skew,
    /// A closed window against the previous one(s) (per window only).
    Drift,
}

impl Check {
    pub const ALL: [Check; 4] = [
        Check::Schema,
        Check::Expectations,
        Check::Skew,
        Check::Drift,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "schema",
            Self::Expectations => "expectations",
            Self::Skew => "skew",
            Self::Drift => "drift",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a config could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem, one `file:line:column: message` each: syntax errors,
    /// then type errors, then rule violations, in file order within each.
    #[error("{}", diagnostics.join("\n"))]
    Invalid { diagnostics: Vec<String> },
}

mod quality;
mod read;
mod retrain;
mod rules;
pub use quality::{Duplicates, QualityConfig, parse_duration};
pub use retrain::{ChampionConfig, DataConfig, RetrainConfig, Trigger, cron_schedule, parse_bytes};
pub(crate) use rules::{file_path_problem, is_env_name, resolve};

use read::*;
pub(crate) use read::{Read, Reader};
pub use read::{load, parse};
use rules::*;

#[cfg(test)]
mod tests {
    use super::*;

    /// serde's list of expected keys, from an unknown-key error.
    fn serde_keys<T: for<'de> Deserialize<'de>>() -> Vec<String> {
        let (tree, errors) = DeTable::parse_recoverable("zzz_unknown = 1");
        assert!(errors.is_empty());
        let span = tree.span();
        let value = DeValue::Table(tree.into_inner());
        let Err(e) = T::deserialize(ValueDeserializer::from(Spanned::new(span, value))) else {
            panic!("unknown key accepted");
        };
        e.message()
            .split('`')
            .skip(1)
            .step_by(2)
            .skip(1)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn key_lists_match_the_structs() {
        let same = |serde: Vec<String>, ours: &[&str]| {
            let mut serde = serde;
            serde.sort();
            let mut ours: Vec<String> = ours.iter().map(|k| k.to_string()).collect();
            ours.sort();
            assert_eq!(serde, ours);
        };
        same(serde_keys::<RawTop>(), TOP_KEYS);
        same(serde_keys::<RawAuth>(), AUTH_KEYS);
        same(serde_keys::<RawLimits>(), LIMITS_KEYS);
        same(serde_keys::<RawSpool>(), SPOOL_KEYS);
        same(serde_keys::<RawModel>(), MODEL_KEYS);
        same(serde_keys::<RawWindow>(), WINDOW_KEYS);
        same(serde_keys::<RawChecks>(), CHECKS_KEYS);
        same(serde_keys::<retrain::RawData>(), retrain::DATA_KEYS);
        same(serde_keys::<retrain::RawRetrain>(), retrain::RETRAIN_KEYS);
    }

    #[test]
    fn names() {
        assert!(is_model_name("credit-v2.1_a"));
        assert!(!is_model_name("credit model"));
        assert!(!is_model_name(""));
        assert!(!is_model_name("crédit"));
        assert!(is_env_name("ASSAY_TOKEN"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("tok-en"));
        assert!(!is_env_name(""));
    }

    #[test]
    fn default_checks_follow_what_the_model_has() {
        let all = Checks::defaults(true, true);
        assert_eq!(all.per_batch, [Check::Schema, Check::Expectations]);
        assert_eq!(all.per_window, Check::ALL);
        let bare = Checks::defaults(false, false);
        assert!(bare.per_batch.is_empty());
        assert_eq!(bare.per_window, [Check::Skew, Check::Drift]);
    }

    #[test]
    fn debug_hides_pasted_tokens() {
        let pasted = TokenSource::Env("s3cr3t-t0ken.value".into());
        assert!(!format!("{pasted:?}").contains("s3cr3t"));
        let named = TokenSource::Env("ASSAY_TOKEN".into());
        assert_eq!(format!("{named:?}"), "Env(\"ASSAY_TOKEN\")");
    }
}
