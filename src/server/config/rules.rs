//! The configuration's rules, checked on everything that could be read.

use super::*;

/// A rule broken at a key path.
pub(super) struct Problem {
    pub(super) path: Vec<PathSegment>,
    pub(super) message: String,
}

#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, path: Vec<PathSegment>, message: impl Into<String>) {
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
pub(super) struct Resolved {
    pub(super) listen: SocketAddr,
    pub(super) default_model: String,
}

pub(super) fn check_rules(parts: &Parts, base: &Path, c: &mut Problems) -> Option<Resolved> {
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

    // `[alerts]`: its routes may name models.
    let models = models_read.then_some(names.as_slice());
    for p in crate::alerts::config::check(&parts.alerts, models, base) {
        c.add(p.path, p.message);
    }

    Some(Resolved {
        listen: listen?,
        default_model: default_model?,
    })
}

pub(super) fn token_source(raw: &RawAuth, base: &Path) -> Option<TokenSource> {
    match (&raw.token_file, &raw.token_env) {
        (Some(file), _) => Some(TokenSource::File(resolve(base, file))),
        (None, Some(name)) => Some(TokenSource::Env(name.clone())),
        (None, None) => None,
    }
}

pub(super) fn check_auth(raw: &RawAuth, base: &Path, c: &mut Problems) {
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

pub(super) fn check_model(model: &ModelPart, base: &Path, c: &mut Problems) {
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
        check_positive(c, path!["models", name, "window", "keep"], window.keep);
    }

    super::retrain::check_data(name, &model.data, c);
    super::retrain::check_retrain(name, &model.retrain, base, c);
    let body = model.body.present();
    super::quality::check(
        name,
        &model.quality,
        body.and_then(|b| b.request_id_column.as_deref()),
        c,
    );
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

pub(super) fn check_positive(c: &mut Problems, at: Vec<PathSegment>, value: Option<i64>) {
    if let Some(v) = value
        && v <= 0
    {
        c.add(at, format!("must be greater than 0, found {v}"));
    }
}

/// The baseline may be a file, a directory or a glob (like any input).
pub(super) fn check_baseline(c: &mut Problems, at: Vec<PathSegment>, base: &Path, baseline: &Path) {
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

pub(super) fn check_file_exists(
    c: &mut Problems,
    at: Vec<PathSegment>,
    what: &str,
    base: &Path,
    path: &Path,
) {
    if let Some(problem) = path_problem(what, base, path, Path::exists) {
        c.add(at, problem);
    }
}

/// What is wrong with a configured file path, if anything: empty, or
/// nothing where it points. `regular_file` refuses directories too (a
/// secret or a CA certificate is read as one file).
pub(crate) fn file_path_problem(
    what: &str,
    base: &Path,
    path: &Path,
    regular_file: bool,
) -> Option<String> {
    path_problem(
        what,
        base,
        path,
        if regular_file {
            Path::is_file
        } else {
            Path::exists
        },
    )
}

fn path_problem(what: &str, base: &Path, path: &Path, found: fn(&Path) -> bool) -> Option<String> {
    if path.as_os_str().is_empty() {
        return Some("cannot be empty".into());
    }
    let resolved = resolve(base, path);
    if found(&resolved) {
        return None;
    }
    let note = if path.is_relative() {
        " (relative paths are resolved against the config file's directory)"
    } else {
        ""
    };
    Some(format!("{what} not found: {}{note}", resolved.display()))
}

pub(super) fn unknown_model(name: &str, names: &[&str]) -> String {
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

pub(super) fn is_model_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

pub(crate) fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// `i64` values the rules found positive.
pub(super) fn positive(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

pub(super) fn size(value: Option<i64>, default: usize) -> usize {
    positive(value)
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(default)
}

/// The config, once every part was read and every rule holds.
pub(super) fn build(parts: Parts, resolved: Resolved, path: &Path) -> ServeConfig {
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
    let alerts = crate::alerts::config::build(parts.alerts, base);
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
                    keep: positive(w.keep).unwrap_or(DEFAULT_KEEP_WINDOWS),
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
                quality: match part.quality {
                    Read::Present(q) => Some(super::quality::build(q)),
                    _ => None,
                },
                data: super::retrain::build_data(part.data),
                retrain: super::retrain::build_retrain(part.retrain, base),
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
        alerts,
        source: path.to_path_buf(),
    }
}
