//! Importing TFDV `schema.pbtxt` files: the mapping, the warnings for what
//! assay cannot represent, errors on malformed input, and the CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use assay::schema::tfdv::{ImportWarning, Imported, import, import_file};
use assay::schema::*;
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tfdv")
        .join(name)
}

fn load(name: &str) -> Imported {
    import_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn feature<'a>(imported: &'a Imported, name: &str) -> &'a FeatureSchema {
    imported
        .schema
        .feature(name)
        .unwrap_or_else(|| panic!("no feature {name:?}"))
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn range(min: Option<f64>, max: Option<f64>) -> Option<Bounds<f64>> {
    Some(Bounds { min, max })
}

fn comparator(method: DriftMethod, threshold: f64) -> Option<Comparator> {
    Some(Comparator {
        method: Some(method),
        threshold: Some(threshold),
        min_samples: None,
    })
}

/// The warnings about `feature` (None: schema-level), as (line, message).
fn warnings_for(imported: &Imported, feature: Option<&str>) -> Vec<(usize, String)> {
    imported
        .warnings
        .iter()
        .filter(|w| w.feature.as_deref() == feature)
        .map(|w| (w.line, w.message.clone()))
        .collect()
}

/// Exactly one warning about `feature`, on `line`, containing `text`.
fn assert_warned(imported: &Imported, feature: Option<&str>, line: usize, text: &str) {
    let found: Vec<_> = warnings_for(imported, feature)
        .into_iter()
        .filter(|(_, m)| m.contains(text))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{feature:?}: expected one warning containing {text:?}, got {:#?}",
        imported.warnings
    );
    assert_eq!(found[0].0, line, "{feature:?} {text:?}: wrong line");
}

fn assert_round_trips(imported: &Imported) {
    assert_eq!(validate(&imported.schema), Vec::new());
    let toml = imported.to_toml();
    let back = parse(&toml, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    assert_eq!(back, imported.schema);
}

// ---------- a realistic schema ----------

#[test]
fn census_schema_maps_feature_by_feature() {
    let imported = load("census_schema.pbtxt");
    let s = &imported.schema;
    let names: Vec<&str> = s.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "age",
            "workclass",
            "education",
            "hours_per_week",
            "capital_gain",
            "sex",
            "native_country",
            "education_num",
            "is_married",
            "label",
            "prediction_id",
        ]
    );
    assert_eq!(s.environments, strings(&["TRAINING", "SERVING"]));
    assert_eq!(s.default_environments, strings(&["TRAINING", "SERVING"]));
    assert_eq!(s.dataset.min_rows, Some(1000));
    assert_eq!(s.dataset.max_rows, Some(5_000_000));

    let age = feature(&imported, "age");
    assert_eq!(age.logical_type, LogicalType::Int);
    assert!(!age.categorical);
    assert_eq!(age.range, range(Some(17.0), Some(90.0)));
    assert!(age.presence.required);
    assert_eq!(age.presence.min_fraction, None);
    assert_eq!(age.presence.min_count, Some(1));
    assert_eq!(age.value_count, None, "shape [1] is a scalar");
    assert_eq!(age.drift, comparator(DriftMethod::JensenShannon, 0.05));
    assert_eq!(age.skew, None);

    let workclass = feature(&imported, "workclass");
    assert_eq!(workclass.logical_type, LogicalType::String);
    assert_eq!(
        workclass.domain,
        Some(Domain::Strings(strings(&[
            "Federal-gov",
            "Local-gov",
            "Never-worked",
            "Private",
            "Self-emp-inc",
            "Self-emp-not-inc",
            "State-gov",
            "Without-pay",
        ])))
    );
    assert!(!workclass.presence.required);
    assert_eq!(workclass.presence.min_fraction, Some(0.94));
    assert_eq!(workclass.skew, comparator(DriftMethod::Linf, 0.01));

    let education = feature(&imported, "education");
    assert_eq!(
        education.domain,
        Some(Domain::Strings(strings(&[
            "Bachelors",
            "HS-grad",
            "Masters",
            "Doctorate",
            "Some-college"
        ])))
    );
    assert_eq!(
        education.distinct,
        Some(Bounds {
            min: Some(3),
            max: Some(16)
        })
    );
    let notes = &imported.notes.features["education"].lines;
    assert_eq!(
        notes,
        &strings(&[
            "TFDV tags: demographic",
            "TFDV comment: Highest level of education reached."
        ])
    );

    let hours = feature(&imported, "hours_per_week");
    assert_eq!(hours.logical_type, LogicalType::Float);
    assert_eq!(hours.range, range(Some(1.0), Some(99.0)));
    assert_eq!(
        (hours.allow_nan, hours.allow_inf),
        (Some(false), Some(true))
    );

    // No float_domain: TFDV accepts NaN and infinities.
    let gain = feature(&imported, "capital_gain");
    assert_eq!((gain.allow_nan, gain.allow_inf), (Some(true), Some(true)));
    assert_eq!(gain.range, None);
    assert_eq!(
        gain.presence,
        Presence {
            required: false,
            min_fraction: None,
            min_count: Some(1)
        }
    );

    let country = feature(&imported, "native_country");
    assert_eq!(country.presence.min_fraction, Some(0.98));
    assert_eq!(country.domain.as_ref().map(Domain::len), Some(6));

    let education_num = feature(&imported, "education_num");
    assert_eq!(education_num.logical_type, LogicalType::Int);
    assert!(education_num.categorical);
    assert_eq!(education_num.range, range(Some(1.0), Some(16.0)));
    assert_eq!(education_num.skew, comparator(DriftMethod::Linf, 0.03));

    for name in ["is_married", "label"] {
        assert_eq!(feature(&imported, name).logical_type, LogicalType::Bool);
    }
    let label = feature(&imported, "label");
    assert_eq!(label.environments.not_in, strings(&["SERVING"]));
    assert!(label.environments.in_.is_empty());
    assert!(s.expects(label, Some("TRAINING")));
    assert!(!s.expects(label, Some("SERVING")));

    // in_environment naming a default environment adds nothing (schema.proto:
    // in E when E is in in_environment or the defaults).
    let prediction_id = feature(&imported, "prediction_id");
    assert!(prediction_id.environments.is_unrestricted());

    for f in &s.features {
        assert_eq!(f.role, ColumnRole::Feature, "{}", f.name);
    }
}

#[test]
fn census_schema_imports_without_warnings() {
    let imported = load("census_schema.pbtxt");
    assert_eq!(imported.warnings, Vec::new());
    // TFDV's min_domain_mass and strict domain bounds have direct equivalents.
    assert_eq!(
        feature(&imported, "native_country").min_domain_mass,
        Some(0.99)
    );
    assert_eq!(feature(&imported, "workclass").min_domain_mass, None);
    for name in ["age", "hours_per_week", "education_num"] {
        assert_eq!(
            feature(&imported, name).range_tolerance,
            Some(0.0),
            "{name}"
        );
    }
    assert_eq!(feature(&imported, "capital_gain").range_tolerance, None);
}

#[test]
fn warnings_display_with_file_line_column_and_feature() {
    let imported = import(
        "feature {\n  name: 'x'\n  type: BYTES\n  distribution_constraints { min_domain_mass: 0.5 }\n}",
        "w.pbtxt",
    )
    .unwrap();
    assert_eq!(imported.warnings.len(), 1, "{:#?}", imported.warnings);
    assert_eq!(
        imported.warnings[0].to_string(),
        "w.pbtxt:4:30: feature \"x\": `distribution_constraints` not imported: the feature has no string domain"
    );
}

#[test]
fn imported_schemas_validate_and_round_trip() {
    for name in ["census_schema.pbtxt", "edge_cases.pbtxt"] {
        assert_round_trips(&load(name));
    }
}

#[test]
fn warnings_are_listed_in_the_toml_header() {
    let imported = load("edge_cases.pbtxt");
    let toml = imported.to_toml();
    let header: Vec<&str> = toml.lines().take_while(|l| l.starts_with('#')).collect();
    let header = header.join("\n");
    assert!(header.contains("edge_cases.pbtxt"), "{header}");
    assert!(header.contains("# TFDV tags: edge"), "{header}");
    assert!(
        header.contains(&format!(
            "Not imported, or imported with a different meaning ({}):",
            imported.warnings.len()
        )),
        "{header}"
    );
    for w in &imported.warnings {
        let line = format!("# - {}:{}: ", w.line, w.column);
        assert!(header.contains(&line), "{line} missing from\n{header}");
    }
}

// ---------- edge cases ----------

#[test]
fn shapes_make_lists() {
    let imported = load("edge_cases.pbtxt");
    let tags = feature(&imported, "tags");
    assert_eq!(tags.logical_type, LogicalType::List);
    assert_eq!(
        tags.value_count,
        Some(Bounds {
            min: Some(1),
            max: None
        })
    );
    assert_eq!(tags.domain, None);
    assert_warned(
        &imported,
        Some("tags"),
        5,
        "the domain of the values is not imported",
    );

    let pixels = feature(&imported, "pixels");
    assert_eq!(pixels.logical_type, LogicalType::List);
    assert_eq!(
        pixels.value_count,
        Some(Bounds {
            min: Some(6),
            max: Some(6)
        })
    );
    assert_eq!((pixels.allow_nan, pixels.allow_inf), (None, None));

    let matrix = feature(&imported, "matrix");
    assert_eq!(matrix.logical_type, LogicalType::List);
    assert_eq!(
        matrix.value_count,
        Some(Bounds {
            min: Some(1),
            max: Some(4)
        })
    );
    assert_warned(&imported, Some("matrix"), 49, "only the outer level");
}

#[test]
fn float_domains_and_number_syntax() {
    let imported = load("edge_cases.pbtxt");
    let embedding = feature(&imported, "embedding");
    assert_eq!(embedding.range, range(Some(-0.01), Some(25.0)));
    assert_eq!(
        (embedding.allow_nan, embedding.allow_inf),
        (Some(true), Some(false))
    );
    assert_warned(
        &imported,
        Some("embedding"),
        12,
        "`is_embedding` not imported",
    );

    let count = feature(&imported, "count");
    assert_eq!(count.logical_type, LogicalType::Int, "`type: 2` is INT");
    assert_eq!(count.range, range(Some(-5.0), Some(16.0)));
}

#[test]
fn features_tfdv_does_not_validate() {
    let imported = load("edge_cases.pbtxt");
    let old = feature(&imported, "old");
    let mut bare = FeatureSchema::new("old", LogicalType::Int, ColumnRole::Feature);
    bare.range = None;
    assert_eq!(
        old, &bare,
        "constraints of a deprecated feature are dropped"
    );
    assert_warned(
        &imported,
        Some("old"),
        14,
        "TFDV does not validate this feature",
    );

    for (name, line, text) in [
        ("derived", 15, "not a column of the data"),
        ("nested", 16, "STRUCT features"),
    ] {
        assert!(imported.schema.feature(name).is_none(), "{name}");
        assert_warned(&imported, Some(name), line, text);
    }
    // The struct's child is neither imported nor mentioned on its own.
    assert!(imported.schema.feature("x").is_none());
    assert!(warnings_for(&imported, Some("x")).is_empty());
}

#[test]
fn string_escapes_duplicates_and_comparators() {
    let imported = load("edge_cases.pbtxt");
    let city = feature(&imported, "city");
    assert_eq!(
        city.domain,
        Some(Domain::Strings(strings(&[
            "São Paulo",
            "New York",
            "tab\there, quote\" and Aé",
        ])))
    );
    assert_warned(&imported, Some("city"), 25, "\"New York\" listed twice");
    // A categorical feature keeps infinity_norm; the other two are reported.
    assert_eq!(city.skew, comparator(DriftMethod::Linf, 0.1));
    assert_warned(
        &imported,
        Some("city"),
        29,
        "linf imported, jensenshannon not",
    );
    assert_warned(&imported, Some("city"), 30, "normalized_abs_difference");

    let score = feature(&imported, "score");
    assert_eq!(score.drift, None, "infinity_norm on a float is dropped");
    assert_warned(&imported, Some("score"), 36, "this feature is numeric");
    assert_eq!(score.skew, comparator(DriftMethod::JensenShannon, 0.1));
    assert_warned(&imported, Some("score"), 37, "`source: QUANTILES`");
}

#[test]
fn domains_that_change_or_lose_the_type() {
    let imported = load("edge_cases.pbtxt");
    let zip = feature(&imported, "zip");
    assert_eq!(zip.logical_type, LogicalType::Int);
    assert_eq!(zip.range, range(Some(501.0), Some(99950.0)));
    assert_warned(&imported, Some("zip"), 39, "imported as an int feature");

    let code = feature(&imported, "code");
    assert_eq!((code.logical_type, &code.domain), (LogicalType::Int, &None));
    assert_warned(
        &imported,
        Some("code"),
        41,
        "a string_domain does not fit a INT feature",
    );

    let text = feature(&imported, "review_text");
    assert_eq!(text.logical_type, LogicalType::String);
    assert_warned(
        &imported,
        Some("review_text"),
        17,
        "`natural_language_domain` not imported",
    );

    let loan = feature(&imported, "loan amount ($)");
    assert_eq!(loan.logical_type, LogicalType::Bool);
    assert_warned(
        &imported,
        Some("loan amount ($)"),
        46,
        "\"yes\"/\"no\" not imported",
    );
    assert_warned(
        &imported,
        Some("loan amount ($)"),
        47,
        "`group_presence` not imported",
    );
}

#[test]
fn environments_outside_the_defaults() {
    let imported = load("edge_cases.pbtxt");
    let s = &imported.schema;
    assert_eq!(s.default_environments, strings(&["TRAINING", "SERVING"]));
    assert_eq!(s.environments, strings(&["TRAINING", "SERVING", "LIVE"]));
    let live = feature(&imported, "live_only");
    // LIVE, plus the defaults (schema.proto's rule).
    assert_eq!(
        live.environments.in_,
        strings(&["LIVE", "TRAINING", "SERVING"])
    );
    assert!(s.expects(live, Some("LIVE")));
    assert!(!s.expects(live, Some("STAGING")));
}

#[test]
fn schema_level_warnings() {
    let imported = load("edge_cases.pbtxt");
    assert_warned(
        &imported,
        None,
        50,
        "sparse feature \"sparse\" not imported",
    );
    assert_warned(
        &imported,
        None,
        51,
        "weighted feature \"weighted\" not imported",
    );
    assert_warned(
        &imported,
        None,
        52,
        "`represent_variable_length_as_ragged` ignored",
    );
    assert_warned(&imported, None, 57, "num_examples_drift_comparator");
    assert_eq!(imported.schema.dataset.min_rows, Some(10));
    // Every warning was checked above or in the tests before.
    assert_eq!(imported.warnings.len(), 20, "{:#?}", imported.warnings);
}

#[test]
fn no_default_environment_is_warned_about() {
    let text = "feature { name: 'y' type: INT not_in_environment: 'SERVING' }\n\
                feature { name: 'z' type: INT in_environment: 'SERVING' }";
    let imported = import(text, "t.pbtxt").unwrap();
    assert_eq!(imported.schema.environments, strings(&["SERVING"]));
    assert_eq!(imported.schema.default_environments, Vec::<String>::new());
    assert_eq!(
        imported.schema.features[1].environments.in_,
        strings(&["SERVING"])
    );
    assert_eq!(imported.warnings.len(), 1, "{:#?}", imported.warnings);
    assert!(
        imported.warnings[0]
            .message
            .contains("no `default_environment`")
    );
    assert_round_trips(&imported);
}

#[test]
fn a_feature_in_no_environment_is_not_imported() {
    let text = "default_environment: 'A'\n\
                feature { name: 'x' type: INT in_environment: 'B' not_in_environment: 'A' not_in_environment: 'B' }";
    let imported = import(text, "t.pbtxt").unwrap();
    assert!(imported.schema.features.is_empty());
    let messages: Vec<&str> = imported
        .warnings
        .iter()
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("in both"), "{messages:?}");
    assert!(messages[1].contains("expected nowhere"), "{messages:?}");
}

// ---------- malformed input ----------

fn error_of(text: &str) -> String {
    match import(text, "s.pbtxt") {
        Ok(imported) => panic!("imported {:?}", imported.schema),
        Err(e) => e.to_string(),
    }
}

#[test]
fn syntax_errors_have_file_line_and_column() {
    let e = import_file(&fixture("malformed.pbtxt")).unwrap_err();
    let path = fixture("malformed.pbtxt").display().to_string();
    assert_eq!(
        e.to_string(),
        format!("{path}:6:16: expected a value (a number, a string or an identifier), found `}}`")
    );
    assert_eq!(
        error_of("feature {\n  name: \"a\"\n"),
        "s.pbtxt:3:1: expected `}` to close the message opened at 1:9, found the end of the file"
    );
    assert_eq!(
        error_of("feature { name: \"a\nb\" }"),
        "s.pbtxt:1:17: string not closed on its line (a newline inside quotes must be written \\n)"
    );
    assert_eq!(
        error_of("feature { name: 'a' } }"),
        "s.pbtxt:1:23: expected a field name, found `}`"
    );
}

#[test]
fn unknown_fields_and_bad_values_are_all_reported() {
    let text = "feature {\n  name: 'a'\n  type: INTEGER\n  presense { min_count: 1 }\n}\n\
                feature { name: 'b' type: FLOAT presence { min_fraction: 'most' min_count: -1 } }\n\
                dataset_constraints { min_examples_count: 1.5 }\n\
                feature { name: 'a' type: INT }\n\
                feature { name: 'c' type: BYTES domain: 'nope' }\n\
                feature { name: 'd' type: BYTES int_domain { } string_domain { } }\n\
                feature { name: 'e' type: BYTES type: INT }\n\
                string_domain { value: 'x' }\n";
    let message = error_of(text);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines,
        [
            "s.pbtxt:3:9: `type` takes one of TYPE_UNKNOWN, BYTES, INT, FLOAT, STRUCT, found `INTEGER`",
            "s.pbtxt:4:3: `presense` is not a field of TFMD Feature; did you mean `presence`?",
            "s.pbtxt:6:58: `min_fraction` takes a number, found the string \"most\"",
            "s.pbtxt:6:76: `min_count` counts something and cannot be negative, found -1",
            "s.pbtxt:7:43: `min_examples_count` takes a 64-bit integer, found the number 1.5",
            "s.pbtxt:8:1: feature \"a\" is already defined at 1:1",
            "s.pbtxt:9:33: `domain: \"nope\"` names no top-level string_domain, int_domain or float_domain",
            "s.pbtxt:10:48: `string_domain` and `int_domain` (at 10:33) are both members of the oneof `domain_info`; give one",
            "s.pbtxt:11:33: `type` given twice (first at 11:21); it is not a repeated field",
            "s.pbtxt:12:1: a top-level `string_domain` needs a `name`",
        ]
    );
}

#[test]
fn out_of_range_values_are_rule_errors_at_the_tfdv_field() {
    let text = "feature {\n  name: 'a'\n  type: FLOAT\n  presence { min_fraction: 1.5 }\n  float_domain { min: 3 max: 1 }\n}\n\
                feature { name: 'b' type: BYTES skew_comparator { infinity_norm { threshold: -0.1 } } }\n";
    let message = error_of(text);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 3, "{message}");
    assert!(
        lines[1].starts_with("s.pbtxt:5:3: min (3) is greater than max (1)"),
        "{message}"
    );
    assert!(
        lines[0].starts_with("s.pbtxt:4:3: must be between 0 and 1, found 1.5"),
        "{message}"
    );
    assert!(
        lines[0].ends_with("(as imported: features.a.presence.min_fraction)"),
        "{message}"
    );
    assert!(
        lines[2].starts_with("s.pbtxt:7:33: a threshold cannot be negative"),
        "{message}"
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let e = import_file(Path::new("/nonexistent/schema.pbtxt")).unwrap_err();
    assert!(matches!(e, SchemaError::Read { .. }), "{e}");
}

// ---------- text-format strings ----------

/// Writes `s` as a text-format string the way protobuf's printer does:
/// octal escapes for bytes outside printable ASCII.
fn pbtxt_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

proptest! {
    #[test]
    fn any_string_domain_survives_import_and_toml(
        values in prop::collection::btree_set("\\PC{0,12}|[\\x00-\\x1f\"'\\\\ é]{1,6}", 1..8),
        name in "[a-z][a-z0-9_ ]{0,10}",
    ) {
        let values: Vec<String> = values.into_iter().collect();
        let listed: Vec<String> = values.iter().map(|v| format!("value: {}", pbtxt_string(v))).collect();
        let text = format!(
            "feature {{ name: {} type: BYTES string_domain {{ {} }} }}",
            pbtxt_string(&name),
            listed.join(" ")
        );
        let imported = import(&text, "p.pbtxt").unwrap();
        prop_assert!(imported.warnings.is_empty());
        prop_assert_eq!(&imported.schema.features[0].name, &name);
        prop_assert_eq!(&imported.schema.features[0].domain, &Some(Domain::Strings(values)));
        let back = parse(&imported.to_toml(), "p.toml").unwrap();
        prop_assert_eq!(back, imported.schema);
    }
}

// ---------- the command line ----------

fn assay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .output()
        .expect("running assay")
}

#[test]
fn cli_writes_the_file_and_prints_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("schema.toml");
    let input = fixture("edge_cases.pbtxt");
    let run = assay(&[
        "schema",
        "import",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let expected = import_file(&input).unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, expected.to_toml());
    assert_eq!(load_toml(&out), expected.schema);
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warned.len(), expected.warnings.len(), "{stderr}");
    let first: &ImportWarning = &expected.warnings[0];
    assert!(stderr.contains(&format!("warning: {first}")), "{stderr}");
}

fn load_toml(path: &Path) -> Schema {
    assay::schema::load(path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn cli_prints_toml_without_output() {
    let input = fixture("census_schema.pbtxt");
    let run = assay(&["schema", "import", input.to_str().unwrap()]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert_eq!(stdout, import_file(&input).unwrap().to_toml());
}

#[test]
fn cli_rejects_malformed_input_with_exit_2() {
    let input = fixture("malformed.pbtxt");
    let run = assay(&["schema", "import", input.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("{}:6:16: expected a value", input.display())),
        "{stderr}"
    );
    assert!(run.stdout.is_empty());
}
