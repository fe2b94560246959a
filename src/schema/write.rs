//! Writing a schema as commented, human-reviewable TOML.
//!
//! The text is emitted here rather than by `toml`'s serializer because the
//! file is meant to be read and edited by people: it carries comments that
//! explain each section and what was observed per feature, which a serde
//! serializer cannot write. Every string and key goes through [`toml_string`]
//! / [`toml_key`], and `parse(to_toml_string(s)) == s` for every valid schema
//! (tested, including by property tests over awkward names and values).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::model::*;

/// Comments to attach to a written schema; they never change its meaning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notes {
    /// Lines for the file header (what the schema was inferred from, the rules).
    pub header: Vec<String>,
    /// Per feature name.
    pub features: BTreeMap<String, FeatureNotes>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureNotes {
    /// Lines written above the feature's table (what was observed, why).
    pub lines: Vec<String>,
    /// A trailing comment per domain value, keyed by the value as text
    /// (integers in decimal), e.g. the observed count.
    pub domain_values: BTreeMap<String, String>,
}

/// Domains longer than this (in characters on one line) are written one
/// value per line.
const ONE_LINE_DOMAIN: usize = 80;

/// The schema as TOML with explanatory section comments.
pub fn to_toml_string(schema: &Schema) -> String {
    to_toml_string_with_notes(schema, &Notes::default())
}

/// The schema as TOML with section comments and the given notes.
pub fn to_toml_string_with_notes(schema: &Schema, notes: &Notes) -> String {
    let mut out = String::new();
    for line in HEADER {
        comment(&mut out, line);
    }
    if !notes.header.is_empty() {
        out.push_str("#\n");
        for line in &notes.header {
            comment(&mut out, line);
        }
    }
    writeln!(out, "\nformat = {}", toml_string(&schema.format)).ok();

    out.push('\n');
    for line in ENVIRONMENTS_HELP {
        comment(&mut out, line);
    }
    writeln!(out, "environments = {}", string_array(&schema.environments)).ok();
    writeln!(
        out,
        "default_environments = {}",
        string_array(&schema.default_environments)
    )
    .ok();

    out.push('\n');
    for line in SLICES_HELP {
        comment(&mut out, line);
    }
    if schema.slices.is_empty() {
        out.push_str("# slices = [[\"country\"], [\"sex\", \"race\"]]\n");
    } else {
        let slices: Vec<String> = schema.slices.iter().map(|s| string_array(s)).collect();
        writeln!(out, "slices = [{}]", slices.join(", ")).ok();
    }

    out.push('\n');
    for line in DATASET_HELP {
        comment(&mut out, line);
    }
    out.push_str("[dataset]\n");
    optional_int(&mut out, "min_rows", schema.dataset.min_rows, "1000");
    optional_int(&mut out, "max_rows", schema.dataset.max_rows, "10000000");

    for (section, comparator, help) in [
        ("skew", &schema.skew, SKEW_HELP),
        ("drift", &schema.drift, DRIFT_HELP),
    ] {
        let Some(comparator) = comparator else {
            continue;
        };
        out.push('\n');
        for line in help {
            comment(&mut out, line);
        }
        writeln!(out, "[{section}]").ok();
        optional_int(&mut out, "min_samples", comparator.min_samples, "30");
        match comparator.max_drifted_share {
            Some(share) => writeln!(out, "max_drifted_share = {}", toml_float(share)).ok(),
            None => writeln!(out, "# max_drifted_share = 0.5").ok(),
        };
        match comparator.min_effect {
            Some(effect) => writeln!(out, "min_effect = {}", toml_float(effect)).ok(),
            None => writeln!(out, "# min_effect = 0.05").ok(),
        };
        match comparator.correction {
            Some(Correction::None) => writeln!(out, "correction = \"none\"").ok(),
            Some(Correction::BenjaminiHochberg) => {
                writeln!(out, "correction = \"benjamini_hochberg\"").ok()
            }
            None => writeln!(out, "# correction = \"benjamini_hochberg\"").ok(),
        };
    }

    if !schema.features.is_empty() {
        out.push('\n');
        for line in FEATURES_HELP {
            comment(&mut out, line);
        }
    }
    let no_notes = FeatureNotes::default();
    for feature in &schema.features {
        write_feature(
            &mut out,
            feature,
            notes.features.get(&feature.name).unwrap_or(&no_notes),
        );
    }
    out
}

const HEADER: &[&str] = &[
    "assay schema: the reviewed contract between the data and the model.",
    "",
    "`assay validate DATA --schema THIS_FILE` checks data against it; `assay skew`",
    "and `assay drift` read their per-feature settings from it. It was written by",
    "`assay infer` from what one dataset looked like: review it before relying on",
    "it. Check each feature's type and role, loosen or tighten `presence`, remove",
    "domain values that are errors and add the ones that were merely absent, and",
    "uncomment the bounds you want enforced. Unknown keys are rejected with their",
    "line and column, and all rule violations are reported at once.",
];

const ENVIRONMENTS_HELP: &[&str] = &[
    "Environments: the kinds of data this schema describes. A feature is expected",
    "in every default environment unless its `environments` says `in = [...]`",
    "(only those) or `not_in = [...]` (all defaults but those). Select one when",
    "validating with `--environment serving`.",
];

const SLICES_HELP: &[&str] =
    &["Slices: column combinations whose values are profiled and reported separately."];

const DATASET_HELP: &[&str] = &["Whole-dataset constraints: bounds on the number of rows."];

const SKEW_HELP: &[&str] = &[
    "Training/serving skew (`assay skew`): defaults for every feature. Below",
    "`min_samples` non-null values a feature gets no verdict (\"insufficient",
    "data\"); the dataset is skewed when more than `max_drifted_share` of the",
    "checked features are. A test's verdict also needs an effect of at least",
    "`min_effect` (normalised Wasserstein for numeric features, Jensen-Shannon",
    "for categorical ones), and p-values are corrected across features",
    "(`correction`: benjamini_hochberg or none).",
];

const DRIFT_HELP: &[&str] =
    &["Drift between datasets or windows (`assay drift`): same keys as [skew]."];

const FEATURES_HELP: &[&str] = &[
    "---------------------------------------------------------------------------",
    "Features, in column order. Per feature:",
    "  type         int | float | string | bool | timestamp | date | list",
    "  role         feature | prediction | label | id | timestamp | weight",
    "  categorical  (int) the values are categories; `domain` lists them",
    "  domain       allowed values of a categorical string or int feature",
    "  min_domain_mass  share of values that must be in the domain (default 1)",
    "  allow_nan, allow_inf  (float) whether NaN / infinities are acceptable",
    "  presence     required = true: every row has a value; otherwise at least",
    "               `min_fraction` of the rows and `min_count` rows have one",
    "  value_count  (list) bounds on the number of values per list",
    "  range        (int, float) inclusive min/max of the values",
    "  range_tolerance  share of the range's width values may pass a bound by",
    "               before validation fails (default 0.01; within it: a warning)",
    "  distinct     bounds on the number of distinct values",
    "  environments `in` or `not_in`: see Environments above",
    "  [features.NAME.skew] / [features.NAME.drift]: `method` (ks, wasserstein,",
    "    psi, jensenshannon, kl_div, hellinger, anderson, cramer_von_mises,",
    "    energy, t_test, z_test, chisquare, chi2_contingency, linf), `threshold`",
    "    (a distance, or a p-value for tests) and `min_samples`. Empty sections",
    "    use the defaults.",
    "---------------------------------------------------------------------------",
];

fn write_feature(out: &mut String, f: &FeatureSchema, notes: &FeatureNotes) {
    out.push('\n');
    for line in &notes.lines {
        comment(out, line);
    }
    let table = format!("features.{}", toml_key(&f.name));
    writeln!(out, "[{table}]").ok();
    writeln!(out, "type = {}", toml_string(f.logical_type.as_str())).ok();
    writeln!(out, "role = {}", toml_string(f.role.as_str())).ok();
    if f.categorical {
        out.push_str("categorical = true\n");
    }
    for (key, value) in [("allow_nan", f.allow_nan), ("allow_inf", f.allow_inf)] {
        if let Some(value) = value {
            writeln!(out, "{key} = {value}").ok();
        }
    }
    if let Some(domain) = &f.domain {
        write_domain(out, domain, &notes.domain_values);
    }
    if let Some(mass) = f.min_domain_mass {
        writeln!(out, "min_domain_mass = {}", toml_float(mass)).ok();
    }

    let p = &f.presence;
    let mut presence = vec![format!("required = {}", p.required)];
    if let Some(fraction) = p.min_fraction {
        presence.push(format!("min_fraction = {}", toml_float(fraction)));
    }
    if let Some(count) = p.min_count {
        presence.push(format!("min_count = {count}"));
    }
    writeln!(out, "presence = {}", inline_table(&presence)).ok();

    let int_bounds = |b: &Bounds<u64>| {
        let mut parts = Vec::new();
        if let Some(min) = b.min {
            parts.push(format!("min = {min}"));
        }
        if let Some(max) = b.max {
            parts.push(format!("max = {max}"));
        }
        inline_table(&parts)
    };
    if let Some(bounds) = &f.value_count {
        writeln!(out, "value_count = {}", int_bounds(bounds)).ok();
    }
    if let Some(range) = &f.range {
        // Int features read better with integer bounds; both parse to the same f64.
        let number = |v: f64| {
            if f.logical_type == LogicalType::Int && v.fract() == 0.0 && v.abs() < 9.0e15 {
                format!("{}", v as i64)
            } else {
                toml_float(v)
            }
        };
        let mut parts = Vec::new();
        if let Some(min) = range.min {
            parts.push(format!("min = {}", number(min)));
        }
        if let Some(max) = range.max {
            parts.push(format!("max = {}", number(max)));
        }
        writeln!(out, "range = {}", inline_table(&parts)).ok();
    }
    if let Some(tolerance) = f.range_tolerance {
        writeln!(out, "range_tolerance = {}", toml_float(tolerance)).ok();
    }
    if let Some(bounds) = &f.distinct {
        writeln!(out, "distinct = {}", int_bounds(bounds)).ok();
    }
    let envs = &f.environments;
    if !envs.is_unrestricted() {
        let mut parts = Vec::new();
        if !envs.in_.is_empty() {
            parts.push(format!("in = {}", string_array(&envs.in_)));
        }
        if !envs.not_in.is_empty() {
            parts.push(format!("not_in = {}", string_array(&envs.not_in)));
        }
        writeln!(out, "environments = {}", inline_table(&parts)).ok();
    }
    for (section, comparator) in [("skew", &f.skew), ("drift", &f.drift)] {
        let Some(c) = comparator else { continue };
        writeln!(out, "[{table}.{section}]").ok();
        if let Some(method) = c.method {
            writeln!(out, "method = {}", toml_string(method.as_str())).ok();
        }
        if let Some(threshold) = c.threshold {
            writeln!(out, "threshold = {}", toml_float(threshold)).ok();
        }
        if let Some(n) = c.min_samples {
            writeln!(out, "min_samples = {n}").ok();
        }
    }
}

fn write_domain(out: &mut String, domain: &Domain, comments: &BTreeMap<String, String>) {
    // (value as TOML, value as the comment key)
    let values: Vec<(String, String)> = match domain {
        Domain::Strings(v) => v.iter().map(|s| (toml_string(s), s.clone())).collect(),
        Domain::Ints(v) => v.iter().map(|n| (n.to_string(), n.to_string())).collect(),
    };
    let one_line: Vec<&str> = values.iter().map(|(toml, _)| toml.as_str()).collect();
    let one_line = format!("[{}]", one_line.join(", "));
    if comments.is_empty() && one_line.len() <= ONE_LINE_DOMAIN {
        writeln!(out, "domain = {one_line}").ok();
        return;
    }
    out.push_str("domain = [\n");
    // Comments aligned in one column read as a table of counts.
    let width = values
        .iter()
        .map(|(toml, _)| toml.chars().count())
        .max()
        .unwrap_or(0);
    for (toml, key) in &values {
        match comments.get(key) {
            Some(note) => {
                let pad = width - toml.chars().count();
                writeln!(out, "    {toml},{:pad$}  # {}", "", comment_text(note)).ok()
            }
            None => writeln!(out, "    {toml},").ok(),
        };
    }
    out.push_str("]\n");
}

fn optional_int(out: &mut String, key: &str, value: Option<u64>, example: &str) {
    match value {
        Some(n) => writeln!(out, "{key} = {n}").ok(),
        None => writeln!(out, "# {key} = {example}").ok(),
    };
}

fn inline_table(parts: &[String]) -> String {
    if parts.is_empty() {
        "{}".to_string()
    } else {
        format!("{{ {} }}", parts.join(", "))
    }
}

fn string_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    format!("[{}]", items.join(", "))
}

fn comment(out: &mut String, line: &str) {
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        writeln!(out, "# {}", comment_text(line)).ok();
    }
}

/// TOML comments may not hold control characters (a newline would end the
/// comment and turn the rest into TOML): show them escaped instead.
fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A key as TOML writes it: bare when it only has `A-Za-z0-9_-`, else quoted.
pub fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A TOML basic string: `"` and `\` escaped, and every control character
/// (which TOML forbids raw, tab included for clarity) as an escape.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                write!(out, "\\u{:04X}", c as u32).ok();
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML float that parses back to exactly `v`: Rust's shortest round-trip
/// digits, an exponent for very large or small magnitudes (plain digits would
/// run to hundreds of characters), and always a `.`/`e` so it stays a float.
pub fn toml_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let magnitude = v.abs();
    if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
        return format!("{v:e}");
    }
    let text = format!("{v}");
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}
