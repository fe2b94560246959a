//! Schema inference, writing, parsing and validation.

use assay::profile::ValueCount;
use assay::schema::*;
use proptest::prelude::*;

// ---------- helpers ----------

fn top(values: &[(&str, u64)]) -> Vec<ValueCount> {
    values
        .iter()
        .map(|(v, n)| ValueCount {
            value: v.to_string(),
            count: *n,
        })
        .collect()
}

/// A string or int column whose every value the profile lists exactly.
fn listed(name: &str, ty: LogicalType, values: &[(&str, u64)], nulls: u64) -> ColumnSummary {
    let count = values.iter().map(|(_, n)| n).sum();
    let mut c = ColumnSummary::new(name, ty, count, nulls);
    c.distinct = Some(values.len() as f64);
    c.distinct_exact = true;
    c.top = top(values);
    c.top_exact = true;
    c
}

fn numeric(
    name: &str,
    ty: LogicalType,
    count: u64,
    nulls: u64,
    min: f64,
    max: f64,
) -> ColumnSummary {
    let mut c = ColumnSummary::new(name, ty, count, nulls);
    c.min = Some(min);
    c.max = Some(max);
    c
}

fn infer_one(rows: u64, column: ColumnSummary, options: &InferOptions) -> (Schema, FeatureSchema) {
    let inferred = infer_from_summaries(rows, &[column], &[], options);
    let feature = inferred.schema.features[0].clone();
    (inferred.schema, feature)
}

fn diagnostics(result: Result<Schema, SchemaError>) -> Vec<Diagnostic> {
    match result {
        Err(SchemaError::Invalid { diagnostics }) => diagnostics,
        Err(other) => panic!("expected located diagnostics, got {other}"),
        Ok(schema) => panic!("expected errors, parsed {schema:?}"),
    }
}

/// 1-based line and column of the `nth` (0-based) occurrence of `needle`,
/// found independently of the parser.
fn position_of(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .map(|(i, _)| i)
        .expect("needle in fixture");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

fn at(d: &Diagnostic) -> (usize, usize) {
    (d.line.expect("a line"), d.column.expect("a column"))
}

// ---------- inference ----------

#[test]
fn small_string_domains_are_categorical_and_sorted() {
    let column = listed(
        "status",
        LogicalType::String,
        &[("employed", 70), ("unemployed", 20), ("retired", 10)],
        0,
    );
    let inferred = infer_from_summaries(100, &[column], &[], &InferOptions::default());
    let f = &inferred.schema.features[0];
    assert_eq!(
        f.domain,
        Some(Domain::Strings(vec![
            "employed".into(),
            "retired".into(),
            "unemployed".into()
        ]))
    );
    assert!(
        !f.categorical,
        "`categorical` is for ints; string categoricals have a domain"
    );
    assert_eq!(
        inferred.notes.features["status"].domain_values["retired"],
        "10 rows"
    );
}

#[test]
fn high_cardinality_unique_or_incomplete_strings_are_free_text() {
    let options = InferOptions::default();
    // More distinct values than the domain cap.
    let many: Vec<(String, u64)> = (0..150).map(|i| (format!("v{i}"), 10)).collect();
    let many: Vec<(&str, u64)> = many.iter().map(|(v, n)| (v.as_str(), *n)).collect();
    let (_, f) = infer_one(
        1500,
        listed("title", LogicalType::String, &many, 0),
        &options,
    );
    assert_eq!(f.domain, None);

    // Few distinct values, but mostly unique: 3 distinct in 4 values.
    let (_, f) = infer_one(
        4,
        listed(
            "name",
            LogicalType::String,
            &[("a", 2), ("b", 1), ("c", 1)],
            0,
        ),
        &options,
    );
    assert_eq!(f.domain, None);

    // Estimated distinct count.
    let mut estimated = listed("city", LogicalType::String, &[("x", 50), ("y", 50)], 0);
    estimated.distinct_exact = false;
    let (_, f) = infer_one(100, estimated, &options);
    assert_eq!(f.domain, None);

    // The profile lists only some values: a domain would reject the rest.
    let mut partial = listed("code", LogicalType::String, &[("x", 50), ("y", 40)], 0);
    partial.distinct = Some(3.0);
    let inferred = infer_from_summaries(100, &[partial], &[], &options);
    assert_eq!(inferred.schema.features[0].domain, None);
    let why = inferred.notes.features["code"].lines.join("\n");
    assert!(why.contains("lists 2 of its 3 values"), "{why}");
}

#[test]
fn domain_limits_follow_the_options() {
    let column = listed(
        "grade",
        LogicalType::String,
        &[("a", 40), ("b", 30), ("c", 30)],
        0,
    );
    let tight = InferOptions {
        max_domain_size: 2,
        ..InferOptions::default()
    };
    assert_eq!(infer_one(100, column.clone(), &tight).1.domain, None);
    assert!(
        infer_one(100, column, &InferOptions::default())
            .1
            .domain
            .is_some()
    );
}

#[test]
fn few_valued_ints_are_categorical_with_int_domains() {
    // Every value seen at least 30 times: established categories.
    let column = listed(
        "rating",
        LogicalType::Int,
        &[("10", 30), ("2", 50), ("1", 45)],
        0,
    );
    let (schema, f) = infer_one(
        125,
        column,
        &InferOptions {
            ranges: true,
            ..InferOptions::default()
        },
    );
    assert!(f.categorical);
    assert_eq!(
        f.domain,
        Some(Domain::Ints(vec![1, 2, 10])),
        "sorted as numbers"
    );
    // ln(100) / 125 = 0.037 -> 0.04 may be values never seen in 125 rows.
    assert_eq!(f.min_domain_mass, Some(0.96));
    assert_eq!(f.range, None, "a categorical int is bounded by its domain");
    assert!(validate(&schema).is_empty());

    let many: Vec<(String, u64)> = (0..30).map(|i| (i.to_string(), 10)).collect();
    let many: Vec<(&str, u64)> = many.iter().map(|(v, n)| (v.as_str(), *n)).collect();
    let (_, f) = infer_one(
        300,
        listed("accounts", LogicalType::Int, &many, 0),
        &InferOptions::default(),
    );
    assert!(!f.categorical);
    assert_eq!(f.domain, None);
}

#[test]
fn ints_with_rare_values_are_counts_unless_declared_categorical() {
    // A value seen 5 times: the column tails off like a count.
    let rating = listed(
        "rating",
        LogicalType::Int,
        &[("10", 5), ("2", 50), ("1", 45)],
        0,
    );
    let inferred = infer_from_summaries(
        100,
        std::slice::from_ref(&rating),
        &[],
        &InferOptions::default(),
    );
    let f = &inferred.schema.features[0];
    assert!(!f.categorical);
    assert_eq!((&f.domain, f.min_domain_mass), (&None, None));
    let why = inferred.notes.features["rating"].lines.join(" ");
    assert!(
        why.contains("numeric, not categorical: 1 of its 3 values seen fewer than 30 times"),
        "{why}"
    );

    // Declared categorical: a domain, with the long-tail allowance (no value
    // seen once, so the 1% floor).
    let declared = InferOptions {
        categorical: vec!["rating".to_string()],
        ..InferOptions::default()
    };
    let (schema, f) = infer_one(100, rating, &declared);
    assert!(f.categorical);
    assert_eq!(f.domain, Some(Domain::Ints(vec![1, 2, 10])));
    assert_eq!(f.min_domain_mass, Some(0.99));
    assert!(validate(&schema).is_empty());
}

#[test]
fn ids_get_neither_domain_nor_range() {
    let options = InferOptions {
        ranges: true,
        ..InferOptions::default()
    };
    let mut id = listed("customer", LogicalType::Int, &[("1", 1), ("2", 1)], 0);
    id.role = ColumnRole::Id;
    id.min = Some(1.0);
    id.max = Some(2.0);
    let (_, f) = infer_one(2, id, &options);
    assert_eq!(
        (f.role, f.domain, f.range, f.categorical),
        (ColumnRole::Id, None, None, false)
    );

    let mut text_id = listed("application", LogicalType::String, &[("a", 1), ("b", 1)], 0);
    text_id.role = ColumnRole::Id;
    let (_, f) = infer_one(2, text_id, &options);
    assert_eq!((f.role, f.domain), (ColumnRole::Id, None));
}

#[test]
fn labels_are_expected_in_training_only() {
    let mut label = listed("label", LogicalType::Int, &[("0", 80), ("1", 20)], 0);
    label.role = ColumnRole::Label;
    let feature = numeric("income", LogicalType::Float, 100, 0, 1.0, 2.0);
    let schema = infer_from_summaries(100, &[label, feature], &[], &InferOptions::default()).schema;
    assert_eq!(schema.environments, ["training", "serving"]);
    assert_eq!(schema.default_environments, ["training", "serving"]);
    let label = schema.feature("label").unwrap();
    let income = schema.feature("income").unwrap();
    assert_eq!(label.environments.not_in, ["serving"]);
    assert!(schema.expects(label, Some("training")));
    assert!(!schema.expects(label, Some("serving")));
    assert!(schema.expects(income, Some("serving")));
    assert!(schema.expects(income, None));
    assert!(
        !schema.expects(label, None),
        "restricted features need an environment to be checked"
    );
}

#[test]
fn presence_is_required_without_nulls_else_a_slackened_fraction() {
    let options = InferOptions::default();
    let (_, f) = infer_one(
        100,
        numeric("a", LogicalType::Float, 100, 0, 0.0, 1.0),
        &options,
    );
    assert_eq!(
        f.presence,
        Presence {
            required: true,
            min_fraction: None,
            min_count: Some(1)
        }
    );

    // 0.5 observed, less 10% of itself = 0.45.
    let (_, f) = infer_one(
        100,
        numeric("b", LogicalType::Float, 50, 50, 0.0, 1.0),
        &options,
    );
    assert_eq!(
        f.presence,
        Presence {
            required: false,
            min_fraction: Some(0.45),
            min_count: Some(1)
        }
    );

    // Rounded down: 0.777 * 0.9 = 0.6993 -> 0.69.
    let (_, f) = infer_one(
        1000,
        numeric("c", LogicalType::Float, 777, 223, 0.0, 1.0),
        &options,
    );
    assert_eq!(f.presence.min_fraction, Some(0.69));

    let (_, f) = infer_one(
        100,
        ColumnSummary::new("empty", LogicalType::String, 0, 100),
        &options,
    );
    assert_eq!(
        f.presence,
        Presence::default(),
        "nothing to expect of a column never seen"
    );
}

#[test]
fn ranges_only_on_request_widened_and_rounded_outward() {
    let age = numeric("age", LogicalType::Int, 100, 0, 18.0, 90.0);
    assert_eq!(
        infer_one(100, age.clone(), &InferOptions::default())
            .1
            .range,
        None
    );

    let options = InferOptions {
        ranges: true,
        ..InferOptions::default()
    };
    // span 72, margin 7.2: [10.8, 97.2] -> integers outward.
    let (_, f) = infer_one(100, age, &options);
    assert_eq!(
        f.range,
        Some(Bounds {
            min: Some(10.0),
            max: Some(98.0)
        })
    );

    // Never negative: the lower bound stays at 0; 1.1 is not pushed to 1.11.
    let (_, f) = infer_one(
        100,
        numeric("score", LogicalType::Float, 100, 0, 0.0, 1.0),
        &options,
    );
    assert_eq!(
        f.range,
        Some(Bounds {
            min: Some(0.0),
            max: Some(1.1)
        })
    );

    // Rounded to three significant digits of the span: [-12.3456, 7.891] has
    // span 20.24, margin 2.02: [-14.37, 9.91] on a 0.1 grid.
    let (_, f) = infer_one(
        100,
        numeric("delta", LogicalType::Float, 100, 0, -12.3456, 7.891),
        &options,
    );
    assert_eq!(
        f.range,
        Some(Bounds {
            min: Some(-14.4),
            max: Some(10.0)
        })
    );

    let no_margin = InferOptions {
        ranges: true,
        range_margin: 0.0,
        ..InferOptions::default()
    };
    let (_, f) = infer_one(
        100,
        numeric("n", LogicalType::Int, 100, 0, 3.0, 7.0),
        &no_margin,
    );
    assert_eq!(
        f.range,
        Some(Bounds {
            min: Some(3.0),
            max: Some(7.0)
        })
    );
}

#[test]
fn floats_record_whether_nan_and_infinity_were_seen() {
    let mut c = numeric("x", LogicalType::Float, 100, 0, 0.0, 1.0);
    c.nan_count = 3;
    let (_, f) = infer_one(100, c, &InferOptions::default());
    assert_eq!((f.allow_nan, f.allow_inf), (Some(true), Some(false)));
}

#[test]
fn lists_get_value_counts_when_never_empty() {
    use assay::profile::LengthStats;
    let mut fixed = ColumnSummary::new("embedding", LogicalType::List, 10, 0);
    fixed.value_count = Some(LengthStats {
        min: 8,
        mean: 8.0,
        max: 8,
    });
    let mut ragged = ColumnSummary::new("tags", LogicalType::List, 10, 0);
    ragged.value_count = Some(LengthStats {
        min: 1,
        mean: 2.5,
        max: 6,
    });
    let mut sometimes_empty = ColumnSummary::new("links", LogicalType::List, 10, 0);
    sometimes_empty.value_count = Some(LengthStats {
        min: 0,
        mean: 1.0,
        max: 3,
    });
    let schema = infer_from_summaries(
        10,
        &[fixed, ragged, sometimes_empty],
        &[],
        &InferOptions::default(),
    )
    .schema;
    let counts: Vec<_> = schema
        .features
        .iter()
        .map(|f| f.value_count.clone())
        .collect();
    assert_eq!(
        counts,
        [
            Some(Bounds {
                min: Some(1),
                max: Some(8)
            }),
            Some(Bounds {
                min: Some(1),
                max: None
            }),
            None
        ]
    );
}

#[test]
fn inferred_schemas_carry_slices_empty_comparators_and_validate() {
    let columns = vec![
        listed("sex", LogicalType::String, &[("F", 50), ("M", 50)], 0),
        numeric("income", LogicalType::Float, 90, 10, 1.0, 1e6),
    ];
    let slices = vec![vec!["sex".to_string()]];
    let schema = infer_from_summaries(100, &columns, &slices, &InferOptions::default()).schema;
    assert_eq!(schema.slices, slices);
    assert_eq!(
        schema
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["sex", "income"]
    );
    for f in &schema.features {
        assert_eq!(
            (&f.skew, &f.drift),
            (&Some(Comparator::default()), &Some(Comparator::default()))
        );
    }
    assert_eq!(validate(&schema), []);
}

// ---------- writing and round trips ----------

fn example_inferred() -> Inferred {
    let mut label = listed("label", LogicalType::Int, &[("0", 80), ("1", 20)], 0);
    label.role = ColumnRole::Label;
    let mut id = ColumnSummary::new("application id", LogicalType::String, 100, 0);
    id.role = ColumnRole::Id;
    let columns = vec![
        id,
        numeric("age", LogicalType::Int, 100, 0, 18.0, 90.0),
        numeric("income", LogicalType::Float, 97, 3, 1200.5, 250_000.0),
        listed(
            "state \"US\"",
            LogicalType::String,
            &[("NY", 60), ("CA", 40)],
            0,
        ),
        label,
    ];
    let options = InferOptions {
        ranges: true,
        ..InferOptions::default()
    };
    infer_from_summaries(100, &columns, &[vec!["state \"US\"".to_string()]], &options)
}

#[test]
fn inferred_schema_round_trips_with_and_without_notes() {
    let inferred = example_inferred();
    let annotated = to_toml_string_with_notes(&inferred.schema, &inferred.notes);
    assert_eq!(
        parse(&annotated, "annotated.toml").unwrap(),
        inferred.schema
    );
    let plain = to_toml_string(&inferred.schema);
    assert_eq!(parse(&plain, "plain.toml").unwrap(), inferred.schema);
}

#[test]
fn written_schema_explains_itself() {
    let inferred = example_inferred();
    let text = to_toml_string_with_notes(&inferred.schema, &inferred.notes);
    assert!(text.starts_with("# assay schema"), "{text}");
    assert!(
        text.contains("# observed: 97 non-null of 100 rows (97.00%)"),
        "{text}"
    );
    assert!(text.contains("[features.\"application id\"]"), "{text}");
    assert!(
        text.contains("[features.\"state \\\"US\\\"\".drift]"),
        "{text}"
    );
    assert!(text.contains("\"NY\",  # 60 rows"), "{text}");
    assert!(
        text.contains("environments = { not_in = [\"serving\"] }"),
        "{text}"
    );
    assert!(
        text.contains("range = { min = 10, max = 98 }"),
        "int ranges read as integers: {text}"
    );
    assert!(
        text.contains("free text") || text.contains("id column: no domain"),
        "{text}"
    );
    // Every line is a comment, blank, or TOML that the parser accepted above.
    assert!(
        text.lines()
            .all(|l| !l.starts_with(' ') || l.starts_with("    "))
    );
}

#[test]
fn sections_may_be_written_as_tables_or_inline() {
    let inline = "format = \"assay.schema/1\"\n[features.a]\ntype = \"int\"\npresence = { required = true }\n";
    let tables = "format = \"assay.schema/1\"\n[features.a]\ntype = \"int\"\n[features.a.presence]\nrequired = true\n";
    assert_eq!(
        parse(inline, "inline").unwrap(),
        parse(tables, "tables").unwrap()
    );
}

#[test]
fn feature_order_is_the_files_not_alphabetical() {
    let text = "format = \"assay.schema/1\"\n\
                [features.zeta]\ntype = \"int\"\n\
                [features.alpha]\ntype = \"float\"\n\
                [features.\"mid.dle\"]\ntype = \"bool\"\n";
    let schema = parse(text, "order.toml").unwrap();
    let names: Vec<&str> = schema.features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid.dle"]);
}

#[test]
fn extreme_floats_round_trip() {
    let mut schema = Schema::new();
    for (i, (lo, hi)) in [
        (1e-300, 1e300),
        (-0.0, 5e-324),
        (f64::MIN, f64::MAX),
        (0.1, 0.30000000000000004),
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = FeatureSchema::new(format!("f{i}"), LogicalType::Float, ColumnRole::Feature);
        f.range = Some(Bounds {
            min: Some(lo),
            max: Some(hi),
        });
        schema.features.push(f);
    }
    let text = to_toml_string(&schema);
    let back = parse(&text, "floats.toml").unwrap();
    for (a, b) in schema.features.iter().zip(&back.features) {
        let (a, b) = (a.range.as_ref().unwrap(), b.range.as_ref().unwrap());
        assert_eq!(a.min.map(f64::to_bits), b.min.map(f64::to_bits), "{text}");
        assert_eq!(a.max.map(f64::to_bits), b.max.map(f64::to_bits), "{text}");
    }
}

#[test]
fn serde_serialization_uses_the_file_keys_and_order() {
    // The serde path (JSON output, toml's own serializer) must name keys as
    // the file does: toml's serializer output parses back to the same schema.
    let schema = example_inferred().schema;
    let text = toml::to_string(&schema).unwrap();
    assert_eq!(parse(&text, "serde.toml").unwrap(), schema, "{text}");

    let json = serde_json::to_string(&schema).unwrap();
    // Look after `"features":`, since slices name features too.
    let features = &json[json.find(r#""features":"#).unwrap()..];
    let positions: Vec<usize> = schema
        .features
        .iter()
        .map(|f| {
            features
                .find(&serde_json::to_string(&f.name).unwrap())
                .unwrap()
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "features in schema order: {json}"
    );
    assert!(
        json.contains(r#""environments":{"not_in":["serving"]}"#),
        "{json}"
    );
}

/// Any string: unicode, quotes, backslashes, control characters, dots.
fn awkward() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z.\"' \\\\\n\t\u{7f}\u{1}é中😀-]{0,12}",
        Just("a.b".to_string()),
        Just("\"".to_string()),
        Just("'''".to_string()),
    ]
}

fn feature_strategy() -> impl Strategy<Value = FeatureSchema> {
    let comparator = proptest::option::of((
        proptest::option::of(prop::sample::select(vec![
            // Methods that suit every generated type (string, int, float, bool).
            DriftMethod::KlDiv,
            DriftMethod::Psi,
            DriftMethod::JensenShannon,
            DriftMethod::Hellinger,
        ])),
        proptest::option::of(0.0..10.0f64),
        proptest::option::of(0..=i64::MAX as u64),
    ))
    .prop_map(|c| {
        c.map(|(method, threshold, min_samples)| Comparator {
            method,
            threshold,
            min_samples,
        })
    });
    let presence = (
        any::<bool>(),
        proptest::option::of(0.0..=1.0f64),
        proptest::option::of(0..=i64::MAX as u64),
    )
        .prop_map(|(required, min_fraction, min_count)| Presence {
            required,
            // required = true with a fraction below 1 is a contradiction.
            min_fraction: if required { None } else { min_fraction },
            min_count,
        });
    let kind = prop_oneof![
        proptest::collection::btree_set(awkward(), 1..6).prop_map(|d| (
            LogicalType::String,
            false,
            Some(Domain::Strings(d.into_iter().collect())),
            None
        )),
        proptest::collection::btree_set(any::<i64>(), 1..6).prop_map(|d| (
            LogicalType::Int,
            true,
            Some(Domain::Ints(d.into_iter().collect())),
            None
        )),
        (
            any::<f64>().prop_filter("finite", |v| v.is_finite()),
            0.0..1e12f64
        )
            .prop_map(|(lo, width)| (
                LogicalType::Float,
                false,
                None,
                Some(Bounds {
                    min: Some(lo),
                    max: Some(lo + width)
                })
            )),
        Just((LogicalType::Bool, false, None, None)),
    ];
    (
        awkward().prop_filter("non-empty", |s| !s.is_empty()),
        kind,
        presence,
        prop::sample::select(vec![
            ColumnRole::Feature,
            ColumnRole::Label,
            ColumnRole::Prediction,
        ]),
        comparator.clone(),
        comparator,
        any::<bool>(),
    )
        .prop_map(
            |(
                name,
                (ty, categorical, domain, range),
                presence,
                role,
                skew,
                drift,
                serving_only,
            )| {
                let mut f = FeatureSchema::new(name, ty, role);
                f.categorical = categorical;
                f.domain = domain;
                f.range = range.filter(|r: &Bounds<f64>| r.max.is_some_and(f64::is_finite));
                f.presence = presence;
                f.skew = skew;
                f.drift = drift;
                if serving_only {
                    f.environments.in_ = vec!["serving".into()];
                }
                if ty == LogicalType::Float {
                    f.allow_nan = Some(categorical);
                }
                f
            },
        )
}

fn schema_strategy() -> impl Strategy<Value = Schema> {
    (
        proptest::collection::vec(feature_strategy(), 0..6),
        proptest::option::of(0..1000u64),
        proptest::option::of(proptest::option::of(0.0..=1.0f64)),
    )
        .prop_map(|(features, min_rows, drift_share)| {
            let mut schema = Schema::new();
            schema.environments = vec!["training".into(), "serving".into(), "odd \"env\"\n".into()];
            schema.default_environments = vec!["training".into()];
            schema.dataset.min_rows = min_rows;
            schema.drift = drift_share.map(|s| DatasetComparator {
                min_samples: None,
                max_drifted_share: s,
                min_effect: s.map(|s| s / 2.0),
                correction: s.map(|s| {
                    if s > 0.5 {
                        Correction::None
                    } else {
                        Correction::BenjaminiHochberg
                    }
                }),
            });
            let mut seen = std::collections::BTreeSet::new();
            schema.features = features
                .into_iter()
                .filter(|f| seen.insert(f.name.clone()))
                .collect();
            if let Some(first) = schema.features.first() {
                schema.slices = vec![vec![first.name.clone()]];
            }
            schema
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_valid_schema_round_trips(schema in schema_strategy()) {
        prop_assert_eq!(validate(&schema), vec![]);
        let text = to_toml_string(&schema);
        let back = parse(&text, "prop.toml");
        prop_assert!(back.is_ok(), "{}\n---\n{}", back.unwrap_err(), text);
        prop_assert_eq!(back.unwrap(), schema);
    }

    #[test]
    fn notes_never_change_the_meaning(schema in schema_strategy(), note in any::<String>()) {
        let mut notes = Notes { header: vec![note.clone()], ..Notes::default() };
        for f in &schema.features {
            let mut feature_notes = FeatureNotes { lines: vec![note.clone(), f.name.clone()], ..FeatureNotes::default() };
            if let Some(Domain::Strings(values)) = &f.domain {
                for v in values {
                    feature_notes.domain_values.insert(v.clone(), note.clone());
                }
            }
            notes.features.insert(f.name.clone(), feature_notes);
        }
        let text = to_toml_string_with_notes(&schema, &notes);
        let back = parse(&text, "notes.toml");
        prop_assert!(back.is_ok(), "{}\n---\n{}", back.unwrap_err(), text);
        prop_assert_eq!(back.unwrap(), schema);
    }
}

// ---------- parse errors ----------

#[test]
fn an_unknown_key_is_reported_with_line_and_column() {
    let text =
        "format = \"assay.schema/1\"\n\n[features.age]\ntype = \"int\"\n  colour = \"red\"\n";
    let d = diagnostics(parse(text, "s.toml"));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].kind, DiagnosticKind::Type);
    assert_eq!(at(&d[0]), (5, 3));
    assert!(
        d[0].message.contains("unknown field `colour`"),
        "{}",
        d[0].message
    );
    assert!(d[0].to_string().starts_with("s.toml:5:3: "), "{}", d[0]);
}

#[test]
fn type_errors_in_several_places_are_reported_together_in_file_order() {
    let path = "tests/fixtures/schema/bad_keys.toml";
    let text = std::fs::read_to_string(path).unwrap();
    let d = diagnostics(load(std::path::Path::new(path)));
    let found: Vec<((usize, usize), DiagnosticKind)> = d.iter().map(|d| (at(d), d.kind)).collect();
    let expected = vec![
        (position_of(&text, "enviroments", 0), DiagnosticKind::Type),
        (position_of(&text, "presense", 0), DiagnosticKind::Type),
        (position_of(&text, "\"strng\"", 0), DiagnosticKind::Type),
        (position_of(&text, "\"most\"", 0), DiagnosticKind::Type),
    ];
    assert_eq!(found, expected, "{d:#?}");
    assert!(d[0].message.contains("enviroments"), "{}", d[0].message);
    assert!(
        d[2].message.contains("strng") && d[2].message.contains("string"),
        "{}",
        d[2].message
    );
    assert!(d.iter().all(|d| d.file == path));
}

#[test]
fn every_rule_violation_is_reported_at_once_with_positions() {
    let path = "tests/fixtures/schema/bad_rules.toml";
    let text = std::fs::read_to_string(path).unwrap();
    let err = load(std::path::Path::new(path)).unwrap_err();
    let rendered = err.to_string();
    let d = diagnostics(Err(err));
    let expected = [
        (
            position_of(&text, "dataset", 0),
            "min_rows (500) is greater than max_rows (100)",
        ),
        (
            position_of(&text, "1.5", 0),
            "features.age.presence.min_fraction: must be between 0 and 1",
        ),
        (
            position_of(&text, "range", 0),
            "features.age.range: min (90) is greater than max (18)",
        ),
        (
            position_of(&text, "\"employed\"", 1),
            "features.status.domain[2]: domain value \"employed\" listed twice",
        ),
        (
            position_of(&text, "\"staging\"", 0),
            "features.status.environments.in[0]: unknown environment \"staging\"",
        ),
        (
            position_of(&text, "[\"high\"", 0),
            "features.score.domain: a float feature cannot have a domain",
        ),
        (
            position_of(&text, "5.0", 0),
            "features.score.drift.threshold: `ks` is a statistical test",
        ),
    ];
    assert_eq!(d.len(), expected.len(), "{rendered}");
    for (d, (position, message)) in d.iter().zip(expected) {
        assert_eq!(d.kind, DiagnosticKind::Rule);
        assert_eq!(at(d), position, "{d}");
        assert!(d.message.contains(message), "{d}\nwanted: {message}");
    }
    // Display: one `file:line:col: message` per line.
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines.len(), expected.len());
    let (line, column) = position_of(&text, "1.5", 0);
    assert!(
        lines[1].starts_with(&format!("{path}:{line}:{column}: features.age")),
        "{rendered}"
    );
}

#[test]
fn syntax_errors_are_located() {
    let path = "tests/fixtures/schema/bad_syntax.toml";
    let d = diagnostics(load(std::path::Path::new(path)));
    assert!(!d.is_empty());
    assert!(d.iter().all(|d| d.kind == DiagnosticKind::Syntax));
    assert_eq!(d[0].line, Some(3), "{d:?}");
}

#[test]
fn a_missing_file_says_which() {
    let err = load(std::path::Path::new("tests/fixtures/schema/nope.toml")).unwrap_err();
    assert!(matches!(err, SchemaError::Read { .. }));
    assert!(err.to_string().contains("nope.toml"), "{err}");
}

#[test]
fn format_is_required_and_checked() {
    let d = diagnostics(parse("[features.a]\ntype = \"int\"\n", "f.toml"));
    assert!(d[0].message.contains("missing field `format`"), "{d:?}");
    let d = diagnostics(parse("format = \"assay.schema/2\"\n", "f.toml"));
    assert_eq!(at(&d[0]), (1, 10));
    assert!(d[0].message.contains("unsupported schema format"), "{d:?}");
}

#[test]
fn domains_must_not_mix_strings_and_integers() {
    let text =
        "format = \"assay.schema/1\"\n[features.a]\ntype = \"string\"\ndomain = [\"x\", 2]\n";
    let d = diagnostics(parse(text, "d.toml"));
    assert_eq!(d[0].kind, DiagnosticKind::Type);
    assert_eq!(d[0].line, Some(4));
    assert!(
        d[0].message.contains("mixes strings and integers"),
        "{}",
        d[0].message
    );
}

#[test]
fn rules_on_methods_environments_and_slices() {
    let text = r#"format = "assay.schema/1"
environments = ["training"]
default_environments = ["serving"]
slices = [["nope"], []]

[features.amount]
type = "float"
categorical = true
allow_nan = false
environments = { in = ["training"], not_in = ["training"] }
[features.amount.skew]
method = "chisquare"

[features.flag]
type = "bool"
allow_inf = true
value_count = { min = 1 }
[features.flag.drift]
method = "wasserstein"
threshold = -1.0
"#;
    let d = diagnostics(parse(text, "r.toml"));
    let messages: Vec<String> = d.iter().map(|d| d.message.clone()).collect();
    let wanted = [
        "default_environments[0]: unknown environment \"serving\"",
        "slices[0][0]: slice column \"nope\" is not a feature",
        "slices[1]: a slice needs at least one column",
        "features.amount.categorical: `categorical` is for int features",
        "features.amount.environments: set either `in` or `not_in`",
        "features.amount.skew.method: `chisquare` compares categories",
        "features.flag.allow_inf: `allow_inf` is only for float features",
        "features.flag.value_count: `value_count` is only for list features",
        "features.flag.drift.threshold: a threshold cannot be negative",
        "features.flag.drift.method: `wasserstein` compares numeric distributions",
    ];
    assert_eq!(messages.len(), wanted.len(), "{messages:#?}");
    for (message, wanted) in messages.iter().zip(wanted) {
        assert!(message.starts_with(wanted), "{message}\nwanted: {wanted}");
    }
    assert!(d.iter().all(|d| d.line.is_some()));
}
