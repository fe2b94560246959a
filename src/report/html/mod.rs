//! Self-contained HTML reports (`--format html`): one file a person opens
//! offline, attaches to a ticket or mails. Nothing on the page loads from
//! elsewhere: the stylesheet and the one small script (the feature search
//! and the expand/collapse buttons) are inline, the charts are inline SVG
//! ([`svg`]), and every text that comes from the data or the user (names,
//! values, file names) goes through [`Esc`].
//!
//! Each report kind renders the same structures the table and JSON
//! outputs use: [`profile_html`] a [`Profile`](crate::profile::Profile),
//! [`validation_html`] a [`ValidationReport`](crate::validation::ValidationReport),
//! [`comparison_html`] a [`ComparisonReport`](crate::checks::compare::ComparisonReport)
//! with the two profiles it was computed from (for the distributions),
//! [`quality_html`] and [`fairness_html`] the model quality reports.

mod drift;
mod history;
mod profile;
mod quality;
pub mod svg;
mod validate;
mod window;

use std::fmt::{self, Write};

pub use drift::comparison_html;
pub use history::model_html;
pub use profile::profile_html;
pub use quality::{fairness_html, quality_html};
pub use validate::validation_html;
pub use window::{WindowProfiles, WindowReport, window_html};

/// Text made safe for HTML element content and attribute values.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// A count with thousands separators (`12,345`); non-integers keep one decimal.
pub fn count(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let rounded = v.round();
    let digits = format!("{:.0}", rounded.abs());
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if rounded < 0.0 { "-" } else { "" };
    if (v - rounded).abs() > 1e-9 && v.abs() < 1e6 {
        format!("{v:.1}")
    } else {
        format!("{sign}{grouped}")
    }
}

/// A share as a percentage (`12.5%`).
pub fn pct(share: f64) -> String {
    if !share.is_finite() {
        return "–".into();
    }
    let p = share * 100.0;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 0.1 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

/// The lower-cased search key of a section (`data-name`).
fn search_key(name: &str) -> String {
    name.to_lowercase()
}

/// Okabe–Ito colours: blue (reference, or a column's values), orange
/// (current), vermillion (failed), bluish green (passed), grey (the rest).
/// Dark mode swaps blue for sky blue, which keeps its contrast.
const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1e23;--muted:#5b6169;--line:#d5d9de;--card:#f5f6f8;--s1:#0072B2;--s2:#E69F00;--s3:#999;--bad:#D55E00;--good:#009E73;--warn:#A05A00}
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e6e8eb;--muted:#a0a6ad;--line:#3a3f45;--card:#1e2125;--s1:#56B4E9;--s2:#E69F00;--s3:#8a8f96;--bad:#F07A3A;--good:#2BC69A;--warn:#F0C050}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:16px 20px 48px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.meta{color:var(--muted);margin:0 0 12px}.meta code{word-break:break-all}
.verdict{font-size:18px;font-weight:600;padding:10px 14px;border-radius:6px;border-left:6px solid;margin:12px 0;background:var(--card)}
.verdict.bad{border-color:var(--bad)}.verdict.good{border-color:var(--good)}.verdict.warn{border-color:var(--warn)}
.tag{display:inline-block;font-size:12px;font-weight:600;padding:0 6px;border-radius:4px;border:1px solid}
.tag.bad{color:var(--bad)}.tag.good{color:var(--good)}.tag.warn{color:var(--warn)}.tag.none{color:var(--muted)}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid var(--line);vertical-align:top}
td{overflow-wrap:anywhere}th{color:var(--muted);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.overview td{padding-right:24px}
details.feature{border:1px solid var(--line);border-radius:6px;margin:6px 0;background:var(--card)}
details.feature>summary{cursor:pointer;padding:6px 10px;list-style-position:inside}
details.feature>summary .name{font-weight:600;word-break:break-all}details.feature>summary .sub{color:var(--muted);margin-left:8px}
.body{display:flex;flex-wrap:wrap;gap:8px 24px;padding:4px 12px 10px}.body>div{min-width:280px;flex:1}
svg.chart{width:100%;max-width:460px;height:auto;display:block}
svg .s1{fill:var(--s1);fill-opacity:.55;stroke:var(--s1);stroke-width:1}
svg .s2{fill:var(--s2);fill-opacity:.18;stroke:var(--s2);stroke-width:1.6;stroke-dasharray:4 2}
svg .s3{fill:var(--s3);fill-opacity:.5}
svg .grid{stroke:var(--line);fill:none}svg .whisker{stroke:var(--fg);stroke-width:1.2;fill:none}svg text{font-size:9.5px;fill:var(--muted)}svg text.label{fill:var(--fg)}
.tools{position:sticky;top:0;background:var(--bg);padding:8px 0;display:flex;gap:8px;align-items:center;z-index:1}
.tools input{flex:1;max-width:360px;padding:5px 8px;border:1px solid var(--line);border-radius:4px;background:var(--card);color:var(--fg)}
.tools button{padding:4px 10px;border:1px solid var(--line);border-radius:4px;background:var(--card);color:var(--fg);cursor:pointer}
.muted{color:var(--muted)}code{font-size:12.5px}
"#;

/// Filters the sections by name (also from a link: `page.html#search=age`)
/// and opens or closes them all; nothing else.
const SCRIPT: &str = r#"
(function(){var q=document.getElementById('search');if(!q)return;
var items=Array.prototype.slice.call(document.querySelectorAll('details[data-name]'));
var shown=document.getElementById('shown');
q.addEventListener('input',function(){var t=q.value.toLowerCase(),n=0;
items.forEach(function(e){var m=e.getAttribute('data-name').indexOf(t)>=0;e.hidden=!m;if(m)n++;});
shown.textContent=n+' of '+items.length+' shown';});
document.getElementById('expand').addEventListener('click',function(){items.forEach(function(e){if(!e.hidden)e.open=true;});});
document.getElementById('collapse').addEventListener('click',function(){items.forEach(function(e){e.open=false;});});
var h=/^#search=(.*)$/.exec(location.hash);if(h){q.value=decodeURIComponent(h[1]);q.dispatchEvent(new Event('input'));}
})();
"#;

/// The whole document around `body`.
pub(crate) fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"generator\" content=\"assay {}\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n{body}\n<script>{SCRIPT}</script></body></html>\n",
        env!("CARGO_PKG_VERSION"),
        Esc(title),
    );
    out
}

/// The search box and the expand/collapse buttons over `n` sections.
fn tools(out: &mut String, n: usize, what: &str) {
    let _ = write!(
        out,
        r#"<div class="tools"><input id="search" type="search" placeholder="Search {what} by name" aria-label="Search {what} by name"><button id="expand" type="button">Expand all</button><button id="collapse" type="button">Collapse all</button><span id="shown" class="muted">{n} {what}</span></div>"#
    );
}

/// A two-column table of `(label, value)` pairs; values are escaped.
fn key_values(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table>");
    for (k, v) in rows {
        let _ = write!(
            out,
            r#"<tr><th>{}</th><td class="n">{}</td></tr>"#,
            Esc(k),
            Esc(v)
        );
    }
    out.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            Esc(r#"<script>alert("x&'y")</script>"#).to_string(),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(Esc("plain é").to_string(), "plain é");
    }

    #[test]
    fn counts_and_shares_read_as_people_write_them() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(-1000.0), "-1,000");
        assert_eq!(count(12.0), "12");
        assert_eq!(count(2.5), "2.5");
        assert_eq!(pct(0.25), "25%");
        assert_eq!(pct(0.0123), "1.2%");
        assert_eq!(pct(0.0), "0%");
    }
}
