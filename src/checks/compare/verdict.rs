//! From statistics to verdicts: the multiple-testing correction, the effect
//! gate and the dataset-level share.

use super::report::{DatasetVerdict, FeatureComparison, Verdict};

/// Benjamini–Hochberg adjusted p-values, in the input order:
/// `p_adj(i) = min over ranks j >= rank(i) of (m / j) · p_(j)`, capped at 1
/// (the same as R's `p.adjust(method = "BH")` and statsmodels'
/// `multipletests(method = "fdr_bh")`). Rejecting where `p_adj < α`
/// controls the false discovery rate at α for independent tests.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let value = p_values[i] * m as f64 / (rank + 1) as f64;
        running = running.min(value);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// Sets `p_value_adjusted`, `drifted` and `verdict` for the features of one
/// comparison (a dataset or a slice) whose statistics are computed. Every
/// feature with a verdict to give contributes one p-value to the
/// correction: its test's, or, for a distance, its significance gate's.
pub(crate) fn decide(features: &mut [&mut FeatureComparison], correction: bool) {
    let p_of = |f: &FeatureComparison| f.p_value.or(f.significance.map(|s| s.p_value));
    let tested: Vec<usize> = (0..features.len())
        .filter(|&i| features[i].verdict == Verdict::NoDrift && p_of(features[i]).is_some())
        .collect();
    if correction && tested.len() > 1 {
        let ps: Vec<f64> = tested
            .iter()
            .map(|&i| p_of(features[i]).unwrap_or(1.0))
            .collect();
        for (&i, adj) in tested.iter().zip(benjamini_hochberg(&ps)) {
            let f = &mut *features[i];
            match (&mut f.significance, f.p_value) {
                (_, Some(_)) => f.p_value_adjusted = Some(adj),
                (Some(s), None) => s.p_value_adjusted = Some(adj),
                (None, None) => {}
            }
        }
    }
    for f in features.iter_mut() {
        if f.verdict != Verdict::NoDrift {
            continue;
        }
        let Some(statistic) = f.statistic else {
            continue;
        };
        let significant = match f.p_value {
            Some(p) => f.p_value_adjusted.unwrap_or(p) < f.threshold,
            // A distance: past its threshold, and (when the gate could be
            // computed) not sampling noise or sketch error.
            None => statistic >= f.threshold && f.significance.is_none_or(|s| s.significant()),
        };
        // An effect that could not be computed does not veto the test.
        let large_enough = f.effect.is_none_or(|e| e.statistic >= e.min);
        f.drifted = significant && large_enough;
        if f.drifted {
            f.verdict = Verdict::Drift;
        }
    }
}

/// The dataset-level verdict over the features of one comparison.
pub(crate) fn dataset_verdict(
    features: &[&FeatureComparison],
    max_drifted_share: f64,
) -> DatasetVerdict {
    let checked = features
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Drift | Verdict::NoDrift))
        .count();
    let drifted = features.iter().filter(|f| f.drifted).count();
    let share = if checked == 0 {
        0.0
    } else {
        drifted as f64 / checked as f64
    };
    DatasetVerdict {
        checked,
        drifted,
        insufficient_data: features
            .iter()
            .filter(|f| f.verdict == Verdict::InsufficientData)
            .count(),
        share,
        max_drifted_share,
        dataset_drifted: checked > 0 && share > max_drifted_share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_matches_r_p_adjust() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.5, 0.002), "BH")
        //    0.025 0.05 0.05 0.5 0.01
        let adj = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5, 0.002]);
        let want = [0.025, 0.05, 0.05, 0.5, 0.01];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
    }

    #[test]
    fn bh_is_capped_and_monotone() {
        let ps = [0.9, 0.95, 0.99, 0.2];
        let adj = benjamini_hochberg(&ps);
        assert!(adj.iter().all(|a| *a <= 1.0));
        // Sorted p-values keep their order after adjustment.
        assert!(adj[3] <= adj[0] && adj[0] <= adj[1] && adj[1] <= adj[2]);
        assert_eq!(benjamini_hochberg(&[]), Vec::<f64>::new());
        assert_eq!(benjamini_hochberg(&[0.3]), vec![0.3]);
    }

    fn distance(name: &str, statistic: f64, gate_p: Option<f64>) -> FeatureComparison {
        use super::super::report::{MissingShare, Significance};
        use crate::checks::drift::Method;
        FeatureComparison {
            name: name.into(),
            kind: super::super::FeatureKind::Numeric,
            role: crate::profile::ColumnRole::Feature,
            method: Method::Wasserstein,
            default_method: true,
            statistic: Some(statistic),
            p_value: None,
            p_value_adjusted: None,
            threshold: 0.1,
            drifted: false,
            verdict: Verdict::NoDrift,
            approximate: true,
            effect: None,
            significance: gate_p.map(|p_value| Significance {
                method: Method::Ks,
                p_value,
                p_value_adjusted: None,
                threshold: 0.05,
            }),
            reference_count: 1000,
            current_count: 1000,
            missing: MissingShare {
                reference: 0.0,
                current: 0.0,
            },
            contributors: Vec::new(),
            methods: None,
            error: None,
        }
    }

    #[test]
    fn a_distance_past_its_threshold_needs_a_significant_gate() {
        let mut fs = [
            // Past the threshold, gate significant after adjustment.
            distance("moved", 0.4, Some(1e-6)),
            // Past the threshold, but the test says noise.
            distance("noise", 0.3, Some(0.4)),
            // Below the threshold, significant: a real but small change.
            distance("small", 0.05, Some(1e-9)),
            // No gate could be computed: the distance alone decides.
            distance("ungated", 0.2, None),
            // Significant alone (0.045), not after adjustment (third of
            // four p-values: 0.045 × 4/3 = 0.06).
            distance("borderline", 0.5, Some(0.045)),
        ];
        let mut refs: Vec<&mut FeatureComparison> = fs.iter_mut().collect();
        decide(&mut refs, true);
        let drifted: Vec<&str> = fs
            .iter()
            .filter(|f| f.drifted)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(drifted, ["moved", "ungated"]);
        // The gates were adjusted as one family of four p-values.
        let adjusted = |name: &str| {
            fs.iter()
                .find(|f| f.name == name)
                .and_then(|f| f.significance)
                .and_then(|s| s.p_value_adjusted)
        };
        assert_eq!(adjusted("borderline"), Some(0.045 * 4.0 / 3.0));
        assert_eq!(adjusted("noise"), Some(0.4));
        assert!(fs.iter().all(|f| f.p_value_adjusted.is_none()));
        // Without the correction the raw gate decides.
        let mut fs = [distance("borderline", 0.5, Some(0.045))];
        let mut refs: Vec<&mut FeatureComparison> = fs.iter_mut().collect();
        decide(&mut refs, false);
        assert!(fs[0].drifted);
    }
}
