//! A real headless browser for the HTML report tests: Debian's `chromium`,
//! driven from its command line (no WebDriver client crate, no extra
//! process to manage). One run dumps the DOM after the page's script ran
//! (what the page shows), its console messages (`--enable-logging`) and a
//! NetLog of every network request (`--log-net-log`); another writes a
//! screenshot. DNS resolution is mapped to nowhere, so even a request that
//! slipped through could not leave the machine; the NetLog says whether the
//! page tried.

#![allow(dead_code)] // Each test binary uses a part.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
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

/// One browser at a time: the tests of this binary run in parallel, and
/// several chromiums at once on a small CI machine would make the load
/// times measured here meaningless.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

fn run(command: &mut Command) -> std::process::Output {
    let _turn = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    command.output().expect("run chromium")
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
    let out = run(base_command(&work.path().join("profile"))
        .arg("--enable-logging=stderr")
        .arg("--v=0")
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(url(page, fragment)));
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
    let out = run(base_command(&work.path().join("profile"))
        .arg("--window-size=1280,1800")
        .arg(format!("--screenshot={}", png.display()))
        .arg(url(page, "")));
    assert!(
        out.status.success() && png.is_file(),
        "no screenshot of {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    png
}

/// How long `page` takes to load in the browser, from the page's own
/// clock: a wrapper page next to it loads it in a 1280 px wide frame and
/// writes the time from inserting the frame to its `load` event (parsed,
/// laid out, script run) into its DOM, which is then dumped. Browser
/// start-up is not in it. The fastest of `tries` loads.
pub fn load_time(page: &Path, tries: usize) -> Duration {
    let dir = page.parent().expect("page in a directory");
    let file = page.file_name().unwrap().to_string_lossy();
    let wrapper = dir.join(format!("load-time-{file}"));
    std::fs::write(
        &wrapper,
        format!(
            r#"<!DOCTYPE html><html><body><pre id="t">pending</pre><script>
var t0=performance.now(),f=document.createElement('iframe');
f.style.width='1280px';f.style.height='1800px';
f.onload=function(){{document.getElementById('t').textContent='ms='+(performance.now()-t0);}};
f.src='{file}';document.body.appendChild(f);</script></body></html>"#
        ),
    )
    .unwrap();
    (0..tries)
        .map(|_| {
            let work = tempfile::tempdir().expect("temp dir");
            let out = run(base_command(&work.path().join("profile"))
                .arg("--dump-dom")
                .arg(url(&wrapper, "")));
            let dom = String::from_utf8_lossy(&out.stdout);
            let ms: f64 = dom
                .split("ms=")
                .nth(1)
                .and_then(|t| t.split('<').next())
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no load time in {dom}"));
            Duration::from_secs_f64(ms / 1000.0)
        })
        .min()
        .expect("at least one try")
}
