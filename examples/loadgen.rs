//! Load generator for `assay serve`: starts the daemon (the binary given by
//! `--assay`) on loopback with a synthetic model, sends batches over HTTP
//! from several client threads for a while, and prints throughput, latency
//! percentiles, the daemon's CPU time and its resident memory over time.
//!
//! Throughput is given two ways: rows per wall-clock second (clients and
//! daemon share the machine), and rows per second of CPU time the daemon
//! itself used (user + system, from /proc) — the "per core" figure, which
//! does not depend on how many cores the clients leave free.
//!
//! ```text
//! cargo build --release && cargo run --release --example loadgen -- \
//!     --assay target/release/assay --format json --rows 1000 --features 30 --seconds 20
//! cargo run --release --example loadgen -- --assay target/release/assay --format arrow
//! ```
//!
//! Synthetic features: two thirds floats (normal), one third strings (20
//! categories); the baseline is 50,000 rows of the same distributions. The
//! window closes every `--window-rows` rows (skew against the baseline and
//! drift against the previous window run at every close).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;

#[path = "../benches/common/load.rs"]
mod load;

use load::{batch, schema};

#[derive(Parser)]
struct Args {
    /// The assay binary to start.
    #[arg(long, default_value = "target/release/assay")]
    assay: PathBuf,
    /// Body format: json (array of rows) or arrow (IPC stream).
    #[arg(long, default_value = "json")]
    format: String,
    /// Rows per batch.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// Features per row.
    #[arg(long, default_value_t = 30)]
    features: usize,
    /// Client threads.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// How long to send.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Rows per window.
    #[arg(long, default_value_t = 100_000)]
    window_rows: u64,
    /// Queue depth of the daemon.
    #[arg(long, default_value_t = 64)]
    queue_depth: usize,
    /// Check every batch against a schema inferred from the baseline (the
    /// daemon's default per-batch check when a model has a schema).
    #[arg(long)]
    schema_check: bool,
    /// Turn off the retraining partitions (`[models.load.data] enabled =
    /// false`; on by default in the daemon, as here without this flag).
    #[arg(long)]
    no_data: bool,
}

fn body(batch: &RecordBatch, format: &str) -> Result<(Vec<u8>, &'static str)> {
    let mut out = Vec::new();
    match format {
        "json" => {
            let mut w = arrow::json::ArrayWriter::new(&mut out);
            w.write(batch)?;
            w.finish()?;
            Ok((out, "application/json"))
        }
        "arrow" => {
            let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema())?;
            w.write(batch)?;
            w.finish()?;
            drop(w);
            Ok((out, "application/vnd.apache.arrow.stream"))
        }
        other => bail!("--format {other}: expected json or arrow"),
    }
}

/// How many of a client's batches after it first sees a new window the
/// latency split counts as meeting the close.
const AFTER_CLOSE: usize = 3;

/// The part of a batch's answer the latency split reads: typed, so that the
/// load generator, which shares the daemon's cores, skips building a JSON
/// tree of the findings for every batch.
#[derive(serde::Deserialize)]
struct Answer {
    batch: AnswerBatch,
}

#[derive(serde::Deserialize)]
struct AnswerBatch {
    window: String,
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
            // The command name (field 2) may hold spaces: count from its ')'.
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

fn start(args: &Args, dir: &Path, schema: &Arc<Schema>) -> Result<(Daemon, String)> {
    let mut rng = StdRng::seed_from_u64(1);
    let baseline = dir.join("baseline.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&baseline)?,
        schema.clone(),
        None,
    )?;
    for _ in 0..50 {
        writer.write(&batch(schema, 1000, &mut rng))?;
    }
    writer.close()?;
    let (schema_line, per_batch) = if args.schema_check {
        infer_schema(&args.assay, dir)?;
        ("schema = \"schema.toml\"\n", "[\"schema\"]")
    } else {
        ("", "[]")
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.join("assay.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nstate_dir = \"state\"\n[limits]\nqueue_depth = {}\nmax_body_bytes = 67108864\n\
             [models.load]\nbaseline = \"baseline.parquet\"\n{schema_line}[models.load.window]\nrows = {}\n\
             [models.load.checks]\nper_batch = {per_batch}\nper_window = [\"skew\", \"drift\"]\n{data}",
            args.queue_depth,
            args.window_rows,
            data = if args.no_data {
                "[models.load.data]\nenabled = false\n"
            } else {
                ""
            },
        ),
    )?;
    let child = Command::new(&args.assay)
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", args.assay.display()))?;
    let daemon = Daemon(child);
    let base = format!("http://127.0.0.1:{port}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = agent.get(format!("{base}/readyz")).call()
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

/// `assay profile` then `assay infer` on the baseline, as a user would.
fn infer_schema(assay: &Path, dir: &Path) -> Result<()> {
    // Relative to this process, not to `dir`.
    let assay =
        std::fs::canonicalize(assay).with_context(|| format!("finding {}", assay.display()))?;
    for args in [
        ["profile", "baseline.parquet", "-o", "baseline.profile.json"],
        ["infer", "baseline.profile.json", "-o", "schema.toml"],
    ] {
        let status = Command::new(&assay)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running {}", assay.display()))?;
        if !status.success() {
            bail!("assay {} failed: {status}", args[0]);
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let schema = schema(args.features);
    let dir = tempfile::tempdir()?;
    let (daemon, base) = start(&args, dir.path(), &schema)?;
    let pid = daemon.0.id();
    // Distinct pre-encoded bodies, so the clients measure the daemon, not
    // the encoder.
    let mut rng = StdRng::seed_from_u64(2);
    let bodies: Vec<(Vec<u8>, &str)> = (0..16)
        .map(|_| body(&batch(&schema, args.rows, &mut rng), &args.format))
        .collect::<Result<_>>()?;
    let bodies = Arc::new(bodies);
    let stop = Arc::new(AtomicBool::new(false));
    let rejected = Arc::new(AtomicU64::new(0));
    let url = format!("{base}/v1/batches");
    let cpu_at_start = cpu_seconds(pid);
    let started = Instant::now();
    let clients: Vec<_> = (0..args.clients)
        .map(|c| {
            let (bodies, stop, rejected, url) =
                (bodies.clone(), stop.clone(), rejected.clone(), url.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut latencies = Vec::new();
                let mut i = c;
                let mut window = String::new();
                // This client's batches since it first saw the current window.
                let mut in_window = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let (b, ct) = &bodies[i % bodies.len()];
                    i += 1;
                    let t = Instant::now();
                    match agent.post(&url).header("Content-Type", *ct).send(&b[..]) {
                        Ok(mut r) if r.status() == 200 => {
                            let mut answer = Vec::new();
                            let _ = r.body_mut().as_reader().read_to_end(&mut answer);
                            let elapsed = t.elapsed();
                            let id = serde_json::from_slice::<Answer>(&answer)
                                .map(|a| a.batch.window)
                                .unwrap_or_default();
                            if id != window {
                                window = id;
                                in_window = 0;
                            }
                            latencies.push((elapsed, in_window));
                            in_window += 1;
                        }
                        _ => {
                            rejected.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    // (seconds since start, RSS KiB), sampled every 200 ms.
    let mut rss: Vec<(f64, u64)> = Vec::new();
    let mut next_report = 60.0;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_millis(200));
        let t = started.elapsed().as_secs_f64();
        rss.push((t, rss_kib(pid)));
        if t >= next_report {
            let last_minute = rss
                .iter()
                .filter(|(s, _)| *s > t - 60.0)
                .map(|(_, r)| *r)
                .max();
            eprintln!(
                "{:>5.0} s: RSS peak over the last minute {:.1} MiB",
                t,
                last_minute.unwrap_or(0) as f64 / 1024.0
            );
            next_report += 60.0;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let cpu = cpu_seconds(pid) - cpu_at_start;
    let tagged: Vec<(Duration, usize)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap_or_default())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    let sorted = |keep: &dyn Fn(usize) -> bool| {
        let mut l: Vec<Duration> = tagged
            .iter()
            .filter(|(_, at)| keep(*at))
            .map(|(d, _)| *d)
            .collect();
        l.sort();
        l
    };
    let latencies = sorted(&|_| true);
    let n = latencies.len();
    if n == 0 {
        bail!("no batch was accepted");
    }
    let pct_of = |l: &[Duration], p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    let pct = |p: f64| pct_of(&latencies, p);
    let rows = n as f64 * args.rows as f64;
    println!(
        "format {} | {} rows × {} features per batch | {} clients | {:.1} s",
        args.format, args.rows, args.features, args.clients, elapsed
    );
    println!(
        "accepted {n} batches ({} rejected): {:.0} rows/s ({:.0} rows/s per core on {} cores)",
        rejected.load(Ordering::Relaxed),
        rows / elapsed,
        rows / elapsed / std::thread::available_parallelism().map_or(1, |p| p.get()) as f64,
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!(
        "daemon CPU time {cpu:.1} s ({:.2} cores busy): {:.0} rows per daemon CPU-second",
        cpu / elapsed,
        rows / cpu.max(1e-9)
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    // The batches that meet a window's close: the close's checks, report
    // and state run on background threads meanwhile.
    let after_close = sorted(&|at| at < AFTER_CLOSE);
    let others = sorted(&|at| at >= AFTER_CLOSE);
    println!(
        "latency ms, each client's first {AFTER_CLOSE} batches of a window ({}): p50 {:.2}  p99 {:.2}; the others ({}): p50 {:.2}  p99 {:.2}",
        after_close.len(),
        pct_of(&after_close, 0.5),
        pct_of(&after_close, 0.99),
        others.len(),
        pct_of(&others, 0.5),
        pct_of(&others, 0.99)
    );
    let peak = |from: f64, to: f64| {
        rss.iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(0) as f64
            / 1024.0
    };
    let end = elapsed;
    let warm = (end / 10.0).min(60.0);
    println!(
        "daemon RSS: peak {:.1} MiB; peak after warm-up ({warm:.0}–{:.0} s) {:.1} MiB, in the last tenth ({:.0}–{end:.0} s) {:.1} MiB",
        peak(0.0, end),
        2.0 * warm,
        peak(warm, 2.0 * warm),
        end - end / 10.0,
        peak(end - end / 10.0, end)
    );
    drop(daemon);
    Ok(())
}
