//! The dashboards and alerting rules against a REAL Prometheus: `assay serve`
//! is fed the example serving data with drift injected (shifted `age`, a new
//! `purpose` category, nulls in `income`, a malformed batch, a burst that
//! fills the queue), Prometheus scrapes it every second and evaluates
//! `dashboards/alerts.yml`, and then every PromQL expression of every
//! dashboard in `dashboards/` must return data through Prometheus' HTTP API;
//! every alerting rule must be healthy, the skew alert must be pending or
//! firing, and `promtool check rules` must pass.
//!
//! Needs `prometheus` and `promtool` on PATH (Debian: `apt-get install -y
//! --no-install-recommends prometheus`). Without them the test fails, unless
//! `ASSAY_SKIP_PROMETHEUS=1` is set.

mod common;
#[path = "common/daemon.rs"]
mod daemon;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::{cast, nullif};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use daemon::{Daemon, agent, chunks, free_port, json_rows, path_of, root, write_config};
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
    fn start(dir: &Path, target_port: u16, rules: &Path) -> Prometheus {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
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

/// Sends small batches in the background so that rates are non-zero while
/// Prometheus scrapes; stopped and joined when dropped.
struct Feeder {
    stop: Arc<AtomicBool>,
    sent_rows: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl Feeder {
    fn start(base: String, bodies: Vec<(usize, Vec<u8>)>) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let sent_rows = Arc::new(AtomicU64::new(0));
        let handle = {
            let (stop, sent_rows) = (stop.clone(), sent_rows.clone());
            std::thread::spawn(move || {
                let path = format!("/v1/models/{MODEL}/batches");
                for (rows, body) in bodies.iter().cycle() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let sent = agent()
                        .post(format!("{base}{path}"))
                        .header("Content-Type", "application/json")
                        .send(&body[..]);
                    match sent {
                        Ok(r) if r.status() == 200 => {
                            sent_rows.fetch_add(*rows as u64, Ordering::SeqCst);
                        }
                        Ok(_) => {}       // 429 from a full queue: try the next one
                        Err(_) => return, // the daemon is gone
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
            })
        };
        Feeder {
            stop,
            sent_rows,
            handle: Some(handle),
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------- data

/// The serving data with drift injected: `age` + 8, a new `purpose`
/// category in 30% of the rows, nulls in 20% of `income`.
fn drifted_serving() -> RecordBatch {
    let serving = common::read_parquet(common::SERVING);
    let schema = serving.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = serving.columns().to_vec();
    let n = serving.num_rows();
    let index = |name: &str| {
        schema
            .index_of(name)
            .unwrap_or_else(|_| panic!("no column {name}"))
    };

    let i = index("age");
    let age = cast(&columns[i], &DataType::Int64).unwrap();
    let age: Int64Array = age
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.map(|v| v + 8))
        .collect();
    columns[i] = Arc::new(age);
    fields[i] = Field::new("age", DataType::Int64, true);

    let i = index("purpose");
    let purpose = cast(&columns[i], &DataType::Utf8).unwrap();
    let purpose = purpose.as_string::<i32>();
    let purpose: StringArray = (0..n)
        .map(|row| {
            if row % 10 < 3 {
                Some("crypto_mining")
            } else if purpose.is_null(row) {
                None
            } else {
                Some(purpose.value(row))
            }
        })
        .collect();
    columns[i] = Arc::new(purpose);
    fields[i] = Field::new("purpose", DataType::Utf8, true);

    let i = index("income");
    let mask: BooleanArray = (0..n).map(|row| Some(row % 5 == 0)).collect();
    columns[i] = nullif(&columns[i], &mask).unwrap();
    fields[i] = fields[i].clone().with_nullable(true);

    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
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

/// Grafana's variables replaced by values for this test's daemon; one
/// expression per value of `$feature` (all, and one drifted feature).
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
        .replace("$job", JOB);
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

#[test]
fn dashboards_and_alerts_return_data_from_a_real_prometheus() {
    let started = Instant::now();
    if !tool_available("prometheus") || !tool_available("promtool") {
        if std::env::var("ASSAY_SKIP_PROMETHEUS").as_deref() == Ok("1") {
            eprintln!(
                "note: `prometheus`/`promtool` not on PATH and ASSAY_SKIP_PROMETHEUS=1: skipping the Prometheus test"
            );
            return;
        }
        panic!(
            "`prometheus` and `promtool` must be on PATH for this test \
             (Debian/Ubuntu: `apt-get install -y --no-install-recommends prometheus`); \
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

    // A schema inferred from the training data, so that the daemon reports
    // out-of-domain values and schema findings.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("train.profile.json");
    let schema = dir.path().join("schema.toml");
    let train = path_of(common::TRAIN);
    for args in [
        vec!["profile", &train, "-o", profile.to_str().unwrap()],
        vec![
            "infer",
            profile.to_str().unwrap(),
            "-o",
            schema.to_str().unwrap(),
        ],
    ] {
        let out = common::assay(&args);
        assert!(
            out.status.success(),
            "assay {args:?} failed:\n{}",
            common::stderr(&out)
        );
    }
    let config = write_config(
        dir.path(),
        2000,
        1, // one batch in flight at a time: a burst gets 429s
        "",
        &format!(
            "schema = \"{}\"\nslices = [[\"home_ownership\"]]",
            schema.display()
        ),
        "per_batch = [\"schema\", \"expectations\"]\n\
         per_window = [\"schema\", \"expectations\", \"skew\", \"drift\"]",
    );
    let daemon = Daemon::start(&config, &dir.path().join("state"));
    let batches_path = format!("/v1/models/{MODEL}/batches");

    // Drifted data: six 1000-row batches close three windows.
    let data = drifted_serving();
    let big: Vec<Vec<u8>> = chunks(&data, 1000).iter().map(json_rows).collect();
    for body in big.iter().take(6) {
        let (status, reply) = daemon.post(&batches_path, "application/json", body, None);
        assert_eq!(status, 200, "{reply}\n{}", daemon.log());
    }
    // One malformed batch (rejected, reason="malformed").
    let (status, reply) = daemon.post(
        &batches_path,
        "application/json",
        br#"[{"age": 31}, {"age": "old"}]"#,
        None,
    );
    assert_eq!(status, 400, "{reply}");
    // A burst against a queue of one: some batches get 429 (queue_full).
    let mut got_429 = false;
    for _ in 0..20 {
        let barrier = Arc::new(Barrier::new(6));
        let replies: Vec<u16> = (0..6)
            .map(|k| {
                let (barrier, base, path) =
                    (barrier.clone(), daemon.base.clone(), batches_path.clone());
                let body = big[6 + k % 4].clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    daemon::post(&base, &path, "application/json", &body, None).0
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(
            replies.iter().all(|s| *s == 200 || *s == 429),
            "burst: {replies:?}\n{}",
            daemon.log()
        );
        if replies.contains(&429) {
            got_429 = true;
            break;
        }
    }
    assert!(
        got_429,
        "a burst of 6 against queue_depth = 1 never got a 429"
    );
    // Ground truth for a few requests.
    let (status, reply) = daemon.post(
        "/v1/labels",
        "application/json",
        br#"{"model": "credit", "labels": [{"request_id": "r-1", "label": 1}, {"request_id": "r-2", "label": 0}]}"#,
        None,
    );
    assert_eq!(status, 200, "{reply}");

    // Prometheus scrapes every second while small batches keep arriving.
    let prometheus = Prometheus::start(dir.path(), daemon.port, &rules_path);
    let small: Vec<(usize, Vec<u8>)> = chunks(&data, 250)
        .iter()
        .map(|b| (b.num_rows(), json_rows(b)))
        .collect();
    let feeder = Feeder::start(daemon.base.clone(), small);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let targets = prometheus.api("/api/v1/targets", None);
        let up = targets["data"]["activeTargets"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["health"] == "up"));
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon's scrape target never came up: {targets}\nPrometheus log:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // At least six scrapes, so that rates over 1m have samples to work with.
    let deadline = Instant::now() + Duration::from_secs(30);
    let scrapes = format!("count_over_time(up{{job=\"{JOB}\"}}[1m])");
    while prometheus
        .series(&scrapes)
        .first()
        .and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        < 6.0
    {
        assert!(
            Instant::now() < deadline,
            "Prometheus does not scrape every second"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Another malformed batch while Prometheus watches: the rejected-batch
    // alert sees the counter increase (the first one predates the scrapes).
    // (The feeder may hold the queue of one: retry 429s.)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, reply) = daemon.post(&batches_path, "application/json", b"[{\"age\": ", None);
        if status == 429 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        assert_eq!(status, 400, "{reply}");
        break;
    }

    // Every dashboard expression (and variable query) returns data; retried
    // for a while, since gauges appear when windows close and rates need two
    // scrapes, then every failure is reported at once.
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
    let deadline = Instant::now() + Duration::from_secs(20);
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
        if pending.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        failures.is_empty(),
        "{} of {total} dashboard expressions returned no data:\n{}\n\n/metrics:\n{}",
        failures.len(),
        failures.join("\n"),
        daemon.get("/metrics", None).1
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
    // Every rule is loaded and healthy, and the skew and rejected-batch
    // alerts are pending or firing on this data.
    let deadline = Instant::now() + Duration::from_secs(15);
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
    let alerts = prometheus.series("ALERTS{alertname=\"AssayFeatureSkew\", feature=\"age\"}");
    assert!(!alerts.is_empty(), "no ALERTS series for the skew of `age`");

    let fed = feeder.sent_rows.load(Ordering::SeqCst);
    drop(feeder);
    assert!(
        fed > 0,
        "the background feeder sent nothing:\n{}",
        daemon.log()
    );
    eprintln!(
        "{total} dashboard queries and {} alert rules checked against Prometheus in {:.1} s",
        rules.len(),
        started.elapsed().as_secs_f64()
    );
}
