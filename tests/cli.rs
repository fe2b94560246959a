//! Drives the real `assay` binary on the shipped example data, temp files
//! and the small fixtures in `tests/fixtures/cli/`.
//!
//! Expected values are derived independently where possible: row counts
//! from the CSV's line count, slice sizes from the sliced column's exact
//! value counts, filtered halves from the whole, CSV from Parquet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const TRAIN: &str = "examples/data/train.parquet";
const TRAIN_CSV: &str = "examples/data/train.csv";
const SERVING: &str = "examples/data/serving.parquet";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/cli")
        .join(name)
        .display()
        .to_string()
}

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .current_dir(root())
        .env_remove("ASSAY_LOG")
        .output()
        .expect("run assay")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs assay, asserts success and returns stdout.
fn ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "assay {:?} failed ({:?}):\n{}",
        args.iter()
            .map(|a| a.as_ref().to_owned())
            .collect::<Vec<_>>(),
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs assay, asserts exit code 2 without a panic, returns stderr.
fn fails<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = run(args);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit code 2 from assay {:?}; stdout:\n{}\nstderr:\n{stderr}",
        args.iter()
            .map(|a| a.as_ref().to_owned())
            .collect::<Vec<_>>(),
        text(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "panic: {stderr}");
    assert!(!stderr.trim().is_empty(), "no message on stderr");
    stderr
}

fn assert_mentions(stderr: &str, parts: &[&str]) {
    for p in parts {
        assert!(stderr.contains(p), "stderr lacks {p:?}:\n{stderr}");
    }
}

fn profile_json(args: &[&str]) -> Value {
    let mut all = vec!["profile"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&ok(&all)).expect("profile --format json prints JSON")
}

fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read profile");
    serde_json::from_str(&text).expect("profile file is JSON")
}

fn columns(p: &Value) -> BTreeMap<String, Value> {
    p["columns"]
        .as_array()
        .expect("columns array")
        .iter()
        .map(|c| (c["name"].as_str().expect("name").to_string(), c.clone()))
        .collect()
}

fn column_names(p: &Value) -> Vec<String> {
    p["columns"]
        .as_array()
        .expect("columns array")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(what: &str, got: f64, want: f64) {
    let tol = 1e-9 * got.abs().max(want.abs()).max(1e-300);
    assert!(
        (got - want).abs() <= tol,
        "{what}: {got} vs {want} (difference {})",
        (got - want).abs()
    );
}

/// Header and data line count of the CSV, read here without assay.
fn csv_header_and_rows() -> (Vec<String>, u64) {
    let csv = std::fs::read_to_string(root().join(TRAIN_CSV)).expect("train.csv");
    let mut lines = csv.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    (header, lines.filter(|l| !l.is_empty()).count() as u64)
}

// ---------------------------------------------------------------------------
// profile

#[test]
fn profile_prints_a_table_of_every_column() {
    let out = ok(&["profile", TRAIN]);
    let (header, rows) = csv_header_and_rows();
    let first = out.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("{rows} rows, {} columns", header.len()),
        "first line of:\n{out}"
    );
    for name in &header {
        assert!(
            out.contains(name.as_str()),
            "table lacks column {name}:\n{out}"
        );
    }
    assert!(!out.trim_start().starts_with('{'), "table, not JSON");
}

#[test]
fn profile_json_has_the_documented_fields() {
    let p = profile_json(&[TRAIN]);
    let (header, rows) = csv_header_and_rows();
    assert_eq!(p["format"], "assay.profile/1");
    assert!(p["created_by"].as_str().unwrap_or("").starts_with("assay "));
    assert_eq!(u(&p["rows"]), rows);
    assert_eq!(column_names(&p), header, "columns in file order");
    let sources = p["sources"].as_array().expect("sources");
    assert!(
        sources
            .iter()
            .any(|s| s.as_str().unwrap_or("").ends_with("train.parquet")),
        "sources: {sources:?}"
    );
    let mut seen_types = std::collections::BTreeSet::new();
    for c in p["columns"].as_array().expect("columns") {
        let name = c["name"].as_str().expect("name");
        let ty = c["type"].as_str().expect("type");
        seen_types.insert(ty.to_string());
        assert!(c["arrow_type"].is_string(), "{name}: arrow_type");
        assert!(c["role"].is_string(), "{name}: role");
        assert_eq!(
            u(&c["count"]) + u(&c["null_count"]),
            rows,
            "{name}: count + null_count = rows"
        );
        match ty {
            "int" | "float" => {
                for key in ["min", "max", "mean", "stddev", "sum", "variance"] {
                    assert!(c[key].is_number(), "{name}: {key} missing: {c}");
                }
                let (min, max, mean) = (f(&c["min"]), f(&c["max"]), f(&c["mean"]));
                assert!(
                    min <= mean && mean <= max,
                    "{name}: {min} <= {mean} <= {max}"
                );
                assert!(f(&c["stddev"]) >= 0.0, "{name}: stddev");
                close(
                    &format!("{name}: stddev² = variance"),
                    f(&c["stddev"]).powi(2),
                    f(&c["variance"]),
                );
                let q = c["quantiles"].as_object().expect("quantiles");
                let mut previous = f64::NEG_INFINITY;
                for key in ["0.01", "0.25", "0.5", "0.75", "0.99"] {
                    let v = f(&q[key]);
                    assert!(
                        v >= previous && v >= min && v <= max,
                        "{name}: quantile {key} = {v} out of order or range"
                    );
                    previous = v;
                }
                assert!(c["quantile_rank_error"].is_number(), "{name}");
            }
            "string" => {
                assert!(c["distinct"].is_number(), "{name}: distinct");
                assert!(c["distinct_exact"].is_boolean(), "{name}: distinct_exact");
                let top = c["top"].as_array().expect("top");
                // Past the exact bound only values guaranteed frequent are
                // listed, which may be none (e.g. unique ids).
                if c["distinct_exact"] == true {
                    assert!(!top.is_empty(), "{name}: top");
                    assert_eq!(c["top_exact"], true, "{name}: top_exact");
                } else {
                    assert!(f(&c["distinct"]) > 4096.0 * 0.9, "{name}: distinct");
                }
                let counts: Vec<u64> = top.iter().map(|t| u(&t["count"])).collect();
                assert!(
                    counts.windows(2).all(|w| w[0] >= w[1]),
                    "{name}: top sorted by count"
                );
                assert!(counts.iter().sum::<u64>() <= u(&c["count"]));
                assert!(top.iter().all(|t| t["value"].is_string()));
            }
            _ => {}
        }
    }
    for ty in ["int", "float", "string", "bool", "timestamp"] {
        assert!(seen_types.contains(ty), "no {ty} column: {seen_types:?}");
    }
    // The role conventions (docs/profiles.md).
    let cols = columns(&p);
    assert_eq!(cols["label"]["role"], "label");
    assert_eq!(cols["prediction"]["role"], "prediction");
    assert_eq!(cols["application_id"]["role"], "id");
    assert_eq!(cols["customer_id"]["role"], "id");
    assert_eq!(cols["applied_at"]["role"], "timestamp");
    assert_eq!(cols["income"]["role"], "feature");
    // Exact frequencies sum to the count.
    let sex = &cols["sex"];
    assert_eq!(sex["distinct_exact"], true);
    let total: u64 = sex["top"]
        .as_array()
        .expect("top")
        .iter()
        .map(|t| u(&t["count"]))
        .sum();
    assert_eq!(total, u(&sex["count"]));
}

#[test]
fn output_file_is_a_loadable_profile_and_quiet_prints_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("train.profile.json");
    let out = run(&[
        "profile".as_ref(),
        TRAIN.as_ref(),
        "-o".as_ref(),
        path.as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "--quiet printed: {}",
        text(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "--quiet printed: {}",
        text(&out.stderr)
    );
    let saved = load_json(&path);
    let (header, rows) = csv_header_and_rows();
    assert_eq!(u(&saved["rows"]), rows);
    assert_eq!(column_names(&saved), header);
    // Every column carries its mergeable state.
    for c in saved["columns"].as_array().expect("columns") {
        assert!(c["state"].is_object(), "{}: state", c["name"]);
    }
    // No temporary file is left next to it.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");

    // The saved file is accepted by the other commands; --quiet holds there too.
    let merged = dir.path().join("merged.json");
    let out = run(&[
        "merge".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        merged.as_os_str(),
        "-q".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "merge -q printed: {}",
        text(&out.stdout)
    );
    assert_eq!(u(&load_json(&merged)["rows"]), rows);
    let schema = dir.path().join("schema.toml");
    let out = run(&[
        "infer".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        schema.as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "infer -q printed: {}",
        text(&out.stdout)
    );
    assert!(schema.exists());
}

#[test]
fn slices_by_columns_partition_the_rows() {
    let p = profile_json(&[TRAIN, "--slice", "sex", "--slice", "sex,race"]);
    let rows = u(&p["rows"]);
    assert_eq!(
        p["slice_specs"],
        serde_json::json!([["sex"], ["sex", "race"]])
    );
    let cols = columns(&p);
    let slices = p["slices"].as_array().expect("slices");
    let rows_of = |prefix_parts: usize| -> BTreeMap<String, u64> {
        slices
            .iter()
            .filter(|s| s["key"].as_array().map(Vec::len) == Some(prefix_parts))
            .map(|s| (s["name"].as_str().expect("name").to_string(), u(&s["rows"])))
            .collect()
    };
    let by_sex = rows_of(1);
    let by_sex_race = rows_of(2);
    assert_eq!(by_sex.values().sum::<u64>(), rows);
    assert_eq!(by_sex_race.values().sum::<u64>(), rows);
    // Each sex slice holds exactly the rows the sex column counts for it.
    let sex = &cols["sex"];
    let mut expected: BTreeMap<String, u64> = sex["top"]
        .as_array()
        .expect("top")
        .iter()
        .map(|t| {
            (
                format!("sex={}", t["value"].as_str().expect("value")),
                u(&t["count"]),
            )
        })
        .collect();
    if u(&sex["null_count"]) > 0 {
        expected.insert("sex=null".into(), u(&sex["null_count"]));
    }
    assert_eq!(by_sex, expected);
    // The combinations refine the single-column slices.
    for (name, n) in &by_sex {
        let refined: u64 = by_sex_race
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{name},race=")))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(refined, *n, "{name}");
    }
    // Slices profile the same columns as the whole.
    for s in slices {
        let names: Vec<&str> = s["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names.len(), cols.len(), "{}", s["name"]);
        let sex_col = s["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .find(|c| c["name"] == "sex")
            .expect("sex");
        assert_eq!(
            u(&sex_col["count"]) + u(&sex_col["null_count"]),
            u(&s["rows"])
        );
    }
}

#[test]
fn derived_slice_matches_the_equivalent_where() {
    let spec = "age_band=CASE WHEN age < 30 THEN 'young' ELSE 'older' END";
    let p = profile_json(&[TRAIN, "--slice", spec]);
    assert_eq!(p["slice_specs"], serde_json::json!([["age_band"]]));
    let slices: BTreeMap<String, u64> = p["slices"]
        .as_array()
        .expect("slices")
        .iter()
        .map(|s| (s["name"].as_str().expect("name").to_string(), u(&s["rows"])))
        .collect();
    assert_eq!(slices.values().sum::<u64>(), u(&p["rows"]));
    assert!(
        !column_names(&p).contains(&"age_band".to_string()),
        "the derived column is not profiled"
    );
    let young = profile_json(&[TRAIN, "--where", "age < 30"]);
    assert_eq!(slices.get("age_band=young"), Some(&u(&young["rows"])));
    assert!(f(&columns(&young)["age"]["max"]) < 30.0);
}

#[test]
fn too_many_slices_is_a_usage_error() {
    let err = fails(&["profile", TRAIN, "--slice", "state", "--max-slices", "3"]);
    assert_mentions(&err, &["more than 3 slices", "state", "--max-slices"]);
}

#[test]
fn where_columns_and_roles() {
    let p = profile_json(&[
        TRAIN,
        "--where",
        "age >= 40 AND sex = 'F'",
        "--columns",
        "sex,income,age",
        "--role",
        "label=income",
    ]);
    // Projected columns keep file order.
    assert_eq!(column_names(&p), ["age", "income", "sex"]);
    let cols = columns(&p);
    assert!(f(&cols["age"]["min"]) >= 40.0);
    assert_eq!(u(&cols["age"]["null_count"]), 0);
    let sex_top = cols["sex"]["top"].as_array().expect("top");
    assert_eq!(sex_top.len(), 1);
    assert_eq!(sex_top[0]["value"], "F");
    assert_eq!(u(&sex_top[0]["count"]), u(&p["rows"]));
    assert_eq!(cols["income"]["role"], "label");
    assert_eq!(cols["age"]["role"], "feature");
    let whole = u(&profile_json(&[TRAIN, "--columns", "age"])["rows"]);
    assert!(u(&p["rows"]) > 0 && u(&p["rows"]) < whole);
}

#[test]
fn csv_and_parquet_profiles_agree() {
    let pq = profile_json(&[TRAIN]);
    let csv = profile_json(&[TRAIN_CSV]);
    assert_eq!(pq["rows"], csv["rows"]);
    assert_eq!(column_names(&pq), column_names(&csv));
    let (a, b) = (columns(&pq), columns(&csv));
    for (name, x) in &a {
        let y = &b[name];
        assert_eq!(x["type"], y["type"], "{name}: type");
        // The empty field is a CSV null marker (docs/inputs.md), so empty
        // strings of the Parquet file are nulls in the CSV.
        let empty = x["empty_count"].as_u64().unwrap_or(0);
        assert_eq!(u(&x["count"]) - empty, u(&y["count"]), "{name}: count");
        assert_eq!(
            u(&x["null_count"]) + empty,
            u(&y["null_count"]),
            "{name}: null_count"
        );
        if matches!(x["type"].as_str(), Some("int" | "float")) {
            assert_eq!(x["nan_count"], y["nan_count"], "{name}: nan_count");
            assert_eq!(x["min"], y["min"], "{name}: min");
            assert_eq!(x["max"], y["max"], "{name}: max");
            close(&format!("{name}: mean"), f(&x["mean"]), f(&y["mean"]));
            close(&format!("{name}: stddev"), f(&x["stddev"]), f(&y["stddev"]));
        }
        if x["distinct_exact"] == true {
            let with_empty = u64::from(empty > 0);
            assert_eq!(
                f(&x["distinct"]) - with_empty as f64,
                f(&y["distinct"]),
                "{name}: distinct"
            );
            let counts = |c: &Value| -> BTreeMap<String, u64> {
                c["top"]
                    .as_array()
                    .expect("top")
                    .iter()
                    .filter(|t| t["value"] != "")
                    .map(|t| {
                        (
                            t["value"].as_str().expect("value").to_string(),
                            u(&t["count"]),
                        )
                    })
                    .collect()
            };
            let (tx, ty) = (counts(x), counts(y));
            for (value, n) in &ty {
                if let Some(m) = tx.get(value) {
                    assert_eq!(m, n, "{name}: count of {value}");
                }
            }
            // Both list the same values, but for what the 100-value cut
            // (and the empty string taking a place) may leave out.
            let common = tx.keys().filter(|k| ty.contains_key(*k)).count();
            assert!(common + 1 >= tx.len().min(ty.len()), "{name}: top values");
        }
    }
}

#[test]
fn merged_halves_equal_the_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let predicate = "prediction < 0.1";
    let negation = "NOT (prediction < 0.1)";
    let paths: Vec<PathBuf> = ["whole", "low", "high", "merged"]
        .iter()
        .map(|n| dir.path().join(format!("{n}.profile.json")))
        .collect();
    let profile_to = |path: &Path, filter: Option<&str>| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["profile".as_ref(), TRAIN.as_ref()];
        if let Some(w) = filter {
            args.push("--where".as_ref());
            args.push(w.as_ref());
        }
        args.push("-o".as_ref());
        args.push(path.as_os_str());
        args.push("-q".as_ref());
        ok(&args);
    };
    profile_to(&paths[0], None);
    profile_to(&paths[1], Some(predicate));
    profile_to(&paths[2], Some(negation));
    ok(&[
        "merge".as_ref(),
        paths[1].as_os_str(),
        paths[2].as_os_str(),
        "-o".as_ref(),
        paths[3].as_os_str(),
        "-q".as_ref(),
    ]);
    let whole = load_json(&paths[0]);
    let (low, high) = (load_json(&paths[1]), load_json(&paths[2]));
    let merged = load_json(&paths[3]);
    assert!(
        u(&low["rows"]) > 0 && u(&high["rows"]) > 0,
        "both halves hold rows"
    );
    assert_eq!(u(&low["rows"]) + u(&high["rows"]), u(&whole["rows"]));
    assert_eq!(merged["rows"], whole["rows"]);
    assert_eq!(column_names(&merged), column_names(&whole));
    let (w, m) = (columns(&whole), columns(&merged));
    for (name, x) in &w {
        let y = &m[name];
        for key in [
            "type",
            "role",
            "count",
            "null_count",
            "nan_count",
            "pos_inf_count",
            "neg_inf_count",
            "min",
            "max",
            "zeros",
            "negatives",
            "min_text",
            "max_text",
            "true_count",
            "false_count",
            "empty_count",
            "distinct_exact",
        ] {
            assert_eq!(x[key], y[key], "{name}: {key}");
        }
        if x["distinct_exact"] == true {
            assert_eq!(x["distinct"], y["distinct"], "{name}: distinct");
            assert_eq!(x["top"], y["top"], "{name}: top");
        }
        for key in ["sum", "mean", "stddev"] {
            if x[key].is_number() {
                close(&format!("{name}: {key}"), f(&y[key]), f(&x[key]));
            } else {
                assert_eq!(x[key], y[key], "{name}: {key}");
            }
        }
    }
    // The predicate split the prediction column at 0.1.
    assert!(f(&columns(&low)["prediction"]["max"]) < 0.1);
    assert!(f(&columns(&high)["prediction"]["min"]) >= 0.1);
}

#[test]
fn infer_writes_a_schema_that_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("train.profile.json");
    let schema = dir.path().join("schema.toml");
    ok(&[
        "profile".as_ref(),
        TRAIN.as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "-q".as_ref(),
    ]);
    let summary = ok(&[
        "infer".as_ref(),
        profile.as_os_str(),
        "-o".as_ref(),
        schema.as_os_str(),
    ]);
    assert!(summary.contains("label"), "summary table:\n{summary}");
    let toml_text = std::fs::read_to_string(&schema).expect("schema written");
    // Read with a plain TOML parser, independently of assay.
    let doc: toml::Value = toml::from_str(&toml_text).expect("schema is TOML");
    assert_eq!(doc["format"].as_str(), Some("assay.schema/1"));
    let label = &doc["features"]["label"];
    assert_eq!(label["role"].as_str(), Some("label"));
    assert_eq!(
        label["environments"]["not_in"],
        toml::Value::Array(vec![toml::Value::String("serving".into())])
    );
    let features = doc["features"].as_table().expect("features table");
    let (header, _) = csv_header_and_rows();
    for name in &header {
        assert!(features.contains_key(name), "schema lacks {name}");
    }
    // And with assay's own reader.
    let loaded = assay::schema::load(&schema).expect("assay reads its schema");
    let label = loaded.feature("label").expect("label feature");
    assert!(loaded.expects(label, Some("training")));
    assert!(!loaded.expects(label, Some("serving")));
    let age = loaded.feature("age").expect("age feature");
    assert!(loaded.expects(age, Some("serving")));
    // Without -o the TOML goes to stdout.
    let stdout = ok(&["infer".as_ref(), profile.as_os_str()]);
    let again: toml::Value = toml::from_str(&stdout).expect("stdout is TOML");
    assert_eq!(again["features"]["label"], doc["features"]["label"]);
}

#[test]
fn serving_data_has_no_label() {
    let p = profile_json(&[SERVING]);
    let names = column_names(&p);
    assert!(!names.contains(&"label".to_string()));
    assert!(names.contains(&"prediction".to_string()));
    let (header, _) = csv_header_and_rows();
    assert_eq!(names.len() + 1, header.len());
}

// ---------------------------------------------------------------------------
// Bad inputs: exit code 2, a message naming the file (and line and column)

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.parquet");
    let err = fails(&["profile".as_ref(), path.as_os_str()]);
    let shown = path.display().to_string();
    assert_mentions(&err, &[shown.as_str(), "no such file"]);
    let err = fails(&["merge".as_ref(), path.as_os_str()]);
    assert_mentions(&err, &["nope.parquet", "no such file"]);
}

#[test]
fn unknown_extension() {
    let err = fails(&["profile", &fixture("data.xlsx")]);
    assert_mentions(
        &err,
        &[
            "data.xlsx",
            "cannot tell the input format",
            "--input-format",
        ],
    );
    // --input-format makes it readable.
    let p = profile_json(&[&fixture("data.xlsx"), "--input-format", "csv"]);
    assert_eq!(u(&p["rows"]), 1);
}

#[test]
fn csv_row_with_the_wrong_number_of_fields() {
    // Line 4 (counting the header as line 1) has two fields instead of three.
    let err = fails(&["profile", &fixture("rows.csv")]);
    assert_mentions(&err, &["rows.csv", "line 4", "3", "2"]);
    assert!(!err.contains("line 3,"), "{err}");
}

#[test]
fn csv_value_that_is_not_an_integer() {
    // Line 5 holds "forty" in the column forced to int.
    let err = fails(&["profile", &fixture("ints.csv"), "--csv-type", "age=int"]);
    assert_mentions(&err, &["ints.csv", "line 5", "column \"age\"", "forty"]);
    // Without the override the column is read as text.
    let p = profile_json(&[&fixture("ints.csv")]);
    assert_eq!(columns(&p)["age"]["type"], "string");
}

#[test]
fn csv_that_is_not_utf8() {
    // Line 4 holds the Latin-1 byte 0xE9, within the type-inference sample.
    let err = fails(&["profile", &fixture("latin1.csv")]);
    assert_mentions(&err, &["latin1.csv", "line 4", "UTF-8"]);
    // Past the 10,000 inference rows the reader names the column as well.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("late.csv");
    let mut bytes = b"a,b\n".to_vec();
    for i in 0..10_005 {
        bytes.extend_from_slice(format!("{i},x\n").as_bytes());
    }
    bytes.extend_from_slice(b"10005,caf\xe9\n");
    std::fs::write(&path, bytes).expect("write");
    let err = fails(&["profile".as_ref(), path.as_os_str()]);
    // Header on line 1, then 10,005 good rows: the bad one is line 10,007.
    assert_mentions(&err, &["late.csv", "line 10007", "column \"b\"", "UTF-8"]);
}

/// docs/inputs.md shows `latin.csv: line 4, column "b": invalid UTF-8 text`,
/// but within the type-inference sample the message names no column.
#[test]
fn csv_not_utf8_in_the_inference_sample_names_the_column() {
    let err = fails(&["profile", &fixture("latin1.csv")]);
    assert_mentions(&err, &["latin1.csv", "line 4", "column \"b\"", "UTF-8"]);
}

/// Finite values whose sum overflows: the profile is written, but its state
/// holds `null` for the infinite sum/mean/m2, so it cannot be read back.
#[test]
fn profile_of_huge_values_can_be_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("huge.csv");
    std::fs::write(&data, "x\n1.7e308\n1.7e308\n").expect("write");
    let saved = dir.path().join("huge.profile.json");
    ok(&[
        "profile".as_ref(),
        data.as_os_str(),
        "-o".as_ref(),
        saved.as_os_str(),
        "-q".as_ref(),
    ]);
    let merged: Value = serde_json::from_str(&ok(&[
        "merge".as_ref(),
        saved.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]))
    .expect("JSON");
    let x = &columns(&merged)["x"];
    assert_eq!(f(&x["max"]), 1.7e308);
    // The mean of two equal finite values is that value.
    assert_eq!(f(&x["mean"]), 1.7e308);
}

#[test]
fn truncated_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(root().join(TRAIN)).expect("train.parquet");
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = fails(&["profile".as_ref(), cut.as_os_str()]);
    assert_mentions(&err, &["cut.parquet", "not a valid Parquet file"]);
}

#[test]
fn merge_rejects_a_json_file_that_is_not_a_profile() {
    let err = fails(&["merge", &fixture("not_a_profile.json")]);
    assert_mentions(&err, &["not_a_profile.json", "not an assay profile"]);
}

#[test]
fn merge_rejects_invalid_json_with_its_line_and_column() {
    // `"rows": ,` on line 3: the value is missing at column 11.
    let err = fails(&["merge", &fixture("bad.json")]);
    assert_mentions(&err, &["bad.json", "line 3", "column 11", "not valid JSON"]);
}

#[test]
fn unknown_role() {
    let err = fails(&["profile", TRAIN, "--role", "boss=income"]);
    assert_mentions(&err, &["boss", "unknown role"]);
    let err = fails(&["profile", TRAIN, "--role", "label=no_such_column"]);
    assert_mentions(&err, &["no_such_column"]);
}

#[test]
fn where_with_a_missing_column() {
    let err = fails(&["profile", TRAIN, "--where", "no_such_col > 1"]);
    assert_mentions(&err, &["--where", "no_such_col", "unknown column"]);
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let err = fails(&["profile", TRAIN, "--frobnicate"]);
    assert_mentions(&err, &["--frobnicate"]);
    let err = fails(&["no-such-command"]);
    assert_mentions(&err, &["no-such-command"]);
}

#[test]
fn merge_rejects_profiles_with_different_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.profile.json");
    let b = dir.path().join("b.profile.json");
    ok(&[
        "profile".as_ref(),
        TRAIN.as_ref(),
        "--columns".as_ref(),
        "age,income".as_ref(),
        "-o".as_ref(),
        a.as_os_str(),
        "-q".as_ref(),
    ]);
    ok(&[
        "profile".as_ref(),
        TRAIN.as_ref(),
        "--columns".as_ref(),
        "age".as_ref(),
        "-o".as_ref(),
        b.as_os_str(),
        "-q".as_ref(),
    ]);
    let err = fails(&["merge".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_mentions(
        &err,
        &["a.profile.json", "b.profile.json", "different columns"],
    );
    // Slicing differently is refused too.
    let c = dir.path().join("c.profile.json");
    ok(&[
        "profile".as_ref(),
        TRAIN.as_ref(),
        "--columns".as_ref(),
        "age,income".as_ref(),
        "--slice".as_ref(),
        "age".as_ref(),
        "-o".as_ref(),
        c.as_os_str(),
        "-q".as_ref(),
    ]);
    let err = fails(&["merge".as_ref(), a.as_os_str(), c.as_os_str()]);
    assert_mentions(&err, &["c.profile.json", "sliced differently"]);
}

/// `--input-format tsv` on a file whose name does not say `.tsv`: tab-
/// delimited in every command that reads data, unless `--delimiter` says
/// otherwise.
#[test]
fn input_format_tsv_means_tab_delimited_whatever_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.txt");
    let mut body = String::from("a\tb,c\n");
    for i in 0..50 {
        body.push_str(&format!("{i}\tx,{i}\n"));
    }
    std::fs::write(&file, body).unwrap();
    let path = file.display().to_string();
    let p = profile_json(&[&path, "--input-format", "tsv"]);
    assert_eq!(column_names(&p), ["a", "b,c"]);
    let p = profile_json(&[&path, "--input-format", "tsv", "--delimiter", ","]);
    assert_eq!(column_names(&p), ["a\tb", "c"]);
    let drift: Value = serde_json::from_str(&ok(&[
        "drift",
        &path,
        &path,
        "--input-format",
        "tsv",
        "--format",
        "json",
    ]))
    .unwrap();
    let text = drift.to_string();
    assert!(
        text.contains("\"b,c\""),
        "drift compares the tab-separated columns: {text}"
    );
}
