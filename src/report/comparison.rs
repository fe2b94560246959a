//! Rendering of skew and drift reports: a readable table per comparison,
//! and the JSON document (the report plus its findings).

use std::fmt::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::checks::Finding;
use crate::checks::compare::{
    Comparison, ComparisonReport, DatasetVerdict, FeatureComparison, Mode, Verdict, short,
};

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec![
            "feature",
            "kind",
            "method",
            "score",
            "p-value",
            "threshold",
            "verdict",
            "missing ref → cur",
            "most moved",
        ]);
    table
}

/// The p-value a feature's verdict rests on: the method's own, or that of
/// the test gating a distance (named), with its adjusted value; empty
/// when there is none. The terminal table and the HTML page both show it.
pub(crate) fn p_value_text(f: &FeatureComparison) -> String {
    match (f.p_value, f.p_value_adjusted, f.significance) {
        (Some(p), Some(a), _) => format!("{} (adj {})", short(p), short(a)),
        (Some(p), None, _) => short(p),
        (None, _, Some(s)) => match s.p_value_adjusted {
            Some(a) => format!("{} {} (adj {})", s.method, short(s.p_value), short(a)),
            None => format!("{} {}", s.method, short(s.p_value)),
        },
        (None, _, None) => String::new(),
    }
}

fn row(f: &FeatureComparison) -> Vec<String> {
    let approx = if f.approximate { "≈" } else { "" };
    let p = p_value_text(f);
    let mut verdict = f.verdict.as_str().to_uppercase();
    if f.verdict == Verdict::NoDrift
        && let Some(e) = f.effect
        && f.p_value.is_some()
        && e.statistic < e.min
        && f.p_value_adjusted
            .or(f.p_value)
            .is_some_and(|p| p < f.threshold)
    {
        verdict = format!("no drift (effect {} < {})", short(e.statistic), e.min);
    } else if f.verdict == Verdict::NoDrift
        && let Some(s) = f.significance
        && f.statistic.is_some_and(|d| d >= f.threshold)
        && !s.significant()
    {
        verdict = format!(
            "no drift (not significant: {} p >= {})",
            s.method, s.threshold
        );
    } else if matches!(f.verdict, Verdict::Error | Verdict::InsufficientData) {
        verdict = format!(
            "{}: {}",
            f.verdict.as_str(),
            f.error.clone().unwrap_or_default()
        );
    } else if f.verdict == Verdict::NoDrift {
        verdict = "ok".into();
    }
    let moved = f
        .contributors
        .first()
        .map(|c| {
            format!(
                "{} {:.1}% → {:.1}%",
                c.value,
                c.reference * 100.0,
                c.current * 100.0
            )
        })
        .unwrap_or_default();
    let default = if f.default_method { "" } else { "*" };
    vec![
        f.name.clone(),
        f.kind.as_str().into(),
        format!("{}{default}", f.method),
        f.statistic
            .map(|s| format!("{approx}{}", short(s)))
            .unwrap_or_default(),
        p,
        f.threshold.to_string(),
        verdict,
        format!(
            "{:.1}% → {:.1}%",
            f.missing.reference * 100.0,
            f.missing.current * 100.0
        ),
        moved,
    ]
}

fn section(out: &mut String, title: &str, features: &[FeatureComparison]) {
    if features.is_empty() {
        return;
    }
    let mut table = new_table();
    for f in features {
        table.add_row(row(f));
    }
    writeln!(out, "{title}\n{table}").ok();
}

fn verdict_line(out: &mut String, what: &str, d: &DatasetVerdict, verb: &str) {
    writeln!(
        out,
        "{what}: {} of {} checked features {verb} ({:.0}%; dataset {verb} above {:.0}%){}{}",
        d.drifted,
        d.checked,
        d.share * 100.0,
        d.max_drifted_share * 100.0,
        if d.insufficient_data > 0 {
            format!("; {} with insufficient data", d.insufficient_data)
        } else {
            String::new()
        },
        if d.dataset_drifted {
            format!(" → DATASET {}", verb.to_uppercase())
        } else {
            String::new()
        }
    )
    .ok();
}

/// The readable report: features, then predictions, per dataset and slice.
pub fn comparison_table(report: &ComparisonReport) -> String {
    let verb = match report.comparison {
        Comparison::Skew => "skewed",
        Comparison::Drift => "drifted",
    };
    let mut out = String::new();
    writeln!(
        out,
        "{} of {} ({} rows) against {} ({} rows), {} mode",
        report.comparison.as_str(),
        report.current,
        report.current_rows,
        report.reference,
        report.reference_rows,
        match report.mode {
            Mode::Exact => "exact",
            Mode::Profile => "profile (≈: sketch estimate)",
        }
    )
    .ok();
    section(&mut out, "Features", &report.features);
    section(
        &mut out,
        "Model outputs (prediction drift)",
        &report.predictions,
    );
    verdict_line(&mut out, "Dataset", &report.dataset, verb);
    for s in &report.slices {
        writeln!(out).ok();
        section(
            &mut out,
            &format!(
                "Slice {} ({} → {} rows)",
                s.slice, s.reference_rows, s.current_rows
            ),
            &s.features,
        );
        section(
            &mut out,
            &format!("Slice {}: model outputs", s.slice),
            &s.predictions,
        );
        verdict_line(&mut out, &format!("Slice {}", s.slice), &s.dataset, verb);
    }
    if !report.skipped.is_empty() {
        writeln!(out, "\nNot compared:").ok();
        for s in &report.skipped {
            writeln!(out, "  {}: {}", s.name, s.reason).ok();
        }
    }
    for (names, side) in [
        (&report.missing_in_current, "current"),
        (&report.missing_in_reference, "reference"),
    ] {
        if !names.is_empty() {
            writeln!(out, "Missing from the {side} data: {}", names.join(", ")).ok();
        }
    }
    if !report.unmatched_slices.is_empty() {
        writeln!(
            out,
            "Slices on one side only: {}",
            report.unmatched_slices.join(", ")
        )
        .ok();
    }
    writeln!(
        out,
        "* = method set by --method or the schema. Drift: distance >= threshold with a significant test (ks, or chi2_contingency for categories; p adjusted across features < 0.05), or p < threshold (adjusted) with an effect >= min_effect."
    )
    .ok();
    out
}

/// The JSON document of a comparison: the report, `success`, and its
/// findings in the validation report's shape.
#[derive(Serialize)]
pub struct ComparisonJson<'a> {
    #[serde(flatten)]
    report: &'a ComparisonReport,
    success: bool,
    findings: Vec<Finding>,
}

/// The report as its JSON document, serialised straight from the report
/// (going through a `serde_json::Value` first was most of what a daemon
/// window close spent on its report).
pub fn comparison_json(report: &ComparisonReport) -> ComparisonJson<'_> {
    ComparisonJson {
        report,
        success: !report.drifted(),
        findings: report.findings(),
    }
}
