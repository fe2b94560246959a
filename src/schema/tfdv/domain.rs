//! TFMD domains: read (inline, or top-level and referenced by name), then
//! applied to a feature, which may change its type (`bool_domain` makes a
//! bool, an `int_domain` on BYTES an int).

use std::collections::BTreeMap;

use super::reader::Cx;
use super::textproto::{Message, Pos};
use crate::schema::model::*;

/// A TFMD domain as read (named with a trailing `_`: `Domain` is assay's).
#[derive(Debug, Clone)]
pub(super) enum Domain_ {
    Ref(String),
    Int {
        min: Option<i64>,
        max: Option<i64>,
        categorical: bool,
    },
    Float {
        min: Option<f64>,
        max: Option<f64>,
        disallow_nan: bool,
        disallow_inf: bool,
        /// Fields assay has no place for (`is_embedding`, ...).
        extras: Vec<(Pos, String)>,
    },
    Strings(Vec<(Pos, String)>),
    Bool {
        true_value: Option<String>,
        false_value: Option<String>,
    },
    Struct,
    /// natural_language, image, mid, url, time, time_of_day.
    Semantic(String),
}

pub(super) fn read_string_domain(cx: &mut Cx<'_>, m: &Message) -> (Option<String>, Domain_) {
    let mut name = None;
    let mut values = Vec::new();
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        match f.name.as_str() {
            "value" => values.extend(cx.string(f).map(|v| (f.pos, v))),
            "name" if cx.once(&mut seen, f) => name = cx.string(f),
            // "Currently unused" in schema.proto; read only to check it.
            "is_categorical" if cx.once(&mut seen, f) => {
                cx.enumeration(
                    f,
                    &[
                        ("CATEGORICAL_UNSPECIFIED", 0),
                        ("CATEGORICAL_YES", 1),
                        ("CATEGORICAL_NO", 2),
                    ],
                );
            }
            "name" | "is_categorical" => {}
            _ => cx.unknown(f, "StringDomain", &["name", "value", "is_categorical"]),
        }
    }
    (name, Domain_::Strings(values))
}

pub(super) fn read_int_domain(cx: &mut Cx<'_>, m: &Message) -> (Option<String>, Domain_) {
    let (mut name, mut min, mut max, mut categorical) = (None, None, None, false);
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        if !cx.once(&mut seen, f) {
            continue;
        }
        match f.name.as_str() {
            "name" => name = cx.string(f),
            "min" => min = cx.int(f),
            "max" => max = cx.int(f),
            "is_categorical" => categorical = cx.boolean(f).unwrap_or(false),
            _ => cx.unknown(f, "IntDomain", &["name", "min", "max", "is_categorical"]),
        }
    }
    (
        name,
        Domain_::Int {
            min,
            max,
            categorical,
        },
    )
}

pub(super) fn read_float_domain(cx: &mut Cx<'_>, m: &Message) -> (Option<String>, Domain_) {
    let mut name = None;
    let (mut min, mut max, mut disallow_nan, mut disallow_inf) = (None, None, false, false);
    let mut extras = Vec::new();
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        if !cx.once(&mut seen, f) {
            continue;
        }
        match f.name.as_str() {
            "name" => name = cx.string(f),
            "min" => min = cx.float(f),
            "max" => max = cx.float(f),
            "disallow_nan" => disallow_nan = cx.boolean(f).unwrap_or(false),
            "disallow_inf" => disallow_inf = cx.boolean(f).unwrap_or(false),
            "is_embedding" | "is_categorical" => {
                if cx.boolean(f) == Some(true) {
                    extras.push((f.pos, f.name.clone()));
                }
            }
            "embedding_dim" => {
                if cx.int(f).is_some() {
                    extras.push((f.pos, f.name.clone()));
                }
            }
            "feature_type" => extras.push((f.pos, f.name.clone())),
            _ => cx.unknown(
                f,
                "FloatDomain",
                &[
                    "name",
                    "min",
                    "max",
                    "disallow_nan",
                    "disallow_inf",
                    "is_embedding",
                    "is_categorical",
                    "embedding_dim",
                ],
            ),
        }
    }
    let domain = Domain_::Float {
        min,
        max,
        disallow_nan,
        disallow_inf,
        extras,
    };
    (name, domain)
}

pub(super) fn read_bool_domain(cx: &mut Cx<'_>, m: &Message) -> Domain_ {
    let (mut true_value, mut false_value) = (None, None);
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        if !cx.once(&mut seen, f) {
            continue;
        }
        match f.name.as_str() {
            "name" => {
                cx.string(f);
            }
            "true_value" => true_value = cx.string(f),
            "false_value" => false_value = cx.string(f),
            _ => cx.unknown(f, "BoolDomain", &["name", "true_value", "false_value"]),
        }
    }
    Domain_::Bool {
        true_value,
        false_value,
    }
}

/// Applies a (resolved) domain; returns the value range it sets.
pub(super) fn apply_domain(
    cx: &mut Cx<'_>,
    f: &mut FeatureSchema,
    ty: &str,
    pos: Pos,
    d: Domain_,
) -> Option<Bounds<f64>> {
    let name = f.name.clone();
    let feature = Some(name.as_str());
    match (d, ty) {
        (Domain_::Strings(values), "BYTES") => {
            let mut unique: Vec<String> = Vec::new();
            for (at, value) in values {
                if unique.contains(&value) {
                    cx.warn(
                        at,
                        feature,
                        format!("domain value {value:?} listed twice; imported once"),
                    );
                } else {
                    unique.push(value);
                }
            }
            if unique.is_empty() {
                cx.warn(
                    pos,
                    feature,
                    "empty string_domain (no value allowed): imported without a domain",
                );
            } else {
                f.domain = Some(Domain::Strings(unique));
            }
            None
        }
        (
            Domain_::Int {
                min,
                max,
                categorical,
            },
            "INT" | "BYTES",
        ) => {
            if ty == "BYTES" {
                cx.warn(pos, feature, "BYTES with an int_domain (integers written as text): imported as an int feature");
            }
            f.logical_type = LogicalType::Int;
            f.categorical = categorical;
            for v in [min, max].into_iter().flatten() {
                if v.unsigned_abs() > 1 << 53 {
                    cx.warn(
                        pos,
                        feature,
                        format!(
                            "int_domain bound {v} is rounded to {} (ranges are stored as floats)",
                            v as f64
                        ),
                    );
                }
            }
            let range = Bounds {
                min: min.map(|v| v as f64),
                max: max.map(|v| v as f64),
            };
            (range.min.is_some() || range.max.is_some()).then_some(range)
        }
        (
            Domain_::Float {
                min,
                max,
                disallow_nan,
                disallow_inf,
                extras,
            },
            "FLOAT" | "BYTES",
        ) => {
            if ty == "BYTES" {
                cx.warn(pos, feature, "BYTES with a float_domain (numbers written as text): imported as a float feature");
            }
            f.logical_type = LogicalType::Float;
            f.allow_nan = Some(!disallow_nan);
            f.allow_inf = Some(!disallow_inf);
            for (at, field) in extras {
                cx.warn(
                    at,
                    feature,
                    format!("float_domain `{field}` not imported: assay has no such setting"),
                );
            }
            let range = Bounds { min, max };
            (min.is_some() || max.is_some()).then_some(range)
        }
        (
            Domain_::Bool {
                true_value,
                false_value,
            },
            "INT" | "BYTES",
        ) => {
            f.logical_type = LogicalType::Bool;
            if true_value.is_some() || false_value.is_some() {
                let shown: Vec<String> = [true_value, false_value]
                    .into_iter()
                    .flatten()
                    .map(|v| format!("{v:?}"))
                    .collect();
                cx.warn(
                    pos,
                    feature,
                    format!(
                        "bool_domain values {} not imported: assay reads booleans as true/false",
                        shown.join("/")
                    ),
                );
            }
            None
        }
        (Domain_::Semantic(kind), _) => {
            cx.warn(pos, feature, format!("`{kind}` not imported: assay has no semantic domains; imported as a plain {} feature", f.logical_type.as_str()));
            None
        }
        (other, _) => {
            let kind = match other {
                Domain_::Strings(_) => "string_domain",
                Domain_::Int { .. } => "int_domain",
                Domain_::Float { .. } => "float_domain",
                Domain_::Bool { .. } => "bool_domain",
                _ => "struct_domain",
            };
            cx.warn(
                pos,
                feature,
                format!("a {kind} does not fit a {ty} feature: not imported"),
            );
            None
        }
    }
}
