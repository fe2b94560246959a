//! `assay validate --schema`: the real binary on the shipped example data.
//!
//! A schema is inferred (with `--ranges`) from `examples/data/train.parquet`
//! by `assay profile` + `assay infer`; the unmodified serving data must pass
//! it in the serving environment, and each fault injected by the example
//! generator (or, where the generator has no flag for it, by rewriting the
//! serving file here) must be caught with the right kind on the right
//! feature, and be the only error.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::ArrayRef;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

const TRAIN: &str = "examples/data/train.parquet";
const SERVING: &str = "examples/data/serving.parquet";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory under cargo's per-target temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("anomalies")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

fn ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "assay failed ({:?}):\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The schema inferred from the training data, and one sliced by `sex`.
struct Schemas {
    plain: PathBuf,
    sliced: PathBuf,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let dir = scratch("schemas");
        let profile = dir.join("train.profile.json");
        let sliced_profile = dir.join("train.sliced.profile.json");
        let plain = dir.join("schema.toml");
        let sliced = dir.join("sliced.toml");
        ok(&[
            "profile".as_ref(),
            TRAIN.as_ref(),
            "-q".as_ref(),
            "-o".as_ref(),
            profile.as_os_str(),
        ]);
        ok(&[
            "infer".as_ref(),
            profile.as_os_str(),
            "--ranges".as_ref(),
            "-q".as_ref(),
            "-o".as_ref(),
            plain.as_os_str(),
        ]);
        ok(&[
            "profile".as_ref(),
            TRAIN.as_ref(),
            "--slice".as_ref(),
            "sex".as_ref(),
            "-q".as_ref(),
            "-o".as_ref(),
            sliced_profile.as_os_str(),
        ]);
        ok(&[
            "infer".as_ref(),
            sliced_profile.as_os_str(),
            "-q".as_ref(),
            "-o".as_ref(),
            sliced.as_os_str(),
        ]);
        Schemas { plain, sliced }
    })
}

/// Builds the `generate_data` example with the cargo running this test and
/// returns its path (as tests/examples.rs does).
fn generator() -> &'static Path {
    static BUILD: Mutex<()> = Mutex::new(());
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    PATH.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "--quiet", "--example", "generate_data"])
            .current_dir(root())
            .output()
            .expect("run cargo build --example");
        assert!(
            output.status.success(),
            "cargo build --example generate_data failed:\n{}",
            text(&output.stderr)
        );
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>");
        profile_dir.join("examples").join("generate_data")
    })
}

/// Serving data with the generator's fault flags applied.
fn faulty_serving(name: &str, flags: &[&str]) -> PathBuf {
    let dir = scratch(name);
    let status = Command::new(generator())
        .args(["--only", "serving", "--out-dir"])
        .arg(&dir)
        .args(flags)
        .status()
        .unwrap();
    assert!(status.success(), "generate_data {flags:?} failed");
    dir.join("serving.parquet")
}

/// The serving data with one column rewritten by `change` (a new name
/// and/or a new array), written as Parquet.
fn rewritten_serving(
    name: &str,
    column: &str,
    change: impl Fn(&Field, &ArrayRef) -> (Field, ArrayRef),
) -> PathBuf {
    let file = File::open(root().join(SERVING)).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let path = scratch(name).join("serving.parquet");
    let mut writer: Option<ArrowWriter<File>> = None;
    for batch in reader {
        let batch = batch.unwrap();
        let schema = batch.schema();
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, a)| {
                if f.name() == column {
                    change(f, a)
                } else {
                    (f.as_ref().clone(), a.clone())
                }
            })
            .unzip();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let w = writer.get_or_insert_with(|| {
            ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), None).unwrap()
        });
        w.write(&batch).unwrap();
    }
    writer.unwrap().close().unwrap();
    path
}

/// `assay validate DATA --schema S --environment serving --format json`:
/// (exit code, report).
fn validate(data: &Path, schema: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "validate".as_ref(),
        data.as_os_str(),
        "--schema".as_ref(),
        schema.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let out = run(&args);
    let code = out.status.code().expect("exit code");
    assert!(code == 0 || code == 1, "exit {code}: {}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}):\n{}", text(&out.stdout));
    });
    (code, report)
}

/// (kind, feature, slice) of every error finding.
fn errors(report: &Value) -> Vec<(String, String, String)> {
    report["schema_findings"]
        .as_array()
        .expect("schema_findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["feature"].as_str().unwrap_or("").to_string(),
                f["slice"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn finding<'a>(report: &'a Value, kind: &str, feature: &str) -> &'a Value {
    report["schema_findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["feature"] == feature && f.get("slice").is_none())
        .unwrap_or_else(|| panic!("no {kind} on {feature} in {report:#}"))
}

fn error(kind: &str, feature: &str) -> (String, String, String) {
    (kind.to_string(), feature.to_string(), String::new())
}

const SERVING_ENV: [&str; 2] = ["--environment", "serving"];

#[test]
fn unmodified_serving_data_passes_in_the_serving_environment() {
    let (code, report) = validate(&root().join(SERVING), &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["success"], true);
    assert!(errors(&report).is_empty(), "{report:#}");
    assert_eq!(report["schema_summary"]["rows"], 10_000);
    assert_eq!(report["schema_summary"]["environment"], "serving");
    // The training data passes its own schema, label included.
    let (code, report) = validate(
        &root().join(TRAIN),
        &schemas().plain,
        &["--environment", "training"],
    );
    assert_eq!(code, 0, "{report:#}");
    // In the training environment the serving data lacks its label.
    let (code, report) = validate(
        &root().join(SERVING),
        &schemas().plain,
        &["--environment", "training"],
    );
    assert_eq!(code, 1);
    assert_eq!(errors(&report), vec![error("missing_column", "label")]);
}

#[test]
fn the_readable_table_and_the_report_file() {
    let data = faulty_serving("table", &["--new-category", "purpose=crypto:0.2"]);
    let out_file = scratch("table-report").join("report.json");
    let out = run(&[
        "validate".as_ref(),
        data.as_os_str(),
        "--schema".as_ref(),
        schemas().plain.as_os_str(),
        "--environment".as_ref(),
        "serving".as_ref(),
        "-o".as_ref(),
        out_file.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("1 error"), "{table}");
    assert!(
        table.contains("out_of_domain") && table.contains("purpose") && table.contains("crypto"),
        "{table}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(report["success"], false);
    assert_eq!(errors(&report), vec![error("out_of_domain", "purpose")]);
}

#[test]
fn a_new_category_is_out_of_domain_with_its_share_and_value() {
    let data = faulty_serving("new-category", &["--new-category", "purpose=crypto:0.2"]);
    let (code, report) = validate(&data, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(errors(&report), vec![error("out_of_domain", "purpose")]);
    let f = finding(&report, "out_of_domain", "purpose");
    let fraction = f["observed"]["fraction"].as_f64().unwrap();
    assert!((0.17..0.23).contains(&fraction), "{fraction}");
    assert_eq!(f["observed"]["top"][0]["value"], "crypto");
    assert_eq!(f["observed"]["approximate"], false);
    assert!(f["explanation"].as_str().unwrap().contains("crypto"));
}

#[test]
fn a_column_of_nulls_is_all_missing() {
    let data = faulty_serving("nulls", &["--null-rate", "income=1"]);
    let (code, report) = validate(&data, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&report),
        vec![error("feature_all_missing", "income")]
    );
}

#[test]
fn a_sparser_column_has_too_few_values_present() {
    let data = faulty_serving("sparse", &["--null-rate", "age=0.5"]);
    let (code, report) = validate(&data, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&report),
        vec![error("feature_too_few_present", "age")]
    );
    let f = finding(&report, "feature_too_few_present", "age");
    let fraction = f["observed"]["fraction"].as_f64().unwrap();
    assert!((0.44..0.56).contains(&fraction), "{fraction}");
}

#[test]
fn a_dropped_column_is_missing() {
    let data = faulty_serving("dropped", &["--drop-column", "purpose"]);
    let (code, report) = validate(&data, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(errors(&report), vec![error("missing_column", "purpose")]);
}

#[test]
fn a_renamed_column_is_missing_under_its_old_name_and_new_under_the_new_one() {
    let data = rewritten_serving("renamed", "state", |f, a| {
        (f.clone().with_name("state_code"), a.clone())
    });
    let (code, report) = validate(&data, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&report),
        vec![
            error("missing_column", "state"),
            error("new_column", "state_code")
        ]
    );
}

#[test]
fn a_unit_change_puts_values_out_of_range() {
    let data = faulty_serving("unit", &["--drift", "income=1000"]);
    let (code, report) = validate(&data, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(errors(&report), vec![error("value_too_large", "income")]);
    let f = finding(&report, "value_too_large", "income");
    let max = f["observed"]["max"].as_f64().unwrap();
    let limit = f["expected"]["limit"].as_f64().unwrap();
    assert!(max > 100.0 * limit, "max {max}, limit {limit}");
    // Nearly every value moved past the bound.
    let share = f["observed"]["estimated_fraction"].as_f64().unwrap();
    assert!(share > 0.9, "{share}");
}

#[test]
fn type_changes_are_caught() {
    // int -> float: a different type.
    let floats = rewritten_serving("int-to-float", "age", |f, a| {
        (
            Field::new(f.name(), DataType::Float64, true),
            cast(a, &DataType::Float64).unwrap(),
        )
    });
    let (code, report) = validate(&floats, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(errors(&report), vec![error("unexpected_type", "age")]);
    let f = finding(&report, "unexpected_type", "age");
    assert_eq!(
        (&f["observed"], &f["expected"]),
        (&"float".into(), &"int".into())
    );

    // int -> string of digits, bool -> "true"/"false": values written as text.
    let texts = rewritten_serving("to-text", "loan_term_months", |f, a| {
        (
            Field::new(f.name(), DataType::Utf8, true),
            cast(a, &DataType::Utf8).unwrap(),
        )
    });
    let (code, report) = validate(&texts, &schemas().plain, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&report),
        vec![error("string_values_are_numbers", "loan_term_months")]
    );
    let bools = rewritten_serving("bool-to-text", "has_cosigner", |f, a| {
        (
            Field::new(f.name(), DataType::Utf8, true),
            cast(a, &DataType::Utf8).unwrap(),
        )
    });
    let (_, report) = validate(&bools, &schemas().plain, &SERVING_ENV);
    assert_eq!(
        errors(&report),
        vec![error("string_values_are_booleans", "has_cosigner")]
    );
}

#[test]
fn a_saved_profile_validates_like_the_data() {
    let data = faulty_serving("profile", &["--new-category", "purpose=crypto:0.2"]);
    let profile = data.with_file_name("serving.profile.json");
    ok(&[
        "profile".as_ref(),
        data.as_os_str(),
        "-q".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
    ]);
    let out = run(&[
        "validate".as_ref(),
        "--profile".as_ref(),
        profile.as_os_str(),
        "--schema".as_ref(),
        schemas().plain.as_os_str(),
        "--environment".as_ref(),
        "serving".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let from_profile: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, from_data) = validate(&data, &schemas().plain, &SERVING_ENV);
    assert_eq!(from_profile, from_data);
}

#[test]
fn slices_of_the_schema_are_checked_and_named() {
    let data = faulty_serving("sliced", &["--new-category", "purpose=crypto:0.2"]);
    let (code, report) = validate(&data, &schemas().sliced, &SERVING_ENV);
    assert_eq!(code, 1);
    let found = errors(&report);
    for slice in ["", "sex=F", "sex=M", "sex=null"] {
        let expected = (
            "out_of_domain".to_string(),
            "purpose".to_string(),
            slice.to_string(),
        );
        assert!(found.contains(&expected), "{slice}: {found:?}");
    }
    assert!(
        found
            .iter()
            .all(|(kind, feature, _)| kind == "out_of_domain" && feature == "purpose")
    );

    // A missing slice column is a finding, not an input error.
    let data = faulty_serving("sliced-dropped", &["--drop-column", "sex"]);
    let (code, report) = validate(&data, &schemas().sliced, &SERVING_ENV);
    assert_eq!(code, 1);
    assert_eq!(errors(&report), vec![error("missing_column", "sex")]);
}

#[test]
fn schema_thresholds_from_the_file_decide_the_severity() {
    // Allow up to 25% of purpose outside its domain, and a wide range tolerance.
    // The inferred domain already allows what 20,000 training rows cannot
    // rule out (`min_domain_mass = 0.9997`): replace that line.
    let text = std::fs::read_to_string(&schemas().plain).unwrap();
    let table = text
        .find("[features.purpose]\n")
        .expect("the inferred schema has a [features.purpose] table");
    let line = table
        + text[table..]
            .find("min_domain_mass = ")
            .expect("the inferred purpose domain has a min_domain_mass");
    let end = line + text[line..].find('\n').unwrap();
    assert_eq!(&text[line..end], "min_domain_mass = 0.9997");
    let relaxed = format!("{}min_domain_mass = 0.75{}", &text[..line], &text[end..]);
    let schema = scratch("relaxed").join("schema.toml");
    std::fs::write(&schema, relaxed).unwrap();
    let data = faulty_serving("relaxed-data", &["--new-category", "purpose=crypto:0.2"]);
    let (code, report) = validate(&data, &schema, &SERVING_ENV);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        finding(&report, "out_of_domain", "purpose")["severity"],
        "warning"
    );
}

#[test]
fn bad_inputs_exit_2_with_a_located_message() {
    let missing = run(&["validate", SERVING, "--schema", "no/such/schema.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("no/such/schema.toml"),
        "{}",
        text(&missing.stderr)
    );

    let bad = scratch("bad-schema").join("schema.toml");
    std::fs::write(
        &bad,
        "format = \"assay.schema/1\"\n\n[features.age]\ntype = \"int\"\npresense = {}\n",
    )
    .unwrap();
    let out = run(&[
        "validate".as_ref(),
        SERVING.as_ref(),
        "--schema".as_ref(),
        bad.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:5:1:", bad.display())) && stderr.contains("presense"),
        "{stderr}"
    );

    let plain = schemas().plain.to_str().unwrap();
    for args in [
        vec![
            "validate",
            SERVING,
            "--schema",
            plain,
            "--environment",
            "staging",
        ],
        vec!["validate", "--schema", plain],
        vec!["validate", SERVING],
        vec![
            "validate",
            SERVING,
            "--profile",
            "p.json",
            "--schema",
            plain,
        ],
        vec!["validate", "no/such/data.parquet", "--schema", plain],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("panicked"), "{args:?}");
    }
    let env = run(&[
        "validate",
        SERVING,
        "--schema",
        plain,
        "--environment",
        "staging",
    ]);
    assert!(text(&env.stderr).contains("unknown environment `staging`"));
}

#[test]
fn new_schema_keys_round_trip_and_are_checked() {
    let mut schema = assay::schema::load(&schemas().plain).unwrap();
    let income = schema
        .features
        .iter_mut()
        .find(|f| f.name == "income")
        .unwrap();
    income.range_tolerance = Some(0.05);
    let purpose = schema
        .features
        .iter_mut()
        .find(|f| f.name == "purpose")
        .unwrap();
    purpose.min_domain_mass = Some(0.9);
    let written = assay::schema::to_toml_string(&schema);
    assert!(written.contains("min_domain_mass = 0.9\n"), "{written}");
    assert!(written.contains("range_tolerance = 0.05\n"), "{written}");
    assert_eq!(assay::schema::parse(&written, "s.toml").unwrap(), schema);

    let bad = "format = \"assay.schema/1\"\n[features.a]\ntype = \"string\"\nmin_domain_mass = 0.5\n\
               [features.b]\ntype = \"float\"\nrange = { max = 1.0 }\nrange_tolerance = -1.0\n";
    let err = assay::schema::parse(bad, "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "bad.toml:4:19: features.a.min_domain_mass: `min_domain_mass` needs a `domain`"
        ),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:8:19: features.b.range_tolerance: must be a finite share"),
        "{err}"
    );
}
