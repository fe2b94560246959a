use serde_json::json;

use super::*;
use crate::alerts::config::SecretSource;
use crate::checks::{FindingKind, Severity};

const HOUR: i64 = 3_600_000;

fn config(on: &[Trigger]) -> RetrainConfig {
    RetrainConfig {
        on: on.to_vec(),
        min_drifted_features: 1,
        features: Vec::new(),
        consecutive_windows: 1,
        max_quality_drop: None,
        schedule: None,
        cooldown_seconds: 24 * 3600,
        timeout_seconds: 6 * 3600,
        url: "http://127.0.0.1:9/hook".into(),
        secret: SecretSource::Env("X".into()),
        callback_base_url: None,
        lookback_seconds: None,
        champion: None,
    }
}

fn drifted(feature: &str, slice: Option<&str>) -> Finding {
    Finding {
        kind: FindingKind::FeatureDrift,
        severity: Severity::Error,
        feature: Some(feature.into()),
        slice: slice.map(str::to_string),
        observed: json!({}),
        expected: json!({}),
        explanation: format!("{feature} drifted"),
    }
}

fn degraded(change: f64, slice: Option<&str>) -> Finding {
    Finding {
        kind: FindingKind::QualityDegraded,
        severity: Severity::Error,
        feature: None,
        slice: slice.map(str::to_string),
        observed: json!({"metric": "accuracy", "change": change}),
        expected: json!({"alpha": 0.01}),
        explanation: "accuracy dropped".into(),
    }
}

fn window(seq: u64, trigger: Trigger, findings: Vec<Finding>) -> Evidence {
    let covers = match trigger {
        Trigger::Skew | Trigger::Drift => vec![Trigger::Skew, Trigger::Drift],
        _ => vec![Trigger::Quality, Trigger::Fairness],
    };
    Evidence {
        window: WindowSpan {
            id: format!("m-{seq:06}"),
            start: format!("s{seq}"),
            end: format!("e{seq}"),
        },
        covers,
        findings: [(trigger, findings)].into_iter().collect(),
    }
}

fn outcomes(d: &[Decision]) -> Vec<(Trigger, Outcome)> {
    d.iter().map(|d| (d.trigger, d.outcome)).collect()
}

#[test]
fn drift_fires_then_the_cooldown_and_the_flight_suppress() {
    let c = config(&[Trigger::Drift, Trigger::Manual]);
    let s = PolicyState::default();
    let (d, s) = judge_window(
        &c,
        &s,
        &window(1, Trigger::Drift, vec![drifted("age", None)]),
        0,
        "r1",
    );
    assert_eq!(outcomes(&d), [(Trigger::Drift, Outcome::Fired)]);
    assert_eq!(s.in_flight.as_ref().unwrap().delivery_id, "r1");
    assert_eq!(d[0].windows.as_ref().unwrap().0.id, "m-000001");
    // In flight: suppressed as such, even past the cooldown.
    let (d, s2) = judge_window(
        &c,
        &s,
        &window(2, Trigger::Drift, vec![drifted("age", None)]),
        HOUR,
        "r2",
    );
    assert_eq!(
        outcomes(&d),
        [(Trigger::Drift, Outcome::SuppressedInFlight)]
    );
    assert_eq!(s2.in_flight.as_ref().unwrap().delivery_id, "r1");
    // Answered: now the cooldown holds.
    let mut s3 = s2.clone();
    assert!(finished(&mut s3, "r1"));
    assert!(!finished(&mut s3, "r1"));
    let (d, s4) = judge_window(
        &c,
        &s3,
        &window(3, Trigger::Drift, vec![drifted("age", None)]),
        2 * HOUR,
        "r3",
    );
    assert_eq!(
        outcomes(&d),
        [(Trigger::Drift, Outcome::SuppressedCooldown)]
    );
    assert!(d[0].detail.contains("cooldown"), "{}", d[0].detail);
    // A day later it fires again.
    let (d, _) = judge_window(
        &c,
        &s4,
        &window(4, Trigger::Drift, vec![drifted("age", None)]),
        25 * HOUR,
        "r4",
    );
    assert_eq!(outcomes(&d), [(Trigger::Drift, Outcome::Fired)]);
    // A retrain nobody answered stops counting after `timeout`.
    let (d, _) = judge_window(
        &c,
        &s,
        &window(5, Trigger::Drift, vec![drifted("age", None)]),
        30 * HOUR,
        "r5",
    );
    assert_eq!(outcomes(&d), [(Trigger::Drift, Outcome::Fired)]);
}

#[test]
fn conditions_skip_until_met_and_clean_windows_break_runs() {
    let mut c = config(&[Trigger::Skew]);
    c.min_drifted_features = 2;
    c.consecutive_windows = 2;
    c.features = vec!["age".into(), "income".into()];
    let s = PolicyState::default();
    // One listed feature (and an unlisted one, and a slice's) is not two.
    let few = vec![
        drifted("age", None),
        drifted("zip", None),
        drifted("income", Some("sex=F")),
    ];
    let (d, s) = judge_window(&c, &s, &window(1, Trigger::Skew, few), 0, "r");
    assert_eq!(outcomes(&d), [(Trigger::Skew, Outcome::Skipped)]);
    assert!(
        d[0].detail
            .contains("1 drifted feature(s) among `features` of 2"),
        "{}",
        d[0].detail
    );
    let two = || vec![drifted("age", None), drifted("income", None)];
    let (d, s) = judge_window(&c, &s, &window(2, Trigger::Skew, two()), 0, "r");
    assert_eq!(outcomes(&d), [(Trigger::Skew, Outcome::Skipped)]);
    assert!(
        d[0].detail.contains("1 of 2 consecutive"),
        "{}",
        d[0].detail
    );
    // A clean window resets the run, silently.
    let (d, s) = judge_window(&c, &s, &window(3, Trigger::Skew, vec![]), 0, "r");
    assert!(d.is_empty());
    assert!(s.consecutive.is_empty());
    let (_, s) = judge_window(&c, &s, &window(4, Trigger::Skew, two()), 0, "r");
    let (d, s) = judge_window(&c, &s, &window(5, Trigger::Skew, two()), 0, "r");
    assert_eq!(outcomes(&d), [(Trigger::Skew, Outcome::Fired)]);
    let (from, to) = d[0].windows.clone().unwrap();
    assert_eq!((from.id.as_str(), to.id.as_str()), ("m-000004", "m-000005"));
    assert_eq!(d[0].findings.len(), 2);
    assert!(s.consecutive.is_empty(), "a fire starts a new run");
    // A trigger not in `on` is not judged.
    let (d, _) = judge_window(&c, &s, &window(6, Trigger::Drift, two()), 0, "r");
    assert!(d.is_empty());
}

#[test]
fn quality_drops_and_fairness_findings() {
    let mut c = config(&[Trigger::Quality, Trigger::Fairness]);
    let s = PolicyState::default();
    let (d, s) = judge_window(
        &c,
        &s,
        &window(1, Trigger::Quality, vec![degraded(-0.02, Some("sex=F"))]),
        0,
        "r1",
    );
    assert_eq!(outcomes(&d), [(Trigger::Quality, Outcome::Fired)]);
    c.max_quality_drop = Some(0.05);
    let mut s = s;
    finished(&mut s, "r1");
    s.last_fired_ms = None;
    // A slice's drop, or a small one, is under the bar.
    let (d, _) = judge_window(
        &c,
        &s,
        &window(
            2,
            Trigger::Quality,
            vec![degraded(-0.2, Some("sex=F")), degraded(-0.03, None)],
        ),
        0,
        "r2",
    );
    assert_eq!(outcomes(&d), [(Trigger::Quality, Outcome::Skipped)]);
    let (d, _) = judge_window(
        &c,
        &s,
        &window(3, Trigger::Quality, vec![degraded(-0.08, None)]),
        0,
        "r3",
    );
    assert_eq!(outcomes(&d), [(Trigger::Quality, Outcome::Fired)]);
    // Two triggers met by one window: one fires, the other waits for it.
    let mut both = window(4, Trigger::Quality, vec![degraded(-0.08, None)]);
    both.findings
        .insert(Trigger::Fairness, vec![drifted("sex", None)]);
    let (d, _) = judge_window(&c, &s, &both, 0, "r4");
    assert_eq!(
        outcomes(&d),
        [
            (Trigger::Quality, Outcome::Fired),
            (Trigger::Fairness, Outcome::SuppressedInFlight)
        ]
    );
}

#[test]
fn manual_ignores_the_cooldown_but_not_a_flight() {
    let c = config(&[Trigger::Drift, Trigger::Manual]);
    let s = PolicyState {
        last_fired_ms: Some(0),
        ..PolicyState::default()
    };
    let (d, s) = judge_manual(&c, &s, HOUR, "m1");
    assert_eq!(d.outcome, Outcome::Fired);
    let (d, _) = judge_manual(&c, &s, 2 * HOUR, "m2");
    assert_eq!(d.outcome, Outcome::SuppressedInFlight);
    let (d, _) = judge_manual(&config(&[Trigger::Drift]), &PolicyState::default(), 0, "m3");
    assert_eq!(d.outcome, Outcome::Skipped);
}

#[test]
fn the_schedule_fires_once_per_passed_time() {
    let c = config(&[Trigger::Schedule]);
    // Every day at 03:00.
    let cron = crate::server::config::cron_schedule("0 3 * * *").unwrap();
    let day = |d: i64, h: i64| 1_772_323_200_000 + d * 24 * HOUR + h * HOUR; // 2026-03-01T00:00Z
    let (d, s) = judge_schedule(&c, &cron, &PolicyState::default(), day(0, 1), "s0");
    assert!(d.is_none(), "the first call starts the clock");
    let (d, s) = judge_schedule(&c, &cron, &s, day(0, 2), "s1");
    assert!(d.is_none());
    let (d, s) = judge_schedule(&c, &cron, &s, day(0, 4), "s2");
    assert_eq!(d.unwrap().outcome, Outcome::Fired);
    let mut s = s;
    finished(&mut s, "s2");
    let (d, s) = judge_schedule(&c, &cron, &s, day(0, 5), "s3");
    assert!(d.is_none(), "03:00 was judged already");
    // The next day's 03:00 falls within the 24 h cooldown of 04:00.
    let (d, s) = judge_schedule(&c, &cron, &s, day(1, 3), "s4");
    assert_eq!(d.unwrap().outcome, Outcome::SuppressedCooldown);
    let (d, _) = judge_schedule(&c, &cron, &s, day(2, 3) + 60_000, "s5");
    assert_eq!(d.unwrap().outcome, Outcome::Fired);
}

#[test]
fn the_state_round_trips_through_json() {
    let c = config(&[Trigger::Drift]);
    let (_, s) = judge_window(
        &c,
        &PolicyState::default(),
        &window(1, Trigger::Drift, vec![drifted("a", None)]),
        7,
        "r",
    );
    let text = serde_json::to_string(&s).unwrap();
    let back: PolicyState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, s);
}
