//! The rules of `[alerts]`, checked on everything that could be read, and
//! the resolved [`AlertsConfig`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::read::{
    AlertsParts, RawAlertmanager, RawEmail, RawOutbox, RawReceiver, RawRoute, RawWebhook, Read,
};
use super::*;
use crate::schema::{PathSegment, closest};
use crate::server::config::{file_path_problem, is_env_name, resolve};

/// A rule broken at a key path (under the config's root).
pub(crate) struct Problem {
    pub(crate) path: Vec<PathSegment>,
    pub(crate) message: String,
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

/// `path!["alerts", "receivers", 0, "url"]`
macro_rules! path {
    ($($segment:expr),* $(,)?) => { vec![$(PathSegment::from($segment)),*] };
}

/// Every rule `[alerts]` breaks; `models`: the models the config defines
/// (`None` when they could not be read), `base`: the config's directory.
pub(crate) fn check(parts: &AlertsParts, models: Option<&[&str]>, base: &Path) -> Vec<Problem> {
    let mut c = Problems::default();
    if let Some(top) = parts.top.present()
        && let Some(url) = &top.base_url
        && let Err(e) = http_url(url)
    {
        c.add(path!["alerts", "base_url"], e);
    }
    if let Read::Present(outbox) = &parts.outbox {
        check_outbox(outbox, &mut c);
    }

    let mut names: Vec<&str> = Vec::new();
    for (i, part) in parts.receivers.iter().enumerate() {
        let Some(name) = &part.name else { continue };
        let at = path!["alerts", "receivers", i, "name"];
        if !is_receiver_name(name) {
            c.add(
                at,
                format!(
                    "receiver name {name:?} may only contain letters, digits, `_`, `.` and `-` \
                     (it names a directory of the outbox and a metric label)"
                ),
            );
        } else if names.contains(&name.as_str()) {
            c.add(at, format!("receiver {name:?} is defined twice"));
        }
        names.push(name);
        if let Read::Present(raw) = &part.read {
            check_receiver(i, raw, base, &mut c);
        }
    }

    let mut route_names = BTreeSet::new();
    for (i, route) in parts.routes.iter().enumerate() {
        if let Read::Present(raw) = route {
            let name = raw.name.clone().unwrap_or_else(|| default_route_name(i));
            if raw.name.is_some() && !is_receiver_name(&name) {
                c.add(
                    path!["alerts", "routes", i, "name"],
                    format!(
                        "route name {name:?} may only contain letters, digits, `_`, `.` and `-` \
                         (it is a metric label and part of each alert's identity)"
                    ),
                );
            }
            if !route_names.insert(name.clone()) {
                c.add(
                    path!["alerts", "routes", i, "name"],
                    format!("route {name:?} is defined twice"),
                );
            }
            check_route(i, raw, &names, models, &mut c);
        }
    }
    if parts.is_present()
        && parts.routes.is_empty()
        && !parts.receivers.is_empty()
        && !matches!(parts.top, Read::Invalid)
    {
        c.add(
            path!["alerts"],
            "receivers are defined but no route sends them anything: add an [[alerts.routes]] \
             with `receivers = [...]`",
        );
    }
    c.0
}

pub(crate) fn default_route_name(index: usize) -> String {
    format!("route-{}", index + 1)
}

fn check_outbox(raw: &RawOutbox, c: &mut Problems) {
    if let Some(n) = raw.max_entries
        && n <= 0
    {
        c.add(
            path!["alerts", "outbox", "max_entries"],
            format!("must be greater than 0, found {n}"),
        );
    }
    let initial = duration_rule(
        c,
        path!["alerts", "outbox", "initial_backoff"],
        &raw.initial_backoff,
    );
    let max = duration_rule(
        c,
        path!["alerts", "outbox", "max_backoff"],
        &raw.max_backoff,
    );
    duration_rule(c, path!["alerts", "outbox", "max_age"], &raw.max_age);
    let initial = initial.unwrap_or(DEFAULT_INITIAL_BACKOFF);
    let max = max.unwrap_or(DEFAULT_MAX_BACKOFF);
    if initial > max {
        c.add(
            path!["alerts", "outbox", "initial_backoff"],
            format!(
                "is longer than `max_backoff` ({} > {})",
                humantime::format_duration(initial),
                humantime::format_duration(max)
            ),
        );
    }
}

/// Checks a duration key; its value when it is one.
fn duration_rule(
    c: &mut Problems,
    at: Vec<PathSegment>,
    value: &Option<String>,
) -> Option<Duration> {
    let text = value.as_ref()?;
    match parse_duration(text) {
        Ok(d) => Some(d),
        Err(e) => {
            c.add(at, e);
            None
        }
    }
}

/// `"30s"`, `"4h"`, `"1h30m"`, `"500ms"`: greater than 0.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => Err(format!("must be longer than 0, found {text:?}")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "expected a duration such as \"30s\", \"5m\" or \"4h\", found {text:?} ({e})"
        )),
    }
}

fn check_receiver(i: usize, raw: &RawReceiver, base: &Path, c: &mut Problems) {
    let at = |key: &str| path!["alerts", "receivers", i, key];
    match raw {
        RawReceiver::Email(r) => check_email(r, i, base, c),
        RawReceiver::Webhook(r) => check_webhook(r, i, base, c),
        RawReceiver::Alertmanager(r) => check_alertmanager(r, i, c),
        RawReceiver::Log(_) => {}
    }
    let timeout = match raw {
        RawReceiver::Email(r) => &r.timeout,
        RawReceiver::Webhook(r) => &r.timeout,
        RawReceiver::Alertmanager(r) => &r.timeout,
        RawReceiver::Log(_) => &None,
    };
    duration_rule(c, at("timeout"), timeout);
}

fn check_email(r: &RawEmail, i: usize, base: &Path, c: &mut Problems) {
    let at = |key: &str| path!["alerts", "receivers", i, key];
    match smtp_url(&r.url) {
        Ok((_, _, implicit)) => {
            if implicit && r.starttls.is_some_and(|s| s != Starttls::Required) {
                c.add(
                    at("starttls"),
                    "smtps:// is TLS from the first byte; `starttls` applies to smtp:// only",
                );
            }
        }
        Err(e) => c.add(at("url"), e),
    }
    if let Err(e) = r.from.parse::<lettre::message::Mailbox>() {
        c.add(
            at("from"),
            format!("not an email address ({e}): {:?}", r.from),
        );
    }
    if r.to.is_empty() {
        c.add(at("to"), "needs at least one address");
    }
    for (j, to) in r.to.iter().enumerate() {
        if let Err(e) = to.parse::<lettre::message::Mailbox>() {
            c.add(
                path!["alerts", "receivers", i, "to", j],
                format!("not an email address ({e}): {to:?}"),
            );
        }
    }
    let password = secret_rule(
        c,
        i,
        "password",
        r.password_file.as_deref(),
        r.password_env.as_deref(),
        base,
    );
    match (&r.user, password) {
        (Some(user), _) if user.is_empty() => c.add(at("user"), "cannot be empty"),
        (Some(_), false) => c.add(
            at("user"),
            "`user` needs a password: set `password_file` or `password_env`",
        ),
        (None, true) => c.add(
            at("user"),
            "a password is set but no `user`: set `user` (SMTP AUTH needs both)",
        ),
        _ => {}
    }
    if let Some(ca) = &r.ca_file {
        file_rule(c, at("ca_file"), "CA file", base, ca);
    }
}

fn check_webhook(r: &RawWebhook, i: usize, base: &Path, c: &mut Problems) {
    let at = |key: &str| path!["alerts", "receivers", i, key];
    let given = [r.url.is_some(), r.url_file.is_some(), r.url_env.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given == 0 {
        c.add(
            path!["alerts", "receivers", i],
            "a webhook needs `url` (or `url_file` / `url_env` for a URL that holds a token, as Slack's do)",
        );
    } else if given > 1 {
        c.add(at("url"), "set one of `url`, `url_file` and `url_env`");
    }
    if let Some(url) = &r.url
        && let Err(e) = http_url(url)
    {
        c.add(at("url"), e);
    }
    secret_rule(
        c,
        i,
        "url",
        r.url_file.as_deref(),
        r.url_env.as_deref(),
        base,
    );
    // A URL from a file or a variable is checked once read (the messages
    // never show it: it holds a token).
    if let Some(file) = &r.url_file
        && let Ok(url) = SecretSource::File(resolve(base, file)).read()
        && let Err(e) = http_url(&url)
    {
        c.add(
            at("url_file"),
            format!("the file does not hold a usable URL: {e}"),
        );
    }
    if let Some(var) = r.url_env.as_ref().filter(|v| is_env_name(v))
        && let Ok(url) = SecretSource::Env(var.clone()).read()
        && let Err(e) = http_url(&url)
    {
        c.add(
            at("url_env"),
            format!("the variable does not hold a usable URL: {e}"),
        );
    }
    secret_rule(
        c,
        i,
        "secret",
        r.secret_file.as_deref(),
        r.secret_env.as_deref(),
        base,
    );
}

fn check_alertmanager(r: &RawAlertmanager, i: usize, c: &mut Problems) {
    let at = |key: &str| path!["alerts", "receivers", i, key];
    if let Err(e) = http_url(&r.url) {
        c.add(at("url"), e);
    }
    duration_rule(c, at("resend_interval"), &r.resend_interval);
}

/// Checks `NAME_file` / `NAME_env`: not both, the file exists, the
/// variable is set and not empty. Whether one is given.
fn secret_rule(
    c: &mut Problems,
    i: usize,
    name: &str,
    file: Option<&Path>,
    env: Option<&str>,
    base: &Path,
) -> bool {
    let file_key = format!("{name}_file");
    let env_key = format!("{name}_env");
    if file.is_some() && env.is_some() {
        c.add(
            path!["alerts", "receivers", i, env_key.as_str()],
            format!("set one of `{file_key}` and `{env_key}`, not both"),
        );
    }
    if let Some(file) = file {
        file_rule(
            c,
            path!["alerts", "receivers", i, file_key.as_str()],
            "secret file",
            base,
            file,
        );
    }
    if let Some(var) = env {
        let at = path!["alerts", "receivers", i, env_key.as_str()];
        if !is_env_name(var) {
            // Never echo the value: it may be the secret, pasted by mistake.
            c.add(
                at,
                "must be the name of an environment variable holding the secret \
                 (letters, digits and `_`), not the secret itself",
            );
        } else {
            match std::env::var(var) {
                Err(std::env::VarError::NotPresent) => {
                    c.add(at, format!("the environment variable {var} is not set"))
                }
                Err(std::env::VarError::NotUnicode(_)) => c.add(
                    at,
                    format!("the environment variable {var} is not valid UTF-8"),
                ),
                Ok(v) if v.trim().is_empty() => {
                    c.add(at, format!("the environment variable {var} is empty"))
                }
                Ok(_) => {}
            }
        }
    }
    file.is_some() || env.is_some()
}

fn check_route(
    i: usize,
    r: &RawRoute,
    receivers: &[&str],
    models: Option<&[&str]>,
    c: &mut Problems,
) {
    let at = |key: &str| path!["alerts", "routes", i, key];
    if r.receivers.is_empty() {
        c.add(at("receivers"), "needs at least one receiver");
    }
    for (j, name) in r.receivers.iter().enumerate() {
        if !receivers.contains(&name.as_str()) {
            let mut message = format!("unknown receiver {name:?}");
            if let Some(near) = closest(name, receivers) {
                message.push_str(&format!("; did you mean {near:?}?"));
            } else if receivers.is_empty() {
                message.push_str("; define it with [[alerts.receivers]]");
            } else {
                message.push_str(&format!("; the receivers are {}", receivers.join(", ")));
            }
            c.add(path!["alerts", "routes", i, "receivers", j], message);
        } else if r.receivers[..j].contains(name) {
            c.add(
                path!["alerts", "routes", i, "receivers", j],
                format!("receiver {name:?} listed twice"),
            );
        }
    }
    if let (Some(list), Some(models)) = (&r.models, models) {
        for (j, model) in list.iter().enumerate() {
            if !models.contains(&model.as_str()) {
                let mut message = format!("unknown model {model:?}");
                if let Some(near) = closest(model, models) {
                    message.push_str(&format!("; did you mean {near:?}?"));
                } else {
                    message.push_str(&format!("; the config defines {}", models.join(", ")));
                }
                c.add(path!["alerts", "routes", i, "models", j], message);
            }
        }
    }
    for (key, list) in [("features", &r.features), ("slices", &r.slices)] {
        for (j, pattern) in list.iter().flatten().enumerate() {
            if pattern.is_empty() {
                c.add(path!["alerts", "routes", i, key, j], "cannot be empty");
            } else if let Err(e) = glob::Pattern::new(pattern) {
                c.add(
                    path!["alerts", "routes", i, key, j],
                    format!("invalid glob {pattern:?}: {e}"),
                );
            }
        }
    }
    for (key, value) in [
        ("for_windows", r.for_windows),
        ("resolve_after_windows", r.resolve_after_windows),
    ] {
        if let Some(n) = value
            && !(1..=i64::from(u32::MAX)).contains(&n)
        {
            c.add(at(key), format!("must be at least 1, found {n}"));
        }
    }
    if let Some(group_by) = &r.group_by {
        let mut seen = BTreeSet::new();
        for (j, label) in group_by.iter().enumerate() {
            if !seen.insert(*label) {
                c.add(
                    path!["alerts", "routes", i, "group_by", j],
                    format!("`{}` listed twice", label.as_str()),
                );
            }
        }
    }
    duration_rule(c, at("repeat_interval"), &r.repeat_interval);
    if let Some(url) = &r.runbook_url
        && let Err(e) = http_url(url)
    {
        c.add(at("runbook_url"), e);
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

/// `smtp://HOST[:PORT]` (port 25 by default) or `smtps://HOST[:PORT]`
/// (465): host, port, implicit TLS.
pub(crate) fn smtp_url(text: &str) -> Result<(String, u16, bool), String> {
    let url = url::Url::parse(text.trim()).map_err(|e| {
        format!("not a URL ({e}): expected smtp://HOST[:PORT] or smtps://HOST[:PORT]")
    })?;
    let implicit = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => {
            return Err(format!(
                "expected smtp://HOST[:PORT] or smtps://HOST[:PORT], found scheme `{other}`"
            ));
        }
    };
    if url.password().is_some() || !url.username().is_empty() {
        return Err(
            "the URL holds credentials: set `user` and `password_file` or `password_env` instead"
                .into(),
        );
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the URL has no host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port().unwrap_or(if implicit { 465 } else { 25 });
    Ok((host, port, implicit))
}

fn file_rule(c: &mut Problems, at: Vec<PathSegment>, what: &str, base: &Path, path: &Path) {
    if let Some(problem) = file_path_problem(what, base, path, true) {
        c.add(at, problem);
    }
}

pub(crate) fn is_receiver_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

fn secret(file: &Option<PathBuf>, env: &Option<String>, base: &Path) -> Option<SecretSource> {
    match (file, env) {
        (Some(file), _) => Some(SecretSource::File(resolve(base, file))),
        (None, Some(var)) => Some(SecretSource::Env(var.clone())),
        (None, None) => None,
    }
}

fn duration_or(text: &Option<String>, default: Duration) -> Duration {
    text.as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(default)
}

/// The resolved section, once every part was read and every rule holds
/// (`None` when there is no `[alerts]`).
pub(crate) fn build(parts: AlertsParts, base: &Path) -> Option<AlertsConfig> {
    let top = match parts.top {
        Read::Present(top) => top,
        _ => return None,
    };
    debug_assert!(!matches!(parts.outbox, Read::Invalid));
    let outbox = match &parts.outbox {
        Read::Present(raw) => OutboxConfig {
            max_entries: raw
                .max_entries
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(DEFAULT_MAX_ENTRIES),
            max_age: duration_or(&raw.max_age, DEFAULT_MAX_AGE),
            initial_backoff: duration_or(&raw.initial_backoff, DEFAULT_INITIAL_BACKOFF),
            max_backoff: duration_or(&raw.max_backoff, DEFAULT_MAX_BACKOFF),
        },
        _ => OutboxConfig::default(),
    };
    let receivers = parts
        .receivers
        .into_iter()
        .filter_map(|part| match part.read {
            Read::Present(raw) => Some(receiver(raw, base)),
            _ => None,
        })
        .collect();
    let routes = parts
        .routes
        .into_iter()
        .enumerate()
        .filter_map(|(i, read)| match read {
            Read::Present(raw) => Some(route(i, raw)),
            _ => None,
        })
        .collect();
    Some(AlertsConfig {
        base_url: top
            .base_url
            .map(|u| u.trim().trim_end_matches('/').to_string()),
        receivers,
        routes,
        outbox,
    })
}

fn receiver(raw: RawReceiver, base: &Path) -> ReceiverConfig {
    let name = raw.name().to_string();
    let (timeout, kind) = match raw {
        RawReceiver::Email(r) => {
            let (host, port, implicit_tls) =
                smtp_url(&r.url).unwrap_or_else(|_| (String::new(), 25, false));
            (
                r.timeout,
                ReceiverKind::Email(EmailConfig {
                    host,
                    port,
                    implicit_tls,
                    starttls: r.starttls.unwrap_or_default(),
                    from: r.from,
                    to: r.to,
                    user: r.user,
                    password: secret(&r.password_file, &r.password_env, base),
                    ca_file: r.ca_file.map(|p| resolve(base, &p)),
                }),
            )
        }
        RawReceiver::Webhook(r) => {
            let url = match (r.url, secret(&r.url_file, &r.url_env, base)) {
                (Some(url), _) => UrlSource::Plain(url.trim().to_string()),
                (None, Some(secret)) => UrlSource::Secret(secret),
                (None, None) => UrlSource::Plain(String::new()),
            };
            (
                r.timeout,
                ReceiverKind::Webhook(WebhookConfig {
                    url,
                    format: r.format,
                    secret: secret(&r.secret_file, &r.secret_env, base),
                }),
            )
        }
        RawReceiver::Alertmanager(r) => (
            r.timeout,
            ReceiverKind::Alertmanager(AlertmanagerConfig {
                url: r.url.trim().trim_end_matches('/').to_string(),
                resend_interval: duration_or(&r.resend_interval, DEFAULT_RESEND_INTERVAL),
            }),
        ),
        RawReceiver::Log(_) => (None, ReceiverKind::Log),
    };
    ReceiverConfig {
        name,
        timeout: duration_or(&timeout, DEFAULT_TIMEOUT),
        kind,
    }
}

fn route(i: usize, r: RawRoute) -> RouteConfig {
    let mut group_by = r
        .group_by
        .unwrap_or_else(|| vec![GroupLabel::Model, GroupLabel::Check]);
    if !group_by.contains(&GroupLabel::Model) {
        group_by.insert(0, GroupLabel::Model);
    }
    RouteConfig {
        name: r.name.unwrap_or_else(|| default_route_name(i)),
        receivers: r.receivers,
        models: r.models.unwrap_or_default(),
        checks: r.checks.unwrap_or_default(),
        severities: r.severities.unwrap_or_default(),
        features: r.features.unwrap_or_default(),
        slices: r.slices.unwrap_or_default(),
        for_windows: r
            .for_windows
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1),
        resolve_after_windows: r
            .resolve_after_windows
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1),
        group_by,
        repeat_interval: duration_or(&r.repeat_interval, DEFAULT_REPEAT_INTERVAL),
        send_resolved: r.send_resolved.unwrap_or(true),
        runbook_url: r.runbook_url,
    }
}
