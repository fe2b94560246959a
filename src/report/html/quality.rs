//! The model quality and fairness pages (`assay quality`, `assay fairness`
//! with `--format html`): the verdict from the findings first, then the
//! metrics with their 95% intervals, a chart of the headline metric per
//! slice or group with its interval, and the tables of the text report.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Esc, count, page, svg};
use crate::checks::compare::short;
use crate::checks::{Finding, Severity};
use crate::quality::report::{Disparities, GroupEntry, Metrics, group_name};
use crate::quality::{FairnessReport, QualityReport};

/// Metric columns in the slice and group tables (the rest are in JSON).
const TABLE_METRICS: usize = 8;
/// Bars in a per-slice or per-group chart.
const CHART_ROWS: usize = 20;

fn verdict(out: &mut String, findings: &[Finding]) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let (class, text) = if errors > 0 {
        ("bad", format!("FAILED: {errors} finding{}", plural(errors)))
    } else if !findings.is_empty() {
        (
            "warn",
            format!(
                "WARNINGS: {} finding{}",
                findings.len(),
                plural(findings.len())
            ),
        )
    } else {
        ("good", "OK: no finding".to_string())
    };
    let _ = write!(out, r#"<div class="verdict {class}">{}</div>"#, Esc(&text));
    if !findings.is_empty() {
        out.push_str(
            "<table><tr><th>severity</th><th>finding</th><th>where</th><th>what</th></tr>",
        );
        for f in findings {
            let class = if f.severity == Severity::Error {
                "bad"
            } else {
                "warn"
            };
            let place = [f.feature.as_deref(), f.slice.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            let _ = write!(
                out,
                r#"<tr><td><span class="tag {class}">{}</span></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>"#,
                f.severity.as_str(),
                f.kind.as_str(),
                Esc(&place),
                Esc(&f.explanation)
            );
        }
        out.push_str("</table>");
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn value(v: Option<f64>) -> String {
    v.map(short).unwrap_or_else(|| "undefined".into())
}

fn interval(ci: Option<&[f64; 2]>) -> String {
    ci.map(|[lo, hi]| format!("{} – {}", short(*lo), short(*hi)))
        .unwrap_or_default()
}

fn metrics_table(out: &mut String, metrics: &Metrics, intervals: &BTreeMap<String, [f64; 2]>) {
    out.push_str(
        r#"<table><tr><th>metric</th><th class="n">value</th><th class="n">95% interval</th></tr>"#,
    );
    for (name, v) in metrics.iter() {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            Esc(name),
            value(v),
            interval(intervals.get(name))
        );
    }
    out.push_str("</table>");
}

/// The first defined metric: what the per-slice chart shows.
fn headline(metrics: &Metrics) -> Option<&str> {
    metrics.iter().find(|(_, v)| v.is_some()).map(|(n, _)| n)
}

/// A table with one row per entry and a column per metric (at most
/// [`TABLE_METRICS`]).
fn entries_table<'a>(
    out: &mut String,
    first: &str,
    names: &[&str],
    rows: impl Iterator<Item = (String, String, &'a Metrics)>,
) {
    let _ = write!(
        out,
        r#"<div style="overflow-x:auto"><table><tr><th>{first}</th><th class="n">rows</th>"#
    );
    for n in names {
        let _ = write!(out, r#"<th class="n">{}</th>"#, Esc(n));
    }
    out.push_str("</tr>");
    for (label, rows, metrics) in rows {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{rows}</td>"#,
            Esc(&label)
        );
        for n in names {
            let _ = write!(out, r#"<td class="n">{}</td>"#, value(metrics.get(n)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>");
}

/// `assay quality`'s report as one self-contained HTML page; `data` names
/// the inputs.
pub fn quality_html(report: &QualityReport, data: &str) -> String {
    let s = &report.summary;
    let mut body = String::from("<h1>Model quality</h1>");
    let _ = write!(
        body,
        r#"<p class="meta"><code>{}</code> · {} · label <code>{}</code>{}{}{} · {} rows, {} labelled</p>"#,
        Esc(data),
        report.task.as_str(),
        Esc(&report.label),
        report
            .prediction
            .as_deref()
            .map(|p| format!(" · prediction <code>{}</code>", Esc(p)))
            .unwrap_or_default(),
        if report.scores.is_empty() {
            String::new()
        } else {
            format!(" · scores <code>{}</code>", Esc(&report.scores.join(", ")))
        },
        report
            .positive_class
            .as_deref()
            .map(|p| format!(" · positive class <code>{}</code>", Esc(p)))
            .unwrap_or_default(),
        count(s.rows as f64),
        count(s.labelled as f64),
    );
    verdict(&mut body, &report.findings);
    body.push_str(r#"<h2>Overall</h2><div class="body"><div>"#);
    metrics_table(&mut body, &s.metrics, &s.intervals);
    body.push_str("</div><div>");
    if let Some(name) = headline(&s.metrics) {
        let mut rows = vec![(
            "overall".to_string(),
            s.metrics.get(name).unwrap_or(0.0),
            s.intervals.get(name).copied(),
        )];
        rows.extend(report.slices.iter().take(CHART_ROWS - 1).filter_map(|sl| {
            Some((
                sl.slice.clone(),
                sl.summary.metrics.get(name)?,
                sl.summary.intervals.get(name).copied(),
            ))
        }));
        let alt = format!(
            "{name} overall and per slice with 95% intervals: overall {}",
            value(s.metrics.get(name))
        );
        body.push_str(&svg::value_bars(&alt, &rows));
    }
    if let Some(cm) = &s.confusion_matrix {
        body.push_str(r#"<table><tr><th>label \ predicted</th>"#);
        for l in &cm.labels {
            let _ = write!(body, r#"<th class="n">{}</th>"#, Esc(l));
        }
        body.push_str("</tr>");
        for (l, row) in cm.labels.iter().zip(&cm.matrix) {
            let _ = write!(body, "<tr><th>{}</th>", Esc(l));
            for c in row {
                let _ = write!(body, r#"<td class="n">{}</td>"#, count(*c as f64));
            }
            body.push_str("</tr>");
        }
        body.push_str("</table>");
    }
    body.push_str("</div></div>");
    if let Some(e) = &report.estimated {
        let _ = write!(
            body,
            r#"<h2>Estimated from the scores ({}, {} rows)</h2>"#,
            Esc(&e.method),
            count(e.rows as f64)
        );
        metrics_table(&mut body, &e.metrics, &e.intervals);
    }
    if !report.slices.is_empty() {
        body.push_str("<h2>Slices</h2>");
        let names: Vec<&str> = s
            .metrics
            .iter()
            .map(|(n, _)| n)
            .take(TABLE_METRICS)
            .collect();
        entries_table(
            &mut body,
            "slice",
            &names,
            report.slices.iter().map(|sl| {
                (
                    sl.slice.clone(),
                    count(sl.summary.labelled as f64),
                    &sl.summary.metrics,
                )
            }),
        );
    }
    notes(&mut body, &s.notes);
    page("assay quality", &body)
}

fn notes(out: &mut String, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    out.push_str("<h2>Notes</h2><ul>");
    for n in notes {
        let _ = write!(out, "<li>{}</li>", Esc(n));
    }
    out.push_str("</ul>");
}

/// `assay fairness`'s report as one self-contained HTML page.
pub fn fairness_html(report: &FairnessReport, data: &str) -> String {
    let mut body = String::from("<h1>Fairness</h1>");
    let _ = write!(
        body,
        r#"<p class="meta"><code>{}</code> · {} · label <code>{}</code> · sensitive <code>{}</code> · {} rows, {} labelled · groups under {} rows are not judged</p>"#,
        Esc(data),
        report.task.as_str(),
        Esc(&report.label),
        Esc(&report.sensitive.join(", ")),
        count(report.rows as f64),
        count(report.labelled as f64),
        count(report.min_group_size as f64),
    );
    verdict(&mut body, &report.findings);
    let name_of = |g: &GroupEntry| {
        if g.group.is_empty() {
            "overall".to_string()
        } else {
            group_name(&g.group, &report.sensitive)
        }
    };
    body.push_str("<h2>Groups</h2>");
    if let Some(metric) = headline(&report.overall.metrics) {
        let rows: Vec<(String, f64, Option<[f64; 2]>)> = std::iter::once(&report.overall)
            .chain(&report.by_group)
            .take(CHART_ROWS)
            .filter_map(|g| {
                Some((
                    name_of(g),
                    g.metrics.get(metric)?,
                    g.ci.get(metric).copied(),
                ))
            })
            .collect();
        let alt = format!(
            "{metric} overall and per group with 95% intervals: overall {}",
            value(report.overall.metrics.get(metric))
        );
        body.push_str(&svg::value_bars(&alt, &rows));
    }
    let names: Vec<&str> = report
        .overall
        .metrics
        .iter()
        .map(|(n, _)| n)
        .take(TABLE_METRICS)
        .collect();
    entries_table(
        &mut body,
        "group",
        &names,
        std::iter::once(&report.overall)
            .chain(&report.by_group)
            .map(|g| {
                let rows = if g.insufficient {
                    format!("{} (too few)", count(g.count as f64))
                } else {
                    count(g.count as f64)
                };
                (name_of(g), rows, &g.metrics)
            }),
    );
    disparities(
        &mut body,
        "Disparities",
        &report.disparities,
        &report.sensitive,
    );
    for (column, d) in &report.disparities_by_column {
        disparities(
            &mut body,
            &format!("Disparities by {column}"),
            d,
            &report.sensitive,
        );
    }
    notes(&mut body, &report.notes);
    page("assay fairness", &body)
}

fn disparities(out: &mut String, title: &str, d: &Disparities, order: &[String]) {
    let _ = write!(
        out,
        r#"<h2>{}</h2><p class="meta">between {} judged groups{}</p><table><tr><th>disparity</th><th class="n">value</th><th class="n">95% interval</th><th>largest</th><th>smallest</th></tr>"#,
        Esc(title),
        d.groups,
        match d.four_fifths_rule {
            Some(true) => " · four-fifths rule met",
            Some(false) => " · four-fifths rule NOT met",
            None => "",
        }
    );
    for (name, v) in d.values.iter() {
        let (max, min) = d
            .extremes
            .get(name)
            .map(|e| (group_name(&e.max, order), group_name(&e.min, order)))
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td><td>{}</td></tr>"#,
            Esc(name),
            value(v),
            interval(d.ci.get(name)),
            Esc(&max),
            Esc(&min)
        );
    }
    out.push_str("</table>");
}
