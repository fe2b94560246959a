//! Real receivers for the alert tests, on loopback: an HTTP server that
//! checks webhook signatures and counts deliveries, Debian's aiosmtpd
//! (tests/fixtures/alerts/smtp_server.py), Debian's Alertmanager; and a
//! tiny model whose windows have a schema finding exactly when a batch
//! holds a `color` outside the schema's domain. Include with
//! `#[path = "common/alerts.rs"] mod alerts;` (after `daemon`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

// ------------------------------------------------------------------ webhook

/// One request the webhook server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub delivery_id: String,
    pub timestamp: String,
    pub signature: Option<String>,
    /// Whether the signature is `sha256=HEX(HMAC(secret, timestamp.body))`.
    pub signature_ok: bool,
    pub body: Value,
    pub raw: Vec<u8>,
    pub at: Instant,
    /// When it arrived, Unix seconds (against `timestamp`: replays).
    pub received_unix: i64,
}

#[derive(Default)]
pub struct HookState {
    secret: Option<Vec<u8>>,
    /// How long each answer takes.
    pub delay: Mutex<Duration>,
    /// The status answered (200 by default).
    pub status: AtomicU16,
    pub received: Mutex<Vec<Received>>,
}

/// A real HTTP server (axum on its own runtime) for webhooks.
pub struct Hook {
    pub port: u16,
    pub state: Arc<HookState>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn receive(
    State(state): State<Arc<HookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let delivery_id = header("x-assay-delivery").unwrap_or_default();
    let timestamp = header("x-assay-timestamp").unwrap_or_default();
    let signature = header("x-assay-signature");
    let signature_ok = match (&state.secret, &signature) {
        (Some(secret), Some(sig)) => *sig == sign(secret, &timestamp, &body),
        _ => false,
    };
    state.received.lock().unwrap().push(Received {
        delivery_id,
        timestamp,
        signature,
        signature_ok,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
        at: Instant::now(),
        received_unix: unix_now(),
    });
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap()
}

impl Hook {
    /// Listens on `port` (0: any free port).
    pub fn start(port: u16, secret: Option<&str>) -> Hook {
        let state = Arc::new(HookState {
            secret: secret.map(|s| s.as_bytes().to_vec()),
            status: AtomicU16::new(200),
            ..HookState::default()
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the webhook port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::post(receive))
            .with_state(state.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, app).await;
        });
        Hook {
            port,
            state,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (up to `timeout`) until `done` holds for what was received.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if done(&got) || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Deliveries by delivery id: how many times each was received.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in self.received() {
            *out.entry(r.delivery_id).or_default() += 1;
        }
        out
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

// ------------------------------------------------------------------ SMTP

/// Debian's Python (with python3-aiosmtpd), not a virtualenv's.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

pub fn aiosmtpd_available() -> bool {
    Command::new(SYSTEM_PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Panics with how to install it, unless ASSAY_SKIP_ALERT_SERVERS=1.
pub fn require(available: bool, what: &str, package: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var("ASSAY_SKIP_ALERT_SERVERS").as_deref() == Ok("1") {
        eprintln!("note: {what} not available and ASSAY_SKIP_ALERT_SERVERS=1: skipping");
        return false;
    }
    panic!(
        "{what} is needed for this test (Debian: `apt-get install -y --no-install-recommends {package}`, \
         as .ci/run does); set ASSAY_SKIP_ALERT_SERVERS=1 to skip it"
    );
}

/// A mail as the server received it, parsed by Python's `email` package.
#[derive(Debug, Clone)]
pub struct Mail {
    pub meta: Value,
    pub raw: String,
}

/// A running aiosmtpd, stopped when dropped.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    log: PathBuf,
}

/// How the SMTP server talks.
pub enum SmtpMode<'a> {
    Plain,
    Starttls { cert: &'a Path, key: &'a Path },
    Implicit { cert: &'a Path, key: &'a Path },
}

impl Smtp {
    pub fn start(dir: &Path, port: u16, mode: SmtpMode, auth: Option<(&str, &Path)>) -> Smtp {
        let script = super::daemon::root().join("tests/fixtures/alerts/smtp_server.py");
        let mail = dir.join(format!("mail-{port}"));
        let log = dir.join(format!("smtp-{port}.log"));
        let mut cmd = Command::new(SYSTEM_PYTHON);
        cmd.arg(&script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&mail);
        match mode {
            SmtpMode::Plain => {}
            SmtpMode::Starttls { cert, key } | SmtpMode::Implicit { cert, key } => {
                let name = if matches!(mode, SmtpMode::Starttls { .. }) {
                    "starttls"
                } else {
                    "implicit"
                };
                cmd.args(["--mode", name, "--cert"])
                    .arg(cert)
                    .arg("--key")
                    .arg(key);
            }
        }
        if let Some((user, password_file)) = auth {
            cmd.args(["--user", user, "--password-file"])
                .arg(password_file);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert_eq!(
            line.trim(),
            "READY",
            "SMTP server did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Smtp {
            child,
            port,
            dir: mail,
            log,
        }
    }

    /// The mails received so far, in order, with what Python's `email`
    /// package makes of them.
    pub fn mails(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| Mail {
                meta: serde_json::from_str(
                    &std::fs::read_to_string(p.with_extension("json")).unwrap(),
                )
                .unwrap(),
                raw: std::fs::read_to_string(&p).unwrap(),
            })
            .collect()
    }

    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() > deadline {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a certificate for localhost / 127.0.0.1 signed by it, as PEM
/// files in `dir`: (ca, cert, key).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "assay test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// Parses a mail with Python's `email` package: headers and the text of
/// each part by content type.
pub fn parse_mail(raw: &str) -> Value {
    let script = r#"
import email, json, sys
from email import policy
m = email.message_from_string(sys.stdin.read(), policy=policy.default)
parts = {}
for part in m.walk():
    if part.get_content_maintype() == "text":
        parts[part.get_content_type()] = part.get_content()
print(json.dumps({"headers": {k: str(v) for k, v in m.items()}, "parts": parts,
                  "multipart": m.get_content_type()}))
"#;
    let mut child = Command::new(SYSTEM_PYTHON)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), raw.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).expect("the mail parses")
}

// ------------------------------------------------------------------ Alertmanager

pub const ALERTMANAGER: &str = "prometheus-alertmanager";

pub fn alertmanager_available() -> bool {
    Command::new(ALERTMANAGER)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running Alertmanager with a minimal config (one receiver that sends
/// nowhere), killed when dropped.
pub struct Alertmanager {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Alertmanager {
    pub fn start(dir: &Path) -> Alertmanager {
        let port = super::daemon::free_port();
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: nowhere\n  group_wait: 1s\n  group_interval: 1s\n\
             receivers:\n  - name: nowhere\n",
        )
        .unwrap();
        let log = dir.join("alertmanager.log");
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No cluster: no gossip port, no peers.
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start alertmanager");
        let am = Alertmanager { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = super::daemon::agent()
                .get(format!("{}/-/ready", am.url()))
                .call()
                && r.status() == 200
            {
                return am;
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager not ready:\n{}",
                am.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v2/alerts` (active, silenced and inhibited alerts).
    pub fn alerts(&self) -> Vec<Value> {
        let mut r = super::daemon::agent()
            .get(format!("{}/api/v2/alerts", self.url()))
            .call()
            .expect("GET /api/v2/alerts");
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    /// Waits until `done` holds for the alerts.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let alerts = self.alerts();
            if done(&alerts) || Instant::now() > deadline {
                return alerts;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ a model

/// A model with a schema: `color` in {red, green, blue}, `x` a float. A
/// window whose rows have another color has an `out_of_domain` schema
/// finding on `color`. Writes the baseline and the schema into `dir`;
/// returns the `[models.toy]` section (windows of `window_rows` rows,
/// schema checks only).
pub fn toy_model(dir: &Path, window_rows: u64) -> String {
    let mut csv = String::from("color,x\n");
    for i in 0..300 {
        csv.push_str(&format!(
            "{},{}.5\n",
            ["red", "green", "blue"][i % 3],
            i % 17
        ));
    }
    std::fs::write(dir.join("toy.csv"), csv).unwrap();
    std::fs::write(
        dir.join("toy-schema.toml"),
        "format = \"assay.schema/1\"\n\n[features.color]\ntype = \"string\"\ndomain = [\"red\", \"green\", \"blue\"]\n\n\
         [features.x]\ntype = \"float\"\n",
    )
    .unwrap();
    format!(
        "[models.toy]\nbaseline = \"toy.csv\"\nschema = \"toy-schema.toml\"\n\n\
         [models.toy.window]\nrows = {window_rows}\n\n\
         [models.toy.checks]\nper_batch = []\nper_window = [\"schema\"]\n"
    )
}

/// `rows` JSON rows of the toy model; `bad` rows have color `purple`.
pub fn toy_batch(rows: usize, bad: bool) -> Vec<u8> {
    let rows: Vec<Value> = (0..rows)
        .map(|i| {
            let color = if bad {
                "purple"
            } else {
                ["red", "green", "blue"][i % 3]
            };
            serde_json::json!({"color": color, "x": (i % 17) as f64 + 0.5})
        })
        .collect();
    serde_json::to_vec(&rows).unwrap()
}
