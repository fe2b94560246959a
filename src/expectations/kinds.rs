//! The expectation registry: GE names, their arguments, and the typed form
//! each one becomes. Argument errors name the argument; unknown arguments
//! and unknown expectation types get the closest known name.

use serde_json::Value as Json;

use super::args::{Args, Problem, describe, like_to_regex};
use super::exact::Interpolation;
use super::matcher::Matcher;
use super::params;
use super::parse::{RawExpectation, closest, unknown_key};
use super::suite::*;

/// Every expectation assay runs, by GE name.
pub const SUPPORTED: &[&str] = &[
    "expect_column_distinct_values_to_be_in_set",
    "expect_column_distinct_values_to_contain_set",
    "expect_column_distinct_values_to_equal_set",
    "expect_column_kl_divergence_to_be_less_than",
    "expect_column_max_to_be_between",
    "expect_column_mean_to_be_between",
    "expect_column_median_to_be_between",
    "expect_column_min_to_be_between",
    "expect_column_most_common_value_to_be_in_set",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_to_be_in_set",
    "expect_column_proportion_of_non_null_values_to_be_between",
    "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_quantile_values_to_be_between",
    "expect_column_stdev_to_be_between",
    "expect_column_sum_to_be_between",
    "expect_column_to_exist",
    "expect_column_type_to_be",
    "expect_column_unique_value_count_to_be_between",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_value_z_scores_to_be_less_than",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_dateutil_parseable",
    "expect_column_values_to_be_decreasing",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_json_parseable",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_match_json_schema",
    "expect_column_values_to_match_like_pattern",
    "expect_column_values_to_match_like_pattern_list",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_match_regex_list",
    "expect_column_values_to_match_strftime_format",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_not_be_outliers",
    "expect_column_values_to_not_match_like_pattern",
    "expect_column_values_to_not_match_like_pattern_list",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_not_match_regex_list",
    "expect_compound_columns_to_be_unique",
    "expect_multicolumn_sum_to_equal",
    "expect_multicolumn_values_to_be_equal",
    "expect_multicolumn_values_to_be_unique",
    "expect_query_results_to_match_comparison",
    "expect_select_column_values_to_be_unique_within_record",
    "expect_table_column_count_to_be_between",
    "expect_table_column_count_to_equal",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_columns_to_match_set",
    "expect_table_row_count_to_be_between",
    "expect_table_row_count_to_equal",
    "expect_table_row_count_to_equal_other_table",
    "unexpected_rows_expectation",
];

/// Builds the typed expectation, or every problem with it.
pub(crate) fn build(raw: &RawExpectation) -> Result<Expectation, Vec<Problem>> {
    let name = raw.type_name.as_str();
    if !SUPPORTED.contains(&name) {
        let message = match closest(name, SUPPORTED.iter().copied()) {
            Some(near) => format!("unknown expectation type; did you mean `{near}`?"),
            None => "unknown expectation type (docs/expectations.md lists them)".into(),
        };
        return Err(vec![Problem {
            argument: None,
            message,
            about_type: true,
        }]);
    }
    // Suite parameters take their values first; the kwargs echoed in
    // results stay as written.
    let mut kwargs = raw.kwargs.clone();
    let mut parameter_problems = Vec::new();
    for (key, value) in kwargs.iter_mut() {
        match params::resolve(value) {
            Some(Ok(resolved)) => *value = resolved,
            Some(Err(message)) => {
                parameter_problems.push(Problem {
                    argument: Some(key.clone()),
                    message,
                    about_type: false,
                });
                *value = Json::Null;
            }
            None => {}
        }
    }
    let mut args = Args {
        kwargs: &kwargs,
        used: Vec::new(),
        problems: parameter_problems,
    };
    let kind = kind(name, &mut args);
    let takes_mostly = matches!(
        kind,
        Kind::Map { .. }
            | Kind::Multi { .. }
            | Kind::QueryComparison { .. }
            | Kind::Aggregate {
                check: AggregateCheck::OfType(_) | AggregateCheck::InTypeList(_),
                ..
            }
    );
    let mostly = if takes_mostly {
        match args.number("mostly") {
            Some(m) if !(0.0..=1.0).contains(&m) => {
                args.bad("mostly", format!("must be between 0 and 1, found {m}"));
                1.0
            }
            Some(m) => m,
            None => 1.0,
        }
    } else {
        1.0
    };
    let (result_format, explicit) = result_format(&mut args);
    let catch_exceptions = args.flag("catch_exceptions", true);
    let row_condition = row_condition(&mut args);
    let _ = args.get("include_config");
    let mut problems = args.finish();
    if !matches!(raw.meta, Json::Object(_) | Json::Null) {
        problems.push(Problem {
            argument: None,
            message: "`meta` must be a table/object".into(),
            about_type: false,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Expectation {
        index: raw.index,
        type_name: raw.type_name.clone(),
        kwargs: raw.kwargs.clone(),
        meta: raw.meta.clone(),
        kind,
        mostly,
        result_format,
        result_format_explicit: explicit,
        catch_exceptions,
        row_condition,
    })
}

fn result_format(args: &mut Args<'_>) -> (ResultFormat, bool) {
    let mut format = ResultFormat::default();
    let bad_level = "expected BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE";
    match args.get("result_format") {
        None => return (format, false),
        Some(Json::String(s)) => match ResultLevel::parse(s) {
            Some(level) => format.level = level,
            None => args.bad("result_format", format!("{bad_level}, found \"{s}\"")),
        },
        Some(Json::Object(map)) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("result_format", Json::String(s)) => match ResultLevel::parse(s) {
                        Some(level) => format.level = level,
                        None => args.bad("result_format", format!("{bad_level}, found \"{s}\"")),
                    },
                    ("partial_unexpected_count", Json::Number(n)) if n.as_u64().is_some() => {
                        format.partial_unexpected_count = n.as_u64().unwrap_or(20) as usize;
                    }
                    // Accepted for compatibility; assay always reports row positions.
                    (
                        "include_unexpected_rows"
                        | "unexpected_index_column_names"
                        | "return_unexpected_index_query"
                        | "exclude_unexpected_values",
                        _,
                    ) => {}
                    (other, _) => args.bad(
                        "result_format",
                        unknown_key("key", other, &["result_format", "partial_unexpected_count"]),
                    ),
                }
            }
        }
        Some(other) => args.bad(
            "result_format",
            format!("{bad_level} (or a table), found {}", describe(other)),
        ),
    }
    (format, true)
}

/// `row_condition` by its `condition_parser`: `sql` / `spark` (or none)
/// is polars SQL taken as is; `pandas` is `DataFrame.query` syntax, parsed
/// now and written as SQL for the data's schema when the suite runs.
fn row_condition(args: &mut Args<'_>) -> Option<RowCondition> {
    let condition = args.string("row_condition")?;
    let parser = args.string("condition_parser");
    match parser.as_deref() {
        None | Some("sql") | Some("spark") => Some(RowCondition::Sql(condition)),
        Some("pandas") => match PandasCondition::parse(&condition) {
            Ok(parsed) => Some(RowCondition::Pandas(parsed)),
            Err(e) => {
                args.bad(
                    "row_condition",
                    format!("pandas condition \"{condition}\": {e}"),
                );
                None
            }
        },
        Some(other) => {
            args.bad(
                "condition_parser",
                format!("expected \"sql\", \"spark\" or \"pandas\", found \"{other}\""),
            );
            None
        }
    }
}

fn column_map(args: &mut Args<'_>, rule: MapRule) -> Kind {
    Kind::Map {
        column: args.req_string("column"),
        rule,
    }
}

fn aggregate(args: &mut Args<'_>, check: impl FnOnce(&mut Args<'_>) -> AggregateCheck) -> Kind {
    let column = args.req_string("column");
    Kind::Aggregate {
        column,
        check: check(args),
    }
}

fn pair(args: &mut Args<'_>, rule: MultiRule) -> Kind {
    let a = args.req_string("column_A");
    let b = args.req_string("column_B");
    Kind::Multi {
        columns: vec![a, b],
        rule,
        ignore: args.ignore_row_if(true),
    }
}

fn multi(args: &mut Args<'_>, rule: MultiRule) -> Kind {
    let columns = args.strings("column_list");
    if columns.is_empty() && args.kwargs.get("column_list").is_some_and(Json::is_array) {
        args.bad("column_list", "the list is empty");
    }
    Kind::Multi {
        columns,
        rule,
        ignore: args.ignore_row_if(false),
    }
}

fn kind(name: &str, a: &mut Args<'_>) -> Kind {
    use AggregateCheck as A;
    use MapRule as M;
    let short = name.strip_prefix("expect_").unwrap_or(name);
    match short {
        "table_row_count_to_be_between" => {
            Kind::Table(TableCheck::RowCountBetween(a.numeric_bounds()))
        }
        "table_row_count_to_equal" => Kind::Table(TableCheck::RowCountEqual(a.req_count("value"))),
        "table_row_count_to_equal_other_table" => Kind::Table(TableCheck::RowCountEqualOtherTable(
            a.req_string("other_table_name"),
        )),
        "table_column_count_to_be_between" => {
            Kind::Table(TableCheck::ColumnCountBetween(a.numeric_bounds()))
        }
        "table_column_count_to_equal" => {
            Kind::Table(TableCheck::ColumnCountEqual(a.req_count("value")))
        }
        "table_columns_to_match_ordered_list" => Kind::Table(TableCheck::ColumnsMatchOrderedList(
            a.optional_strings("column_list"),
        )),
        "table_columns_to_match_set" => Kind::Table(TableCheck::ColumnsMatchSet {
            set: a.optional_strings("column_set"),
            exact: a.flag("exact_match", true),
        }),
        "column_to_exist" => Kind::Table(TableCheck::ColumnExists {
            column: a.req_string("column"),
            index: a.count("column_index").map(|i| i as usize),
        }),
        "column_min_to_be_between" => aggregate(a, |a| A::Min(a.bounds())),
        "column_max_to_be_between" => aggregate(a, |a| A::Max(a.bounds())),
        "column_mean_to_be_between" => aggregate(a, |a| A::Mean(a.numeric_bounds())),
        "column_median_to_be_between" => aggregate(a, |a| A::Median(a.numeric_bounds())),
        "column_stdev_to_be_between" => aggregate(a, |a| A::Stdev(a.numeric_bounds())),
        "column_sum_to_be_between" => aggregate(a, |a| A::Sum(a.numeric_bounds())),
        "column_proportion_of_non_null_values_to_be_between" => {
            aggregate(a, |a| A::ProportionNonNull(a.numeric_bounds()))
        }
        "column_proportion_of_unique_values_to_be_between" => {
            aggregate(a, |a| A::ProportionUnique(a.numeric_bounds()))
        }
        "column_unique_value_count_to_be_between" => {
            aggregate(a, |a| A::UniqueValueCount(a.numeric_bounds()))
        }
        "column_quantile_values_to_be_between" => aggregate(a, quantiles),
        "column_distinct_values_to_be_in_set" => {
            aggregate(a, |a| A::DistinctInSet(a.optional_scalars("value_set")))
        }
        "column_distinct_values_to_contain_set" => {
            aggregate(a, |a| A::DistinctContainSet(a.scalars("value_set")))
        }
        "column_distinct_values_to_equal_set" => {
            aggregate(a, |a| A::DistinctEqualSet(a.scalars("value_set")))
        }
        "column_most_common_value_to_be_in_set" => aggregate(a, |a| A::MostCommonInSet {
            set: a.scalars("value_set"),
            ties_okay: a.flag("ties_okay", false),
        }),
        "column_kl_divergence_to_be_less_than" => aggregate(a, super::kl::parse),
        "column_type_to_be" | "column_values_to_be_of_type" => {
            aggregate(a, |a| A::OfType(a.req_string("type_")))
        }
        "column_values_to_be_in_type_list" => {
            aggregate(a, |a| A::InTypeList(a.optional_strings("type_list")))
        }
        "column_values_to_not_be_null" => column_map(a, M::NotNull),
        "column_values_to_be_null" => column_map(a, M::Null),
        "column_values_to_be_in_set" => {
            let set = a.scalars("value_set");
            column_map(a, M::InSet(set))
        }
        "column_values_to_not_be_in_set" => {
            let set = a.scalars("value_set");
            column_map(a, M::NotInSet(set))
        }
        "column_values_to_be_between" => {
            let bounds = a.required_bounds();
            column_map(a, M::Between(bounds))
        }
        "column_values_to_be_increasing" => {
            let strictly = a.flag("strictly", false);
            column_map(a, M::Increasing { strictly })
        }
        "column_values_to_be_decreasing" => {
            let strictly = a.flag("strictly", false);
            column_map(a, M::Decreasing { strictly })
        }
        "column_value_lengths_to_be_between" => {
            let min = a.count("min_value");
            let max = a.count("max_value");
            if min.is_none() && max.is_none() && a.problems.is_empty() {
                a.bad(
                    "min_value",
                    "min_value and max_value cannot both be null: give at least one",
                );
            }
            // min > max is allowed here: GE answers it (every value fails).
            column_map(a, M::LengthsBetween { min, max })
        }
        "column_value_lengths_to_equal" => {
            let value = a.req_count("value");
            column_map(a, M::LengthsEqual(value))
        }
        "column_values_to_match_regex" | "column_values_to_not_match_regex" => {
            let pattern = a.req_string("regex");
            let regex = a.regex("regex", &pattern);
            let rule = match (regex, short.contains("not_match")) {
                (Some(r), false) => M::Regex(Matcher::new(&r)),
                (Some(r), true) => M::NotRegex(Matcher::new(&r)),
                (None, _) => M::NotNull,
            };
            column_map(a, rule)
        }
        "column_values_to_match_regex_list" => {
            let regexes = a.regexes("regex_list");
            let all = a.match_on_all();
            column_map(a, M::RegexList { regexes, all })
        }
        "column_values_to_not_match_regex_list" => {
            let regexes = a.regexes("regex_list");
            column_map(a, M::NotRegexList(regexes))
        }
        "column_values_to_match_like_pattern" | "column_values_to_not_match_like_pattern" => {
            let pattern = a.req_string("like_pattern");
            let regex = a.regex("like_pattern", &like_to_regex(&pattern));
            let rule = match (regex, short.contains("not_match")) {
                (Some(r), false) => M::Like(Matcher::new(&r)),
                (Some(r), true) => M::NotLike(Matcher::new(&r)),
                (None, _) => M::NotNull,
            };
            column_map(a, rule)
        }
        "column_values_to_match_like_pattern_list" => {
            let patterns = a.likes("like_pattern_list");
            let all = a.match_on_all();
            column_map(a, M::LikeList { patterns, all })
        }
        "column_values_to_not_match_like_pattern_list" => {
            let patterns = a.likes("like_pattern_list");
            column_map(a, M::NotLikeList(patterns))
        }
        "column_values_to_match_strftime_format" => {
            let format = a.req_string("strftime_format");
            if let Some(directive) = unknown_strptime_directive(&format) {
                a.bad(
                    "strftime_format",
                    format!(
                        "unable to use strftime format \"{format}\": {directive} is not a directive of Python's strptime"
                    ),
                );
            } else if chrono::format::StrftimeItems::new(&format)
                .any(|item| matches!(item, chrono::format::Item::Error))
            {
                a.bad(
                    "strftime_format",
                    format!("invalid strftime format \"{format}\""),
                );
            }
            column_map(a, M::StrftimeFormat(format))
        }
        "column_values_to_be_dateutil_parseable" => column_map(a, M::DateutilParseable),
        "column_values_to_be_json_parseable" => column_map(a, M::JsonParseable),
        "column_values_to_match_json_schema" => {
            let schema = match a.get("json_schema") {
                None => {
                    a.missing("json_schema");
                    None
                }
                Some(value) => match jsonschema::validator_for(value) {
                    Ok(v) => Some(CompiledJsonSchema(std::sync::Arc::new(v))),
                    Err(e) => {
                        a.bad("json_schema", format!("not a valid JSON Schema: {e}"));
                        None
                    }
                },
            };
            match schema {
                Some(schema) => column_map(a, M::MatchJsonSchema(schema)),
                // The problem is recorded; any rule keeps the build going.
                None => column_map(a, M::JsonParseable),
            }
        }
        "column_values_to_be_unique" => column_map(a, M::Unique),
        "column_value_z_scores_to_be_less_than" => {
            let threshold = a.req_number("threshold");
            let double_sided = a.flag("double_sided", false);
            column_map(
                a,
                M::ZScoreLessThan {
                    threshold,
                    double_sided,
                },
            )
        }
        "column_values_to_not_be_outliers" => {
            let method = match a.string("method").as_deref() {
                None | Some("iqr") => OutlierMethod::Iqr,
                Some("std") => OutlierMethod::Std,
                Some(other) => {
                    a.bad(
                        "method",
                        format!("expected \"iqr\" or \"std\", found {other:?}"),
                    );
                    OutlierMethod::Iqr
                }
            };
            let multiplier = a.number("multiplier").unwrap_or(1.5);
            if multiplier < 0.0 {
                a.bad("multiplier", "expected a number >= 0");
            }
            column_map(a, M::NotOutliers { method, multiplier })
        }
        "column_pair_values_to_be_equal" => pair(a, MultiRule::PairEqual),
        "column_pair_values_a_to_be_greater_than_b" => {
            let or_equal = a.flag("or_equal", false);
            pair(a, MultiRule::PairGreater { or_equal })
        }
        "column_pair_values_to_be_in_set" => {
            let pairs = value_pairs(a);
            pair(a, MultiRule::PairInSet(pairs))
        }
        "multicolumn_sum_to_equal" => {
            let total = a.req_number("sum_total");
            multi(a, MultiRule::SumEqual(total))
        }
        "multicolumn_values_to_be_equal" => multi(a, MultiRule::ValuesEqual),
        "multicolumn_values_to_be_unique" | "select_column_values_to_be_unique_within_record" => {
            multi(a, MultiRule::UniqueWithinRecord)
        }
        "compound_columns_to_be_unique" => multi(a, MultiRule::CompoundUnique),
        "unexpected_rows_expectation" => {
            let query = a.req_string("unexpected_rows_query");
            let _ = a.get("description");
            Kind::UnexpectedRows { query }
        }
        "query_results_to_match_comparison" => {
            let mut text = |key: &'static str| {
                let value = a.req_string(key);
                if a.kwargs.get(key).is_some_and(|v| v.as_str() == Some("")) {
                    a.bad(key, "must not be empty");
                }
                value
            };
            Kind::QueryComparison {
                base_query: text("base_query"),
                comparison_source: text("comparison_data_source_name"),
                comparison_query: text("comparison_query"),
            }
        }
        // SUPPORTED and this match list the same names (tested).
        _ => Kind::Table(TableCheck::ColumnCountEqual(0)),
    }
}

/// The first `%` directive of `format` that Python's `strptime` lacks
/// (GE checks formats with Python; chrono knows more, such as `%D`).
fn unknown_strptime_directive(format: &str) -> Option<String> {
    const PYTHON: &str = "aAwdbBmyYHIpMSfzZjUWcxXGuV%";
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(d) if PYTHON.contains(d) => {}
                Some(d) => return Some(format!("%{d}")),
                None => return Some("a trailing %".into()),
            }
        }
    }
    None
}

fn quantiles(a: &mut Args<'_>) -> AggregateCheck {
    // GE on pandas: false means numpy's `nearest`; a method name chooses
    // the interpolation. (Exact quantiles either way.)
    let interpolation = match a.get("allow_relative_error") {
        None | Some(Json::Bool(_)) => Interpolation::Nearest,
        Some(Json::String(name)) => Interpolation::parse(name).unwrap_or_else(|| {
            a.bad(
                "allow_relative_error",
                format!(
                    "expected true/false or one of linear, lower, higher, midpoint, nearest, found \"{name}\""
                ),
            );
            Interpolation::Nearest
        }),
        Some(other) => {
            a.bad(
                "allow_relative_error",
                format!("expected true/false or an interpolation name, found {}", describe(other)),
            );
            Interpolation::Nearest
        }
    };
    let mut quantiles = Vec::new();
    let mut ranges = Vec::new();
    let key = "quantile_ranges";
    match a.get(key) {
        None => a.missing(key),
        Some(Json::Object(map)) => {
            let qs = map.get("quantiles").and_then(Json::as_array);
            let rs = map.get("value_ranges").and_then(Json::as_array);
            match (qs, rs) {
                (Some(qs), Some(rs)) if qs.len() == rs.len() => {
                    for (q, r) in qs.iter().zip(rs) {
                        let q = q.as_f64().filter(|q| (0.0..=1.0).contains(q));
                        let r = r.as_array().filter(|r| r.len() == 2);
                        match (q, r) {
                            (Some(q), Some(r)) => {
                                let (lo, hi) = (r[0].as_f64(), r[1].as_f64());
                                if let (Some(lo), Some(hi)) = (lo, hi)
                                    && lo > hi
                                {
                                    a.bad(
                                        key,
                                        format!("quantile_ranges must consist of ordered pairs: [{lo}, {hi}] is not"),
                                    );
                                }
                                quantiles.push(q);
                                ranges.push((lo, hi));
                            }
                            _ => a.bad(
                                key,
                                "each quantile must be a number in [0, 1] and each value range a [min, max] pair (null for open)",
                            ),
                        }
                    }
                }
                _ => a.bad(
                    key,
                    "expected {quantiles = [...], value_ranges = [[min, max], ...]} of equal lengths",
                ),
            }
        }
        Some(other) => a.bad(
            key,
            format!("expected a table/object, found {}", describe(other)),
        ),
    }
    AggregateCheck::Quantiles {
        quantiles,
        ranges,
        interpolation,
    }
}

fn value_pairs(a: &mut Args<'_>) -> Vec<(Scalar, Scalar)> {
    let key = "value_pairs_set";
    let Some(items) = a.list(key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let parsed = item
            .as_array()
            .filter(|p| p.len() == 2)
            .and_then(|p| Some((Scalar::from_json(&p[0])?, Scalar::from_json(&p[1])?)));
        match parsed {
            Some(p) => out.push(p),
            None => a.bad(
                key,
                format!("expected [a, b] pairs, found {}", describe(item)),
            ),
        }
    }
    out
}
