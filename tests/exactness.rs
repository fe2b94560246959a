//! Exactness: `assay profile --format json` against statistics computed by
//! numpy/pandas (`scripts/make_exactness_fixtures.py`, which also documents
//! the conventions) and committed in `tests/fixtures/exactness/expected.json`.
//!
//! - counts (count, nulls, NaN, ±inf, zeros, negatives, empty strings,
//!   true/false) are exact; a count the profile omits counts as 0;
//! - min, max, sum, mean and stddev agree to 1e-9 relative, with an absolute
//!   floor of 1e-15 × the column's largest finite magnitude (a few units in
//!   the last place of the data) for values near 0;
//! - a quantile passes when the true normalized rank of the returned value is
//!   within the profile's `quantile_rank_error` of the requested probability
//!   (KLL returns data items, so its answers are judged by rank, not value);
//! - distinct counts and top values are exact when the profile says so
//!   (`distinct_exact`, `top_exact`), otherwise within the sketches' bounds.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const REL_TOL: f64 = 1e-9;
const ABS_FLOOR: f64 = 1e-15;
/// Used when a profile does not report its rank error: KLL k=200's
/// single-sided error with a generous margin.
const DEFAULT_RANK_ERROR: f64 = 0.0133 * 2.5;
/// HLL with 4096 buckets: 1.6% standard error; allow three of them.
const HLL_REL_TOL: f64 = 0.05;
/// Frequent-items estimates: allowed error as a share of the column's count.
const FREQ_REL_TOL: f64 = 0.01;
const QUANTILES: [&str; 5] = ["0.01", "0.25", "0.5", "0.75", "0.99"];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load_expected() -> Value {
    let path = manifest_dir().join("tests/fixtures/exactness/expected.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn profile(path: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["profile", path, "--format", "json"])
        .current_dir(manifest_dir())
        .output()
        .expect("the assay binary runs");
    assert!(
        out.status.success(),
        "`assay profile {path} --format json` failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("`assay profile {path} --format json` did not print JSON: {e}"))
}

/// How to find the true rank of any value: all sorted values, or the
/// inverted-CDF quantiles at ranks k/G (see the fixture script).
enum RankHelper {
    Sorted(Vec<f64>),
    Grid(Vec<f64>),
}

impl RankHelper {
    fn from_column(col: &Value) -> Option<RankHelper> {
        let helper = col.get("rank_helper")?;
        let floats = |v: &Value| -> Vec<f64> {
            v.as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        };
        if let Some(sorted) = helper.get("sorted") {
            return Some(RankHelper::Sorted(floats(sorted)));
        }
        helper.get("grid").map(|g| RankHelper::Grid(floats(g)))
    }

    /// Whether some normalized rank of `v` (any rank in [#(x < v), #(x <= v)] / n)
    /// lies within `tol` of `q`.
    fn within(&self, v: f64, q: f64, tol: f64) -> bool {
        match self {
            RankHelper::Sorted(xs) => {
                let n = xs.len() as f64;
                let lo = xs.partition_point(|x| *x < v) as f64 / n;
                let hi = xs.partition_point(|x| *x <= v) as f64 / n;
                hi >= q - tol && lo <= q + tol
            }
            RankHelper::Grid(grid) => {
                // grid[k] = Q(k/G). Q(k/G) <= v implies #(x <= v)/n >= k/G, and
                // Q(k/G) >= v implies #(x < v)/n < k/G; each bound is within
                // one step of the truth, so allow one step of slack.
                let g = (grid.len() - 1) as f64;
                let at_least = grid
                    .iter()
                    .rposition(|x| *x <= v)
                    .map_or(0.0, |k| k as f64 / g);
                let below = grid
                    .iter()
                    .position(|x| *x >= v)
                    .map_or(1.0, |k| k as f64 / g);
                at_least + 1.0 / g >= q - tol && below - 1.0 / g <= q + tol
            }
        }
    }
}

struct Checker {
    errors: Vec<String>,
}

impl Checker {
    fn fail(&mut self, col: &str, msg: String) {
        self.errors.push(format!("{col}: {msg}"));
    }

    fn count(&mut self, col: &str, got: &Value, want: &Value, key: &str) {
        let Some(want) = want.get(key).and_then(Value::as_u64) else {
            return;
        };
        // An omitted count means none.
        let got_n = got.get(key).map_or(Some(0), Value::as_u64);
        if got_n != Some(want) {
            self.fail(col, format!("{key} = {:?}, expected {want}", got.get(key)));
        }
    }

    fn close(&mut self, col: &str, got: &Value, want: &Value, key: &str, scale: f64) {
        let Some(want_v) = want.get(key) else { return };
        let got_v = got.get(key).filter(|v| !v.is_null());
        match (want_v.as_f64(), got_v.and_then(Value::as_f64)) {
            (None, None) => {}
            (None, Some(g)) => self.fail(col, format!("{key} = {g}, expected none")),
            (Some(w), None) => self.fail(col, format!("{key} missing, expected {w}")),
            (Some(w), Some(g)) => {
                let tol = REL_TOL * w.abs() + ABS_FLOOR * scale.max(1.0);
                if (g - w).abs() > tol {
                    let rel = (g - w).abs() / w.abs().max(f64::MIN_POSITIVE);
                    self.fail(
                        col,
                        format!("{key} = {g:e}, expected {w:e} (rel. error {rel:.2e})"),
                    );
                }
            }
        }
    }

    fn numeric(&mut self, col: &str, got: &Value, want: &Value, ranks: Option<&RankHelper>) {
        for key in [
            "nan_count",
            "pos_inf_count",
            "neg_inf_count",
            "zeros",
            "negatives",
        ] {
            self.count(col, got, want, key);
        }
        let scale = want.get("abs_max").and_then(Value::as_f64).unwrap_or(1.0);
        let no_finite = want.get("mean").is_some_and(Value::is_null);
        for key in ["min", "max", "sum", "mean", "stddev"] {
            // numpy's sum of nothing is 0; a profile may equally omit it.
            if key == "sum" && no_finite && got.get(key).is_none_or(|v| v.as_f64() == Some(0.0)) {
                continue;
            }
            self.close(col, got, want, key, scale);
        }
        if want.get("quantiles").is_none_or(Value::is_null) {
            return;
        }
        let Some(ranks) = ranks else {
            self.fail(col, "fixture has quantiles but no rank helper".into());
            return;
        };
        let tol = got
            .get("quantile_rank_error")
            .and_then(Value::as_f64)
            .unwrap_or(DEFAULT_RANK_ERROR);
        let Some(got_q) = got.get("quantiles").and_then(Value::as_object) else {
            self.fail(col, "quantiles missing".into());
            return;
        };
        for key in QUANTILES {
            let q: f64 = key.parse().unwrap_or(f64::NAN);
            // Match keys by value, so "0.50" and "0.5" are the same quantile.
            let value = got_q
                .iter()
                .find(|(k, _)| k.parse::<f64>().ok() == Some(q))
                .and_then(|(_, v)| v.as_f64());
            match value {
                None => self.fail(col, format!("quantile {key} missing")),
                Some(v) if !ranks.within(v, q, tol) => {
                    let exact = want["quantiles"][key]["value"].as_f64().unwrap_or(f64::NAN);
                    self.fail(
                        col,
                        format!("quantile {key} = {v}: its rank is not within {tol} of {q} (exact: {exact})"),
                    );
                }
                Some(_) => {}
            }
        }
    }

    fn frequencies(&mut self, col: &str, got: &Value, want: &Value, required: bool) {
        let count = want["count"].as_f64().unwrap_or(0.0);
        match (
            want.get("distinct").and_then(Value::as_f64),
            got.get("distinct").and_then(Value::as_f64),
        ) {
            (Some(w), Some(g)) => {
                let exact = got.get("distinct_exact").and_then(Value::as_bool) == Some(true);
                let tol = if exact { 0.0 } else { HLL_REL_TOL * w };
                if (g - w).abs() > tol {
                    self.fail(
                        col,
                        format!("distinct = {g}, expected {w} (exact: {exact})"),
                    );
                }
            }
            (Some(_), None) if required => self.fail(col, "distinct missing".into()),
            _ => {}
        }

        let Some(want_top) = want.get("top").and_then(Value::as_array) else {
            return;
        };
        let Some(got_top) = got.get("top").and_then(Value::as_array) else {
            if required {
                self.fail(col, "top missing".into());
            }
            return;
        };
        let exact = got.get("top_exact").and_then(Value::as_bool) != Some(false);
        let boundary = want["top_boundary_count"].as_u64().unwrap_or(0);
        let mut truth: HashMap<&str, u64> = HashMap::new();
        for e in want_top {
            if let (Some(v), Some(c)) = (e["value"].as_str(), e["count"].as_u64()) {
                truth.insert(v, c);
            }
        }
        let ties: Option<Vec<&str>> = want
            .get("top_ties")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        for t in ties.iter().flatten() {
            truth.insert(t, boundary);
        }

        let entries: Vec<(String, u64)> = got_top
            .iter()
            .map(|e| {
                // Values of int columns may be printed as numbers.
                let value = match &e["value"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (value, e["count"].as_u64().unwrap_or(u64::MAX))
            })
            .collect();
        if entries.windows(2).any(|w| w[0].1 < w[1].1) {
            self.fail(
                col,
                "top is not sorted by count, most frequent first".into(),
            );
        }
        let slack = if exact {
            0
        } else {
            (FREQ_REL_TOL * count).ceil() as u64
        };
        for (value, c) in &entries {
            match truth.get(value.as_str()) {
                Some(t) if c.abs_diff(*t) > slack => self.fail(
                    col,
                    format!("top value {value:?} has count {c}, expected {t}"),
                ),
                Some(_) => {}
                // Not among the known frequent values: its true count is at
                // most the boundary (below it when the ties are listed).
                None => {
                    let limit = if ties.is_some() {
                        boundary.saturating_sub(1)
                    } else {
                        boundary
                    };
                    if *c > limit + slack {
                        self.fail(
                            col,
                            format!("top value {value:?} has count {c}, but is not that frequent"),
                        );
                    }
                }
            }
        }
        // Every value more frequent than the 10th must be listed (exact mode),
        // or at least the clear heavy hitters (sketch mode).
        let listed: Vec<&str> = entries.iter().map(|(v, _)| v.as_str()).collect();
        for e in want_top {
            let (Some(v), Some(c)) = (e["value"].as_str(), e["count"].as_u64()) else {
                continue;
            };
            let must = if exact {
                entries.len() >= want_top.len()
            } else {
                c as f64 >= 0.05 * count
            };
            if must && !listed.contains(&v) {
                self.fail(
                    col,
                    format!("frequent value {v:?} (count {c}) missing from top"),
                );
            }
        }
    }

    fn strings(&mut self, col: &str, got: &Value, want: &Value) {
        self.count(col, got, want, "empty_count");
        self.frequencies(col, got, want, true);
        if let (Some(w), Some(g)) = (want.get("length"), got.get("length")) {
            for key in ["min", "max"] {
                if g.get(key).and_then(Value::as_f64) != w.get(key).and_then(Value::as_f64) {
                    self.fail(
                        col,
                        format!("length.{key} = {:?}, expected {:?}", g.get(key), w.get(key)),
                    );
                }
            }
            self.close(col, g, w, "mean", 1.0);
        }
    }

    fn timestamp(&mut self, col: &str, got: &Value, want: &Value) {
        for (key, text) in [("min_iso", "min_text"), ("max_iso", "max_text")] {
            let (Some(w), Some(g)) = (
                want.get(key).and_then(Value::as_str),
                got.get(text).and_then(Value::as_str),
            ) else {
                continue;
            };
            // Compare to the second; formats differ in separators and zones.
            let norm = |s: &str| s.replacen(' ', "T", 1).chars().take(19).collect::<String>();
            if norm(g) != norm(w) {
                self.fail(col, format!("{text} = {g}, expected {w}"));
            }
        }
    }
}

fn check_file(path: &str) {
    let expected = load_expected();
    let files = expected["files"].as_array().expect("files is a list");
    let find = |p: &str| files.iter().find(|f| f["path"] == p);
    let want_file = find(path).unwrap_or_else(|| panic!("{path} is not in expected.json"));
    // train.csv holds the same numbers as train.parquet and shares its rank helpers.
    let helper_file = want_file["rank_helpers_from"]
        .as_str()
        .and_then(find)
        .unwrap_or(want_file);

    let got = profile(path);
    let mut checker = Checker { errors: Vec::new() };
    if got["rows"] != want_file["rows"] {
        checker.fail(
            "<file>",
            format!("rows = {}, expected {}", got["rows"], want_file["rows"]),
        );
    }
    let got_cols = got["columns"].as_array().cloned().unwrap_or_default();
    for want in want_file["columns"].as_array().expect("columns is a list") {
        let name = want["name"].as_str().expect("column name");
        let Some(col) = got_cols.iter().find(|c| c["name"] == name) else {
            checker.fail(name, "column missing from the profile".into());
            continue;
        };
        let kind = want["type"].as_str();
        if let Some(kind) = kind
            && col["type"] != kind
        {
            checker.fail(name, format!("type = {}, expected {kind}", col["type"]));
            continue;
        }
        checker.count(name, col, want, "count");
        checker.count(name, col, want, "null_count");
        let helper_col = helper_file["columns"]
            .as_array()
            .and_then(|cols| cols.iter().find(|c| c["name"] == name));
        let ranks = helper_col.and_then(RankHelper::from_column);
        match kind {
            Some("float") => checker.numeric(name, col, want, ranks.as_ref()),
            Some("int") => {
                checker.numeric(name, col, want, ranks.as_ref());
                checker.frequencies(name, col, want, false);
            }
            Some("string") => checker.strings(name, col, want),
            Some("bool") => {
                checker.count(name, col, want, "true_count");
                checker.count(name, col, want, "false_count");
            }
            Some("timestamp") => checker.timestamp(name, col, want),
            _ => {}
        }
    }
    assert!(
        checker.errors.is_empty(),
        "{path}: {} mismatches with numpy/pandas:\n  {}",
        checker.errors.len(),
        checker.errors.join("\n  ")
    );
}

#[test]
fn train_parquet_matches_numpy() {
    check_file("examples/data/train.parquet");
}

#[test]
fn train_csv_matches_numpy() {
    check_file("examples/data/train.csv");
}

#[test]
fn edge_cases_parquet_match_numpy() {
    check_file("tests/fixtures/exactness/edge_cases.parquet");
}

#[test]
fn edge_cases_csv_match_numpy() {
    check_file("tests/fixtures/exactness/edge_cases.csv");
}

/// The rank check itself must be able to fail: a value far from the
/// requested quantile is rejected with either kind of helper.
#[test]
fn rank_check_rejects_wrong_quantiles() {
    let sorted: Vec<f64> = (0..1000).map(f64::from).collect();
    let exact = RankHelper::Sorted(sorted.clone());
    assert!(exact.within(499.0, 0.5, 0.01));
    assert!(!exact.within(400.0, 0.5, 0.01));
    let grid: Vec<f64> = (0..=100)
        .map(|k| sorted[((k * 10) as usize).saturating_sub(1)])
        .collect();
    let coarse = RankHelper::Grid(grid);
    assert!(coarse.within(499.0, 0.5, 0.01));
    assert!(!coarse.within(400.0, 0.5, 0.01));
}
