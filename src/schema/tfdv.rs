//! Importing a TensorFlow Data Validation schema (`schema.pbtxt`).
//!
//! TFDV keeps its schema as a TensorFlow Metadata `Schema` message
//! (`tensorflow_metadata/proto/v0/schema.proto`) in protobuf text format.
//! [`import`] parses that text ([`textproto`]), reads it against the fields
//! `schema.proto` declares, and maps it onto assay's [`Schema`]:
//!
//! | TFMD | assay |
//! |---|---|
//! | `feature { name type }` | `[features.NAME]`: `BYTES` → string, `INT` → int, `FLOAT` → float |
//! | `bool_domain` on `INT`/`BYTES` | `type = "bool"` |
//! | `string_domain { value }` (inline, or `domain: "NAME"` naming a top-level one) | `domain = [...]` |
//! | `distribution_constraints { min_domain_mass }` | `min_domain_mass` |
//! | `int_domain { min max is_categorical }` | `range` (with `range_tolerance = 0`: TFDV's bounds are strict), `categorical = true` |
//! | `float_domain { min max disallow_nan disallow_inf }` | `range`, `allow_nan`, `allow_inf` (TFDV allows NaN and ±inf unless told not to, so both are always written for floats) |
//! | `value_count { min max }` / `shape { dim { size } }` with more than one value | `type = "list"`, `value_count` |
//! | `presence { min_fraction min_count }` | `presence` (`min_fraction: 1` → `required = true`) |
//! | `unique_constraints { min max }` | `distinct` |
//! | `skew_comparator` / `drift_comparator` `infinity_norm { threshold }` | `[features.NAME.skew]` / `.drift`: `method = "linf"` |
//! | ... `jensen_shannon_divergence { threshold }` | `method = "jensenshannon"` |
//! | `default_environment`, `in_environment`, `not_in_environment` | `environments`, `default_environments`, `environments = { in / not_in }` |
//! | `dataset_constraints { min_examples_count max_examples_count }` | `[dataset] min_rows max_rows` |
//! | `annotation { tag comment }` | comments above the feature (or in the header) |
//!
//! Environments follow the rule `schema.proto` documents: a feature is in
//! environment E when E is in its `in_environment` or in the schema's
//! `default_environment`, and not in its `not_in_environment`.
//!
//! Nothing is dropped silently: whatever assay cannot represent (sparse and
//! weighted features, struct features, semantic domains,
//! `normalized_abs_difference`, features TFDV does not validate
//! because of their `lifecycle_stage`, ...) becomes an [`ImportWarning`],
//! returned with the schema, printed by the CLI and listed in the header of
//! the written TOML. Unknown field names, values of the wrong type, a field
//! given twice and two members of one `oneof` are errors, as they are for
//! protobuf's own text parser, reported as `file:line:column: message`.

mod domain;
mod feature;
mod reader;
mod textproto;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use domain::{Domain_, read_float_domain, read_int_domain, read_string_domain};
use feature::{map_feature, read_feature};
use reader::{Cx, diagnostic};
use textproto::{Message, Pos};

use super::model::*;
use super::validate::{dotted_path, validate};
use super::write::{FeatureNotes, Notes, to_toml_string_with_notes};
use super::{DiagnosticKind, SchemaError};

/// A TFDV schema mapped onto assay's.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Valid by [`validate`](super::validate()).
    pub schema: Schema,
    /// Header (origin, warnings) and per-feature comments (TFDV annotations).
    pub notes: Notes,
    /// What was not imported, or imported with a different meaning.
    pub warnings: Vec<ImportWarning>,
}

impl Imported {
    /// The schema as commented TOML, warnings listed in its header.
    pub fn to_toml(&self) -> String {
        to_toml_string_with_notes(&self.schema, &self.notes)
    }
}

/// Something in the TFDV schema that assay does not represent exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The feature it is about, if any.
    pub feature: Option<String>,
    pub message: String,
}

impl ImportWarning {
    /// The warning without the file name: `12:3: feature "age": ...`.
    fn located(&self) -> String {
        match &self.feature {
            Some(name) => format!(
                "{}:{}: feature {name:?}: {}",
                self.line, self.column, self.message
            ),
            None => format!("{}:{}: {}", self.line, self.column, self.message),
        }
    }
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.located())
    }
}

/// Reads and imports the TFDV schema at `path`.
pub fn import_file(path: &Path) -> Result<Imported, SchemaError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Read {
        path: display.clone(),
        source,
    })?;
    import(&text, &display)
}

/// Imports TFDV schema text; `file` names it in messages.
pub fn import(text: &str, file: &str) -> Result<Imported, SchemaError> {
    let root = textproto::parse(text).map_err(|e| SchemaError::Invalid {
        diagnostics: vec![diagnostic(file, DiagnosticKind::Syntax, e.pos, e.message)],
    })?;
    let mut cx = Cx {
        file,
        errors: Vec::new(),
        warnings: Vec::new(),
        places: Vec::new(),
    };
    let (schema, notes) = read_schema(&mut cx, &root);
    if !cx.errors.is_empty() {
        // Top-level domains are read before features: report in file order.
        cx.errors.sort_by_key(|d| (d.line, d.column));
        return Err(SchemaError::Invalid {
            diagnostics: cx.errors,
        });
    }
    // The mapping keeps to the schema rules by construction; what is left is
    // out-of-range input (a fraction above 1, min above max, a negative
    // threshold), reported at the TFDV field it came from.
    let problems = validate(&schema);
    if !problems.is_empty() {
        let mut diagnostics = problems
            .iter()
            .map(|p| {
                let pos = cx.place_of(&p.path);
                let message = format!("{} (as imported: {})", p.message, dotted_path(&p.path));
                diagnostic(file, DiagnosticKind::Rule, pos, message)
            })
            .collect::<Vec<_>>();
        diagnostics.sort_by_key(|d| (d.line, d.column));
        return Err(SchemaError::Invalid { diagnostics });
    }
    let mut notes = notes;
    notes.header = header(file, &cx.warnings, notes.header);
    Ok(Imported {
        schema,
        notes,
        warnings: cx.warnings,
    })
}

fn header(file: &str, warnings: &[ImportWarning], annotation: Vec<String>) -> Vec<String> {
    let mut lines = vec![
        format!("Imported by `assay schema import` from {file}, a TensorFlow Data"),
        "Validation schema (TFMD Schema, protobuf text format).".to_string(),
    ];
    if !annotation.is_empty() {
        lines.push(String::new());
        lines.extend(annotation);
    }
    if !warnings.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "Not imported, or imported with a different meaning ({}):",
            warnings.len()
        ));
        lines.extend(warnings.iter().map(|w| format!("- {}", w.located())));
    }
    lines
}

// ---------------------------------------------------------------- Schema

const SCHEMA_FIELDS: &[&str] = &[
    "feature",
    "sparse_feature",
    "weighted_feature",
    "string_domain",
    "float_domain",
    "int_domain",
    "default_environment",
    "represent_variable_length_as_ragged",
    "annotation",
    "dataset_constraints",
    "tensor_representation_group",
    "generate_legacy_feature_spec",
];

fn read_schema(cx: &mut Cx<'_>, root: &Message) -> (Schema, Notes) {
    let mut schema = Schema::new();
    let mut notes = Notes::default();
    let mut seen = BTreeMap::new();
    let mut domains: BTreeMap<String, (Pos, Domain_)> = BTreeMap::new();
    let mut feature_fields = Vec::new();
    let mut default_pos = None;
    for f in &root.fields {
        match f.name.as_str() {
            "feature" => feature_fields.push(f),
            "string_domain" | "int_domain" | "float_domain" => {
                let Some(m) = cx.message(f) else { continue };
                let (name, domain) = match f.name.as_str() {
                    "string_domain" => read_string_domain(cx, m),
                    "int_domain" => read_int_domain(cx, m),
                    _ => read_float_domain(cx, m),
                };
                match name {
                    None => cx.error(f.pos, format!("a top-level `{}` needs a `name`", f.name)),
                    Some(name) => {
                        if let Some((first, _)) = domains.get(&name) {
                            cx.error(
                                f.pos,
                                format!("a domain named {name:?} is already defined at {first}"),
                            );
                        } else {
                            domains.insert(name, (f.pos, domain));
                        }
                    }
                }
            }
            "default_environment" => {
                if let Some(env) = cx.string(f) {
                    default_pos.get_or_insert(f.pos);
                    if !schema.default_environments.contains(&env) {
                        schema.default_environments.push(env);
                    }
                }
            }
            "dataset_constraints" => {
                if cx.once(&mut seen, f)
                    && let Some(m) = cx.message(f)
                {
                    read_dataset(cx, m, &mut schema.dataset);
                    cx.place(&["dataset"], f.pos);
                }
            }
            "annotation" => {
                if cx.once(&mut seen, f)
                    && let Some(m) = cx.message(f)
                {
                    notes.header = read_annotation(cx, m, None);
                }
            }
            "sparse_feature" | "weighted_feature" => {
                let name = cx
                    .message(f)
                    .and_then(|m| m.fields.iter().find(|g| g.name == "name"))
                    .and_then(|g| cx.string(g))
                    .unwrap_or_default();
                let kind = f.name.replace('_', " ");
                cx.warn(
                    f.pos,
                    None,
                    format!("{kind} {name:?} not imported: assay has no {kind}s (the features it is built from are imported on their own)"),
                );
            }
            "represent_variable_length_as_ragged"
            | "tensor_representation_group"
            | "generate_legacy_feature_spec" => {
                cx.warn(
                    f.pos,
                    None,
                    format!(
                        "`{}` ignored: it only says how TensorFlow builds tensors",
                        f.name
                    ),
                );
            }
            _ => cx.unknown(f, "Schema", SCHEMA_FIELDS),
        }
    }
    schema.environments = schema.default_environments.clone();
    if let Some(pos) = default_pos {
        cx.place(&["default_environments"], pos);
        cx.place(&["environments"], pos);
    }

    let mut names: BTreeMap<String, Pos> = BTreeMap::new();
    let mut undefault_warned = false;
    for f in feature_fields {
        let Some(m) = cx.message(f) else { continue };
        let feature = read_feature(cx, f.pos, m);
        let Some(name) = feature.name.clone() else {
            cx.error(f.pos, "a feature needs a `name`");
            continue;
        };
        if let Some(first) = names.get(&name) {
            cx.error(
                f.pos,
                format!("feature {name:?} is already defined at {first}"),
            );
            continue;
        }
        names.insert(name.clone(), f.pos);
        if !undefault_warned
            && schema.default_environments.is_empty()
            && let Some((pos, _)) = feature.in_env.first().or(feature.not_in_env.first())
        {
            undefault_warned = true;
            cx.warn(
                *pos,
                None,
                "the schema has no `default_environment`: TFDV then expects features without \
                 `in_environment` in no named environment, assay in every environment",
            );
        }
        let lines = feature.notes.clone();
        if let Some(imported) = map_feature(cx, &mut schema, &domains, &name, feature) {
            if !lines.is_empty() {
                let entry = notes
                    .features
                    .entry(name)
                    .or_insert_with(FeatureNotes::default);
                entry.lines = lines;
            }
            schema.features.push(imported);
        }
    }
    (schema, notes)
}

fn read_dataset(cx: &mut Cx<'_>, m: &Message, dataset: &mut Dataset) {
    let mut seen = BTreeMap::new();
    for f in &m.fields {
        if !cx.once(&mut seen, f) {
            continue;
        }
        match f.name.as_str() {
            "min_examples_count" => dataset.min_rows = cx.count(f),
            "max_examples_count" => dataset.max_rows = cx.count(f),
            "num_examples_drift_comparator" | "num_examples_version_comparator" => cx.warn(
                f.pos,
                None,
                format!("`dataset_constraints.{}` not imported: assay bounds the row count, not its change between spans", f.name),
            ),
            _ => cx.unknown(
                f,
                "DatasetConstraints",
                &[
                    "min_examples_count",
                    "max_examples_count",
                    "num_examples_drift_comparator",
                    "num_examples_version_comparator",
                ],
            ),
        }
    }
}

/// Tags and comments as note lines; `extra_metadata` is warned about.
fn read_annotation(cx: &mut Cx<'_>, m: &Message, feature: Option<&str>) -> Vec<String> {
    let mut tags = Vec::new();
    let mut lines = Vec::new();
    for f in &m.fields {
        match f.name.as_str() {
            "tag" => tags.extend(cx.string(f)),
            "comment" => lines.extend(cx.string(f).map(|c| format!("TFDV comment: {c}"))),
            "extra_metadata" => cx.warn(
                f.pos,
                feature,
                "`annotation.extra_metadata` not imported (application-specific data)",
            ),
            _ => cx.unknown(f, "Annotation", &["tag", "comment", "extra_metadata"]),
        }
    }
    if !tags.is_empty() {
        lines.insert(0, format!("TFDV tags: {}", tags.join(", ")));
    }
    lines
}
