//! A running `assay serve` for integration tests: the real binary on a free
//! loopback port, a real HTTP client (ureq), and the example data as JSON
//! batches. Include with `#[path = "common/daemon.rs"] mod daemon;`; each
//! test file uses a subset (hence `dead_code`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use serde_json::Value;

/// The repository root (the crate's manifest directory).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `relative` (to the repository root) as an absolute path string.
pub fn path_of(relative: &str) -> String {
    root().join(relative).display().to_string()
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An HTTP client that returns 4xx/5xx responses instead of errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A running daemon, killed when dropped (also when a test panics).
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub port: u16,
    pub stderr_path: PathBuf,
}

impl Daemon {
    /// Starts `assay serve --config CONFIG --state-dir STATE` on a free port
    /// and waits until `/readyz` answers 200.
    pub fn start(config: &Path, state: &Path) -> Daemon {
        let daemon = Daemon::spawn(config, state);
        daemon.wait_ready();
        daemon
    }

    /// Starts `assay serve --config CONFIG --state-dir STATE` on a free port
    /// without waiting for anything.
    pub fn spawn(config: &Path, state: &Path) -> Daemon {
        let port = free_port();
        let stderr_path = state.with_extension(format!("stderr-{port}.log"));
        let stderr = std::fs::File::create(&stderr_path).expect("daemon log file");
        let child = Command::new(env!("CARGO_BIN_EXE_assay"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
            .arg(state)
            .current_dir(root())
            // The daemon's own default level (info): the tests read its log.
            .env_remove("ASSAY_LOG")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start assay serve");
        Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            stderr_path,
        }
    }

    /// Waits (up to two minutes) for `/readyz`; panics with the log if the
    /// daemon exits or never turns ready.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(r) = agent().get(format!("{}/readyz", self.base)).call()
                && r.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("daemon not ready; log:\n{}", self.log());
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// POSTs `body`; the status and the body (JSON, or a JSON string).
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> (u16, Value) {
        post(&self.base, path, content_type, body, token)
    }

    /// GETs `path`; the status and the body text.
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut req = agent().get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.call().expect("request");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    }

    /// GETs `path`, requires 200, parses JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, text) = self.get(path, None);
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).expect("JSON body")
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` to `base` + `path` (usable from threads without a `Daemon`).
pub fn post(
    base: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    token: Option<&str>,
) -> (u16, Value) {
    let mut req = agent()
        .post(format!("{base}{path}"))
        .header("Content-Type", content_type);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(body).expect("request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Writes `assay.toml` for the `credit` model into `dir`: the example
/// training data as baseline, the credit suite, windows of `window_rows`
/// rows. `model_extra` goes into `[models.credit]` (e.g. `schema = "..."`),
/// `extra_top` before everything (e.g. `[auth]`), and `checks` is the
/// `[models.credit.checks]` body.
pub fn write_config(
    dir: &Path,
    window_rows: u64,
    queue_depth: usize,
    extra_top: &str,
    model_extra: &str,
    checks: &str,
) -> PathBuf {
    let path = dir.join("assay.toml");
    let text = format!(
        r#"{extra_top}
[limits]
max_body_bytes = 4000000
queue_depth = {queue_depth}

[models.credit]
baseline = "{train}"
suites = ["{suite}"]
{model_extra}

[models.credit.window]
rows = {window_rows}

[models.credit.checks]
{checks}
"#,
        train = path_of("examples/data/train.parquet"),
        suite = path_of("expectations/credit.toml"),
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// `batch` as a JSON array of row objects (nulls left out).
pub fn json_rows(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = arrow::json::ArrayWriter::new(&mut out);
    writer.write(batch).expect("JSON rows");
    writer.finish().expect("JSON rows");
    out
}

/// `batch` in slices of at most `rows` rows.
pub fn chunks(batch: &RecordBatch, rows: usize) -> Vec<RecordBatch> {
    (0..batch.num_rows())
        .step_by(rows)
        .map(|start| batch.slice(start, rows.min(batch.num_rows() - start)))
        .collect()
}
