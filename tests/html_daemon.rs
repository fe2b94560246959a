//! The daemon's pages (`GET /`, `GET /ui/reports/{id}`) from the real
//! `assay serve`, fed the example serving data with `age` shifted, and
//! opened in headless chromium like the CLI's pages (tests/html_reports.rs):
//! no console message, no request, a screenshot under
//! `target/html-reports/`; behind the bearer token when one is set.

#[path = "html_reports/browser.rs"]
mod browser;
mod common;
#[path = "common/daemon.rs"]
mod daemon;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array};
use arrow::datatypes::Int64Type;
use assay::checks::compare::short;
use common::{SERVING, TRAIN, read_parquet, replace_column};
use daemon::{Daemon, agent, json_rows, path_of};

fn config(dir: &Path, extra_top: &str) -> std::path::PathBuf {
    let path = dir.join("assay.toml");
    let text = format!(
        r#"{extra_top}
[limits]
max_body_bytes = 4000000
queue_depth = 16

[models.credit]
baseline = "{train}"
suites = ["{suite}"]

[models.credit.window]
rows = 4000

[models.credit.checks]
per_batch = ["expectations"]
per_window = ["expectations", "skew", "drift"]
"#,
        train = path_of(TRAIN),
        suite = path_of("expectations/credit.toml"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Two windows of 4,000 rows: the first as served, the second with `age`
/// ten years older (skew against training, drift against window 1).
fn feed(daemon: &Daemon, token: Option<&str>) {
    let serving = read_parquet(SERVING);
    let age = serving
        .column_by_name("age")
        .unwrap()
        .as_primitive::<Int64Type>();
    let shifted: Int64Array = age.iter().map(|v| v.map(|v| v + 10)).collect();
    let older = replace_column(&serving, "age", Arc::new(shifted));
    for (data, start) in [(&serving, 0), (&older, 4000)] {
        for i in 0..4 {
            let batch = data.slice(start + i * 1000, 1000);
            let (status, body) = daemon.post(
                "/v1/models/credit/batches",
                "application/json",
                &json_rows(&batch),
                token,
            );
            assert_eq!(status, 200, "{body}\n{}", daemon.log());
        }
    }
}

fn get_page(daemon: &Daemon, path: &str, token: Option<&str>) -> (u16, String, Option<String>) {
    let mut req = agent().get(format!("{}{path}", daemon.base));
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().expect("request");
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = resp.status().as_u16();
    (
        status,
        resp.body_mut().read_to_string().unwrap_or_default(),
        csp,
    )
}

fn sections(dom: &str) -> Vec<(String, String)> {
    dom.split(r#"<details class="feature""#)
        .skip(1)
        .map(|part| {
            let name = part
                .split_once(r#"data-name=""#)
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(n, _)| n.to_string())
                .unwrap_or_default();
            (
                name,
                part.split("</details>").next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn open_checked(dir: &Path, html: &str, name: &str) -> String {
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let loaded = browser::open(&page, "");
    assert!(loaded.console.is_empty(), "{name}: {:?}", loaded.console);
    assert!(loaded.requests.is_empty(), "{name}: {:?}", loaded.requests);
    assert_eq!(loaded.dom.matches("<script").count(), 1, "{name}");
    browser::screenshot(&page, name);
    loaded.dom
}

#[test]
fn the_daemon_serves_its_models_and_each_window_as_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&config(dir.path(), ""), &dir.path().join("state"));
    feed(&daemon, None);

    let (status, index, csp) = get_page(&daemon, "/", None);
    assert_eq!(status, 200, "{index}");
    assert!(csp.unwrap().starts_with("default-src 'none'"));
    let dom = open_checked(dir.path(), &index, "daemon-index");
    assert!(
        dom.contains(r#"<h2><a href="/ui/models/credit">credit</a></h2>"#),
        "{dom}"
    );
    assert!(dom.contains("2 closed windows"), "{dom}");
    for id in ["credit-000001", "credit-000002"] {
        assert!(
            dom.contains(&format!(r#"<a href="/ui/reports/{id}">{id}</a>"#)),
            "{id}"
        );
    }
    assert!(dom.contains(r#"<span class="tag none">open</span>"#));

    let (status, page, _) = get_page(&daemon, "/ui/reports/credit-000002", None);
    assert_eq!(status, 200, "{page}");
    let dom = open_checked(dir.path(), &page, "daemon-window");
    assert!(dom.contains("<h1>Window credit-000002</h1>"));
    // Validation, then skew against the baseline, then drift against window 1.
    let validation = dom.find("<h2>Validation</h2>").expect("validation");
    let skew = dom
        .find("<h2>Skew against the baseline</h2>")
        .expect("skew");
    let drift = dom
        .find("<h2>Drift against the previous window</h2>")
        .expect("drift");
    assert!(validation < skew && skew < drift);
    for (part, end) in [(&dom[skew..drift], "SKEW"), (&dom[drift..], "DRIFT")] {
        let found = sections(part);
        assert!(!found.is_empty());
        // The shifted age is flagged and listed first; every compared
        // feature has its chart, drawn from the profiles.
        assert_eq!(found[0].0, "age", "{end}");
        assert!(
            found[0].1.contains(r#"<span class="tag bad">drift</span>"#),
            "{end}"
        );
        for (name, inner) in &found {
            assert_eq!(
                inner.matches(r#"<svg class="chart""#).count(),
                1,
                "{end} {name}"
            );
            assert!(!inner.contains("no distributions to draw"), "{end} {name}");
        }
        // "SKEW: 1 of 16 features …" (or "DATASET SKEW: …").
        assert!(part.contains(&format!("{end}: ")), "{end}");
    }

    let (status, _, _) = get_page(&daemon, "/ui/reports/credit-000099", None);
    assert_eq!(status, 404);
}

/// An HTTP client that shows redirects instead of following them.
fn no_redirects() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn login(daemon: &Daemon, body: &str) -> (u16, Option<String>, Option<String>, String) {
    let mut resp = no_redirects()
        .post(format!("{}/ui/login", daemon.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)
        .expect("request");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (cookie, location) = (header("set-cookie"), header("location"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, cookie, location, text)
}

fn get_with_cookie(
    daemon: &Daemon,
    path: &str,
    cookie: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut req = no_redirects().get(format!("{}{path}", daemon.base));
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let mut resp = req.call().expect("request");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = resp.status().as_u16();
    (
        status,
        location,
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// The feature's section of the model page.
fn feature<'a>(found: &'a [(String, String)], name: &str) -> &'a str {
    &found
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no section for {name}"))
        .1
}

#[test]
fn the_model_page_shows_each_feature_over_the_windows() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&config(dir.path(), ""), &dir.path().join("state"));
    feed(&daemon, None);

    let (status, page, csp) = get_page(&daemon, "/ui/models/credit", None);
    assert_eq!(status, 200, "{page}");
    assert!(csp.unwrap().starts_with("default-src 'none'"));
    let dom = open_checked(dir.path(), &page, "daemon-model");
    assert!(dom.contains("<h1>Model credit</h1>"), "{dom}");
    assert!(dom.contains("2 closed windows shown, "), "{dom}");
    for id in ["credit-000001", "credit-000002"] {
        assert!(
            dom.contains(&format!(r#"<a href="/ui/reports/{id}">{id}</a>"#)),
            "{id}"
        );
    }
    let found = sections(&dom);
    // Every column the skew check compared has its section, two charts.
    let report2 = daemon.get_json("/v1/reports/credit-000002");
    let compared = report2["skew"]["features"].as_array().unwrap();
    let predictions = report2["skew"]["predictions"].as_array().unwrap();
    assert_eq!(found.len(), compared.len() + predictions.len());
    for (name, inner) in &found {
        assert_eq!(inner.matches(r#"<svg class="chart""#).count(), 2, "{name}");
    }
    // The scores drawn are the report files' scores, per window; the
    // shifted age is flagged in window 2 only and its score went up.
    let report1 = daemon.get_json("/v1/reports/credit-000001");
    let age_of = |r: &serde_json::Value| {
        r["skew"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "age")
            .cloned()
            .unwrap()
    };
    let (age1, age2) = (age_of(&report1), age_of(&report2));
    let (s1, s2) = (
        age1["statistic"].as_f64().unwrap(),
        age2["statistic"].as_f64().unwrap(),
    );
    assert!(s2 > s1, "{s1} {s2}");
    assert_eq!(age2["drifted"], true);
    let age = feature(&found, "age");
    let bars = |s: f64| format!(">{}</text>", short(s));
    let at1 = age.find(&bars(s1)).expect("window 1's score");
    let at2 = age.find(&bars(s2)).expect("window 2's score");
    assert!(at1 < at2, "oldest first");
    assert!(age.contains(r#"<span class="tag bad">drifted</span>"#));
    assert!(age.contains("drifted in 1 of 2 windows"), "{age}");
    assert!(age.contains(&format!("latest {}", short(s2))), "{age}");

    // A feature with missing values: its share per window is drawn.
    let missing = compared
        .iter()
        .find(|f| f["missing"]["current"].as_f64().unwrap() > 0.0)
        .expect("a feature with missing values");
    let name = missing["name"].as_str().unwrap();
    let share = missing["missing"]["current"].as_f64().unwrap();
    assert!(
        feature(&found, name).contains(&format!(">{}</text>", short(share))),
        "{name}"
    );

    let (status, _, _) = get_page(&daemon, "/ui/models/nope", None);
    assert_eq!(status, 404);
}

#[test]
fn the_pages_are_behind_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    // `+`, `;` and a space: the cookie must carry them encoded.
    std::fs::write(&token_file, "s3cret+to;ken x\n").unwrap();
    let cfg = config(
        dir.path(),
        &format!("[auth]\ntoken_file = \"{}\"\n", token_file.display()),
    );
    let daemon = Daemon::start(&cfg, &dir.path().join("state"));
    let token = "s3cret+to;ken x";
    feed(&daemon, Some(token));
    for path in ["/", "/ui/reports/credit-000001", "/ui/models/credit"] {
        // A browser without the token is sent to the login form.
        let (status, location, _) = get_with_cookie(&daemon, path, None);
        assert_eq!(
            (status, location.as_deref()),
            (303, Some("/ui/login")),
            "{path}"
        );
        let (status, location, _) = get_with_cookie(&daemon, path, Some("assay_token=wrong"));
        assert_eq!(
            (status, location.as_deref()),
            (303, Some("/ui/login")),
            "{path}"
        );
        let (status, body, _) = get_page(&daemon, path, Some(token));
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.starts_with("<!DOCTYPE html>"));
    }

    // The form, with a policy that lets it post here and nowhere else.
    let (status, form, csp) = get_page(&daemon, "/ui/login", None);
    assert_eq!(status, 200);
    assert!(
        form.contains(r#"<form method="post" action="/ui/login">"#),
        "{form}"
    );
    assert!(csp.unwrap().contains("form-action 'self'"));
    let dom = open_checked(dir.path(), &form, "daemon-login");
    assert!(dom.contains(r#"name="token""#), "{dom}");

    // A wrong token: 401 and the form again, no cookie.
    for wrong in [
        "token=wrong",
        "token=s3cret",
        "",
        "other=s3cret%2Bto%3Bken+x",
    ] {
        let (status, cookie, _, body) = login(&daemon, wrong);
        assert_eq!(status, 401, "{wrong}");
        assert!(cookie.is_none(), "{wrong}");
        assert!(body.contains("wrong token"), "{wrong}");
    }
    // A body longer than any form is refused before it is read.
    let long = format!("token={}", "a".repeat(10_000));
    assert_eq!(login(&daemon, &long).0, 413);

    // The right token: the cookie, and a 303 to the index.
    let (status, cookie, location, _) = login(&daemon, "token=s3cret%2Bto%3Bken+x");
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    let cookie = cookie.expect("a cookie");
    let attributes: Vec<&str> = cookie.split("; ").collect();
    assert!(attributes[0].starts_with("assay_token="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&attribute), "{cookie}");
    }
    let pair = attributes[0];
    for path in [
        "/",
        "/ui/reports/credit-000001",
        "/ui/reports/credit-000002",
    ] {
        let (status, _, body) =
            get_with_cookie(&daemon, path, Some(&format!("theme=dark; {pair}")));
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
    }
    // The cookie opens the pages, not the API.
    for path in ["/v1/windows", "/v1/reports/credit-000001"] {
        assert_eq!(get_with_cookie(&daemon, path, Some(pair)).0, 401, "{path}");
        assert_eq!(get_page(&daemon, path, Some(token)).0, 200, "{path}");
    }
}
