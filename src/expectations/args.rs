//! Reading one expectation's arguments: each argument is taken by name and
//! type-checked on its own, so a message can name the argument; whatever is
//! left over is an unknown argument, reported with the closest known name.

use regex::Regex;
use serde_json::{Map, Value as Json};

use super::parse::closest;
use super::suite::*;

/// Arguments every expectation accepts besides its own.
pub(crate) const COMMON: &[&str] = &[
    "result_format",
    "catch_exceptions",
    "row_condition",
    "condition_parser",
    "include_config",
];

pub(crate) struct Problem {
    pub argument: Option<String>,
    pub message: String,
    /// The problem is the expectation type itself (points at `type`).
    pub about_type: bool,
}

/// Reads arguments one by one, recording what is wrong with each.
pub(crate) struct Args<'a> {
    pub kwargs: &'a Map<String, Json>,
    pub used: Vec<&'static str>,
    pub problems: Vec<Problem>,
}

impl<'a> Args<'a> {
    /// The argument, unless absent or null (GE writes open bounds as null).
    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'a Json> {
        self.used.push(key);
        self.kwargs.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn bad(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            argument: Some(key.to_string()),
            message: message.into(),
            about_type: false,
        });
    }

    pub(crate) fn missing(&mut self, key: &str) {
        self.bad(key, "required argument is missing");
    }

    pub(crate) fn string(&mut self, key: &'static str) -> Option<String> {
        match self.get(key)? {
            Json::String(s) => Some(s.clone()),
            other => {
                self.bad(key, format!("expected a string, found {}", describe(other)));
                None
            }
        }
    }

    pub(crate) fn req_string(&mut self, key: &'static str) -> String {
        let present = self.kwargs.get(key).is_some_and(|v| !v.is_null());
        let value = self.string(key);
        if !present {
            self.missing(key);
        }
        value.unwrap_or_default()
    }

    pub(crate) fn number(&mut self, key: &'static str) -> Option<f64> {
        match self.get(key)? {
            Json::Number(n) => n.as_f64(),
            other => {
                self.bad(key, format!("expected a number, found {}", describe(other)));
                None
            }
        }
    }

    pub(crate) fn req_number(&mut self, key: &'static str) -> f64 {
        let present = self.kwargs.get(key).is_some_and(|v| !v.is_null());
        let value = self.number(key);
        if !present {
            self.missing(key);
        }
        value.unwrap_or_default()
    }

    pub(crate) fn count(&mut self, key: &'static str) -> Option<u64> {
        let value = self.number(key)?;
        if value < 0.0 || value.fract() != 0.0 {
            self.bad(key, format!("expected a whole number ≥ 0, found {value}"));
            return None;
        }
        Some(value as u64)
    }

    pub(crate) fn req_count(&mut self, key: &'static str) -> u64 {
        let present = self.kwargs.get(key).is_some_and(|v| !v.is_null());
        let value = self.count(key);
        if !present {
            self.missing(key);
        }
        value.unwrap_or_default()
    }

    pub(crate) fn flag(&mut self, key: &'static str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(Json::Bool(b)) => *b,
            Some(other) => {
                self.bad(
                    key,
                    format!("expected true or false, found {}", describe(other)),
                );
                default
            }
        }
    }

    pub(crate) fn list(&mut self, key: &'static str) -> Option<&'a Vec<Json>> {
        let present = self.kwargs.get(key).is_some_and(|v| !v.is_null());
        match self.get(key) {
            Some(Json::Array(items)) => Some(items),
            Some(other) => {
                self.bad(key, format!("expected a list, found {}", describe(other)));
                None
            }
            None => {
                if !present {
                    self.missing(key);
                }
                None
            }
        }
    }

    pub(crate) fn strings(&mut self, key: &'static str) -> Vec<String> {
        let Some(items) = self.list(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match item {
                Json::String(s) => out.push(s.clone()),
                other => self.bad(key, format!("expected strings, found {}", describe(other))),
            }
        }
        out
    }

    pub(crate) fn scalars(&mut self, key: &'static str) -> Vec<Scalar> {
        let Some(items) = self.list(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match Scalar::from_json(item) {
                Some(s) => out.push(s),
                None => self.bad(
                    key,
                    format!(
                        "expected numbers, strings or booleans, found {}",
                        describe(item)
                    ),
                ),
            }
        }
        out
    }

    pub(crate) fn bound(&mut self, key: &'static str) -> Option<Scalar> {
        match self.get(key)? {
            Json::Number(n) => n.as_f64().map(Scalar::Num),
            Json::String(s) => Some(Scalar::Text(s.clone())),
            other => {
                self.bad(
                    key,
                    format!(
                        "expected a number (or a date/text bound), found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// `min_value`, `max_value`, `strict_min`, `strict_max`. Either bound
    /// may be missing or null (open); with both open the check is vacuously
    /// true, as in GE's aggregate expectations. A minimum above the maximum
    /// is an argument error (GE raises).
    pub(crate) fn bounds(&mut self) -> Bounds {
        let bounds = Bounds {
            min: self.bound("min_value"),
            max: self.bound("max_value"),
            strict_min: self.flag("strict_min", false),
            strict_max: self.flag("strict_max", false),
        };
        if let (Some(min), Some(max)) = (&bounds.min, &bounds.max)
            && bound_order(min, max).is_some_and(|o| o.is_gt())
        {
            self.bad(
                "min_value",
                format!(
                    "min_value ({}) cannot be greater than max_value ({})",
                    min.to_json(),
                    max.to_json()
                ),
            );
        }
        bounds
    }

    /// [`Self::bounds`] where at least one bound must be given (GE raises
    /// for map expectations with both bounds open).
    pub(crate) fn required_bounds(&mut self) -> Bounds {
        let bounds = self.bounds();
        let given = |k: &str| self.kwargs.get(k).is_some_and(|v| !v.is_null());
        if !given("min_value") && !given("max_value") {
            self.bad(
                "min_value",
                "min_value and max_value cannot both be null: give at least one",
            );
        }
        bounds
    }

    pub(crate) fn numeric_bounds(&mut self) -> Bounds {
        let bounds = self.bounds();
        for (key, bound) in [("min_value", &bounds.min), ("max_value", &bounds.max)] {
            if let Some(Scalar::Text(t)) = bound {
                self.bad(key, format!("expected a number, found the string \"{t}\""));
            }
        }
        bounds
    }

    /// A list argument that may be null (GE: the check is vacuously true);
    /// `None` when null or absent.
    pub(crate) fn optional_strings(&mut self, key: &'static str) -> Option<Vec<String>> {
        if self.kwargs.get(key).is_none_or(Json::is_null) {
            self.used.push(key);
            return None;
        }
        Some(self.strings(key))
    }

    pub(crate) fn optional_scalars(&mut self, key: &'static str) -> Option<Vec<Scalar>> {
        if self.kwargs.get(key).is_none_or(Json::is_null) {
            self.used.push(key);
            return None;
        }
        Some(self.scalars(key))
    }

    pub(crate) fn regex(&mut self, key: &'static str, pattern: &str) -> Option<Regex> {
        match Regex::new(pattern) {
            Ok(r) => Some(r),
            Err(e) => {
                self.bad(
                    key,
                    format!("invalid regular expression \"{pattern}\": {e}"),
                );
                None
            }
        }
    }

    pub(crate) fn regexes(&mut self, key: &'static str) -> Vec<Regex> {
        let patterns = self.strings(key);
        if patterns.is_empty() && self.kwargs.get(key).is_some_and(Json::is_array) {
            self.bad(key, "the list is empty");
        }
        patterns.iter().filter_map(|p| self.regex(key, p)).collect()
    }

    pub(crate) fn likes(&mut self, key: &'static str) -> Vec<Regex> {
        let patterns = self.strings(key);
        if patterns.is_empty() && self.kwargs.get(key).is_some_and(Json::is_array) {
            self.bad(key, "the list is empty");
        }
        patterns
            .iter()
            .filter_map(|p| self.regex(key, &like_to_regex(p)))
            .collect()
    }

    pub(crate) fn match_on_all(&mut self) -> bool {
        match self.string("match_on").as_deref() {
            None | Some("any") => false,
            Some("all") => true,
            Some(other) => {
                self.bad(
                    "match_on",
                    format!("expected \"any\" or \"all\", found \"{other}\""),
                );
                false
            }
        }
    }

    pub(crate) fn ignore_row_if(&mut self, pair: bool) -> IgnoreRow {
        let (all, any, never, default) = if pair {
            (
                "both_values_are_missing",
                "either_value_is_missing",
                "neither",
                IgnoreRow::AllMissing,
            )
        } else {
            (
                "all_values_are_missing",
                "any_value_is_missing",
                "never",
                IgnoreRow::AllMissing,
            )
        };
        match self.string("ignore_row_if") {
            None => default,
            Some(s) if s == all => IgnoreRow::AllMissing,
            Some(s) if s == any => IgnoreRow::AnyMissing,
            Some(s) if s == never => IgnoreRow::Never,
            Some(other) => {
                self.bad(
                    "ignore_row_if",
                    format!("expected \"{all}\", \"{any}\" or \"{never}\", found \"{other}\""),
                );
                default
            }
        }
    }

    /// Unknown arguments, with the closest known one.
    pub(crate) fn finish(mut self) -> Vec<Problem> {
        let known: Vec<&str> = self
            .used
            .iter()
            .copied()
            .chain(COMMON.iter().copied())
            .collect();
        let mut unknown: Vec<&String> = self
            .kwargs
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for key in unknown {
            let message = match closest(key, known.iter().copied()) {
                Some(near) => format!("unknown argument; did you mean `{near}`?"),
                None => {
                    let mut own: Vec<&str> = self.used.clone();
                    own.sort();
                    own.dedup();
                    format!(
                        "unknown argument; this expectation takes: {}",
                        own.join(", ")
                    )
                }
            };
            self.bad(key, message);
        }
        self.problems
    }
}

/// The order of two bounds of the same kind (numbers, or date/times, or
/// text); `None` when they cannot be compared.
fn bound_order(a: &Scalar, b: &Scalar) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Scalar::Num(x), Scalar::Num(y)) => x.partial_cmp(y),
        (Scalar::Text(x), Scalar::Text(y)) => {
            match (super::values::parse_time(x), super::values::parse_time(y)) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                (None, None) => Some(x.cmp(y)),
                _ => None,
            }
        }
        _ => None,
    }
}

pub(crate) fn describe(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("the string \"{s}\""),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "a table/object".into(),
    }
}

/// SQL LIKE (`%` any run, `_` one character, `\` escapes) as an anchored regex.
pub(crate) fn like_to_regex(pattern: &str) -> String {
    let mut out = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push_str(&regex::escape(&next.to_string()));
                }
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push('$');
    out
}
