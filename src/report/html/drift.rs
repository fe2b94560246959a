//! The drift and skew page: the verdict and what drifted first, then per
//! feature the reference and current distributions overlaid (histograms on
//! shared bins for numeric features, side-by-side bars for categorical
//! ones) beside the method, score, threshold, p-value, what moved most and
//! the missing shares; prediction drift and slices in their own sections.
//!
//! The distributions are drawn from the two profiles the comparison was
//! computed from (their KLL sketches and value counts), so a page can be
//! rendered wherever a report and its profiles are at hand.

use std::collections::HashMap;
use std::fmt::Write;

use super::profile::{OPEN_UP_TO, TOP_BARS};
use super::{Esc, count, page, pct, search_key, svg, tools};
use crate::checks::compare::{
    Comparison, ComparisonReport, FeatureComparison, FeatureKind, Mode, Verdict, short,
};
use crate::profile::column::ColumnState;
use crate::profile::{ColumnProfile, Profile};

/// Shared bins of the overlaid histograms.
const SHARED_BINS: usize = 20;

/// The comparison as one self-contained HTML page; `reference` and
/// `current` are the profiles it compared (for the distributions).
pub fn comparison_html(
    report: &ComparisonReport,
    reference: &Profile,
    current: &Profile,
) -> String {
    let what = what(report);
    let mut body = format!(
        "<h1>{}</h1>",
        if what == "drift" { "Drift" } else { "Skew" }
    );
    body.push_str(&comparison_body(
        report,
        Some(reference),
        Some(current),
        true,
        "f",
    ));
    page(&format!("assay {what}"), &body)
}

fn what(report: &ComparisonReport) -> &'static str {
    match report.comparison {
        Comparison::Drift => "drift",
        Comparison::Skew => "skew",
    }
}

/// The page's content below its title: inputs, verdict, summary, features
/// (section ids start with `id_prefix`); charts need both profiles, and
/// without one a feature's chart slot says so.
pub(super) fn comparison_body(
    report: &ComparisonReport,
    reference: Option<&Profile>,
    current: Option<&Profile>,
    with_tools: bool,
    id_prefix: &str,
) -> String {
    let what = what(report);
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<p class="meta">reference <code>{}</code> ({} rows) · current <code>{}</code> ({} rows) · {}</p>"#,
        Esc(&report.reference),
        count(report.reference_rows as f64),
        Esc(&report.current),
        count(report.current_rows as f64),
        match report.mode {
            Mode::Exact => "exact: raw values",
            Mode::Profile => "from the profiles' sketches",
        },
    );
    verdict(&mut body, report, what);

    let features = drifted_first(&report.features);
    let (f, p) = (format!("{id_prefix}f"), format!("{id_prefix}p"));
    body.push_str("<h2>Summary</h2>");
    summary_table(&mut body, &features, &f);
    body.push_str("<h2>Features</h2>");
    if features.is_empty() {
        body.push_str(r#"<p class="muted">No feature was compared.</p>"#);
    } else {
        if with_tools {
            tools(&mut body, features.len(), "features");
        }
        let small = features.len() <= OPEN_UP_TO;
        for (i, feature) in features.iter().enumerate() {
            feature_section(
                &mut body,
                feature,
                &format!("{f}{i}"),
                reference,
                current,
                small,
            );
        }
    }
    if !report.predictions.is_empty() {
        let predictions = drifted_first(&report.predictions);
        body.push_str("<h2>Predictions</h2>");
        summary_table(&mut body, &predictions, &p);
        for (i, feature) in predictions.iter().enumerate() {
            feature_section(
                &mut body,
                feature,
                &format!("{p}{i}"),
                reference,
                current,
                true,
            );
        }
    }
    if !report.slices.is_empty() {
        slices(&mut body, report, what);
    }
    not_compared(&mut body, report);
    body
}

fn drifted_first(features: &[FeatureComparison]) -> Vec<&FeatureComparison> {
    let mut sorted: Vec<&FeatureComparison> = features.iter().collect();
    // Stable: within each group the report's order (most severe first) holds.
    sorted.sort_by_key(|f| !f.drifted);
    sorted
}

fn verdict(out: &mut String, report: &ComparisonReport, what: &str) {
    let d = &report.dataset;
    let names: Vec<&str> = report
        .features
        .iter()
        .chain(&report.predictions)
        .filter(|f| f.drifted)
        .map(|f| f.name.as_str())
        .collect();
    let share = format!(
        "{} of {} features ({}; the dataset threshold is more than {})",
        d.drifted,
        d.checked,
        pct(d.share),
        pct(d.max_drifted_share)
    );
    let (class, text) = if d.dataset_drifted {
        ("bad", format!("DATASET {}: {share}", what.to_uppercase()))
    } else if report.drifted() {
        ("warn", format!("{}: {share}", what.to_uppercase()))
    } else {
        ("good", format!("NO {}: {share}", what.to_uppercase()))
    };
    let _ = write!(out, r#"<div class="verdict {class}">{}"#, Esc(&text));
    if !names.is_empty() {
        let shown: Vec<String> = names.iter().take(10).map(|n| Esc(n).to_string()).collect();
        let more = if names.len() > 10 {
            format!(" and {} more", names.len() - 10)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r#"<br><span class="muted">drifted: {}{more}</span>"#,
            shown.join(", ")
        );
    }
    out.push_str("</div>");
}

fn verdict_tag(f: &FeatureComparison) -> (&'static str, &'static str) {
    match f.verdict {
        Verdict::Drift => ("bad", "drift"),
        Verdict::NoDrift => ("good", "ok"),
        Verdict::InsufficientData => ("none", "insufficient data"),
        Verdict::Error => ("warn", "error"),
    }
}

fn p_value(f: &FeatureComparison) -> String {
    let text = crate::report::comparison::p_value_text(f);
    if text.is_empty() { "–".into() } else { text }
}

fn score(f: &FeatureComparison) -> String {
    match f.statistic {
        Some(s) => format!("{}{}", if f.approximate { "≈ " } else { "" }, short(s)),
        None => "–".into(),
    }
}

fn summary_table(out: &mut String, features: &[&FeatureComparison], prefix: &str) {
    if features.is_empty() {
        return;
    }
    out.push_str(r#"<div style="overflow-x:auto"><table id="summary-"#);
    out.push_str(prefix);
    out.push_str(r#""><tr><th>feature</th><th>verdict</th><th>method</th><th class="n">score</th><th class="n">threshold</th><th class="n">p-value</th><th>missing ref → cur</th><th>moved most</th></tr>"#);
    for (i, f) in features.iter().enumerate() {
        let (class, word) = verdict_tag(f);
        let moved = f
            .contributors
            .first()
            .map(|c| format!("{}: {} → {}", c.value, pct(c.reference), pct(c.current)))
            .unwrap_or_default();
        let _ = write!(
            out,
            r##"<tr><td><a href="#{prefix}{i}">{}</a></td><td><span class="tag {class}">{word}</span></td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{} → {}</td><td>{}</td></tr>"##,
            Esc(&f.name),
            f.method.as_str(),
            score(f),
            short(f.threshold),
            p_value(f),
            pct(f.missing.reference),
            pct(f.missing.current),
            Esc(&moved),
        );
    }
    out.push_str("</table></div>");
}

fn feature_section(
    out: &mut String,
    f: &FeatureComparison,
    id: &str,
    reference: Option<&Profile>,
    current: Option<&Profile>,
    small: bool,
) {
    let (class, word) = verdict_tag(f);
    let open = small || f.drifted;
    let _ = write!(
        out,
        r#"<details class="feature" data-name="{key}" id="{id}"{open}><summary><span class="name">{name}</span> <span class="tag {class}">{word}</span><span class="sub">{kind} · {method} {score} (threshold {threshold})</span></summary><div class="body"><div>"#,
        key = Esc(&search_key(&f.name)),
        name = Esc(&f.name),
        open = if open { " open" } else { "" },
        kind = f.kind.as_str(),
        method = f.method.as_str(),
        score = score(f),
        threshold = short(f.threshold),
    );
    out.push_str(&chart(
        f,
        reference.and_then(|p| p.column(&f.name)),
        current.and_then(|p| p.column(&f.name)),
    ));
    out.push_str("</div><div>");
    details(out, f);
    out.push_str("</div></div></details>\n");
}

fn details(out: &mut String, f: &FeatureComparison) {
    let mut rows: Vec<(&str, String)> = vec![
        (
            "method",
            format!(
                "{}{}",
                f.method.as_str(),
                if f.default_method { " (default)" } else { "" }
            ),
        ),
        ("score", score(f)),
        ("threshold", short(f.threshold)),
        ("p-value", p_value(f)),
    ];
    if let Some(s) = f.significance {
        rows.push((
            "significance",
            format!(
                "{} p = {}{} (significant below {})",
                s.method.as_str(),
                short(s.p_value),
                s.p_value_adjusted
                    .map(|a| format!(", adjusted {}", short(a)))
                    .unwrap_or_default(),
                short(s.threshold)
            ),
        ));
    }
    if let Some(e) = f.effect {
        rows.push((
            "effect",
            format!(
                "{} {} (at least {})",
                e.method.as_str(),
                short(e.statistic),
                short(e.min)
            ),
        ));
    }
    rows.push((
        "values compared",
        format!(
            "{} reference, {} current",
            count(f.reference_count as f64),
            count(f.current_count as f64)
        ),
    ));
    rows.push((
        "missing",
        format!(
            "{} → {}{}",
            pct(f.missing.reference),
            pct(f.missing.current),
            if f.missing.changed() {
                " (changed)"
            } else {
                ""
            }
        ),
    ));
    if let Some(e) = &f.error {
        rows.push(("note", e.clone()));
    }
    super::key_values(out, &rows);
    if !f.contributors.is_empty() {
        out.push_str(r#"<table><tr><th>moved most</th><th class="n">reference</th><th class="n">current</th></tr>"#);
        for c in &f.contributors {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                Esc(&c.value),
                pct(c.reference),
                pct(c.current)
            );
        }
        out.push_str("</table>");
    }
    if let Some(methods) = &f.methods {
        out.push_str(r#"<table><tr><th>all methods</th><th class="n">score</th><th class="n">p-value</th></tr>"#);
        for m in methods {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                m.method.as_str(),
                m.statistic
                    .map(short)
                    .unwrap_or_else(|| Esc(m.error.as_deref().unwrap_or("–")).to_string()),
                m.p_value.map(short).unwrap_or_else(|| "–".into()),
            );
        }
        out.push_str("</table>");
    }
}

/// The feature's two distributions in one chart.
fn chart(
    f: &FeatureComparison,
    reference: Option<&ColumnProfile>,
    current: Option<&ColumnProfile>,
) -> String {
    let name = &f.name;
    let (Some(r), Some(c)) = (reference, current) else {
        return svg::empty(
            &format!("{name}: no distributions (not in both profiles)"),
            "no distributions to draw",
        );
    };
    match f.kind {
        FeatureKind::Numeric => match shared_bins(r, c) {
            Some((edges, rs, cs)) => {
                let alt = format!(
                    "{name}: reference and current histograms on {} shared bins from {} to {}; {}",
                    rs.len(),
                    short(edges[0]),
                    short(edges[edges.len() - 1]),
                    moved_text(f)
                );
                svg::overlaid_histograms(&alt, &edges, &rs, &cs)
            }
            None => svg::empty(
                &format!("{name}: no values to draw on one side"),
                "no values to draw",
            ),
        },
        FeatureKind::Categorical => {
            let rows = category_rows(r, c);
            let alt = format!(
                "{name}: reference and current shares of {} categories side by side; {}",
                rows.len(),
                moved_text(f)
            );
            svg::paired_bars(&alt, &rows)
        }
    }
}

fn moved_text(f: &FeatureComparison) -> String {
    f.contributors
        .first()
        .map(|c| {
            format!(
                "moved most: {} from {} to {}",
                c.value,
                pct(c.reference),
                pct(c.current)
            )
        })
        .unwrap_or_else(|| "nothing moved".into())
}

fn kll(c: &ColumnProfile) -> Option<&crate::profile::kll::Kll> {
    match &c.state {
        ColumnState::Float(n) | ColumnState::Temporal(n) => Some(&n.kll),
        ColumnState::Int { numeric, .. } => Some(&numeric.kll),
        _ => None,
    }
}

/// Equal-width bins shared by both sides, from the lower of the two 1st
/// percentiles to the higher of the two 99th (values beyond fall in the
/// outer bins, so one extreme value does not squash the picture), and each
/// side's share of values per bin, from its KLL sketch.
type SharedBins = (Vec<f64>, Vec<f64>, Vec<f64>);

fn shared_bins(reference: &ColumnProfile, current: &ColumnProfile) -> Option<SharedBins> {
    let (rk, ck) = (kll(reference)?, kll(current)?);
    let (rv, cv) = (rk.view(), ck.view());
    let bound = |rank: f64, pick: fn(f64, f64) -> f64| -> Option<f64> {
        let a = rv.quantile(rank).filter(|v| v.is_finite());
        let b = cv.quantile(rank).filter(|v| v.is_finite());
        match (a, b) {
            (Some(a), Some(b)) => Some(pick(a, b)),
            (a, b) => a.or(b),
        }
    };
    let (mut low, mut high) = (bound(0.01, f64::min)?, bound(0.99, f64::max)?);
    if high <= low {
        // A (nearly) constant feature: widen to the full range, or one bin.
        low = bound(0.0, f64::min)?;
        high = bound(1.0, f64::max)?;
    }
    let bins = if high > low { SHARED_BINS } else { 1 };
    let width = (high - low) / bins as f64;
    let edges: Vec<f64> = (0..=bins)
        .map(|i| {
            if i == bins {
                high
            } else {
                low + width * i as f64
            }
        })
        .collect();
    let inner = &edges[1..bins];
    let shares = |view: &crate::profile::kll::KllView| -> Vec<f64> {
        let cdf = if inner.is_empty() {
            Vec::new()
        } else {
            view.cdf(inner).unwrap_or_default()
        };
        let mut out = Vec::with_capacity(bins);
        let mut prev = 0.0;
        for i in 0..bins {
            let rank = if i + 1 == bins {
                1.0
            } else {
                cdf.get(i).copied().unwrap_or(prev)
            };
            out.push((rank - prev).max(0.0));
            prev = rank;
        }
        out
    };
    Some((edges.clone(), shares(&rv), shares(&cv)))
}

/// The categories of both sides with their shares, the largest first (at
/// most [`TOP_BARS`]), and one "(other)" row for the rest.
fn category_rows(reference: &ColumnProfile, current: &ColumnProfile) -> Vec<(String, f64, f64)> {
    let counts = |c: &ColumnProfile| -> Vec<(String, f64)> {
        if let (Some(t), Some(f)) = (c.true_count, c.false_count) {
            return vec![("true".into(), t as f64), ("false".into(), f as f64)];
        }
        c.top
            .iter()
            .flatten()
            .map(|v| (v.value.clone(), v.count as f64))
            .collect()
    };
    let share_map = |c: &ColumnProfile| -> HashMap<String, f64> {
        let total = c.count.max(1) as f64;
        counts(c).into_iter().map(|(v, n)| (v, n / total)).collect()
    };
    let (rs, cs) = (share_map(reference), share_map(current));
    let mut keys: Vec<&String> = rs.keys().chain(cs.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<(String, f64, f64)> = keys
        .into_iter()
        .map(|k| {
            (
                k.clone(),
                rs.get(k).copied().unwrap_or(0.0),
                cs.get(k).copied().unwrap_or(0.0),
            )
        })
        .collect();
    rows.sort_by(|a, b| {
        b.1.max(b.2)
            .total_cmp(&a.1.max(a.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    if rows.len() > TOP_BARS {
        rows.truncate(TOP_BARS);
    }
    let (shown_r, shown_c) = rows.iter().fold((0.0, 0.0), |(a, b), r| (a + r.1, b + r.2));
    let (other_r, other_c) = ((1.0 - shown_r).max(0.0), (1.0 - shown_c).max(0.0));
    if other_r > 1e-9 || other_c > 1e-9 {
        rows.push(("(other)".into(), other_r, other_c));
    }
    rows
}

fn slices(out: &mut String, report: &ComparisonReport, what: &str) {
    out.push_str(r#"<h2>Slices</h2><table><tr><th>slice</th><th class="n">rows ref → cur</th><th>verdict</th><th>drifted features</th></tr>"#);
    for s in &report.slices {
        let drifted: Vec<String> = s
            .features
            .iter()
            .chain(&s.predictions)
            .filter(|f| f.drifted)
            .map(|f| Esc(&f.name).to_string())
            .collect();
        let (class, word) = if s.dataset.dataset_drifted {
            ("bad", format!("dataset {what}"))
        } else if !drifted.is_empty() {
            ("warn", what.to_string())
        } else {
            ("good", "ok".to_string())
        };
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{} → {}</td><td><span class="tag {class}">{word}</span> {} of {}</td><td>{}</td></tr>"#,
            Esc(&s.slice),
            count(s.reference_rows as f64),
            count(s.current_rows as f64),
            s.dataset.drifted,
            s.dataset.checked,
            drifted.join(", ")
        );
    }
    out.push_str("</table>");
}

fn not_compared(out: &mut String, report: &ComparisonReport) {
    let mut items: Vec<String> = report
        .skipped
        .iter()
        .map(|s| format!("<code>{}</code>: {}", Esc(&s.name), Esc(&s.reason)))
        .collect();
    items.extend(
        report
            .missing_in_current
            .iter()
            .map(|n| format!("<code>{}</code>: only in the reference", Esc(n))),
    );
    items.extend(
        report
            .missing_in_reference
            .iter()
            .map(|n| format!("<code>{}</code>: only in the current data", Esc(n))),
    );
    items.extend(
        report
            .unmatched_slices
            .iter()
            .map(|n| format!("slice <code>{}</code>: on one side only", Esc(n))),
    );
    if items.is_empty() {
        return;
    }
    out.push_str("<h2>Not compared</h2><ul>");
    for i in items {
        let _ = write!(out, "<li>{i}</li>");
    }
    out.push_str("</ul>");
}
