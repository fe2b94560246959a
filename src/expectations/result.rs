//! Validation results in Great Expectations' JSON shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::suite::{Expectation, ResultLevel};
use super::tally::Tally;

/// The result of a whole suite: GE's `ExpectationSuiteValidationResult`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SuiteResult {
    pub success: bool,
    pub statistics: Statistics,
    pub results: Vec<ExpectationResult>,
    pub suite_name: String,
    /// `assay_version` and the validated inputs.
    pub meta: Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Statistics {
    pub evaluated_expectations: usize,
    pub successful_expectations: usize,
    pub unsuccessful_expectations: usize,
    /// `null` when the suite is empty.
    pub success_percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExpectationResult {
    pub expectation_config: ExpectationConfig,
    pub success: bool,
    /// The fields GE gives for this kind of expectation and result format.
    pub result: Map<String, Json>,
    pub exception_info: ExceptionInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExpectationConfig {
    #[serde(rename = "type")]
    pub type_name: String,
    pub kwargs: Map<String, Json>,
    pub meta: Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ExceptionInfo {
    pub raised_exception: bool,
    pub exception_message: Option<String>,
    pub exception_traceback: Option<String>,
}

impl SuiteResult {
    pub fn new(suite_name: &str, meta: Json, results: Vec<ExpectationResult>) -> Self {
        let evaluated = results.len();
        let successful = results.iter().filter(|r| r.success).count();
        Self {
            success: successful == evaluated,
            statistics: Statistics {
                evaluated_expectations: evaluated,
                successful_expectations: successful,
                unsuccessful_expectations: evaluated - successful,
                success_percent: (evaluated > 0)
                    .then(|| successful as f64 / evaluated as f64 * 100.0),
            },
            results,
            suite_name: suite_name.to_string(),
            meta,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn config(e: &Expectation) -> ExpectationConfig {
    ExpectationConfig {
        type_name: e.type_name.clone(),
        kwargs: e.kwargs.clone(),
        meta: match &e.meta {
            Json::Null => Json::Object(Map::new()),
            m => m.clone(),
        },
    }
}

/// A result whose evaluation raised an error (`catch_exceptions`).
pub fn exception(e: &Expectation, message: &str) -> ExpectationResult {
    ExpectationResult {
        expectation_config: config(e),
        success: false,
        result: Map::new(),
        exception_info: ExceptionInfo {
            raised_exception: true,
            exception_message: Some(message.to_string()),
            exception_traceback: None,
        },
    }
}

/// An aggregate result: `observed_value` and, when the expectation has
/// them, `details`.
pub fn aggregate(
    e: &Expectation,
    success: bool,
    observed: Json,
    details: Option<Json>,
) -> ExpectationResult {
    let mut result = Map::new();
    if e.result_format.level != ResultLevel::BooleanOnly {
        result.insert("observed_value".into(), observed);
        if let Some(details) = details {
            result.insert("details".into(), details);
        }
    }
    ExpectationResult {
        expectation_config: config(e),
        success,
        result,
        exception_info: ExceptionInfo::default(),
    }
}

/// An `expect_query_results_to_match_comparison` result, shaped as GE's:
/// `unexpected_count` and `unexpected_percent` (not at `BOOLEAN_ONLY`), and
/// `details` with `missing_rows` and `unexpected_rows` only at `COMPLETE`.
pub fn comparison(e: &Expectation, c: &super::compare::Comparison) -> ExpectationResult {
    let mut result = Map::new();
    if e.result_format.level != ResultLevel::BooleanOnly {
        result.insert("unexpected_count".into(), Json::from(c.unexpected_count));
        result.insert(
            "unexpected_percent".into(),
            serde_json::Number::from_f64(c.unexpected_percent).map_or(Json::Null, Json::Number),
        );
    }
    if e.result_format.level == ResultLevel::Complete {
        result.insert(
            "details".into(),
            serde_json::json!({
                "missing_rows": c.missing_rows,
                "unexpected_rows": c.unexpected_rows,
            }),
        );
    }
    ExpectationResult {
        expectation_config: config(e),
        success: c.success,
        result,
        exception_info: ExceptionInfo::default(),
    }
}

fn percent(part: u64, whole: u64) -> Json {
    if whole == 0 {
        Json::Null
    } else {
        serde_json::Number::from_f64(part as f64 / whole as f64 * 100.0)
            .map_or(Json::Null, Json::Number)
    }
}

/// A map result from its tally. `judges_nulls`: null/not-null expectations,
/// whose results have no `missing_*` fields (GE leaves nulls in their domain).
pub fn map(e: &Expectation, tally: &Tally, judges_nulls: bool) -> ExpectationResult {
    let nonmissing = if judges_nulls {
        tally.element_count
    } else {
        tally.nonmissing()
    };
    let passed = nonmissing - tally.unexpected_count.min(nonmissing);
    // GE: success when the share of non-missing values that pass reaches
    // `mostly`; an all-missing column passes vacuously.
    let success = nonmissing == 0 || passed as f64 / nonmissing as f64 >= e.mostly;
    let format = e.result_format;
    let mut r = Map::new();
    if format.level != ResultLevel::BooleanOnly {
        let partial: Vec<&(u64, Json)> = tally
            .unexpected
            .iter()
            .take(format.partial_unexpected_count)
            .collect();
        r.insert("element_count".into(), Json::from(tally.element_count));
        r.insert(
            "unexpected_count".into(),
            Json::from(tally.unexpected_count),
        );
        r.insert(
            "unexpected_percent".into(),
            percent(tally.unexpected_count, nonmissing),
        );
        r.insert(
            "partial_unexpected_list".into(),
            Json::Array(partial.iter().map(|(_, v)| v.clone()).collect()),
        );
        if !judges_nulls {
            r.insert("missing_count".into(), Json::from(tally.missing_count));
            r.insert(
                "missing_percent".into(),
                percent(tally.missing_count, tally.element_count),
            );
            r.insert(
                "unexpected_percent_total".into(),
                percent(tally.unexpected_count, tally.element_count),
            );
            r.insert(
                "unexpected_percent_nonmissing".into(),
                percent(tally.unexpected_count, nonmissing),
            );
        }
        if format.level >= ResultLevel::Summary {
            r.insert(
                "partial_unexpected_index_list".into(),
                Json::Array(partial.iter().map(|(i, _)| Json::from(*i)).collect()),
            );
            r.insert("partial_unexpected_counts".into(), value_counts(&partial));
        }
        if format.level == ResultLevel::Complete {
            r.insert(
                "unexpected_list".into(),
                Json::Array(tally.unexpected.iter().map(|(_, v)| v.clone()).collect()),
            );
            r.insert(
                "unexpected_index_list".into(),
                Json::Array(
                    tally
                        .unexpected
                        .iter()
                        .map(|(i, _)| Json::from(*i))
                        .collect(),
                ),
            );
        }
    }
    ExpectationResult {
        expectation_config: config(e),
        success,
        result: r,
        exception_info: ExceptionInfo::default(),
    }
}

/// `[{"value", "count"}]` of the partial list, most frequent first (GE
/// counts the partial list, not every unexpected value).
fn value_counts(partial: &[&(u64, Json)]) -> Json {
    let mut counts: Vec<(String, Json, u64)> = Vec::new();
    for (_, value) in partial {
        let text = value.to_string();
        match counts.iter_mut().find(|(t, _, _)| *t == text) {
            Some(entry) => entry.2 += 1,
            None => counts.push((text, value.clone(), 1)),
        }
    }
    // Ties by value: numerically for numbers, as Python sorts them.
    counts.sort_by(|a, b| {
        let by_value = match (a.1.as_f64(), b.1.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => a.0.cmp(&b.0),
        };
        b.2.cmp(&a.2).then(by_value)
    });
    Json::Array(
        counts
            .into_iter()
            .map(|(_, value, count)| serde_json::json!({"value": value, "count": count}))
            .collect(),
    )
}
