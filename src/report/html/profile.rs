//! The profile page: an overview of the dataset, then per column its
//! statistics, one chart (a histogram, or bars of its most frequent
//! values) and its quantiles; slices side by side at the end.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Esc, count, key_values, page, pct, search_key, svg, tools};
use crate::checks::compare::short;
use crate::profile::{ColumnProfile, LogicalType, Profile};

/// Sections start open on small pages, collapsed past this many columns.
pub(super) const OPEN_UP_TO: usize = 30;
/// Bars drawn for a column's most frequent values; the rest is one bar.
pub(super) const TOP_BARS: usize = 12;
/// Int columns with at most this many distinct values get value bars, not a histogram.
const INT_BARS_UP_TO: f64 = 20.0;
/// Slices shown side by side (more would not fit a page).
const MAX_SLICES: usize = 12;

/// The profile as one self-contained HTML page.
pub fn profile_html(profile: &Profile) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<h1>Profile</h1><p class="meta">{} · created by {}</p>"#,
        profile
            .sources
            .iter()
            .map(|s| format!("<code>{}</code>", Esc(s)))
            .collect::<Vec<_>>()
            .join(", "),
        Esc(&profile.created_by)
    );
    overview(&mut body, profile);
    let _ = write!(body, "<h2>Columns</h2>");
    if profile.columns.is_empty() {
        body.push_str(r#"<p class="muted">The data has no columns.</p>"#);
    } else {
        tools(&mut body, profile.columns.len(), "columns");
        let open = profile.columns.len() <= OPEN_UP_TO;
        for column in &profile.columns {
            column_section(&mut body, column, profile.rows, open);
        }
    }
    if !profile.slices.is_empty() {
        slices(&mut body, profile);
    }
    page("assay profile", &body)
}

fn overview(out: &mut String, profile: &Profile) {
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &profile.columns {
        *types.entry(c.logical_type.as_str()).or_default() += 1;
    }
    let cells = profile.rows as f64 * profile.columns.len() as f64;
    let missing: u64 = profile.columns.iter().map(|c| c.null_count).sum();
    let mut rows = vec![
        ("rows", count(profile.rows as f64)),
        ("columns", count(profile.columns.len() as f64)),
        (
            "types",
            types
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "missing cells",
            if cells > 0.0 {
                format!(
                    "{} ({})",
                    count(missing as f64),
                    pct(missing as f64 / cells)
                )
            } else {
                "0".into()
            },
        ),
    ];
    if !profile.slices.is_empty() {
        rows.push(("slices", count(profile.slices.len() as f64)));
    }
    out.push_str(r#"<h2>Overview</h2><div class="overview">"#);
    key_values(out, &rows);
    out.push_str("</div>");
}

fn missing_share(c: &ColumnProfile) -> f64 {
    let total = c.count + c.null_count;
    if total == 0 {
        0.0
    } else {
        (c.null_count + c.nan_count.unwrap_or(0)) as f64 / total as f64
    }
}

fn column_section(out: &mut String, c: &ColumnProfile, rows: u64, open: bool) {
    let distinct = c
        .distinct
        .map(|d| {
            let approx = if c.distinct_exact == Some(true) {
                ""
            } else {
                "~"
            };
            format!(" · {approx}{} distinct", count(d.round()))
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        r#"<details class="feature" data-name="{key}" id="col-{key}"{open}><summary><span class="name">{name}</span><span class="sub">{ty} · {role} · {missing} missing{distinct}</span></summary><div class="body"><div>"#,
        key = Esc(&search_key(&c.name)),
        name = Esc(&c.name),
        open = if open { " open" } else { "" },
        ty = c.logical_type.as_str(),
        role = c.role.as_str(),
        missing = pct(missing_share(c)),
    );
    out.push_str(&chart(c));
    out.push_str("</div><div>");
    key_values(out, &statistics(c, rows));
    quantiles(out, c);
    out.push_str("</div></div></details>\n");
}

/// The one chart of a column.
pub(super) fn chart(c: &ColumnProfile) -> String {
    let name = &c.name;
    if c.count == 0 {
        return svg::empty(
            &format!("{name}: no chart, every value is missing"),
            "every value is missing",
        );
    }
    let bars = |top: &[crate::profile::ValueCount]| {
        let shown: Vec<(String, f64)> = top
            .iter()
            .take(TOP_BARS)
            .map(|v| (v.value.clone(), v.count as f64))
            .collect();
        let shown_total: f64 = shown.iter().map(|s| s.1).sum();
        let rest = c.count as f64 - shown_total;
        let distinct = c.distinct.unwrap_or(top.len() as f64).round();
        let rest_values = (distinct - shown.len() as f64).max(0.0);
        let other = (rest > 0.5 && rest_values > 0.0)
            .then(|| (format!("{} other values", count(rest_values)), rest));
        let alt = format!(
            "{name}: bar chart of the {} most frequent of {} distinct values; most frequent {}",
            shown.len(),
            count(distinct),
            shown
                .first()
                .map(|(v, n)| format!("{v} ({})", count(*n)))
                .unwrap_or_default()
        );
        svg::top_values(&alt, &shown, other)
    };
    match c.logical_type {
        LogicalType::Bool => {
            let counts = vec![
                ("true".to_string(), c.true_count.unwrap_or(0) as f64),
                ("false".to_string(), c.false_count.unwrap_or(0) as f64),
            ];
            let alt = format!(
                "{name}: bar chart of true ({}) and false ({})",
                count(counts[0].1),
                count(counts[1].1)
            );
            svg::top_values(&alt, &counts, None)
        }
        LogicalType::String => match &c.top {
            Some(top) => bars(top),
            None => svg::empty(&format!("{name}: no value counts"), "no value counts"),
        },
        LogicalType::Int if c.top.is_some() && c.distinct.is_some_and(|d| d <= INT_BARS_UP_TO) => {
            bars(c.top.as_deref().unwrap_or_default())
        }
        LogicalType::Int | LogicalType::Float | LogicalType::Timestamp | LogicalType::Date => {
            let Some(h) = &c.histogram else {
                return svg::empty(&format!("{name}: no histogram"), "no finite values");
            };
            let bins: Vec<(f64, f64, f64)> = h
                .equi_width
                .iter()
                .map(|b| (b.low, b.high, b.count))
                .collect();
            let (low, high) = match (&c.min_text, &c.max_text) {
                (Some(a), Some(b)) => (a.clone(), b.clone()),
                _ => (
                    c.min.map(short).unwrap_or_default(),
                    c.max.map(short).unwrap_or_default(),
                ),
            };
            let tallest = h
                .equi_width
                .iter()
                .max_by(|a, b| a.count.total_cmp(&b.count));
            let alt = format!(
                "{name}: histogram of {} bins from {low} to {high}{}",
                bins.len(),
                tallest
                    .map(|b| format!(
                        "; most values ({}) between {} and {}",
                        count(b.count),
                        short(b.low),
                        short(b.high)
                    ))
                    .unwrap_or_default()
            );
            svg::histogram(&alt, &bins, &low, &high)
        }
        LogicalType::List => {
            let text = c
                .value_count
                .as_ref()
                .map(|v| {
                    format!(
                        "{}–{} values per list (mean {})",
                        v.min,
                        v.max,
                        short(v.mean)
                    )
                })
                .unwrap_or_else(|| "lists".into());
            svg::empty(&format!("{name}: {text}"), &text)
        }
    }
}

fn statistics(c: &ColumnProfile, rows: u64) -> Vec<(&'static str, String)> {
    let mut s = vec![
        ("present", count(c.count as f64)),
        (
            "missing",
            format!(
                "{} ({})",
                count(c.null_count as f64),
                pct(if rows > 0 {
                    c.null_count as f64 / rows as f64
                } else {
                    0.0
                })
            ),
        ),
    ];
    let opt = |v: Option<f64>| v.map(short);
    let mut push = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            s.push((k, v));
        }
    };
    push(
        "NaN",
        c.nan_count.filter(|n| *n > 0).map(|n| count(n as f64)),
    );
    let inf = c.pos_inf_count.unwrap_or(0) + c.neg_inf_count.unwrap_or(0);
    push("±infinity", (inf > 0).then(|| count(inf as f64)));
    if c.min_text.is_some() {
        push("min", c.min_text.clone());
        push("max", c.max_text.clone());
    } else {
        push("min", opt(c.min));
        push("max", opt(c.max));
        push("mean", opt(c.mean));
        push("std dev", opt(c.stddev));
        push("zeros", c.zeros.map(|n| count(n as f64)));
        push("negatives", c.negatives.map(|n| count(n as f64)));
    }
    push(
        "distinct",
        c.distinct.map(|d| {
            let approx = if c.distinct_exact == Some(true) {
                ""
            } else {
                "≈ "
            };
            format!("{approx}{}", count(d.round()))
        }),
    );
    push("empty strings", c.empty_count.map(|n| count(n as f64)));
    push(
        "length",
        c.length
            .as_ref()
            .map(|l| format!("{}–{} (mean {})", l.min, l.max, short(l.mean))),
    );
    push(
        "values per list",
        c.value_count
            .as_ref()
            .map(|l| format!("{}–{} (mean {})", l.min, l.max, short(l.mean))),
    );
    s
}

fn quantiles(out: &mut String, c: &ColumnProfile) {
    let Some(q) = &c.quantiles else { return };
    // Temporal quantiles are epoch numbers nobody reads; min and max say it.
    if q.is_empty() || c.min_text.is_some() {
        return;
    }
    let mut sorted: Vec<(f64, f64)> = q
        .iter()
        .filter_map(|(k, v)| k.parse::<f64>().ok().map(|p| (p, *v)))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.push_str(r#"<div style="overflow-x:auto"><table><tr><th>quantile</th>"#);
    for (p, _) in &sorted {
        let _ = write!(out, r#"<th class="n">p{}</th>"#, (p * 100.0).round());
    }
    out.push_str("</tr><tr><td></td>");
    for (_, v) in &sorted {
        let _ = write!(out, r#"<td class="n">{}</td>"#, Esc(&short(*v)));
    }
    out.push_str("</tr></table></div>");
    if let Some(e) = c.quantile_rank_error {
        let _ = write!(
            out,
            r#"<p class="muted">Sketch quantiles: rank error ±{} (99% confidence).</p>"#,
            pct(e)
        );
    }
}

/// One line per column, one column per slice: the column's missing share
/// and its mean or most frequent value in that slice.
fn slices(out: &mut String, profile: &Profile) {
    let shown = &profile.slices[..profile.slices.len().min(MAX_SLICES)];
    out.push_str("<h2>Slices</h2>");
    if shown.len() < profile.slices.len() {
        let _ = write!(
            out,
            r#"<p class="muted">The first {} of {} slices.</p>"#,
            shown.len(),
            profile.slices.len()
        );
    }
    out.push_str(r#"<div style="overflow-x:auto"><table><tr><th>column</th>"#);
    for s in shown {
        let _ = write!(
            out,
            r#"<th>{}<br><span class="muted">{} rows</span></th>"#,
            Esc(&s.name),
            count(s.rows as f64)
        );
    }
    out.push_str("</tr>");
    for c in &profile.columns {
        let _ = write!(out, "<tr><th>{}</th>", Esc(&c.name));
        for s in shown {
            let cell = s
                .columns
                .iter()
                .find(|sc| sc.name == c.name)
                .map(|sc| {
                    let centre = match (sc.mean, sc.top.as_ref().and_then(|t| t.first())) {
                        (_, Some(top)) if !sc.logical_type.is_numeric() || sc.mean.is_none() => {
                            format!("top {}", top.value)
                        }
                        (Some(m), _) => format!("mean {}", short(m)),
                        _ => String::new(),
                    };
                    format!("{} · {} missing", centre, pct(missing_share(sc)))
                })
                .unwrap_or_default();
            let _ = write!(out, "<td>{}</td>", Esc(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>");
}
