//! The daemon's page of one model over time (`GET /ui/models/{model}`):
//! its closed windows (rows, verdict, a link to each window's page) and,
//! per feature, two small bar charts over those windows — the score
//! against the baseline (the skew check; the drift check against the
//! previous window when the model has no skew check) and the share of
//! missing values. Drawn from the window report files the daemon keeps.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::svg::value_bars;
use super::{Esc, WindowReport, count, page, pct, search_key, tools};
use crate::checks::compare::{ComparisonReport, short};

/// One feature's values in one window.
struct Point {
    score: Option<f64>,
    threshold: f64,
    drifted: bool,
    missing: f64,
}

/// The comparison a window's scores come from, and what it is called.
fn scored(w: &WindowReport) -> Option<(&ComparisonReport, &'static str)> {
    match (&w.skew, &w.drift) {
        (Some(skew), _) => Some((skew, "against the baseline")),
        (None, Some(drift)) => Some((drift, "against the previous window")),
        (None, None) => None,
    }
}

/// The page; `windows` are the model's closed windows, oldest first.
pub fn model_html(model: &str, windows: &[WindowReport]) -> String {
    let mut body = String::new();
    let alerting = windows.iter().filter(|w| w.alerts).count();
    let _ = write!(
        body,
        r#"<p class="meta"><a href="/">all models</a></p><h1>Model {}</h1><p class="meta">{} closed window{} shown, {} with alerts</p>"#,
        Esc(model),
        windows.len(),
        if windows.len() == 1 { "" } else { "s" },
        alerting,
    );
    body.push_str(r#"<h2>Windows</h2><table><tr><th>window</th><th>start</th><th>end</th><th class="n">rows</th><th>verdict</th></tr>"#);
    for w in windows.iter().rev() {
        let _ = write!(
            body,
            r#"<tr><td><a href="/ui/reports/{id}">{id}</a></td><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            Esc(&w.start),
            Esc(w.end.as_deref().unwrap_or("")),
            count(w.rows as f64),
            if w.alerts {
                r#"<span class="tag bad">alerts</span>"#
            } else {
                r#"<span class="tag good">ok</span>"#
            },
            id = Esc(&w.id),
        );
    }
    body.push_str("</table>");

    // Per feature, in the order of first appearance, its points by window.
    let mut order: Vec<String> = Vec::new();
    let mut series: BTreeMap<String, Vec<(usize, Point)>> = BTreeMap::new();
    let mut method: BTreeMap<String, String> = BTreeMap::new();
    let mut against = "";
    for (i, w) in windows.iter().enumerate() {
        let Some((report, what)) = scored(w) else {
            continue;
        };
        against = what;
        for f in report.features.iter().chain(&report.predictions) {
            if !series.contains_key(&f.name) {
                order.push(f.name.clone());
            }
            method.insert(f.name.clone(), f.method.as_str().to_string());
            series.entry(f.name.clone()).or_default().push((
                i,
                Point {
                    score: f.statistic,
                    threshold: f.threshold,
                    drifted: f.drifted,
                    missing: f.missing.current,
                },
            ));
        }
    }
    let _ = write!(body, "<h2>Features over the windows</h2>");
    if order.is_empty() {
        body.push_str(r#"<p class="muted">No closed window has a skew or drift report yet.</p>"#);
        return page(&format!("assay: model {model}"), &body);
    }
    tools(&mut body, order.len(), "features");
    for name in &order {
        let points = &series[name];
        let drifted = points.iter().filter(|(_, p)| p.drifted).count();
        let scores: Vec<(String, f64, Option<[f64; 2]>)> = points
            .iter()
            .filter_map(|(i, p)| p.score.map(|s| (windows[*i].id.clone(), s, None)))
            .collect();
        let missing: Vec<(String, f64, Option<[f64; 2]>)> = points
            .iter()
            .map(|(i, p)| (windows[*i].id.clone(), p.missing, None))
            .collect();
        let threshold = points.last().map_or(f64::NAN, |(_, p)| p.threshold);
        let method = &method[name];
        let latest = points
            .last()
            .and_then(|(_, p)| p.score)
            .map_or_else(|| "no score".to_string(), short);
        let _ = write!(
            body,
            r#"<details class="feature" data-name="{key}"{open}><summary><span class="name">{n}</span> <span class="tag {class}">{word}</span><span class="sub">{method} {against}: latest {latest} (threshold {t}) · drifted in {drifted} of {total} windows · missing now {miss}</span></summary><div class="body"><div><p class="muted">{method} {against}, per window</p>"#,
            key = Esc(&search_key(name)),
            n = Esc(name),
            open = if drifted > 0 { " open" } else { "" },
            class = if drifted > 0 { "bad" } else { "good" },
            word = if drifted > 0 { "drifted" } else { "stable" },
            method = Esc(method),
            t = short(threshold),
            total = points.len(),
            miss = pct(points.last().map_or(0.0, |(_, p)| p.missing)),
        );
        body.push_str(&value_bars(
            &format!(
                "{name}: {method} {against} in each of {} windows, threshold {}",
                scores.len(),
                short(threshold)
            ),
            &scores,
        ));
        body.push_str(r#"</div><div><p class="muted">share of missing values, per window</p>"#);
        body.push_str(&value_bars(
            &format!(
                "{name}: share of missing values in each of {} windows",
                missing.len()
            ),
            &missing,
        ));
        body.push_str("</div></div></details>\n");
    }
    page(&format!("assay: model {model}"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_without_closed_windows_says_so_and_escapes_its_name() {
        let page = model_html("<credit>", &[]);
        assert!(page.contains("<h1>Model &lt;credit&gt;</h1>"));
        assert!(page.contains("0 closed windows shown, 0 with alerts"));
        assert!(page.contains("No closed window has a skew or drift report yet."));
        assert!(!page.contains("<svg"));
    }
}
