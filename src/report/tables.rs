//! Readable tables (comfy-table) of a profile and of a schema.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::profile::{ColumnProfile, LogicalType, Profile};
use crate::schema::{Domain, Schema};

fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}

/// Compact number: integers as integers, others with 4 significant digits.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1e6 || (v != 0.0 && v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

fn summary(c: &ColumnProfile) -> String {
    match c.logical_type {
        LogicalType::String | LogicalType::Int if c.top.is_some() => {
            let top: Vec<String> = c
                .top
                .iter()
                .flatten()
                .take(3)
                .map(|v| format!("{} ({})", truncate(&v.value, 18), v.count))
                .collect();
            let distinct = c.distinct.map(|d| {
                let approx = if c.distinct_exact == Some(true) {
                    ""
                } else {
                    "~"
                };
                format!("{approx}{} distinct", num(d.round()))
            });
            [distinct.unwrap_or_default(), top.join(", ")].join("; ")
        }
        LogicalType::Bool => {
            format!(
                "true {} / false {}",
                c.true_count.unwrap_or(0),
                c.false_count.unwrap_or(0)
            )
        }
        LogicalType::Timestamp | LogicalType::Date => format!(
            "{} .. {}",
            c.min_text.as_deref().unwrap_or(""),
            c.max_text.as_deref().unwrap_or("")
        ),
        LogicalType::List => c
            .value_count
            .as_ref()
            .map(|v| {
                format!(
                    "values per list {}..{} (mean {})",
                    v.min,
                    v.max,
                    num(v.mean)
                )
            })
            .unwrap_or_default(),
        _ => {
            let nan = c.nan_count.unwrap_or(0);
            let inf = c.pos_inf_count.unwrap_or(0) + c.neg_inf_count.unwrap_or(0);
            let mut parts = Vec::new();
            if nan > 0 {
                parts.push(format!("{nan} NaN"));
            }
            if inf > 0 {
                parts.push(format!("{inf} inf"));
            }
            parts.push(format!("{} zeros", c.zeros.unwrap_or(0)));
            parts.join(", ")
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// One row per column: type, role, counts, moments, quartiles, and a summary.
pub fn profile_table(profile: &Profile) -> String {
    let mut table = new_table(&[
        "column", "type", "role", "count", "null %", "mean", "stddev", "min", "p50", "max", "notes",
    ]);
    for c in &profile.columns {
        let total = (c.count + c.null_count).max(1) as f64;
        let q = |k: &str| c.quantiles.as_ref().and_then(|q| q.get(k).copied());
        let numeric = c.logical_type.is_numeric();
        table.add_row(vec![
            c.name.clone(),
            c.logical_type.as_str().to_string(),
            c.role.as_str().to_string(),
            c.count.to_string(),
            format!("{:.2}", 100.0 * c.null_count as f64 / total),
            if numeric { opt(c.mean) } else { String::new() },
            if numeric {
                opt(c.stddev)
            } else {
                String::new()
            },
            if numeric { opt(c.min) } else { String::new() },
            if numeric {
                opt(q("0.5"))
            } else {
                String::new()
            },
            if numeric { opt(c.max) } else { String::new() },
            summary(c),
        ]);
    }
    for i in 3..10 {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = format!(
        "{} rows, {} columns\n{table}\n",
        profile.rows,
        profile.columns.len()
    );
    if !profile.slices.is_empty() {
        let mut slices = new_table(&["slice", "rows"]);
        for s in &profile.slices {
            slices.add_row(vec![s.name.clone(), s.rows.to_string()]);
        }
        out.push_str(&format!("{} slices\n{slices}\n", profile.slices.len()));
    }
    out
}

/// One row per feature: what the schema expects of it.
pub fn schema_table(schema: &Schema) -> String {
    let mut table = new_table(&[
        "feature",
        "type",
        "role",
        "presence",
        "domain / range",
        "environments",
    ]);
    for f in &schema.features {
        let presence = if f.presence.required {
            "required".to_string()
        } else {
            f.presence
                .min_fraction
                .map(|m| format!(">= {:.0}%", m * 100.0))
                .unwrap_or_else(|| "optional".into())
        };
        let domain = match (&f.domain, &f.range) {
            (Some(Domain::Strings(v)), _) => {
                format!("{} values: {}", v.len(), truncate(&v.join(", "), 40))
            }
            (Some(Domain::Ints(v)), _) => format!(
                "{} values: {}",
                v.len(),
                truncate(
                    &v.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    40
                )
            ),
            (None, Some(r)) => format!("{} .. {}", opt(r.min), opt(r.max)),
            _ => String::new(),
        };
        let envs = if !f.environments.in_.is_empty() {
            format!("only {}", f.environments.in_.join(", "))
        } else if !f.environments.not_in.is_empty() {
            format!("not {}", f.environments.not_in.join(", "))
        } else {
            "all".to_string()
        };
        table.add_row(vec![
            f.name.clone(),
            f.logical_type.as_str().to_string(),
            f.role.as_str().to_string(),
            presence,
            domain,
            envs,
        ]);
    }
    format!("{} features\n{table}\n", schema.features.len())
}
