//! Exact-mode drift methods against SciPy: every method on every fixture
//! case in tests/fixtures/drift/ (written by scripts/make_drift_fixtures.py)
//! must match to 1e-6 relative, or 1e-12 absolute near zero.

use std::collections::BTreeMap;

use assay::checks::drift::{
    self, CategoryCounts, DriftError, Method, MethodResult, PValueMethod, Side,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    statistic: f64,
    p_value: Option<f64>,
}

#[derive(Deserialize)]
struct NumericCase {
    name: String,
    reference: Vec<f64>,
    current: Vec<f64>,
    expected: BTreeMap<String, Expected>,
}

#[derive(Deserialize)]
struct CategoricalCase {
    name: String,
    reference: CategoryCounts,
    current: CategoryCounts,
    expected: BTreeMap<String, Expected>,
}

#[derive(Deserialize)]
struct Fixture<T> {
    cases: Vec<T>,
}

fn load<T: serde::de::DeserializeOwned>(file: &str) -> Vec<T> {
    let path = format!("{}/tests/fixtures/drift/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Fixture<T> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    fixture.cases
}

fn close(got: f64, want: f64) -> bool {
    if got == want {
        return true;
    }
    let diff = (got - want).abs();
    diff <= 1e-12 || diff <= 1e-6 * want.abs().max(got.abs())
}

/// Compares one result with SciPy's value; returns a message on mismatch.
fn check(case: &str, got: &MethodResult, want: &Expected) -> Vec<String> {
    let mut errors = Vec::new();
    let m = got.method;
    if !close(got.statistic, want.statistic) {
        errors.push(format!(
            "{case} {m}: statistic {} vs scipy {}",
            got.statistic, want.statistic
        ));
    }
    match (got.p_value, want.p_value) {
        (Some(g), Some(w)) if !close(g, w) => {
            errors.push(format!("{case} {m}: p-value {g} vs scipy {w}"))
        }
        (None, Some(w)) => errors.push(format!("{case} {m}: no p-value, scipy has {w}")),
        (Some(g), None) => errors.push(format!("{case} {m}: p-value {g}, scipy has none")),
        _ => {}
    }
    errors
}

#[test]
fn numeric_methods_match_scipy() {
    let cases: Vec<NumericCase> = load("numeric.json");
    assert!(cases.len() >= 10, "fixture has too few numeric cases");
    let mut errors = Vec::new();
    let mut compared = 0;
    for case in &cases {
        for (method, result) in drift::numeric_all(&case.reference, &case.current) {
            match (result, case.expected.get(method.as_str())) {
                (Ok(got), Some(want)) => {
                    compared += 1;
                    errors.extend(check(&case.name, &got, want));
                }
                (Err(e), Some(_)) => errors.push(format!(
                    "{} {method}: error {e}, scipy has a value",
                    case.name
                )),
                // SciPy undefined (NaN or raises) for this input: we must say why too.
                (Ok(got), None) => errors.push(format!(
                    "{} {method}: {got:?}, scipy has no value",
                    case.name
                )),
                (Err(_), None) => {}
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(compared >= 100, "only {compared} comparisons");
}

#[test]
fn categorical_methods_match_scipy() {
    let cases: Vec<CategoricalCase> = load("categorical.json");
    assert!(cases.len() >= 5, "fixture has too few categorical cases");
    let mut errors = Vec::new();
    for case in &cases {
        for (method, result) in drift::categorical_all(&case.reference, &case.current) {
            match (result, case.expected.get(method.as_str())) {
                (Ok(got), Some(want)) => errors.extend(check(&case.name, &got, want)),
                (Err(e), Some(_)) => errors.push(format!(
                    "{} {method}: error {e}, scipy has a value",
                    case.name
                )),
                (Ok(got), None) => errors.push(format!(
                    "{} {method}: {got:?}, fixture has no value",
                    case.name
                )),
                (Err(_), None) => {}
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn p_value_methods_follow_scipy_size_rules() {
    let small: Vec<f64> = (0..8).map(f64::from).collect();
    let other: Vec<f64> = (0..12).map(|i| f64::from(i) * 0.7 + 0.3).collect();
    let big: Vec<f64> = (0..10_001).map(|i| f64::from(i) / 10_001.0).collect();
    assert_eq!(
        drift::ks(&small, &other).unwrap().p_value_method,
        Some(PValueMethod::Exact)
    );
    assert_eq!(
        drift::ks(&big, &other).unwrap().p_value_method,
        Some(PValueMethod::Asymptotic)
    );
    assert_eq!(
        drift::cramer_von_mises(&small, &other)
            .unwrap()
            .p_value_method,
        Some(PValueMethod::Exact)
    );
    let medium: Vec<f64> = (0..21).map(f64::from).collect();
    assert_eq!(
        drift::cramer_von_mises(&medium, &other)
            .unwrap()
            .p_value_method,
        Some(PValueMethod::Asymptotic)
    );
    assert_eq!(
        drift::anderson(&small, &other).unwrap().p_value_method,
        Some(PValueMethod::Interpolated)
    );
}

#[test]
fn empty_samples_are_errors_not_panics() {
    let some = [1.0, 2.0, 3.0];
    for (method, result) in drift::numeric_all(&[], &some) {
        assert!(
            matches!(
                result,
                Err(DriftError::EmptySample {
                    side: Side::Reference,
                    ..
                })
            ),
            "{method}: {result:?}"
        );
    }
    for (method, result) in drift::numeric_all(&some, &[]) {
        assert!(
            matches!(
                result,
                Err(DriftError::EmptySample {
                    side: Side::Current,
                    ..
                })
            ),
            "{method}: {result:?}"
        );
    }
    let counts: CategoryCounts = [("a".to_string(), 3)].into();
    for (method, result) in drift::categorical_all(&CategoryCounts::new(), &counts) {
        assert!(
            matches!(result, Err(DriftError::EmptySample { .. })),
            "{method}: {result:?}"
        );
    }
    let zeros: CategoryCounts = [("a".to_string(), 0)].into();
    for (method, result) in drift::categorical_all(&counts, &zeros) {
        assert!(
            matches!(
                result,
                Err(DriftError::EmptySample {
                    side: Side::Current,
                    ..
                })
            ),
            "{method}: {result:?}"
        );
    }
}

#[test]
fn non_finite_values_are_reported_with_their_index() {
    let err = drift::ks(&[1.0, f64::NAN, 2.0], &[1.0]).unwrap_err();
    assert_eq!(
        err,
        DriftError::NonFinite {
            method: Method::Ks,
            side: Side::Reference,
            index: 1
        }
    );
    assert!(err.to_string().contains("index 1"), "{err}");
}

#[test]
fn single_values_and_constant_samples_do_not_panic() {
    // One value per side: the distances and KS are defined, the tests that
    // need more values say so.
    let results = drift::numeric_all(&[1.0], &[2.0]);
    let get = |m: Method| {
        results
            .iter()
            .find(|(k, _)| *k == m)
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    assert_eq!(get(Method::Ks).unwrap().statistic, 1.0);
    assert_eq!(get(Method::Energy).unwrap().statistic, 2f64.sqrt());
    assert!(matches!(
        get(Method::TTest),
        Err(DriftError::TooFewValues { .. })
    ));
    assert!(matches!(
        get(Method::CramerVonMises),
        Err(DriftError::TooFewValues { .. })
    ));
    assert!(matches!(
        get(Method::Anderson),
        Err(DriftError::TooFewValues { .. })
    ));
    assert!(matches!(
        get(Method::Wasserstein),
        Err(DriftError::Undefined { .. })
    ));

    // All equal on both sides: no drift by every method that is defined.
    let same = [4.0; 30];
    for (method, result) in drift::numeric_all(&same, &same) {
        match result {
            Ok(r) => {
                assert_eq!(r.statistic, 0.0, "{method}");
                if let Some(p) = r.p_value {
                    assert_eq!(p, 1.0, "{method}");
                }
            }
            Err(e) => assert!(
                matches!(method, Method::Wasserstein | Method::Anderson),
                "{method}: unexpected error {e}"
            ),
        }
    }
}

#[test]
fn binary_z_test_picks_the_larger_label_and_rejects_more_categories() {
    let r: CategoryCounts = [("false".to_string(), 80), ("true".to_string(), 20)].into();
    let c: CategoryCounts = [("false".to_string(), 60), ("true".to_string(), 40)].into();
    let z = drift::z_test(&r, &c).unwrap();
    // Reference has fewer "true": p_ref − p_cur < 0.
    assert!(z.statistic < 0.0, "{z:?}");
    let three: CategoryCounts = [
        ("a".to_string(), 1),
        ("b".to_string(), 1),
        ("c".to_string(), 1),
    ]
    .into();
    assert!(matches!(
        drift::z_test(&three, &three),
        Err(DriftError::NotApplicable { .. })
    ));
}

#[test]
fn method_names_round_trip() {
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.as_str()), Some(m));
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            serde_json::Value::String(m.as_str().to_string())
        );
    }
    assert_eq!(Method::from_name("kolmogorov"), None);
}

#[test]
fn reference_bins_cover_below_inner_and_above() {
    let reference: Vec<f64> = (1..=100).map(f64::from).collect();
    let bins = drift::reference_bins(&reference).unwrap();
    assert_eq!(bins.edges.len(), 11);
    assert_eq!(bins.len(), 12);
    assert_eq!(bins.index(0.5), 0);
    assert_eq!(bins.index(1.0), 1);
    assert_eq!(bins.index(100.0), 10);
    assert_eq!(bins.index(100.5), 11);
    let constant = drift::reference_bins(&[2.0; 5]).unwrap();
    assert_eq!(
        (
            constant.len(),
            constant.index(1.0),
            constant.index(2.0),
            constant.index(3.0)
        ),
        (3, 0, 1, 2)
    );
}
