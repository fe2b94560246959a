//! The dashboards and alerting rules against a REAL Prometheus scraping
//! `assay demo` — the demo's own configuration (`examples/demo/assay.toml`,
//! its schema and suites) and its own replayer, at its own pace; the test
//! only moves the listen address and the state directory (`--listen`,
//! `--state-dir`). Prometheus scrapes it every second and evaluates
//! `dashboards/alerts.yml`; within two minutes of the demo's start every
//! PromQL expression of every dashboard in `dashboards/` (and every template
//! variable's query) must return data through Prometheus' HTTP API; the
//! test fails listing those that return nothing. Every alerting rule must be
//! healthy, the skew and rejected-batch alerts must be pending or firing,
//! and `promtool check rules` must pass. Prometheus sends its alerts to a
//! REAL Alertmanager (Debian's `prometheus-alertmanager`), which must
//! receive the rejected-batch alert once it fires: the wiring
//! dashboards/README.md documents. And the demo's own alerts (its `log`
//! receiver) must show in its output a grouped alert firing and resolving.
//!
//! Needs `prometheus`, `promtool` and `prometheus-alertmanager` on PATH
//! (Debian: `apt-get install -y --no-install-recommends prometheus
//! prometheus-alertmanager`, as .ci/run does). Without them the test fails,
//! unless `ASSAY_SKIP_PROMETHEUS=1` is set.

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/daemon.rs"]
mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon::{agent, free_port, root};
use serde_json::Value;

const MODEL: &str = "credit";
const JOB: &str = "assay";

// ---------------------------------------------------------------- processes

/// A running Prometheus, killed when dropped.
struct Prometheus {
    child: Child,
    base: String,
    log_path: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, target_port: u16, rules: &Path, alertmanager_port: u16) -> Prometheus {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager_port}']\n\
                 scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n",
                rules = rules.display()
            ),
        )
        .unwrap();
        let log_path = dir.join("prometheus.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log_path,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = agent().get(format!("{}/-/ready", prometheus.base)).call()
                && r.status() == 200
            {
                return prometheus;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus not ready after 30 s; log:\n{}",
                prometheus.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn api(&self, path: &str, query: Option<&str>) -> Value {
        let mut req = agent().get(format!("{}{path}", self.base));
        if let Some(q) = query {
            req = req.query("query", q);
        }
        let mut resp = req.call().expect("Prometheus API request");
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// An instant query: the number of series (1 for a scalar), or why not.
    fn query(&self, expr: &str) -> Result<usize, String> {
        let v = self.api("/api/v1/query", Some(expr));
        if v["status"] != "success" {
            return Err(format!("{}: {}", v["errorType"], v["error"]));
        }
        match v["data"]["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                Ok(v["data"]["result"].as_array().map_or(0, Vec::len))
            }
            Some("scalar") | Some("string") => Ok(1),
            other => Err(format!("unexpected result type {other:?}")),
        }
    }

    /// The series of an instant query (empty on error).
    fn series(&self, expr: &str) -> Vec<Value> {
        self.api("/api/v1/query", Some(expr))["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `assay demo` on `port` with its state in `DIR/state` (a new directory),
/// killed when dropped.
struct Demo {
    child: Child,
    base: String,
    log_path: PathBuf,
    started: Instant,
}

impl Demo {
    fn start_on(dir: &Path, port: u16) -> Demo {
        let log_path = dir.join("demo.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_assay"))
            .args([
                "demo",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--state-dir",
            ])
            .arg(dir.join("state"))
            // The demo reads examples/demo/assay.toml from the repository root.
            .current_dir(root())
            .env_remove("ASSAY_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start assay demo");
        Demo {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log_path,
            started,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn metrics(&self) -> String {
        agent()
            .get(format!("{}/metrics", self.base))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- expressions

/// Where an expression came from, and the expression.
struct Expr {
    origin: String,
    expr: String,
}

/// Every `expr` under `value` (panels, rows' nested panels, targets).
fn collect_exprs(value: &Value, origin: &str, out: &mut Vec<Expr>) {
    match value {
        Value::Object(map) => {
            let here = match map.get("title").and_then(Value::as_str) {
                Some(t) if map.contains_key("type") => format!("{origin} / {t}"),
                _ => origin.to_string(),
            };
            if let Some(Value::String(e)) = map.get("expr")
                && !e.trim().is_empty()
            {
                out.push(Expr {
                    origin: here.clone(),
                    expr: e.clone(),
                });
            }
            for (k, v) in map {
                if k != "templating" {
                    collect_exprs(v, &here, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, origin, out)),
        _ => {}
    }
}

/// The `label_values(SELECTOR, LABEL)` queries of the dashboard's template
/// variables, as (variable name, selector, label).
fn variable_queries(dashboard: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for v in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if v["type"] != "query" {
            continue;
        }
        let query = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .or(v["definition"].as_str())
            .unwrap_or_default();
        let inner = query
            .trim()
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {}: not label_values(...): {query}", v["name"]));
        let (selector, label) = inner
            .rsplit_once(',')
            .expect("label_values(SELECTOR, LABEL)");
        out.push((
            v["name"].as_str().unwrap_or_default().to_string(),
            selector.trim().to_string(),
            label.trim().to_string(),
        ));
    }
    out
}

/// The alert names and `expr:` values of a rules file, without a YAML
/// parser: `expr: ...` on one line (optionally quoted) or a block scalar
/// (`|` / `>`) whose lines are indented deeper than the key.
fn rule_exprs(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut name = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(n) = trimmed
            .strip_prefix("alert:")
            .or_else(|| trimmed.strip_prefix("record:"))
        {
            name = n.trim().trim_matches(['"', '\'']).to_string();
        }
        if let Some(value) = trimmed.strip_prefix("expr:") {
            let indent = line.len() - line.trim_start().len();
            let value = value.trim();
            let expr = if value.starts_with('|') || value.starts_with('>') {
                let mut body = Vec::new();
                while i + 1 < lines.len() {
                    let next = lines[i + 1];
                    let next_indent = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && next_indent <= indent {
                        break;
                    }
                    body.push(next.trim());
                    i += 1;
                }
                body.join(" ").trim().to_string()
            } else if value.len() >= 2
                && ((value.starts_with('"') && value.ends_with('"'))
                    || (value.starts_with('\'') && value.ends_with('\'')))
            {
                value[1..value.len() - 1].replace("\\\"", "\"")
            } else {
                value.to_string()
            };
            out.push((name.clone(), expr));
        }
        i += 1;
    }
    out
}

/// Grafana's variables replaced by values for the demo; one expression per
/// value of `$feature`: all (the default), and `purpose`, which the demo
/// gives a new value (out of the schema's domain) and drifts.
fn substitute(expr: &str) -> Vec<String> {
    let base = expr
        .replace("${datasource}", "")
        .replace("$__rate_interval", "1m")
        .replace("${__rate_interval}", "1m")
        .replace("$__interval", "15s")
        .replace("${__interval}", "15s")
        .replace("$__range", "1h")
        .replace("${__range}", "1h")
        .replace("${model}", MODEL)
        .replace("$model", MODEL)
        .replace("${job}", JOB)
        .replace("$job", JOB)
        // The model-quality and fairness dashboards' variables, at "All".
        .replace("$metric", ".+")
        .replace("$rate", ".+")
        .replace("$group", ".+");
    if base.contains("$feature") || base.contains("${feature}") {
        [".*", "purpose"]
            .iter()
            .map(|f| base.replace("${feature}", f).replace("$feature", f))
            .collect()
    } else {
        vec![base]
    }
}

fn tool_available(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------- the test

/// How long after its start the demo has to make every dashboard query
/// return data (the promise of `assay demo`).
const DEMO_DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn dashboards_and_alerts_return_data_from_a_real_prometheus_scraping_the_demo() {
    if !tool_available("prometheus")
        || !tool_available("promtool")
        || !tool_available(alerts::ALERTMANAGER)
    {
        if std::env::var("ASSAY_SKIP_PROMETHEUS").as_deref() == Ok("1") {
            eprintln!(
                "note: `prometheus`/`promtool`/`prometheus-alertmanager` not on PATH and ASSAY_SKIP_PROMETHEUS=1: skipping the Prometheus test"
            );
            return;
        }
        panic!(
            "`prometheus`, `promtool` and `prometheus-alertmanager` must be on PATH for this test \
             (Debian/Ubuntu: `apt-get install -y --no-install-recommends prometheus prometheus-alertmanager`); \
             set ASSAY_SKIP_PROMETHEUS=1 to skip it"
        );
    }
    let dashboards_dir = root().join("dashboards");
    let rules_path = dashboards_dir.join("alerts.yml");

    // promtool first: a broken rules file would also break Prometheus.
    let promtool = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules_path)
        .output()
        .expect("run promtool");
    assert!(
        promtool.status.success(),
        "promtool check rules {} failed:\n{}{}",
        rules_path.display(),
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );

    // Every expression, before anything runs: a dashboard without any is a bug.
    let mut dashboard_exprs = Vec::new();
    let mut variables = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dashboards_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    for path in &names {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        let before = dashboard_exprs.len();
        collect_exprs(&dashboard["panels"], &file, &mut dashboard_exprs);
        assert!(
            dashboard_exprs.len() > before,
            "{file}: no PromQL expressions"
        );
        for (name, selector, label) in variable_queries(&dashboard) {
            variables.push((format!("{file} / variable {name}"), selector, label));
        }
    }
    for want in [
        "overview.json",
        "data-quality.json",
        "drift-skew.json",
        "ingest-health.json",
    ] {
        assert!(
            names.iter().any(|p| p.ends_with(want)),
            "dashboards/{want} is missing"
        );
    }
    let rules = rule_exprs(&std::fs::read_to_string(&rules_path).unwrap());
    assert!(
        rules.len() >= 8,
        "alerts.yml: only {} rules found",
        rules.len()
    );

    // Prometheus first, so that it scrapes the demo from its start; the
    // target is down until the demo listens.
    let dir = tempfile::tempdir().unwrap();
    let demo_port = free_port();
    let alertmanager = alerts::Alertmanager::start(dir.path());
    let prometheus = Prometheus::start(dir.path(), demo_port, &rules_path, alertmanager.port);
    let demo = Demo::start_on(dir.path(), demo_port);

    // Every dashboard expression (and variable query) returns data within
    // two minutes of the demo's start. A query is done once it returned
    // data; the failures are reported all at once, with the demo's metrics.
    let mut pending: Vec<(String, String, Option<String>)> = Vec::new();
    for e in &dashboard_exprs {
        for q in substitute(&e.expr) {
            pending.push((e.origin.clone(), q, None));
        }
    }
    for (origin, selector, label) in &variables {
        for q in substitute(selector) {
            pending.push((format!("{origin} (label {label})"), q, Some(label.clone())));
        }
    }
    let total = pending.len();
    let mut failures: Vec<String>;
    loop {
        failures = Vec::new();
        pending.retain(|(origin, q, label)| {
            let outcome = match (prometheus.query(q), label) {
                (Err(e), _) => Err(format!("error {e}")),
                (Ok(0), _) => Err("empty result".to_string()),
                (Ok(_), Some(label)) => {
                    if prometheus
                        .series(q)
                        .iter()
                        .any(|s| s["metric"][label].is_string())
                    {
                        Ok(())
                    } else {
                        Err(format!("no series has label `{label}`"))
                    }
                }
                (Ok(_), None) => Ok(()),
            };
            match outcome {
                Ok(()) => false,
                Err(why) => {
                    failures.push(format!("  {origin}\n    {q}\n    -> {why}"));
                    true
                }
            }
        });
        if pending.is_empty() || demo.started.elapsed() > DEMO_DEADLINE {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let all_data_after = demo.started.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {total} dashboard queries returned no data within {} s of the demo's start:\n{}\n\n\
         /metrics:\n{}\n\ndemo log (tail):\n{}\n\nPrometheus log:\n{}",
        failures.len(),
        DEMO_DEADLINE.as_secs(),
        failures.join("\n"),
        demo.metrics(),
        tail(&demo.log(), 40),
        prometheus.log()
    );

    // Alert expressions parse and evaluate (empty is fine: most should not fire).
    let mut failures = Vec::new();
    for (name, expr) in &rules {
        if let Err(e) = prometheus.query(expr) {
            failures.push(format!("  {name}: {expr}\n    -> {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "alert expressions that Prometheus rejects:\n{}",
        failures.join("\n")
    );
    // Every rule is loaded and healthy, and on the demo's data the skew
    // alert (debt_to_income is skewed in every window) and the
    // rejected-batch alert (one malformed batch a round; seen as an
    // increase because the counter exists at 0 from the start) are pending
    // or firing.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = prometheus.api("/api/v1/rules", None);
        let loaded: Vec<&Value> = v["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        let state = |name: &str| {
            loaded
                .iter()
                .find(|r| r["name"] == name)
                .and_then(|r| r["state"].as_str())
                .unwrap_or("missing")
                .to_string()
        };
        let unhealthy: Vec<String> = loaded
            .iter()
            .filter(|r| r["health"] != "ok")
            .map(|r| format!("  {} ({}): {}", r["name"], r["health"], r["lastError"]))
            .collect();
        let active = |name: &str| matches!(state(name).as_str(), "pending" | "firing");
        let done = loaded.len() == rules.len()
            && unhealthy.is_empty()
            && active("AssayFeatureSkew")
            && active("AssayBatchesRejected");
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rules: {} loaded of {} in alerts.yml; unhealthy:\n{}\nAssayFeatureSkew: {}, AssayBatchesRejected: {}\n{v}",
            loaded.len(),
            rules.len(),
            unhealthy.join("\n"),
            state("AssayFeatureSkew"),
            state("AssayBatchesRejected"),
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let alerts =
        prometheus.series("ALERTS{alertname=\"AssayFeatureSkew\", feature=\"debt_to_income\"}");
    assert!(
        !alerts.is_empty(),
        "no ALERTS series for the skew of `debt_to_income`"
    );
    let rejected = prometheus.series(
        "ALERTS{alertname=\"AssayBatchesRejected\", model=\"credit\", reason=\"malformed\"}",
    );
    assert!(
        !rejected.is_empty(),
        "no ALERTS series for the demo's malformed batch"
    );

    // Prometheus sends the rejected-batch alert (`for: 1m`) to the real
    // Alertmanager once it fires.
    let received = alertmanager.wait_for(Duration::from_secs(120), |alerts| {
        alerts.iter().any(|a| {
            a["labels"]["alertname"] == "AssayBatchesRejected"
                && a["labels"]["model"] == MODEL
                && a["status"]["state"] == "active"
        })
    });
    assert!(
        received
            .iter()
            .any(|a| a["labels"]["alertname"] == "AssayBatchesRejected"),
        "Alertmanager did not receive AssayBatchesRejected from Prometheus: {received:?}\n\
         Alertmanager log:\n{}\nPrometheus log:\n{}",
        alertmanager.log(),
        prometheus.log()
    );
    let in_alertmanager = demo.started.elapsed();

    // The demo's own alerts, to its `log` receiver: a grouped alert fires
    // with the faulted half of a round and resolves with the clean half.
    let log = demo.log();
    let fired = log
        .lines()
        .find(|l| l.contains("[assay] FIRING credit: schema on"))
        .unwrap_or_else(|| {
            panic!(
                "no schema alert fired in the demo's log:\n{}",
                tail(&log, 60)
            )
        });
    assert!(
        fired.contains("receiver=\"log\"") || fired.contains("receiver=log"),
        "{fired}"
    );
    assert!(
        log.contains("[assay] RESOLVED credit: schema on"),
        "no schema alert resolved in the demo's log:\n{}",
        tail(&log, 60)
    );
    eprintln!(
        "{total} dashboard queries returned data {:.1} s after the demo's start; {} alert rules checked; \
         Alertmanager had Prometheus' alert {:.1} s after the start",
        all_data_after.as_secs_f64(),
        rules.len(),
        in_alertmanager.as_secs_f64()
    );
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
