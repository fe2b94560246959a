//! `[models.NAME.data]` (each closed window's rows kept as Parquet for
//! retraining) and `[models.NAME.retrain]` (when to ask for a retrain, and
//! the signed webhook that asks): `server::data`, `server::retrain`.
//!
//! ```toml
//! [models.credit.data]
//! enabled = true               # on by default
//! keep_days = 30
//! max_bytes = "10GiB"          # or a number of bytes
//!
//! [models.credit.retrain]
//! on = ["skew", "drift", "quality", "fairness", "schedule", "manual"]
//! min_drifted_features = 2
//! features = ["income", "age"] # only these count (default: every feature)
//! consecutive_windows = 3
//! max_quality_drop = 0.05
//! schedule = "0 3 * * SUN"     # cron: MIN HOUR DOM MON DOW (or with seconds first)
//! cooldown = "24h"
//! timeout = "6h"               # a retrain without an answer stops being in flight
//! url = "https://trainer.internal/hooks/assay"
//! secret_file = "/run/secrets/retrain-hook"   # or secret_env = "RETRAIN_SECRET"
//! callback_base_url = "http://assay.internal:9464"
//! lookback = "14d"             # partitions listed in the webhook (default: all kept)
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use super::quality::parse_duration;
use super::read::Read;
use super::rules::{Problems, file_path_problem, is_env_name, resolve};
use super::{PathSegment, toml_key};
use crate::alerts::config::SecretSource;

pub(super) const DATA_KEYS: &[&str] = &["enabled", "keep_days", "max_bytes"];
pub(super) const RETRAIN_KEYS: &[&str] = &[
    "on",
    "min_drifted_features",
    "features",
    "consecutive_windows",
    "max_quality_drop",
    "schedule",
    "cooldown",
    "timeout",
    "url",
    "secret_file",
    "secret_env",
    "callback_base_url",
    "lookback",
    "champion",
];

/// `keep_days` when absent.
pub const DEFAULT_KEEP_DAYS: u64 = 30;
/// `max_bytes` when absent: 10 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 << 30;
/// `cooldown` when absent: a day.
pub const DEFAULT_COOLDOWN_SECONDS: u64 = 24 * 3600;
/// `timeout` when absent: six hours.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 6 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawData {
    enabled: Option<bool>,
    keep_days: Option<i64>,
    max_bytes: Option<ByteSize>,
}

/// `max_bytes`: a number of bytes or a string such as `"10GiB"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ByteSize {
    Number(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetrain {
    on: Option<Vec<Trigger>>,
    min_drifted_features: Option<i64>,
    #[serde(default)]
    features: Vec<String>,
    consecutive_windows: Option<i64>,
    max_quality_drop: Option<f64>,
    schedule: Option<String>,
    cooldown: Option<String>,
    timeout: Option<String>,
    url: Option<String>,
    secret_file: Option<PathBuf>,
    secret_env: Option<String>,
    callback_base_url: Option<String>,
    lookback: Option<String>,
    champion: Option<RawChampion>,
}

/// `champion = { version = 3, path = "…" }`: the model being served.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChampion {
    version: ChampionVersion,
    path: Option<String>,
}

/// A registry version (a number) or a label such as `"2026-03-v2"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ChampionVersion {
    Number(i64),
    Text(String),
}

/// `[models.NAME.data]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataConfig {
    pub enabled: bool,
    pub keep_days: u64,
    pub max_bytes: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_days: DEFAULT_KEEP_DAYS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// What can start a retrain (`on`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A closed window against the training baseline.
    Skew,
    /// A closed window against the previous one.
    Drift,
    /// A window's quality (labels joined), once final.
    Quality,
    /// A window's fairness disparities, once final.
    Fairness,
    /// The cron `schedule`.
    Schedule,
    /// `POST /v1/models/NAME/retrain`.
    Manual,
}

impl Trigger {
    pub const ALL: [Trigger; 6] = [
        Trigger::Skew,
        Trigger::Drift,
        Trigger::Quality,
        Trigger::Fairness,
        Trigger::Schedule,
        Trigger::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skew => "skew",
            Self::Drift => "drift",
            Self::Quality => "quality",
            Self::Fairness => "fairness",
            Self::Schedule => "schedule",
            Self::Manual => "manual",
        }
    }
}

/// `[models.NAME.retrain]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrainConfig {
    pub on: Vec<Trigger>,
    pub min_drifted_features: u64,
    /// Only these features count towards `min_drifted_features` (empty:
    /// every feature).
    pub features: Vec<String>,
    pub consecutive_windows: u64,
    /// Quality fires when a gated metric fell by more than this against
    /// the reference; `None`: when the quality check has findings.
    pub max_quality_drop: Option<f64>,
    /// The cron expression as written (6 or 7 fields; a 5-field crontab
    /// expression gets second 0), parsed again by `server::retrain`.
    pub schedule: Option<String>,
    pub cooldown_seconds: u64,
    pub timeout_seconds: u64,
    pub url: String,
    pub secret: SecretSource,
    pub callback_base_url: Option<String>,
    pub lookback_seconds: Option<u64>,
    /// The served model as the config states it (the webhook's `champion`
    /// until a job reports a promotion).
    pub champion: Option<ChampionConfig>,
}

/// `[models.NAME.retrain] champion`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChampionConfig {
    /// A number or a string, as written.
    pub version: serde_json::Value,
    /// Where the served model is (a path or URI), as written.
    pub path: Option<String>,
}

// `max_quality_drop` is checked finite by the rules.
impl Eq for RetrainConfig {}

/// A cron expression in the `cron` crate's syntax: `SEC MIN HOUR DOM MON
/// DOW [YEAR]`; a crontab line's five fields get second 0.
pub fn cron_schedule(text: &str) -> Result<cron::Schedule, String> {
    let text = text.trim();
    let fields = text.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {text}")
    } else {
        text.to_string()
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        format!(
            "not a cron expression ({e}): expected MIN HOUR DOM MON DOW such as \"0 3 * * SUN\" (days of the week 1-7 from Sunday, or SUN-SAT), or with seconds first"
        )
    })
}

/// `"10GiB"`, `"500MB"`, `"1024"` → bytes (KB, MB, GB, TB are powers of
/// 1000; KiB, MiB, GiB, TiB of 1024).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(text.len(), |(i, _)| i);
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = n * factor;
    (bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

fn max_bytes(raw: &Option<ByteSize>) -> Result<Option<u64>, String> {
    match raw {
        None => Ok(None),
        Some(ByteSize::Number(n)) if *n > 0 => Ok(Some(*n as u64)),
        Some(ByteSize::Number(n)) => Err(format!("must be greater than 0, found {n}")),
        Some(ByteSize::Text(t)) => parse_bytes(t).map(Some).ok_or_else(|| {
            format!(
                "expected a size such as \"10GiB\", \"500MB\" or a number of bytes, found {t:?}"
            )
        }),
    }
}

fn at(model: &str, table: &str, key: &str) -> Vec<PathSegment> {
    vec![
        PathSegment::from("models"),
        PathSegment::from(model),
        PathSegment::from(table),
        PathSegment::from(key),
    ]
}

pub(super) fn check_data(model: &str, data: &Read<RawData>, c: &mut Problems) {
    let Read::Present(raw) = data else { return };
    if let Some(days) = raw.keep_days
        && days <= 0
    {
        c.add(
            at(model, "data", "keep_days"),
            format!("must be greater than 0, found {days}"),
        );
    }
    if let Err(e) = max_bytes(&raw.max_bytes) {
        c.add(at(model, "data", "max_bytes"), e);
    }
}

pub(super) fn check_retrain(
    model: &str,
    retrain: &Read<RawRetrain>,
    base: &Path,
    c: &mut Problems,
) {
    let Read::Present(raw) = retrain else { return };
    let at = |key: &str| at(model, "retrain", key);
    let on = raw.on.clone().unwrap_or_else(|| vec![Trigger::Manual]);
    if let Some(list) = &raw.on {
        for (i, t) in list.iter().enumerate() {
            if list[..i].contains(t) {
                let mut path = at("on");
                path.push(PathSegment::from(i));
                c.add(path, format!("trigger `{}` listed twice", t.as_str()));
            }
        }
    }
    for (key, value) in [
        ("min_drifted_features", raw.min_drifted_features),
        ("consecutive_windows", raw.consecutive_windows),
    ] {
        if let Some(v) = value
            && v <= 0
        {
            c.add(at(key), format!("must be greater than 0, found {v}"));
        }
    }
    if let Some(RawChampion {
        version: ChampionVersion::Text(t),
        ..
    }) = &raw.champion
        && t.trim().is_empty()
    {
        let mut path = at("champion");
        path.push(PathSegment::from("version"));
        c.add(path, "must not be empty");
    }
    if let Some(d) = raw.max_quality_drop
        && !(d.is_finite() && d >= 0.0)
    {
        c.add(
            at("max_quality_drop"),
            format!("must be a number ≥ 0, found {d}"),
        );
    }
    match (&raw.schedule, on.contains(&Trigger::Schedule)) {
        (Some(s), _) => {
            if let Err(e) = cron_schedule(s) {
                c.add(at("schedule"), e);
            } else if !on.contains(&Trigger::Schedule) {
                c.add(
                    at("schedule"),
                    "a schedule without \"schedule\" in `on` would never fire",
                );
            }
        }
        (None, true) => c.add(
            at("on"),
            format!(
                "the \"schedule\" trigger needs `models.{}.retrain.schedule`",
                toml_key(model)
            ),
        ),
        (None, false) => {}
    }
    for key in ["cooldown", "timeout", "lookback"] {
        let value = match key {
            "cooldown" => &raw.cooldown,
            "timeout" => &raw.timeout,
            _ => &raw.lookback,
        };
        if let Some(text) = value
            && parse_duration(text).is_none()
        {
            c.add(
                at(key),
                format!(
                    "expected a duration such as \"24h\", \"90m\", \"7d\" or \"3600s\", found {text:?}"
                ),
            );
        }
    }
    match &raw.url {
        None => c.add(
            vec![
                PathSegment::from("models"),
                PathSegment::from(model),
                PathSegment::from("retrain"),
            ],
            "a retrain policy needs `url`, the webhook that starts the retrain job",
        ),
        Some(url) => {
            if let Err(e) = http_url(url) {
                c.add(at("url"), e);
            }
        }
    }
    if let Some(url) = &raw.callback_base_url
        && let Err(e) = http_url(url)
    {
        c.add(at("callback_base_url"), e);
    }
    match (&raw.secret_file, &raw.secret_env) {
        (Some(_), Some(_)) => c.add(
            at("secret_env"),
            "set one of `secret_file` and `secret_env`, not both",
        ),
        (None, None) => c.add(
            vec![
                PathSegment::from("models"),
                PathSegment::from(model),
                PathSegment::from("retrain"),
            ],
            "the webhook is signed: set `secret_file` or `secret_env` (HMAC-SHA256 key)",
        ),
        (Some(file), None) => {
            if let Some(problem) = file_path_problem("secret file", base, file, true) {
                c.add(at("secret_file"), problem);
            }
        }
        (None, Some(var)) => {
            if !is_env_name(var) {
                // Never echo the value: it may be the secret, pasted by mistake.
                c.add(
                    at("secret_env"),
                    "expected the name of an environment variable (letters, digits, `_`), not the secret itself",
                );
            }
        }
    }
}

/// An `http://` or `https://` URL with a host and without a password.
fn http_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim())
        .map_err(|e| format!("not a URL ({e}): expected http://HOST[:PORT][/PATH]"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "expected an http:// or https:// URL, found scheme `{}`",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if url.password().is_some() {
        return Err("the URL holds a password: never write a secret into the config".into());
    }
    Ok(url)
}

pub(super) fn build_data(raw: Read<RawData>) -> DataConfig {
    let Read::Present(raw) = raw else {
        return DataConfig::default();
    };
    DataConfig {
        enabled: raw.enabled.unwrap_or(true),
        keep_days: raw
            .keep_days
            .filter(|d| *d > 0)
            .map_or(DEFAULT_KEEP_DAYS, |d| d as u64),
        max_bytes: max_bytes(&raw.max_bytes)
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_MAX_BYTES),
    }
}

pub(super) fn build_retrain(raw: Read<RawRetrain>, base: &Path) -> Option<RetrainConfig> {
    let Read::Present(raw) = raw else { return None };
    let secret = match (&raw.secret_file, &raw.secret_env) {
        (Some(file), _) => SecretSource::File(resolve(base, file)),
        (None, Some(var)) => SecretSource::Env(var.clone()),
        (None, None) => return None,
    };
    Some(RetrainConfig {
        on: raw.on.unwrap_or_else(|| vec![Trigger::Manual]),
        min_drifted_features: raw.min_drifted_features.filter(|n| *n > 0).unwrap_or(1) as u64,
        features: raw.features,
        consecutive_windows: raw.consecutive_windows.filter(|n| *n > 0).unwrap_or(1) as u64,
        max_quality_drop: raw.max_quality_drop,
        schedule: raw.schedule,
        cooldown_seconds: raw
            .cooldown
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_COOLDOWN_SECONDS),
        timeout_seconds: raw
            .timeout
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        url: raw.url?.trim().to_string(),
        secret,
        callback_base_url: raw
            .callback_base_url
            .map(|u| u.trim().trim_end_matches('/').to_string()),
        lookback_seconds: raw.lookback.as_deref().and_then(parse_duration),
        champion: raw.champion.map(|c| ChampionConfig {
            version: match c.version {
                ChampionVersion::Number(n) => serde_json::json!(n),
                ChampionVersion::Text(t) => serde_json::json!(t.trim()),
            },
            path: c.path,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("10GiB"), Some(10 << 30));
        assert_eq!(parse_bytes("500MB"), Some(500_000_000));
        assert_eq!(parse_bytes("1.5KiB"), Some(1536));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("0"), None);
        assert_eq!(parse_bytes("10 GiB"), Some(10 << 30));
        assert_eq!(parse_bytes("10gb"), None);
        assert_eq!(parse_bytes("GiB"), None);
    }

    #[test]
    fn cron_takes_crontab_lines_and_seconds_first() {
        assert!(cron_schedule("0 3 * * SUN").is_ok());
        assert!(cron_schedule("0 3 * * 1-5").is_ok());
        assert!(cron_schedule("0 0 3 * * *").is_ok());
        assert!(cron_schedule("*/5 * * * *").is_ok());
        let e = cron_schedule("every day").unwrap_err();
        assert!(e.contains("MIN HOUR DOM MON DOW"), "{e}");
    }
}

#[cfg(test)]
mod config_tests {
    use super::super::{ConfigError, parse};
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train.csv"), "a\n1\n").unwrap();
        match parse(text, &dir.path().join("assay.toml")) {
            Err(ConfigError::Invalid { diagnostics }) => diagnostics,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn data_is_on_by_default_and_both_sections_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train.csv"), "a\n1\n").unwrap();
        std::fs::write(dir.path().join("hook.secret"), "s3cret\n").unwrap();
        let path = dir.path().join("assay.toml");
        let plain = parse("[models.m]\nbaseline = \"train.csv\"\n", &path).unwrap();
        assert_eq!(plain.models[0].data, DataConfig::default());
        assert_eq!(plain.models[0].data.max_bytes, 10 << 30);
        assert!(plain.models[0].retrain.is_none());
        let text = r#"
[models.m]
baseline = "train.csv"
[models.m.data]
enabled = false
max_bytes = 1000
[models.m.retrain]
on = ["drift", "schedule", "manual"]
features = ["a"]
consecutive_windows = 2
schedule = "0 3 * * SUN"
cooldown = "2h"
url = "http://127.0.0.1:9/hook"
secret_file = "hook.secret"
"#;
        let config = parse(text, &path).unwrap();
        let m = &config.models[0];
        assert!(!m.data.enabled);
        assert_eq!(m.data.max_bytes, 1000);
        let r = m.retrain.as_ref().unwrap();
        assert_eq!(r.on, [Trigger::Drift, Trigger::Schedule, Trigger::Manual]);
        assert_eq!(r.cooldown_seconds, 7200);
        assert_eq!(r.timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
        assert_eq!(r.consecutive_windows, 2);
        assert_eq!(r.min_drifted_features, 1);
        assert_eq!(r.secret, SecretSource::File(dir.path().join("hook.secret")));
    }

    #[test]
    fn every_problem_is_located() {
        let text = r#"[models.m]
baseline = "train.csv"
[models.m.data]
keep_days = 0
max_bytes = "lots"
[models.m.retrain]
on = ["drift", "schedule"]
cooldown = "soon"
url = "ftp://x"
secret_env = "not a name"
colour = "red"
"#;
        let all = problems(text);
        let joined = all.join("\n");
        // The unknown key first (a type error), then every rule.
        assert!(
            all[0].contains(":11:1:") && all[0].contains("colour"),
            "{joined}"
        );
        for (line, what) in [
            (4, "keep_days: must be greater than 0"),
            (5, "max_bytes: expected a size"),
            (7, "needs `models.m.retrain.schedule`"),
            (8, "cooldown: expected a duration"),
            (9, "url: expected an http:// or https:// URL"),
            (10, "expected the name of an environment variable"),
        ] {
            assert!(
                all.iter()
                    .any(|d| d.contains(&format!(":{line}:")) && d.contains(what)),
                "no `{what}` at line {line}:\n{joined}"
            );
        }
        assert!(
            !joined.contains("not a name"),
            "never echo a secret: {joined}"
        );
        let missing = problems(
            "[models.m]\nbaseline = \"train.csv\"\n[models.m.retrain]\non = [\"skew\", \"skew\"]\n",
        );
        let joined = missing.join("\n");
        assert!(joined.contains("needs `url`"), "{joined}");
        assert!(
            joined.contains("set `secret_file` or `secret_env`"),
            "{joined}"
        );
        assert!(joined.contains("trigger `skew` listed twice"), "{joined}");
    }
}
