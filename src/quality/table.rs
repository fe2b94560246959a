//! The readable tables of `assay quality` and `assay fairness`.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::report::{FairnessReport, GroupEntry, QualityReport, Summary, group_name, names};
use crate::checks::{Finding, Severity};

fn table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    t
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-3) => format!("{x:.3e}"),
        Some(x) => format!("{x:.4}"),
    }
}

fn interval(v: Option<&[f64; 2]>) -> String {
    v.map_or(String::new(), |[lo, hi]| {
        format!("[{}, {}]", number(Some(*lo)), number(Some(*hi)))
    })
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn findings_block(findings: &[Finding], out: &mut String) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    out.push_str(&format!(
        "\nfindings: {} error{}, {} warning{}\n",
        errors,
        if errors == 1 { "" } else { "s" },
        findings.len() - errors,
        if findings.len() - errors == 1 {
            ""
        } else {
            "s"
        }
    ));
    if findings.is_empty() {
        return;
    }
    let mut t = table(vec!["severity", "kind", "where", "explanation"]);
    for f in findings {
        t.add_row(vec![
            f.severity.as_str().to_string(),
            f.kind.as_str().to_string(),
            f.slice
                .clone()
                .or_else(|| f.feature.clone())
                .unwrap_or_default(),
            f.explanation.clone(),
        ]);
    }
    out.push_str(&format!("{t}\n"));
}

/// Headline metrics per task, for the slices table.
fn headline_metrics(report: &QualityReport) -> Vec<&'static str> {
    match report.task {
        super::Task::Regression => vec![names::MAE, names::RMSE, names::R2, names::MEAN_ERROR],
        super::Task::Binary => {
            let mut v = vec![names::ACCURACY, names::PRECISION, names::RECALL];
            if report.summary.metrics.contains(names::ROC_AUC) {
                v.push(names::ROC_AUC);
            }
            v.push(names::BASE_RATE);
            v
        }
        super::Task::Multiclass => {
            let mut v = vec![names::ACCURACY, names::F1_MACRO];
            if report.summary.metrics.contains(names::ROC_AUC) {
                v.push(names::ROC_AUC);
            }
            v
        }
    }
}

fn metrics_rows(summary: &Summary, estimated: Option<&super::cbpe::Estimate>) -> Table {
    let mut header = vec!["metric", "value", "95% interval"];
    if estimated.is_some() {
        header.extend(["estimated (CBPE)", "band"]);
    }
    let mut t = table(header);
    for (name, value) in summary.metrics.iter() {
        let mut row = vec![
            name.to_string(),
            number(value),
            interval(summary.intervals.get(name)),
        ];
        if let Some(e) = estimated {
            if e.metrics.contains(name) {
                row.push(number(e.metrics.get(name)));
                row.push(interval(e.intervals.get(name)));
            } else {
                row.extend([String::new(), String::new()]);
            }
        }
        t.add_row(row);
    }
    t
}

/// `assay quality`'s table.
pub fn quality_table(report: &QualityReport, data: &str) -> String {
    let mut out = format!(
        "quality of {data}: {}, {} rows ({} labelled)",
        report.task,
        thousands(report.summary.rows),
        thousands(report.summary.labelled)
    );
    if let Some(p) = &report.positive_class {
        out.push_str(&format!(", positive class {p}"));
    }
    if let Some(t) = report.threshold {
        out.push_str(&format!(", threshold {t}"));
    }
    out.push('\n');
    out.push_str(&format!(
        "{}\n",
        metrics_rows(&report.summary, report.estimated.as_ref())
    ));
    if let Some(cm) = &report.summary.confusion_matrix {
        let mut header = vec!["label \\ predicted".to_string()];
        header.extend(cm.labels.iter().cloned());
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
        for (label, row) in cm.labels.iter().zip(&cm.matrix) {
            let mut cells = vec![label.clone()];
            cells.extend(row.iter().map(|n| thousands(*n)));
            t.add_row(cells);
        }
        out.push_str(&format!("confusion matrix\n{t}\n"));
    }
    if let Some(r) = &report.summary.ranking
        && !r.exact
    {
        out.push_str(&format!(
            "roc_auc and average_precision from binned scores: error at most {:.2e} and {:.2e}\n",
            r.roc_auc_error_bound, r.average_precision_error_bound
        ));
    }
    if !report.summary.residual_quantiles.is_empty() {
        let parts: Vec<String> = report
            .summary
            .residual_quantiles
            .iter()
            .map(|q| format!("p{:.0} {}", q.quantile * 100.0, number(Some(q.value))))
            .collect();
        out.push_str(&format!(
            "residuals (prediction − label): {}\n",
            parts.join(", ")
        ));
    }
    if !report.slices.is_empty() {
        let metrics = headline_metrics(report);
        let mut header = vec!["slice", "rows", "labelled"];
        header.extend(metrics.iter().copied());
        let mut t = table(header);
        for s in &report.slices {
            let mut row = vec![
                s.slice.clone(),
                thousands(s.summary.rows),
                thousands(s.summary.labelled),
            ];
            row.extend(metrics.iter().map(|m| number(s.summary.metrics.get(m))));
            t.add_row(row);
        }
        out.push_str(&format!("slices\n{t}\n"));
    }
    for note in &report.summary.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    findings_block(&report.findings, &mut out);
    out
}

fn group_label(g: &GroupEntry, order: &[String]) -> String {
    if g.group.is_empty() {
        "(all)".into()
    } else {
        group_name(&g.group, order)
    }
}

/// `assay fairness`'s table.
pub fn fairness_table(report: &FairnessReport, data: &str) -> String {
    let mut out = format!(
        "fairness of {data}: {}, {} rows ({} labelled), sensitive {}, min group size {}",
        report.task,
        thousands(report.rows),
        thousands(report.labelled),
        report.sensitive.join(", "),
        report.min_group_size
    );
    if let Some(p) = &report.positive_class {
        out.push_str(&format!(", positive class {p}"));
    }
    out.push('\n');
    let metrics: Vec<String> = report
        .overall
        .metrics
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let mut header = vec!["group".to_string(), "count".to_string()];
    header.extend(metrics.iter().cloned());
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    for g in std::iter::once(&report.overall).chain(&report.by_group) {
        let mut row = vec![
            format!(
                "{}{}",
                group_label(g, &report.sensitive),
                if g.insufficient {
                    " (insufficient)"
                } else {
                    ""
                }
            ),
            thousands(g.count),
        ];
        row.extend(metrics.iter().map(|m| number(g.metrics.get(m))));
        t.add_row(row);
    }
    out.push_str(&format!("{t}\n"));
    let mut disparities = vec![(report.sensitive.join(","), &report.disparities)];
    disparities.extend(
        report
            .disparities_by_column
            .iter()
            .map(|(k, v)| (k.clone(), v)),
    );
    let mut t = table(vec!["groups of", "disparity", "value", "95% interval"]);
    let mut any = false;
    for (columns, d) in disparities {
        for (name, value) in d.values.iter() {
            any = true;
            t.add_row(vec![
                columns.clone(),
                name.to_string(),
                number(value),
                interval(d.ci.get(name)),
            ]);
        }
        if let Some(rule) = d.four_fifths_rule {
            any = true;
            t.add_row(vec![
                columns.clone(),
                "four_fifths_rule".into(),
                if rule { "passes" } else { "fails" }.into(),
                String::new(),
            ]);
        }
    }
    if any {
        out.push_str(&format!("disparities\n{t}\n"));
    }
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    findings_block(&report.findings, &mut out);
    out
}
