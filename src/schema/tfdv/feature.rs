//! One TFMD `Feature`: read (field names, types, oneofs checked), then mapped
//! onto a [`FeatureSchema`]. The mapping table is on the parent module.

use std::collections::BTreeMap;

use super::domain::{
    Domain_, apply_domain, read_bool_domain, read_float_domain, read_int_domain, read_string_domain,
};
use super::read_annotation;
use super::reader::Cx;
use super::textproto::{Message, Pos};
use crate::schema::model::*;

const FEATURE_FIELDS: &[&str] = &[
    "name",
    "deprecated",
    "presence",
    "group_presence",
    "shape",
    "value_count",
    "value_counts",
    "type",
    "domain",
    "int_domain",
    "float_domain",
    "string_domain",
    "bool_domain",
    "struct_domain",
    "natural_language_domain",
    "image_domain",
    "mid_domain",
    "url_domain",
    "time_domain",
    "time_of_day_domain",
    "distribution_constraints",
    "annotation",
    "skew_comparator",
    "drift_comparator",
    "in_environment",
    "not_in_environment",
    "lifecycle_stage",
    "unique_constraints",
    "validation_derived_source",
    "sequence_metadata",
];

const FEATURE_TYPES: &[(&str, i64)] = &[
    ("TYPE_UNKNOWN", 0),
    ("BYTES", 1),
    ("INT", 2),
    ("FLOAT", 3),
    ("STRUCT", 4),
];

const LIFECYCLE_STAGES: &[(&str, i64)] = &[
    ("UNKNOWN_STAGE", 0),
    ("PLANNED", 1),
    ("ALPHA", 2),
    ("BETA", 3),
    ("PRODUCTION", 4),
    ("DEPRECATED", 5),
    ("DEBUG_ONLY", 6),
    ("DISABLED", 7),
    ("VALIDATION_DERIVED", 9),
];

/// Stages TFDV treats as deprecated: the feature is not validated.
const NOT_VALIDATED: &[&str] = &["PLANNED", "ALPHA", "DEPRECATED", "DEBUG_ONLY", "DISABLED"];

/// A feature as read, before mapping.
pub(super) struct TfFeature {
    pos: Pos,
    pub(super) name: Option<String>,
    ty: Option<(Pos, &'static str)>,
    presence: Option<(Pos, Option<f64>, Option<u64>)>,
    shape: Option<(Pos, Shape)>,
    domain: Option<(Pos, Domain_)>,
    min_domain_mass: Option<(Pos, f64)>,
    skew: Option<(Pos, Comparator_)>,
    drift: Option<(Pos, Comparator_)>,
    pub(super) in_env: Vec<(Pos, String)>,
    pub(super) not_in_env: Vec<(Pos, String)>,
    stage: Option<(Pos, &'static str)>,
    deprecated: Option<Pos>,
    unique: Option<(Pos, Option<u64>, Option<u64>)>,
    /// Annotation tags and comments, written above the feature.
    pub(super) notes: Vec<String>,
    derived: Option<Pos>,
    /// Fields assay has no place for: warned about if the feature is imported.
    unsupported: Vec<(Pos, String)>,
}

enum Shape {
    Counts(Option<u64>, Option<u64>),
    Fixed(Vec<u64>),
    Nested(Vec<(Option<u64>, Option<u64>)>),
}

#[derive(Default)]
struct Comparator_ {
    linf: Option<(Pos, Option<f64>)>,
    jsd: Option<(Pos, Option<f64>)>,
    jsd_source: Option<(Pos, &'static str)>,
    nad: Option<Pos>,
}

pub(super) fn read_feature(cx: &mut Cx<'_>, pos: Pos, m: &Message) -> TfFeature {
    let first_warning = cx.warnings.len();
    let mut t = TfFeature {
        pos,
        name: None,
        ty: None,
        presence: None,
        shape: None,
        domain: None,
        min_domain_mass: None,
        skew: None,
        drift: None,
        in_env: Vec::new(),
        not_in_env: Vec::new(),
        stage: None,
        deprecated: None,
        unique: None,
        notes: Vec::new(),
        derived: None,
        unsupported: Vec::new(),
    };
    let mut seen = BTreeMap::new();
    let (mut presence_of, mut shape_of, mut domain_of) = (None, None, None);
    for f in &m.fields {
        let name = f.name.as_str();
        let repeated = matches!(name, "in_environment" | "not_in_environment");
        if FEATURE_FIELDS.contains(&name) && !repeated && !cx.once(&mut seen, f) {
            continue;
        }
        match name {
            "name" => t.name = cx.string(f),
            "deprecated" => {
                if cx.boolean(f) == Some(true) {
                    t.deprecated = Some(f.pos);
                }
            }
            "presence" | "group_presence" => {
                if !cx.oneof(&mut presence_of, f, "presence_constraints") {
                    continue;
                }
                let Some(sub) = cx.message(f) else { continue };
                if name == "presence" {
                    let (fraction, count) = read_presence(cx, sub);
                    t.presence = Some((f.pos, fraction, count));
                } else {
                    check_field_names(cx, sub, "FeaturePresenceWithinGroup", &["required"]);
                    t.unsupported.push((
                        f.pos,
                        "`group_presence` not imported: presence within a group (a sequence) has no equivalent".into(),
                    ));
                }
            }
            "shape" | "value_count" | "value_counts" => {
                if !cx.oneof(&mut shape_of, f, "shape_type") {
                    continue;
                }
                let Some(sub) = cx.message(f) else { continue };
                let shape = match name {
                    "value_count" => {
                        let (min, max) = read_min_max(cx, sub, "ValueCount");
                        Shape::Counts(min, max)
                    }
                    "shape" => Shape::Fixed(read_fixed_shape(cx, sub)),
                    _ => Shape::Nested(read_value_counts(cx, sub)),
                };
                t.shape = Some((f.pos, shape));
            }
            "type" => t.ty = cx.enumeration(f, FEATURE_TYPES).map(|v| (f.pos, v)),
            "domain"
            | "int_domain"
            | "float_domain"
            | "string_domain"
            | "bool_domain"
            | "struct_domain"
            | "natural_language_domain"
            | "image_domain"
            | "mid_domain"
            | "url_domain"
            | "time_domain"
            | "time_of_day_domain" => {
                if !cx.oneof(&mut domain_of, f, "domain_info") {
                    continue;
                }
                let domain = if name == "domain" {
                    cx.string(f).map(Domain_::Ref)
                } else {
                    cx.message(f).map(|sub| match name {
                        "int_domain" => read_int_domain(cx, sub).1,
                        "float_domain" => read_float_domain(cx, sub).1,
                        "string_domain" => read_string_domain(cx, sub).1,
                        "bool_domain" => read_bool_domain(cx, sub),
                        "struct_domain" => Domain_::Struct,
                        semantic => Domain_::Semantic(semantic.to_string()),
                    })
                };
                t.domain = domain.map(|d| (f.pos, d));
            }
            "distribution_constraints" => {
                if let Some(sub) = cx.message(f) {
                    for g in &sub.fields {
                        match g.name.as_str() {
                            "min_domain_mass" => {
                                t.min_domain_mass = cx.float(g).map(|v| (g.pos, v));
                            }
                            _ => cx.unknown(g, "DistributionConstraints", &["min_domain_mass"]),
                        }
                    }
                }
            }
            "annotation" => {
                if let Some(sub) = cx.message(f) {
                    t.notes.extend(read_annotation(cx, sub, None));
                }
            }
            "skew_comparator" | "drift_comparator" => {
                if let Some(sub) = cx.message(f) {
                    let comparator = read_comparator(cx, sub);
                    let slot = if name == "skew_comparator" {
                        &mut t.skew
                    } else {
                        &mut t.drift
                    };
                    *slot = Some((f.pos, comparator));
                }
            }
            "in_environment" => t.in_env.extend(cx.string(f).map(|e| (f.pos, e))),
            "not_in_environment" => t.not_in_env.extend(cx.string(f).map(|e| (f.pos, e))),
            "lifecycle_stage" => t.stage = cx.enumeration(f, LIFECYCLE_STAGES).map(|s| (f.pos, s)),
            "unique_constraints" => {
                if let Some(sub) = cx.message(f) {
                    let (min, max) = read_min_max(cx, sub, "UniqueConstraints");
                    t.unique = Some((f.pos, min, max));
                }
            }
            "validation_derived_source" => {
                cx.message(f);
                t.derived = Some(f.pos);
            }
            "sequence_metadata" => {
                cx.message(f);
                t.unsupported.push((
                    f.pos,
                    "`sequence_metadata` not imported: assay has no sequence features".into(),
                ));
            }
            _ => cx.unknown(f, "Feature", FEATURE_FIELDS),
        }
    }
    // Warnings raised while reading (annotations) belong to this feature,
    // whose name may only have come after them.
    for w in &mut cx.warnings[first_warning..] {
        w.feature = t.name.clone();
    }
    t
}

fn read_presence(cx: &mut Cx<'_>, m: &Message) -> (Option<f64>, Option<u64>) {
    let (mut fraction, mut count) = (None, None);
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        if !cx.once(&mut seen, f) {
            continue;
        }
        match f.name.as_str() {
            "min_fraction" => fraction = cx.float(f),
            "min_count" => count = cx.count(f),
            _ => cx.unknown(f, "FeaturePresence", &["min_fraction", "min_count"]),
        }
    }
    (fraction, count)
}

/// `min` / `max` counts (ValueCount, UniqueConstraints).
fn read_min_max(cx: &mut Cx<'_>, m: &Message, message: &str) -> (Option<u64>, Option<u64>) {
    let (mut min, mut max) = (None, None);
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        if !cx.once(&mut seen, f) {
            continue;
        }
        match f.name.as_str() {
            "min" => min = cx.count(f),
            "max" => max = cx.count(f),
            _ => cx.unknown(f, message, &["min", "max"]),
        }
    }
    (min, max)
}

/// Checks field names (and that values are scalars) of a message whose
/// contents are not imported.
fn check_field_names(cx: &mut Cx<'_>, m: &Message, message: &str, known: &[&str]) {
    for f in &m.fields {
        if !known.contains(&f.name.as_str()) {
            cx.unknown(f, message, known);
        }
    }
}

fn read_fixed_shape(cx: &mut Cx<'_>, m: &Message) -> Vec<u64> {
    let mut sizes = Vec::new();
    for f in &m.fields {
        if f.name != "dim" {
            cx.unknown(f, "FixedShape", &["dim"]);
            continue;
        }
        let Some(dim) = cx.message(f) else { continue };
        let mut size = None;
        for g in &dim.fields {
            match g.name.as_str() {
                "size" => size = cx.count(g),
                "name" => {
                    cx.string(g);
                }
                _ => cx.unknown(g, "FixedShape.Dim", &["size", "name"]),
            }
        }
        sizes.push(size.unwrap_or(0));
    }
    sizes
}

fn read_value_counts(cx: &mut Cx<'_>, m: &Message) -> Vec<(Option<u64>, Option<u64>)> {
    let mut levels = Vec::new();
    for f in &m.fields {
        if f.name != "value_count" {
            cx.unknown(f, "ValueCountList", &["value_count"]);
        } else if let Some(sub) = cx.message(f) {
            levels.push(read_min_max(cx, sub, "ValueCount"));
        }
    }
    levels
}

fn read_comparator(cx: &mut Cx<'_>, m: &Message) -> Comparator_ {
    let mut c = Comparator_::default();
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        if !cx.once(&mut seen, f) {
            continue;
        }
        let Some(sub) = cx.message(f) else { continue };
        let mut threshold = None;
        for g in &sub.fields {
            match (f.name.as_str(), g.name.as_str()) {
                (_, "threshold") => threshold = cx.float(g),
                ("jensen_shannon_divergence", "source") => {
                    let Some(selection) = cx.message(g) else {
                        continue;
                    };
                    for h in &selection.fields {
                        if h.name == "type" {
                            let types = [("DEFAULT", 0), ("QUANTILES", 1), ("STANDARD", 2)];
                            c.jsd_source = cx.enumeration(h, &types).map(|s| (h.pos, s));
                        } else {
                            cx.unknown(h, "HistogramSelection", &["type"]);
                        }
                    }
                }
                ("jensen_shannon_divergence", _) => {
                    cx.unknown(g, "JensenShannonDivergence", &["threshold", "source"]);
                }
                ("normalized_abs_difference", _) => {
                    cx.unknown(g, "NormalizedAbsoluteDifference", &["threshold"]);
                }
                _ => cx.unknown(g, "InfinityNorm", &["threshold"]),
            }
        }
        match f.name.as_str() {
            "infinity_norm" => c.linf = Some((f.pos, threshold)),
            "jensen_shannon_divergence" => c.jsd = Some((f.pos, threshold)),
            "normalized_abs_difference" => c.nad = Some(f.pos),
            _ => cx.unknown(
                f,
                "FeatureComparator",
                &[
                    "infinity_norm",
                    "jensen_shannon_divergence",
                    "normalized_abs_difference",
                ],
            ),
        }
    }
    c
}

// ---------------------------------------------------------------- mapping

/// The assay feature, or `None` when it is not imported (said in a warning).
pub(super) fn map_feature(
    cx: &mut Cx<'_>,
    schema: &mut Schema,
    domains: &BTreeMap<String, (Pos, Domain_)>,
    name: &str,
    t: TfFeature,
) -> Option<FeatureSchema> {
    let feature = Some(name);
    let derived = t.derived.or(t
        .stage
        .filter(|(_, s)| *s == "VALIDATION_DERIVED")
        .map(|(p, _)| p));
    if let Some(pos) = derived {
        cx.warn(
            pos,
            feature,
            "derived by TFDV for validation, not a column of the data: not imported",
        );
        return None;
    }
    let (ty_pos, ty) = match t.ty {
        Some((pos, ty)) if ty != "TYPE_UNKNOWN" => (pos, ty),
        other => {
            let pos = other.map_or(t.pos, |(p, _)| p);
            cx.warn(pos, feature, "no `type` (TFDV saw no values): not imported");
            return None;
        }
    };
    if ty == "STRUCT" {
        cx.warn(ty_pos, feature, "STRUCT features (nested records) are not supported: not imported, nor the features inside it");
        return None;
    }
    let domain = match t.domain {
        Some((pos, Domain_::Ref(reference))) => match domains.get(&reference) {
            Some((_, d)) => Some((pos, d.clone())),
            None => {
                cx.error(pos, format!("`domain: {reference:?}` names no top-level string_domain, int_domain or float_domain"));
                None
            }
        },
        other => other,
    };
    let base = match ty {
        "BYTES" => LogicalType::String,
        "INT" => LogicalType::Int,
        _ => LogicalType::Float,
    };
    let mut f = FeatureSchema::new(name, base, ColumnRole::Feature);
    cx.place(&["features", name], t.pos);
    let list = list_counts(cx, name, t.shape);

    let not_validated = t
        .stage
        .filter(|(_, s)| NOT_VALIDATED.contains(s))
        .map(|(p, s)| (p, format!("lifecycle_stage {s}")))
        .or(t.deprecated.map(|p| (p, "deprecated".to_string())));
    if let Some((pos, why)) = not_validated {
        // TFDV skips these entirely; knowing the column (so it is not
        // reported as new) without checking anything is the closest match.
        cx.warn(
            pos,
            feature,
            format!("{why}: TFDV does not validate this feature; imported with its type only"),
        );
        if matches!(domain, Some((_, Domain_::Bool { .. }))) {
            f.logical_type = LogicalType::Bool;
        }
        if list.is_some() {
            f.logical_type = LogicalType::List;
        }
        return Some(f);
    }

    let mut range = None;
    if let Some((pos, d)) = domain {
        cx.place(&["features", name, "domain"], pos);
        cx.place(&["features", name, "range"], pos);
        range = apply_domain(cx, &mut f, ty, pos, d);
    }
    if f.logical_type == LogicalType::Float {
        // TFDV accepts NaN and infinities unless the float_domain says not to.
        f.allow_nan.get_or_insert(true);
        f.allow_inf.get_or_insert(true);
    }
    if let Some((pos, bounds)) = list {
        let mut lost = Vec::new();
        if f.domain.is_some() {
            lost.push("domain");
        }
        if range.is_some() {
            lost.push("range");
        }
        if f.logical_type == LogicalType::Bool {
            lost.push("boolean type");
        }
        if !lost.is_empty() {
            cx.warn(pos, feature, format!("a list feature (several values per row): assay checks the number of values per list; the {} of the values is not imported", lost.join(" and ")));
        }
        f.domain = None;
        range = None;
        f.categorical = false;
        f.allow_nan = None;
        f.allow_inf = None;
        f.logical_type = LogicalType::List;
        if bounds.min.is_some() || bounds.max.is_some() {
            f.value_count = Some(bounds);
            cx.place(&["features", name, "value_count"], pos);
        }
    }
    if range.is_some() {
        // TFDV's domain bounds are strict: no slack past them.
        f.range_tolerance = Some(0.0);
    }
    f.range = range;

    if let Some((pos, fraction, count)) = t.presence {
        cx.place(&["features", name, "presence"], pos);
        if fraction == Some(1.0) {
            f.presence.required = true;
        } else {
            f.presence.min_fraction = fraction;
        }
        f.presence.min_count = count;
    }
    if let Some((pos, mass)) = t.min_domain_mass {
        if f.domain.is_some() {
            f.min_domain_mass = Some(mass);
            cx.place(&["features", name, "min_domain_mass"], pos);
        } else if mass < 1.0 {
            cx.warn(
                pos,
                feature,
                "`distribution_constraints` not imported: the feature has no string domain",
            );
        }
    }
    if let Some((pos, min, max)) = t.unique {
        cx.place(&["features", name, "distinct"], pos);
        f.distinct = Some(Bounds { min, max });
    }
    for (key, field, comparator) in [
        ("skew", "skew_comparator", t.skew),
        ("drift", "drift_comparator", t.drift),
    ] {
        if let Some((pos, c)) = comparator {
            cx.place(&["features", name, key], pos);
            let mapped = map_comparator(cx, &f, field, c);
            match key {
                "skew" => f.skew = mapped,
                _ => f.drift = mapped,
            }
        }
    }
    f.environments = map_environments(cx, schema, name, &t.in_env, &t.not_in_env)?;
    for (pos, message) in t.unsupported {
        cx.warn(pos, feature, message);
    }
    Some(f)
}

/// The list bounds when the shape says "more than one value per row".
fn list_counts(
    cx: &mut Cx<'_>,
    name: &str,
    shape: Option<(Pos, Shape)>,
) -> Option<(Pos, Bounds<u64>)> {
    let (pos, shape) = shape?;
    let (min, max) = match shape {
        Shape::Counts(min, max) => (min, max),
        Shape::Fixed(dims) => {
            let total = dims
                .iter()
                .try_fold(1u64, |acc, d| acc.checked_mul(*d))
                .unwrap_or(u64::MAX);
            (Some(total), Some(total))
        }
        Shape::Nested(levels) => {
            if levels.len() > 1 {
                cx.warn(
                    pos,
                    Some(name),
                    "nested lists: only the outer level's value count is imported",
                );
                let (min, max) = levels[0];
                return Some((pos, Bounds { min, max }));
            }
            levels.first().copied().unwrap_or((None, None))
        }
    };
    // One value at most (the usual `min: 1 max: 1`) is an ordinary column.
    let scalar = max.is_some_and(|m| m <= 1) && min.is_none_or(|m| m <= 1);
    (!scalar).then_some((pos, Bounds { min, max }))
}

fn map_comparator(
    cx: &mut Cx<'_>,
    f: &FeatureSchema,
    field: &str,
    c: Comparator_,
) -> Option<Comparator> {
    let feature = Some(f.name.as_str());
    if let Some(pos) = c.nad {
        cx.warn(
            pos,
            feature,
            format!("`{field}.normalized_abs_difference` not imported: assay has no such method"),
        );
    }
    if let Some((pos, source)) = c.jsd_source
        && source != "DEFAULT"
    {
        cx.warn(pos, feature, format!("jensen_shannon_divergence `source: {source}` not imported: assay's jensenshannon bins the values itself"));
    }
    let numeric = match f.logical_type {
        LogicalType::Float | LogicalType::Timestamp | LogicalType::Date => true,
        LogicalType::Int => !f.categorical,
        _ => false,
    };
    let linf = c
        .linf
        .map(|(pos, threshold)| (pos, DriftMethod::Linf, threshold));
    let jsd = c
        .jsd
        .map(|(pos, threshold)| (pos, DriftMethod::JensenShannon, threshold));
    let chosen = match (linf, jsd) {
        (Some(l), Some(j)) => {
            // One method per section: the one that suits the feature.
            let (keep, dropped) = if numeric { (j, l) } else { (l, j) };
            cx.warn(dropped.0, feature, format!("`{field}` sets both infinity_norm and jensen_shannon_divergence; assay keeps one method per feature: {} imported, {} not", keep.1, dropped.1));
            Some(keep)
        }
        (Some(l), None) if numeric => {
            cx.warn(l.0, feature, format!("`{field}.infinity_norm` compares category frequencies and this feature is numeric (TFDV does not compute it either): not imported"));
            None
        }
        (l, j) => l.or(j),
    };
    chosen.map(|(_, method, threshold)| Comparator {
        method: Some(method),
        threshold,
        min_samples: None,
    })
}

/// schema.proto's rule: in E when E is in `in_environment` or the defaults,
/// and not in `not_in_environment`. `None` when the feature is in none.
fn map_environments(
    cx: &mut Cx<'_>,
    schema: &mut Schema,
    name: &str,
    in_env: &[(Pos, String)],
    not_in_env: &[(Pos, String)],
) -> Option<FeatureEnvironments> {
    let mut unique = |list: &[(Pos, String)]| {
        let mut out: Vec<String> = Vec::new();
        for (_, env) in list {
            if !out.contains(env) {
                out.push(env.clone());
            }
            if !schema.environments.contains(env) {
                schema.environments.push(env.clone());
            }
        }
        out
    };
    let included = unique(in_env);
    let excluded = unique(not_in_env);
    let Some((pos, _)) = in_env.first().or(not_in_env.first()) else {
        return Some(FeatureEnvironments::default());
    };
    cx.place(&["features", name, "environments"], *pos);
    if let Some(both) = included.iter().find(|e| excluded.contains(*e)) {
        cx.warn(*pos, Some(name), format!("{both:?} is in both in_environment and not_in_environment; as schema.proto says, not_in_environment wins"));
    }
    if included.is_empty() {
        return Some(FeatureEnvironments {
            in_: Vec::new(),
            not_in: excluded,
        });
    }
    let defaults = &schema.default_environments;
    if !defaults.is_empty() && included.iter().all(|e| defaults.contains(e)) {
        // Nothing beyond the defaults: "all defaults but these".
        return Some(FeatureEnvironments {
            in_: Vec::new(),
            not_in: excluded,
        });
    }
    let mut expected: Vec<String> = Vec::new();
    for env in included.iter().chain(defaults) {
        if !excluded.contains(env) && !expected.contains(env) {
            expected.push(env.clone());
        }
    }
    if expected.is_empty() {
        cx.warn(*pos, Some(name), "every environment it is in is also in its not_in_environment: it is expected nowhere, so not imported");
        return None;
    }
    Some(FeatureEnvironments {
        in_: expected,
        not_in: Vec::new(),
    })
}
