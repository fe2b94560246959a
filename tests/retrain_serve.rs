//! `assay retrain serve` through the real binary on loopback: signatures
//! and timestamps checked (401), a delivery stored once however often it
//! comes, the job run to a callback with the bearer token, metrics; and a
//! receiver killed with SIGKILL mid-job runs the job again after restart
//! and registers one version.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assay::alerts::receivers::webhook::signature;
use serde_json::{Value, json};

const LINEAR: &str = "tests/fixtures/train/linear.csv";
const LINEAR_SCHEMA: &str = "tests/fixtures/train/linear.schema.toml";
const SECRET: &str = "hook-secret";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

struct Receiver {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Receiver {
    fn start(config: &Path, port: u16, log: &Path) -> Receiver {
        Self::start_on(config, &format!("127.0.0.1:{port}"), port, log)
    }

    /// Listens on `listen` (port `port`); reached through loopback.
    fn start_on(config: &Path, listen: &str, port: u16, log: &Path) -> Receiver {
        let child = Command::new(env!("CARGO_BIN_EXE_assay"))
            .args(["retrain", "serve", "--config"])
            .arg(config)
            .args(["--listen", listen])
            .env("TEST_DAEMON_TOKEN", "daemon-token")
            .env("TEST_API_TOKEN", "api-token-s3cret")
            .env_remove("ASSAY_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let r = Receiver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if agent()
                .get(format!("{}/healthz", r.base))
                .call()
                .is_ok_and(|a| a.status() == 200)
            {
                return r;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("receiver not ready:\n{}", r.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn post(&self, delivery: &str, timestamp: i64, secret: &str, body: &[u8]) -> (u16, Value) {
        let ts = timestamp.to_string();
        let mut r = agent()
            .post(format!("{}/v1/webhook", self.base))
            .header("Content-Type", "application/json")
            .header("X-Assay-Delivery", delivery)
            .header("X-Assay-Timestamp", &ts)
            .header(
                "X-Assay-Signature",
                &signature(secret.as_bytes(), &ts, body),
            )
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.get_with(path, None)
    }

    fn get_with(&self, path: &str, bearer: Option<&str>) -> (u16, String) {
        let mut request = agent().get(format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let mut r = request.call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    fn job(&self, id: &str) -> Value {
        serde_json::from_str(&self.get(&format!("/v1/jobs/{id}")).1).unwrap()
    }

    fn wait_state(&self, id: &str, done: impl Fn(&str) -> bool, seconds: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < deadline {
            let job = self.job(id);
            if job["state"].as_str().is_some_and(&done) {
                return job;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "job {id} never reached the state; last {}\n{}",
            self.job(id),
            self.log()
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn write_config(dir: &Path, train: &str) -> PathBuf {
    std::fs::write(dir.join("secret"), format!("{SECRET}\n")).unwrap();
    let path = dir.join("retrain.toml");
    std::fs::write(
        &path,
        format!(
            "registry = \"registry\"\nmodel = \"linear\"\nlabel = \"y\"\nschema = {:?}\n\
             [train]\n{train}\n[gate]\nmetrics = {{ roc_auc = 0.0 }}\n\
             [serve]\nsecret_file = \"secret\"\ntoken_env = \"TEST_DAEMON_TOKEN\"\n",
            common::path(LINEAR_SCHEMA)
        ),
    )
    .unwrap();
    path
}

fn payload(delivery: &str, callback: &str) -> Vec<u8> {
    json!({
        "version": 1, "model": "linear", "delivery_id": delivery,
        "reason": {"trigger": "manual", "detail": "test", "findings": []},
        "windows": {"from": null, "to": null},
        "data": [common::path(LINEAR)],
        "baseline": null, "schema": common::path(LINEAR_SCHEMA), "suites": [],
        "champion": null, "callback_url": callback,
    })
    .to_string()
    .into_bytes()
}

/// Accepts one HTTP request, answers 200, returns (head, body).
fn one_request(listener: TcpListener) -> std::thread::JoinHandle<(String, String)> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
            .unwrap();
        (head, String::from_utf8(body).unwrap())
    })
}

#[test]
fn signed_deliveries_are_stored_once_and_run_to_the_callback() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "model = \"logistic\"");
    let callback = TcpListener::bind("127.0.0.1:0").unwrap();
    let callback_url = format!(
        "http://{}/v1/models/linear/retrain/result",
        callback.local_addr().unwrap()
    );
    let answered = one_request(callback);
    let r = Receiver::start(&config, free_port(), &dir.path().join("receiver.log"));
    let id = "0123456789abcdef0123456789abcdef";
    let body = payload(id, &callback_url);

    let (status, answer) = r.post(id, now(), "wrong-secret", &body);
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = r.post(id, now() - 301, SECRET, &body);
    assert_eq!(status, 401, "a stale timestamp is a replay: {answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("X-Assay-Timestamp")
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let ts = now().to_string();
    let mut resp = agent()
        .post(format!("{}/v1/webhook", r.base))
        .header("X-Assay-Delivery", id)
        .header("X-Assay-Timestamp", &ts)
        .header(
            "X-Assay-Signature",
            &signature(SECRET.as_bytes(), &ts, &body),
        )
        .send(&tampered[..])
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        401,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
    assert_eq!(r.get("/v1/jobs").1, r#"{"jobs":[]}"#, "nothing stored");

    let (status, answer) = r.post(id, now(), SECRET, &body);
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = r.post(id, now(), SECRET, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["duplicate"], true);
    let jobs: Value = serde_json::from_str(&r.get("/v1/jobs").1).unwrap();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1, "{jobs}");

    let job = r.wait_state(
        id,
        |s| s == "promoted" || s == "rejected" || s == "failed",
        120,
    );
    assert_eq!(job["state"], "promoted", "{job}");
    assert_eq!(job["version"], 1);
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["gate"]["promote"], true);
    assert!(
        job["metrics"]["challenger"]["metrics"]["roc_auc"]
            .as_f64()
            .unwrap()
            > 0.8
    );
    assert!(
        job["log"].to_string().contains("train: ok"),
        "{}",
        job["log"]
    );

    let (head, body) = answered.join().unwrap();
    assert!(
        head.starts_with("POST /v1/models/linear/retrain/result "),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("authorization: bearer daemon-token"),
        "{head}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["delivery_id"], id);
    assert_eq!(body["outcome"], "promoted");
    assert_eq!(body["version"], 1);

    let metrics = r.get("/metrics").1;
    assert!(
        metrics.contains(r#"assay_retrain_jobs_total{model="linear",outcome="promoted"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"assay_model_version{model="linear"} 1"#),
        "{metrics}"
    );
}

#[test]
fn a_job_cut_off_by_kill_9_runs_again_and_registers_one_version() {
    let dir = tempfile::tempdir().unwrap();
    // An MLP with many epochs: long enough to be killed mid-training.
    let config = write_config(
        dir.path(),
        "model = \"mlp\"\nhidden = [64, 64]\nbatch_size = 16\nmax_epochs = 30\npatience = 30",
    );
    let port = free_port();
    let id = "fedcba9876543210fedcba9876543210";
    let body = payload(id, "http://127.0.0.1:9/unreachable");
    let mut r = Receiver::start(&config, port, &dir.path().join("first.log"));
    assert_eq!(r.post(id, now(), SECRET, &body).0, 202);
    r.wait_state(id, |s| s == "running", 60);
    // Into training (past assemble and validate).
    let report = dir
        .path()
        .join("registry/jobs")
        .join(id)
        .join("report.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&report).is_ok_and(|t| t.contains("\"validate\"")) {
        assert!(Instant::now() < deadline, "never validated:\n{}", r.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    r.child.kill().unwrap(); // SIGKILL
    r.child.wait().unwrap();
    let versions = dir.path().join("registry/models/linear/versions");
    let registered = || -> Vec<String> {
        std::fs::read_dir(&versions)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(registered().is_empty(), "killed before registering");

    let r = Receiver::start(&config, port, &dir.path().join("second.log"));
    let job = r.wait_state(id, |s| s != "running" && s != "queued", 600);
    assert_eq!(job["state"], "promoted", "{job}\n{}", r.log());
    assert_eq!(job["attempts"], 2, "run again after the restart");
    assert!(job["log"].to_string().contains("cut off while running"));
    assert_eq!(registered(), vec!["1".to_string()], "one version");
    assert!(r.log().contains("running it again"), "{}", r.log());
}

#[test]
fn serving_without_a_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("retrain.toml");
    std::fs::write(
        &config,
        format!(
            "registry = \"registry\"\nmodel = \"linear\"\nlabel = \"y\"\nschema = {:?}\n",
            common::path(LINEAR_SCHEMA)
        ),
    )
    .unwrap();
    let out = common::assay(&["retrain", "serve", "--config", config.to_str().unwrap()]);
    let err = common::input_error(&out);
    assert!(err.contains("secret_file or secret_env"), "{err}");
}

#[test]
fn off_loopback_every_read_needs_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "model = \"logistic\"");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}api_token_env = \"TEST_API_TOKEN\"\n"),
    )
    .unwrap();
    let port = free_port();
    let r = Receiver::start_on(
        &config,
        &format!("0.0.0.0:{port}"),
        port,
        &dir.path().join("receiver.log"),
    );
    let body = payload("tok-1", "http://127.0.0.1:9/unused");
    assert_eq!(r.post("tok-1", now(), SECRET, &body).0, 202, "{}", r.log());
    for path in ["/v1/jobs", "/v1/jobs/tok-1", "/metrics"] {
        let (status, answer) = r.get_with(path, None);
        assert_eq!(status, 401, "{path} without a token: {answer}");
        assert!(answer.contains("bearer token"), "{answer}");
        assert_eq!(
            r.get_with(path, Some("wrong")).0,
            401,
            "{path}, wrong token"
        );
        let (status, answer) = r.get_with(path, Some("api-token-s3cret"));
        assert_eq!(status, 200, "{path} with the token: {answer}");
    }
    assert!(
        r.get_with("/v1/jobs", Some("api-token-s3cret"))
            .1
            .contains("tok-1")
    );
    assert_eq!(r.get("/healthz").0, 200, "health stays open");
    drop(r);
    let log = std::fs::read_to_string(dir.path().join("receiver.log")).unwrap();
    assert!(
        !log.contains("api-token-s3cret"),
        "the token is never logged"
    );
}

#[test]
fn off_loopback_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "model = \"logistic\"");
    let out = common::assay(&[
        "retrain",
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "0.0.0.0:0",
    ]);
    let err = common::input_error(&out);
    assert!(
        err.contains(
            "non-loopback address (0.0.0.0:0) needs [serve] api_token_file or api_token_env"
        ),
        "{err}"
    );
    // The same rule in the config itself, located.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}listen = \"0.0.0.0:9500\"\n")).unwrap();
    let out = common::assay(&["retrain", "run", "--config", config.to_str().unwrap()]);
    let err = common::input_error(&out);
    assert!(
        err.contains("serve.listen: binding to a non-loopback"),
        "{err}"
    );
    assert!(err.contains("retrain.toml:"), "{err}");
}
