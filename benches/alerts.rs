//! Alert evaluation (`assay::alerts::lifecycle::Engine::evaluate`): a
//! closed window of 100 features against 50 routes, the work the alerts
//! thread does for every window close (before the outbox writes). The
//! target is under 1 ms.
//!
//! The window: every feature skewed (100 findings), every third also
//! drifted, every fifth out of its domain, a dataset-level skew finding,
//! and 20 per-slice skew findings: 174 findings. The routes: 50 of them,
//! with every kind of matcher (models, checks, severities, feature and
//! slice globs) and every kind of grouping (by check, by feature, by
//! slice), so that some take everything and some almost nothing.
//!
//! - `first`: the first such window (every alert new);
//!   (the books are made and dropped outside the timing)
//! - `steady`: the next window of the same incident (every alert already
//!   firing and notified).
//!
//! Twice: with every kind of grouping (976 alerts from one window), and
//! with every route grouping by the default `["model", "check"]`
//! (`_by_check`).
//!
//! ```text
//! cargo bench --bench alerts
//! ```

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use assay::alerts::config::{AlertCheck, GroupLabel, RouteConfig};
use assay::alerts::lifecycle::{AlertBook, Engine};
use assay::alerts::route::Route;
use assay::alerts::silence::Silences;
use assay::alerts::{AlertFinding, WindowFindings, WindowRef};
use assay::checks::Severity;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;

const FEATURES: usize = 100;
const ROUTES: usize = 50;

fn finding(
    check: AlertCheck,
    kind: &str,
    feature: Option<String>,
    slice: Option<String>,
) -> AlertFinding {
    AlertFinding {
        check,
        kind: kind.into(),
        severity: if kind == "out_of_domain" {
            Severity::Warning
        } else {
            Severity::Error
        },
        feature,
        slice,
        observed: json!({"method": "wasserstein", "statistic": 0.3, "p_value": 1e-6}),
        expected: json!({"method": "wasserstein", "threshold": 0.1}),
        explanation: "wasserstein 0.3 >= 0.1 (ks p = 1e-06 < 0.05)".into(),
    }
}

fn window(seq: u64) -> WindowFindings {
    let mut findings = Vec::new();
    for i in 0..FEATURES {
        let name = format!("feature_{i:03}");
        findings.push(finding(
            AlertCheck::Skew,
            "feature_skew",
            Some(name.clone()),
            None,
        ));
        if i % 3 == 0 {
            findings.push(finding(
                AlertCheck::Drift,
                "feature_drift",
                Some(name.clone()),
                None,
            ));
        }
        if i % 5 == 0 {
            findings.push(finding(
                AlertCheck::Schema,
                "out_of_domain",
                Some(name),
                None,
            ));
        }
    }
    findings.push(finding(AlertCheck::Skew, "dataset_skew", None, None));
    for i in 0..20 {
        findings.push(finding(
            AlertCheck::Skew,
            "feature_skew",
            Some(format!("feature_{i:03}")),
            Some(format!("sex={}", if i % 2 == 0 { "F" } else { "M" })),
        ));
    }
    WindowFindings {
        window: WindowRef {
            model: "credit".into(),
            id: format!("credit-{seq:06}"),
            start: "2024-05-01T10:00:00.000Z".into(),
            end: "2024-05-01T10:01:00.000Z".into(),
        },
        seq,
        closed_ms: seq as i64 * 60_000,
        findings,
        stream: Default::default(),
    }
}

/// Every kind of grouping (a quarter of the routes make one alert per
/// feature), or only the default `["model", "check"]`.
fn routes(mixed_grouping: bool) -> Vec<Route> {
    let groupings = if mixed_grouping {
        vec![
            vec![GroupLabel::Model, GroupLabel::Check],
            vec![GroupLabel::Model, GroupLabel::Feature],
            vec![GroupLabel::Model, GroupLabel::Check, GroupLabel::Severity],
            vec![GroupLabel::Model, GroupLabel::Slice, GroupLabel::Kind],
        ]
    } else {
        vec![vec![GroupLabel::Model, GroupLabel::Check]]
    };
    let checks = [
        vec![],
        vec![AlertCheck::Skew, AlertCheck::Drift],
        vec![AlertCheck::Schema],
        vec![AlertCheck::Expectations, AlertCheck::PredictionDrift],
    ];
    (0..ROUTES)
        .map(|i| {
            Route::new(RouteConfig {
                name: format!("route-{i}"),
                receivers: vec!["mail".into(), "hook".into()],
                models: if i % 7 == 0 {
                    vec!["fraud".into()]
                } else if i % 2 == 0 {
                    vec!["credit".into(), "fraud".into()]
                } else {
                    vec![]
                },
                checks: checks[i % checks.len()].clone(),
                severities: if i % 5 == 0 {
                    vec![Severity::Error]
                } else {
                    vec![]
                },
                features: match i % 4 {
                    0 => vec![],
                    1 => vec!["feature_0*".into()],
                    2 => vec!["feature_1?5".into(), "feature_09*".into()],
                    _ => vec!["*".into()],
                },
                slices: if i % 9 == 0 {
                    vec!["sex=*".into()]
                } else {
                    vec![]
                },
                for_windows: 1 + (i % 3) as u32,
                resolve_after_windows: 2,
                group_by: groupings[i % groupings.len()].clone(),
                repeat_interval: Duration::from_secs(4 * 3600),
                send_resolved: true,
                runbook_url: None,
            })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    bench_routes(c, true, "alerts/evaluate_100_features_50_routes");
    bench_routes(c, false, "alerts/evaluate_100_features_50_routes_by_check");
}

fn bench_routes(c: &mut Criterion, mixed_grouping: bool, name: &str) {
    let engine = Engine::new(routes(mixed_grouping), BTreeMap::new());
    let silences = Silences::default();
    let first = window(1);
    let second = window(2);
    let mut steady = AlertBook::default();
    let sends = engine.evaluate(&mut steady, &first, &silences, 60_000);
    let sends = sends.len()
        + engine
            .evaluate(&mut steady, &second, &silences, 120_000)
            .len();
    eprintln!(
        "{name}: {} findings, {} routes: {} alerts, {} notifications over two windows",
        first.findings.len(),
        ROUTES,
        steady.alerts.len(),
        sends
    );
    let third = window(3);
    let mut group = c.benchmark_group(name);
    group.bench_function("first", |b| {
        b.iter_batched_ref(
            AlertBook::default,
            |book| black_box(engine.evaluate(book, &first, &silences, 60_000)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("steady", |b| {
        b.iter_batched_ref(
            || steady.clone(),
            |book| black_box(engine.evaluate(book, &third, &silences, 180_000)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
