//! Charts as small inline SVG, written by hand.
//!
//! Why not `plotters` (its SVG backend): its elements carry their colours
//! as attributes, so dark mode would need a second chart per feature, and
//! every bar is a separately styled `<rect>` with its own attributes; a
//! page of 1,000 features must stay under 5 MB. The charts here are a few
//! `<path>`s per series coloured by CSS classes (light and dark mode come
//! from the page's stylesheet, in the Okabe–Ito palette), and each carries
//! a text alternative (`role="img"`, `aria-label` and `<title>`). The four
//! shapes (histogram, top values, overlaid histograms, paired bars, and
//! metric bars with intervals) are
//! about as much code as configuring a charting crate for them would be.

use std::fmt::Write;

use super::{Esc, count, pct};
use crate::checks::compare::short;

const WIDTH: f64 = 360.0;
const LEFT: f64 = 8.0;
const RIGHT: f64 = 352.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 124.0;
const HEIGHT: f64 = 142.0;

/// Labels longer than this are cut in charts (the full text is in the bar's
/// `<title>` and in the tables).
const LABEL_CHARS: usize = 18;

fn open(out: &mut String, alt: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{alt}"><title>{alt}</title>"#,
        alt = Esc(alt)
    );
}

/// A chart for a column that has nothing to draw (all values missing, an
/// empty dataset): the chart slot says so instead of staying blank.
pub fn empty(alt: &str, message: &str) -> String {
    let mut out = String::new();
    open(&mut out, alt, 40.0);
    let _ = write!(
        out,
        r#"<text class="axis" x="{x}" y="24" text-anchor="middle">{}</text></svg>"#,
        Esc(message),
        x = WIDTH / 2.0
    );
    out
}

/// The outline of bars on a linear axis from `low` to `high`: one path
/// (`fill` closes it), so a series costs a few dozen bytes per bin.
fn step_path(edges: &[f64], heights: &[f64], low: f64, high: f64, top: f64) -> String {
    let x = |v: f64| {
        if high > low {
            LEFT + (v - low) / (high - low) * (RIGHT - LEFT)
        } else {
            LEFT + (RIGHT - LEFT) / 2.0
        }
    };
    let y = |h: f64| {
        if top > 0.0 {
            BOTTOM - h / top * (BOTTOM - TOP)
        } else {
            BOTTOM
        }
    };
    let mut d = String::new();
    let _ = write!(d, "M{:.1} {BOTTOM}", x(edges[0]));
    for (i, h) in heights.iter().enumerate() {
        let _ = write!(
            d,
            "L{:.1} {:.1}L{:.1} {:.1}",
            x(edges[i]),
            y(*h),
            x(edges[i + 1]),
            y(*h)
        );
    }
    let _ = write!(d, "L{:.1} {BOTTOM}Z", x(edges[edges.len() - 1]));
    d
}

fn x_axis(out: &mut String, low: &str, high: &str) {
    let _ = write!(
        out,
        r#"<path class="grid" d="M{LEFT} {BOTTOM}H{RIGHT}"/><text class="axis" x="{LEFT}" y="{y}">{}</text><text class="axis" x="{RIGHT}" y="{y}" text-anchor="end">{}</text>"#,
        Esc(low),
        Esc(high),
        y = BOTTOM + 12.0
    );
}

fn y_label(out: &mut String, text: &str) {
    let _ = write!(
        out,
        r#"<path class="grid" d="M{LEFT} {TOP}H{RIGHT}"/><text class="axis" x="{LEFT}" y="{y}">{}</text>"#,
        Esc(text),
        y = TOP - 4.0
    );
}

/// A histogram of one column: bins `(low, high, count)` on a linear axis.
/// `low_label`/`high_label` name the axis ends (dates for temporal columns).
pub fn histogram(alt: &str, bins: &[(f64, f64, f64)], low_label: &str, high_label: &str) -> String {
    let Some(first) = bins.first() else {
        return empty(alt, "no values");
    };
    let low = first.0;
    let high = bins.last().map_or(low, |b| b.1);
    let top = bins.iter().map(|b| b.2).fold(0.0, f64::max);
    let mut edges: Vec<f64> = bins.iter().map(|b| b.0).collect();
    edges.push(high);
    let heights: Vec<f64> = bins.iter().map(|b| b.2).collect();
    let mut out = String::new();
    open(&mut out, alt, HEIGHT);
    y_label(&mut out, &format!("{} per bin (max)", count(top.round())));
    let _ = write!(
        out,
        r#"<path class="s1" d="{}"/>"#,
        step_path(&edges, &heights, low, high, top)
    );
    x_axis(&mut out, low_label, high_label);
    out.push_str("</svg>");
    out
}

/// Reference and current shares on shared bins, overlaid: the reference
/// filled, the current dashed (told apart without colour too).
pub fn overlaid_histograms(alt: &str, edges: &[f64], reference: &[f64], current: &[f64]) -> String {
    if edges.len() < 2 || reference.len() + 1 != edges.len() || current.len() + 1 != edges.len() {
        return empty(alt, "no values to compare");
    }
    let (low, high) = (edges[0], edges[edges.len() - 1]);
    let top = reference.iter().chain(current).copied().fold(0.0, f64::max);
    let mut out = String::new();
    open(&mut out, alt, HEIGHT);
    y_label(&mut out, &format!("{} of values (max bin)", pct(top)));
    legend(&mut out);
    let _ = write!(
        out,
        r#"<path class="s1" d="{}"/><path class="s2" d="{}"/>"#,
        step_path(edges, reference, low, high, top),
        step_path(edges, current, low, high, top)
    );
    x_axis(&mut out, &short(low), &short(high));
    out.push_str("</svg>");
    out
}

fn legend(out: &mut String) {
    let _ = write!(
        out,
        r#"<rect class="s1" x="{a}" y="4" width="10" height="8"/><text class="axis" x="{b}" y="11">reference</text><rect class="s2" x="{c}" y="4" width="10" height="8"/><text class="axis" x="{d}" y="11">current</text>"#,
        a = RIGHT - 150.0,
        b = RIGHT - 137.0,
        c = RIGHT - 70.0,
        d = RIGHT - 57.0
    );
}

fn cut(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

const ROW: f64 = 15.0;
const LABEL_RIGHT: f64 = 118.0;
const BAR_RIGHT: f64 = 300.0;

/// Horizontal bars of a column's most frequent values (`counts`), plus one
/// bar summarising the rest (`other`: how many values, their count).
pub fn top_values(alt: &str, counts: &[(String, f64)], other: Option<(String, f64)>) -> String {
    if counts.is_empty() && other.is_none() {
        return empty(alt, "no values");
    }
    let rows: Vec<(&str, f64, bool)> = counts
        .iter()
        .map(|(l, c)| (l.as_str(), *c, false))
        .chain(other.as_ref().map(|(l, c)| (l.as_str(), *c, true)))
        .collect();
    let top = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let height = 6.0 + ROW * rows.len() as f64;
    let mut out = String::new();
    open(&mut out, alt, height);
    for (i, (label, value, is_other)) in rows.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let w = if top > 0.0 {
            value / top * (BAR_RIGHT - LABEL_RIGHT - 4.0)
        } else {
            0.0
        };
        let _ = write!(
            out,
            r#"<text class="label" x="{lx}" y="{ty:.1}" text-anchor="end">{}</text><rect class="{cls}" x="{bx}" y="{y:.1}" width="{w:.1}" height="11"><title>{}: {}</title></rect><text class="axis" x="{vx:.1}" y="{ty:.1}">{}</text>"#,
            Esc(&cut(label)),
            Esc(label),
            count(*value),
            count(*value),
            lx = LABEL_RIGHT - 4.0,
            ty = y + 9.0,
            bx = LABEL_RIGHT,
            cls = if *is_other { "s3" } else { "s1" },
            vx = LABEL_RIGHT + w + 3.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// Categories side by side: per row the reference share (upper bar) and the
/// current share (lower, hatched by its dashed outline).
pub fn paired_bars(alt: &str, rows: &[(String, f64, f64)]) -> String {
    if rows.is_empty() {
        return empty(alt, "no values to compare");
    }
    let top = rows.iter().map(|r| r.1.max(r.2)).fold(0.0, f64::max);
    let row = ROW + 4.0;
    let height = 18.0 + row * rows.len() as f64;
    let mut out = String::new();
    open(&mut out, alt, height);
    legend(&mut out);
    let scale = |v: f64| {
        if top > 0.0 {
            v / top * (BAR_RIGHT - LABEL_RIGHT - 4.0)
        } else {
            0.0
        }
    };
    for (i, (label, reference, current)) in rows.iter().enumerate() {
        let y = 18.0 + row * i as f64;
        let _ = write!(
            out,
            r#"<text class="label" x="{lx}" y="{ty:.1}" text-anchor="end">{}<title>{}</title></text><rect class="s1" x="{bx}" y="{y:.1}" width="{w1:.1}" height="7"/><rect class="s2" x="{bx}" y="{y2:.1}" width="{w2:.1}" height="7"/><text class="axis" x="{vx:.1}" y="{ty:.1}">{} → {}</text>"#,
            Esc(&cut(label)),
            Esc(label),
            pct(*reference),
            pct(*current),
            lx = LABEL_RIGHT - 4.0,
            ty = y + 11.0,
            bx = LABEL_RIGHT,
            w1 = scale(*reference),
            y2 = y + 8.0,
            w2 = scale(*current),
            vx = LABEL_RIGHT + scale(reference.max(*current)) + 3.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars of one metric per row (overall, each slice or group),
/// each with its 95% interval as a whisker when there is one. The axis
/// starts at 0 (metrics here are rates, scores and errors, none negative
/// in practice; a negative value draws no bar).
pub fn value_bars(alt: &str, rows: &[(String, f64, Option<[f64; 2]>)]) -> String {
    if rows.is_empty() {
        return empty(alt, "no values");
    }
    let top = rows
        .iter()
        .map(|r| r.2.map_or(r.1, |[_, hi]| hi.max(r.1)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let scale = |v: f64| {
        if top > 0.0 && v.is_finite() {
            (v.max(0.0) / top * (BAR_RIGHT - LABEL_RIGHT - 4.0)).min(BAR_RIGHT - LABEL_RIGHT)
        } else {
            0.0
        }
    };
    let height = 6.0 + ROW * rows.len() as f64;
    let mut out = String::new();
    open(&mut out, alt, height);
    for (i, (label, value, interval)) in rows.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let _ = write!(
            out,
            r#"<text class="label" x="{lx}" y="{ty:.1}" text-anchor="end">{}<title>{}</title></text><rect class="s1" x="{bx}" y="{y:.1}" width="{w:.1}" height="11"/>"#,
            Esc(&cut(label)),
            Esc(label),
            lx = LABEL_RIGHT - 4.0,
            ty = y + 9.0,
            bx = LABEL_RIGHT,
            w = scale(*value),
        );
        let mut end = LABEL_RIGHT + scale(*value);
        if let Some([lo, hi]) = interval {
            let (a, b) = (LABEL_RIGHT + scale(*lo), LABEL_RIGHT + scale(*hi));
            let _ = write!(
                out,
                r#"<path class="whisker" d="M{a:.1} {m:.1}H{b:.1}M{a:.1} {t:.1}V{u:.1}M{b:.1} {t:.1}V{u:.1}"/>"#,
                m = y + 5.5,
                t = y + 2.0,
                u = y + 9.0,
            );
            end = end.max(b);
        }
        let _ = write!(
            out,
            r#"<text class="axis" x="{vx:.1}" y="{ty:.1}">{}</text>"#,
            Esc(&short(*value)),
            vx = end + 3.0,
            ty = y + 9.0,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_path_spans_the_plot_and_scales_the_tallest_bin_to_the_top() {
        let d = step_path(&[0.0, 1.0, 2.0], &[1.0, 2.0], 0.0, 2.0, 2.0);
        assert_eq!(
            d,
            format!("M8.0 {BOTTOM}L8.0 71.0L180.0 71.0L180.0 18.0L352.0 18.0L352.0 {BOTTOM}Z")
        );
    }

    #[test]
    fn charts_escape_labels_and_carry_a_text_alternative() {
        let svg = top_values(
            "top values of <b>",
            &[("<script>alert(1)</script>".into(), 3.0)],
            None,
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains(r#"aria-label="top values of &lt;b&gt;""#));
        assert!(svg.contains("<title>top values of &lt;b&gt;</title>"));
    }

    #[test]
    fn mismatched_series_render_as_an_empty_chart_not_a_panic() {
        let svg = overlaid_histograms("x", &[0.0, 1.0], &[0.5, 0.5], &[1.0]);
        assert!(svg.contains("no values to compare"));
        assert!(histogram("x", &[], "", "").contains("no values"));
    }
}
