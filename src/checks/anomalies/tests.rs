//! One test (at least) per anomaly kind, on small in-memory batches profiled
//! by the real accumulators.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, StringArray};
use arrow::datatypes::Int32Type;
use arrow::record_batch::RecordBatch;

use super::*;
use crate::profile::{ColumnRole, ProfileOptions, TableAccumulator};
use crate::schema::{
    Bounds, Domain, FeatureEnvironments, InferOptions, Presence, SERVING, TRAINING, infer,
};

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn ints(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn floats(values: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn profile_sliced(batch: &RecordBatch, slices: &[&[&str]]) -> Profile {
    let options = ProfileOptions {
        slices: slices
            .iter()
            .map(|s| s.iter().map(|c| c.to_string()).collect())
            .collect(),
        ..ProfileOptions::default()
    };
    let mut acc = TableAccumulator::new(&batch.schema(), &options).unwrap();
    acc.update(batch).unwrap();
    acc.finish()
}

fn profile(batch: &RecordBatch) -> Profile {
    profile_sliced(batch, &[])
}

fn feature(name: &str, ty: LogicalType) -> FeatureSchema {
    FeatureSchema::new(name, ty, ColumnRole::Feature)
}

fn schema(features: Vec<FeatureSchema>) -> Schema {
    let mut s = Schema::new();
    s.features = features;
    s
}

/// (kind, severity, feature, slice) of each finding.
fn summary(findings: &[Finding]) -> Vec<(FindingKind, Severity, String, Option<String>)> {
    findings
        .iter()
        .map(|f| {
            (
                f.kind,
                f.severity,
                f.feature.clone().unwrap_or_default(),
                f.slice.clone(),
            )
        })
        .collect()
}

fn only(findings: &[Finding]) -> &Finding {
    assert_eq!(findings.len(), 1, "{findings:#?}");
    &findings[0]
}

#[test]
fn data_matching_its_own_inferred_schema_has_no_findings() {
    let b = batch(vec![
        ("age", ints(&[Some(30), Some(41), None, Some(30)])),
        ("income", floats(&[1.5, f64::NAN, 3.0, 4.0])),
        (
            "color",
            strings(&[Some("red"), Some("red"), Some("blue"), Some("red")]),
        ),
        ("label", ints(&[Some(0), Some(1), Some(0), Some(0)])),
    ]);
    let p = profile(&b);
    let options = InferOptions {
        ranges: true,
        ..InferOptions::default()
    };
    let s = infer(&p, &options);
    for env in [None, Some(TRAINING)] {
        let findings = schema_anomalies(&p, &s, env);
        assert!(findings.is_empty(), "{env:?}: {findings:#?}");
    }
}

#[test]
fn a_missing_column_is_an_error_only_where_the_feature_is_expected() {
    let b = batch(vec![("age", ints(&[Some(1)]))]);
    let p = profile(&b);
    let mut label = FeatureSchema::new("label", LogicalType::Int, ColumnRole::Label);
    label.environments.not_in = vec![SERVING.to_string()];
    label.presence.min_count = Some(1);
    let mut sex = feature("sex", LogicalType::String);
    sex.presence.min_fraction = Some(0.5);
    // Asks nothing of presence: may be absent anywhere, as in TFDV.
    let optional = feature("nickname", LogicalType::String);
    let mut s = schema(vec![feature("age", LogicalType::Int), sex, label, optional]);
    s.environments = vec![TRAINING.into(), SERVING.into()];
    s.default_environments = s.environments.clone();

    let serving = schema_anomalies(&p, &s, Some(SERVING));
    assert_eq!(
        summary(&serving),
        vec![(
            FindingKind::MissingColumn,
            Severity::Error,
            "sex".into(),
            None
        )]
    );
    assert!(
        serving[0].explanation.contains("serving"),
        "{}",
        serving[0].explanation
    );
    let training = schema_anomalies(&p, &s, Some(TRAINING));
    let missing: Vec<String> = training.iter().filter_map(|f| f.feature.clone()).collect();
    assert_eq!(missing, ["sex", "label"]);
    // Unknown origin: the label is optional, `sex` is not.
    assert_eq!(summary(&schema_anomalies(&p, &s, None)).len(), 1);
}

#[test]
fn a_feature_in_the_wrong_environment_is_an_error_and_not_checked_further() {
    let b = batch(vec![("label", ints(&[Some(7)]))]);
    let p = profile(&b);
    let mut label = FeatureSchema::new("label", LogicalType::Int, ColumnRole::Label);
    label.environments.not_in = vec![SERVING.to_string()];
    label.categorical = true;
    label.domain = Some(Domain::Ints(vec![0, 1]));
    let mut s = schema(vec![label]);
    s.environments = vec![TRAINING.into(), SERVING.into()];
    s.default_environments = s.environments.clone();
    let f = only(&schema_anomalies(&p, &s, Some(SERVING))).clone();
    assert_eq!(f.kind, FindingKind::FeatureInWrongEnvironment);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.explanation.contains("not_in = [serving]"),
        "{}",
        f.explanation
    );
    // `in` restricts too; in training the label is checked (7 is out of domain).
    let training = schema_anomalies(&p, &s, Some(TRAINING));
    assert_eq!(only(&training).kind, FindingKind::OutOfDomain);
    let mut s2 = s.clone();
    s2.features[0].environments = FeatureEnvironments {
        in_: vec![TRAINING.into()],
        not_in: vec![],
    };
    assert_eq!(
        only(&schema_anomalies(&p, &s2, Some(SERVING))).kind,
        FindingKind::FeatureInWrongEnvironment
    );
}

#[test]
fn a_column_the_schema_does_not_know_is_new() {
    let b = batch(vec![
        ("age", ints(&[Some(1)])),
        ("extra", strings(&[Some("x")])),
    ]);
    let f = only(&schema_anomalies(
        &profile(&b),
        &schema(vec![feature("age", LogicalType::Int)]),
        None,
    ))
    .clone();
    assert_eq!(
        (f.kind, f.feature.as_deref()),
        (FindingKind::NewColumn, Some("extra"))
    );
    assert_eq!(f.observed, json!({ "type": "string" }));
}

#[test]
fn a_different_type_is_unexpected_but_ints_are_acceptable_floats() {
    let b = batch(vec![
        (
            "flag",
            Arc::new(BooleanArray::from(vec![true, false])) as ArrayRef,
        ),
        ("amount", ints(&[Some(5), Some(500)])),
    ]);
    let p = profile(&b);
    let mut amount = feature("amount", LogicalType::Float);
    amount.range = Some(Bounds {
        min: Some(0.0),
        max: Some(100.0),
    });
    let s = schema(vec![feature("flag", LogicalType::Int), amount]);
    let findings = schema_anomalies(&p, &s, None);
    assert_eq!(
        summary(&findings),
        vec![
            (
                FindingKind::UnexpectedType,
                Severity::Error,
                "flag".into(),
                None
            ),
            // Widened int data is still range-checked.
            (
                FindingKind::ValueTooLarge,
                Severity::Error,
                "amount".into(),
                None
            ),
        ]
    );
    assert_eq!(findings[0].observed, json!("bool"));
    assert_eq!(findings[0].expected, json!("int"));
}

#[test]
fn presence_is_checked_by_fraction_count_and_requirement() {
    let b = batch(vec![(
        "x",
        ints(&[
            Some(1),
            None,
            None,
            None,
            Some(2),
            Some(3),
            None,
            None,
            None,
            None,
        ]),
    )]);
    let p = profile(&b);
    let mut x = feature("x", LogicalType::Int);
    x.presence = Presence {
        required: false,
        min_fraction: Some(0.5),
        min_count: Some(5),
    };
    let f = only(&schema_anomalies(&p, &schema(vec![x.clone()]), None)).clone();
    assert_eq!(f.kind, FindingKind::FeatureTooFewPresent);
    assert_eq!(
        f.observed,
        json!({ "count": 3, "rows": 10, "fraction": 0.3 })
    );
    assert_eq!(
        f.expected,
        json!({ "required": false, "min_fraction": 0.5, "min_count": 5 })
    );
    assert!(f.explanation.contains("30% of rows"), "{}", f.explanation);
    assert!(
        f.explanation
            .contains("at least 50% of rows and in at least 5 rows"),
        "{}",
        f.explanation
    );

    x.presence = Presence {
        required: false,
        min_fraction: Some(0.3),
        min_count: Some(3),
    };
    assert!(schema_anomalies(&p, &schema(vec![x.clone()]), None).is_empty());
    x.presence = Presence {
        required: true,
        min_fraction: None,
        min_count: None,
    };
    let f = only(&schema_anomalies(&p, &schema(vec![x]), None)).clone();
    assert_eq!(f.kind, FindingKind::FeatureTooFewPresent);
    assert!(f.explanation.contains("every row"), "{}", f.explanation);
}

#[test]
fn a_column_of_nulls_is_all_missing_unless_presence_asks_nothing() {
    let b = batch(vec![("x", ints(&[None, None, None]))]);
    let p = profile(&b);
    let mut x = feature("x", LogicalType::Int);
    x.presence.min_count = Some(1);
    x.range = Some(Bounds {
        min: Some(0.0),
        max: Some(1.0),
    });
    let f = only(&schema_anomalies(&p, &schema(vec![x.clone()]), None)).clone();
    assert_eq!(
        (f.kind, f.severity),
        (FindingKind::FeatureAllMissing, Severity::Error)
    );
    x.presence = Presence::default();
    assert!(schema_anomalies(&p, &schema(vec![x]), None).is_empty());
}

fn purpose_batch() -> RecordBatch {
    let mut values = vec![Some("car"); 90];
    values.extend(vec![Some("crypto"); 7]);
    values.extend(vec![Some("boat"); 3]);
    values.push(None);
    batch(vec![("purpose", strings(&values))])
}

#[test]
fn values_outside_a_string_domain_are_counted_exactly_with_the_top_ones() {
    let p = profile(&purpose_batch());
    let mut purpose = feature("purpose", LogicalType::String);
    purpose.domain = Some(Domain::Strings(vec!["car".into(), "house".into()]));
    let f = only(&schema_anomalies(&p, &schema(vec![purpose.clone()]), None)).clone();
    assert_eq!(
        (f.kind, f.severity),
        (FindingKind::OutOfDomain, Severity::Error)
    );
    assert_eq!(f.observed["count"], json!(10));
    assert_eq!(f.observed["fraction"], json!(0.1));
    assert_eq!(f.observed["distinct"], json!(2));
    assert_eq!(f.observed["approximate"], json!(false));
    assert_eq!(
        f.observed["top"],
        json!([{ "value": "crypto", "count": 7 }, { "value": "boat", "count": 3 }])
    );
    assert!(
        f.explanation.contains("\"crypto\" (7)"),
        "{}",
        f.explanation
    );

    // Within the allowance of min_domain_mass: a warning; beyond it: an error.
    purpose.min_domain_mass = Some(0.85);
    let f = only(&schema_anomalies(&p, &schema(vec![purpose.clone()]), None)).clone();
    assert_eq!(f.severity, Severity::Warning);
    purpose.min_domain_mass = Some(0.95);
    let f = only(&schema_anomalies(&p, &schema(vec![purpose]), None)).clone();
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn min_domain_mass_bounds_the_share_inside_the_domain_exactly() {
    // 2 of 20,000 values outside: exactly the 0.0001 that 0.9999 allows
    // (as a difference of doubles, 1 - 0.9999 is a hair below 0.0001).
    let mut values = vec![Some("a"); 19_998];
    values.extend([Some("x"), Some("y")]);
    let mut channel = feature("channel", LogicalType::String);
    channel.domain = Some(Domain::Strings(vec!["a".into()]));
    channel.min_domain_mass = Some(0.9999);
    let p = profile(&batch(vec![("channel", strings(&values))]));
    let f = only(&schema_anomalies(&p, &schema(vec![channel.clone()]), None)).clone();
    assert_eq!(
        (f.kind, f.severity),
        (FindingKind::OutOfDomain, Severity::Warning)
    );
    assert_eq!(
        f.expected,
        json!({ "domain_size": 1, "min_domain_mass": 0.9999, "max_fraction": 0.0001 })
    );
    assert!(
        f.explanation
            .contains("the schema allows 0.01% (min_domain_mass 0.9999)"),
        "{}",
        f.explanation
    );
    // One more outside: 0.99985 inside, below 0.9999.
    values[0] = Some("z");
    let p = profile(&batch(vec![("channel", strings(&values))]));
    let f = only(&schema_anomalies(&p, &schema(vec![channel]), None)).clone();
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn values_outside_an_int_domain_are_out_of_domain() {
    let b = batch(vec![(
        "term",
        ints(&[Some(12), Some(24), Some(18), Some(12)]),
    )]);
    let mut term = feature("term", LogicalType::Int);
    term.categorical = true;
    term.domain = Some(Domain::Ints(vec![12, 24, 36]));
    let f = only(&schema_anomalies(&profile(&b), &schema(vec![term]), None)).clone();
    assert_eq!(f.kind, FindingKind::OutOfDomain);
    assert_eq!(f.observed["top"], json!([{ "value": "18", "count": 1 }]));
    assert_eq!(f.observed["fraction"], json!(0.25));
}

#[test]
fn out_of_domain_past_the_exact_limit_is_approximate_and_a_lower_bound() {
    // 5,000 distinct values: the frequency state switches to sketches.
    let mut values: Vec<String> = (0..5000).map(|i| format!("v{i}")).collect();
    values.extend(std::iter::repeat_n("popular".to_string(), 20_000));
    let array: ArrayRef = Arc::new(StringArray::from_iter_values(values.iter()));
    let p = profile(&batch(vec![("s", array)]));
    let mut s = feature("s", LogicalType::String);
    s.domain = Some(Domain::Strings(vec!["v1".into(), "v2".into()]));
    let f = only(&schema_anomalies(&p, &schema(vec![s]), None)).clone();
    assert_eq!(f.kind, FindingKind::OutOfDomain);
    assert_eq!(f.observed["approximate"], json!(true));
    assert_eq!(f.observed["top"][0]["value"], json!("popular"));
    let count = f.observed["count"].as_u64().unwrap();
    // The frequent value plus the unlisted distinct tail (HLL-estimated:
    // 4,999 values outside the domain, about 1.6% relative error).
    assert!((24_700..=25_300).contains(&count), "{count}");
    assert!(f.explanation.contains("approximate"), "{}", f.explanation);
}

#[test]
fn strings_that_parse_as_the_schema_type_are_named_as_such() {
    let b = batch(vec![
        (
            "flag",
            strings(&[Some("true"), Some("False"), Some("true")]),
        ),
        ("n", strings(&[Some("12"), Some(" 24"), None])),
        ("x", strings(&[Some("1.5"), Some("n/a"), Some("2")])),
    ]);
    let s = schema(vec![
        feature("flag", LogicalType::Bool),
        feature("n", LogicalType::Int),
        feature("x", LogicalType::Float),
    ]);
    let findings = schema_anomalies(&profile(&b), &s, None);
    assert_eq!(
        summary(&findings),
        vec![
            (
                FindingKind::StringValuesAreBooleans,
                Severity::Error,
                "flag".into(),
                None
            ),
            (
                FindingKind::StringValuesAreNumbers,
                Severity::Error,
                "n".into(),
                None
            ),
            (
                FindingKind::UnexpectedType,
                Severity::Error,
                "x".into(),
                None
            ),
        ]
    );
    assert_eq!(
        findings[2].observed["top"],
        json!([{ "value": "n/a", "count": 1 }])
    );
    assert_eq!(findings[2].observed["unparsable_count"], json!(1));
}

#[test]
fn nan_and_infinities_are_reported_only_when_disallowed() {
    let b = batch(vec![(
        "x",
        floats(&[1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
    )]);
    let p = profile(&b);
    let mut x = feature("x", LogicalType::Float);
    // Unset means allowed, as in TFDV.
    assert!(schema_anomalies(&p, &schema(vec![x.clone()]), None).is_empty());
    x.allow_nan = Some(false);
    x.allow_inf = Some(false);
    let findings = schema_anomalies(&p, &schema(vec![x]), None);
    assert_eq!(
        summary(&findings),
        vec![
            (
                FindingKind::UnexpectedNan,
                Severity::Error,
                "x".into(),
                None
            ),
            (
                FindingKind::UnexpectedInfinity,
                Severity::Error,
                "x".into(),
                None
            ),
        ]
    );
    assert_eq!(
        findings[0].observed,
        json!({ "count": 1, "fraction": 0.25 })
    );
    assert_eq!(findings[1].observed["count"], json!(2));
}

#[test]
fn values_out_of_range_are_errors_past_the_tolerance_and_warnings_within() {
    let values: Vec<f64> = (0..=100).map(f64::from).collect();
    let p = profile(&batch(vec![("x", floats(&values))]));
    let mut x = feature("x", LogicalType::Float);
    // Width 98: the default tolerance (1%) allows values down to 0.52 and
    // up to 100.48, so 0 is an error and 100 a warning.
    x.range = Some(Bounds {
        min: Some(1.5),
        max: Some(99.5),
    });
    let findings = schema_anomalies(&p, &schema(vec![x.clone()]), None);
    assert_eq!(
        summary(&findings),
        vec![
            (
                FindingKind::ValueTooSmall,
                Severity::Error,
                "x".into(),
                None
            ),
            (
                FindingKind::ValueTooLarge,
                Severity::Warning,
                "x".into(),
                None
            ),
        ]
    );
    assert_eq!(findings[0].observed["min"], json!(0.0));
    assert_eq!(findings[0].observed["estimated_count"], json!(2));
    assert_eq!(findings[0].expected["limit"], json!(1.5 - 0.98));
    assert_eq!(findings[1].observed["estimated_count"], json!(1));
    assert_eq!(findings[1].expected["limit"], json!(99.5 + 0.98));
    assert!(
        findings[1].explanation.contains("within the tolerance"),
        "{}",
        findings[1].explanation
    );

    x.range = Some(Bounds {
        min: Some(0.0),
        max: Some(50.0),
    });
    x.range_tolerance = Some(0.0);
    let f = only(&schema_anomalies(&p, &schema(vec![x.clone()]), None)).clone();
    assert_eq!(
        (f.kind, f.severity),
        (FindingKind::ValueTooLarge, Severity::Error)
    );
    // About half the values are above 50 (the sketch is exact at this size).
    assert_eq!(f.observed["estimated_count"], json!(50));
    x.range_tolerance = Some(1.0);
    let f = only(&schema_anomalies(&p, &schema(vec![x]), None)).clone();
    assert_eq!(f.severity, Severity::Warning);
}

#[test]
fn the_range_width_falls_back_to_the_bounds_magnitude() {
    assert_eq!(values::range_width(Some(10.0), Some(30.0)), 20.0);
    assert_eq!(values::range_width(None, Some(-200.0)), 200.0);
    assert_eq!(values::range_width(Some(5.0), Some(5.0)), 5.0);
    assert_eq!(values::range_width(Some(0.0), None), 1.0);
}

#[test]
fn list_value_counts_out_of_bounds() {
    let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1)]),
        Some(vec![]),
        Some(vec![Some(1), Some(2), Some(3), Some(4)]),
        None,
    ]);
    let p = profile(&batch(vec![("l", Arc::new(lists) as ArrayRef)]));
    let mut l = feature("l", LogicalType::List);
    l.value_count = Some(Bounds {
        min: Some(1),
        max: Some(3),
    });
    let findings = schema_anomalies(&p, &schema(vec![l]), None);
    assert_eq!(
        summary(&findings),
        vec![
            (
                FindingKind::ValueCountTooSmall,
                Severity::Error,
                "l".into(),
                None
            ),
            (
                FindingKind::ValueCountTooLarge,
                Severity::Error,
                "l".into(),
                None
            ),
        ]
    );
    assert_eq!(findings[0].observed["min"], json!(0));
    assert_eq!(findings[0].observed["estimated_count"], json!(1));
    assert_eq!(findings[1].observed["max"], json!(4));
}

#[test]
fn row_counts_out_of_bounds() {
    let p = profile(&batch(vec![("x", ints(&[Some(1), Some(2)]))]));
    let mut s = schema(vec![feature("x", LogicalType::Int)]);
    s.dataset.min_rows = Some(3);
    let f = only(&schema_anomalies(&p, &s, None)).clone();
    assert_eq!(
        (f.kind, f.feature.as_deref()),
        (FindingKind::TooFewRows, None)
    );
    s.dataset = crate::schema::Dataset {
        min_rows: None,
        max_rows: Some(1),
    };
    assert_eq!(
        only(&schema_anomalies(&p, &s, None)).kind,
        FindingKind::TooManyRows
    );
    s.dataset.max_rows = Some(2);
    assert!(schema_anomalies(&p, &s, None).is_empty());
}

#[test]
fn distinct_counts_out_of_bounds() {
    let b = batch(vec![
        ("s", strings(&[Some("a"), Some("b"), Some("c"), Some("a")])),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![true, true, true, true])) as ArrayRef,
        ),
    ]);
    let p = profile(&b);
    let mut s = feature("s", LogicalType::String);
    s.distinct = Some(Bounds {
        min: None,
        max: Some(2),
    });
    let mut flag = feature("flag", LogicalType::Bool);
    flag.distinct = Some(Bounds {
        min: Some(2),
        max: None,
    });
    let findings = schema_anomalies(&p, &schema(vec![s, flag]), None);
    assert_eq!(
        summary(&findings),
        vec![
            (
                FindingKind::TooManyDistinctValues,
                Severity::Error,
                "s".into(),
                None
            ),
            (
                FindingKind::TooFewDistinctValues,
                Severity::Error,
                "flag".into(),
                None
            ),
        ]
    );
    assert_eq!(
        findings[0].observed,
        json!({ "distinct": 3, "approximate": false })
    );
}

#[test]
fn slices_get_per_value_checks_but_not_their_own_key_or_size_checks() {
    let b = batch(vec![
        (
            "sex",
            strings(&[Some("F"), Some("F"), Some("M"), Some("M"), None]),
        ),
        (
            "purpose",
            strings(&[
                Some("car"),
                Some("car"),
                Some("car"),
                Some("crypto"),
                Some("car"),
            ]),
        ),
        ("age", ints(&[Some(30), Some(40), None, None, Some(50)])),
    ]);
    let p = profile_sliced(&b, &[&["sex"]]);
    let mut sex = feature("sex", LogicalType::String);
    sex.domain = Some(Domain::Strings(vec!["F".into(), "M".into()]));
    sex.presence.min_fraction = Some(0.5);
    let mut purpose = feature("purpose", LogicalType::String);
    purpose.domain = Some(Domain::Strings(vec!["car".into()]));
    let mut age = feature("age", LogicalType::Int);
    age.presence.min_fraction = Some(0.5);
    // Size-dependent: checked on the whole dataset (3 values) only.
    age.presence.min_count = Some(2);
    age.distinct = Some(Bounds {
        min: Some(2),
        max: None,
    });
    let findings = schema_anomalies(&p, &schema(vec![sex, purpose, age]), None);
    assert_eq!(
        summary(&findings),
        vec![
            (
                FindingKind::OutOfDomain,
                Severity::Error,
                "purpose".into(),
                None
            ),
            // sex=M: no age at all (demanded), and the crypto row.
            (
                FindingKind::OutOfDomain,
                Severity::Error,
                "purpose".into(),
                Some("sex=M".into())
            ),
            (
                FindingKind::FeatureAllMissing,
                Severity::Error,
                "age".into(),
                Some("sex=M".into())
            ),
        ],
        "{findings:#?}"
    );
}

#[test]
fn helpers_filter_slices_and_check_environments() {
    let mut s = schema(vec![
        feature("a", LogicalType::Int),
        feature("b", LogicalType::Int),
    ]);
    s.slices = vec![vec!["a".into()], vec!["a".into(), "b".into()]];
    assert_eq!(applicable_slices(&s, &["a"]), vec![vec!["a".to_string()]]);
    assert!(check_environment(&s, "anything").is_ok());
    s.environments = vec![TRAINING.into(), SERVING.into()];
    assert!(check_environment(&s, SERVING).is_ok());
    let err = check_environment(&s, "servng").unwrap_err();
    assert!(err.contains("`training`, `serving`"), "{err}");
    assert!(has_errors(&[Finding {
        kind: FindingKind::NewColumn,
        severity: Severity::Error,
        feature: None,
        slice: None,
        observed: Value::Null,
        expected: Value::Null,
        explanation: String::new(),
    }]));
    assert!(!has_errors(&[]));
}

#[test]
fn numbers_read_well() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(1234567), "1,234,567");
    assert_eq!(percent(0.2), "20%");
    assert_eq!(percent(0.0035), "0.35%");
    assert_eq!(percent(0.00001), "<0.01%");
    assert_eq!(percent(0.0), "0%");
    assert_eq!(number(12.0), "12");
    assert_eq!(number(0.125), "0.125");
    assert_eq!(number(2.5e7 + 0.5), "2.5000e7");
}
