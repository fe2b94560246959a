//! A real headless browser for the HTML report tests: Debian's `chromium`,
//! driven from its command line (no WebDriver client crate, no extra
//! process to manage). One run dumps the DOM after the page's script ran
//! (what the page shows), its console messages (`--enable-logging`) and a
//! NetLog of every network request (`--log-net-log`); another writes a
//! screenshot. DNS resolution is mapped to nowhere, so even a request that
//! slipped through could not leave the machine; the NetLog says whether the
//! page tried.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The browser: `$ASSAY_CHROMIUM`, or `chromium` (Debian), `chromium-browser`
/// or `google-chrome` on PATH. Missing is a failure, not a skip: CI
/// (`.ci/run`) installs it.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("ASSAY_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "chromium not found: the HTML report tests open the pages in a real headless browser. \
         Install Debian's `chromium` (`apt-get install chromium`; .ci/run does) or set \
         ASSAY_CHROMIUM to a Chromium/Chrome binary."
    )
}

/// What the browser saw of one page.
pub struct Loaded {
    /// The DOM after scripts ran (`--dump-dom`).
    pub dom: String,
    /// Console messages (errors and logs) the page produced.
    pub console: Vec<String>,
    /// URLs of requests the page (not the browser's own services) made.
    pub requests: Vec<String>,
    /// Wall time of the whole browser run (start, load, dump, exit).
    pub elapsed: Duration,
}

fn base_command(profile_dir: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--hide-scrollbars",
        // Let the page's script and layout settle before dumping.
        "--virtual-time-budget=3000",
    ]);
    c.arg(format!("--user-data-dir={}", profile_dir.display()));
    c
}

fn url(page: &Path, fragment: &str) -> String {
    let absolute = std::fs::canonicalize(page).expect("page exists");
    format!("file://{}{fragment}", absolute.display())
}

/// Opens `page` (with an optional `#fragment`) and reports what it showed.
pub fn open(page: &Path, fragment: &str) -> Loaded {
    let work = tempfile::tempdir().expect("temp dir");
    let netlog = work.path().join("net.json");
    let start = Instant::now();
    let out = base_command(&work.path().join("profile"))
        .arg("--enable-logging=stderr")
        .arg("--v=0")
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(url(page, fragment))
        .output()
        .expect("run chromium");
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium failed on {}: {stderr}",
        page.display()
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "chromium dumped no document for {}: {stderr}",
        page.display()
    );
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Loaded {
        dom,
        console,
        requests: page_requests(&netlog),
        elapsed,
    }
}

/// Requests started on behalf of a `file://` page, from the NetLog: the
/// browser's own background requests (update checks) have another
/// network isolation key and are not the page's doing.
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).expect("chromium wrote its NetLog");
    // Chromium may leave the last event unterminated when it exits.
    let log: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("NetLog is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64();
    log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"].as_u64() == start_job)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.contains("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

/// Where screenshots go: `target/html-reports/`, for people to look at.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("html-reports");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Writes a screenshot of `page` as `target/html-reports/NAME.png`.
pub fn screenshot(page: &Path, name: &str) -> PathBuf {
    let work = tempfile::tempdir().expect("temp dir");
    let png = screenshot_dir().join(format!("{name}.png"));
    let out = base_command(&work.path().join("profile"))
        .arg("--window-size=1280,1800")
        .arg(format!("--screenshot={}", png.display()))
        .arg(url(page, ""))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success() && png.is_file(),
        "no screenshot of {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    png
}
