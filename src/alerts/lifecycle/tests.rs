use super::*;
use crate::alerts::config::{AlertCheck, GroupLabel, RouteConfig};
use crate::checks::Severity;
use serde_json::json;

const MIN: i64 = 60_000;

fn route(name: &str, for_windows: u32, resolve_after: u32, group_by: &[GroupLabel]) -> RouteConfig {
    RouteConfig {
        name: name.into(),
        receivers: vec!["mail".into()],
        models: vec![],
        checks: vec![],
        severities: vec![],
        features: vec![],
        slices: vec![],
        for_windows,
        resolve_after_windows: resolve_after,
        group_by: group_by.to_vec(),
        repeat_interval: Duration::from_secs(4 * 3600),
        send_resolved: true,
        runbook_url: None,
    }
}

fn engine(routes: Vec<RouteConfig>) -> Engine {
    Engine::new(
        routes.into_iter().map(Route::new).collect(),
        BTreeMap::new(),
    )
}

fn finding(check: AlertCheck, feature: &str) -> AlertFinding {
    AlertFinding {
        check,
        kind: "feature_skew".into(),
        severity: Severity::Error,
        feature: Some(feature.into()),
        slice: None,
        observed: json!(1),
        expected: json!(0),
        explanation: String::new(),
    }
}

fn window(model: &str, seq: u64, findings: Vec<AlertFinding>) -> WindowFindings {
    WindowFindings {
        window: WindowRef {
            model: model.into(),
            id: format!("{model}-{seq:06}"),
            start: String::new(),
            end: String::new(),
        },
        seq,
        closed_ms: seq as i64 * MIN,
        findings,
        stream: Default::default(),
    }
}

/// Runs windows 1.. with `present[i]` deciding whether window i+1 has the
/// finding; the sends, flattened as (window, status).
fn run(e: &Engine, present: &[bool]) -> Vec<(usize, Status)> {
    let mut book = AlertBook::default();
    let silences = Silences::default();
    let mut out = Vec::new();
    for (i, p) in present.iter().enumerate() {
        let seq = i as u64 + 1;
        let f = if *p {
            vec![finding(AlertCheck::Skew, "income")]
        } else {
            vec![]
        };
        for s in e.evaluate(
            &mut book,
            &window("credit", seq, f),
            &silences,
            seq as i64 * MIN,
        ) {
            out.push((i + 1, s.status));
        }
    }
    out
}

#[test]
fn fires_after_for_windows_and_resolves_after_resolve_after_windows() {
    let e = engine(vec![route(
        "r",
        2,
        2,
        &[GroupLabel::Model, GroupLabel::Check],
    )]);
    let sends = run(&e, &[true, true, true, false, true, false, false, false]);
    assert_eq!(sends, [(2, Status::Firing), (7, Status::Resolved)]);
}

#[test]
fn a_flapping_finding_makes_no_storm() {
    // Present, absent, present…: with for 2 / resolve 2 it never fires;
    // with for 1 / resolve 2 it fires once and never resolves; with for 1
    // / resolve 1 each cycle is one firing and one resolved, never more.
    let flapping: Vec<bool> = (0..40).map(|i| i % 2 == 0).collect();
    assert!(
        run(
            &engine(vec![route("r", 2, 2, &[GroupLabel::Model])]),
            &flapping
        )
        .is_empty()
    );
    assert_eq!(
        run(
            &engine(vec![route("r", 1, 2, &[GroupLabel::Model])]),
            &flapping
        ),
        [(1, Status::Firing)]
    );
    let each = run(
        &engine(vec![route("r", 1, 1, &[GroupLabel::Model])]),
        &flapping,
    );
    assert_eq!(each.len(), 40);
    for (i, (w, s)) in each.iter().enumerate() {
        assert_eq!(*w, i + 1);
        assert_eq!(
            *s,
            if i % 2 == 0 {
                Status::Firing
            } else {
                Status::Resolved
            }
        );
    }
}

#[test]
fn a_thousand_features_make_one_notification_per_group() {
    let e = engine(vec![
        route("by-check", 1, 1, &[GroupLabel::Model, GroupLabel::Check]),
        route(
            "by-feature",
            1,
            1,
            &[GroupLabel::Model, GroupLabel::Feature],
        ),
    ]);
    let findings: Vec<AlertFinding> = (0..1000)
        .map(|i| {
            finding(
                if i % 2 == 0 {
                    AlertCheck::Skew
                } else {
                    AlertCheck::Drift
                },
                &format!("f{i}"),
            )
        })
        .collect();
    let mut book = AlertBook::default();
    let sends = e.evaluate(
        &mut book,
        &window("credit", 1, findings),
        &Silences::default(),
        MIN,
    );
    let by_check: Vec<&Send> = sends
        .iter()
        .filter(|s| book.alerts[&s.fingerprint].route == "by-check")
        .collect();
    assert_eq!(by_check.len(), 2, "one per check");
    for s in &by_check {
        assert_eq!(book.alerts[&s.fingerprint].findings.len(), 500);
        assert_eq!(s.receivers, ["mail"]);
    }
    assert_eq!(sends.len() - by_check.len(), 1000, "one per feature");
}

#[test]
fn windows_are_evaluated_once_and_models_apart() {
    let e = engine(vec![route("r", 1, 1, &[GroupLabel::Check])]);
    let mut book = AlertBook::default();
    let s = Silences::default();
    let skew = || vec![finding(AlertCheck::Skew, "x")];
    assert_eq!(
        e.evaluate(&mut book, &window("a", 1, skew()), &s, MIN)
            .len(),
        1
    );
    // The same window again (a restart's catch-up): nothing.
    assert!(
        e.evaluate(&mut book, &window("a", 1, skew()), &s, MIN)
            .is_empty()
    );
    // Model b's windows neither resolve nor duplicate model a's alert.
    assert_eq!(
        e.evaluate(&mut book, &window("b", 1, skew()), &s, MIN)
            .len(),
        1
    );
    assert_eq!(book.alerts.len(), 2);
    assert!(
        e.evaluate(&mut book, &window("b", 2, vec![]), &s, 2 * MIN)
            .iter()
            .all(|x| x.status == Status::Resolved)
    );
    assert_eq!(
        book.alerts
            .values()
            .filter(|a| a.state == AlertState::Firing)
            .map(|a| a.model.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    // The model is always in the group.
    assert!(book.alerts.values().all(|a| a.labels.contains_key("model")));
}

#[test]
fn repeats_after_repeat_interval_and_a_restart_keeps_what_was_sent() {
    let mut r = route("r", 1, 1, &[GroupLabel::Model]);
    r.repeat_interval = Duration::from_secs(3600);
    let e = engine(vec![r]);
    let mut book = AlertBook::default();
    let s = Silences::default();
    let f = || vec![finding(AlertCheck::Skew, "x")];
    assert_eq!(
        e.evaluate(&mut book, &window("m", 1, f()), &s, MIN)[0].reason,
        Reason::Fired
    );
    // A restart: the book is saved and loaded.
    let mut book: AlertBook = serde_json::from_slice(&serde_json::to_vec(&book).unwrap()).unwrap();
    assert!(
        e.evaluate(&mut book, &window("m", 2, f()), &s, 2 * MIN)
            .is_empty()
    );
    assert!(e.tick(&mut book, &s, 30 * MIN).is_empty());
    let repeat = e.tick(&mut book, &s, MIN + 60 * MIN);
    assert_eq!(repeat.len(), 1);
    assert_eq!(repeat[0].reason, Reason::Repeat);
    assert!(e.tick(&mut book, &s, MIN + 61 * MIN).is_empty());
}

#[test]
fn silences_hold_firing_notifications_until_they_end() {
    use crate::alerts::silence::{Matcher, Silence};
    let e = engine(vec![route("r", 1, 1, &[GroupLabel::Model])]);
    let mut book = AlertBook::default();
    let silences = Silences {
        silences: vec![Silence {
            id: "s".into(),
            matchers: vec![Matcher {
                name: "model".into(),
                value: "m".into(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: String::new(),
            ends_at: String::new(),
            comment: "c".into(),
            created_by: None,
            starts_ms: 0,
            ends_ms: 10 * MIN,
        }],
    };
    let f = || vec![finding(AlertCheck::Skew, "x")];
    assert!(
        e.evaluate(&mut book, &window("m", 1, f()), &silences, MIN)
            .is_empty()
    );
    assert_eq!(
        book.alerts.values().next().unwrap().state,
        AlertState::Firing
    );
    assert!(e.tick(&mut book, &silences, 5 * MIN).is_empty());
    let after = e.tick(&mut book, &silences, 10 * MIN);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].reason, Reason::Fired);
    // Resolved while never notified: nothing to close.
    let mut book = AlertBook::default();
    assert!(
        e.evaluate(&mut book, &window("m", 1, f()), &silences, MIN)
            .is_empty()
    );
    assert!(
        e.evaluate(&mut book, &window("m", 2, vec![]), &silences, 2 * MIN)
            .is_empty()
    );
}

#[test]
fn resolved_alerts_are_forgotten_after_a_day_and_a_new_incident_starts_fresh() {
    let e = engine(vec![route("r", 1, 1, &[GroupLabel::Model])]);
    let mut book = AlertBook::default();
    let s = Silences::default();
    let f = || vec![finding(AlertCheck::Skew, "x")];
    e.evaluate(&mut book, &window("m", 1, f()), &s, MIN);
    e.evaluate(&mut book, &window("m", 2, vec![]), &s, 2 * MIN);
    let again = e.evaluate(&mut book, &window("m", 3, f()), &s, 3 * MIN);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].reason, Reason::Fired);
    assert_eq!(book.alerts.values().next().unwrap().started_ms, 3 * MIN);
    e.evaluate(&mut book, &window("m", 4, vec![]), &s, 4 * MIN);
    e.tick(
        &mut book,
        &s,
        4 * MIN + RESOLVED_KEPT.as_millis() as i64 - 1,
    );
    assert_eq!(book.alerts.len(), 1);
    e.tick(&mut book, &s, 4 * MIN + RESOLVED_KEPT.as_millis() as i64);
    assert!(book.alerts.is_empty());
}

#[test]
fn alertmanager_receivers_are_reposted_and_resolved_even_without_send_resolved() {
    let mut r = route("r", 1, 1, &[GroupLabel::Model]);
    r.receivers = vec!["mail".into(), "am".into()];
    r.send_resolved = false;
    let e = Engine::new(
        vec![Route::new(r)],
        [("am".to_string(), Duration::from_secs(60))]
            .into_iter()
            .collect(),
    );
    let mut book = AlertBook::default();
    let s = Silences::default();
    let first = e.evaluate(
        &mut book,
        &window("m", 1, vec![finding(AlertCheck::Skew, "x")]),
        &s,
        MIN,
    );
    assert_eq!(first[0].receivers, ["mail", "am"]);
    assert!(e.tick(&mut book, &s, MIN + 30_000).is_empty());
    let refresh = e.tick(&mut book, &s, 2 * MIN);
    assert_eq!(refresh.len(), 1);
    assert_eq!(refresh[0].reason, Reason::Refresh);
    assert_eq!(refresh[0].receivers, ["am"]);
    let resolved = e.evaluate(&mut book, &window("m", 2, vec![]), &s, 3 * MIN);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].status, Status::Resolved);
    assert_eq!(resolved[0].receivers, ["am"]);
}

#[test]
fn quality_findings_are_a_stream_of_their_own() {
    // One route grouped by model only: a skew alert and a quality alert
    // are still two alerts, and neither stream resolves the other's.
    let e = engine(vec![route("r", 1, 1, &[GroupLabel::Model])]);
    let mut book = AlertBook::default();
    let silences = Silences::default();
    let quality = |seq: u64, present: bool| {
        let mut w = window("credit", seq, vec![]);
        w.stream = FindingStream::Quality;
        if present {
            w.findings.push(finding(AlertCheck::Quality, "accuracy"));
        }
        w
    };
    let skew = |seq: u64| window("credit", seq, vec![finding(AlertCheck::Skew, "income")]);
    let mut sends = |w: &WindowFindings| -> Vec<Status> {
        e.evaluate(&mut book, w, &silences, w.closed_ms)
            .iter()
            .map(|s| s.status)
            .collect()
    };
    assert_eq!(sends(&skew(5)), [Status::Firing]);
    // A window that turned final later, older than the last closed one:
    // evaluated (not dropped as already seen), and it fires on its own.
    assert_eq!(sends(&quality(3, true)), [Status::Firing]);
    // Closed windows without the quality finding do not resolve it...
    assert_eq!(sends(&skew(6)), Vec::<Status>::new());
    // ...a final window without it does, and leaves the skew alert firing.
    assert_eq!(sends(&quality(4, false)), [Status::Resolved]);
    let firing: Vec<(&FindingStream, &AlertState)> = book
        .alerts
        .values()
        .map(|a| (&a.stream, &a.state))
        .collect();
    assert!(
        firing.contains(&(&FindingStream::Windows, &AlertState::Firing)),
        "{firing:?}"
    );
    assert!(
        firing.contains(&(&FindingStream::Quality, &AlertState::Resolved)),
        "{firing:?}"
    );
    // The book (saved as JSON) keeps each alert's stream.
    let text = serde_json::to_string(&book).unwrap();
    let back: AlertBook = serde_json::from_str(&text).unwrap();
    assert_eq!(back, book);
}
