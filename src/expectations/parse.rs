//! Reading suites: native TOML and Great Expectations JSON (1.x and 0.x).
//!
//! Both forms are first read into raw expectations (type, kwargs, meta, and
//! for TOML the line and column of every key), then each raw expectation is
//! turned into its typed form by [`super::kinds::build`]. Every problem of
//! every expectation is collected; the suite is rejected with all of them.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde_json::{Map, Value as Json};
use toml::de::{DeTable, DeValue};

use super::kinds;
use super::suite::{ResultLevel, Suite};
use super::{Diagnostic, ExpectationError};
use crate::schema::edit_distance;

/// An expectation as written, before its arguments are checked.
pub(crate) struct RawExpectation {
    pub index: usize,
    pub type_name: String,
    pub kwargs: Map<String, Json>,
    pub meta: Json,
    /// TOML only: byte spans of the `type` value and of each argument key.
    pub type_span: Option<Range<usize>>,
    pub key_spans: HashMap<String, Range<usize>>,
    pub table_span: Option<Range<usize>>,
}

/// Reads a suite file: `.json` files are GE suites, anything else TOML.
pub fn load(path: &Path) -> Result<Suite, ExpectationError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ExpectationError::Read {
        path: file.clone(),
        source,
    })?;
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        parse_json(&text, &file)
    } else {
        parse_toml(&text, &file)
    }
}

/// Positions in the text, 1-based line and column (in characters).
pub(crate) struct Locator<'a> {
    pub text: &'a str,
    pub file: &'a str,
}

impl Locator<'_> {
    pub fn diagnostic(&self, span: Option<&Range<usize>>, message: String) -> Diagnostic {
        let (line, column) = match span {
            Some(span) => {
                let offset = span.start.min(self.text.len());
                let before = self.text.get(..offset).unwrap_or(self.text);
                let line = before.matches('\n').count() + 1;
                let start = before.rfind('\n').map_or(0, |i| i + 1);
                (Some(line), Some(before[start..].chars().count() + 1))
            }
            None => (None, None),
        };
        Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            message: message.trim().replace('\n', "; "),
        }
    }
}

// ---------------------------------------------------------------- JSON

const JSON_SUITE_KEYS: &[&str] = &[
    "name",
    "expectation_suite_name",
    "expectations",
    "meta",
    "id",
    "ge_cloud_id",
    "notes",
    "data_asset_type",
    "suite_parameters",
    "evaluation_parameters",
];
const JSON_EXPECTATION_KEYS: &[&str] = &[
    "type",
    "expectation_type",
    "kwargs",
    "meta",
    "id",
    "ge_cloud_id",
    "description",
    "notes",
    "severity",
    "rendered_content",
    "windows",
];

/// Parses a Great Expectations JSON suite, 1.x (`name`, `type`) or 0.x
/// (`expectation_suite_name`, `expectation_type`) form.
pub fn parse_json(text: &str, file: &str) -> Result<Suite, ExpectationError> {
    let located = |line: usize, column: usize, message: String| Diagnostic {
        file: file.to_string(),
        line: Some(line),
        column: Some(column),
        message,
    };
    let root: Json = serde_json::from_str(text)
        .or_else(|e| {
            // Python's json (which GE writes with) allows bare NaN and
            // Infinity; read them as strings, or report the first error.
            python_literals_as_strings(text)
                .and_then(|t| serde_json::from_str(&t).ok())
                .ok_or(e)
        })
        .map_err(|e| ExpectationError::Invalid {
            diagnostics: vec![located(e.line(), e.column(), format!("invalid JSON: {e}"))],
        })?;
    let plain = |message: String| Diagnostic {
        file: file.to_string(),
        line: None,
        column: None,
        message,
    };
    let Json::Object(mut top) = root else {
        return Err(ExpectationError::Invalid {
            diagnostics: vec![plain(
                "a suite must be a JSON object with `name` and `expectations`".into(),
            )],
        });
    };
    let mut diagnostics = Vec::new();
    for key in top.keys() {
        if !JSON_SUITE_KEYS.contains(&key.as_str()) {
            diagnostics.push(plain(unknown_key("suite key", key, JSON_SUITE_KEYS)));
        }
    }
    let name = match top
        .get("name")
        .or_else(|| top.get("expectation_suite_name"))
    {
        Some(Json::String(s)) => s.clone(),
        _ => String::new(),
    };
    let meta = top.remove("meta").unwrap_or(Json::Object(Map::new()));
    let items = match top.remove("expectations") {
        Some(Json::Array(items)) => items,
        Some(_) => {
            diagnostics.push(plain("`expectations` must be a list".into()));
            Vec::new()
        }
        None => {
            diagnostics.push(plain("the suite has no `expectations` list".into()));
            Vec::new()
        }
    };
    let mut raws = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let here = format!("expectation #{}", index + 1);
        let Json::Object(mut object) = item else {
            diagnostics.push(plain(format!("{here}: must be an object")));
            continue;
        };
        for key in object.keys() {
            if !JSON_EXPECTATION_KEYS.contains(&key.as_str()) {
                diagnostics.push(plain(format!(
                    "{here}: {}",
                    unknown_key("key", key, JSON_EXPECTATION_KEYS)
                )));
            }
        }
        let type_name = match object
            .remove("type")
            .or_else(|| object.remove("expectation_type"))
        {
            Some(Json::String(s)) => s,
            _ => {
                diagnostics.push(plain(format!(
                    "{here}: missing `type` (GE 1.x) or `expectation_type` (GE 0.x)"
                )));
                continue;
            }
        };
        let kwargs = match object.remove("kwargs") {
            Some(Json::Object(map)) => map,
            None => Map::new(),
            Some(_) => {
                diagnostics.push(plain(format!(
                    "{here} ({type_name}): `kwargs` must be an object"
                )));
                continue;
            }
        };
        raws.push(RawExpectation {
            index,
            type_name,
            kwargs,
            meta: object.remove("meta").unwrap_or(Json::Object(Map::new())),
            type_span: None,
            key_spans: HashMap::new(),
            table_span: None,
        });
    }
    let locate = Locator { text, file };
    finish(name, file, meta, None, raws, &locate, diagnostics)
}

/// The text with Python's non-standard JSON literals outside strings
/// (`NaN`, `Infinity`, `-Infinity`) quoted, or `None` when it has none.
fn python_literals_as_strings(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(literal) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|l| rest.starts_with(l))
        {
            out.push('"');
            out.push_str(literal);
            out.push('"');
            rest = &rest[literal.len()..];
            changed = true;
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

// ---------------------------------------------------------------- TOML

const TOML_SUITE_KEYS: &[&str] = &["format", "name", "meta", "result_format", "expectations"];
pub const SUITE_FORMAT: &str = "assay.expectations/1";

/// Parses a native TOML suite:
///
/// ```toml
/// name = "credit"
/// [[expectations]]
/// type = "expect_column_values_to_be_between"
/// column = "age"
/// min_value = 18
/// meta = { owner = "risk" }
/// ```
pub fn parse_toml(text: &str, file: &str) -> Result<Suite, ExpectationError> {
    let locate = Locator { text, file };
    let table: toml::Table = toml::from_str(text).map_err(|e| ExpectationError::Invalid {
        diagnostics: vec![locate.diagnostic(e.span().as_ref(), e.message().to_string())],
    })?;
    // The value tree has no positions; a second, spanned parse supplies them.
    let spanned = DeTable::parse(text).ok();
    let spans = spanned.as_ref().map(|t| t.get_ref());
    let top_span = |key: &str| {
        spans
            .and_then(|t| t.get_key_value(key))
            .map(|(k, _)| k.span())
    };
    let mut diagnostics = Vec::new();
    for key in table.keys() {
        if !TOML_SUITE_KEYS.contains(&key.as_str()) {
            diagnostics.push(locate.diagnostic(
                top_span(key).as_ref(),
                unknown_key("top-level key", key, TOML_SUITE_KEYS),
            ));
        }
    }
    if let Some(format) = table.get("format")
        && format.as_str() != Some(SUITE_FORMAT)
    {
        diagnostics.push(locate.diagnostic(
            top_span("format").as_ref(),
            format!("`format` must be \"{SUITE_FORMAT}\""),
        ));
    }
    let name = table
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let meta = table
        .get("meta")
        .map(toml_to_json)
        .unwrap_or(Json::Object(Map::new()));
    let default_level = match table.get("result_format") {
        None => None,
        Some(v) => match v.as_str().and_then(ResultLevel::parse) {
            Some(level) => Some(level),
            None => {
                diagnostics.push(locate.diagnostic(
                    top_span("result_format").as_ref(),
                    "`result_format` must be BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE".into(),
                ));
                None
            }
        },
    };
    let items: &[toml::Value] = match table.get("expectations") {
        Some(toml::Value::Array(items)) => items,
        Some(_) => {
            diagnostics.push(locate.diagnostic(
                top_span("expectations").as_ref(),
                "`expectations` must be an array of tables ([[expectations]])".into(),
            ));
            &[]
        }
        None => &[],
    };
    let spanned_items: Vec<&toml::Spanned<DeValue<'_>>> = match spans
        .and_then(|t| t.get("expectations"))
        .map(|v| v.get_ref())
    {
        Some(DeValue::Array(items)) => items.iter().collect(),
        _ => Vec::new(),
    };
    let mut raws = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let spanned_item = spanned_items.get(index).copied();
        let table_span = spanned_item.map(|s| s.span());
        let mut key_spans = HashMap::new();
        let mut type_span = None;
        if let Some(DeValue::Table(t)) = spanned_item.map(|s| s.get_ref()) {
            for (key, value) in t.iter() {
                key_spans.insert(key.get_ref().to_string(), key.span());
                if key.get_ref() == "type" {
                    type_span = Some(value.span());
                }
                if key.get_ref() == "kwargs"
                    && let DeValue::Table(inner) = value.get_ref()
                {
                    for (k, _) in inner.iter() {
                        key_spans.insert(k.get_ref().to_string(), k.span());
                    }
                }
            }
        }
        let here = format!("expectation #{}", index + 1);
        let Some(entry) = item.as_table() else {
            diagnostics
                .push(locate.diagnostic(table_span.as_ref(), format!("{here}: must be a table")));
            continue;
        };
        let Some(type_name) = entry.get("type").and_then(|t| t.as_str()) else {
            diagnostics.push(locate.diagnostic(
                table_span.as_ref(),
                format!("{here}: missing `type = \"expect_...\"`"),
            ));
            continue;
        };
        let mut kwargs = Map::new();
        let mut meta = Json::Object(Map::new());
        for (key, value) in entry {
            match key.as_str() {
                "type" | "id" | "description" | "notes" => {}
                "meta" => meta = toml_to_json(value),
                "kwargs" => match value.as_table() {
                    Some(inner) => {
                        for (k, v) in inner {
                            kwargs.insert(k.clone(), toml_to_json(v));
                        }
                    }
                    None => diagnostics.push(locate.diagnostic(
                        key_spans.get("kwargs"),
                        format!("{here} ({type_name}): `kwargs` must be a table"),
                    )),
                },
                _ => {
                    if kwargs.insert(key.clone(), toml_to_json(value)).is_some() {
                        diagnostics.push(locate.diagnostic(
                            key_spans.get(key),
                            format!("{here} ({type_name}): `{key}` is given twice"),
                        ));
                    }
                }
            }
        }
        raws.push(RawExpectation {
            index,
            type_name: type_name.to_string(),
            kwargs,
            meta,
            type_span,
            key_spans,
            table_span,
        });
    }
    finish(name, file, meta, default_level, raws, &locate, diagnostics)
}

fn toml_to_json(value: &toml::Value) -> Json {
    match value {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

// ---------------------------------------------------------------- common

fn finish(
    name: String,
    file: &str,
    meta: Json,
    default_level: Option<ResultLevel>,
    raws: Vec<RawExpectation>,
    locate: &Locator<'_>,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Suite, ExpectationError> {
    let mut expectations = Vec::new();
    for raw in &raws {
        match kinds::build(raw) {
            Ok(e) => expectations.push(e),
            Err(problems) => {
                for problem in problems {
                    let span = match &problem.argument {
                        Some(arg) => raw.key_spans.get(arg).or(raw.table_span.as_ref()),
                        None if problem.about_type => raw.type_span.as_ref(),
                        None => raw.table_span.as_ref(),
                    };
                    let argument = problem
                        .argument
                        .as_ref()
                        .map(|a| format!("argument `{a}`: "))
                        .unwrap_or_default();
                    diagnostics.push(locate.diagnostic(
                        span,
                        format!(
                            "expectation #{} ({}): {argument}{}",
                            raw.index + 1,
                            raw.type_name,
                            problem.message
                        ),
                    ));
                }
            }
        }
    }
    if !diagnostics.is_empty() {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        return Err(ExpectationError::Invalid { diagnostics });
    }
    let mut suite = Suite {
        name,
        file: file.to_string(),
        meta,
        expectations,
    };
    if let Some(level) = default_level {
        suite.set_default_result_format(level);
    }
    Ok(suite)
}

/// "unknown KIND `x`; expected one of ...", with the closest known name.
pub(crate) fn unknown_key(kind: &str, key: &str, known: &[&str]) -> String {
    let mut message = format!("unknown {kind} `{key}`");
    match closest(key, known.iter().copied()) {
        Some(near) => message.push_str(&format!("; did you mean `{near}`?")),
        None => message.push_str(&format!("; expected one of: {}", known.join(", "))),
    }
    message
}

/// The known name nearest to `word` by edit distance, if near enough to be
/// a plausible typo (a third of the length, at least one edit).
pub(crate) fn closest<'a>(word: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(word, k), k))
        .min()
        .filter(|(d, _)| *d <= (word.chars().count() / 3).max(1))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_nan_and_infinity_outside_strings_are_read_as_strings() {
        let text = r#"{"a": [-Infinity, 1, Infinity], "b": "NaN stays \"Infinity\"", "c": NaN}"#;
        let fixed = python_literals_as_strings(text).unwrap();
        let value: Json = serde_json::from_str(&fixed).unwrap();
        assert_eq!(value["a"], serde_json::json!(["-Infinity", 1, "Infinity"]));
        assert_eq!(value["b"], "NaN stays \"Infinity\"");
        assert_eq!(value["c"], "NaN");
        assert_eq!(python_literals_as_strings(r#"{"a": "Infinity"}"#), None);
    }

    #[test]
    fn a_ge_suite_with_infinite_bin_edges_loads() {
        let suite = r#"{"name": "s", "expectations": [{"type": "expect_column_kl_divergence_to_be_less_than",
            "kwargs": {"column": "x", "threshold": 0.1,
                       "partition_object": {"bins": [-Infinity, 0, Infinity], "weights": [0.5, 0.5]}}}]}"#;
        let suite = parse_json(suite, "s.json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(suite.expectations.len(), 1);
        // A JSON syntax error is still reported at its place.
        let err = parse_json("{\"name\": Infinity,,}", "bad.json").unwrap_err();
        assert!(err.to_string().contains("bad.json:1:"), "{err}");
    }
}
