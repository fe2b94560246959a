//! `retrain.toml`: what one retrain job (and the receiver that runs them)
//! needs. Read like the daemon's config: every TOML syntax error, then every
//! unknown key and the first wrong type of each table, then every broken
//! rule, each as `file:line:column: message`.
//!
//! ```toml
//! registry = "registry"               # the model registry (created if absent)
//! model = "credit"
//! label = "default"
//! positive = "1"                      # binary: the positive class (optional)
//! schema = "schema.toml"
//! suites = ["expectations/credit.toml"]
//! environment = "training"            # the schema environment (optional)
//! baseline = ["data/train.parquet"]   # training data always included
//! request_id_column = "application_id" # deduplicate on it (optional)
//! lookback = "14d"                    # partitions older than this are left out
//! holdout_share = 0.2
//! sensitive = ["sex"]                 # fairness groups for gated disparities
//! callback = true                     # POST the result to the payload's callback_url
//!
//! [train]
//! model = "logistic"                  # or "mlp"
//! seed = 0
//! c = 1.0
//! class_weight = "balanced"           # or [1.0, 3.0]
//! hidden = [64, 32]                   # mlp options
//!
//! [gate]
//! metrics = { roc_auc = 0.0, log_loss = 0.01 }
//! disparities = { demographic_parity_difference = 0.02 }
//!
//! [serve]
//! listen = "127.0.0.1:9500"
//! secret_file = "/run/secrets/retrain-hook"   # or secret_env
//! daemon_url = "http://127.0.0.1:9464"        # POST /v1/models/M/baseline on promotion
//! token_file = "/run/secrets/assay-token"     # or token_env: the daemon's bearer token
//! api_token_file = "/run/secrets/retrain-api" # or api_token_env: the bearer token this
//!                                             # receiver requires (needed off loopback)
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::RetrainJobError;
use super::gate::{Direction, disparity_direction, metric_direction};
use crate::schema::{Diagnostic, DiagnosticKind, Locator, PathSegment, span_of};
use crate::server::config::{Reader, parse_duration};
use crate::train::job::ClassWeights;
use crate::train::linear::LinearOptions;
use crate::train::mlp::MlpOptions;
use crate::train::{ModelKind, TrainOptions};

/// `[serve] listen` when absent: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9500);

const TOP_KEYS: &[&str] = &[
    "registry",
    "model",
    "label",
    "positive",
    "schema",
    "suites",
    "environment",
    "baseline",
    "request_id_column",
    "lookback",
    "holdout_share",
    "sensitive",
    "callback",
    "train",
    "gate",
    "serve",
];
const TRAIN_KEYS: &[&str] = &[
    "model",
    "seed",
    "c",
    "class_weight",
    "hidden",
    "dropout",
    "learning_rate",
    "weight_decay",
    "batch_size",
    "max_epochs",
    "patience",
    "validation_share",
];
const GATE_KEYS: &[&str] = &["metrics", "disparities"];
const SERVE_KEYS: &[&str] = &[
    "listen",
    "secret_file",
    "secret_env",
    "daemon_url",
    "token_file",
    "token_env",
    "api_token_file",
    "api_token_env",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTop {
    registry: PathBuf,
    model: String,
    label: String,
    positive: Option<String>,
    schema: PathBuf,
    #[serde(default)]
    suites: Vec<PathBuf>,
    environment: Option<String>,
    #[serde(default)]
    baseline: Vec<PathBuf>,
    request_id_column: Option<String>,
    lookback: Option<String>,
    holdout_share: Option<f64>,
    #[serde(default)]
    sensitive: Vec<String>,
    callback: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTrain {
    model: Option<ModelKind>,
    seed: Option<u64>,
    c: Option<f64>,
    class_weight: Option<RawClassWeight>,
    hidden: Option<Vec<usize>>,
    dropout: Option<f32>,
    learning_rate: Option<f64>,
    weight_decay: Option<f64>,
    batch_size: Option<usize>,
    max_epochs: Option<usize>,
    patience: Option<usize>,
    validation_share: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawClassWeight {
    Named(String),
    Given(Vec<f64>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGate {
    #[serde(default)]
    metrics: BTreeMap<String, f64>,
    #[serde(default)]
    disparities: BTreeMap<String, f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServe {
    listen: Option<String>,
    secret_file: Option<PathBuf>,
    secret_env: Option<String>,
    daemon_url: Option<String>,
    token_file: Option<PathBuf>,
    token_env: Option<String>,
    api_token_file: Option<PathBuf>,
    api_token_env: Option<String>,
}

/// A secret's place: a file or an environment variable (never the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    File(PathBuf),
    Env(String),
}

impl Secret {
    /// The secret, trimmed; errors name the place, never the value.
    pub fn read(&self) -> Result<String, String> {
        let text = match self {
            Self::File(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read secret file {}: {e}", p.display()))?,
            Self::Env(name) => std::env::var(name)
                .map_err(|_| format!("environment variable {name} is not set"))?,
        };
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(match self {
                Self::File(p) => format!("secret file {} is empty", p.display()),
                Self::Env(n) => format!("environment variable {n} is empty"),
            });
        }
        Ok(text)
    }
}

/// One gated metric or disparity.
#[derive(Debug, Clone, PartialEq)]
pub struct Gated {
    pub name: String,
    pub tolerance: f64,
    pub direction: Direction,
}

/// `[serve]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    /// The webhook's HMAC key (required to serve).
    pub secret: Option<Secret>,
    /// The daemon's base URL for `POST /v1/models/M/baseline`.
    pub daemon_url: Option<String>,
    /// The daemon's bearer token (callback and baseline).
    pub token: Option<Secret>,
    /// The bearer token this receiver requires on every route but
    /// `/healthz` and the signed webhook; needed off loopback.
    pub api_token: Option<Secret>,
}

impl ServeSettings {
    /// Binding `listen` off loopback needs `api_token`: jobs hold data
    /// paths, logs and metrics. `Err` is the message.
    pub fn check_exposure(&self, listen: SocketAddr) -> Result<(), String> {
        if listen.ip().is_loopback() || self.api_token.is_some() {
            Ok(())
        } else {
            Err(format!(
                "binding to a non-loopback address ({listen}) needs [serve] api_token_file or api_token_env"
            ))
        }
    }
}

/// `retrain.toml`, checked, paths resolved against its directory.
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub file: PathBuf,
    pub registry: PathBuf,
    pub model: String,
    pub schema: PathBuf,
    pub suites: Vec<PathBuf>,
    pub environment: Option<String>,
    pub baseline: Vec<PathBuf>,
    pub request_id_column: Option<String>,
    pub lookback_seconds: Option<u64>,
    pub sensitive: Vec<String>,
    pub callback: bool,
    pub train: TrainOptions,
    pub gate_metrics: Vec<Gated>,
    pub gate_disparities: Vec<Gated>,
    pub serve: ServeSettings,
}

/// Whether `text` is a job runner's config rather than the daemon's: it
/// has a top-level `registry` (the daemon's config has none). Read from
/// what TOML can recover, so a file with syntax errors is still told apart.
pub fn is_job_config(text: &str) -> bool {
    let (root, _) = DeTable::parse_recoverable(text);
    root.get_ref().contains_key("registry")
}

/// Reads and checks `retrain.toml`.
pub fn load(path: &Path) -> Result<JobConfig, RetrainJobError> {
    let text = std::fs::read_to_string(path).map_err(|e| RetrainJobError::Config {
        diagnostics: vec![format!("{}: cannot read: {e}", path.display())],
    })?;
    parse(&text, path)
}

/// Parses and checks config text; `path` names it and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<JobConfig, RetrainJobError> {
    let file = path.display().to_string();
    let locate = Locator::new(text, &file);
    let base = path.parent().unwrap_or(Path::new(""));
    let fail = |diagnostics: Vec<Diagnostic>| RetrainJobError::Config {
        diagnostics: diagnostics.iter().map(ToString::to_string).collect(),
    };
    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return Err(fail(
            syntax
                .iter()
                .map(|e| locate.error(DiagnosticKind::Syntax, e.span(), e.message()))
                .collect(),
        ));
    }
    let mut reader = Reader {
        locate: &locate,
        diagnostics: Vec::new(),
    };
    let root_span = root.span();
    let mut top = root.into_inner();
    let unknown = reader.drop_unknown_keys(&mut top, TOP_KEYS, None);
    let train: Option<RawTrain> = reader
        .section(&mut top, "train", "train", TRAIN_KEYS)
        .0
        .or_default();
    let gate: Option<RawGate> = reader
        .section(&mut top, "gate", "gate", GATE_KEYS)
        .0
        .or_default();
    let serve: Option<RawServe> = reader
        .section(&mut top, "serve", "serve", SERVE_KEYS)
        .0
        .or_default();
    let raw: Option<RawTop> = reader
        .deserialize(DeValue::Table(top), root_span, None, unknown)
        .into_present();
    let mut diagnostics = reader.diagnostics;
    diagnostics.sort_by_key(|d| (d.line, d.column));

    // The rules, on every part that could be read.
    let (tree, _) = DeTable::parse_recoverable(text);
    let mut rules = Vec::new();
    let mut rule = |path: &[&str], message: String| {
        let segments: Vec<PathSegment> = path.iter().map(|s| PathSegment::from(*s)).collect();
        let span = span_of(tree.get_ref(), &segments).or(Some(0..0));
        let message = format!("{}: {message}", path.join("."));
        rules.push(locate.error(DiagnosticKind::Rule, span, &message));
    };
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let mut lookback_seconds = None;
    if let Some(raw) = &raw {
        if raw.model.trim().is_empty() {
            rule(&["model"], "must not be empty".into());
        }
        if raw.label.trim().is_empty() {
            rule(&["label"], "must not be empty".into());
        }
        if raw.registry.as_os_str().is_empty() {
            rule(&["registry"], "must not be empty".into());
        }
        if !resolve(&raw.schema).is_file() {
            rule(
                &["schema"],
                format!("no such file: {}", resolve(&raw.schema).display()),
            );
        }
        for suite in &raw.suites {
            if !resolve(suite).is_file() {
                rule(
                    &["suites"],
                    format!("no such file: {}", resolve(suite).display()),
                );
            }
        }
        for b in &raw.baseline {
            let p = resolve(b);
            let text = p.to_string_lossy();
            let globbed = text.contains(['*', '?', '[']);
            if !globbed && !p.exists() {
                rule(&["baseline"], format!("no such file: {}", p.display()));
            }
        }
        if let Some(text) = &raw.lookback {
            match parse_duration(text) {
                Some(s) if s > 0 => lookback_seconds = Some(s),
                _ => rule(
                    &["lookback"],
                    format!("expected a duration such as \"14d\" or \"12h\", found {text:?}"),
                ),
            }
        }
        if let Some(h) = raw.holdout_share
            && !(h > 0.0 && h < 1.0)
        {
            rule(
                &["holdout_share"],
                format!("must be in (0, 1) (the gate needs a holdout), found {h}"),
            );
        }
    }
    let mut gate_metrics = Vec::new();
    let mut gate_disparities = Vec::new();
    if let Some(gate) = &gate {
        for (name, tolerance) in &gate.metrics {
            match metric_direction(name) {
                Some(direction) => gate_metrics.push(Gated {
                    name: name.clone(),
                    tolerance: *tolerance,
                    direction,
                }),
                None => rule(
                    &["gate", "metrics", name],
                    format!("`{name}` is not a metric the gate can compare (see docs/retrain.md)"),
                ),
            }
            if !(*tolerance >= 0.0 && tolerance.is_finite()) {
                rule(
                    &["gate", "metrics", name],
                    format!("tolerance must be a number >= 0, found {tolerance}"),
                );
            }
        }
        for (name, tolerance) in &gate.disparities {
            match disparity_direction(name) {
                Some(direction) => gate_disparities.push(Gated {
                    name: name.clone(),
                    tolerance: *tolerance,
                    direction,
                }),
                None => rule(
                    &["gate", "disparities", name],
                    format!("`{name}` is not a disparity (see docs/quality.md)"),
                ),
            }
            if !(*tolerance >= 0.0 && tolerance.is_finite()) {
                rule(
                    &["gate", "disparities", name],
                    format!("tolerance must be a number >= 0, found {tolerance}"),
                );
            }
        }
        if !gate.disparities.is_empty() && raw.as_ref().is_some_and(|r| r.sensitive.is_empty()) {
            rule(
                &["gate", "disparities"],
                "gated disparities need `sensitive` columns".into(),
            );
        }
    }
    let mut listen = DEFAULT_LISTEN;
    let mut serve_settings = None;
    if let Some(serve) = &serve {
        if let Some(text) = &serve.listen {
            match text.trim().parse::<SocketAddr>() {
                Ok(a) => listen = a,
                Err(_) => rule(
                    &["serve", "listen"],
                    format!("must be IP:PORT such as 127.0.0.1:9500, found {text:?}"),
                ),
            }
        }
        let secret = match (&serve.secret_file, &serve.secret_env) {
            (Some(_), Some(_)) => {
                rule(
                    &["serve", "secret_env"],
                    "give `secret_file` or `secret_env`, not both".into(),
                );
                None
            }
            (Some(f), None) => Some(Secret::File(resolve(f))),
            (None, Some(e)) => Some(Secret::Env(e.clone())),
            (None, None) => None,
        };
        let token = match (&serve.token_file, &serve.token_env) {
            (Some(_), Some(_)) => {
                rule(
                    &["serve", "token_env"],
                    "give `token_file` or `token_env`, not both".into(),
                );
                None
            }
            (Some(f), None) => Some(Secret::File(resolve(f))),
            (None, Some(e)) => Some(Secret::Env(e.clone())),
            (None, None) => None,
        };
        let api_token = match (&serve.api_token_file, &serve.api_token_env) {
            (Some(_), Some(_)) => {
                rule(
                    &["serve", "api_token_env"],
                    "give `api_token_file` or `api_token_env`, not both".into(),
                );
                None
            }
            (Some(f), None) => Some(Secret::File(resolve(f))),
            (None, Some(e)) => Some(Secret::Env(e.clone())),
            (None, None) => None,
        };
        if !listen.ip().is_loopback() && api_token.is_none() {
            rule(
                &["serve", "listen"],
                format!(
                    "binding to a non-loopback address ({listen}) needs `api_token_file` or `api_token_env`"
                ),
            );
        }
        if let Some(url) = &serve.daemon_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            rule(
                &["serve", "daemon_url"],
                format!("must be an http:// or https:// URL, found {url:?}"),
            );
        }
        serve_settings = Some(ServeSettings {
            listen,
            secret,
            daemon_url: serve
                .daemon_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            token,
            api_token,
        });
    }
    let train_options = match (&raw, &train) {
        (Some(raw), Some(t)) => {
            let class_weights = match &t.class_weight {
                None => ClassWeights::None,
                Some(RawClassWeight::Named(n)) if n == "balanced" => ClassWeights::Balanced,
                Some(RawClassWeight::Named(n)) => {
                    rule(
                        &["train", "class_weight"],
                        format!("expected \"balanced\" or a list of numbers, found {n:?}"),
                    );
                    ClassWeights::None
                }
                Some(RawClassWeight::Given(w)) => ClassWeights::Given(w.clone()),
            };
            let d = MlpOptions::default();
            Some(TrainOptions {
                positive: raw.positive.clone(),
                model: t.model.unwrap_or(ModelKind::Logistic),
                holdout_share: raw.holdout_share.unwrap_or(0.2),
                seed: t.seed.unwrap_or(0),
                class_weights,
                linear: LinearOptions {
                    c: t.c.unwrap_or(1.0),
                    ..Default::default()
                },
                mlp: MlpOptions {
                    hidden: t.hidden.clone().unwrap_or(d.hidden),
                    dropout: t.dropout.unwrap_or(d.dropout),
                    learning_rate: t.learning_rate.unwrap_or(d.learning_rate),
                    weight_decay: t.weight_decay.unwrap_or(d.weight_decay),
                    batch_size: t.batch_size.unwrap_or(d.batch_size),
                    max_epochs: t.max_epochs.unwrap_or(d.max_epochs),
                    patience: t.patience.unwrap_or(d.patience),
                    validation_share: t.validation_share.unwrap_or(d.validation_share),
                },
                ..TrainOptions::new(raw.label.clone())
            })
        }
        _ => None,
    };
    if let Some(t) = &train
        && let Some(c) = t.c
        && !(c > 0.0 && c.is_finite())
    {
        rule(
            &["train", "c"],
            format!("must be a positive number, found {c}"),
        );
    }
    rules.sort_by_key(|d| (d.line, d.column));
    diagnostics.extend(rules);
    if !diagnostics.is_empty() {
        return Err(fail(diagnostics));
    }
    let (Some(raw), Some(train), Some(_)) = (raw, train_options, gate) else {
        return Err(fail(vec![locate.error(
            DiagnosticKind::Rule,
            Some(0..0),
            "unreadable config",
        )]));
    };
    Ok(JobConfig {
        file: path.to_path_buf(),
        registry: resolve(&raw.registry),
        model: raw.model,
        schema: resolve(&raw.schema),
        suites: raw.suites.iter().map(|s| resolve(s)).collect(),
        environment: raw.environment,
        baseline: raw.baseline.iter().map(|b| resolve(b)).collect(),
        request_id_column: raw.request_id_column,
        lookback_seconds,
        sensitive: raw.sensitive,
        callback: raw.callback.unwrap_or(true),
        train,
        gate_metrics,
        gate_disparities,
        serve: serve_settings.unwrap_or(ServeSettings {
            listen: DEFAULT_LISTEN,
            secret: None,
            daemon_url: None,
            token: None,
            api_token: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_with_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retrain.toml");
        let text = "registry = \"reg\"\nmodel = \"m\"\nlabel = \"y\"\nschema = \"missing.toml\"\nholdout = 0.2\n\n[train]\nmodel = \"forest\"\n\n[gate]\nmetrics = { roc_auk = 0.0 }\n";
        let err = parse(text, &path).unwrap_err().to_string();
        let file = path.display().to_string();
        assert!(
            err.contains(&format!("{file}:5:1: unknown key `holdout`")),
            "{err}"
        );
        assert!(
            err.contains(&format!("{file}:8:9: train: unknown variant `forest`")),
            "{err}"
        );
        assert!(err.contains("schema: no such file"), "{err}");
        assert!(err.contains(&format!("{file}:11:")), "{err}");
        assert!(err.contains("`roc_auk` is not a metric"), "{err}");
    }
}
