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
        let (raw, place) = match self {
            Self::File(path) => {
                let raw = std::fs::read(path)
                    .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
                let raw = String::from_utf8(raw)
                    .map_err(|_| format!("the token file {} is not valid UTF-8", path.display()))?;
                (raw, format!("the token file {}", path.display()))
            }
            Self::Env(name) => {
                let raw = std::env::var(name).map_err(|e| match e {
                    std::env::VarError::NotPresent => {
                        format!("the token variable {name} is not set")
                    }
                    std::env::VarError::NotUnicode(_) => {
                        format!("the token variable {name} is not valid UTF-8")
                    }
                })?;
                (raw, format!("the token variable {name}"))
            }
        };
        let token = raw.trim();
        if token.is_empty() {
            return Err(format!("{place} is empty"));
        }
        Ok(token.to_string())
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
}

/// `[models.NAME.window]`: tumbling windows that close when either limit is
/// reached; at least one is set, each greater than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPolicy {
    pub rows: Option<u64>,
    pub seconds: Option<u64>,
}

impl Default for WindowPolicy {
    fn default() -> Self {
        Self {
            rows: Some(DEFAULT_WINDOW_ROWS),
            seconds: Some(DEFAULT_WINDOW_SECONDS),
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

// ------------------------------------------------------------------ reading

/// Reads and checks the config at `path`.
pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and checks config text; `path` names it in messages, and relative
/// paths in it are resolved against `path`'s directory.
pub fn parse(text: &str, path: &Path) -> Result<ServeConfig, ConfigError> {
    let file = path.display().to_string();
    let locate = Locator::new(text, &file);
    let base = path.parent().unwrap_or(Path::new(""));
    let invalid = |diagnostics: Vec<Diagnostic>| ConfigError::Invalid {
        diagnostics: diagnostics.iter().map(ToString::to_string).collect(),
    };

    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        let diagnostics = syntax_errors
            .iter()
            .map(|e| locate.error(DiagnosticKind::Syntax, e.span(), e.message()))
            .collect();
        return Err(invalid(diagnostics));
    }

    let mut reader = Reader {
        locate: &locate,
        diagnostics: Vec::new(),
    };
    let parts = reader.read(root);
    let mut types = reader.diagnostics;
    types.sort_by_key(|d| (d.line, d.column));

    let mut problems = Problems::default();
    let resolved = check_rules(&parts, base, &mut problems);
    if types.is_empty()
        && problems.0.is_empty()
        && let Some(config) = resolved
    {
        return Ok(build(parts, config, path));
    }
    // Re-parse for the spans: the first tree was consumed by deserialization.
    let (tree, _) = DeTable::parse_recoverable(text);
    let mut rules: Vec<Diagnostic> = problems
        .0
        .iter()
        .map(|p| {
            let message = if p.path.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", dotted_path(&p.path), p.message)
            };
            let span = span_of(tree.get_ref(), &p.path).or(Some(0..0));
            locate.error(DiagnosticKind::Rule, span, &message)
        })
        .collect();
    rules.sort_by_key(|d| (d.line, d.column));
    types.extend(rules);
    if types.is_empty() {
        // check_rules resolves everything when nothing is wrong; say so
        // rather than panic if that ever changes.
        types.push(locate.error(DiagnosticKind::Rule, Some(0..0), "unreadable config"));
    }
    Err(invalid(types))
}

/// The keys of each table, in the order the docs list them.
const TOP_KEYS: &[&str] = &[
    "listen",
    "state_dir",
    "default_model",
    "auth",
    "limits",
    "spool",
    "models",
];
const AUTH_KEYS: &[&str] = &["token_file", "token_env", "protect_metrics"];
const LIMITS_KEYS: &[&str] = &["max_body_bytes", "queue_depth", "max_batch_rows"];
const SPOOL_KEYS: &[&str] = &["dir", "poll_interval_ms", "model"];
const MODEL_KEYS: &[&str] = &[
    "baseline",
    "schema",
    "suites",
    "environment",
    "slices",
    "request_id_column",
    "window",
    "checks",
];
const WINDOW_KEYS: &[&str] = &["rows", "seconds"];
const CHECKS_KEYS: &[&str] = &["per_batch", "per_window"];

/// The top-level scalars (the tables are read separately; they are declared
/// so that the struct and [`TOP_KEYS`] agree).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTop {
    listen: Option<String>,
    state_dir: Option<PathBuf>,
    default_model: Option<String>,
    #[serde(default, rename = "auth")]
    _auth: Option<IgnoredAny>,
    #[serde(default, rename = "limits")]
    _limits: Option<IgnoredAny>,
    #[serde(default, rename = "spool")]
    _spool: Option<IgnoredAny>,
    #[serde(default, rename = "models")]
    _models: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    #[serde(default)]
    protect_metrics: bool,
}

/// Integers are read signed so that 0 and negative values get the same
/// rule message ("must be greater than 0").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_body_bytes: Option<i64>,
    queue_depth: Option<i64>,
    max_batch_rows: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    dir: PathBuf,
    poll_interval_ms: Option<i64>,
    model: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    baseline: PathBuf,
    schema: Option<PathBuf>,
    #[serde(default)]
    suites: Vec<PathBuf>,
    environment: Option<String>,
    #[serde(default)]
    slices: Vec<Vec<String>>,
    request_id_column: Option<String>,
    #[serde(default, rename = "window")]
    _window: Option<IgnoredAny>,
    #[serde(default, rename = "checks")]
    _checks: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    rows: Option<i64>,
    seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    per_batch: Option<Vec<Check>>,
    per_window: Option<Vec<Check>>,
}

/// A table as read: absent, present but with a type error (reported), or
/// read.
enum Read<T> {
    Absent,
    Invalid,
    Present(T),
}

impl<T> Read<T> {
    fn present(&self) -> Option<&T> {
        match self {
            Read::Present(t) => Some(t),
            _ => None,
        }
    }
}

struct Parts {
    top: Read<RawTop>,
    auth: Read<RawAuth>,
    limits: Read<RawLimits>,
    spool: Read<RawSpool>,
    /// Whether `models` is there and is a table (its models are in
    /// `models`, read or not).
    models_table: Read<()>,
    models: Vec<ModelPart>,
}

struct ModelPart {
    name: String,
    body: Read<RawModel>,
    window: Read<RawWindow>,
    /// Unknown keys were dropped from the window table: what is left may be
    /// incomplete, so its rule about missing keys would only repeat them.
    window_had_unknown_keys: bool,
    checks: Read<RawChecks>,
}

/// The type stage: each table deserialized on its own.
struct Reader<'a> {
    locate: &'a Locator<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn read(&mut self, root: Spanned<DeTable<'_>>) -> Parts {
        let root_span = root.span();
        let mut top = root.into_inner();
        let top_had_unknown_keys = self.drop_unknown_keys(&mut top, TOP_KEYS, None);
        let (auth, _) = self.section(&mut top, "auth", "auth", AUTH_KEYS);
        let (limits, _) = self.section(&mut top, "limits", "limits", LIMITS_KEYS);
        let (spool, _) = self.section(&mut top, "spool", "spool", SPOOL_KEYS);
        let (models_table, models) = match top.remove("models") {
            None => (Read::Absent, Vec::new()),
            Some(value) => match (value.span(), value.into_inner()) {
                (_, DeValue::Table(table)) => (Read::Present(()), self.models(table)),
                (span, other) => {
                    let message = format!(
                        "`models` must be a table of [models.NAME] tables, found {}",
                        other.type_str()
                    );
                    self.type_error(Some(span), &message);
                    (Read::Invalid, Vec::new())
                }
            },
        };
        let top = self.deserialize(DeValue::Table(top), root_span, None, top_had_unknown_keys);
        Parts {
            top,
            auth,
            limits,
            spool,
            models_table,
            models,
        }
    }

    fn models(&mut self, table: DeTable<'_>) -> Vec<ModelPart> {
        let mut models = Vec::new();
        for (key, value) in table {
            let key_span = key.span();
            let name = key.into_inner().into_owned();
            let context = format!("models.{}", toml_key(&name));
            let value_span = value.span();
            let mut body = match value.into_inner() {
                DeValue::Table(body) => body,
                other => {
                    let message = format!(
                        "{context}: must be a table (a [{context}] section), found {}",
                        other.type_str()
                    );
                    self.type_error(Some(value_span), &message);
                    models.push((
                        key_span.start,
                        ModelPart {
                            name,
                            body: Read::Invalid,
                            window: Read::Invalid,
                            window_had_unknown_keys: false,
                            checks: Read::Invalid,
                        },
                    ));
                    continue;
                }
            };
            let had_unknown_keys = self.drop_unknown_keys(&mut body, MODEL_KEYS, Some(&context));
            let (window, window_had_unknown_keys) = self.section(
                &mut body,
                "window",
                &format!("{context}.window"),
                WINDOW_KEYS,
            );
            let (checks, _) = self.section(
                &mut body,
                "checks",
                &format!("{context}.checks"),
                CHECKS_KEYS,
            );
            // A missing `baseline` is reported at the model's name.
            let body = self.deserialize(
                DeValue::Table(body),
                key_span.clone(),
                Some(&context),
                had_unknown_keys,
            );
            models.push((
                key_span.start,
                ModelPart {
                    name,
                    body,
                    window,
                    window_had_unknown_keys,
                    checks,
                },
            ));
        }
        models.sort_by_key(|(position, _)| *position);
        models.into_iter().map(|(_, m)| m).collect()
    }

    /// Takes the table `key` out of `parent` and reads it; also says
    /// whether it had unknown keys.
    fn section<T: for<'de> Deserialize<'de>>(
        &mut self,
        parent: &mut DeTable<'_>,
        key: &str,
        context: &str,
        known: &[&str],
    ) -> (Read<T>, bool) {
        let Some((name, value)) = parent.remove_entry(key) else {
            return (Read::Absent, false);
        };
        let value_span = value.span();
        match value.into_inner() {
            DeValue::Table(mut table) => {
                let unknown = self.drop_unknown_keys(&mut table, known, Some(context));
                let read =
                    self.deserialize(DeValue::Table(table), name.span(), Some(context), unknown);
                (read, unknown)
            }
            other => {
                let message = format!("`{context}` must be a table, found {}", other.type_str());
                self.type_error(Some(value_span), &message);
                (Read::Invalid, false)
            }
        }
    }

    /// Reports and removes every key of `table` not in `known`, so that all
    /// of them are reported (serde stops at the first); true if there were
    /// any.
    fn drop_unknown_keys(
        &mut self,
        table: &mut DeTable<'_>,
        known: &[&str],
        context: Option<&str>,
    ) -> bool {
        let unknown: Vec<(String, Range<usize>)> = table
            .keys()
            .filter(|k| !known.contains(&k.get_ref().as_ref()))
            .map(|k| (k.get_ref().to_string(), k.span()))
            .collect();
        for (key, span) in &unknown {
            table.remove(key.as_str());
            let key = key.as_str();
            let mut message = String::new();
            if let Some(context) = context {
                message.push_str(&format!("{context}: "));
            }
            message.push_str(&format!("unknown key `{key}`"));
            if context == Some("auth") && key == "token" {
                message.push_str(
                    "; never write the token into the config: \
                     use `token_file` (a file holding it) or `token_env` (a variable holding it)",
                );
            } else if let Some(near) = closest(key, known) {
                message.push_str(&format!("; did you mean `{near}`?"));
            } else {
                let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                message.push_str(&format!("; expected one of {}", known.join(", ")));
            }
            self.type_error(Some(span.clone()), &message);
        }
        !unknown.is_empty()
    }

    /// Deserializes one table; `span` is where a problem without its own
    /// place (a missing key) is reported. After unknown keys were reported
    /// (`after_unknown_keys`), a missing key is most likely one of them,
    /// misspelt: it is not reported again.
    fn deserialize<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: DeValue<'_>,
        span: Range<usize>,
        context: Option<&str>,
        after_unknown_keys: bool,
    ) -> Read<T> {
        match T::deserialize(ValueDeserializer::from(Spanned::new(span.clone(), value))) {
            Ok(v) => Read::Present(v),
            Err(e) if after_unknown_keys && e.message().starts_with("missing field") => {
                Read::Invalid
            }
            Err(e) => {
                let message = with_suggestion(e.message());
                let message = match context {
                    Some(context) => format!("{context}: {message}"),
                    None => message,
                };
                self.type_error(e.span().or(Some(span)), &message);
                Read::Invalid
            }
        }
    }

    fn type_error(&mut self, span: Option<Range<usize>>, message: &str) {
        self.diagnostics
            .push(self.locate.error(DiagnosticKind::Type, span, message));
    }
}

// ------------------------------------------------------------------ rules

/// A rule broken at a key path.
struct Problem {
    path: Vec<PathSegment>,
    message: String,
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: Vec<PathSegment>, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            message: message.into(),
        });
    }
}

/// `path!["models", name, "window", "rows"]`
macro_rules! path {
    ($($segment:expr),* $(,)?) => { vec![$(PathSegment::from($segment)),*] };
}

/// What the rules work out for [`build`]: set only when every part that
/// is needed was read.
struct Resolved {
    listen: SocketAddr,
    default_model: String,
}

fn check_rules(parts: &Parts, base: &Path, c: &mut Problems) -> Option<Resolved> {
    let names: Vec<&str> = parts.models.iter().map(|m| m.name.as_str()).collect();
    let top = parts.top.present();

    // listen, and the security default.
    let listen = match top.and_then(|t| t.listen.as_deref()) {
        None => top.map(|_| DEFAULT_LISTEN),
        Some(text) => match text.trim().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                let hint = if text.trim_start().starts_with("localhost") {
                    " (write 127.0.0.1 for localhost)"
                } else {
                    ""
                };
                c.add(
                    path!["listen"],
                    format!(
                        "must be IP:PORT such as 127.0.0.1:9464 or [::1]:9464, found {text:?}{hint}"
                    ),
                );
                None
            }
        },
    };
    let auth = match &parts.auth {
        Read::Absent => Some(AuthConfig::default()),
        Read::Invalid => None,
        Read::Present(raw) => Some(AuthConfig {
            token: token_source(raw, base),
            protect_metrics: raw.protect_metrics,
        }),
    };
    if let (Some(listen), Some(auth)) = (listen, &auth)
        && !listen.ip().is_loopback()
        && auth.token.is_none()
    {
        c.add(
            path!["listen"],
            format!(
                "binding to a non-loopback address ({listen}) needs [auth] token_file or token_env"
            ),
        );
    }
    if let Some(dir) = top.and_then(|t| t.state_dir.as_ref())
        && dir.as_os_str().is_empty()
    {
        c.add(path!["state_dir"], "cannot be empty");
    }

    if let Read::Present(raw) = &parts.auth {
        check_auth(raw, base, c);
    }

    if let Read::Present(limits) = &parts.limits {
        for (key, value) in [
            ("max_body_bytes", limits.max_body_bytes),
            ("queue_depth", limits.queue_depth),
            ("max_batch_rows", limits.max_batch_rows),
        ] {
            check_positive(c, path!["limits", key], value);
        }
    }

    // Models: at least one, names, default.
    // `models` that is not a table was reported; rules about names would
    // only repeat it.
    let models_read = !matches!(parts.models_table, Read::Invalid);
    if names.is_empty() && models_read {
        let at = match parts.models_table {
            Read::Present(()) => path!["models"],
            _ => path![],
        };
        c.add(
            at,
            "at least one model is needed: add a [models.NAME] table with a `baseline`",
        );
    }
    for name in &names {
        if !is_model_name(name) {
            c.add(
                path!["models", *name],
                format!(
                    "model name {name:?} may only contain letters, digits, `_`, `.` and `-` \
                     (it appears in URLs and metric labels)"
                ),
            );
        }
    }
    let default_model = match top.map(|t| t.default_model.as_deref()) {
        // The top level or the models could not be read: unknown.
        None => None,
        Some(_) if !models_read => None,
        Some(Some(name)) => {
            if names.contains(&name) {
                Some(name.to_string())
            } else {
                c.add(path!["default_model"], unknown_model(name, &names));
                None
            }
        }
        Some(None) if names.len() == 1 => Some(names[0].to_string()),
        Some(None) if names.len() > 1 => {
            c.add(
                path!["models"],
                format!(
                    "`default_model` is required when there are several models ({})",
                    names.join(", ")
                ),
            );
            None
        }
        Some(None) => None,
    };

    if let Read::Present(spool) = &parts.spool {
        if spool.dir.as_os_str().is_empty() {
            c.add(path!["spool", "dir"], "cannot be empty");
        }
        check_positive(
            c,
            path!["spool", "poll_interval_ms"],
            spool.poll_interval_ms,
        );
        if let Some(name) = &spool.model
            && models_read
            && !names.contains(&name.as_str())
        {
            c.add(path!["spool", "model"], unknown_model(name, &names));
        }
    }

    for model in &parts.models {
        check_model(model, base, c);
    }

    Some(Resolved {
        listen: listen?,
        default_model: default_model?,
    })
}

fn token_source(raw: &RawAuth, base: &Path) -> Option<TokenSource> {
    match (&raw.token_file, &raw.token_env) {
        (Some(file), _) => Some(TokenSource::File(resolve(base, file))),
        (None, Some(name)) => Some(TokenSource::Env(name.clone())),
        (None, None) => None,
    }
}

fn check_auth(raw: &RawAuth, base: &Path, c: &mut Problems) {
    if raw.token_file.is_some() && raw.token_env.is_some() {
        c.add(
            path!["auth", "token_env"],
            "set one of `token_file` and `token_env`, not both",
        );
    }
    if let Some(file) = &raw.token_file {
        check_file_exists(c, path!["auth", "token_file"], "token file", base, file);
    }
    if let Some(name) = &raw.token_env
        && !is_env_name(name)
    {
        // Never echo the value: it may be the token, pasted by mistake.
        c.add(
            path!["auth", "token_env"],
            "must be the name of an environment variable holding the token \
             (letters, digits and `_`, e.g. ASSAY_TOKEN), not the token itself",
        );
    }
    if raw.protect_metrics && raw.token_file.is_none() && raw.token_env.is_none() {
        c.add(
            path!["auth", "protect_metrics"],
            "`protect_metrics` needs a token: set `token_file` or `token_env`",
        );
    }
}

fn check_model(model: &ModelPart, base: &Path, c: &mut Problems) {
    let name = model.name.as_str();
    let at = |key: &str| path!["models", name, key];

    if let Read::Present(window) = &model.window {
        if window.rows.is_none() && window.seconds.is_none() && !model.window_had_unknown_keys {
            c.add(
                at("window"),
                "a window needs `rows`, `seconds` or both (it closes when either is reached)",
            );
        }
        check_positive(c, path!["models", name, "window", "rows"], window.rows);
        check_positive(
            c,
            path!["models", name, "window", "seconds"],
            window.seconds,
        );
    }

    let body = model.body.present();
    if let Read::Present(checks) = &model.checks {
        for (list_key, list) in [
            ("per_batch", &checks.per_batch),
            ("per_window", &checks.per_window),
        ] {
            let Some(list) = list else { continue };
            let mut seen = BTreeSet::new();
            for (i, check) in list.iter().enumerate() {
                let at = path!["models", name, "checks", list_key, i];
                if !seen.insert(*check) {
                    c.add(at, format!("check `{check}` listed twice"));
                    continue;
                }
                if list_key == "per_batch" && matches!(check, Check::Skew | Check::Drift) {
                    c.add(
                        at.clone(),
                        format!("check `{check}` compares whole windows: list it in `per_window`"),
                    );
                }
                let Some(body) = body else { continue };
                let context = format!("models.{}", toml_key(name));
                match check {
                    Check::Schema if body.schema.is_none() => c.add(
                        at,
                        format!("check `schema` needs `{context}.schema`, the schema to check against"),
                    ),
                    Check::Expectations if body.suites.is_empty() => c.add(
                        at,
                        format!(
                            "check `expectations` needs `{context}.suites`, at least one expectation suite"
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }

    let Some(body) = body else { return };
    check_baseline(c, at("baseline"), base, &body.baseline);
    if let Some(schema) = &body.schema {
        check_file_exists(c, at("schema"), "schema", base, schema);
    }
    for (i, suite) in body.suites.iter().enumerate() {
        check_file_exists(c, path!["models", name, "suites", i], "suite", base, suite);
    }
    for (key, value) in [
        ("environment", &body.environment),
        ("request_id_column", &body.request_id_column),
    ] {
        if value.as_ref().is_some_and(|v| v.is_empty()) {
            c.add(at(key), "cannot be empty");
        }
    }
    for (i, slice) in body.slices.iter().enumerate() {
        if slice.is_empty() {
            c.add(
                path!["models", name, "slices", i],
                "a slice needs at least one column",
            );
        }
        let mut seen = BTreeSet::new();
        for (j, column) in slice.iter().enumerate() {
            if column.is_empty() {
                c.add(
                    path!["models", name, "slices", i, j],
                    "column names cannot be empty",
                );
            } else if !seen.insert(column.as_str()) {
                c.add(
                    path!["models", name, "slices", i, j],
                    format!("column {column:?} listed twice in one slice"),
                );
            }
        }
    }
}

fn check_positive(c: &mut Problems, at: Vec<PathSegment>, value: Option<i64>) {
    if let Some(v) = value
        && v <= 0
    {
        c.add(at, format!("must be greater than 0, found {v}"));
    }
}

/// The baseline may be a file, a directory or a glob (like any input).
fn check_baseline(c: &mut Problems, at: Vec<PathSegment>, base: &Path, baseline: &Path) {
    let resolved = resolve(base, baseline);
    let text = resolved.to_string_lossy();
    if !text.contains(['*', '?', '[']) {
        check_file_exists(c, at, "baseline", base, baseline);
        return;
    }
    match glob::glob(&text) {
        Err(e) => c.add(at, format!("invalid glob pattern: {e}")),
        Ok(mut paths) => {
            if !paths.any(|p| p.is_ok()) {
                c.add(at, format!("baseline: no file matches {text}"));
            }
        }
    }
}

fn check_file_exists(c: &mut Problems, at: Vec<PathSegment>, what: &str, base: &Path, path: &Path) {
    if path.as_os_str().is_empty() {
        c.add(at, "cannot be empty");
        return;
    }
    let resolved = resolve(base, path);
    if !resolved.exists() {
        let note = if path.is_relative() {
            " (relative paths are resolved against the config file's directory)"
        } else {
            ""
        };
        c.add(
            at,
            format!("{what} not found: {}{note}", resolved.display()),
        );
    }
}

fn unknown_model(name: &str, names: &[&str]) -> String {
    let mut message = format!("unknown model {name:?}");
    if let Some(near) = closest(name, names) {
        message.push_str(&format!("; did you mean {near:?}?"));
    } else if names.is_empty() {
        message.push_str("; the config defines no model");
    } else {
        message.push_str(&format!("; the config defines {}", names.join(", ")));
    }
    message
}

fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// `i64` values the rules found positive.
fn positive(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

fn size(value: Option<i64>, default: usize) -> usize {
    positive(value)
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(default)
}

/// The config, once every part was read and every rule holds.
fn build(parts: Parts, resolved: Resolved, path: &Path) -> ServeConfig {
    let base = path.parent().unwrap_or(Path::new(""));
    let top = parts.top.present();
    let state_dir = top
        .and_then(|t| t.state_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
    let auth = match &parts.auth {
        Read::Present(raw) => AuthConfig {
            token: token_source(raw, base),
            protect_metrics: raw.protect_metrics,
        },
        _ => AuthConfig::default(),
    };
    let limits = match &parts.limits {
        Read::Present(raw) => Limits {
            max_body_bytes: size(raw.max_body_bytes, DEFAULT_MAX_BODY_BYTES),
            queue_depth: size(raw.queue_depth, DEFAULT_QUEUE_DEPTH),
            max_batch_rows: size(raw.max_batch_rows, DEFAULT_MAX_BATCH_ROWS),
        },
        _ => Limits::default(),
    };
    let spool = parts.spool.present().map(|raw| SpoolConfig {
        dir: resolve(base, &raw.dir),
        poll_interval_ms: positive(raw.poll_interval_ms).unwrap_or(DEFAULT_POLL_INTERVAL_MS),
        model: Some(
            raw.model
                .clone()
                .unwrap_or_else(|| resolved.default_model.clone()),
        ),
    });
    let models = parts
        .models
        .into_iter()
        .filter_map(|part| {
            let Read::Present(raw) = part.body else {
                return None;
            };
            let window = match part.window {
                Read::Present(w) => WindowPolicy {
                    rows: positive(w.rows),
                    seconds: positive(w.seconds),
                },
                _ => WindowPolicy::default(),
            };
            let defaults = Checks::defaults(raw.schema.is_some(), !raw.suites.is_empty());
            let checks = match part.checks {
                Read::Present(c) => Checks {
                    per_batch: c.per_batch.unwrap_or(defaults.per_batch),
                    per_window: c.per_window.unwrap_or(defaults.per_window),
                },
                _ => defaults,
            };
            Some(ModelConfig {
                name: part.name,
                baseline: resolve(base, &raw.baseline),
                schema: raw.schema.as_deref().map(|s| resolve(base, s)),
                suites: raw.suites.iter().map(|s| resolve(base, s)).collect(),
                environment: raw.environment,
                slices: raw.slices,
                request_id_column: raw.request_id_column,
                window,
                checks,
            })
        })
        .collect();
    ServeConfig {
        listen: resolved.listen,
        state_dir: resolve(base, &state_dir),
        default_model: Some(resolved.default_model),
        auth,
        limits,
        spool,
        models,
        source: path.to_path_buf(),
    }
}

// ------------------------------------------------------------------ places

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
