use super::*;

fn state(values: &[f64]) -> NumericState {
    let mut s = NumericState::default();
    s.update_values(values.iter().copied(), true);
    s
}

/// A deterministic, well-spread sample (no RNG needed here).
fn spread(n: usize, shift: f64, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let u = ((i as f64 * 0.618_033_988_749_895) % 1.0) * 0.998 + 0.001;
            shift + scale * (u / (1.0 - u)).ln()
        })
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs())) || (a.is_infinite() && a == b)
}

#[test]
fn empty_side_is_an_error_for_every_method() {
    let full = state(&[1.0, 2.0, 3.0]);
    let empty = state(&[f64::NAN]);
    for (m, r) in numeric_sketch_all(&empty, &full) {
        assert_eq!(
            r,
            Err(DriftError::EmptySample {
                method: m,
                side: Side::Reference
            })
        );
    }
    for (m, r) in numeric_sketch_all(&full, &empty) {
        assert_eq!(
            r,
            Err(DriftError::EmptySample {
                method: m,
                side: Side::Current
            })
        );
    }
    assert!(matches!(
        numeric_sketch_bins(&full, &empty),
        Err(DriftError::EmptySample { .. })
    ));
}

#[test]
fn constant_reference_is_undefined_for_wasserstein_in_both_paths() {
    let constant = state(&[5.0; 3000]);
    let current = state(&spread(3000, 0.0, 1.0));
    assert!(constant.kll.is_estimation_mode());
    let r = numeric_sketch(Method::Wasserstein, &constant, &current);
    assert!(matches!(r, Err(DriftError::Undefined { .. })), "{r:?}");
    let small = state(&[5.0; 10]);
    let r = numeric_sketch(Method::Wasserstein, &small, &state(&[1.0, 2.0]));
    assert!(matches!(r, Err(DriftError::Undefined { .. })), "{r:?}");
    // The bins of a constant reference: below, [5, 5], above.
    let bins = numeric_sketch_bins(&constant, &current).unwrap();
    assert!(
        bins.iter()
            .any(|b| b.low == 5.0 && b.high == 5.0 && b.reference == 1.0)
    );
    assert!(bins.iter().all(|b| b.reference == 0.0 || b.low == 5.0));
}

#[test]
fn small_profiles_equal_exact_mode() {
    let r = spread(150, 0.0, 1.0);
    let mut c = spread(120, 0.3, 1.5);
    c.extend([0.25, 0.25, 0.25, 2.0]); // ties across and within sides
    let mut r = r;
    r.extend([0.25, 2.0, 2.0]);
    let (rs, cs) = (state(&r), state(&c));
    assert!(!rs.kll.is_estimation_mode() && !cs.kll.is_estimation_mode());
    let exact = super::super::numeric::numeric_all(&r, &c);
    let sketch = numeric_sketch_all(&rs, &cs);
    for ((m, e), (m2, s)) in exact.into_iter().zip(sketch) {
        assert_eq!(m, m2);
        let (e, s) = (e.unwrap(), s.unwrap());
        assert!(
            close(e.statistic, s.statistic, 1e-12),
            "{m:?}: {e:?} vs {s:?}"
        );
        match (e.p_value, s.p_value) {
            (Some(a), Some(b)) => assert!(close(a, b, 1e-12), "{m:?}: {a} vs {b}"),
            (None, None) => {}
            other => panic!("{m:?}: {other:?}"),
        }
        assert!(!s.approximate, "{m:?}");
    }
    assert_eq!(
        numeric_sketch_bins(&rs, &cs).unwrap(),
        numeric_bins(&r, &c).unwrap()
    );
}

/// The weighted formulas with true multiplicities as weights are the
/// exact-mode formulas: run them on an exact pair directly.
#[test]
fn weighted_formulas_reduce_to_exact_mode() {
    let mut r: Vec<f64> = spread(90, 0.0, 1.0);
    r.extend([0.5, 0.5, 0.5, 1.0, 1.0]);
    let mut c: Vec<f64> = spread(110, 0.4, 0.8);
    c.extend([0.5, 1.0, 3.0, 3.0]);
    let (rs, cs) = (state(&r), state(&c));
    let pair = Pair::new(Method::Ks, &rs, &cs).unwrap();
    assert!(pair.exact() && pair.rank_error() == 0.0);
    let (n1, n2) = counts(&rs, &cs);
    for m in NUMERIC_METHODS {
        let w = weighted(m, &pair, &rs, &cs).unwrap();
        let e = match m {
            Method::Ks => ks(&r, &c),
            Method::Wasserstein => wasserstein(&r, &c),
            Method::Anderson => anderson(&r, &c),
            Method::CramerVonMises => cramer_von_mises(&r, &c),
            Method::Energy => energy(&r, &c),
            Method::TTest => super::super::numeric::t_test(&r, &c),
            _ => numeric_binned(m, &r, &c),
        }
        .unwrap();
        assert!(
            close(e.statistic, w.statistic, 1e-10),
            "{m:?}: {e:?} vs {w:?}"
        );
        if let (Some(a), Some(b)) = (e.p_value, w.p_value)
            && (m != Method::CramerVonMises || n1.max(n2) > 20)
        {
            assert!(close(a, b, 1e-9), "{m:?}: {a} vs {b}");
        }
    }
    // The ECDF form of Cramér–von Mises equals the rank form without ties.
    let (r, c) = (spread(80, 0.0, 1.0), spread(70, 0.2, 1.0));
    let pair = Pair::new(Method::Ks, &state(&r), &state(&c)).unwrap();
    let (t, f) = (pair.cvm_statistic(), pair.cvm_ecdf_form(0.0));
    assert!((t - f).abs() < 0.01 * t.max(1.0), "{t} vs {f}");
}

#[test]
fn harmonic_sums_expansion_matches_the_loop() {
    for n in [1_000u64, 50_000, 1_000_000] {
        let (h, g) = harmonic_sums(n);
        let (ha, ga) = harmonic_sums_asymptotic(n as f64);
        assert!((h - ha).abs() < 1e-11, "h at {n}: {h} vs {ha}");
        assert!((g - ga).abs() < 1e-11, "g at {n}: {g} vs {ga}");
    }
    let (_, g) = harmonic_sums(10_000_000);
    assert!((g - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-5);
}

#[test]
fn reading_the_sketch_image_equals_walking_the_sorted_view() {
    // Sizes around the exact/estimation boundary and well past it,
    // with ties (rounded values) and without.
    for (n, round) in [
        (1, false),
        (2, false),
        (150, true),
        (199, false),
        (5_000, false),
        (100_000, true),
    ] {
        let values: Vec<f64> = spread(n, 0.0, 1.0)
            .into_iter()
            .map(|v| if round { (v * 10.0).round() } else { v })
            .collect();
        let s = state(&values);
        let walked = s.kll.walk_sorted_view();
        let total = walked.iter().map(|(_, w)| w).sum();
        let (values, weights) = walked.into_iter().map(|(v, w)| (v, w as f64)).unzip();
        assert_eq!(
            merge_items(s.kll.weighted_items()),
            (values, weights, total),
            "n = {n}"
        );
    }
}

#[test]
fn pseudo_sample_keeps_the_stream_weight() {
    let values = spread(50_000, 1.0, 2.0);
    let s = state(&values);
    let p = Pseudo::from_state(Method::Ks, Side::Reference, &s).unwrap();
    assert!(!p.exact);
    assert_eq!(p.total, 50_000.0);
    assert_eq!(p.weights.iter().sum::<f64>(), 50_000.0);
    assert!(p.values.windows(2).all(|w| w[0] < w[1]));
    assert!(p.values.len() <= s.kll.num_retained());
}

#[test]
fn non_numeric_methods_are_not_applicable() {
    let s = state(&[1.0, 2.0, 3.0]);
    assert!(matches!(
        numeric_sketch(Method::ChiSquare, &s, &s),
        Err(DriftError::NotApplicable { .. })
    ));
}
