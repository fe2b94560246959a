//! Label ingest and join, and the memory of pending predictions, measured
//! against a running `assay serve` (the binary given by `--assay`).
//!
//! The model: a request id, four float features, a group (`grp`, 10
//! values), a score and a binary label; `[quality]` with the score,
//! fairness by `grp`, no per-batch or per-window checks (so the figures are
//! the labels' own). The baseline (20,000 labelled rows) is the reference.
//!
//! - **Speed** (default): `--predictions` predictions are stored first
//!   (Arrow IPC batches of `--batch-rows`); then their labels are posted as
//!   JSON rows, `--labels-per-request` per request, from `--clients`
//!   threads, each id once, in random order. Reported: labels per wall
//!   second and per second of the daemon's own CPU time (user + system from
//!   /proc/PID/stat: the "per core" figure), including the once-a-second
//!   timer's joins and paced recomputation of the windows whose labels
//!   changed; then the same with the CPU of the last join and
//!   recomputation (`GET /quality` asks for them), which is the figure that
//!   counts all the work: labels are joined after they are acknowledged.
//! - **Memory** (`--memory`): two daemons in turn receive the same
//!   `--predictions` rows, one with request ids (every row a pending
//!   prediction in the store) and one without (none); after each, RSS is
//!   read once the daemon is idle. The difference is what the pending
//!   predictions cost in memory.
//!
//! ```text
//! cargo build --bin assay --example label_loadgen
//! target/debug/examples/label_loadgen --assay target/debug/assay --predictions 1000000
//! target/debug/examples/label_loadgen --assay target/debug/assay --predictions 10000000 --memory
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use clap::Parser;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Args {
    /// The assay binary to start.
    #[arg(long, default_value = "target/release/assay")]
    assay: PathBuf,
    /// Predictions stored (and, in the speed run, labelled).
    #[arg(long, default_value_t = 1_000_000)]
    predictions: usize,
    /// Predictions per batch.
    #[arg(long, default_value_t = 50_000)]
    batch_rows: usize,
    /// Labels per request (JSON rows).
    #[arg(long, default_value_t = 10_000)]
    labels_per_request: usize,
    /// Client threads posting labels.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Rows per window.
    #[arg(long, default_value_t = 1_000_000)]
    window_rows: u64,
    /// Measure the RSS of pending predictions instead of the label speed.
    #[arg(long)]
    memory: bool,
    /// Keep the retraining partitions (`[models.NAME.data]`, on by default
    /// in the daemon): each closed window's Parquet file rewritten as its
    /// labels come. Off here unless asked, as when the figures were first
    /// measured (before the partitions existed).
    #[arg(long)]
    data: bool,
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of a process so far (/proc/PID/stat, fields
/// 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

fn schema(with_label: bool) -> Arc<Schema> {
    let mut fields = vec![Field::new("id", DataType::Utf8, true)];
    fields.extend((0..4).map(|i| Field::new(format!("f{i}"), DataType::Float64, true)));
    fields.push(Field::new("grp", DataType::Utf8, true));
    fields.push(Field::new("prediction", DataType::Float64, true));
    if with_label {
        fields.push(Field::new("label", DataType::Int64, true));
    }
    Arc::new(Schema::new(fields))
}

/// Rows `from..from + n`: ids `r{i}` (or `id` renamed away when
/// `ids` is false), a score, and a label drawn from the score.
fn rows(from: usize, n: usize, with_label: bool, ids: bool, rng: &mut StdRng) -> RecordBatch {
    let scores: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
        (from..from + n).map(|i| format!("r{i}")),
    ))];
    for _ in 0..4 {
        columns.push(Arc::new(Float64Array::from_iter_values(
            (0..n).map(|_| rng.random::<f64>() * 4.0 - 2.0),
        )));
    }
    columns.push(Arc::new(StringArray::from_iter_values(
        (0..n).map(|_| format!("g{}", rng.random_range(0..10))),
    )));
    columns.push(Arc::new(Float64Array::from(scores.clone())));
    let mut schema = schema(with_label);
    if with_label {
        columns.push(Arc::new(Int64Array::from_iter_values(
            scores.iter().map(|s| i64::from(rng.random::<f64>() < *s)),
        )));
    }
    if !ids {
        // The same rows without a request id: nothing pending.
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| (**f).clone()).collect();
        fields[0] = Field::new("not_an_id", DataType::Utf8, true);
        schema = Arc::new(Schema::new(fields));
    }
    RecordBatch::try_new(schema, columns).expect("columns match the schema")
}

fn arrow_body(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    drop(w);
    Ok(out)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

fn start(args: &Args, dir: &Path) -> Result<(Daemon, String)> {
    std::fs::create_dir_all(dir)?;
    let mut rng = StdRng::seed_from_u64(1);
    let baseline = dir.join("baseline.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&baseline)?,
        schema(true),
        None,
    )?;
    writer.write(&rows(0, 20_000, true, true, &mut rng))?;
    writer.close()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.join("assay.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:{port}"
state_dir = "state"
[limits]
max_body_bytes = 268435456
[models.load]
baseline = "baseline.parquet"
request_id_column = "id"
[models.load.window]
rows = {}
[models.load.checks]
per_batch = []
per_window = []
[models.load.quality]
label = "label"
score = "prediction"
sensitive = ["grp"]
label_ttl = "7d"
[models.load.data]
enabled = {}
"#,
            args.window_rows, args.data
        ),
    )?;
    let child = Command::new(&args.assay)
        .args(["serve", "--config"])
        .arg(&config)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", args.assay.display()))?;
    let daemon = Daemon(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = agent().get(format!("{base}/readyz")).call()
            && r.status() == 200
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the daemon did not get ready");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((daemon, base))
}

fn post(agent: &ureq::Agent, url: &str, content_type: &str, body: &[u8]) -> Result<String> {
    let mut r = agent
        .post(url)
        .header("Content-Type", content_type)
        .send(body)?;
    let status = r.status();
    let text = r.body_mut().read_to_string()?;
    if status != 200 {
        bail!("{url}: {status}: {text}");
    }
    Ok(text)
}

/// Stores `n` predictions (with or without request ids); seconds taken.
fn send_predictions(args: &Args, base: &str, ids: bool) -> Result<f64> {
    let agent = agent();
    let url = format!("{base}/v1/batches");
    let mut rng = StdRng::seed_from_u64(2);
    let started = Instant::now();
    let mut from = 0;
    while from < args.predictions {
        let n = args.batch_rows.min(args.predictions - from);
        let body = arrow_body(&rows(from, n, false, ids, &mut rng))?;
        post(&agent, &url, "application/vnd.apache.arrow.stream", &body)?;
        from += n;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Waits until the daemon's CPU time stops growing (its background work
/// done); returns the seconds waited.
fn settle(pid: u32) -> f64 {
    let started = Instant::now();
    let mut last = cpu_seconds(pid);
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now = cpu_seconds(pid);
        if now - last < 0.05 || started.elapsed() > Duration::from_secs(600) {
            return started.elapsed().as_secs_f64();
        }
        last = now;
    }
}

/// `GET /v1/models/load/quality`.
fn quality(base: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(
        &agent()
            .get(format!("{base}/v1/models/load/quality"))
            .call()?
            .body_mut()
            .read_to_string()?,
    )?)
}

fn speed(args: &Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (daemon, base) = start(args, dir.path())?;
    let pid = daemon.0.id();
    let stored = send_predictions(args, &base, true)?;
    println!(
        "{} predictions stored in {stored:.1} s ({:.0} per second)",
        args.predictions,
        args.predictions as f64 / stored
    );
    settle(pid);
    // Label bodies, pre-encoded: each id once, in random order.
    let mut order: Vec<usize> = (0..args.predictions).collect();
    let mut rng = StdRng::seed_from_u64(3);
    order.shuffle(&mut rng);
    let bodies: Vec<Vec<u8>> = order
        .chunks(args.labels_per_request)
        .map(|ids| {
            let rows: Vec<serde_json::Value> = ids
                .iter()
                .map(|i| serde_json::json!({"request_id": format!("r{i}"), "label": i % 2}))
                .collect();
            serde_json::to_vec(&rows).expect("JSON")
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/v1/labels");
    // The daemon's CPU accounts so far (the predictions' recomputation).
    let q0 = quality(&base)?;
    let cpu_at_start = cpu_seconds(pid);
    let started = Instant::now();
    let clients: Vec<_> = (0..args.clients)
        .map(|_| {
            let (bodies, next, url) = (bodies.clone(), next.clone(), url.clone());
            std::thread::spawn(move || -> Result<u64> {
                let agent = agent();
                let mut accepted = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return Ok(accepted);
                    };
                    let text = post(&agent, &url, "application/json", body)?;
                    let answer: serde_json::Value = serde_json::from_str(&text)?;
                    // (A daemon from before labels were joined after
                    // the answer says `joined` and `replaced`.)
                    accepted += answer["accepted"].as_u64().unwrap_or_else(|| {
                        answer["joined"].as_u64().unwrap_or(0)
                            + answer["replaced"].as_u64().unwrap_or(0)
                    });
                }
            })
        })
        .collect();
    let mut accepted = 0;
    for c in clients {
        accepted += c
            .join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_at_start;
    // The windows' quality catches up with the last labels: `GET
    // /quality` recomputes the windows whose labels changed since the
    // timer's last (paced) recomputation.
    let cpu_before_catch_up = cpu_seconds(pid);
    let asked = Instant::now();
    let q = quality(&base)?;
    let waited = asked.elapsed().as_secs_f64();
    let catch_up_cpu = cpu_seconds(pid) - cpu_before_catch_up;
    let joined = q["labels"]["joined"].as_u64().unwrap_or(accepted);
    let labelled: u64 = q["windows"]
        .as_array()
        .map(|w| w.iter().filter_map(|w| w["labelled"].as_u64()).sum())
        .unwrap_or(0);
    println!(
        "{} labels in {} JSON requests of {} from {} client(s): {accepted} accepted, {joined} joined, {labelled} labelled in the windows' quality",
        args.predictions,
        bodies.len(),
        args.labels_per_request,
        args.clients
    );
    println!(
        "wall {wall:.2} s: {:.0} labels/s; daemon CPU {cpu:.2} s: {:.0} labels per daemon CPU-second",
        joined as f64 / wall,
        joined as f64 / cpu.max(1e-9)
    );
    println!(
        "then GET /quality joined the last labels and recomputed their windows in {waited:.1} s (daemon CPU {catch_up_cpu:.2} s); with it: {:.0} labels per daemon CPU-second",
        joined as f64 / (cpu + catch_up_cpu).max(1e-9)
    );
    // The daemon's own account of where that CPU went (since it started,
    // threads' CPU from /proc/thread-self/schedstat).
    let account = |name: &str| {
        q["labels"][name].as_f64().unwrap_or(0.0) - q0["labels"][name].as_f64().unwrap_or(0.0)
    };
    let join_cpu = account("join_cpu_seconds");
    let recompute_cpu = account("recompute_cpu_seconds");
    let ingest_and_join = cpu + catch_up_cpu - recompute_cpu;
    println!(
        "of which joining {join_cpu:.2} s and recomputing window quality {recompute_cpu:.2} s; accepting and joining alone (all the daemon's CPU but the recomputation): {ingest_and_join:.2} s, {:.0} labels per CPU-second",
        joined as f64 / ingest_and_join.max(1e-9)
    );
    let store = dir.path().join("state/models/load/quality/pending");
    println!(
        "pending store: {:.1} MiB on disk",
        dir_bytes(&store) as f64 / 1048576.0
    );
    Ok(())
}

/// The bytes of the files in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn memory(args: &Args) -> Result<()> {
    let mut out = Vec::new();
    for ids in [false, true] {
        let dir = tempfile::tempdir()?;
        let (daemon, base) = start(args, dir.path())?;
        let pid = daemon.0.id();
        settle(pid);
        let idle = rss_kib(pid);
        let took = send_predictions(args, &base, ids)?;
        settle(pid);
        let after = rss_kib(pid);
        let disk = dir_bytes(&dir.path().join("state/models/load/quality/pending"));
        println!(
            "{}: {} rows in {took:.1} s; RSS idle {:.1} MiB, after {:.1} MiB; pending store {:.1} MiB on disk",
            if ids {
                "with request ids (pending)"
            } else {
                "without request ids (none)"
            },
            args.predictions,
            idle as f64 / 1024.0,
            after as f64 / 1024.0,
            disk as f64 / 1048576.0
        );
        out.push(after);
        drop(daemon);
    }
    println!(
        "{} pending predictions: {:+.1} MiB RSS against none",
        args.predictions,
        (out[1] as f64 - out[0] as f64) / 1024.0
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.memory {
        memory(&args)
    } else {
        speed(&args)
    }
}
