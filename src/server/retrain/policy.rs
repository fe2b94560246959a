//! The retrain policy as pure functions: what a window's findings (or the
//! clock, or a person) decide, given the policy and its state. No I/O: the
//! caller (`server::retrain`) persists the state, counts and logs each
//! decision and queues the webhook of a fired one.
//!
//! - Each trigger in `on` is judged on the evidence that covers it: a
//!   closed window covers `skew` and `drift`, a window whose quality turned
//!   final covers `quality` and `fairness`.
//! - `skew`/`drift`: the whole dataset's drifted features (slices count
//!   through their own dataset-level figures only in the report), counting
//!   only `features` when that list is given; met at
//!   `min_drifted_features`.
//! - `quality`: a `quality_degraded` finding; with `max_quality_drop`, only
//!   one on the whole data whose change exceeds it. `fairness`: any
//!   fairness finding.
//! - A condition must hold on `consecutive_windows` windows in a row (a
//!   window where it does not resets the count): until then the decision
//!   is `skipped`.
//! - A met condition fires unless a retrain is in flight (not answered,
//!   younger than `timeout`): `suppressed_in_flight`; or the last one fired
//!   less than `cooldown` ago: `suppressed_cooldown`. At most one fires per
//!   evidence; the others met with it are suppressed as in flight.
//! - `manual` ignores the cooldown (a person asked) but not a retrain in
//!   flight; `schedule` fires at each cron time, under both gates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::Finding;
use crate::server::config::{RetrainConfig, Trigger};

/// What a decision came to (the `outcome` label of
/// `assay_retrain_triggers_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Fired,
    SuppressedCooldown,
    SuppressedInFlight,
    Skipped,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Fired,
        Outcome::SuppressedCooldown,
        Outcome::SuppressedInFlight,
        Outcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fired => "fired",
            Self::SuppressedCooldown => "suppressed_cooldown",
            Self::SuppressedInFlight => "suppressed_in_flight",
            Self::Skipped => "skipped",
        }
    }
}

/// The window evidence came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpan {
    pub id: String,
    /// RFC 3339.
    pub start: String,
    pub end: String,
}

/// A window's findings, by the trigger they speak to.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub window: WindowSpan,
    /// The triggers this evidence covers (judged even with no findings: a
    /// clean window breaks a run of consecutive windows).
    pub covers: Vec<Trigger>,
    pub findings: BTreeMap<Trigger, Vec<Finding>>,
}

/// A retrain asked for and not answered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub delivery_id: String,
    pub since_ms: i64,
    pub trigger: Trigger,
}

/// What the policy remembers (persisted: a restart keeps cooldowns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyState {
    /// Windows in a row whose condition held, per trigger.
    #[serde(default)]
    pub consecutive: BTreeMap<Trigger, u64>,
    /// The first window of each run (the webhook's `windows.from`).
    #[serde(default)]
    pub run_start: BTreeMap<Trigger, WindowSpan>,
    #[serde(default)]
    pub last_fired_ms: Option<i64>,
    #[serde(default)]
    pub in_flight: Option<InFlight>,
    /// The last cron time the schedule was judged at (ms).
    #[serde(default)]
    pub schedule_checked_ms: Option<i64>,
    /// The newest window whose final quality was judged (its sequence).
    #[serde(default)]
    pub quality_judged: u64,
    /// The champion the last promoting job reported (`POST …/retrain/result`):
    /// `{"version", "path", "metrics", "delivery_id", "promoted_at",
    /// "source": "result"}`; the webhook's `champion` (over the config's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion: Option<serde_json::Value>,
}

/// One decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub trigger: Trigger,
    pub outcome: Outcome,
    /// Why, in a sentence (logged).
    pub detail: String,
    /// The findings that met (or nearly met) the condition.
    pub findings: Vec<Finding>,
    /// The windows the condition held on (first and last), when it came
    /// from windows.
    pub windows: Option<(WindowSpan, WindowSpan)>,
}

/// Whether a retrain is in flight at `now_ms` (one older than `timeout`
/// no longer counts).
pub fn in_flight<'a>(
    config: &RetrainConfig,
    state: &'a PolicyState,
    now_ms: i64,
) -> Option<&'a InFlight> {
    state.in_flight.as_ref().filter(|f| {
        now_ms
            < f.since_ms
                .saturating_add(config.timeout_seconds as i64 * 1000)
    })
}

/// The gates of a met condition; fires (updating the state) when both let
/// it through.
fn gate(
    config: &RetrainConfig,
    state: &mut PolicyState,
    trigger: Trigger,
    now_ms: i64,
    delivery_id: &str,
    cooldown: bool,
) -> (Outcome, String) {
    if let Some(f) = in_flight(config, state, now_ms) {
        return (
            Outcome::SuppressedInFlight,
            format!("a retrain is in flight (delivery {})", f.delivery_id),
        );
    }
    if cooldown
        && let Some(last) = state.last_fired_ms
        && now_ms < last.saturating_add(config.cooldown_seconds as i64 * 1000)
    {
        let left = (last + config.cooldown_seconds as i64 * 1000 - now_ms) / 1000;
        return (
            Outcome::SuppressedCooldown,
            format!("within the cooldown ({left} s left)"),
        );
    }
    state.last_fired_ms = Some(now_ms);
    state.in_flight = Some(InFlight {
        delivery_id: delivery_id.to_string(),
        since_ms: now_ms,
        trigger,
    });
    (Outcome::Fired, "retrain requested".into())
}

/// The findings that count for `trigger`, and whether they meet its
/// condition (with why not).
fn condition(
    config: &RetrainConfig,
    trigger: Trigger,
    all: &[Finding],
) -> (Vec<Finding>, bool, String) {
    match trigger {
        Trigger::Skew | Trigger::Drift => {
            let mut features: Vec<&str> = Vec::new();
            let counted: Vec<Finding> = all
                .iter()
                .filter(|f| f.slice.is_none())
                .filter(|f| {
                    f.feature.as_deref().is_some_and(|name| {
                        config.features.is_empty() || config.features.iter().any(|c| c == name)
                    })
                })
                .cloned()
                .collect();
            for f in &counted {
                if let Some(name) = f.feature.as_deref()
                    && !features.contains(&name)
                {
                    features.push(name);
                }
            }
            let met = features.len() as u64 >= config.min_drifted_features;
            let detail = format!(
                "{} drifted feature(s){} of {} needed",
                features.len(),
                if config.features.is_empty() {
                    String::new()
                } else {
                    " among `features`".into()
                },
                config.min_drifted_features
            );
            (counted, met, detail)
        }
        Trigger::Quality => {
            let degraded: Vec<Finding> = all
                .iter()
                .filter(|f| f.kind.as_str() == "quality_degraded")
                .filter(|f| match config.max_quality_drop {
                    None => true,
                    Some(max) => {
                        f.slice.is_none()
                            && f.observed
                                .get("change")
                                .and_then(|c| c.as_f64())
                                .is_some_and(|c| c.abs() > max)
                    }
                })
                .cloned()
                .collect();
            let met = !degraded.is_empty();
            let detail = match config.max_quality_drop {
                Some(max) => format!("{} metric(s) dropped by more than {max}", degraded.len()),
                None => format!("{} quality finding(s)", degraded.len()),
            };
            // Findings that did not meet the bar are still shown when
            // skipped.
            let shown = if met { degraded } else { all.to_vec() };
            (shown, met, detail)
        }
        Trigger::Fairness => {
            let met = !all.is_empty();
            (
                all.to_vec(),
                met,
                format!("{} fairness finding(s)", all.len()),
            )
        }
        Trigger::Schedule | Trigger::Manual => (Vec::new(), true, String::new()),
    }
}

/// Judges a window's evidence: one decision per trigger in `on` that the
/// evidence covers and that had findings or a run going; no decision for a
/// covered trigger with nothing to say (its run is reset silently).
/// `delivery_id` names the retrain if one fires.
pub fn judge_window(
    config: &RetrainConfig,
    state: &PolicyState,
    evidence: &Evidence,
    now_ms: i64,
    delivery_id: &str,
) -> (Vec<Decision>, PolicyState) {
    let mut state = state.clone();
    let mut decisions = Vec::new();
    for trigger in config.on.iter().copied() {
        if !evidence.covers.contains(&trigger) {
            continue;
        }
        let all = evidence
            .findings
            .get(&trigger)
            .map_or(&[][..], Vec::as_slice);
        let (findings, met, detail) = condition(config, trigger, all);
        if !met {
            state.consecutive.remove(&trigger);
            state.run_start.remove(&trigger);
            if !findings.is_empty() {
                decisions.push(Decision {
                    trigger,
                    outcome: Outcome::Skipped,
                    detail,
                    findings,
                    windows: None,
                });
            }
            continue;
        }
        let run = state.consecutive.entry(trigger).or_insert(0);
        *run += 1;
        let run = *run;
        let first = state
            .run_start
            .entry(trigger)
            .or_insert_with(|| evidence.window.clone())
            .clone();
        let windows = Some((first, evidence.window.clone()));
        if run < config.consecutive_windows {
            decisions.push(Decision {
                trigger,
                outcome: Outcome::Skipped,
                detail: format!(
                    "{detail}; {run} of {} consecutive windows",
                    config.consecutive_windows
                ),
                findings,
                windows,
            });
            continue;
        }
        let (outcome, why) = gate(config, &mut state, trigger, now_ms, delivery_id, true);
        if outcome == Outcome::Fired {
            // The next retrain needs a fresh run of windows.
            state.consecutive.remove(&trigger);
            state.run_start.remove(&trigger);
        }
        decisions.push(Decision {
            trigger,
            outcome,
            detail: format!("{detail}: {why}"),
            findings,
            windows,
        });
    }
    (decisions, state)
}

/// `POST /v1/models/NAME/retrain`: fires unless a retrain is in flight
/// (the cooldown does not apply to a person's request).
pub fn judge_manual(
    config: &RetrainConfig,
    state: &PolicyState,
    now_ms: i64,
    delivery_id: &str,
) -> (Decision, PolicyState) {
    let mut state = state.clone();
    let (outcome, detail) = if config.on.contains(&Trigger::Manual) {
        gate(
            config,
            &mut state,
            Trigger::Manual,
            now_ms,
            delivery_id,
            false,
        )
    } else {
        (
            Outcome::Skipped,
            "\"manual\" is not in the policy's `on`".into(),
        )
    };
    (
        Decision {
            trigger: Trigger::Manual,
            outcome,
            detail,
            findings: Vec::new(),
            windows: None,
        },
        state,
    )
}

/// The schedule at `now_ms`: a decision when a cron time passed since it
/// was last judged (several missed times count as one). The first call
/// only starts the clock.
pub fn judge_schedule(
    config: &RetrainConfig,
    schedule: &cron::Schedule,
    state: &PolicyState,
    now_ms: i64,
    delivery_id: &str,
) -> (Option<Decision>, PolicyState) {
    let mut state = state.clone();
    let Some(since) = state.schedule_checked_ms else {
        state.schedule_checked_ms = Some(now_ms);
        return (None, state);
    };
    let Some(since_t) = chrono::DateTime::from_timestamp_millis(since) else {
        state.schedule_checked_ms = Some(now_ms);
        return (None, state);
    };
    let due = schedule
        .after(&since_t)
        .next()
        .is_some_and(|t| t.timestamp_millis() <= now_ms);
    if !due {
        return (None, state);
    }
    state.schedule_checked_ms = Some(now_ms);
    let (outcome, detail) = gate(
        config,
        &mut state,
        Trigger::Schedule,
        now_ms,
        delivery_id,
        true,
    );
    (
        Some(Decision {
            trigger: Trigger::Schedule,
            outcome,
            detail: format!("scheduled: {detail}"),
            findings: Vec::new(),
            windows: None,
        }),
        state,
    )
}

/// The job's answer: the retrain `delivery_id` is no longer in flight.
/// Whether it was the one in flight.
pub fn finished(state: &mut PolicyState, delivery_id: &str) -> bool {
    if state
        .in_flight
        .as_ref()
        .is_some_and(|f| f.delivery_id == delivery_id)
    {
        state.in_flight = None;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests;
