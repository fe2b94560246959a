//! `assay suggest`: an expectation suite proposed from a profile, in the
//! spirit of Great Expectations' profiler and Deequ's constraint suggestion.
//!
//! The suite is meant to be reviewed and committed, so it is written as
//! commented TOML: every expectation says why it was proposed. The rules are
//! conservative — the profiled data itself always passes, and ordinary
//! variation between batches (a rare unseen category, a slightly larger
//! maximum, a batch of another size) does too — while the faults that break
//! models fail: a dropped or retyped column, a column gone null, a new
//! category taking a real share, a unit change.

use std::fmt::Write as _;

use crate::profile::{ColumnProfile, ColumnRole, LogicalType, Profile};

/// Knobs of the suggestion rules.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestOptions {
    /// Suite name written into the file.
    pub name: String,
    /// A string (or int) column with at most this many exact distinct values,
    /// covering at most half of its non-null values, is categorical.
    pub max_set_size: usize,
    /// Share of values that must be in the observed set / range (`mostly`).
    pub mostly: f64,
    /// Numeric ranges are widened by this share of their width on each side.
    pub range_margin: f64,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        Self {
            name: "suggested".into(),
            max_set_size: 100,
            mostly: 0.99,
            range_margin: 0.1,
        }
    }
}

/// The suggested suite as commented TOML (`assay.expectations/1`).
pub fn suggest_suite(profile: &Profile, options: &SuggestOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Expectation suite suggested by `assay suggest` from a profile of {} rows\n\
         # ({}). Review it: tighten or loosen bounds, delete what does not matter,\n\
         # then commit it and run `assay validate DATA --suite FILE`.\n\
         # Rules: the profiled data passes every expectation; sets and ranges allow\n\
         # {}% of values outside them (`mostly`), ranges are widened by {}% of their\n\
         # width on each side, and the label is left out of column checks because\n\
         # serving data has none.\n",
        profile.rows,
        if profile.sources.is_empty() {
            "no sources recorded".to_string()
        } else {
            profile.sources.join(", ")
        },
        percent(1.0 - options.mostly),
        percent(options.range_margin),
    );
    let _ = writeln!(out, "format = \"assay.expectations/1\"");
    let _ = writeln!(out, "name = {}\n", text(&options.name));

    // Table level.
    let low = profile.rows / 10;
    let high = profile.rows.saturating_mul(10);
    expectation(
        &mut out,
        "expect_table_row_count_to_be_between",
        &format!(
            "{} rows were profiled; a batch 10x smaller or larger usually means an upstream failure",
            profile.rows
        ),
        &[
            ("min_value", low.to_string()),
            ("max_value", high.to_string()),
        ],
    );

    for column in &profile.columns {
        suggest_column(&mut out, column, profile.rows, options);
    }
    out
}

fn suggest_column(out: &mut String, c: &ColumnProfile, rows: u64, options: &SuggestOptions) {
    let _ = writeln!(
        out,
        "# ---- {} ({}, {})",
        c.name,
        c.logical_type.as_str(),
        c.role.as_str()
    );
    if c.role == ColumnRole::Label {
        let _ = writeln!(
            out,
            "# no expectations: labels are absent from serving data (validate labelled data with its own suite)\n"
        );
        return;
    }
    let column = ("column", text(&c.name));
    expectation(
        out,
        "expect_column_to_exist",
        "the column is in the profiled data; a dropped or renamed column must fail",
        std::slice::from_ref(&column),
    );
    expectation(
        out,
        "expect_column_values_to_be_of_type",
        &format!(
            "the column was {} ({})",
            c.logical_type.as_str(),
            c.arrow_type
        ),
        &[column.clone(), ("type_", text(c.logical_type.as_str()))],
    );

    // Completeness.
    if c.count == 0 {
        let _ = writeln!(out, "# every value was missing: no value expectations\n");
        return;
    }
    // GE counts NaN as missing, as pandas does.
    let missing = c.null_count + c.nan_count.unwrap_or(0);
    let present = (rows.saturating_sub(missing)) as f64 / rows.max(1) as f64;
    if missing == 0 {
        expectation(
            out,
            "expect_column_values_to_not_be_null",
            "no value was missing",
            std::slice::from_ref(&column),
        );
    } else {
        // GE's `mostly` here is the share of non-null rows; allow 10% fewer.
        let mostly = floor3(present * 0.9);
        expectation(
            out,
            "expect_column_values_to_not_be_null",
            &format!(
                "{}% of rows had a value; allow 10% fewer before failing",
                percent(present)
            ),
            &[column.clone(), ("mostly", float(mostly))],
        );
    }

    // Identifiers: uniqueness, nothing about their values.
    if c.role == ColumnRole::Id {
        let distinct = c.distinct.unwrap_or(0.0);
        if c.distinct_exact == Some(true) && distinct as u64 == c.count {
            expectation(
                out,
                "expect_column_values_to_be_unique",
                "an id column whose values were all distinct",
                std::slice::from_ref(&column),
            );
        } else if distinct >= 0.97 * c.count as f64 {
            expectation(
                out,
                "expect_column_proportion_of_unique_values_to_be_between",
                &format!(
                    "an id column with about {} distinct values in {} (HLL estimate); duplicates past 10% fail",
                    distinct.round(),
                    c.count
                ),
                &[column.clone(), ("min_value", float(0.9))],
            );
        }
        let _ = writeln!(out);
        return;
    }

    match c.logical_type {
        LogicalType::String => suggest_set(out, c, &column, options, true),
        LogicalType::Int if is_categorical(c, options) => {
            suggest_set(out, c, &column, options, false)
        }
        LogicalType::Int | LogicalType::Float => suggest_range(out, c, &column, options),
        _ => {}
    }
    let _ = writeln!(out);
}

fn is_categorical(c: &ColumnProfile, options: &SuggestOptions) -> bool {
    let Some(distinct) = c.distinct else {
        return false;
    };
    c.distinct_exact == Some(true)
        && distinct as usize <= options.max_set_size
        && distinct <= 0.5 * c.count as f64
}

fn suggest_set(
    out: &mut String,
    c: &ColumnProfile,
    column: &(&str, String),
    options: &SuggestOptions,
    strings: bool,
) {
    if !is_categorical(c, options) {
        if strings && let Some(length) = &c.length {
            expectation(
                out,
                "expect_column_value_lengths_to_be_between",
                &format!(
                    "free text of {}..{} characters; lengths past twice the longest fail",
                    length.min, length.max
                ),
                &[
                    column.clone(),
                    ("max_value", (length.max.saturating_mul(2)).to_string()),
                    ("mostly", float(options.mostly)),
                ],
            );
        }
        return;
    }
    // The profile's `top` holds every value when the counts are exact and
    // there are at most 100 of them (the categorical bound above).
    let values: Vec<String> = c
        .top
        .iter()
        .flatten()
        .map(|v| {
            if strings {
                text(&v.value)
            } else {
                v.value.clone()
            }
        })
        .collect();
    if values.is_empty() || values.len() as f64 != c.distinct.unwrap_or(-1.0) {
        return;
    }
    expectation(
        out,
        "expect_column_values_to_be_in_set",
        &format!(
            "{} categories seen; a new category taking more than {}% of values fails",
            values.len(),
            percent(1.0 - options.mostly)
        ),
        &[
            column.clone(),
            ("value_set", format!("[{}]", values.join(", "))),
            ("mostly", float(options.mostly)),
        ],
    );
}

fn suggest_range(
    out: &mut String,
    c: &ColumnProfile,
    column: &(&str, String),
    options: &SuggestOptions,
) {
    let (Some(min), Some(max)) = (c.min, c.max) else {
        return;
    };
    let width = (max - min).abs().max(max.abs().max(min.abs()) * 0.01);
    let margin = width * options.range_margin;
    let (low, high) = if c.logical_type == LogicalType::Int {
        ((min - margin).floor(), (max + margin).ceil())
    } else {
        (min - margin, max + margin)
    };
    // Non-negative data stays non-negative: a sign flip is a fault.
    let low = if min >= 0.0 { low.max(0.0) } else { low };
    expectation(
        out,
        "expect_column_values_to_be_between",
        &format!(
            "observed {}..{}; widened by {}% of the width each side",
            number(min, c.logical_type),
            number(max, c.logical_type),
            percent(options.range_margin)
        ),
        &[
            column.clone(),
            ("min_value", number(low, c.logical_type)),
            ("max_value", number(high, c.logical_type)),
            ("mostly", float(options.mostly)),
        ],
    );
    if let (Some(mean), Some(stddev)) = (c.mean, c.stddev)
        && stddev > 0.0
        && stddev.is_finite()
    {
        expectation(
            out,
            "expect_column_mean_to_be_between",
            &format!(
                "mean {} (stddev {}); a shift of the mean by more than one standard deviation (a unit change, a broken join) fails",
                sig(mean),
                sig(stddev)
            ),
            &[
                column.clone(),
                ("min_value", float(mean - stddev)),
                ("max_value", float(mean + stddev)),
            ],
        );
    }
}

fn expectation(out: &mut String, type_name: &str, why: &str, args: &[(&str, String)]) {
    let _ = writeln!(out, "# {why}");
    let _ = writeln!(out, "[[expectations]]");
    let _ = writeln!(out, "type = \"{type_name}\"");
    for (key, value) in args {
        let _ = writeln!(out, "{key} = {value}");
    }
}

/// A TOML string literal.
fn text(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

/// A TOML float literal (always with a decimal point or exponent).
fn float(value: f64) -> String {
    toml::Value::Float(value).to_string()
}

fn number(value: f64, logical: LogicalType) -> String {
    if logical == LogicalType::Int && value.abs() < 9.0e15 {
        format!("{}", value as i64)
    } else {
        float(value)
    }
}

fn floor3(v: f64) -> f64 {
    (v * 1000.0).floor() / 1000.0
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round())
    } else {
        format!("{p:.1}")
    }
}

fn sig(v: f64) -> String {
    format!("{v:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expectations::parse_toml;

    #[test]
    fn number_formats_are_valid_toml() {
        assert_eq!(float(1e20), "100000000000000000000.0");
        assert_eq!(float(2.0), "2.0");
        assert_eq!(number(3.0, LogicalType::Int), "3");
        assert_eq!(text("a\"b"), "'a\"b'");
        assert_eq!(percent(0.01), "1");
        assert_eq!(floor3(0.89999), 0.899);
    }

    #[test]
    fn an_empty_profile_gives_a_parseable_suite() {
        let profile = Profile {
            format: crate::profile::PROFILE_FORMAT.into(),
            created_by: "test".into(),
            sources: vec![],
            rows: 0,
            columns: vec![],
            slice_specs: vec![],
            slices: vec![],
        };
        let toml = suggest_suite(&profile, &SuggestOptions::default());
        let suite = parse_toml(&toml, "suggested.toml").expect("valid suite");
        assert_eq!(suite.expectations.len(), 1);
    }
}
